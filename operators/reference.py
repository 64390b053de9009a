"""Reference video: the source video behind the rig in camera view, synced to the timeline."""
from __future__ import annotations

import math
import os

import bpy

from ..capture.track import PoseTrack, TrackError
from .common import take_path

CAMERA_NAME = "Mocap Reference Camera"


def clip_frame_start(first_video_frame: int, frame_start: int = 1) -> int:
    """Scene frame at which clip frame 1 (video frame 0) plays, so that scene frame `frame_start`
    shows video frame `first_video_frame` (output frame i = video frame first + i)."""
    return frame_start - first_video_frame


def show_reference(context, track: PoseTrack, frame_start: int = 1):
    """Load the take's video as a movie clip and show it as the background of a camera looking at
    the rig from the front. Returns (camera object, clip)."""
    scene = context.scene
    clip = bpy.data.movieclips.load(track.source, check_existing=True)
    clip.frame_start = clip_frame_start(track.first_frame, frame_start)
    cam = bpy.data.objects.get(CAMERA_NAME)
    if cam is None:
        cam = bpy.data.objects.new(CAMERA_NAME, bpy.data.cameras.new(CAMERA_NAME))
        scene.collection.objects.link(cam)
        cam.location = (0.0, -6.0, 1.0)
        cam.rotation_euler = (math.radians(90), 0.0, 0.0)  # looking along +Y at a figure facing -Y
        cam.data.lens = 35.0
    cam.data.show_background_images = True
    bg = next((b for b in cam.data.background_images if b.source == "MOVIE_CLIP" and b.clip == clip), None)
    if bg is None:
        bg = cam.data.background_images.new()
        bg.source = "MOVIE_CLIP"
        bg.clip = clip
    bg.alpha = 0.7
    bg.frame_method = "FIT"
    bg.show_background_image = True
    scene.camera = cam
    # The render frame has the video's shape, so the overlay and the background line up.
    scene.render.resolution_x, scene.render.resolution_y = track.frame_size
    scene.render.resolution_percentage = 100
    settings = scene.mocap
    settings.reference_take = take_path(context) or settings.track_path
    settings.reference_frame_start = frame_start
    return cam, clip


class MOCAP_OT_show_reference(bpy.types.Operator):
    """Show the take's video behind the rig (camera background, synced to the timeline)"""

    bl_idname = "mocap.show_reference"
    bl_label = "Show Reference Video"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not take_path(context):
            cls.poll_message_set("Capture a video first")
            return False
        return True

    def execute(self, context):
        try:
            track = PoseTrack.load(take_path(context))
        except TrackError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not os.path.isfile(track.source):
            self.report({"ERROR"}, f"The take's video {track.source} is missing. Move it back or capture again.")
            return {"CANCELLED"}
        show_reference(context, track, context.scene.frame_start)
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.spaces.active.region_3d.view_perspective = "CAMERA"
        self.report({"INFO"}, f"Reference video: {os.path.basename(track.source)} from video frame "
                              f"{track.first_frame} at scene frame {context.scene.frame_start}")
        return {"FINISHED"}


def register():
    bpy.utils.register_class(MOCAP_OT_show_reference)


def unregister():
    bpy.utils.unregister_class(MOCAP_OT_show_reference)
