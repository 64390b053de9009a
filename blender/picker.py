"""The person picker's Blender side: which video frame the reference video shows, the people found
stored on the scene settings (`found_people`), their thumbnails (PNG files in the cache folder, shown
through bpy.utils.previews), and the reference camera's frame in a 3D view's region pixels. The finding
and the geometry are capture/picker.py (no bpy)."""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from ..capture.picker import Found, Seen, save_png, thumbnail
from .scene import cache_folder, source_key

THUMBNAILS = "people"   # the thumbnails' folder, inside the cache folder
_previews = None         # the previews collection (Python memory: icon ids live for the session)


def previews():
    global _previews
    if _previews is None:
        import bpy.utils.previews

        _previews = bpy.utils.previews.new()
    return _previews


def preview_of(path: str):
    """The preview of a thumbnail file (loaded once per file and change), or None when it is gone."""
    if not path or not os.path.isfile(path):
        return None
    pcoll = previews()
    key = f"{path}|{os.stat(path).st_mtime_ns}"  # a thumbnail written again is loaded again
    if key not in pcoll:
        return pcoll.load(key, path, "IMAGE", force_reload=True)
    return pcoll[key]


def icon_of(path: str) -> int:
    preview = preview_of(path)
    return preview.icon_id if preview is not None else 0


def free_previews() -> None:
    global _previews
    if _previews is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_previews)
        _previews = None


def capture_start(settings) -> tuple[int, int | None]:
    """The capture's frame range [start, stop) (video frames) as the panel's settings give it."""
    if settings.use_frame_range:
        return settings.frame_first, settings.frame_last
    return 0, None


def shown_video_frame(scene, video: str) -> int | None:
    """The video frame the reference video shows at the current scene frame: a movie clip of `video`
    in the scene camera's background (clip frame 1 = video frame 0 plays at scene frame clip.frame_start);
    None when the scene camera shows no clip of it."""
    cam = scene.camera
    if cam is None or cam.type != "CAMERA" or not video:
        return None
    want = os.path.normcase(os.path.realpath(video))
    for bg in cam.data.background_images:
        clip = bg.clip if bg.source == "MOVIE_CLIP" else None
        if clip is not None and os.path.normcase(os.path.realpath(bpy.path.abspath(clip.filepath))) == want:
            return scene.frame_current - clip.frame_start + clip.frame_offset
    return None


def thumbnail_path(context, video: str, frame: int, number: int) -> Path:
    return cache_folder(context) / THUMBNAILS / f"{Path(video).stem}_{source_key(video)}_f{frame}_p{number}.png"


def store_found(context, video: str, found: Found) -> None:
    """The people found, on the scene settings (number, box, thumbnail file), the followed person's row
    made active."""
    settings = context.scene.video_mocap
    paths = [save_png(thumbnail_path(context, video, found.frame, p.number), thumbnail(found.image, p.box))
             for p in found.people]
    settings.found_people.clear()
    for person, path in zip(found.people, paths):
        item = settings.found_people.add()
        item.name = f"Person {person.number}"
        item.number, item.box, item.thumbnail = person.number, person.box, path
    settings.found_video, settings.found_frame = video, found.frame
    settings.found_size = found.size
    sync_found_index(settings)


def sync_found_index(settings) -> None:
    """The list's active row follows Follow Person (none when following the most prominent)."""
    row = next((i for i, p in enumerate(settings.found_people) if p.number == settings.person), -1)
    if settings.found_people_index != row:
        settings.found_people_index = row


def found_people(settings) -> list[Seen]:
    return [Seen(int(p.number), tuple(p.box)) for p in settings.found_people]


def camera_frame_corners(scene, region, rv3d):
    """The scene camera's frame (top-left, top-right, bottom-left) in the region's pixels, or None when
    the view does not look through it."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    cam = scene.camera
    if cam is None or rv3d is None or rv3d.view_perspective != "CAMERA":
        return None
    tr, br, bl, tl = [cam.matrix_world @ v for v in cam.data.view_frame(scene=scene)]
    corners = [location_3d_to_region_2d(region, rv3d, p) for p in (tl, tr, bl)]
    if any(c is None for c in corners):
        return None
    return [tuple(c) for c in corners]
