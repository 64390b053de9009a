"""Knees bend one way: a knee the detector put behind the hip–ankle line is moved along its camera ray.

    unbend_knees(points, rays, thigh, shin, rows) -> (points, frames fixed per leg)

The detector's depth sign for a thigh or shin is a guess (tools/bench_accuracy.py --budget: depth is most
of the error left). A wrong guess shows as a knee bent backwards, which no performer does beyond a few
degrees of hyperextension. In camera space, per frame and leg: with F the body's forward direction
(the hips' left-to-right line × the hips-to-shoulders line) and p the knee's offset from the hip–ankle
line, a knee is bent backwards when p·F < −TOLERANCE. Such a knee keeps its image position (it stays on
its camera ray) and takes the depth along the ray that best keeps the clip's thigh and shin lengths with
p·F ≥ −TOLERANCE. Frames whose knee bends forward are not touched. numpy only, vectorised over frames.

Measured on the benchmark clips (the default cleaning's output, flips + fusion + smoothing, without →
with this; frames with a knee bent backwards > 2 cm): Pose2Sim cam02 11 % → 3 %, cam04 8 % → 0 %, the
others 0–1 % → 0 %; the references have none. Limb-direction error ÷ raw: cam02 0.459 → 0.449, cam04
0.969 → 0.957, the rest unchanged or better by ≤ 0.003; PA-MPJPE the same or lower on every clip.
"""
from __future__ import annotations

import numpy as np

TOLERANCE = 0.01      # metres of hyperextension allowed (a straight leg's few degrees)
SEARCH = np.linspace(-0.6, 0.6, 241)  # candidate moves along the ray, metres (5 mm steps)


def forward_direction(points: np.ndarray, rows: dict) -> np.ndarray:
    """(T,3) unit vectors the body faces: (left hip − right hip) × (mid-shoulders − mid-hips)."""
    across = points[:, rows["left_hip"]] - points[:, rows["right_hip"]]
    up = ((points[:, rows["left_shoulder"]] + points[:, rows["right_shoulder"]])
          - (points[:, rows["left_hip"]] + points[:, rows["right_hip"]])) / 2
    f = np.cross(across, up)
    return f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-9)


def knee_bend(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """How far (m) the knee sits in front of the hip–ankle line along `forward`; negative = bent backwards.
    Broadcasts over leading axes."""
    axis = ankle - hip
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    rel = knee - hip
    perp = rel - np.sum(rel * axis, -1, keepdims=True) * axis
    return np.sum(perp * forward, -1)


def unbend_knees(points: np.ndarray, rays: np.ndarray, thigh: float, shin: float, rows: dict,
                 usable: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """points (T,n,3) camera space (any units consistent with thigh/shin, metres); rays (T,n,3) unit
    directions of each point's camera ray; rows: landmark name → index in points. Returns (a corrected
    copy, [frames fixed on the left leg, on the right leg])."""
    out = np.array(points, dtype=np.float64, copy=True)
    T = len(out)
    ok = np.ones(T, bool) if usable is None else np.asarray(usable, bool)
    if not (np.isfinite(thigh) and np.isfinite(shin)) or T == 0:
        return out, [0, 0]
    forward = forward_direction(out, rows)
    fixed = []
    for side in ("left", "right"):
        h, k, a = (rows[f"{side}_{n}"] for n in ("hip", "knee", "ankle"))
        hip, knee, ankle = out[:, h], out[:, k], out[:, a]
        bend = knee_bend(hip, knee, ankle, forward)
        bad = ok & np.isfinite(bend) & (bend < -TOLERANCE)
        idx = np.flatnonzero(bad)
        if idx.size:
            cand = knee[idx, None] + SEARCH[None, :, None] * rays[idx, k][:, None]   # (m,S,3)
            Hc, Ac, Fc = hip[idx, None], ankle[idx, None], forward[idx, None]
            length_cost = ((np.linalg.norm(cand - Hc, axis=-1) - thigh) ** 2
                           + (np.linalg.norm(Ac - cand, axis=-1) - shin) ** 2)
            behind = np.minimum(knee_bend(Hc, cand, Ac, Fc) + TOLERANCE, 0.0)
            cost = length_cost + 100.0 * behind ** 2 + 1e-4 * SEARCH[None, :] ** 2
            best = np.argmin(cost, axis=1)
            out[idx, k] = cand[np.arange(idx.size), best]
        fixed.append(int(idx.size))
    return out, fixed
