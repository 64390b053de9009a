"""Fingers in real Blender: every preset's finger bones resolved (Rigify metarig, the generated Rigify
rig's FK controls, Mixamo, Unreal, VRM 0.x / 1.0, and names guessed for Daz, Character Creator,
MakeHuman), and a known hand performance keyed and evaluated by Blender: each joint's flexion and
abduction on the posed armature equal the landmarks'."""
import numpy as np
import pytest
from preset_rigs import build_armature, posed_matrices, preset_rest
from synthetic_hands import add_fingers, performance

from video_mocap.retarget.body import rest_landmarks
from video_mocap.retarget.bonemaps import detect_preset
from video_mocap.retarget.hands import CHAINS, finger_angles
from video_mocap.retarget.rig import FINGER_ROLES, FINGERS, resolve_bone_map
from video_mocap.retarget.solver import solve_with_hands

bpy = pytest.importorskip("bpy")

FRAMES = 24
SIDES = (("L", 0, 1.0), ("R", 1, -1.0))


def hands(frames=FRAMES):
    return np.stack([performance(1.0, frames, 3), performance(-1.0, frames, 4)], axis=1)


def bake(obj, bone_map, frames=FRAMES):
    """Solve the body at rest plus the hand performance, key it, and let Blender evaluate it."""
    from video_mocap.blender.action import key_rotations, new_action
    from video_mocap.blender.armature import read_rest_pose

    rest = read_rest_pose(obj)
    usable, _ = resolve_bone_map(rest, bone_map)
    P = rest_landmarks(rest, usable)[None].repeat(frames, 0)
    H = hands(frames)
    solution = solve_with_hands(P, H, np.ones((frames, 2)), rest, bone_map, 30.0, max_palm_body_deg=None)
    action = new_action(obj, "hands")
    key_rotations(action, obj, solution.rotations, 1)
    return solution, H, posed_matrices(obj, frames)


def hand_points(obj, posed, bone_map, hand_bone, side, prefix=""):
    """(T,21,3) the evaluated armature's hand as landmarks (bone heads, the last bone's tail)."""
    T = len(posed[hand_bone])
    out = np.full((T, 21, 3), np.nan)
    out[:, 0] = posed[hand_bone][:, :3, 3]
    for f in FINGERS:
        for k in range(3):
            name = prefix + bone_map[f"{f}.0{k + 1}.{side}"]
            m = posed[name]
            out[:, CHAINS[f][k]] = m[:, :3, 3]
            if k == 2:
                length = obj.data.bones[name].length
                out[:, CHAINS[f][3]] = m[:, :3, 3] + length * m[:, :3, 1]
    return out


def check(obj, posed, bone_map, H, hand_role_bones, prefix="", tolerance=2e-3):
    worst = 0.0
    for side, h, sign in SIDES:
        got = finger_angles(hand_points(obj, posed, bone_map, hand_role_bones[side], side, prefix), sign)
        want = finger_angles(H[:, h], sign)
        worst = max(worst, max(np.abs(got[f] - want[f]).max() for f in FINGERS))
    assert worst < tolerance, worst  # measured in Blender (float32): 1.6e-4° … 3.0e-4°
    return worst


def test_metarig_fingers():
    from video_mocap.blender.armature import add_metarig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = add_metarig(bpy.context, "meta")
    bpy.context.view_layer.objects.active = rig
    preset, bone_map = detect_preset([b.name for b in rig.data.bones])
    assert preset == "metarig" and all(bone_map[r] == r for r in FINGER_ROLES)
    solution, H, posed = bake(rig, bone_map)
    assert set(solution.hands.rotations) == set(FINGER_ROLES) and not solution.hands.clamped
    # Measured (float32 in Blender): ~3e-4°.
    check(rig, posed, bone_map, H, {"L": "hand.L", "R": "hand.R"})


