"""Apply: landmark cache → keyframes in a new Action on the active armature."""
from __future__ import annotations

import os

import bpy

from ..blender.apply import apply_track
from ..capture.track import PoseTrack, TrackError
from ..retarget.rig import RigError


class MOCAP_OT_apply(bpy.types.Operator):
    """Key the captured motion onto the active armature, in a new Action"""

    bl_idname = "mocap.apply"
    bl_label = "Apply to Armature"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE":
            cls.poll_message_set("Select an armature")
            return False
        if not context.scene.mocap.track_path:
            cls.poll_message_set("Capture a video first")
            return False
        return context.mode in {"OBJECT", "POSE"}

    def execute(self, context):
        path = bpy.path.abspath(context.scene.mocap.track_path)
        if not os.path.exists(path):
            self.report({"ERROR"}, f"Landmark cache {path} is missing. Capture the video again.")
            return {"CANCELLED"}
        try:
            track = PoseTrack.load(path)
            result = apply_track(context, context.active_object, track)
        except (TrackError, RigError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        msg = f"Keyed {len(result.keyed_bones)} bones over {result.frame_end - result.frame_start + 1} frames " \
              f"into '{result.action.name}'"
        if result.missing_roles:
            msg += f"; not in the rig: {', '.join(result.missing_roles)}"
        self.report({"WARNING"} if result.missing_roles else {"INFO"}, msg)
        return {"FINISHED"}


def register():
    bpy.utils.register_class(MOCAP_OT_apply)


def unregister():
    bpy.utils.unregister_class(MOCAP_OT_apply)
