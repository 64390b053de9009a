"""Synthetic humanoid rigs (numpy only) and landmarks read off their posed joints, for solver tests.

A rig here is a RestPose like the Blender adapter builds: bone matrices in armature space, any rest
pose (T or A), random bone rolls, any proportions. Helper bones (knuckles, heels, ears, nose) ride
on their parents so that landmarks of a posed rig come from forward kinematics alone.
"""
from __future__ import annotations

import numpy as np

from video_mocap.capture.landmarks import INDEX
from video_mocap.retarget.fk import heads_tails, pose_matrices
from video_mocap.retarget.rig import RestBone, RestPose
from video_mocap.retarget.rotations import normalize, quaternion_to_matrix

BONE_MAP = {
    "hips": "pelvis", "chest": "chest", "neck": "neck", "head": "head",
    "upper_arm.L": "arm_l", "forearm.L": "elbow_l", "hand.L": "hand_l",
    "upper_arm.R": "arm_r", "forearm.R": "elbow_r", "hand.R": "hand_r",
    "thigh.L": "leg_l", "shin.L": "knee_l", "foot.L": "foot_l", "toe.L": "toe_l",
    "thigh.R": "leg_r", "shin.R": "knee_r", "foot.R": "foot_r", "toe.R": "toe_r",
    "index.L": "index_l", "pinky.L": "pinky_l", "index.R": "index_r", "pinky.R": "pinky_r",
    "heel.L": "heel_l", "heel.R": "heel_r", "ear.L": "ear_l", "ear.R": "ear_r", "nose": "nose",
}


def _matrix(head, tail, roll):
    y = normalize(np.asarray(tail, float) - head)
    helper = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = normalize(np.cross(y, helper))
    z = np.cross(x, y)
    c, s = np.cos(roll), np.sin(roll)
    x, z = c * x - s * z, s * x + c * z
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, head
    return m


def make_rig(arm_pose: str = "T", scale: float = 1.0, seed: int | None = None, arm_down_deg: float = 40.0,
             spine_bones: int = 2) -> RestPose:
    """A humanoid facing -Y (Blender's front), left = +X. arm_pose 'T' or 'A'; seed → random rolls."""
    rng = np.random.default_rng(seed)
    roll = (lambda: rng.uniform(-np.pi, np.pi)) if seed is not None else (lambda: 0.0)
    s = scale
    rest = RestPose()

    def add(name, parent, head, tail):
        head, tail = np.asarray(head, float) * 1.0, np.asarray(tail, float) * 1.0
        rest.bones[name] = RestBone(name, parent, _matrix(head, tail, roll()), head, tail)

    hip = np.array([0, 0, 1.0 * s])
    add("pelvis", None, hip, hip + [0, 0, 0.12 * s])
    prev, z = "pelvis", 1.12 * s
    for i in range(spine_bones):
        add(f"spine{i}", prev, [0, 0, z], [0, 0.01 * s, z + 0.12 * s])
        prev, z = f"spine{i}", z + 0.12 * s
    add("chest", prev, [0, 0.01 * s, z], [0, 0.0, 1.5 * s])
    add("neck", "chest", [0, 0, 1.5 * s], [0, -0.01 * s, 1.6 * s])
    add("head", "neck", [0, -0.01 * s, 1.6 * s], [0, -0.01 * s, 1.82 * s])
    add("ear_l", "head", [0.075 * s, 0.0, 1.68 * s], [0.075 * s, 0.02 * s, 1.7 * s])
    add("ear_r", "head", [-0.075 * s, 0.0, 1.68 * s], [-0.075 * s, 0.02 * s, 1.7 * s])
    add("nose", "head", [0, -0.11 * s, 1.66 * s], [0, -0.13 * s, 1.66 * s])
    down = np.radians(arm_down_deg if arm_pose == "A" else 0.0)
    for side, sx in (("l", 1.0), ("r", -1.0)):
        sh = np.array([0.18 * sx * s, 0.0, 1.45 * s])
        d = np.array([sx * np.cos(down), 0.0, -np.sin(down)])
        elbow, wrist = sh + 0.28 * s * d, sh + 0.53 * s * d
        tip = wrist + 0.09 * s * d
        add(f"shoulder_{side}", "chest", [0.02 * sx * s, 0, 1.45 * s], sh)
        add(f"arm_{side}", f"shoulder_{side}", sh, elbow + [0, 0.005 * s, 0])  # a hint of bend
        add(f"elbow_{side}", f"arm_{side}", elbow + [0, 0.005 * s, 0], wrist)
        add(f"hand_{side}", f"elbow_{side}", wrist, tip)
        # Palms down in T, facing in for A: the thumb side (index) is forward (-Y) either way.
        add(f"index_{side}", f"hand_{side}", tip + [0, -0.035 * s, 0], tip + d * 0.05 * s + [0, -0.035 * s, 0])
        add(f"pinky_{side}", f"hand_{side}", tip + [0, 0.035 * s, 0], tip + d * 0.05 * s + [0, 0.035 * s, 0])
        hipj = np.array([0.1 * sx * s, 0, 1.0 * s])
        knee, ankle = np.array([0.1 * sx * s, -0.01 * s, 0.53 * s]), np.array([0.1 * sx * s, 0.0, 0.08 * s])
        ball = np.array([0.1 * sx * s, -0.14 * s, 0.02 * s])
        add(f"leg_{side}", "pelvis", hipj, knee)
        add(f"knee_{side}", f"leg_{side}", knee, ankle)
        add(f"foot_{side}", f"knee_{side}", ankle, ball)
        add(f"toe_{side}", f"foot_{side}", ball, ball + [0, -0.06 * s, 0])
        add(f"heel_{side}", f"foot_{side}", [0.1 * sx * s, 0.05 * s, 0.0], [0.1 * sx * s, 0.04 * s, 0.0])
    return rest


