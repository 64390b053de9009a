"""Add a target rig: the Rigify human metarig."""
import bpy

from ..blender.armature import add_metarig
from .common import reports_errors


class VIDEO_MOCAP_OT_add_metarig(bpy.types.Operator):
    """Add the Rigify human metarig as a target armature"""

    bl_idname = "video_mocap.add_metarig"
    bl_label = "Add Human Metarig"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.mode == "OBJECT"

    @reports_errors
    def execute(self, context):
        add_metarig(context)  # RigError when Rigify is missing
        return {"FINISHED"}


classes = (VIDEO_MOCAP_OT_add_metarig,)
