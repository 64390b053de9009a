"""Palms and fingers from MediaPipe's 21 hand landmarks onto a rig, numpy only.

Hand landmarks per frame: (T,2,21,3), hand 0 the person's LEFT, 1 the RIGHT, NaN where no hand; in
Blender axes here (`hands_in_blender`). MediaPipe's order: 0 wrist; thumb 1 CMC 2 MCP 3 IP 4 tip;
index 5 MCP 6 PIP 7 DIP 8 tip; middle 9–12; ring 13–16; pinky 17–20.

The construction is the body's (retarget/body.py): a frame per bone from the landmarks (the bone's
direction joint to joint, and a twist reference: the palm's across line, index MCP − pinky MCP, for
the four fingers, the palm normal for the thumb), the same construction applied to the rig's rest
pose read as landmarks (bone heads, the last bone's tail), and a posed orientation
G(frame) · G(rest)ᵀ · R_rest, so neither the rest pose (flat, relaxed, spread) nor bone rolls matter.

1. Palm → hand bone: `apply_palms` rewrites the body's index/pinky landmarks around the wrist so the
   body solver's hand frame (and the forearm's twist, taken from it) is the palm's where a hand is
   seen, eased toward the body's own where it is not (`hand_weights`).
2. Fingers: each finger bone's orientation relative to the palm, carried by the hand bone as the body
   solver posed it: wanted_b = D_hand · G_palm(rest) · G_palm(H)ᵀ · G_b(H) · G_b(rest)ᵀ · R_rest_b.
   Locals come through the parent chain from the hand bone (or a bone with the hand's rest matrix,
   as Rigify's DEF-/ORG-hand carry the generated rig's fingers); bones between (palm, metacarpal,
   Rigify's MCH) keep their rest.
3. Anatomical limits (`clamp_fingers`), per joint in the finger's own frame (x: the twist
   reference, y: the parent segment, z = x × y): flexion (toward the palm) and abduction (sideways)
   clamped to `LIMITS`; a clamped segment's children keep their pose relative to it.
4. Unseen hands: the pose relative to the palm is held from the last sighting (interpolated to the
   next one across a gap) and eased to a relaxed hand over `FADE_S`, and eased back: never a snap.

    solution = solve_with_hands(P, hand_points, hand_presence, rest, bone_map, fps, **solve_points_kw)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX as I
from ..capture.landmarks import mediapipe_to_blender
from .body import rest_landmarks
from .rig import FINGERS, RestPose, resolve_bone_map
from .rotations import (
    angle_between,
    frame,
    make_continuous,
    matrix_to_quaternion,
    normalize,
    quaternion_to_matrix,
    slerp,
)

WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 5, 9, 17
CHAINS = {"thumb": (1, 2, 3, 4), "f_index": (5, 6, 7, 8), "f_middle": (9, 10, 11, 12),
          "f_ring": (13, 14, 15, 16), "f_pinky": (17, 18, 19, 20)}
SIDES = (("L", 0, "left", 1.0), ("R", 1, "right", -1.0))  # role side, hand index, body side, mirror sign
MAX_PALM_BODY_DEG = 90.0  # a palm pointing further from the body's hand direction is not trusted
FADE_S = 0.5  # an unseen hand eases to the relaxed pose (and a palm to the body's hand) over this long

# Per joint (degrees): flexion min, flexion max, |abduction| max, in the parent segment's frame.
# Fingers: MCP, PIP, DIP. Thumb: CMC (relative to the palm: in-plane angle from the palm's axis,
# radial negative; the thumb's rest sits near −30° … −45°), MCP, IP. The thumb's flexion axis is
# pronated out of the palm plane, so its limits are wide: they only stop bends no hand can make.
LIMITS = {
    "finger": ((-30.0, 100.0, 30.0), (-10.0, 110.0, 15.0), (-10.0, 90.0, 15.0)),
    "thumb": ((-90.0, 60.0, 75.0), (-30.0, 90.0, 60.0), (-30.0, 100.0, 60.0)),
}
# The relaxed hand an unseen hand eases to (flexion per joint, degrees; thumb: CMC in-plane angle).
RELAXED = {"thumb": (-35.0, 20.0, 15.0), "f_index": (15.0, 20.0, 10.0), "f_middle": (20.0, 25.0, 12.0),
           "f_ring": (25.0, 30.0, 14.0), "f_pinky": (30.0, 35.0, 16.0)}


@dataclass
class HandSolution:
    rotations: dict[str, np.ndarray]                  # bone → (T,4) local quaternions (w, x, y, z)
    world_rotations: dict[str, np.ndarray]            # bone → (T,3,3) armature-space orientation
    weights: np.ndarray                               # (T,2) how much each hand is seen (eased 0…1)
    clamped: dict[str, int] = field(default_factory=dict)  # role → frames its joint was limited
    missing_roles: list[str] = field(default_factory=list)  # finger roles the rig has no bone for


# ----------------------------------------------------------------------------------------------
# Landmarks

def hands_in_blender(hand_world: np.ndarray, rotation: np.ndarray | None = None) -> np.ndarray:
    """MediaPipe hand world landmarks (T,2,21,3) → Blender axes, levelled by `rotation` (3,3) like the
    body's landmarks (solver.solve: P @ rotation.T)."""
    H = mediapipe_to_blender(np.asarray(hand_world, dtype=np.float64))
    return H if rotation is None else H @ np.asarray(rotation).T


