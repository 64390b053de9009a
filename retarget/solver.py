"""`PoseTrack` + bone map + rest pose → per-frame local bone rotations (quaternions), vectorised."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX as I
from ..capture.landmarks import mediapipe_to_blender
from ..capture.track import PoseTrack
from ..motion.feet import AIR_M, air_heights, detect_contacts, flight_offset, foot_skate, lock_feet, still_in_image
from ..motion.root import world_trajectory
from .body import PART_ROLES, part_frame_stack, part_frames, rest_landmarks
from .hands import (
    FADE_S,
    LIMITS,
    MAX_PALM_BODY_DEG,
    HandSolution,
    apply_palms,
    hand_seen,
    hand_weights,
    hands_in_blender,
    palm_agrees,
    solve_hands,
)
from .rig import RestPose, resolve_bone_map
from .rotations import (
    frame,
    make_continuous,
    matrix_to_quaternion,
    quaternion_to_matrix,
    rotation_between,
    slerp_matrices,
)


@dataclass
class Solution:
    """What to key: per bone, (T,4) local quaternions (w, x, y, z), plus bookkeeping."""
    rotations: dict[str, np.ndarray]
    world_rotations: dict[str, np.ndarray]   # (T,3,3) armature-space orientation of every posed bone
    frames: int
    missing_roles: list[str] = field(default_factory=list)
    filled_frames: int = 0                   # frames without a person, held from the nearest detection
    root_offset: np.ndarray | None = None    # (T,3) armature-space translation of the body
    locations: dict[str, np.ndarray] = field(default_factory=dict)  # bone → (T,3) location channels
    foot_skate: dict[str, float] = field(default_factory=dict)       # 'before'/'after' locking, m/frame
    held: dict[str, int] = field(default_factory=dict)  # role → frames held at the last reliable pose
    hands: HandSolution | None = None        # fingers and palms, when the track had hands
    contacts: dict[str, np.ndarray] = field(default_factory=dict)   # 'L'/'R' → (T,) bool foot planted


ROOT_MODES = ("hips", "root_bone", "grounded", "in_place")
ROOT_MODE_HELP = {
    "hips": "root motion on the hips: the body travels as in the video (camera-based), feet planted",
    "root_bone": "root motion on the rig's root bone (horizontal) and the hips (vertical)",
    "grounded": "in place horizontally; the hips move up and down so the feet stay on the floor",
    "in_place": "the hips stay where the rest pose has them",
}
# Holding a part at its last reliable pose while its landmarks' visibility is low. Off by default:
# measured on the Pose2Sim demo (tools/bench_accuracy.py), holding below 0.5 / 0.3 made cam03's rig
# 2.1° / 0.7° worse than its landmarks (MediaPipe's estimate of a hidden limb beats a frozen one),
# and 0 adds no error. Low-visibility samples are already down-weighted by the smoothing.
VISIBILITY_THRESHOLD = 0.0

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
        from ..capture.errors import MotionError

        raise MotionError(f"No person was found in any of the {len(valid)} frames: choose a frame range "
                          "where the person is in view (or capture again with another model).")
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


def solve(track: PoseTrack, rest: RestPose, bone_map: dict[str, str], root_mode: str = "hips",
          visibility_threshold: float = VISIBILITY_THRESHOLD, level: bool = True, foot_lock: bool = True,
          camera: dict | None = None, hands: bool = True, face: bool = True) -> Solution:
    """A capture onto a rig. level: make the body upright whatever the camera's tilt (gravity from
    the feet or the torso); camera: fov_deg / focal_px / focal_mm+sensor_mm for root motion.
    face: where the take has a face, the head takes the face's orientation (`face_head_frames`)."""
    P, filled = landmarks_in_blender(track)
    rotation = None
    reliable = part_reliability(track, visibility_threshold) if visibility_threshold > 0 else None
    trajectory = None
    if level or root_mode in ("hips", "root_bone"):
        rotation, hips, _ = world_trajectory(track, **(camera or {}))
        ok = track.detected.astype(bool) & np.isfinite(hips).all(axis=1)
        if ok.any():
            trajectory, _ = fill_missing(hips, ok)
        if level:
            P = P @ rotation.T
    extra = {}
    if trajectory is not None:  # feet the picture shows standing still: planted whatever the lens (feet.py)
        still = still_in_image(track.image_landmarks, track.frame_size, track.fps)
        extra["still"] = {"L": still["left"], "R": still["right"]}
    if face and getattr(track, "face_landmarks", None) is not None:
        extra["head_frames"] = face_head_frames(track, rotation if level else None, camera)
    if hands and getattr(track, "hand_world_landmarks", None) is not None:
        H = hands_in_blender(track.hand_world_landmarks, rotation if level else None)
        return solve_with_hands(P, H, track.hand_presence, rest, bone_map, track.fps, filled=filled,
                                reliable=reliable, root_mode=root_mode, trajectory=trajectory, foot_lock=foot_lock,
                                **extra)
    return solve_points(P, rest, bone_map, filled, reliable, root_mode, trajectory=trajectory, fps=track.fps,
                        foot_lock=foot_lock, **extra)


