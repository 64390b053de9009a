"""The person picker (the panel's Find People and Pick Person): who is in one frame of the video,
numbered as a capture numbers them (so that "person N" here is `--person N` / Follow Person N), a
thumbnail of each, and which person is at a point of the reference video in the viewport. No bpy.

Numbering: a capture numbers people in order of first appearance from its first frame, left to right
when they appear together (`people.assign_identities`). A frame at the capture's start is numbered
from that frame alone (one detection). A later frame is numbered by following the people from the
capture's start on a few sampled frames (at most `MAX_STEPS` detections before it): people who came
and went before it keep their numbers.

Geometry of the reference video: the camera frame's corners in region pixels (top-left, top-right,
bottom-left) → where the video sits in it (`fitted_frame`, the camera background's 'FIT'), and
normalised image points (x right, y down) ↔ region pixels (`image_to_region`, `region_to_image`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CaptureError, NoPersonError
from .people import MIN_SEEN_S, assign_identities

MAX_STEPS = 12         # detections before the chosen frame (sampled from the capture's start) at most
MIN_VIS = 0.5
PICK_MARGIN = 0.02     # a click this close (normalised image units) to a person's box picks them


@dataclass
class Seen:
    """One person in the frame: their number (1-based, as the capture numbers them) and box."""
    number: int
    box: tuple[float, float, float, float]   # x0, y0, x1, y1: normalised (x right, y down), inside 0..1

    @property
    def centre(self) -> tuple[float, float]:
        return (0.5 * (self.box[0] + self.box[2]), 0.5 * (self.box[1] + self.box[3]))


@dataclass
class Found:
    """Find People's result: the people at video frame `frame` (ordered by number) and that frame (RGB)."""
    frame: int
    start: int                      # the capture's first frame (numbering starts there)
    size: tuple[int, int]           # width, height
    people: list[Seen] = field(default_factory=list)
    image: np.ndarray | None = None  # (H,W,3) RGB
    detections: int = 0             # frames detected (1 at the capture's start)


