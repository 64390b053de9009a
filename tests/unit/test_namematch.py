"""Bone maps guessed from bone names for rigs no preset knows (retarget/namematch.py)."""
import pytest
from preset_rigs import _joints, _spec

from video_mocap.retarget.bonemaps import GENERIC, PRESETS, detect_preset, resolve_preset
from video_mocap.retarget.namematch import guess_bone_map, words
from video_mocap.retarget.rig import POSED_ROLES, RigError


def limbs(prefix, style):
    """Arm and leg bone names in one naming style, for both sides."""
    out = []
    for side in ("L", "R"):
        out += [style.format(side=side, part=p, prefix=prefix) for p in
                ("Clavicle", "UpperArm", "Forearm", "Hand", "Thigh", "Calf", "Foot", "Toe0")]
    return out


BIPED = ["Bip01", "Bip01 Pelvis", "Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2", "Bip01 Neck", "Bip01 Head",
         "Bip01 HeadNub"] + limbs("Bip01", "{prefix} {side} {part}")
GENERIC_NAMES = ["Root", "Hips", "Spine", "Chest", "Neck", "Head", "Head_end"] + [
    f"{part}_{side}" for side in "LR" for part in
    ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes", "UpperArm_Twist")]
MAKEHUMAN = ["root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02", "head"] + [
    f"{b}.{s}" for s in "LR" for b in ("pelvis", "clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01",
                                       "lowerarm02", "wrist", "upperleg01", "upperleg02", "lowerleg01", "foot", "toe1-1")]
MAKEHUMAN_PARENTS = {"spine05": "root", "spine04": "spine05", "spine03": "spine04", "spine02": "spine03",
                     "spine01": "spine02", "neck01": "spine01", "neck02": "neck01", "head": "neck02",
                     **{f"pelvis.{s}": "root" for s in "LR"}, **{f"clavicle.{s}": "spine01" for s in "LR"},
                     **{f"shoulder01.{s}": f"clavicle.{s}" for s in "LR"},
                     **{f"upperarm01.{s}": f"shoulder01.{s}" for s in "LR"},
                     **{f"upperleg01.{s}": f"pelvis.{s}" for s in "LR"}}


def spec_names_parents(rig):
    bones = _spec(rig, _joints("T", 1.0))
    return [b[0] for b in bones], {b[0]: b[1] for b in bones}


def test_words():
    assert words("mixamorig:LeftUpLeg") == ["left", "up", "leg"]
    assert words("CC_Base_L_Thigh") == ["cc", "base", "l", "thigh"]
    assert words("lThighBend") == ["l", "thigh", "bend"]
    assert words("Bip01 R UpperArm") == ["bip", "01", "r", "upper", "arm"]
    assert words("upperarm01.L") == ["upperarm", "01", "l"]


@pytest.mark.parametrize("names,parents,expect", [
    (BIPED, None, {"hips": "Bip01 Pelvis", "chest": "Bip01 Spine2", "neck": "Bip01 Neck", "head": "Bip01 Head",
                   "upper_arm.L": "Bip01 L UpperArm", "forearm.R": "Bip01 R Forearm", "hand.L": "Bip01 L Hand",
                   "thigh.R": "Bip01 R Thigh", "shin.L": "Bip01 L Calf", "foot.R": "Bip01 R Foot"}),
    (GENERIC_NAMES, None, {"hips": "Hips", "chest": "Chest", "head": "Head", "upper_arm.L": "UpperArm_L",
                           "forearm.L": "LowerArm_L", "thigh.R": "UpperLeg_R", "shin.R": "LowerLeg_R", "foot.L": "Foot_L"}),
    (MAKEHUMAN, MAKEHUMAN_PARENTS, {"hips": "root", "chest": "spine01", "neck": "neck01", "upper_arm.R": "upperarm01.R",
                                    "forearm.L": "lowerarm01.L", "hand.R": "wrist.R", "thigh.L": "upperleg01.L",
                                    "shin.R": "lowerleg01.R"}),
    (*spec_names_parents("daz"), {"hips": "hip", "chest": "chestUpper", "neck": "neckLower", "upper_arm.L": "lShldrBend",
                                  "forearm.R": "rForearmBend", "thigh.L": "lThighBend", "shin.R": "rShin"}),
    (*spec_names_parents("cc"), {"hips": "CC_Base_Hip", "chest": "CC_Base_Spine02", "neck": "CC_Base_NeckTwist01",
                                 "upper_arm.R": "CC_Base_R_Upperarm", "shin.L": "CC_Base_L_Calf"}),
], ids=["biped", "generic", "makehuman", "daz", "cc"])
def test_naming_conventions_map_every_posed_role(names, parents, expect):
    found = guess_bone_map(names, parents)
    assert all(role in found for role in POSED_ROLES), [r for r in POSED_ROLES if r not in found]
    assert {role: found[role] for role in expect} == expect
    preset, bone_map = detect_preset(names, parents)
    assert preset == GENERIC and bone_map == found
    assert resolve_preset(GENERIC, names, parents) == found


def test_known_presets_still_win():
    for preset in ("mixamo", "unreal", "cmu", "vrm"):
        names, parents = spec_names_parents(preset)
        assert detect_preset(names, parents)[0] == preset


def test_helper_bones_never_play_a_role():
    found = guess_bone_map(GENERIC_NAMES + ["IK_Foot_L", "Pole_Knee_R", "UpperArm_L_Twist01", "Hand_L_end"])
    assert found["foot.L"] == "Foot_L" and found["upper_arm.L"] == "UpperArm_L" and found["hand.L"] == "Hand_L"
    assert "Pole_Knee_R" not in found.values()


def test_non_humanoid_names_are_refused():
    with pytest.raises(RigError, match="No humanoid bones"):
        detect_preset(["Bone", "Bone.001", "Bone.002", "tail_01", "wing.L"])
    assert set(PRESETS).isdisjoint({GENERIC})
