"""Synthetic hands: finger bones added to a synthetic rig (numpy RestPose) and hand landmarks with
known finger curls (open, fist, point, pinch, spread), for the finger retargeting tests."""
from __future__ import annotations

import numpy as np
from synthetic import _matrix

from video_mocap.retarget.fk import heads_tails, pose_matrices
from video_mocap.retarget.hands import CHAINS, canonical_hand
from video_mocap.retarget.rig import FINGERS, RestBone, RestPose
from video_mocap.retarget.rotations import normalize, quaternion_to_matrix

# Known curls per finger (degrees): fingers MCP, PIP, DIP flexion; thumb CMC in-plane angle, MCP, IP.
GESTURES = {
    "open": {"thumb": (-40, 5, 5), "f_index": (0, 0, 0), "f_middle": (0, 0, 0), "f_ring": (0, 0, 0),
             "f_pinky": (0, 0, 0)},
    "fist": {"thumb": (-10, 45, 50), "f_index": (85, 95, 60), "f_middle": (88, 98, 62), "f_ring": (90, 100, 65),
             "f_pinky": (90, 100, 65)},
    "point": {"thumb": (-5, 40, 45), "f_index": (0, 5, 0), "f_middle": (85, 95, 60), "f_ring": (88, 98, 62),
              "f_pinky": (90, 100, 65)},
    "pinch": {"thumb": (-20, 30, 25), "f_index": (40, 45, 25), "f_middle": (20, 20, 10), "f_ring": (20, 25, 12),
              "f_pinky": (25, 30, 15)},
    "spread": {"thumb": (-60, 0, 0), "f_index": (-10, 0, 0), "f_middle": (-5, 0, 0), "f_ring": (-5, 0, 0),
               "f_pinky": (-10, 0, 0)},
}
SPREAD = {"spread": 12.0}


def gesture(name: str, sign: float, scale: float = 1.0) -> np.ndarray:
    return canonical_hand(sign, GESTURES[name], SPREAD.get(name, 0.0), scale)


def random_rotations(frames: int, seed: int) -> np.ndarray:
    """(T,3,3) smoothly varying orientations."""
    rng = np.random.default_rng(seed)
    axis = normalize(rng.normal(size=3))
    t = np.linspace(0, 1, frames)[:, None]
    angle = np.radians(120) * np.sin(2 * np.pi * t + rng.uniform(0, 6))
    q0 = normalize(rng.normal(size=4))
    spin = np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axis], -1)
    return quaternion_to_matrix(spin) @ quaternion_to_matrix(q0)


def performance(sign: float, frames: int = 50, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """(T,21,3) a hand going through every gesture (blended), turning in space, MediaPipe-like
    (origin near the hand's centre), Blender axes."""
    names = list(GESTURES)
    out = np.empty((frames, 21, 3))
    R = random_rotations(frames, seed)
    for t in range(frames):
        u = t / max(frames - 1, 1) * (len(names) - 1)
        a, b = names[int(np.floor(u))], names[min(int(np.floor(u)) + 1, len(names) - 1)]
        w = u - np.floor(u)
        flex = {f: tuple((1 - w) * np.array(GESTURES[a][f]) + w * np.array(GESTURES[b][f])) for f in FINGERS}
        C = canonical_hand(sign, flex, (1 - w) * SPREAD.get(a, 0.0) + w * SPREAD.get(b, 0.0), scale)
        C = C - C[[0, 5, 9, 13, 17]].mean(0)
        out[t] = C @ R[t].T
    return out


def add_fingers(rest: RestPose, hand: str, sign: float, names: dict[str, str], seed: int | None = None,
                rest_flex: dict | None = None, spread: float = 0.0, palm_bones: bool = True,
                scale: float | None = None, connected: bool = True) -> RestPose:
    """Finger bones (names: role → bone) on the hand bone `hand` of `rest`, in a canonical hand fitted to
    the hand bone (fingers along it, thumb toward -Y as the synthetic rigs have it), any rest curl,
    random rolls (seed), optional palm bones between the hand and the fingers."""
    rng = np.random.default_rng(seed)
    roll = (lambda: rng.uniform(-np.pi, np.pi)) if seed is not None else (lambda: 0.0)
    h = rest.bones[hand]
    y = normalize(h.tail - h.head)
    x = normalize(np.array([0.0, -1.0, 0.0]) - y * (-y[1]))  # toward the thumb: forward
    z = np.cross(x, y)
    M = np.stack([x, y, z], axis=-1)
    s = scale if scale is not None else h.length / 0.09
    C = canonical_hand(sign, rest_flex or {f: (-30, 0, 0) if f == "thumb" else (0, 0, 0) for f in FINGERS}, spread, s)
    W = h.head + C @ M.T
    side = "L" if sign > 0 else "R"
    for role, name in names.items():  # replace bones of these names (presets' knuckle helpers)
        if role.endswith(side) and name in rest.bones:
            del rest.bones[name]
    for f in FINGERS:
        j = CHAINS[f]
        parent = hand
        if palm_bones:
            parent = f"palm_{f}_{sign:+.0f}"
            rest.bones[parent] = RestBone(parent, hand, _matrix(W[0], W[j[0]], roll()), W[0].copy(), W[j[0]].copy())
        for k in range(3):
            name = names[f"{f}.0{k + 1}.{side}"]
            head, tail = W[j[k]], W[j[k + 1]]
            if not connected:
                tail = head + 0.8 * (tail - head) + 0.002 * s * z  # a bone not pointing at the next joint
            rest.bones[name] = RestBone(name, parent, _matrix(head, tail, roll()), head.copy(), tail.copy())
            parent = name
    return rest


def posed_hand_points(rest: RestPose, quats: dict, frames: int, names: dict[str, str], hand: str, side: str):
    """(T,21,3) the posed rig's hand read as landmarks: wrist, finger joints at bone heads, tips at tails."""
    ht = heads_tails(rest, pose_matrices(rest, quats, frames))
    H = np.full((frames, 21, 3), np.nan)
    H[:, 0] = ht[hand][0]
    for f in FINGERS:
        j = CHAINS[f]
        for k in range(3):
            head, tail = ht[names[f"{f}.0{k + 1}.{side}"]]
            H[:, j[k]] = head
            H[:, j[k + 1]] = tail
    return H
