"""`PoseTrack` + bone map + rest pose → per-frame local bone rotations (quaternions), vectorised."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import mediapipe_to_blender
from ..capture.track import PoseTrack
from .body import part_frames, rest_landmarks
from .rig import RestPose, resolve_bone_map
from .rotations import make_continuous, matrix_to_quaternion, slerp_matrices


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
    valid = track.detected & np.isfinite(track.world_landmarks).all(axis=(1, 2))
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
    at_rest = part_frames(rest_landmarks(rest, usable)[None])

    # World (armature-space) orientation wanted for each posed bone: delta of its part's frame.
    delta = {role: target[role] @ np.swapaxes(at_rest[role], -1, -2) for role in target if role in usable}
    wanted: dict[str, np.ndarray] = {}
    for role, d in delta.items():
        wanted[usable[role]] = d @ rest.bones[usable[role]].rotation
    if "chest" in usable:  # spine bones between hips and chest: twist spread along the spine
        between = rest.chain(usable["chest"], usable["hips"])
        for i, name in enumerate(between, start=1):
            d = slerp_matrices(delta["hips"], delta["chest"], i / (len(between) + 1))
            wanted[name] = d @ rest.bones[name].rotation
    if "neck" in usable and "head" in usable:  # bones between neck and head follow the neck
        for name in rest.chain(usable["head"], usable["neck"]):
            wanted[name] = delta["neck"] @ rest.bones[name].rotation

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
