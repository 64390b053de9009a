"""Left/right flips: frames where the landmarker swapped the person's left and right.

BlazePose sometimes labels the person's left limbs as the right ones for a few frames (it takes a
body seen from the front for one seen from the back, or loses which leg is which). In the image a
flip shows as the left and right points trading places from one frame to the next, which real
motion does not do in a frame's time: legs that cross, or a person turning round, move their points
continuously through each other.

For each body half (upper: face and arms; lower: hips and legs) and each run of frames with a
person, a two-state Viterbi pass picks per frame the labelling — as detected, or left and right
exchanged — that makes the image landmarks move least from frame to frame (mean distance, in
torso lengths), with a small cost per exchanged frame so that only the clear evidence of a jump
exchanges anything, and a run keeps the labels it was detected with where both are equally good.
The world landmarks, image landmarks, visibility and presence of the flipped frames are exchanged
alike. Measured on the Pose2Sim demo (BENCHMARKS.md): the camera whose footage the model flips
(cam02) goes from 21 flipped frames to none; the other cameras and the rendered mannequin are
untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX, NAMES
from ..capture.track import PoseTrack

PAIRS = tuple((i, INDEX["right_" + name[len("left_"):]]) for i, name in enumerate(NAMES) if name.startswith("left_"))
HALVES = {"upper": tuple(p for p in PAIRS if p[0] < INDEX["left_hip"]),
          "lower": tuple(p for p in PAIRS if p[0] >= INDEX["left_hip"])}
FLIP_COST = 0.01  # torso lengths per exchanged frame (a flip's jump costs ~0.5-1 at each end)
_ARRAYS = ("world_landmarks", "image_landmarks", "visibility", "presence")


@dataclass
class SideFix:
    """Frames whose labels were exchanged, per body half (track rows)."""
    flipped: dict = field(default_factory=dict)

    @property
    def frames(self) -> int:
        """Frames with at least one half exchanged."""
        rows = [np.asarray(r, int) for r in self.flipped.values()]
        return len(np.unique(np.concatenate(rows))) if rows else 0

    def summary(self) -> str:
        if not self.frames:
            return ""
        return (f"left/right flips fixed on {self.frames} frames (upper body {len(self.flipped.get('upper', []))}, "
                f"lower body {len(self.flipped.get('lower', []))})")


def _runs(ok: np.ndarray):
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    return zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])


def flip_states(points: np.ndarray, ok: np.ndarray, pairs, flip_cost: float = FLIP_COST) -> np.ndarray:
    """points (T, 33, 2) image positions in pixels; ok (T,) frames to use → (T,) bool: frames whose
    `pairs` (left, right) labels should be exchanged."""
    left = np.array([a for a, _ in pairs])
    right = np.array([b for _, b in pairs])
    # The half's points under each labelling: state 0 as detected, state 1 exchanged. (T, 2, J, 2)
    labelled = np.stack([points[:, np.concatenate([left, right])], points[:, np.concatenate([right, left])]], axis=1)
    shoulders = (points[:, INDEX["left_shoulder"]] + points[:, INDEX["right_shoulder"]]) / 2
    hips = (points[:, INDEX["left_hip"]] + points[:, INDEX["right_hip"]]) / 2
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    states = np.zeros(len(points), bool)
    for a, b in _runs(ok):
        if b - a < 2:
            continue
        scale = float(np.nanmedian(torso[a:b]))
        if not np.isfinite(scale) or scale <= 0:
            continue
        seg = labelled[a:b]
        # step[t, s_now, s_before]: mean distance the half moves from frame t-1 to t
        dist = np.linalg.norm(seg[1:, :, None] - seg[:-1, None, :], axis=-1)  # points missing in a frame: NaN
        seen = np.isfinite(dist).sum(-1)
        step = np.where(seen > 0, np.nansum(dist, -1) / np.maximum(seen, 1), 0.0) / scale
        n = b - a
        cost = np.array([0.0, flip_cost])
        back = np.zeros((n, 2), np.int8)
        for t in range(1, n):
            total = cost[None, :] + step[t - 1]
            back[t] = np.argmin(total, axis=1)
            cost = total[(0, 1), back[t]] + (0.0, flip_cost)
        s = int(np.argmin(cost))
        for t in range(n - 1, -1, -1):
            states[a + t] = bool(s)
            s = int(back[t][s])
    return states


def fix_side_flips(track: PoseTrack, flip_cost: float = FLIP_COST) -> tuple[PoseTrack, SideFix]:
    """A copy of the track with left/right flips undone (see the module's docstring), and what was done."""
    width, height = track.frame_size
    points = track.image_landmarks[..., :2].astype(np.float64) * (float(width), float(height))
    core = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    ok = track.detected.astype(bool) & np.isfinite(points[:, core]).all(axis=(1, 2))
    out = track.sliced(0, len(track))
    out.extra = dict(track.extra)
    arrays = {key: getattr(track, key).copy() for key in _ARRAYS}
    fix = SideFix()
    for half, pairs in HALVES.items():
        rows = flip_states(points, ok, pairs, flip_cost)
        fix.flipped[half] = np.nonzero(rows)[0].tolist()
        if not rows.any():
            continue
        order = [a for a, _ in pairs] + [b for _, b in pairs]
        swapped = [b for _, b in pairs] + [a for a, _ in pairs]
        for arr in arrays.values():
            block = arr[rows]
            block[:, order] = block[:, swapped]
            arr[rows] = block
    for key, arr in arrays.items():
        setattr(out, key, arr)
    return out, fix
