"""Reference video: the take's video behind the rig in camera view (blender/reference.py does the work)."""
from __future__ import annotations

import os

import bpy

from ..blender.reference import look_through_camera, show_reference
from ..blender.scene import settings_of, take_path
from ..capture.errors import TrackError
from ..capture.track import PoseTrack
from .common import reports_errors


class VIDEO_MOCAP_OT_show_reference(bpy.types.Operator):
    """Show the take's video behind the rig (camera background, synced to the timeline)"""

    bl_idname = "video_mocap.show_reference"
    bl_label = "Show Reference Video"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not take_path(context):
            cls.poll_message_set("Capture a video first")
            return False
        return True

    @reports_errors
    def execute(self, context):
        path = take_path(context)
        track = PoseTrack.load(path)
        if not os.path.isfile(track.source):
            raise TrackError(f"The take's video {track.source} is missing. Move it back or capture again.")
        scene = context.scene
        show_reference(scene, track, scene.frame_start)
        settings = settings_of(context)
        settings.reference_take, settings.reference_frame_start = path, scene.frame_start
        look_through_camera(context.screen)
        self.report({"INFO"}, f"Reference video: {os.path.basename(track.source)} from video frame "
                              f"{track.first_frame} at scene frame {scene.frame_start}")
        return {"FINISHED"}


classes = (VIDEO_MOCAP_OT_show_reference,)