def pose_box(image: np.ndarray, vis: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """(33,3) normalised image landmarks → the box of the well-seen landmarks (head included), clipped
    to the frame."""
    pts = np.asarray(image, np.float64)[:, :2]
    ok = np.isfinite(pts).all(-1)
    if vis is not None:
        seen = ok & (np.nan_to_num(np.asarray(vis, np.float64), nan=0.0) >= MIN_VIS)
        ok = seen if seen.sum() >= 4 else ok
    if not ok.any():
        return (0.0, 0.0, 0.0, 0.0)
    lo, hi = np.clip(pts[ok].min(0), 0, 1), np.clip(pts[ok].max(0), 0, 1)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def sample_frames(start: int, frame: int, max_steps: int = MAX_STEPS) -> list[int]:
    """The frames detected to number the people at `frame`: from the capture's `start` up to `frame`, at
    most `max_steps` of them before it, evenly spaced; `frame` last."""
    if frame <= start:
        return [start]
    step = max(1, math.ceil((frame - start) / max(1, max_steps)))
    return list(range(start, frame, step)) + [frame]


FOLLOW_GATE = 1.0     # sampled frames: a person moves at most this many body sizes from one to the next


def _follow_sampled(image: np.ndarray, vis: np.ndarray | None) -> np.ndarray:
    """ids (n,K) of every pose of frames sampled far apart (the capture's tracker expects neighbouring
    frames): each pose goes to the person whose box centre, moved on at their last velocity, is nearest,
    in body sizes, and whose size is nearest theirs (cost: distance / size + |log size ratio|, gated by
    `FOLLOW_GATE`, minimum total over the frame's poses; nobody forgotten); an
    unmatched pose is a new person, left to right when several start together."""
    from .people import _match, boxes

    n, K = image.shape[:2]
    ids = np.full((n, K), -1, int)
    known: list[dict] = []   # per person: last centre, velocity (per sampled frame), size, last row
    for t in range(n):
        dets = [k for k in range(K) if np.isfinite(image[t, k, 11:, :2]).any()]
        if not dets:
            continue
        bx = {k: boxes(image[t, k], None if vis is None else vis[t, k]) for k in dets}
        centre = {k: 0.5 * (bx[k][:2] + bx[k][2:]) for k in dets}
        size = {k: float(max(bx[k][2] - bx[k][0], bx[k][3] - bx[k][1], 1e-3)) for k in dets}
        cost = np.array([[(np.linalg.norm(centre[k] - (p["centre"] + p["velocity"] * (t - p["last"])))
                           / max(p["size"], size[k]) + abs(np.log(size[k] / p["size"]))) * (0.6 / FOLLOW_GATE)
                          for k in dets] for p in known]).reshape(len(known), len(dets))
        pairs = _match(cost)  # gated at 0.6: FOLLOW_GATE sizes
        for r, c in pairs:
            k, p = dets[c], known[r]
            p["velocity"] = (centre[k] - p["centre"]) / max(1, t - p["last"])
            p.update(centre=centre[k], size=size[k], last=t)
            ids[t, k] = r
        taken = {c for _, c in pairs}
        for c in sorted((c for c in range(len(dets)) if c not in taken), key=lambda c: bx[dets[c]][0]):
            k = dets[c]
            ids[t, k] = len(known)
            known.append(dict(centre=centre[k], velocity=np.zeros(2), size=size[k], last=t))
    return ids


def number_people(image: np.ndarray, world: np.ndarray, vis: np.ndarray | None, fps: float,
                  step: int = 1) -> dict[int, int]:
    """Every pose (n,K,33,3) of `n` sampled frames `step` frames apart → {slot k of the last frame: the
    person's number} (1-based, the capture's numbering: order of first appearance, left to right when
    together; a person seen too briefly to be more than a stray detection, and gone, gets no number).
    Neighbouring frames (step ≤ 2) are told apart by the capture's own tracker (`assign_identities`);
    frames further apart by their nearest boxes (`_follow_sampled`)."""
    if step <= 2:
        ids = assign_identities(image, world, vis, fps / max(1, step))
    else:
        ids = _follow_sampled(image, vis)
    least = max(3, int(round(MIN_SEEN_S * fps)))
    last = set(ids[-1][ids[-1] >= 0].tolist())
    counts = np.bincount(ids[ids >= 0], minlength=1) if (ids >= 0).any() else np.zeros(0, int)
    numbered = [pid for pid in range(len(counts)) if counts[pid] * step >= least or pid in last]
    return {k: numbered.index(int(pid)) + 1 for k, pid in enumerate(ids[-1]) if pid >= 0}


def find_people(video_path, frame: int | None = None, start: int | None = None, stop: int | None = None,
                poses: int = 2, model: str = "full", model_path=None, max_steps: int = MAX_STEPS) -> Found:
    """The people at video `frame` (None: the capture's first frame; clamped into [start, stop)), seen by
    the pose landmarker finding up to `poses` people (as many as the capture will tell apart), numbered
    as a capture from `start` numbers them. Raises VideoError / ModelError with what to do;
    NoPersonError when nobody is in the frame."""
    from .landmarker import Landmarker
    from .models import resolve_model
    from .video import VideoSource, to_rgb

    task = resolve_model(model, model_path)
    with VideoSource(video_path) as video:
        first, end = video.resolve_range(start, stop)  # end None: the length is not known
        target = first if frame is None else max(first, int(frame))
        if end is not None and target >= end:
            target = max(first, end - 1)
        frames = sample_frames(first, target, max_steps)
        step = frames[1] - frames[0] if len(frames) > 2 else max(1, target - first)
        K = max(2, int(poses))
        image = np.full((len(frames), K, 33, 3), np.nan, np.float32)
        world = np.full_like(image, np.nan)
        vis = np.full((len(frames), K, 33), np.nan, np.float32)
        rgb = None
        # VIDEO mode, as the capture: the people found on a sampled frame are followed into the next
        # (the detector alone misses people that tracking keeps).
        with Landmarker(Path(task), num_poses=K, video=True) as landmarker:
            for i, index in enumerate(frames):
                got = next(video.frames(index, index + 1), None)
                if got is None:
                    if i < len(frames) - 1:
                        continue
                    raise CaptureError(f"Cannot read video frame {index} of {Path(video_path).name} (the video "
                                       f"ends at frame {video.position}). Choose an earlier frame.")
                rgb = to_rgb(got[1])
                found = landmarker.detect_all(rgb, int(round(index * 1000.0 / video.info.fps)), rgb=True)
                if found is not None:
                    n = min(K, len(found[0]))
                    world[i, :n], image[i, :n], vis[i, :n] = found[0][:n], found[1][:n], found[2][:n]
        info = video.info
    result = Found(frame=target, start=first, size=(info.width, info.height), image=rgb, detections=len(frames))
    numbers = number_people(image, world, vis, info.fps, step)
    result.people = sorted((Seen(n, pose_box(image[-1, k], vis[-1, k])) for k, n in numbers.items()),
                           key=lambda s: s.number)
    if not result.people:
        raise NoPersonError(f"Nobody was found at video frame {target} of {Path(video_path).name}. Go to a "
                            f"frame where the people are in view and find them again.")
    return result


def person_at(people: list[Seen], point, margin: float = PICK_MARGIN) -> Seen | None:
    """The person whose box (grown by `margin`) holds the normalised image `point`; of several, the one
    whose box centre is nearest; None when the point is on nobody."""
    x, y = float(point[0]), float(point[1])
    hits = [p for p in people if p.box[0] - margin <= x <= p.box[2] + margin
            and p.box[1] - margin <= y <= p.box[3] + margin]
    if not hits:
        return None
    return min(hits, key=lambda p: (p.centre[0] - x) ** 2 + (p.centre[1] - y) ** 2)


# ----------------------------------------------------------------------------------------------
# Thumbnails

def crop_box(box, size, margin: float = 0.15) -> tuple[int, int, int, int]:
    """A square crop (pixels x0, y0, x1, y1; may reach outside the frame) around a normalised box,
    `margin` of its longer side added on each side."""
    w, h = size
    cx, cy = 0.5 * (box[0] + box[2]) * w, 0.5 * (box[1] + box[3]) * h
    side = max((box[2] - box[0]) * w, (box[3] - box[1]) * h, 8.0) * (1 + 2 * margin)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    return x0, y0, x0 + s, y0 + s


def thumbnail(rgb: np.ndarray, box, side: int = 128) -> np.ndarray:
    """(side, side, 3) uint8: the frame around a person's box (black beyond the frame's edges)."""
    import cv2

    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = crop_box(box, (w, h))
    out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1, :3]
    return cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)


