"""Body-part frames from 33 landmarks, and the rest pose read as landmarks.

`part_frames(P)` builds, for each posed role, an orthonormal frame from landmark positions
(Blender axes). The bone direction is exact (joint to joint); the twist comes from a semantic
reference (elbow/knee bend, hand across, foot plane, hip/shoulder/ear lines), blended toward a
body-based fallback when the reference vanishes (a straight limb), so it never flips at random.

The same construction is applied to the armature's rest pose, read as landmarks by
`rest_landmarks()`. A bone's posed orientation is then   R_pose = G(frame) · G(rest)ᵀ · R_rest,
which depends neither on the rest pose (T, A, relaxed) nor on bone rolls.
"""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import INDEX as I
from .rig import RestPose
from .rotations import cross, frame, normalize, reject

BEND_FALLBACK = 0.25  # weight of the body-based twist reference against the bend (sin of bend angle)


def _mid(P, a, b):
    return (P[..., I[a], :] + P[..., I[b], :]) / 2


def _p(P, name):
    return P[..., I[name], :]


def body_axes(P: np.ndarray):
    """(left, up, forward) unit vectors of the torso: left from the hip line, up hips → shoulders."""
    up = normalize(_mid(P, "left_shoulder", "right_shoulder") - _mid(P, "left_hip", "right_hip"))
    left_hips = _p(P, "left_hip") - _p(P, "right_hip")
    forward = normalize(cross(left_hips, up))
    left = cross(up, forward)
    return left, up, forward


def _limb_ref(primary, bend, fallback):
    """Twist reference: the bend direction (length sin θ) plus a small body-based fallback."""
    axis = normalize(primary)
    return reject(normalize(bend), axis) + BEND_FALLBACK * normalize(reject(fallback, axis))