# MediaPipe axes (x right, y down, z away from the camera) → Blender's, as a matrix (landmarks.mediapipe_to_blender)
MEDIAPIPE_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
FACE_HEAD_FADE_S = 0.3  # where the face is lost, the head eases back to the body's head over this long


def camera_fov(camera: dict | None, frame_size) -> float:
    """The camera's field of view (degrees, across the longer side) from solve()'s camera dict
    (fov_deg | focal_px | focal_mm [+ sensor_mm]); 60 when unknown."""
    camera = camera or {}
    if camera.get("fov_deg"):
        return float(camera["fov_deg"])
    if camera.get("focal_px"):
        return float(np.degrees(2 * np.arctan(0.5 * max(frame_size) / float(camera["focal_px"]))))
    if camera.get("focal_mm"):
        sensor = float(camera.get("sensor_mm") or 36.0)
        return float(np.degrees(2 * np.arctan(0.5 * sensor / float(camera["focal_mm"]))))
    return 60.0


def face_head_frames(track: PoseTrack, level: np.ndarray | None = None, camera: dict | None = None,
                     smooth_hz: float | None = 6.0) -> np.ndarray:
    """(T,3,3) the head's orientation from the face landmarks (motion/face.head_rotation) in the solver's
    axes: Blender's (mediapipe_to_blender), then `level` (the solver's levelling rotation) when given.
    Columns: the head's left, up, forward. NaN where no face. Smoothed (zero phase, `smooth_hz`; None: not)
    like the body, since a per-frame fit of the face jitters a little."""
    from ..motion.face import head_rotation
    from ..motion.filters import smooth_quaternions

    rot = head_rotation(track.face_landmarks, track.frame_size, camera_fov(camera, track.frame_size))
    present = np.isfinite(rot).all(axis=(1, 2))
    if track.face_presence is not None:
        present &= np.nan_to_num(np.asarray(track.face_presence, np.float64), nan=0.0) > 0
    out = np.full(rot.shape, np.nan)
    if not present.any():
        return out
    m = MEDIAPIPE_TO_BLENDER @ rot[present]
    if level is not None:
        m = level @ m
    if smooth_hz and present.sum() > 3:
        q = np.full((len(rot), 4), np.nan)
        q[present] = matrix_to_quaternion(m)
        q = smooth_quaternions(q, track.fps, cutoff_hz=smooth_hz, weights=present.astype(np.float64))
        m = quaternion_to_matrix(q[present])
    out[present] = m
    return out


def _face_head(body_head: np.ndarray, head_frames: np.ndarray, rest_head: np.ndarray, rest_bone: np.ndarray,
               weights: np.ndarray | None, fps: float) -> np.ndarray:
    """The solver's head part frame (part_frames 'head', T,3,3) with the face's orientation where the
    face was seen, eased back to the body's over FACE_HEAD_FADE_S where it was not.

    The face's frame (left, up, forward: the head's true axes) is not the landmark-built one (ears and
    nose: the nose sits below the ears, so its 'up' leans back); the rest pose relates the two: the rest
    head's true frame is up along the head bone and left along the rest ear line."""
    finite = np.isfinite(head_frames).all(axis=(1, 2))
    if not finite.any():
        return body_head
    face = np.empty_like(head_frames)
    face[finite] = frame(head_frames[finite][..., 1], head_frames[finite][..., 0])
    face, _ = fill_missing(face, finite)
    rest_true = frame(rest_bone[:, 1], rest_head[:, 0])
    face = face @ (rest_true.T @ rest_head)                    # as the landmark-built head frame would be
    if weights is None:
        from .hands import hand_weights

        weights = hand_weights(finite[:, None], fps, FACE_HEAD_FADE_S)[:, 0]
    w = np.clip(np.asarray(weights, np.float64), 0.0, 1.0)
    out = slerp_matrices(body_head, face, w[:, None])
    out[w >= 1.0] = face[w >= 1.0]
    out[w <= 0.0] = body_head[w <= 0.0]
    return out