def test_rigify_generated_rig_fingers_follow_their_fk_controls():
    """The generated rig's finger FK controls are keyed; the deforming chain (DEF-, driven through
    MCH stretch-to bones) shows the landmarks' finger curls."""
    from video_mocap.blender.armature import add_metarig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    add_metarig(bpy.context)
    bpy.ops.pose.rigify_generate()
    rig = bpy.data.objects["rig"]
    bpy.context.view_layer.objects.active = rig
    preset, bone_map = detect_preset([b.name for b in rig.data.bones])
    assert preset == "rigify" and all(bone_map[r] == r for r in FINGER_ROLES)
    for side in "LR":  # FK arms, as apply_track sets them
        rig.pose.bones[f"upper_arm_parent.{side}"]["IK_FK"] = 1.0
    solution, H, posed = bake(rig, bone_map)
    assert set(solution.hands.rotations) == set(FINGER_ROLES)
    check(rig, posed, bone_map, H, {"L": "hand_fk.L", "R": "hand_fk.R"})                    # the controls
    check(rig, posed, bone_map, H, {"L": "DEF-hand.L", "R": "DEF-hand.R"}, prefix="DEF-")  # what deforms


# (preset, names of the finger bones per role, expected detection)
def _names(pattern, fingers, segments=("1", "2", "3"), thumb_segments=None):
    """role → bone name: pattern formatted with side words, the finger's name and the segment's."""
    out = {}
    for r in FINGER_ROLES:
        finger, k, side = r.split(".")
        segs = thumb_segments if finger == "thumb" and thumb_segments else segments
        out[r] = pattern.format(Side="Left" if side == "L" else "Right", side="left" if side == "L" else "right",
                                S=side, s=side.lower(), F=fingers[finger], k=segs[int(k) - 1])
    return out


_WORDS = dict(thumb="Thumb", f_index="Index", f_middle="Middle", f_ring="Ring", f_pinky="Pinky")
MIXAMO = _names("mixamorig:{Side}Hand{F}{k}", _WORDS)
UNREAL = _names("{F}_0{k}_{s}", {f: w.lower() for f, w in _WORDS.items()})
_VRM_WORDS = {**_WORDS, "f_pinky": "Little"}
VRM1 = _names("{side}{F}{k}", _VRM_WORDS, ("Proximal", "Intermediate", "Distal"), ("Metacarpal", "Proximal", "Distal"))
VRM0 = _names("{side}{F}{k}", _VRM_WORDS, ("Proximal", "Intermediate", "Distal"))
DAZ = _names("{s}{F}{k}", {**_WORDS, "f_middle": "Mid"})
CC = _names("CC_Base_{S}_{F}{k}", {**_WORDS, "f_middle": "Mid"})
HANDS = {"mixamo": ("mixamorig:LeftHand", "mixamorig:RightHand"), "unreal": ("hand_l", "hand_r"),
         "vrm": ("leftHand", "rightHand"), "daz": ("lHand", "rHand"), "cc": ("CC_Base_L_Hand", "CC_Base_R_Hand")}


@pytest.mark.parametrize("preset,names,arm_pose,seed,palm_bones", [
    ("mixamo", MIXAMO, "T", 3, False), ("unreal", UNREAL, "A", 4, True), ("vrm", VRM1, "A", 5, False),
    ("vrm", VRM0, "T", 6, False), ("daz", DAZ, "A", 7, True), ("cc", CC, "T", 8, False),
])
def test_preset_fingers_round_trip(preset, names, arm_pose, seed, palm_bones):
    rest = preset_rest(preset, arm_pose, 1.0, seed)
    for side, hand in zip("LR", HANDS[preset]):
        add_fingers(rest, hand, 1.0 if side == "L" else -1.0, {r: n for r, n in names.items() if r.endswith(side)},
                    seed=seed + 50, rest_flex={"f_middle": (10, 15, 5), "thumb": (-25, 5, 5)}, spread=3.0,
                    palm_bones=palm_bones)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = build_armature(rest, f"hands_{preset}")
    detected, bone_map = detect_preset([b.name for b in obj.data.bones],
                                       {b.name: b.parent.name if b.parent else None for b in obj.data.bones})
    assert detected == ("generic" if preset in ("daz", "cc") else preset)
    assert {r: bone_map.get(r) for r in FINGER_ROLES} == names
    solution, H, posed = bake(obj, bone_map)
    assert set(solution.hands.rotations) == set(names.values())
    check(obj, posed, bone_map, H, dict(zip("LR", HANDS[preset])))
