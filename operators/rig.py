"""Add a target rig: the Rigify human metarig."""
import bpy

from ..blender.armature import add_metarig


class MOCAP_OT_add_metarig(bpy.types.Operator):
    """Add the Rigify human metarig as a target armature"""

    bl_idname = "mocap.add_metarig"
    bl_label = "Add Human Metarig"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.mode == "OBJECT"

    def execute(self, context):
        try:
            add_metarig(context)
        except Exception as exc:
            self.report({"ERROR"}, f"Could not add the metarig (is Rigify available?): {exc}")
            return {"CANCELLED"}
        return {"FINISHED"}


def register():
    bpy.utils.register_class(MOCAP_OT_add_metarig)


def unregister():
    bpy.utils.unregister_class(MOCAP_OT_add_metarig)
