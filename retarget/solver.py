"""`PoseTrack` + bone map + rest pose → per-frame local bone rotations (quaternions), vectorised."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX as I
from ..capture.landmarks import mediapipe_to_blender
from ..capture.track import PoseTrack
from .body import part_frames, rest_landmarks
from .rig import RestPose, resolve_bone_map
from .rotations import make_continuous, matrix_to_quaternion, normalize, slerp_matrices


@dataclass
class Solution:
    """What to key: per bone, (T,4) local quaternions (w, x, y, z), plus bookkeeping."""
    rotations: dict[str, np.ndarray]
    world_rotations: dict[str, np.ndarray]   # (T,3,3) armature-space orientation of every posed bone
    frames: int
    missing_roles: list[str] = field(default_factory=list)
    filled_frames: int = 0                   # frames without a person, held from the nearest detection


def fill_missing(points: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, int]:
    """Frames where nobody was found take the nearest detected frame (held pose; no extrapolation)."""
    if valid.all():
        return points, 0
    if not valid.any():
        raise ValueError("no frame with a detected person")
    idx = np.arange(len(valid))
    good = idx[valid]
    nearest = good[np.clip(np.searchsorted(good, idx), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, idx) - 1, 0, len(good) - 1)]
    nearest = np.where(np.abs(before - idx) <= np.abs(nearest - idx), before, nearest)
    return points[nearest], int((~valid).sum())


def landmarks_in_blender(track: PoseTrack) -> tuple[np.ndarray, int]:
    valid = track.detected.astype(bool)
    points, filled = fill_missing(track.world_landmarks.astype(np.float64), valid)
    return mediapipe_to_blender(points), filled


def solve(track: PoseTrack, rest: RestPose, bone_map: dict[str, str]) -> Solution:
    P, filled = landmarks_in_blender(track)
    return solve_points(P, rest, bone_map, filled)


def solve_points(P: np.ndarray, rest: RestPose, bone_map: dict[str, str], filled: int = 0) -> Solution:
    """Landmarks P (T,33,3) in Blender axes → local rotations of the mapped bones (and the spine bones
    between hips and chest, which share the torso's twist)."""
    usable, missing = resolve_bone_map(rest, bone_map)
    T = len(P)
    target = part_frames(P)
    rest_points = rest_landmarks(rest, usable)
    at_rest = part_frames(rest_points[None])

    # World (armature-space) orientation wanted for each posed bone: delta of its part's frame.
    delta = {role: target[role] @ np.swapaxes(at_rest[role], -1, -2) for role in target if role in usable}
    wanted: dict[str, np.ndarray] = {}
    for role, d in delta.items():
        wanted[usable[role]] = d @ rest.bones[usable[role]].rotation
    if "chest" in usable:  # spine bones between hips and chest: bend and twist spread along the spine
        between = rest.chain(usable["chest"], usable["hips"])
        for i, name in enumerate(between, start=1):
            d = slerp_matrices(delta["hips"], delta["chest"], i / (len(between) + 1))
            wanted[name] = d @ rest.bones[name].rotation
        if between:
            _align_chain(rest, usable["hips"], between, usable["chest"], _mid(rest_points, "hip"),
                         _mid(rest_points, "shoulder"), _mid(P, "shoulder") - _mid(P, "hip"), wanted)
    if "neck" in usable and "head" in usable:  # bones between neck and head follow the neck
        between = rest.chain(usable["head"], usable["neck"])
        for name in between:
            wanted[name] = delta["neck"] @ rest.bones[name].rotation
        if "chest" in usable and usable["neck"] in rest.chain(usable["head"], usable["chest"]):
            _align_chain(rest, usable["chest"], [usable["neck"]] + between, usable["head"],
                         _mid(rest_points, "shoulder"), _mid(rest_points, "ear"),
                         _mid(P, "ear") - _mid(P, "shoulder"), wanted)

    # Local rotations through the parent chain: R_pose = R_pose_parent · R_rest_parentᵀ · R_rest · R_basis.
    posed: dict[str, np.ndarray] = {}
    local: dict[str, np.ndarray] = {}
    identity = np.broadcast_to(np.eye(3), (T, 3, 3))
    for name in rest.ordered():
        bone = rest.bones[name]
        parent = bone.parent if bone.parent in rest.bones else None
        # Orientation the bone would have with an identity basis (inherits the parent's motion).
        inherited = bone.rotation if parent is None else (
            posed[parent] @ rest.bones[parent].rotation.T @ bone.rotation)
        inherited = np.broadcast_to(inherited, (T, 3, 3))
        if name in wanted:
            posed[name] = wanted[name]
            basis = np.swapaxes(inherited, -1, -2) @ wanted[name]
            local[name] = make_continuous(matrix_to_quaternion(basis))
        else:
            posed[name] = inherited if parent is not None else identity @ bone.rotation
    return Solution(local, {n: posed[n] for n in wanted}, T, missing, filled)


def _mid(points: np.ndarray, joint: str) -> np.ndarray:
    return (points[..., I[f"left_{joint}"], :] + points[..., I[f"right_{joint}"], :]) / 2


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T,3,3) smallest rotations taking directions a to b (Rodrigues)."""
    a, b = normalize(a), normalize(b)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)[..., None, None]
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return np.eye(3) + k + k @ k / np.maximum(1 + c, 1e-9)


def _align_chain(rest: RestPose, base: str, between: list[str], end: str, base_point, end_point,
                 target: np.ndarray, wanted, iterations: int = 4) -> None:
    """Swing the bones `between` so that the line from base_point (carried by bone `base`) to
    end_point (carried by bone `end`) follows `target` (T,3). Base and end keep their orientations.
    Used for the spine (mid-hip → mid-shoulder) and the neck (mid-shoulder → mid-ear): the landmarks
    see those lines, not the curve of the bones between."""
    chain = [base] + list(between) + [end]

    def attached(name, point_rest, head_posed):  # where a rest point carried by bone `name` is now
        b = rest.bones[name]
        return head_posed + np.einsum("tij,j->ti", wanted[name] @ b.rotation.T, point_rest - b.head)

    root = np.broadcast_to(rest.bones[base].head, target.shape)
    for _ in range(iterations):
        head = root
        for parent, child in zip(chain[:-1], chain[1:]):
            head = attached(parent, rest.bones[child].head, head)
        swing = _rotation_between(attached(end, end_point, head) - attached(base, base_point, root), target)
        if np.allclose(swing, np.eye(3), atol=1e-10):
            break
        for name in between:
            wanted[name] = swing @ wanted[name]