def solve_with_hands(P: np.ndarray, hand_points: np.ndarray | None, presence: np.ndarray | None,
                     rest: RestPose, bone_map: dict[str, str], fps: float = 30.0, limits=LIMITS,
                     fade_s: float = FADE_S, max_palm_body_deg: float | None = MAX_PALM_BODY_DEG,
                     **solve_points_kw):
    """The body (solver.solve_points) with palms and fingers: P (T,33,3) and hand_points (T,2,21,3)
    in the same (levelled Blender) axes, presence (T,2) or None. Returns the body's Solution with the
    finger bones' rotations and orientations added, and the HandSolution as `solution.hands`.
    max_palm_body_deg: a hand whose palm points further than this from the body's hand is unseen
    there (`palm_agrees`; None: every hand is trusted)."""
    if hand_points is None:
        return solve_points(P, rest, bone_map, fps=fps, **solve_points_kw)
    seen = hand_seen(hand_points, presence)
    if max_palm_body_deg is not None:
        seen &= palm_agrees(P, hand_points, max_palm_body_deg)
    weights = hand_weights(seen, fps, fade_s)
    solution = solve_points(apply_palms(P, hand_points, weights), rest, bone_map, fps=fps, **solve_points_kw)
    hands = solve_hands(hand_points, seen, rest, bone_map, solution.world_rotations, fps, limits, fade_s)
    solution.rotations.update(hands.rotations)
    solution.world_rotations.update(hands.world_rotations)
    solution.hands = hands
    return solution