def hand_seen(hand_points: np.ndarray, presence: np.ndarray | None = None, min_presence: float = 0.5) -> np.ndarray:
    """(T,2) True where a hand's 21 landmarks are finite (and its presence is at least min_presence)."""
    seen = np.isfinite(hand_points).all(axis=(-1, -2))
    if presence is not None:
        seen &= np.nan_to_num(np.asarray(presence, dtype=np.float64), nan=0.0) >= min_presence
    return seen


def hand_weights(seen: np.ndarray, fps: float, fade_s: float = FADE_S) -> np.ndarray:
    """(T,2) weight of the seen hand: 1 where seen, easing (smoothstep) to 0 over fade_s away from the
    nearest sighting, before and after it alike. 0 everywhere for a hand never seen."""
    seen = np.asarray(seen, bool)
    T = len(seen)
    out = np.zeros(seen.shape)
    idx = np.arange(T)
    span = max(fade_s * fps, 1.0)
    for h in range(seen.shape[1]):
        good = idx[seen[:, h]]
        if not len(good):
            continue
        pos = np.clip(np.searchsorted(good, idx), 0, len(good) - 1)
        dist = np.minimum(np.abs(good[pos] - idx), np.abs(good[np.maximum(pos - 1, 0)] - idx))
        u = np.clip(dist / span, 0.0, 1.0)
        out[:, h] = 1.0 - u * u * (3.0 - 2.0 * u)
    return out


def palm_frame(H: np.ndarray) -> np.ndarray:
    """(…,3,3) palm frames from hand points (…,21,3): y wrist → between the index and pinky MCPs,
    x toward the thumb (index MCP − pinky MCP), z = x × y. The body's hand frame (body.part_frames)
    built from the same three points."""
    index, pinky = H[..., INDEX_MCP, :], H[..., PINKY_MCP, :]
    return frame((index + pinky) / 2 - H[..., WRIST, :], index - pinky)


def _references(palm: np.ndarray, sign: float) -> dict[str, np.ndarray]:
    """Twist references per finger: the palm's across line (mirrored per side, so the frames' z is
    the back of the hand on both) for the four fingers, the palm normal for the thumb."""
    across = sign * palm[..., 0]
    return {f: (palm[..., 2] if f == "thumb" else across) for f in FINGERS}


def _segments(H: np.ndarray, finger: str) -> np.ndarray:
    j = CHAINS[finger]
    return np.stack([H[..., j[k + 1], :] - H[..., j[k], :] for k in range(3)], axis=-2)  # (…,3,3)


def finger_frames(H: np.ndarray, sign: float) -> dict[str, np.ndarray]:
    """finger → (…,3 bones,3,3) frames: y along the segment, x from the finger's twist reference."""
    refs = _references(palm_frame(H), sign)
    out = {}
    for f in FINGERS:
        seg = _segments(H, f)
        out[f] = frame(seg, refs[f][..., None, :])
    return out