def save_png(path, rgb: np.ndarray) -> str:
    """Write an RGB image as PNG (folders made); CaptureError when it cannot be written."""
    import cv2

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaptureError(f"Cannot make the folder {path.parent} for the people's thumbnails: "
                           f"{exc.strerror or exc}. Choose another cache folder in the preferences.") from None
    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)):
        raise CaptureError(f"Cannot write the thumbnail {path}. Choose another cache folder in the preferences.")
    return str(path)


# ----------------------------------------------------------------------------------------------
# The reference video in the viewport: region pixels ↔ normalised image points

def fitted_frame(corners: np.ndarray, image_size, frame_size) -> np.ndarray:
    """Corners (top-left, top-right, bottom-left) in region pixels of where an image of image_size
    sits when fitted ('FIT') into a camera frame of frame_size whose corners are `corners`."""
    tl, tr, bl = (np.asarray(c, float) for c in corners)
    iw, ih = image_size
    fw, fh = frame_size
    sx = sy = 1.0
    if iw / ih < fw / fh:
        sx = (iw / ih) / (fw / fh)   # narrower image: bars left and right
    else:
        sy = (fw / fh) / (iw / ih)   # wider image: bars top and bottom
    centre = (tr + bl) / 2
    u, v = (tr - tl), (bl - tl)
    tl2 = centre - sx * u / 2 - sy * v / 2
    return np.array([tl2, tl2 + sx * u, tl2 + sy * v])


def image_to_region(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Normalised image points (x right, y down; (…,2)) → region pixels inside the fitted frame."""
    tl, tr, bl = frame
    return tl + points[..., :1] * (tr - tl) + points[..., 1:2] * (bl - tl)


def region_to_image(point, frame: np.ndarray) -> np.ndarray:
    """Region pixels (x right, y up, as Blender's mouse) → normalised image point (x right, y down) in
    the fitted frame (`image_to_region` undone; outside 0..1 when off the image)."""
    tl, tr, bl = (np.asarray(c, float) for c in frame)
    basis = np.column_stack([tr - tl, bl - tl])
    if abs(np.linalg.det(basis)) < 1e-9:
        return np.array([np.nan, np.nan])
    return np.linalg.solve(basis, np.asarray(point, float) - tl)


def box_segments(boxes) -> np.ndarray:
    """Normalised boxes (N × x0, y0, x1, y1) → (N*4, 2, 2) the segments of their outlines (for drawing)."""
    out = []
    for x0, y0, x1, y1 in boxes:
        tl, tr, br, bl = (x0, y0), (x1, y0), (x1, y1), (x0, y1)
        out += [(tl, tr), (tr, br), (br, bl), (bl, tl)]
    return np.array(out, float).reshape(-1, 2, 2)


def click_to_image(mouse, corners, image_size, frame_size) -> tuple[float, float] | None:
    """A click (region pixels) on the camera view → the normalised point of the video fitted into the
    camera frame (corners: its top-left, top-right, bottom-left in region pixels; frame_size: the render
    size); None when the click is off the video."""
    u, v = region_to_image(mouse, fitted_frame(np.asarray(corners, float), image_size, frame_size))
    if not (np.isfinite(u) and np.isfinite(v)) or not (0.0 <= u <= 1.0 and 0.0 <= v <= 1.0):
        return None
    return float(u), float(v)
