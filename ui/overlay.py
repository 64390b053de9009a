"""The detected 2D skeleton drawn over the reference video in camera view (a draw handler), and the people
Find People saw, outlined and numbered (another)."""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import SKELETON
from ..capture.picker import box_segments, fitted_frame, image_to_region  # shared with the person picker
from ..capture.track import PoseTrack, TrackError

_handle = None
_people_handle = None    # the people found (Find People), outlined for Pick Person
_tracks: dict[str, PoseTrack | None] = {}


def skeleton_lines(track: PoseTrack, row: int) -> np.ndarray:
    """(N,2,2) normalised segments of the detected skeleton at track row `row` (empty if nobody)."""
    if not (0 <= row < len(track)) or not track.detected[row]:
        return np.zeros((0, 2, 2))
    pts = track.image_landmarks[row, :, :2]
    segs = np.array([(pts[a], pts[b]) for a, b in SKELETON])
    return segs[np.isfinite(segs).all(axis=(1, 2))]


def _track(path: str):
    if path not in _tracks:
        try:
            _tracks[path] = PoseTrack.load(path)
        except TrackError:
            _tracks[path] = None
    return _tracks[path]


def _draw():  # pragma: no cover - needs a GPU and a window
    import bpy
    import gpu
    from bpy_extras.view3d_utils import location_3d_to_region_2d
    from gpu_extras.batch import batch_for_shader

    context = bpy.context
    scene = context.scene
    settings = getattr(scene, "video_mocap", None)
    rv3d, region = context.region_data, context.region
    if settings is None or not settings.show_skeleton or not settings.reference_take or rv3d is None:
        return
    if rv3d.view_perspective != "CAMERA" or scene.camera is None:
        return
    track = _track(bpy.path.abspath(settings.reference_take))
    if track is None:
        return
    lines = skeleton_lines(track, scene.frame_current - settings.reference_frame_start)
    if not len(lines):
        return
    cam = scene.camera
    tr, br, bl, tl = [cam.matrix_world @ v for v in cam.data.view_frame(scene=scene)]
    corners = [location_3d_to_region_2d(region, rv3d, p) for p in (tl, tr, bl)]
    if any(c is None for c in corners):
        return
    frame = fitted_frame(np.array(corners), track.frame_size, (scene.render.resolution_x, scene.render.resolution_y))
    coords = image_to_region(lines.reshape(-1, 2), frame)
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    batch = batch_for_shader(shader, "LINES", {"pos": [tuple(p) for p in coords]})
    gpu.state.line_width_set(3.0)
    shader.uniform_float("color", (0.1, 1.0, 0.3, 0.9))
    batch.draw(shader)


def _draw_people():  # pragma: no cover - needs a GPU and a window
    """The people Find People saw, outlined and numbered over the reference video at the frame they were
    found at (the one followed in yellow): what Pick Person picks from."""
    import blf
    import bpy
    import gpu
    from gpu_extras.batch import batch_for_shader

    from ..blender.picker import camera_frame_corners, shown_video_frame

    context = bpy.context
    scene = context.scene
    settings = getattr(scene, "video_mocap", None)
    if settings is None or not settings.found_people or settings.found_size[0] <= 0:
        return
    if shown_video_frame(scene, settings.found_video) != settings.found_frame:
        return
    corners = camera_frame_corners(scene, context.region, context.region_data)
    if corners is None:
        return
    frame = fitted_frame(np.array(corners), tuple(settings.found_size),
                         (scene.render.resolution_x, scene.render.resolution_y))
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    gpu.state.line_width_set(2.0)
    for person in settings.found_people:
        followed = person.number == settings.person
        coords = image_to_region(box_segments([tuple(person.box)]).reshape(-1, 2), frame)
        batch = batch_for_shader(shader, "LINES", {"pos": [tuple(p) for p in coords]})
        color = (1.0, 0.8, 0.1, 1.0) if followed else (1.0, 1.0, 1.0, 0.8)
        shader.uniform_float("color", color)
        batch.draw(shader)
        x, y = image_to_region(np.array([person.box[0], person.box[1]]), frame)
        blf.size(0, 18)
        blf.color(0, *color)
        blf.position(0, float(x) + 4, float(y) - 22, 0)
        blf.draw(0, str(person.number))


def register():
    import bpy

    global _handle, _people_handle
    _tracks.clear()
    _handle = bpy.types.SpaceView3D.draw_handler_add(_draw, (), "WINDOW", "POST_PIXEL")
    _people_handle = bpy.types.SpaceView3D.draw_handler_add(_draw_people, (), "WINDOW", "POST_PIXEL")


def unregister():
    import bpy

    global _handle, _people_handle
    if _handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_handle, "WINDOW")
        _handle = None
    if _people_handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_people_handle, "WINDOW")
        _people_handle = None
    _tracks.clear()


def is_registered() -> bool:
    return _handle is not None
