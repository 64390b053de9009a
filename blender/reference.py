"""Reference video: the take's source video as a camera background behind the rig, synced to the timeline."""
from __future__ import annotations

import math

import bpy

from ..capture.track import PoseTrack

CAMERA_NAME = "Mocap Reference Camera"


def clip_frame_start(first_video_frame: int, frame_start: int = 1) -> int:
    """Scene frame at which clip frame 1 (video frame 0) plays, so that scene frame `frame_start`
    shows video frame `first_video_frame` (output frame i = video frame first + i)."""
    return frame_start - first_video_frame


def reference_camera(scene):
    """The reference camera (made once, in front of a figure facing -Y, linked to the scene)."""
    cam = bpy.data.objects.get(CAMERA_NAME)
    if cam is None:
        cam = bpy.data.objects.new(CAMERA_NAME, bpy.data.cameras.new(CAMERA_NAME))
        cam.location = (0.0, -6.0, 1.0)
        cam.rotation_euler = (math.radians(90), 0.0, 0.0)  # looking along +Y at a figure facing -Y
        cam.data.lens = 35.0
    if scene.collection.objects.get(cam.name) is None and cam.name not in scene.objects:
        scene.collection.objects.link(cam)
    return cam


def show_reference(scene, track: PoseTrack, frame_start: int = 1):
    """Load the take's video as a movie clip and show it as the background of the reference camera,
    made the scene camera, with the render frame shaped like the video. Returns (camera, clip)."""
    clip = bpy.data.movieclips.load(track.source, check_existing=True)
    clip.frame_start = clip_frame_start(track.first_frame, frame_start)
    cam = reference_camera(scene)
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
    return cam, clip


def look_through_camera(screen) -> None:
    """Every 3D view of the screen looks through the scene camera."""
    for area in screen.areas if screen else ():
        if area.type == "VIEW_3D":
            area.spaces.active.region_3d.view_perspective = "CAMERA"
