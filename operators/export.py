"""Export the active armature's animation to FBX or BVH."""
import bpy
from bpy_extras.io_utils import ExportHelper

from ..blender.export import FBX_PRESETS, ExportError, export_bvh, export_fbx


def _armature_poll(cls, context):
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        cls.poll_message_set("Select an armature")
        return False
    return context.mode == "OBJECT"


class MOCAP_OT_export_fbx(bpy.types.Operator, ExportHelper):
    """Export the active armature and its animation to FBX"""

    bl_idname = "mocap.export_fbx"
    bl_label = "Export FBX"
    filename_ext = ".fbx"
    filter_glob: bpy.props.StringProperty(default="*.fbx", options={"HIDDEN"})
    preset: bpy.props.EnumProperty(name="Target", items=[(k, k.title(), f"Settings for {k.title()}")
                                                         for k in FBX_PRESETS], default="unity")

    poll = classmethod(_armature_poll)

    def execute(self, context):
        try:
            export_fbx(context, context.active_object, self.filepath, self.preset)
        except (ExportError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {self.filepath}")
        return {"FINISHED"}


class MOCAP_OT_export_bvh(bpy.types.Operator, ExportHelper):
    """Export the active armature's animation to BVH (scene frame range)"""

    bl_idname = "mocap.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: bpy.props.StringProperty(default="*.bvh", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    def execute(self, context):
        scene = context.scene
        try:
            export_bvh(context, context.active_object, self.filepath, scene.frame_start, scene.frame_end)
        except (ExportError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {self.filepath}")
        return {"FINISHED"}


classes = (MOCAP_OT_export_fbx, MOCAP_OT_export_bvh)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
