"""A picture to check a capture by eye: per chosen frame, the video with the detected 2D skeleton
beside the rig's evaluated pose at the same frame (front view, person's left in blue)."""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import NAMES, SKELETON
from ..capture.track import PoseTrack
from ..capture.video import VideoSource

LEFT, RIGHT, MID = (255, 128, 0), (0, 96, 255), (60, 200, 60)  # BGR: left blue, right orange-red


FACE = (170, 230, 255)  # BGR: the face mesh's points, pale yellow


def _draw_face(img, track: PoseTrack, row: int) -> bool:
    """The face landmarks (MediaPipe's face mesh) as small dots, where the take has a face at row."""
    import cv2

    if not getattr(track, "has_face", False):
        return False
    pts = np.asarray(track.face_landmarks[row, :, :2], np.float64)
    present = track.face_presence is None or np.nan_to_num(float(track.face_presence[row])) > 0
    if not present or not np.isfinite(pts).all():
        return False
    h, w = img.shape[:2]
    radius = max(1, int(round(min(h, w) / 500)))
    for x, y in (pts * (w, h)).round().astype(int):
        cv2.circle(img, (int(x), int(y)), radius, FACE, -1, cv2.LINE_AA)
    return True


# MediaPipe's 21 hand points: the palm and the five fingers, wrist-first.
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
              (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))


def _draw_hands(img, track: PoseTrack, row: int) -> int:
    """Both hands (index 0 = the person's left, blue; 1 = right), where the take has them; → hands drawn."""
    import cv2

    if not getattr(track, "has_hands", False):
        return 0
    h, w = img.shape[:2]
    drawn = 0
    for side, colour in ((0, LEFT), (1, RIGHT)):
        pts = np.asarray(track.hand_image_landmarks[row, side, :, :2], np.float64)
        if not np.isfinite(pts).all():
            continue
        pts = (pts * (w, h)).round().astype(int)
        for a, b in HAND_BONES:
            cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), colour, 2, cv2.LINE_AA)
        drawn += 1
    return drawn


def _draw_landmarks(img, track: PoseTrack, row: int):
    import cv2

    _draw_face(img, track, row)
    _draw_hands(img, track, row)
    if not track.detected[row]:
        cv2.putText(img, "no person", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 255), 3)
        return
    h, w = img.shape[:2]
    pts = track.image_landmarks[row, :, :2] * (w, h)
    for a, b in SKELETON:
        sides = {NAMES[a].split("_")[0], NAMES[b].split("_")[0]}
        colour = LEFT if sides == {"left"} else RIGHT if sides == {"right"} else MID
        cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), colour, 4, cv2.LINE_AA)


def _rig_panel(segments: list[tuple[np.ndarray, np.ndarray, str]], size: tuple[int, int], bounds) -> np.ndarray:
    import cv2

    w, h = size
    img = np.full((h, w, 3), 40, np.uint8)
    (x0, z0), (x1, z1) = bounds
    scale = 0.9 * min(w / max(x1 - x0, 1e-6), h / max(z1 - z0, 1e-6))
    cx, cz = (x0 + x1) / 2, (z0 + z1) / 2

    def px(p):  # front view: looking along +Y at the figure, so the figure's left (+X) is on image right
        return int(w / 2 + (p[0] - cx) * scale), int(h / 2 - (p[2] - cz) * scale)

    for head, tail, name in segments:
        colour = LEFT if name.endswith(".L") else RIGHT if name.endswith(".R") else MID
        cv2.line(img, px(head), px(tail), colour, 4, cv2.LINE_AA)
    return img


def contact_sheet(context, obj, track: PoseTrack, path: str, frame_start: int, count: int = 6,
                  height: int = 480) -> str:
    """Write a PNG with `count` evenly spaced frames: video + landmarks | rig pose."""
    import cv2

    rows = np.unique(np.linspace(0, len(track) - 1, count).round().astype(int))
    scene = context.scene
    bones = [b.name for b in obj.data.bones if b.use_deform or b.parent is None]
    poses = {}
    for row in rows:
        scene.frame_set(frame_start + int(row))
        mw = np.array(obj.matrix_world)
        poses[row] = [((mw @ np.append(obj.pose.bones[n].head, 1))[:3],
                       (mw @ np.append(obj.pose.bones[n].tail, 1))[:3], n) for n in bones]
    allp = np.array([p for segs in poses.values() for h, t, _ in segs for p in (h, t)])
    bounds = ((allp[:, 0].min(), allp[:, 2].min()), (allp[:, 0].max(), allp[:, 2].max()))
    tiles = []
    with VideoSource(track.source) as video:
        wanted = {track.first_frame + int(r): int(r) for r in rows}
        for index, frame in video.frames(min(wanted), max(wanted) + 1):
            if index not in wanted:
                continue
            row = wanted[index]
            frame = frame.copy()
            _draw_landmarks(frame, track, row)
            scale = height / frame.shape[0]
            frame = cv2.resize(frame, (int(frame.shape[1] * scale), height))
            rig = _rig_panel(poses[row], (int(height * 0.6), height), bounds)
            tile = np.hstack([frame, rig])
            cv2.putText(tile, f"video frame {index}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
            tiles.append(tile)
    cols = 3
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])
    from ..capture.errors import ExportError
    from .export import prepare_output

    prepare_output(path)
    if not cv2.imwrite(path, sheet):
        raise ExportError(f"Cannot write {path}: the image could not be written. Choose another folder.")
    return path
