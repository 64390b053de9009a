"""Export the active armature's animation to FBX or BVH."""
import bpy
from bpy_extras.io_utils import ExportHelper

from ..blender.export import FBX_PRESETS, export_bvh, export_fbx
from .common import reports_errors


def _armature_poll(cls, context):
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        cls.poll_message_set("Select an armature")
        return False
    return context.mode == "OBJECT"


class VIDEO_MOCAP_OT_export_fbx(bpy.types.Operator, ExportHelper):
    """Export the active armature and its animation to FBX"""

    bl_idname = "video_mocap.export_fbx"
    bl_label = "Export FBX"
    filename_ext = ".fbx"
    filter_glob: bpy.props.StringProperty(default="*.fbx", options={"HIDDEN"})
    preset: bpy.props.EnumProperty(name="Target", items=[(k, k.title(), f"Settings for {k.title()}")
                                                         for k in FBX_PRESETS], default="unity")

    poll = classmethod(_armature_poll)

    @reports_errors
    def execute(self, context):
        export_fbx(context, context.active_object, self.filepath, self.preset)
        self.report({"INFO"}, f"Wrote {self.filepath}")
        return {"FINISHED"}


class VIDEO_MOCAP_OT_export_bvh(bpy.types.Operator, ExportHelper):
    """Export the active armature's animation to BVH (scene frame range)"""

    bl_idname = "video_mocap.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: bpy.props.StringProperty(default="*.bvh", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    @reports_errors
    def execute(self, context):
        scene = context.scene
        export_bvh(context, context.active_object, self.filepath, scene.frame_start, scene.frame_end)
        self.report({"INFO"}, f"Wrote {self.filepath}")
        return {"FINISHED"}


classes = (VIDEO_MOCAP_OT_export_fbx, VIDEO_MOCAP_OT_export_bvh)
