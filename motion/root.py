"""Where the person is, not just how they are posed: the hip trajectory from image + world
landmarks (perspective-n-point with a pinhole camera), the floor and the camera's tilt. numpy only.

MediaPipe's world landmarks are metric, hip-centred and camera-aligned; the image landmarks are the
same points projected. With intrinsics K, each visible landmark i gives two equations linear in the
hip's camera-space position T:   f·(Xᵢ + T) − (uᵢ − c)·(Zᵢ + T_z) = 0   (per image axis).
"""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import INDEX as I
from ..capture.landmarks import mediapipe_to_blender

DEFAULT_FOV_DEG = 60.0  # across the longer image side; phones' main cameras are 55–70°
BODY = np.arange(11, 33)  # shoulders down: the face is small and its depth is least reliable
FEET = [I[n] for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index", "left_ankle",
                       "right_ankle")]


def intrinsics(frame_size, fov_deg: float | None = None, focal_px: float | None = None,
               focal_mm: float | None = None, sensor_mm: float = 36.0) -> np.ndarray:
    """Pinhole K for a frame (w, h): from a focal length in pixels, or in mm with the sensor width
    (longer side, mm; 36 = full-frame equivalent), or a field of view across the longer side."""
    w, h = frame_size
    longer = max(w, h)
    if focal_px is None:
        if focal_mm is not None:
            focal_px = focal_mm / sensor_mm * longer
        else:
            focal_px = longer / 2 / np.tan(np.radians(fov_deg or DEFAULT_FOV_DEG) / 2)
    return np.array([[focal_px, 0, w / 2], [0, focal_px, h / 2], [0, 0, 1.0]])


def hip_translation(world: np.ndarray, image: np.ndarray, weights: np.ndarray, frame_size, K: np.ndarray,
                    landmarks=BODY) -> np.ndarray:
    """(T,3) camera-space position of the hip centre (x right, y down, z forward, metres); NaN where
    a frame has too few usable landmarks. world/image (T,33,3), weights (T,33) (visibility)."""
    w, h = frame_size
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    X = world[:, landmarks].astype(np.float64)
    u = image[:, landmarks, 0] * w - cx
    v = image[:, landmarks, 1] * h - cy
    wt = np.nan_to_num(weights[:, landmarks].astype(np.float64), nan=0.0)
    ok = np.isfinite(X).all(-1) & np.isfinite(u) & np.isfinite(v) & (wt > 0)
    wt = np.where(ok, wt, 0.0)
    X, u, v = np.nan_to_num(X), np.nan_to_num(u), np.nan_to_num(v)
    zeros = np.zeros_like(u)
    # Rows for the x and y equations: [f, 0, -u]·T = u·Z − f·X  and  [0, f, -v]·T = v·Z − f·Y
    A = np.concatenate([np.stack([np.full_like(u, f), zeros, -u], -1),
                        np.stack([zeros, np.full_like(v, f), -v], -1)], 1)
    b = np.concatenate([u * X[..., 2] - f * X[..., 0], v * X[..., 2] - f * X[..., 1]], 1)
    W = np.concatenate([wt, wt], 1)
    AtA = np.einsum("tni,tn,tnj->tij", A, W, A)
    Atb = np.einsum("tni,tn,tn->ti", A, W, b)
    enough = ok.sum(1) >= 4
    T = np.full((len(world), 3), np.nan)
    if enough.any():
        try:
            T[enough] = np.linalg.solve(AtA[enough], Atb[enough][..., None])[..., 0]
        except np.linalg.LinAlgError:  # one singular frame (e.g. every landmark on one pixel) fails the
            for t in np.flatnonzero(enough):  # batch: solve frame by frame, NaN for the singular ones
                try:
                    T[t] = np.linalg.solve(AtA[t], Atb[t])
                except np.linalg.LinAlgError:
                    T[t] = np.nan
    T[~np.isfinite(T).all(1)] = np.nan
    return T


def _rotation_to_z(up: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector `up` to +Z (keeps the heading)."""
    up = up / np.linalg.norm(up)
    z = np.array([0.0, 0.0, 1.0])
    v, c = np.cross(up, z), float(up @ z)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def estimate_up(P: np.ndarray, root: np.ndarray | None = None, min_spread: float = 0.3) -> np.ndarray:
    """Gravity's up (Blender axes, camera-aligned) from the feet: a plane through each frame's lowest
    foot point when the person moves around enough to span it, else the torso's average direction."""
    torso = (P[:, I["left_shoulder"]] + P[:, I["right_shoulder"]] - P[:, I["left_hip"]] - P[:, I["right_hip"]]) / 2
    torso = torso[np.isfinite(torso).all(1)]
    body_up = torso.mean(0) / np.linalg.norm(torso.mean(0)) if len(torso) else np.array([0.0, 0.0, 1.0])
    if root is None:
        return body_up
    feet = P[:, FEET] + root[:, None]
    heights = feet @ body_up
    lowest = feet[np.arange(len(feet)), np.nanargmin(np.where(np.isfinite(heights), heights, np.inf), 1)]
    lowest = lowest[np.isfinite(lowest).all(1)]
    if len(lowest) < 10:
        return body_up
    centred = lowest - lowest.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    if s[1] / np.sqrt(len(lowest)) < min_spread / 2:  # feet stayed on a spot or a line: no plane
        return body_up
    normal = vt[2] if vt[2] @ body_up > 0 else -vt[2]
    return normal if normal @ body_up > np.cos(np.radians(30)) else body_up


def world_trajectory(track, fov_deg: float | None = None, focal_px: float | None = None,
                     focal_mm: float | None = None, sensor_mm: float = 36.0):
    """→ (level (3,3), hips (T,3), floor_z): a rotation that makes the camera-aligned Blender-axes
    landmarks upright, and the hip centre per frame in that upright world with the floor at z = 0."""
    K = intrinsics(track.frame_size, fov_deg, focal_px, focal_mm, sensor_mm)
    T_cam = hip_translation(track.world_landmarks, track.image_landmarks, track.visibility, track.frame_size, K)
    root = mediapipe_to_blender(T_cam)
    P = mediapipe_to_blender(track.world_landmarks)
    level = _rotation_to_z(estimate_up(P, root))
    feet_z = np.einsum("ij,tnj->tni", level, P[:, FEET] + root[:, None])[..., 2]
    lowest = np.min(np.where(np.isfinite(feet_z), feet_z, np.inf), axis=1)  # frames without a person: inf
    floor = float(np.median(lowest[np.isfinite(lowest)])) if np.isfinite(lowest).any() else 0.0
    hips = root @ level.T
    hips[:, 2] -= floor
    return level, hips, floor
