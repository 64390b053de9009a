"""The performer's proportions: robust per-clip segment lengths from landmark tracks. numpy only.

    segment_lengths(world_landmarks, visibility=None) -> {name: metres}

A segment is the distance between two landmarks, or between the midpoints of two landmark pairs
(torso: mid-hip → mid-shoulder; neck: mid-shoulder → mid-ear). Left and right sides are pooled:
one length per segment name (a performer is close to symmetric, and pooling halves the variance).
Per frame the length is weighted by the visibility of its ends (the lower one); the clip's value is
the weighted median over frames, which ignores a minority of swapped or badly detected frames.

From MediaPipe's world landmarks alone the lengths come out a little long when the depth is noisy
(noise adds in quadrature). `motion/fusion.py` calls `segment_lengths` on image-constrained
positions with extra per-frame weights that favour frames where a segment lies across the view.
"""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import INDEX as I

_L, _R = "left_", "right_"


def _pair(a: str, b: str, sides=True):
    if not sides:
        return ((tuple(I[n] for n in a.split("+")), tuple(I[n] for n in b.split("+"))),)
    return tuple(((I[s + a],), (I[s + b],)) for s in (_L, _R))


# name → ends per side: ((landmarks averaged for end A), (landmarks averaged for end B)), ...
SEGMENTS: dict[str, tuple] = {
    "upper_arm": _pair("shoulder", "elbow"),
    "forearm": _pair("elbow", "wrist"),
    "hand": _pair("wrist", "index"),           # wrist → index knuckle landmark
    "hand_pinky": _pair("wrist", "pinky"),
    "hand_thumb": _pair("wrist", "thumb"),
    "thigh": _pair("hip", "knee"),
    "shin": _pair("knee", "ankle"),
    "heel": _pair("ankle", "heel"),
    "foot": _pair("heel", "foot_index"),       # heel → toe tip: the foot's length
    "ankle_to_toe": _pair("ankle", "foot_index"),
    "torso_side": _pair("shoulder", "hip"),
    "shoulder_width": _pair("left_shoulder", "right_shoulder", sides=False),
    "hip_width": _pair("left_hip", "right_hip", sides=False),
    "torso": _pair("left_hip+right_hip", "left_shoulder+right_shoulder", sides=False),
    "neck": _pair("left_shoulder+right_shoulder", "left_ear+right_ear", sides=False),
    "head_width": _pair("left_ear", "right_ear", sides=False),
    "nose_to_ear": tuple(((I["nose"],), (I[s + "ear"],)) for s in (_L, _R)),
}


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted median of 1-D values (NaN values and non-positive weights ignored); NaN if none."""
    values, weights = np.asarray(values, float).ravel(), np.asarray(weights, float).ravel()
    ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    if not ok.any():
        return float("nan")
    v, w = values[ok], weights[ok]
    order = np.argsort(v)
    v, c = v[order], np.cumsum(w[order])
    half = c[-1] / 2
    k = int(np.searchsorted(c, half))
    if k + 1 < len(v) and np.isclose(c[k], half):  # exactly between two samples
        return float((v[k] + v[k + 1]) / 2)
    return float(v[k])


def segment_vectors(points: np.ndarray, name: str) -> list[tuple[np.ndarray, tuple, tuple]]:
    """Per side of segment `name` (left first): ((T,3) vector from end A to end B, ends A, ends B)."""
    P = np.asarray(points, float)
    return [(P[:, list(b)].mean(1) - P[:, list(a)].mean(1), a, b) for a, b in SEGMENTS[name]]


def segment_samples(points: np.ndarray, name: str, visibility=None, frame_weights=None):
    """(lengths (T·sides,), weights (T·sides,)) for one named segment.

    frame_weights: optional (T, 33) extra weights per landmark, multiplied in like visibility
    (the lower of the two ends counts)."""
    P = np.asarray(points, float)
    T = P.shape[0]
    vis = np.ones((T, P.shape[1])) if visibility is None else np.nan_to_num(np.asarray(visibility, float), nan=1.0)
    vis = np.clip(vis, 0.0, 1.0)
    lengths, weights = [], []
    for vec, a, b in segment_vectors(P, name):
        w = np.minimum(vis[:, list(a)].min(1), vis[:, list(b)].min(1))
        if frame_weights is not None:
            fw = np.asarray(frame_weights, float)
            w = w * np.minimum(fw[:, list(a)].min(1), fw[:, list(b)].min(1))
        lengths.append(np.linalg.norm(vec, axis=-1))
        weights.append(np.where(np.isfinite(w), w, 0.0))
    return np.concatenate(lengths), np.concatenate(weights)


def segment_lengths(world_landmarks: np.ndarray, visibility: np.ndarray | None = None, *,
                    segments=None, segment_weights: dict | None = None) -> dict[str, float]:
    """Robust per-performer segment lengths (metres) from a (T,33,3) landmark track.

    visibility (T,33) weights the frames (NaN counts as 1); frames without a person (NaN) are
    ignored. segments: names to compute (default: all of SEGMENTS). segment_weights: optional
    {name: (T, sides) extra weights} (used by the fusion to favour frames where a segment is seen
    side-on). A segment never measured is NaN."""
    out = {}
    for name in (segments or SEGMENTS):
        lengths, weights = segment_samples(world_landmarks, name, visibility)
        if segment_weights is not None and name in segment_weights:
            weights = weights * np.asarray(segment_weights[name], float).T.ravel()
        out[name] = weighted_median(lengths, weights)
    return out
