"""bpy-free helpers for the Pose2Sim demo session: TRC reference keypoints, the camera calibration,
and per-limb unit directions in a camera's frame, from the reference and from MediaPipe.

Axes:
- TRC: metres, Y up (Pose2Sim / OpenSim convention).
- Calibration world: the TRC's axes permuted, world = (trc Z, trc X, trc Y) (a proper rotation, det +1).
  Verified by projecting the TRC keypoints with cv2.projectPoints into all four videos and comparing with
  MediaPipe's image landmarks: of the 48 signed axis permutations this is the only one that lands the
  points on the person (hips/shoulders median 17-38 px per camera, the runner-up >= 105 px).
  tests/test_real_footage.py re-checks this.
- Camera frame (OpenCV): x right, y down, z forward, the same axes as MediaPipe's world landmarks.
- Image size: the calibration says 1088x1920 (portrait; the videos carry no rotation flag). cam03/cam04
  decode as 1088x1920, cam01/cam02 as 1080x1920: 8 columns fewer. The reprojection residuals show no x
  offset (mean x residual over 13 joints: cam01 +3 px, like the uncropped cam04's +4 px; a left crop would
  give -8 px), so the columns are missing on the right, as H.264 cropping does: use pixel coordinates as
  they are.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

# MediaPipe landmark indices (capture/landmarks.py INDEX), kept here so this module needs no package.
MP_INDEX = {
    "nose": 0, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24, "left_knee": 25,
    "right_knee": 26, "left_ankle": 27, "right_ankle": 28, "left_heel": 29, "right_heel": 30,
    "left_foot_index": 31, "right_foot_index": 32,
}

# TRC marker → MediaPipe landmark. The TRC 'L' prefix is the person's own left, like MediaPipe's LEFT_*
# (both come from the same body-model convention; checked by projection: LShoulder lands on MediaPipe's
# left_shoulder in every camera).
TRC_TO_MP = {
    "LShoulder": "left_shoulder", "RShoulder": "right_shoulder",
    "LElbow": "left_elbow", "RElbow": "right_elbow",
    "LWrist": "left_wrist", "RWrist": "right_wrist",
    "LHip": "left_hip", "RHip": "right_hip",
    "LKnee": "left_knee", "RKnee": "right_knee",
    "LAnkle": "left_ankle", "RAnkle": "right_ankle",
    "LHeel": "left_heel", "RHeel": "right_heel",
    "LBigToe": "left_foot_index", "RBigToe": "right_foot_index",
    "Nose": "nose",
}

# Limb name → (proximal, distal) as MediaPipe landmark names.
LIMBS = {
    "upper_arm_L": ("left_shoulder", "left_elbow"),
    "upper_arm_R": ("right_shoulder", "right_elbow"),
    "forearm_L": ("left_elbow", "left_wrist"),
    "forearm_R": ("right_elbow", "right_wrist"),
    "thigh_L": ("left_hip", "left_knee"),
    "thigh_R": ("right_hip", "right_knee"),
    "shin_L": ("left_knee", "left_ankle"),
    "shin_R": ("right_knee", "right_ankle"),
}
_MP_TO_TRC = {mp: trc for trc, mp in TRC_TO_MP.items()}


def mirror_limb(limb: str) -> str:
    """'thigh_L' → 'thigh_R' and back."""
    return limb[:-1] + ("R" if limb.endswith("L") else "L")


def load_trc(path) -> tuple[list[str], np.ndarray]:
    """Read a TRC file → (marker names, frames (T, N, 3) float64, in the file's units and axes)."""
    lines = Path(path).read_text().splitlines()
    header = lines[3].split("\t")
    names = [h.strip() for h in header[2:] if h.strip()]
    rows = []
    for line in lines[5:]:
        fields = line.strip().split("\t")
        if len(fields) < 2 + 3 * len(names):
            continue  # blank trailing line
        values = [float(v) if v.strip() else np.nan for v in fields[2:2 + 3 * len(names)]]
        rows.append(values)
    frames = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names), 3)
    return names, frames


def load_calibration(toml_path) -> dict:
    """Read a Pose2Sim calibration TOML → {camera name: (K (3,3), dist (k1, k2, p1, p2), R (3,3) world→camera, t (3,))}.

    A world point X maps to the camera frame as R @ X + t.
    """
    import cv2

    with open(toml_path, "rb") as f:
        data = tomllib.load(f)
    cameras = {}
    for key, cam in data.items():
        if not isinstance(cam, dict) or "matrix" not in cam:
            continue  # [metadata]
        K = np.asarray(cam["matrix"], dtype=np.float64)
        dist = np.asarray(cam["distortions"], dtype=np.float64)
        R, _ = cv2.Rodrigues(np.asarray(cam["rotation"], dtype=np.float64))
        t = np.asarray(cam["translation"], dtype=np.float64)
        cameras[cam.get("name", key)] = (K, dist, R, t)
    return cameras


def trc_to_calib_world(points: np.ndarray) -> np.ndarray:
    """TRC axes (Y up) → the calibration's world axes: world = (trc Z, trc X, trc Y)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 2], points[..., 0], points[..., 1]], axis=-1)


def to_camera(trc_points: np.ndarray, R: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """TRC points (..., 3) → camera frame (x right, y down, z forward). Without t: directions only."""
    cam = trc_to_calib_world(trc_points) @ np.asarray(R, dtype=np.float64).T
    return cam if t is None else cam + np.asarray(t, dtype=np.float64)


def project_world(world_points: np.ndarray, K, dist, R, t) -> np.ndarray:
    """Calibration-world points (..., 3) → pixel coordinates (..., 2) with cv2.projectPoints."""
    import cv2

    pts = np.asarray(world_points, dtype=np.float64)
    shape = pts.shape[:-1]
    rvec, _ = cv2.Rodrigues(np.asarray(R, dtype=np.float64))
    uv, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), rvec, np.asarray(t, dtype=np.float64).reshape(3, 1),
                              np.asarray(K, dtype=np.float64), np.asarray(dist, dtype=np.float64))
    return uv.reshape(*shape, 2)


def project(trc_points: np.ndarray, K, dist, R, t) -> np.ndarray:
    """TRC points (..., 3) → pixel coordinates (..., 2)."""
    return project_world(trc_to_calib_world(trc_points), K, dist, R, t)


def trc_marker(trc_points: np.ndarray, names, mp_name: str) -> np.ndarray:
    """The TRC marker standing for MediaPipe landmark `mp_name` → (T, 3)."""
    return np.asarray(trc_points)[:, list(names).index(_MP_TO_TRC[mp_name])]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def limb_directions_camera(trc_points: np.ndarray, names, R: np.ndarray) -> dict[str, np.ndarray]:
    """Reference limb unit directions in a camera's frame: {limb: (T, 3)}, x right, y down, z forward."""
    out = {}
    for limb, (a, b) in LIMBS.items():
        d = trc_marker(trc_points, names, b) - trc_marker(trc_points, names, a)
        out[limb] = _unit(to_camera(d, R))
    return out


def limb_directions_mediapipe(world_landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Limb unit directions from MediaPipe world landmarks (T, 33, 3): {limb: (T, 3)}, same axes as the camera."""
    w = np.asarray(world_landmarks, dtype=np.float64)
    return {limb: _unit(w[:, MP_INDEX[b]] - w[:, MP_INDEX[a]]) for limb, (a, b) in LIMBS.items()}


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between unit vectors along the last axis, in degrees."""
    return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))