class RigSolver:
    """The solver for one rig and bone map: everything that depends only on the rest pose (usable map,
    rest landmarks and part frames, the bones to pose, their parent chains, the spine and neck chains,
    the foot points) is worked out once here; `solve(P)` then solves any number of frames with a few
    batched numpy operations. The offline solve (`solve_points`, all frames at once) and live capture
    (one frame at a time, the same object reused) run this same code.

    Forward kinematics without a loop over the bones: a bone that is not posed keeps its rest
    orientation relative to its parent, so the armature-space change D = R_pose · R_restᵀ of any bone
    is that of its nearest posed ancestor (the identity when there is none). A posed bone's basis is
    then R_restᵀ · D_parentᵀ · R_pose, and a point carried by a bone is its root's rest head plus, per
    posed bone k, D_k applied to the sum of the rest offsets along the chain that k moves. (Exact for
    orthonormal rest rotations; Blender's float32 rest matrices make it differ from the bone-by-bone
    product by about 1e-7, far below anything visible.)"""

    def __init__(self, rest: RestPose, bone_map: dict[str, str]):
        self.rest = rest
        usable, self.missing = resolve_bone_map(rest, bone_map)
        self.usable = usable
        self.rest_points = rest_landmarks(rest, usable)
        self.at_rest = part_frames(self.rest_points[None])
        self.roles = [role for role in PART_ROLES if role in usable]      # the posed roles the rig has
        self.role_col = {role: j for j, role in enumerate(self.roles)}
        self.role_parts = np.array([PART_ROLES.index(role) for role in self.roles], dtype=np.intp)
        self.rest_inv = np.swapaxes(part_frame_stack(self.rest_points[None])[0, self.role_parts], -1, -2)
        by_bone: dict[str, str] = {}   # posed bone → the role that poses it (the last one, as a dict would)
        for role in self.roles:
            by_bone[usable[role]] = role
        slots: dict[str, int] = {}     # every bone the solver poses → its index in the stacked arrays

        def slot(name):
            return slots.setdefault(name, len(slots))

        self.role_slots = np.array([slot(bone) for bone in by_bone], dtype=np.intp)
        self.role_cols = np.array([self.role_col[role] for role in by_bone.values()], dtype=np.intp)
        self.spine = self.neck = None
        if "chest" in usable and rest.is_ancestor(usable["hips"], usable["chest"]):
            # spine bones between hips and chest: bend and twist spread along the spine
            between = rest.chain(usable["chest"], usable["hips"])
            t = np.arange(1, len(between) + 1, dtype=np.float64)[:, None] / (len(between) + 1)
            idx = [slot(n) for n in between]
            chain = self._chain(usable["hips"], between, usable["chest"], _mid(self.rest_points, "hip"),
                                _mid(self.rest_points, "shoulder"), slot) if between else None
            self.spine = (np.array(idx, dtype=np.intp), t, self._rotations(between), chain)
        if "neck" in usable and "head" in usable and rest.is_ancestor(usable["neck"], usable["head"]):
            # bones between neck and head follow the neck
            between = rest.chain(usable["head"], usable["neck"])
            idx = [slot(n) for n in between]
            chain = None
            if "chest" in usable and rest.is_ancestor(usable["chest"], usable["neck"]):
                chain = self._chain(usable["chest"], [usable["neck"]] + between, usable["head"],
                                    _mid(self.rest_points, "shoulder"), _mid(self.rest_points, "ear"), slot)
            self.neck = (np.array(idx, dtype=np.intp), self._rotations(between), chain)
        self.bones = list(slots)
        n = len(self.bones)
        self.R = self._rotations(self.bones)                    # (n,3,3) rest orientations
        self.R_inv = np.swapaxes(self.R, -1, -2)
        self.role_rest = self.R[self.role_slots]
        # The nearest posed ancestor of each posed bone (n: none, the identity).
        self.parent_slot = np.array([self._posed_ancestor(rest.bones[b].parent, slots) for b in self.bones],
                                    dtype=np.intp)
        self.order = [(name, slots[name]) for name in rest.ordered() if name in slots]
        self.slots = slots
        self.feet = self._foot_plan(slots, n)

    # -- what __init__ works out

    def _rotations(self, names) -> np.ndarray:
        return np.array([self.rest.bones[n].rotation for n in names], dtype=np.float64).reshape(-1, 3, 3)

    def _posed_ancestor(self, name, slots) -> int:
        """Slot of the bone `name` or its nearest posed ancestor; len(slots) (the identity) when none."""
        while name is not None and name in self.rest.bones:
            if name in slots:
                return slots[name]
            name = self.rest.bones[name].parent
        return len(slots)

    def _local(self, name: str, point: np.ndarray) -> np.ndarray:
        """A rest point in the bone's own axes (relative to its head)."""
        b = self.rest.bones[name]
        return b.rotation.T @ (np.asarray(point, np.float64) - b.head)

    def _chain(self, base, between, end, base_point, end_point, slot):
        """For _align_chain: the line from base_point (carried by `base`) to end_point (carried by `end`)
        is Σ R_pose · c over the chain base, between…, end (each bone to the next one's head)."""
        chain = [base] + list(between) + [end]
        coef = [self._local(a, self.rest.bones[b].head) for a, b in zip(chain[:-1], chain[1:])]
        coef[0] = coef[0] - self._local(base, base_point)
        coef.append(self._local(end, end_point))
        coef = np.array(coef)
        ends = np.array([slot(base), slot(end)], dtype=np.intp)
        moving = np.array([slot(n) for n in between], dtype=np.intp)
        return ends, coef[[0, -1]], moving, coef[1:-1]

    def _foot_plan(self, slots, n):
        """Per foot: (rest heads of the chains' roots (p,3), per posed bone offsets (p,n+1,3)) of its
        ankle, heel and toe points (see foot_points)."""
        rest, usable = self.rest, self.usable
        plan = {}
        for side, s in (("L", "left"), ("R", "right")):
            foot = usable.get(f"foot.{side}") or usable.get(f"shin.{side}")
            if foot is None:
                continue
            toe = usable.get(f"toe.{side}", foot)
            roots, offsets = [], []
            for name, bone in ((f"{s}_ankle", foot), (f"{s}_heel", foot), (f"{s}_foot_index", toe)):
                point = self.rest_points[I[name]]
                if not np.isfinite(point).all() or bone not in rest.bones:
                    continue
                v = np.zeros((n + 1, 3))
                v[self._posed_ancestor(bone, slots)] += point - rest.bones[bone].head
                while rest.bones[bone].parent in rest.bones:
                    parent = rest.bones[bone].parent
                    v[self._posed_ancestor(parent, slots)] += rest.bones[bone].head - rest.bones[parent].head
                    bone = parent
                roots.append(rest.bones[bone].head)
                offsets.append(v)
            if roots:
                plan[side] = (np.array(roots), np.array(offsets))
        return plan

    # -- per call

    def solve(self, P: np.ndarray, filled: int = 0, reliable: dict[str, np.ndarray] | None = None,
              root_mode: str = "in_place", trajectory: np.ndarray | None = None, fps: float = 30.0,
              foot_lock: bool = True, head_frames: np.ndarray | None = None,
              head_weights: np.ndarray | None = None, still: dict[str, np.ndarray] | None = None) -> Solution:
        """See solve_points."""
        if root_mode not in ROOT_MODES:
            raise ValueError(f"root_mode must be one of {ROOT_MODES}")
        rest, usable = self.rest, self.usable
        T = len(P)
        target = part_frame_stack(P)                                   # (T,16,3,3), PART_ROLES
        if head_frames is not None and "head" in usable:
            head = PART_ROLES.index("head")
            target[:, head] = _face_head(target[:, head], np.asarray(head_frames, np.float64),
                                         self.at_rest["head"][0], rest.bones[usable["head"]].rotation,
                                         head_weights, fps)
        # World (armature-space) orientation wanted for each posed bone: delta of its part's frame.
        delta = target[:, self.role_parts] @ self.rest_inv             # (T,roles,3,3)
        held = {}
        for role, good in (reliable or {}).items():
            if role in self.role_col and not good.all():
                held[role] = int((~good).sum())
                delta[:, self.role_col[role]] = hold_last(delta[:, self.role_col[role]], good)
        W = np.empty((T, len(self.bones), 3, 3))
        W[:, self.role_slots] = delta[:, self.role_cols] @ self.role_rest
        if self.spine is not None:
            idx, t, R, chain = self.spine
            W[:, idx] = slerp_matrices(delta[:, self.role_col["hips"], None], delta[:, self.role_col["chest"], None],
                                       t) @ R
            if chain is not None:
                _align_chain(W, chain, _mid(P, "shoulder") - _mid(P, "hip"))
        if self.neck is not None:
            idx, R, chain = self.neck
            W[:, idx] = delta[:, self.role_col["neck"], None] @ R
            if chain is not None:
                _align_chain(W, chain, _mid(P, "ear") - _mid(P, "shoulder"))
        # Local rotations through the parent chain: R_pose = D_parent · R_rest · R_basis (see the class).
        D = np.concatenate([W @ self.R_inv, np.broadcast_to(np.eye(3), (T, 1, 3, 3))], axis=1)
        basis = self.R_inv @ np.swapaxes(D[:, self.parent_slot], -1, -2) @ W
        q = np.ascontiguousarray(np.swapaxes(make_continuous(matrix_to_quaternion(basis)), 0, 1))  # (n,T,4)
        W_bones = np.ascontiguousarray(np.swapaxes(W, 0, 1))
        solution = Solution({name: q[i] for name, i in self.order},
                            {name: W_bones[i] for i, name in enumerate(self.bones)}, T, list(self.missing),
                            filled, held=held)
        if root_mode != "in_place":
            lowest, standing = self.foot_points(D)
            _root_motion(solution, rest, usable, self.rest_points, lowest, standing, P, root_mode, trajectory, fps,
                         foot_lock, still)
        return solution

    def foot_points(self, D: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per foot, from the posed bones' changes D (T,n+1,3,3; the last the identity), hips at rest: (T,3) the
        lowest of its ankle/heel/toe points each frame (heights, contacts), and (T,3) their mean, a point that does
        not jump from heel to toe as the foot rolls (where a foot stands, for the foot lock)."""
        lowest, standing = {}, {}
        for side, (roots, offsets) in self.feet.items():
            points = roots + np.einsum("tkij,pkj->tpi", D, offsets)   # (T, p, 3)
            lowest[side] = points[np.arange(len(points)), np.argmin(points[..., 2], axis=1)]
            standing[side] = points.mean(1)
        return lowest, standing


def rig_solver(rest: RestPose, bone_map: dict[str, str]) -> RigSolver:
    """The RigSolver for this rest pose and bone map, kept on the RestPose (made anew after any edit of
    the rig or the map)."""
    shape = np.concatenate([np.concatenate([b.matrix.ravel(), b.head, b.tail]) for b in rest.bones.values()]
                           ) if rest.bones else np.zeros(0)
    key = (tuple(sorted(bone_map.items())), tuple(rest.bones), tuple(b.parent for b in rest.bones.values()),
           shape.tobytes())
    cache = rest.__dict__.setdefault("_solver_rest_cache", {})
    if key not in cache:
        solver = RigSolver(rest, bone_map)
        cache.clear()
        cache[key] = solver
    return cache[key]


def solve_points(P: np.ndarray, rest: RestPose, bone_map: dict[str, str], filled: int = 0,
                 reliable: dict[str, np.ndarray] | None = None, root_mode: str = "in_place",
                 trajectory: np.ndarray | None = None, fps: float = 30.0, foot_lock: bool = True,
                 head_frames: np.ndarray | None = None, head_weights: np.ndarray | None = None,
                 still: dict[str, np.ndarray] | None = None) -> Solution:
    """Landmarks P (T,33,3) in Blender axes → local rotations of the mapped bones (and the spine bones
    between hips and chest, which share the torso's twist).

    reliable: role → (T,) bool; a part holds its last reliable orientation where False.
    root_mode: see ROOT_MODE_HELP. trajectory: (T,3) the person's hip centre in an upright world
    (metres, floor at z = 0), needed for 'hips' and 'root_bone' (else those act like 'grounded').
    head_frames: (T,3,3) the head's orientation from the face (columns left, up, forward, P's axes; NaN
    where no face, see face_head_frames): replaces the head's part frame there, eased back to the body's
    (head_weights (T,) 0..1 to choose the blend; default 1 where given, fading over FACE_HEAD_FADE_S).
    still: 'L'/'R' → (T,) bool, the feet the picture shows standing still (motion.feet.still_in_image):
    planted there too while low, not in the air and not fast in 3D (motion.feet.detect_contacts)."""
    return rig_solver(rest, bone_map).solve(P, filled, reliable, root_mode, trajectory, fps, foot_lock,
                                            head_frames, head_weights, still)


def _root_motion(solution: Solution, rest: RestPose, usable, rest_points, feet, standing, P, mode, trajectory, fps,
                 foot_lock, still=None) -> None:
    """The body's translation: vertical grounding (the lowest foot point stays on the rest pose's
    floor) while a foot is planted and the camera-based height in flight (jumps, hops, falls), plus
    horizontal travel from the camera-based trajectory scaled to the rig, with planted feet locked.
    feet, standing: RigSolver.foot_points, the feet's lowest points (heights, contacts) and their mean points
    (where a planted foot is held and its slide measured).
    Holding the lowest point instead, the lock jerked the root by the heel-to-toe distance whenever the
    lowest point changed during a contact (tools/bench_accuracy.py, the rigs' ankles' horizontal speed over
    the truth's planted frames, cm/frame, lowest → mean: the mannequin 0.89 → 0.53, the walk toward the
    camera 0.42 → 0.24, walk_high 1.43 → 0.32, jump_high 1.08 → 0.69; limb errors unchanged)."""
    carrier = usable.get("torso", usable["hips"])  # Rigify moves the body with 'torso', not 'hips'
    parent = rest.bones[carrier].parent
    if not feet or (parent is not None and parent in solution.rotations):
        return
    sole = [I[f"{s}_{n}"] for s in ("left", "right") for n in ("ankle", "heel", "foot_index")]
    floor = np.nanmin(rest_points[sole, 2])
    lowest = np.min(np.stack([f[:, 2] for f in feet.values()]), axis=0)
    offset = np.zeros((len(lowest), 3))
    offset[:, 2] = ground = floor - lowest
    if trajectory is not None:
        leg_rig = _leg_length(rest_points)
        leg_person = np.nanmedian(_leg_length(P))
        scale = leg_rig / leg_person if leg_person > 0 else 1.0
        contact_scale = leg_rig / 0.9
        travel = scale * (trajectory[:, :2] - trajectory[0, :2])
        # The camera's hip height, as a root offset: rig hips at scale × the person's height above the floor.
        hip_rest = (rest_points[I["left_hip"], 2] + rest_points[I["right_hip"], 2]) / 2
        camera = scale * trajectory[:, 2] + floor - hip_rest
        air = air_heights({side: f[:, 2] for side, f in feet.items()}, ground, camera, floor, fps)
        placed = {side: f + np.column_stack([travel, ground]) for side, f in feet.items()}
        contacts = {side: detect_contacts(f, fps, floor, scale=contact_scale, air=air[side],
                                          still=(still or {}).get(side))
                    for side, f in placed.items()}
        solution.contacts = contacts
        grounded = np.any(np.stack(list(contacts.values())), axis=0)
        lowest_air = np.min(np.stack(list(air.values())), axis=0)
        offset[:, 2] = flight_offset(ground, camera, grounded, lowest_air, AIR_M * contact_scale)
        if mode in ("hips", "root_bone"):
            offset[:, :2] = travel
            if foot_lock:
                placed = {side: f + offset for side, f in standing.items()}
                solution.foot_skate["before"] = foot_skate(placed, contacts)
                offset = lock_feet(offset, placed, contacts)
                solution.foot_skate["after"] = foot_skate({s: f + offset for s, f in standing.items()}, contacts)
    solution.root_offset = offset
    root_bone = usable.get("root")
    if (mode == "root_bone" and root_bone and root_bone != carrier
            and rest.bones[root_bone].parent not in solution.rotations):
        horizontal, vertical = offset.copy(), offset.copy()
        horizontal[:, 2] = 0
        vertical[:, :2] = 0
        solution.locations[root_bone] = horizontal @ rest.bones[root_bone].rotation
        solution.locations[carrier] = vertical @ rest.bones[carrier].rotation
    else:
        solution.locations[carrier] = offset @ rest.bones[carrier].rotation  # = R_restᵀ · offset


def _leg_length(points: np.ndarray) -> np.ndarray:
    """Mean of both legs' hip-knee + knee-ankle lengths for landmarks (…,33,3)."""
    legs = []
    for s in ("left", "right"):
        hip, knee, ankle = (points[..., I[f"{s}_{n}"], :] for n in ("hip", "knee", "ankle"))
        legs.append(np.linalg.norm(knee - hip, axis=-1) + np.linalg.norm(ankle - knee, axis=-1))
    return np.nanmean(np.stack(legs), axis=0)


