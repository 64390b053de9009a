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

Feet point forward: `point_feet_forward`. Seen from behind, a foot points along the view and the detector often puts
its toe on the camera's side of the ankle (the foot of a person facing the camera). In camera space, per frame and
foot: a toe (foot_index) whose offset from the ankle points backwards, (toe − ankle)·F < −FOOT_BACK × |toe − ankle|
(more than ~105° from the body's forward), is reflected along its camera ray through the point of the ray nearest
the ankle: it keeps its image position and its distance from the ankle, on the other depth side. The heel goes with
it (a foot turned round has its heel in front). Only a move that turns the foot forward is made. No performer
stands, walks or jumps with a foot turned backwards; a foot turned out (up to 90° from the body's forward) is left
as it is, and so is every foot whose shin leans more than 60° from square to the body's forward (a kneeling
performer's shins and feet lie backwards; a leg kicked back points them back). Measured (tools/bench_accuracy.py,
default processing, fused; the feet's direction error, ankle → toe tip, ÷ the raw detector's): the turn away from
the camera 1.05 → 0.48 (its back to the camera on frames 30–70, the raw toes 100–140° off); the other rendered clips
never have a foot turned backwards and are unchanged, limb directions and PA-MPJPE unchanged on every clip; on
Pose2Sim, against its triangulated big toe, cam02 1.02 → 0.73 and cam04 0.76 → 0.66.
"""
from __future__ import annotations

import numpy as np

TOLERANCE = 0.01      # metres of hyperextension allowed (a straight leg's few degrees)
SEARCH = np.linspace(-0.6, 0.6, 241)  # candidate moves along the ray, metres (5 mm steps)
FOOT_BACK = 0.25      # a toe further behind the ankle than this × the foot's length (along the body's forward)
SHIN_ALONG = 0.87     # only where the shin is within 60° of square to the body's forward (not kneeling, not a kick)


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


def _other_side_on_ray(point: np.ndarray, ray: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(T,3) points moved along their unit rays (T,3) to the other depth at the same distance from centre (T,3):
    reflected through the point of the ray nearest the centre."""
    s_point, s_centre = np.sum(point * ray, -1), np.sum(centre * ray, -1)
    return point + (2 * (s_centre - s_point))[:, None] * ray


def point_feet_forward(points: np.ndarray, rays: np.ndarray, rows: dict,
                       usable: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """points (T,n,3) camera space (the camera at the origin); rays (T,n,3) unit directions of each point's
    camera ray; rows: landmark name → index (knee, ankle, heel, foot_index of both sides, hips, shoulders).
    Returns (a corrected copy, [frames turned on the left foot, on the right foot]) (module docstring)."""
    out = np.array(points, dtype=np.float64, copy=True)
    ok = np.ones(len(out), bool) if usable is None else np.asarray(usable, bool)
    forward = forward_direction(out, rows)
    turned = []
    for side in ("left", "right"):
        ankle = out[:, rows[f"{side}_ankle"]]
        toe_row, heel_row = rows[f"{side}_foot_index"], rows[f"{side}_heel"]
        toe = out[:, toe_row] - ankle
        ahead = np.sum(toe * forward, -1)
        shin = ankle - out[:, rows[f"{side}_knee"]]
        upright = np.abs(np.sum(shin * forward, -1)) < SHIN_ALONG * np.linalg.norm(shin, axis=-1)
        new_toe = _other_side_on_ray(out[:, toe_row], rays[:, toe_row], ankle)
        turn = (ok & upright & np.isfinite(ahead) & (ahead < -FOOT_BACK * np.linalg.norm(toe, axis=-1))
                & (np.sum((new_toe - ankle) * forward, -1) > ahead))
        new_heel = _other_side_on_ray(out[:, heel_row], rays[:, heel_row], ankle)
        out[turn, toe_row] = new_toe[turn]
        out[turn, heel_row] = new_heel[turn]
        turned.append(int(turn.sum()))
    return out, turned