def random_pose(rest: RestPose, frames: int, seed: int = 0, max_deg: float = 60.0) -> dict[str, np.ndarray]:
    """Smoothly varying random local rotations for the posed bones (like a performance)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, frames)[:, None]
    out = {}
    for role, name in BONE_MAP.items():
        if role.startswith(("index", "pinky", "heel", "ear", "nose", "toe")):
            continue
        axis = normalize(rng.normal(size=3) + np.zeros((frames, 3)))
        freq, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        angle = np.radians(max_deg) * np.sin(2 * np.pi * freq * t + phase) * (0.3 if role in
                                                                               ("hips", "chest", "neck") else 1.0)
        out[name] = np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axis], axis=-1)
    return out


def landmarks_from_pose(rest: RestPose, quats: dict[str, np.ndarray], frames: int) -> np.ndarray:
    """(T,33,3) landmarks in Blender axes read off the posed joints (NaN for those not modelled)."""
    ht = heads_tails(rest, pose_matrices(rest, quats, frames))
    P = np.full((frames, 33, 3), np.nan)
    for s, side in (("left", "l"), ("right", "r")):
        P[:, INDEX[f"{s}_shoulder"]] = ht[f"arm_{side}"][0]
        P[:, INDEX[f"{s}_elbow"]] = ht[f"elbow_{side}"][0]
        P[:, INDEX[f"{s}_wrist"]] = ht[f"hand_{side}"][0]
        P[:, INDEX[f"{s}_index"]] = ht[f"index_{side}"][0]
        P[:, INDEX[f"{s}_pinky"]] = ht[f"pinky_{side}"][0]
        P[:, INDEX[f"{s}_thumb"]] = ht[f"index_{side}"][0]
        P[:, INDEX[f"{s}_hip"]] = ht[f"leg_{side}"][0]
        P[:, INDEX[f"{s}_knee"]] = ht[f"knee_{side}"][0]
        P[:, INDEX[f"{s}_ankle"]] = ht[f"foot_{side}"][0]
        P[:, INDEX[f"{s}_foot_index"]] = ht[f"toe_{side}"][1]
        P[:, INDEX[f"{s}_heel"]] = (ht[f"heel_{side}"][0] + ht[f"heel_{side}"][1]) / 2
        P[:, INDEX[f"{s}_ear"]] = ht[f"ear_{side}"][0]
    P[:, INDEX["nose"]] = ht["nose"][0]
    return P


def world_directions(rest: RestPose, quats: dict[str, np.ndarray], frames: int) -> dict[str, np.ndarray]:
    """Per bone (T,3) unit direction (Y axis) in armature space."""
    return {name: normalize(m[:, :3, 1]) for name, m in pose_matrices(rest, quats, frames).items()}


def rotation(axis, degrees):
    axis = normalize(np.asarray(axis, float))
    half = np.radians(degrees) / 2
    return quaternion_to_matrix(np.concatenate([[np.cos(half)], np.sin(half) * axis]))


def exchange_sides(track, rows, half: str | None = None):
    """A copy of a PoseTrack with the detector's label swap made on `rows`: left and right exchanged, the whole
    body or one half ('upper' / 'lower', motion/sides.py HALVES), in every per-landmark array."""
    from video_mocap.motion.sides import HALVES, PAIRS

    out = track.sliced(0, len(track))
    pairs = PAIRS if half is None else HALVES[half]
    a = [p for p, _ in pairs] + [q for _, q in pairs]
    b = [q for _, q in pairs] + [p for p, _ in pairs]
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence"):
        arr = getattr(track, key).copy()
        block = arr[rows]
        block[:, a] = block[:, b]
        arr[rows] = block
        setattr(out, key, arr)
    return out


def swap_rows(frames: int, fraction: float, seed: int) -> np.ndarray:
    """Rows of a detector's swaps covering `fraction` of the frames: a few runs of random lengths."""
    rng = np.random.default_rng(seed)
    bad = np.zeros(frames, bool)
    while bad.mean() < fraction:
        start = rng.integers(0, frames)
        bad[start:start + rng.integers(5, 40)] = True
    return np.nonzero(bad)[0]