def _parent_frames(palm: np.ndarray, directions: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(…,3,3,3) the frame each segment's angles are measured in: the palm axis for the first, the
    previous segment for the others (x from the twist reference)."""
    first = frame(palm[..., 1], ref)
    rest = frame(directions[..., :2, :], ref[..., None, :])
    return np.concatenate([first[..., None, :, :], rest], axis=-3)


def _sigma(finger: str) -> float:
    """Flexion is toward −z (the palm side) for the four fingers, toward +z (ulnar) for the thumb."""
    return 1.0 if finger == "thumb" else -1.0


def finger_angles(H: np.ndarray, sign: float) -> dict[str, np.ndarray]:
    """finger → (…,3 joints,2) (flexion, abduction) in degrees, each segment in its parent's frame
    (the palm's axis for the first). Flexion: toward the palm (thumb: CMC in-plane angle, radial
    negative; MCP and IP toward the little finger). Abduction: toward the thumb (thumb: out of the
    palm plane, palmar negative)."""
    palm = palm_frame(H)
    refs = _references(palm, sign)
    out = {}
    for f in FINGERS:
        d = normalize(_segments(H, f))
        parent = _parent_frames(palm, d, refs[f])
        local = np.einsum("...ji,...j->...i", parent, d)
        flex = np.degrees(np.arctan2(_sigma(f) * local[..., 2], local[..., 1]))
        abd = sign * np.degrees(np.arcsin(np.clip(local[..., 0], -1.0, 1.0)))
        out[f] = np.stack([flex, abd], axis=-1)
    return out


def clamp_fingers(H: np.ndarray, sign: float, limits=LIMITS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Hand points (…,21,3) with every joint inside `limits` (see LIMITS); a clamped segment's children
    keep their angles relative to it and every segment keeps its length. Returns (points, finger →
    (…,3) bool where a joint was clamped)."""
    H = np.array(H, dtype=np.float64, copy=True)
    palm = palm_frame(H)
    refs = _references(palm, sign)
    clamped = {}
    for f in FINGERS:
        lim = np.radians(np.array(limits["thumb" if f == "thumb" else "finger"]))
        seg = _segments(H, f)
        length = np.linalg.norm(seg, axis=-1, keepdims=True)
        d = normalize(seg)
        ref = refs[f]
        old_parent = new_parent = frame(palm[..., 1], ref)
        joint = H[..., CHAINS[f][0], :]
        hit = []
        for k in range(3):
            local = np.einsum("...ji,...j->...i", old_parent, d[..., k, :])
            flex = np.arctan2(_sigma(f) * local[..., 2], local[..., 1])
            abd = np.arcsin(np.clip(local[..., 0], -1.0, 1.0))
            flex_c = np.clip(flex, lim[k, 0], lim[k, 1])
            abd_c = np.clip(abd, -lim[k, 2], lim[k, 2])
            out_of_range = (flex_c != flex) | (abd_c != abd)
            rebuilt = np.stack([np.sin(abd_c), np.cos(abd_c) * np.cos(flex_c),
                                _sigma(f) * np.cos(abd_c) * np.sin(flex_c)], axis=-1)
            local = np.where(out_of_range[..., None], rebuilt, local)
            new_d = np.einsum("...ij,...j->...i", new_parent, local)
            joint = joint + length[..., k, :] * new_d
            H[..., CHAINS[f][k + 1], :] = joint
            hit.append(out_of_range)
            old_parent, new_parent = frame(d[..., k, :], ref), frame(new_d, ref)
        clamped[f] = np.stack(hit, axis=-1)
    return H, clamped


def canonical_hand(sign: float, flexion: dict[str, tuple] | None = None, spread_deg: float = 0.0,
                   scale: float = 1.0) -> np.ndarray:
    """(21,3) an adult hand (metres) in a palm frame (fingers +Y, thumb side +X, back of the hand
    +Z·sign), wrist at the origin. `flexion` per finger: three angles in degrees, MCP, PIP, DIP
    flexion (toward the palm) for the fingers; for the thumb the CMC's in-plane angle (radial
    negative) then MCP and IP flexion (toward the little finger); missing fingers take RELAXED.
    spread_deg fans the fingers apart. For the relaxed pose and tests; finger_angles measures these
    angles back to within a few degrees (the palm frame is not exactly this one)."""
    flexion = {**RELAXED, **(flexion or {})}
    x, y, z = np.eye(3)
    dorsal = sign * z
    H = np.zeros((21, 3))
    mcp = {"f_index": (0.030, 0.095), "f_middle": (0.010, 0.097), "f_ring": (-0.010, 0.092),
           "f_pinky": (-0.028, 0.085)}
    lengths = {"thumb": (0.045, 0.033, 0.028), "f_index": (0.045, 0.026, 0.022),
               "f_middle": (0.049, 0.030, 0.024), "f_ring": (0.045, 0.029, 0.024), "f_pinky": (0.036, 0.021, 0.020)}
    fan = {"f_index": 1.0, "f_middle": 1.0 / 3, "f_ring": -1.0 / 3, "f_pinky": -1.0}
    for f in FINGERS:
        angles = np.radians(np.asarray(flexion[f], float))
        if f == "thumb":
            start = np.array([0.022, 0.025, 0.0])
            d = normalize(np.cos(angles[0]) * y - np.sin(angles[0]) * x - 0.35 * dorsal)  # a little palmar
            axis, turns = z, angles[1:]          # MCP, IP: about the palm normal, toward the little finger
        else:
            start = np.array([mcp[f][0], mcp[f][1], 0.0])
            spread = np.radians((spread_deg + 4.0) * fan[f])
            d = np.cos(spread) * y + np.sin(spread) * x
            axis, turns = normalize(np.cross(d, dorsal)), -angles  # every joint about the knuckle line
        joint = start * scale
        H[CHAINS[f][0]] = joint
        for k in range(3):
            if f != "thumb" or k > 0:
                d = _rotate(d, axis, turns[k - 1] if f == "thumb" else turns[k])
            joint = joint + lengths[f][k] * scale * d
            H[CHAINS[f][k + 1]] = joint
    return H


def _rotate(v, axis, angle):
    axis = normalize(np.asarray(axis, float))
    return v * np.cos(angle) + np.cross(axis, v) * np.sin(angle) + axis * np.dot(axis, v) * (1 - np.cos(angle))


# ----------------------------------------------------------------------------------------------
# The rig's rest pose as hand landmarks

def rest_hand_points(rest: RestPose, usable: dict[str, str], side: str) -> np.ndarray:
    """(21,3) the rig's rest hand as landmarks (armature space): the wrist at the hand bone's head,
    each finger's joints at its bones' heads and the last bone's tail (a bone's tail where the next
    bone is not mapped). The index and pinky MCPs, which the palm frame reads, fall back to where the
    body reads them (body.rest_landmarks: the knuckle helpers, else a canonical palm). NaN where unknown."""

    P = rest_landmarks(rest, usable)
    s = "left" if side == "L" else "right"
    H = np.full((21, 3), np.nan)
    H[WRIST] = P[I[f"{s}_wrist"]]
    for f in FINGERS:
        bones = [rest.bones.get(usable.get(f"{f}.0{k}.{side}", "")) for k in (1, 2, 3)]
        j = CHAINS[f]
        for k, bone in enumerate(bones):
            if bone is not None:
                H[j[k]] = bone.head
                if k == 2 or bones[k + 1] is None:
                    H[j[k + 1]] = bone.tail
    for joint, name in ((INDEX_MCP, "index"), (PINKY_MCP, "pinky")):
        if np.isnan(H[joint]).any():
            H[joint] = P[I[f"{s}_{name}"]]
    return H


def _palm_rest(rest: RestPose, usable: dict[str, str], side: str) -> np.ndarray:

    P = rest_landmarks(rest, usable)
    s = "left" if side == "L" else "right"
    H = np.zeros((21, 3))
    H[WRIST], H[INDEX_MCP], H[PINKY_MCP] = P[I[f"{s}_wrist"]], P[I[f"{s}_index"]], P[I[f"{s}_pinky"]]
    return palm_frame(H)


# ----------------------------------------------------------------------------------------------
# Palms into the body's landmarks

def apply_palms(P: np.ndarray, hand_points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Body landmarks (T,33,3) whose index and pinky points are rewritten around the wrist so the
    body solver's hand frame is the palm's (weight 1), the body's own (0), or slerped between.
    Only the frame's axes matter (body.part_frames uses no knuckle offsets)."""

    P = np.array(P, dtype=np.float64, copy=True)
    for _, h, s, _ in SIDES:
        w = weights[:, h]
        if not (w > 0).any():
            continue
        wr, ix, pk = (P[:, I[f"{s}_{n}"]] for n in ("wrist", "index", "pinky"))
        body = frame((ix + pk) / 2 - wr, ix - pk)
        palm = palm_frame(np.nan_to_num(hand_points[:, h]))
        ok = (w > 0) & np.isfinite(palm).all(axis=(-1, -2))
        q = slerp(matrix_to_quaternion(body[ok]), matrix_to_quaternion(palm[ok]), w[ok, None])
        g = quaternion_to_matrix(q)
        length = 0.08
        P[ok, I[f"{s}_index"]] = wr[ok] + length * (g[..., 1] + 0.5 * g[..., 0])
        P[ok, I[f"{s}_pinky"]] = wr[ok] + length * (g[..., 1] - 0.5 * g[..., 0])
    return P


# ----------------------------------------------------------------------------------------------
# Fingers

def _relative(H: np.ndarray, sign: float, rest_H: np.ndarray, palm_rest: np.ndarray, fingers: list[str]):
    """finger → (…,3,3,3) E_b = G_palm(rest) · G_palm(H)ᵀ · G_b(H) · G_b(rest)ᵀ (the bone's delta
    relative to the palm, in the rig's rest palm)."""
    g_h = finger_frames(H, sign)
    g_r = finger_frames(rest_H, sign)
    to_rest = palm_rest @ np.swapaxes(palm_frame(H), -1, -2)  # (…,3,3)
    return {f: to_rest[..., None, :, :] @ g_h[f] @ np.swapaxes(g_r[f], -1, -2) for f in fingers}


def _ease(E: np.ndarray, seen: np.ndarray, weight: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
    """(T,3,3) held at the nearest sightings (slerped from the last to the next across a gap), then
    slerped toward `relaxed` (3,3) by 1 − weight."""

    T = len(E)
    q = make_continuous(matrix_to_quaternion(E))
    if seen.all():
        return E
    idx = np.arange(T)
    good = idx[seen]
    q_rel = matrix_to_quaternion(relaxed)
    if not len(good):
        return np.broadcast_to(relaxed, E.shape).copy()
    nxt = good[np.clip(np.searchsorted(good, idx), 0, len(good) - 1)]
    prv = good[np.clip(np.searchsorted(good, idx, side="right") - 1, 0, len(good) - 1)]
    prv = np.where(prv > idx, nxt, prv)
    nxt = np.where(nxt < idx, prv, nxt)
    u = np.where(nxt > prv, (idx - prv) / np.maximum(nxt - prv, 1), 0.0)
    held = slerp(q[prv], q[nxt], u[:, None])
    out = slerp(np.broadcast_to(q_rel, held.shape), held, weight[:, None])
    out = np.where(seen[:, None], q, out)
    return quaternion_to_matrix(out)


def _ease_finger(E: np.ndarray, seen: np.ndarray, weight: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
    """`_ease` a finger's (T,3,3,3) palm-relative deltas joint by joint (each bone relative to the one
    before it), so a curled finger uncurls through its joints' own short ways, never through the back
    of the hand (a fist's fingertip is turned more than 180° from an open hand's)."""
    def joints(e):
        prev = np.concatenate([np.broadcast_to(np.eye(3), e[..., :1, :, :].shape), e[..., :2, :, :]], axis=-3)
        return np.swapaxes(prev, -1, -2) @ e

    J, J_relaxed = joints(E), joints(relaxed)
    out = np.empty_like(E)
    for k in range(3):
        j = _ease(J[:, k], seen, weight, J_relaxed[k])
        out[:, k] = j if k == 0 else out[:, k - 1] @ j
    return out


def _anchor_path(rest: RestPose, bone: str, hand: str) -> list[str] | None:
    """The bones from the hand (or a bone with the hand's rest matrix: Rigify's DEF-/ORG-hand) down to
    `bone`'s parent, anchor first; None when the bone does not hang under the hand."""
    h = rest.bones[hand]
    path = []
    name = rest.bones[bone].parent
    while name is not None and name in rest.bones:
        b = rest.bones[name]
        if name == hand or (np.allclose(b.matrix[:3, :3], h.rotation, atol=1e-4)
                            and np.allclose(b.head, h.head, atol=1e-4 * max(h.length, 1e-3))):
            return [name] + path[::-1]
        path.append(name)
        name = b.parent
    return None


def solve_hands(hand_points: np.ndarray, seen: np.ndarray, rest: RestPose, bone_map: dict[str, str],
                hand_rotations: dict[str, np.ndarray], fps: float, limits=LIMITS,
                fade_s: float = FADE_S) -> HandSolution:
    """Local rotations of the finger bones.

    hand_points (T,2,21,3) Blender axes (levelled like the body), NaN where no hand; seen (T,2) bool
    (`hand_seen`); hand_rotations: hand bone → (T,3,3) its posed armature-space orientation (the
    body solver's Solution.world_rotations). limits: LIMITS or None (no clamping)."""
    usable, _ = resolve_bone_map(rest, bone_map)
    weights = hand_weights(seen, fps, fade_s)
    rotations: dict[str, np.ndarray] = {}
    world: dict[str, np.ndarray] = {}
    clamped: dict[str, int] = {}
    missing: list[str] = []
    for side, h, _, sign in SIDES:
        roles = [f"{f}.0{k}.{side}" for f in FINGERS for k in (1, 2, 3)]
        missing += [r for r in roles if r not in usable]
        hand = usable.get(f"hand.{side}")
        fingers = [f for f in FINGERS if any(f"{f}.0{k}.{side}" in usable for k in (1, 2, 3))]
        if hand is None or hand not in hand_rotations or not fingers:
            continue
        rest_H = rest_hand_points(rest, usable, side)
        palm_rest = _palm_rest(rest, usable, side)
        good = seen[:, h]
        H = np.where(good[:, None, None], np.nan_to_num(hand_points[:, h]), rest_H[None])
        H = np.where(np.isfinite(H), H, 0.0)
        if limits is not None:
            H, hit = clamp_fingers(H, sign, limits)
            for f in FINGERS:
                for k in range(3):
                    n = int((hit[f][:, k] & good).sum())
                    if n:
                        clamped[f"{f}.0{k + 1}.{side}"] = n
        E = _relative(H, sign, np.nan_to_num(rest_H), palm_rest, fingers)
        relaxed_H = _relaxed_in_rest(rest_H, palm_rest, sign)
        E_relaxed = _relative(relaxed_H, sign, np.nan_to_num(rest_H), palm_rest, fingers)
        D_hand = hand_rotations[hand] @ rest.bones[hand].rotation.T
        eased = {f: _ease_finger(E[f], good, weights[:, h], E_relaxed[f]) for f in fingers}
        wanted = {}
        for f in fingers:
            for k in range(3):
                role = f"{f}.0{k + 1}.{side}"
                if role not in usable or not np.isfinite(rest_H[list(CHAINS[f][k:k + 2])]).all():
                    continue
                wanted[usable[role]] = D_hand @ eased[f][:, k] @ rest.bones[usable[role]].rotation
        posed: dict[str, np.ndarray] = {}
        for name in rest.ordered():
            if name not in wanted:
                continue
            path = _anchor_path(rest, name, hand)
            if path is None:
                continue
            for i, b in enumerate(path):
                if b in posed:
                    continue
                if i == 0:
                    posed[b] = D_hand @ rest.bones[b].rotation
                else:
                    parent = rest.bones[b].parent
                    posed[b] = posed[parent] @ rest.bones[parent].rotation.T @ rest.bones[b].rotation
            parent = rest.bones[name].parent
            inherited = posed[parent] @ rest.bones[parent].rotation.T @ rest.bones[name].rotation
            posed[name] = wanted[name]
            rotations[name] = make_continuous(matrix_to_quaternion(np.swapaxes(inherited, -1, -2) @ wanted[name]))
            world[name] = wanted[name]
    return HandSolution(rotations, world, weights, clamped, missing)


def _relaxed_in_rest(rest_H: np.ndarray, palm_rest: np.ndarray, sign: float) -> np.ndarray:
    """The canonical relaxed hand placed in the rig's rest palm (only its frames are used)."""
    C = canonical_hand(sign)
    return C @ palm_frame(C).T @ palm_rest.T


def palm_agrees(P: np.ndarray, hand_points: np.ndarray, max_deg: float = MAX_PALM_BODY_DEG) -> np.ndarray:
    """(T,2) True where the palm's direction (wrist → knuckles) is within max_deg of the body's
    (wrist → between its index and pinky landmarks): a hand given to the wrong side, or a detection
    of something else, is not trusted."""

    out = np.zeros(hand_points.shape[:2], bool)
    for _, h, s, _ in SIDES:
        body = (P[:, I[f"{s}_index"]] + P[:, I[f"{s}_pinky"]]) / 2 - P[:, I[f"{s}_wrist"]]
        palm = palm_frame(np.nan_to_num(hand_points[:, h]))[..., 1]
        with np.errstate(invalid="ignore"):
            out[:, h] = angle_between(body, palm) <= max_deg
    return out
