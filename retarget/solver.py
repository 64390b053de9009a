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
    root_offset: np.ndarray | None = None    # (T,3) armature-space translation of the hips bone
    hips_location: np.ndarray | None = None  # (T,3) the same as the hips pose bone's location channels
    hips_bone: str | None = None
    held: dict[str, int] = field(default_factory=dict)  # role → frames held at the last reliable pose


ROOT_MODES = ("grounded", "in_place")
VISIBILITY_THRESHOLD = 0.5  # MediaPipe's own cut-off for drawing a landmark

# Landmarks each part's frame is read from: when any is unreliable, the part holds its last good pose.
PART_LANDMARKS = {
    "hips": ("left_hip", "right_hip"),
    "chest": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "neck": ("left_shoulder", "right_shoulder", "left_ear", "right_ear"),
    "head": ("left_ear", "right_ear", "nose"),
}
for _side, _s in (("L", "left"), ("R", "right")):
    PART_LANDMARKS.update({
        f"upper_arm.{_side}": (f"{_s}_shoulder", f"{_s}_elbow"),
        f"forearm.{_side}": (f"{_s}_elbow", f"{_s}_wrist"),
        f"hand.{_side}": (f"{_s}_wrist", f"{_s}_index", f"{_s}_pinky"),
        f"thigh.{_side}": (f"{_s}_hip", f"{_s}_knee"),
        f"shin.{_side}": (f"{_s}_knee", f"{_s}_ankle"),
        f"foot.{_side}": (f"{_s}_ankle", f"{_s}_heel", f"{_s}_foot_index"),
    })


def part_reliability(track: PoseTrack, threshold: float = VISIBILITY_THRESHOLD) -> dict[str, np.ndarray]:
    """role → (T,) True where every landmark the part is read from is visible enough."""
    vis = np.nan_to_num(track.visibility, nan=0.0)
    seen = track.detected.astype(bool)
    return {role: seen & (vis[:, [I[n] for n in names]] >= threshold).all(axis=1)
            for role, names in PART_LANDMARKS.items()}


def hold_last(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Frames where `good` is False take the last good frame (the first good one before any)."""
    if good.all() or not good.any():
        return values
    idx = np.where(good, np.arange(len(good)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.argmax(good)
    return values[idx]


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


def solve(track: PoseTrack, rest: RestPose, bone_map: dict[str, str], root_mode: str = "grounded",
          visibility_threshold: float = VISIBILITY_THRESHOLD) -> Solution:
    P, filled = landmarks_in_blender(track)
    reliable = part_reliability(track, visibility_threshold) if visibility_threshold > 0 else None
    return solve_points(P, rest, bone_map, filled, reliable, root_mode)


def solve_points(P: np.ndarray, rest: RestPose, bone_map: dict[str, str], filled: int = 0,
                 reliable: dict[str, np.ndarray] | None = None, root_mode: str = "in_place") -> Solution:
    """Landmarks P (T,33,3) in Blender axes → local rotations of the mapped bones (and the spine bones
    between hips and chest, which share the torso's twist).

    reliable: role → (T,) bool; a part holds its last reliable orientation where False.
    root_mode: 'in_place' (hips stay at rest) or 'grounded' (hips move up and down so the lowest
    point of the rig's feet stays on the rest pose's floor: squats and kneels read right)."""
    if root_mode not in ROOT_MODES:
        raise ValueError(f"root_mode must be one of {ROOT_MODES}")
    usable, missing = resolve_bone_map(rest, bone_map)
    T = len(P)
    target = part_frames(P)
    rest_points = rest_landmarks(rest, usable)
    at_rest = part_frames(rest_points[None])

    # World (armature-space) orientation wanted for each posed bone: delta of its part's frame.
    delta = {role: target[role] @ np.swapaxes(at_rest[role], -1, -2) for role in target if role in usable}
    held = {}
    for role, good in (reliable or {}).items():
        if role in delta and not good.all():
            held[role] = int((~good).sum())
            delta[role] = hold_last(delta[role], good)
    wanted: dict[str, np.ndarray] = {}
    for role, d in delta.items():
        wanted[usable[role]] = d @ rest.bones[usable[role]].rotation
    if "chest" in usable and rest.is_ancestor(usable["hips"], usable["chest"]):
        # spine bones between hips and chest: bend and twist spread along the spine
        between = rest.chain(usable["chest"], usable["hips"])
        for i, name in enumerate(between, start=1):
            d = slerp_matrices(delta["hips"], delta["chest"], i / (len(between) + 1))
            wanted[name] = d @ rest.bones[name].rotation
        if between:
            _align_chain(rest, usable["hips"], between, usable["chest"], _mid(rest_points, "hip"),
                         _mid(rest_points, "shoulder"), _mid(P, "shoulder") - _mid(P, "hip"), wanted)
    if "neck" in usable and "head" in usable and rest.is_ancestor(usable["neck"], usable["head"]):
        # bones between neck and head follow the neck
        between = rest.chain(usable["head"], usable["neck"])
        for name in between:
            wanted[name] = delta["neck"] @ rest.bones[name].rotation
        if "chest" in usable and rest.is_ancestor(usable["chest"], usable["neck"]):
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
    solution = Solution(local, {n: posed[n] for n in wanted}, T, missing, filled, held=held)
    if root_mode == "grounded":
        _ground(solution, rest, usable, rest_points, posed)
    return solution


def _ground(solution: Solution, rest: RestPose, usable, rest_points, posed) -> None:
    """Vertical hips offset keeping the lowest foot point at the rest pose's floor height."""
    carriers = []
    for side, s in (("L", "left"), ("R", "right")):
        foot = usable.get(f"foot.{side}") or usable.get(f"shin.{side}")
        if foot is None:
            continue
        toe = usable.get(f"toe.{side}", foot)
        for name, bone in ((f"{s}_ankle", foot), (f"{s}_heel", foot), (f"{s}_foot_index", toe)):
            if np.isfinite(rest_points[I[name]]).all():
                carriers.append((bone, rest_points[I[name]]))
    hips = usable.get("root", usable["hips"])
    parent = rest.bones[hips].parent
    if not carriers or (parent is not None and parent in solution.rotations):
        return
    heads = posed_heads(rest, posed)
    lowest = None
    for bone, point in carriers:
        b = rest.bones[bone]
        z = heads[bone][:, 2] + np.einsum("tj,j->t", (posed[bone] @ b.rotation.T)[:, 2, :], point - b.head)
        lowest = z if lowest is None else np.minimum(lowest, z)
    floor = min(p[2] for _, p in carriers)
    offset = np.zeros((len(lowest), 3))
    offset[:, 2] = floor - lowest
    solution.root_offset = offset
    solution.hips_bone = hips
    solution.hips_location = offset @ rest.bones[hips].rotation  # = R_restᵀ · offset, per frame


def posed_heads(rest: RestPose, posed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(T,3) head position of every bone for armature-space orientations `posed`, root at rest."""
    heads: dict[str, np.ndarray] = {}
    for name in rest.ordered():
        bone = rest.bones[name]
        parent = bone.parent if bone.parent in rest.bones else None
        if parent is None:
            heads[name] = np.broadcast_to(bone.head, posed[name].shape[:-2] + (3,))
        else:
            p = rest.bones[parent]
            heads[name] = heads[parent] + np.einsum("tij,j->ti", posed[parent] @ p.rotation.T, bone.head - p.head)
    return heads


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