# The posed roles, in the order of part_frame_stack's frames.
PART_ROLES = ("hips", "chest", "neck", "head") + tuple(
    f"{part}.{side}" for side in "LR" for part in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot"))

# first (8 frames) then limbs (8) → PART_ROLES: per side upper_arm, forearm, hand, thigh, shin, foot
_STACK_ORDER = [0, 1, 2, 3] + [i + k for k in range(2) for i in (8, 10, 4, 12, 14, 6)]


def _sides(P, name):
    """(…,2,3): the left and the right landmark `name` ('shoulder', …)."""
    return P[..., [I[f"left_{name}"], I[f"right_{name}"]], :]


def part_frame_stack(P: np.ndarray) -> np.ndarray:
    """Frames (…,16,3,3) for the roles PART_ROLES from landmarks P (…,33,3) in Blender axes: two
    batched `frame` calls (torso, head, hands and feet; then the limbs, which take their twist from them)."""
    left, up, forward = body_axes(P)
    mid_hip = _mid(P, "left_hip", "right_hip")
    mid_sh = _mid(P, "left_shoulder", "right_shoulder")
    ear_line = _p(P, "left_ear") - _p(P, "right_ear")
    head_c = _mid(P, "left_ear", "right_ear")
    face_fwd = _p(P, "nose") - head_c
    sh, el, wr = _sides(P, "shoulder"), _sides(P, "elbow"), _sides(P, "wrist")
    index, pinky = _sides(P, "index"), _sides(P, "pinky")
    hip, knee, ankle = _sides(P, "hip"), _sides(P, "knee"), _sides(P, "ankle")
    heel, toe = _sides(P, "heel"), _sides(P, "foot_index")
    # Hands and feet first: the forearm and shin take their twist from them. Only their frames' axes
    # are used (not raw knuckle or heel offsets, which differ from rig to rig). The hand's reference is
    # index − pinky: toward the thumb side, for either hand.
    torso_up = mid_sh - mid_hip
    first = frame(
        np.concatenate([np.stack([torso_up, torso_up, head_c - mid_sh, cross(face_fwd, ear_line)], -2),
                        (index + pinky) / 2 - wr, toe - ankle], -2),
        np.concatenate([np.stack([_p(P, "left_hip") - _p(P, "right_hip"),
                                  _p(P, "left_shoulder") - _p(P, "right_shoulder"), ear_line, ear_line], -2),
                        index - pinky, ankle - heel], -2))        # hips, chest, neck, head, hand L R, foot L R
    hand, toe_dir = first[..., 4:6, :, 0], first[..., 6:8, :, 1]
    upper, lower, thigh, shin = el - sh, wr - el, knee - hip, ankle - knee
    limbs = frame(np.concatenate([upper, lower, thigh, shin], -2),     # upper arm, forearm, thigh, shin; L R
                  np.concatenate([_limb_ref(upper, lower, forward[..., None, :]), hand,
                                  _limb_ref(thigh, -shin, toe_dir), toe_dir], -2))
    return np.concatenate([first, limbs], -3)[..., _STACK_ORDER, :, :]


def part_frames(P: np.ndarray) -> dict[str, np.ndarray]:
    """Frames (…,3,3) for every posed role from landmarks P (…,33,3) in Blender axes."""
    frames = part_frame_stack(P)
    return {role: frames[..., k, :, :] for k, role in enumerate(PART_ROLES)}


def rest_landmarks(rest: RestPose, bone_map: dict[str, str]) -> np.ndarray:
    """The rest pose as 33 landmarks (armature space), for the roles the rig has.

    Joints come from bone heads/tails; what a rig does not model (face, finger knuckles without
    finger bones, heels) comes from a canonical human scaled to the rig, oriented by its torso.
    """
    P = np.full((33, 3), np.nan)
    bone = {role: rest.bones[name] for role, name in bone_map.items() if name in rest.bones}

    def put(name, value):
        P[I[name]] = value

    for side, s in (("L", "left"), ("R", "right")):
        if f"upper_arm.{side}" in bone:
            put(f"{s}_shoulder", bone[f"upper_arm.{side}"].head)
            put(f"{s}_elbow", bone[f"upper_arm.{side}"].tail)
        if f"forearm.{side}" in bone:
            put(f"{s}_elbow", bone[f"forearm.{side}"].head)
            put(f"{s}_wrist", bone[f"forearm.{side}"].tail)
        if f"hand.{side}" in bone:
            put(f"{s}_wrist", bone[f"hand.{side}"].head)
        if f"thigh.{side}" in bone:
            put(f"{s}_hip", bone[f"thigh.{side}"].head)
            put(f"{s}_knee", bone[f"thigh.{side}"].tail)
        if f"shin.{side}" in bone:
            put(f"{s}_knee", bone[f"shin.{side}"].head)
            put(f"{s}_ankle", bone[f"shin.{side}"].tail)
        if f"foot.{side}" in bone:
            put(f"{s}_ankle", bone[f"foot.{side}"].head)
            put(f"{s}_foot_index", bone[f"foot.{side}"].tail)
        if f"toe.{side}" in bone:
            put(f"{s}_foot_index", bone[f"toe.{side}"].tail)
    hips = bone["hips"]
    # Torso fallbacks for rigs without arms or legs.
    for s, sign in (("left", 1.0), ("right", -1.0)):
        if np.isnan(P[I[f"{s}_hip"]]).any():
            put(f"{s}_hip", hips.head + sign * np.array([0.1, 0.0, 0.0]))
    if np.isnan(P[I["left_shoulder"]]).any() or np.isnan(P[I["right_shoulder"]]).any():
        top = bone["chest"].tail if "chest" in bone else hips.head + np.array([0, 0, 0.5])
        put("left_shoulder", top + np.array([0.18, 0, 0]))
        put("right_shoulder", top - np.array([0.18, 0, 0]))
    left, up, forward = body_axes(P)
    torso = float(np.linalg.norm(_mid(P, "left_shoulder", "right_shoulder") - _mid(P, "left_hip", "right_hip")))
    scale = torso / 0.5  # canonical adult: 0.5 m from mid-hip to mid-shoulder

    # Hands: knuckles from finger bones when present, else thumb-forward palms.
    for side, s in (("L", "left"), ("R", "right")):
        if f"hand.{side}" in bone:
            hand = bone[f"hand.{side}"]
            idx = bone.get(f"index.{side}")
            pky = bone.get(f"pinky.{side}")
            if idx is not None and pky is not None:
                put(f"{s}_index", idx.head)
                put(f"{s}_pinky", pky.head)
            else:
                half = 0.04 * scale * normalize(reject(forward, normalize(hand.tail - hand.head)))
                put(f"{s}_index", hand.tail + half)
                put(f"{s}_pinky", hand.tail - half)
        if f"foot.{side}" in bone:
            ankle = P[I[f"{s}_ankle"]]
            if f"heel.{side}" in bone:
                heel_bone = bone[f"heel.{side}"]
                put(f"{s}_heel", (heel_bone.head + heel_bone.tail) / 2)
            else:
                toe = P[I[f"{s}_foot_index"]]
                ground = min(ankle[2], toe[2]) if toe[2] < ankle[2] else ankle[2] - 0.08 * scale
                heel = ankle - 0.05 * scale * forward
                heel[2] = ground
                put(f"{s}_heel", heel)
    # Face: a canonical head on the head bone (ears on a line across, nose in front, level).
    if all(r in bone for r in ("ear.L", "ear.R", "nose")):  # a rig with a face: use it (bone heads)
        put("left_ear", bone["ear.L"].head)
        put("right_ear", bone["ear.R"].head)
        put("nose", bone["nose"].head)
    elif "head" in bone:
        head = bone["head"]
        head_up = normalize(head.tail - head.head)
        fwd = normalize(reject(forward, head_up))
        lft = np.cross(head_up, fwd)
        centre = head.head + 0.4 * head.length * head_up
        put("left_ear", centre + 0.075 * scale * lft)
        put("right_ear", centre - 0.075 * scale * lft)
        put("nose", centre + scale * (0.1 * fwd - 0.03 * head_up))  # the nose sits a little below the ears
    return P


def landmark_carriers(bone_map: dict[str, str]) -> dict[int, str]:
    """Landmark index → the bone that carries it (moves it rigidly), for the roles in bone_map."""
    out: dict[int, str] = {}
    face = [n for n in I if n.startswith(("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth"))]
    if "head" in bone_map:
        for name in face:
            out[I[name]] = bone_map["head"]
    for side, s in (("L", "left"), ("R", "right")):
        for names, roles in (((f"{s}_shoulder",), ("upper_arm",)), ((f"{s}_elbow",), ("forearm",)),
                             ((f"{s}_wrist", f"{s}_index", f"{s}_pinky", f"{s}_thumb"), ("hand", "forearm")),
                             ((f"{s}_hip",), ("thigh",)), ((f"{s}_knee",), ("shin",)),
                             ((f"{s}_ankle", f"{s}_heel"), ("foot", "shin")),
                             ((f"{s}_foot_index",), ("toe", "foot", "shin"))):
            bone = next((bone_map[f"{r}.{side}"] for r in roles if f"{r}.{side}" in bone_map), None)
            if bone is not None:
                for name in names:
                    out[I[name]] = bone
    return out


def posed_landmarks(rest: RestPose, bone_map: dict[str, str], posed: dict[str, np.ndarray]) -> np.ndarray:
    """Landmarks a posed rig shows: each rest landmark carried rigidly by its bone, like a skinned
    mesh. posed: bone → (T,4,4) armature-space pose matrices. → (T,33,3), NaN where nothing carries."""
    rest_points = rest_landmarks(rest, bone_map)
    T = len(next(iter(posed.values())))
    out = np.full((T, 33, 3), np.nan)
    for index, bone in landmark_carriers(bone_map).items():
        if bone in posed and np.isfinite(rest_points[index]).all():
            local = np.linalg.inv(rest.bones[bone].matrix) @ np.append(rest_points[index], 1.0)
            out[:, index] = (posed[bone] @ local)[:, :3]
    return out