def _mid(points: np.ndarray, joint: str) -> np.ndarray:
    return (points[..., I[f"left_{joint}"], :] + points[..., I[f"right_{joint}"], :]) / 2


_EYE = np.eye(3)
_CONVERGED = 1e-10 + 1e-5 * _EYE


def _align_chain(W: np.ndarray, chain, target: np.ndarray, iterations: int = 4) -> None:
    """Swing the chain's middle bones so that the line from its base point (carried by its first bone)
    to its end point (carried by its last) follows `target` (T,3); the first and last bones keep their
    orientations. W: (T,n,3,3) posed orientations, changed in place; chain: RigSolver._chain. Used for
    the spine (mid-hip → mid-shoulder) and the neck (mid-shoulder → mid-ear): the landmarks see those
    lines, not the curve of the bones between."""
    ends, end_coef, moving, coef = chain
    fixed = np.einsum("tkij,kj->ti", W[:, ends], end_coef)
    swung = np.einsum("tkij,kj->ti", W[:, moving], coef)
    total = None
    for _ in range(iterations):
        swing = rotation_between(fixed + swung, target)
        if (np.abs(swing - _EYE) <= _CONVERGED).all():   # np.allclose(swing, I, atol=1e-10), without its overhead
            break
        swung = np.einsum("tij,tj->ti", swing, swung)
        total = swing if total is None else swing @ total
    if total is not None:
        W[:, moving] = total[:, None] @ W[:, moving]
