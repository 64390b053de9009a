"""Armatures named and built like each preset's real rigs (hierarchy, extra bones, rest pose),
as RestPose data (numpy) and as real Blender armatures (bpy), for the retargeting tests; and the small
Blender helpers the bpy tests share (plain armatures, posed matrices, a rig linked from a library, the
metarig with the user's own action)."""
from __future__ import annotations

import numpy as np
from synthetic import _matrix

from video_mocap.retarget.rig import RestBone, RestPose


def _joints(arm_pose: str, s: float, arm_down_deg: float = 45.0) -> dict[str, np.ndarray]:
    j = {"hip": np.array([0, 0.0, 1.0]), "spine_top": np.array([0, 0.01, 1.45]), "neck": np.array([0, 0.0, 1.5]),
         "head": np.array([0, -0.01, 1.6]), "head_top": np.array([0, -0.01, 1.82])}
    down = np.radians(arm_down_deg if arm_pose == "A" else 0.0)
    for side, sx in (("l", 1.0), ("r", -1.0)):
        d = np.array([sx * np.cos(down), 0.0, -np.sin(down)])
        sh = np.array([0.18 * sx, 0.0, 1.45])
        j[f"clav_{side}"] = np.array([0.03 * sx, 0.0, 1.44])
        j[f"sh_{side}"], j[f"el_{side}"] = sh, sh + 0.28 * d + [0, 0.008, 0]
        j[f"wr_{side}"], j[f"tip_{side}"] = sh + 0.53 * d, sh + 0.62 * d
        j[f"hipj_{side}"] = np.array([0.1 * sx, 0.0, 1.0])
        j[f"kn_{side}"], j[f"an_{side}"] = np.array([0.1 * sx, -0.015, 0.53]), np.array([0.1 * sx, 0.02, 0.08])
        j[f"ball_{side}"], j[f"toe_{side}"] = np.array([0.1 * sx, -0.12, 0.02]), np.array([0.1 * sx, -0.19, 0.02])
    return {k: v * s for k, v in j.items()}


def _spec(preset: str, j: dict) -> list[tuple[str, str | None, np.ndarray, np.ndarray]]:
    """(name, parent, head, tail) in the preset's naming and hierarchy."""
    bones = []

    def add(name, parent, head, tail):
        bones.append((name, parent, np.asarray(head, float), np.asarray(tail, float)))

    def spine(names, parent, top):
        base, n = j["hip"] + [0, 0, 0.1 * j["head_top"][2] / 1.82], len(names)
        pts = [base + (top - base) * i / n for i in range(n + 1)]
        prev = parent
        for i, name in enumerate(names):
            add(name, prev, pts[i], pts[i + 1])
            prev = name
        return prev

    up = lambda p, h=0.1: p + [0, 0, h * j["head_top"][2] / 1.82]  # noqa: E731
    if preset in ("mixamo", "cmu"):
        pre = "mixamorig:" if preset == "mixamo" else ""
        add(pre + "Hips", None, j["hip"], up(j["hip"]))
        chain = ["Spine", "Spine1", "Spine2"] if preset == "mixamo" else ["LowerBack", "Spine", "Spine1"]
        chest = spine([pre + n for n in chain], pre + "Hips", j["spine_top"])
        neck_names = ["Neck"] if preset == "mixamo" else ["Neck", "Neck1"]
        prev = chest
        pts = [j["spine_top"], (j["spine_top"] + j["head"]) / 2, j["head"]]
        for i, n in enumerate(neck_names):
            add(pre + n, prev, pts[i] if len(neck_names) == 2 else j["spine_top"], pts[i + 1] if len(neck_names) == 2 else j["head"])
            prev = pre + n
        add(pre + "Head", prev, j["head"], j["head_top"])
        if preset == "mixamo":
            add(pre + "HeadTop_End", pre + "Head", j["head_top"], up(j["head_top"], 0.05))
        for side, Side in (("l", "Left"), ("r", "Right")):
            add(pre + f"{Side}Shoulder", chest, j[f"clav_{side}"], j[f"sh_{side}"])
            add(pre + f"{Side}Arm", pre + f"{Side}Shoulder", j[f"sh_{side}"], j[f"el_{side}"])
            add(pre + f"{Side}ForeArm", pre + f"{Side}Arm", j[f"el_{side}"], j[f"wr_{side}"])
            add(pre + f"{Side}Hand", pre + f"{Side}ForeArm", j[f"wr_{side}"], j[f"tip_{side}"])
            across = np.array([0, -0.035, 0]) * j["head_top"][2] / 1.82
            d = j[f"tip_{side}"] - j[f"wr_{side}"]
            if preset == "mixamo":
                add(pre + f"{Side}HandIndex1", pre + f"{Side}Hand", j[f"tip_{side}"] + across, j[f"tip_{side}"] + across + 0.4 * d)
                add(pre + f"{Side}HandPinky1", pre + f"{Side}Hand", j[f"tip_{side}"] - across, j[f"tip_{side}"] - across + 0.4 * d)
            else:
                add(f"{Side}FingerBase", f"{Side}Hand", j[f"tip_{side}"], j[f"tip_{side}"] + 0.2 * d)
                add(f"{Side}HandIndex1", f"{Side}FingerBase", j[f"tip_{side}"] + 0.2 * d, j[f"tip_{side}"] + 0.5 * d)
                add(f"{side.upper()}Thumb", f"{Side}Hand", j[f"wr_{side}"] + across, j[f"wr_{side}"] + across * 2)
            leg_parent = pre + "Hips"
            if preset == "cmu":
                add(f"{side.upper()}HipJoint", "Hips", j["hip"], j[f"hipj_{side}"])
                leg_parent = f"{side.upper()}HipJoint"
            add(pre + f"{Side}UpLeg", leg_parent, j[f"hipj_{side}"], j[f"kn_{side}"])
            add(pre + f"{Side}Leg", pre + f"{Side}UpLeg", j[f"kn_{side}"], j[f"an_{side}"])
            add(pre + f"{Side}Foot", pre + f"{Side}Leg", j[f"an_{side}"], j[f"ball_{side}"])
            add(pre + f"{Side}ToeBase", pre + f"{Side}Foot", j[f"ball_{side}"], j[f"toe_{side}"])
    elif preset == "unreal":
        add("root", None, [0, 0, 0], [0, 0.1 * j["hip"][2], 0])
        add("pelvis", "root", j["hip"], up(j["hip"]))
        chest = spine([f"spine_0{i}" for i in range(1, 6)], "pelvis", j["spine_top"])
        add("neck_01", chest, j["spine_top"], (j["spine_top"] + j["head"]) / 2)
        add("neck_02", "neck_01", (j["spine_top"] + j["head"]) / 2, j["head"])
        add("head", "neck_02", j["head"], j["head_top"])
        for side in ("l", "r"):
            add(f"clavicle_{side}", chest, j[f"clav_{side}"], j[f"sh_{side}"])
            add(f"upperarm_{side}", f"clavicle_{side}", j[f"sh_{side}"], j[f"el_{side}"])
            add(f"upperarm_twist_01_{side}", f"upperarm_{side}", j[f"sh_{side}"], (j[f"sh_{side}"] + j[f"el_{side}"]) / 2)
            add(f"lowerarm_{side}", f"upperarm_{side}", j[f"el_{side}"], j[f"wr_{side}"])
            add(f"lowerarm_twist_01_{side}", f"lowerarm_{side}", (j[f"el_{side}"] + j[f"wr_{side}"]) / 2, j[f"wr_{side}"])
            add(f"hand_{side}", f"lowerarm_{side}", j[f"wr_{side}"], j[f"tip_{side}"])
            across = np.array([0, -0.035, 0]) * j["head_top"][2] / 1.82
            d = j[f"tip_{side}"] - j[f"wr_{side}"]
            add(f"index_metacarpal_{side}", f"hand_{side}", j[f"wr_{side}"] + across, j[f"tip_{side}"] + across)
            add(f"index_01_{side}", f"index_metacarpal_{side}", j[f"tip_{side}"] + across, j[f"tip_{side}"] + across + 0.4 * d)
            add(f"pinky_metacarpal_{side}", f"hand_{side}", j[f"wr_{side}"] - across, j[f"tip_{side}"] - across)
            add(f"pinky_01_{side}", f"pinky_metacarpal_{side}", j[f"tip_{side}"] - across, j[f"tip_{side}"] - across + 0.4 * d)
            add(f"thigh_{side}", "pelvis", j[f"hipj_{side}"], j[f"kn_{side}"])
            add(f"calf_{side}", f"thigh_{side}", j[f"kn_{side}"], j[f"an_{side}"])
            add(f"foot_{side}", f"calf_{side}", j[f"an_{side}"], j[f"ball_{side}"])
            add(f"ball_{side}", f"foot_{side}", j[f"ball_{side}"], j[f"toe_{side}"])
    elif preset == "vrm":
        add("hips", None, j["hip"], up(j["hip"]))
        chest = spine(["spine", "chest", "upperChest"], "hips", j["spine_top"])
        add("neck", chest, j["spine_top"], j["head"])
        add("head", "neck", j["head"], j["head_top"])
        for side, name in (("l", "left"), ("r", "right")):
            add(f"{name}Shoulder", chest, j[f"clav_{side}"], j[f"sh_{side}"])
            add(f"{name}UpperArm", f"{name}Shoulder", j[f"sh_{side}"], j[f"el_{side}"])
            add(f"{name}LowerArm", f"{name}UpperArm", j[f"el_{side}"], j[f"wr_{side}"])
            add(f"{name}Hand", f"{name}LowerArm", j[f"wr_{side}"], j[f"tip_{side}"])
            across = np.array([0, -0.035, 0]) * j["head_top"][2] / 1.82
            d = j[f"tip_{side}"] - j[f"wr_{side}"]
            add(f"{name}IndexProximal", f"{name}Hand", j[f"tip_{side}"] + across, j[f"tip_{side}"] + across + 0.4 * d)
            add(f"{name}LittleProximal", f"{name}Hand", j[f"tip_{side}"] - across, j[f"tip_{side}"] - across + 0.4 * d)
            add(f"{name}UpperLeg", "hips", j[f"hipj_{side}"], j[f"kn_{side}"])
            add(f"{name}LowerLeg", f"{name}UpperLeg", j[f"kn_{side}"], j[f"an_{side}"])
            add(f"{name}Foot", f"{name}LowerLeg", j[f"an_{side}"], j[f"ball_{side}"])
            add(f"{name}Toes", f"{name}Foot", j[f"ball_{side}"], j[f"toe_{side}"])
    elif preset == "daz":  # Daz Genesis: bend/twist pairs, the pelvis a sibling of the spine under 'hip'
        add("hip", None, j["hip"], up(j["hip"]))
        add("pelvis", "hip", j["hip"], j["hip"] - [0, 0, 0.1 * j["head_top"][2] / 1.82])
        chest = spine(["abdomenLower", "abdomenUpper", "chestLower", "chestUpper"], "hip", j["spine_top"])
        add("neckLower", chest, j["spine_top"], (j["spine_top"] + j["head"]) / 2)
        add("neckUpper", "neckLower", (j["spine_top"] + j["head"]) / 2, j["head"])
        add("head", "neckUpper", j["head"], j["head_top"])
        for side in ("l", "r"):
            sh, el, wr = j[f"sh_{side}"], j[f"el_{side}"], j[f"wr_{side}"]
            add(f"{side}Collar", chest, j[f"clav_{side}"], sh)
            add(f"{side}ShldrBend", f"{side}Collar", sh, (sh + el) / 2)
            add(f"{side}ShldrTwist", f"{side}ShldrBend", (sh + el) / 2, el)
            add(f"{side}ForearmBend", f"{side}ShldrTwist", el, (el + wr) / 2)
            add(f"{side}ForearmTwist", f"{side}ForearmBend", (el + wr) / 2, wr)
            add(f"{side}Hand", f"{side}ForearmTwist", wr, j[f"tip_{side}"])
            hj, kn = j[f"hipj_{side}"], j[f"kn_{side}"]
            add(f"{side}ThighBend", "pelvis", hj, (hj + kn) / 2)
            add(f"{side}ThighTwist", f"{side}ThighBend", (hj + kn) / 2, kn)
            add(f"{side}Shin", f"{side}ThighTwist", kn, j[f"an_{side}"])
            add(f"{side}Foot", f"{side}Shin", j[f"an_{side}"], j[f"ball_{side}"])
            add(f"{side}Toe", f"{side}Foot", j[f"ball_{side}"], j[f"toe_{side}"])
    elif preset == "cc":  # Character Creator: CC_Base_ names, twist leaves, neck bones called NeckTwist
        add("CC_Base_BoneRoot", None, [0, 0, 0], [0, 0, 0.1])
        add("CC_Base_Hip", "CC_Base_BoneRoot", j["hip"], up(j["hip"]))
        add("CC_Base_Pelvis", "CC_Base_Hip", j["hip"], j["hip"] - [0, 0, 0.1 * j["head_top"][2] / 1.82])
        chest = spine(["CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02"], "CC_Base_Hip", j["spine_top"])
        add("CC_Base_NeckTwist01", chest, j["spine_top"], (j["spine_top"] + j["head"]) / 2)
        add("CC_Base_NeckTwist02", "CC_Base_NeckTwist01", (j["spine_top"] + j["head"]) / 2, j["head"])
        add("CC_Base_Head", "CC_Base_NeckTwist02", j["head"], j["head_top"])
        for side in ("L", "R"):
            s_ = side.lower()
            add(f"CC_Base_{side}_Clavicle", chest, j[f"clav_{s_}"], j[f"sh_{s_}"])
            add(f"CC_Base_{side}_Upperarm", f"CC_Base_{side}_Clavicle", j[f"sh_{s_}"], j[f"el_{s_}"])
            add(f"CC_Base_{side}_UpperarmTwist01", f"CC_Base_{side}_Upperarm", j[f"sh_{s_}"],
                (j[f"sh_{s_}"] + j[f"el_{s_}"]) / 2)
            add(f"CC_Base_{side}_Forearm", f"CC_Base_{side}_Upperarm", j[f"el_{s_}"], j[f"wr_{s_}"])
            add(f"CC_Base_{side}_Hand", f"CC_Base_{side}_Forearm", j[f"wr_{s_}"], j[f"tip_{s_}"])
            add(f"CC_Base_{side}_Thigh", "CC_Base_Pelvis", j[f"hipj_{s_}"], j[f"kn_{s_}"])
            add(f"CC_Base_{side}_Calf", f"CC_Base_{side}_Thigh", j[f"kn_{s_}"], j[f"an_{s_}"])
            add(f"CC_Base_{side}_Foot", f"CC_Base_{side}_Calf", j[f"an_{s_}"], j[f"ball_{s_}"])
            add(f"CC_Base_{side}_ToeBase", f"CC_Base_{side}_Foot", j[f"ball_{s_}"], j[f"toe_{s_}"])
    else:
        raise ValueError(preset)
    return bones


def preset_rest(preset: str, arm_pose: str = "T", scale: float = 1.0, seed: int | None = None) -> RestPose:
    """A RestPose named like `preset`, with random bone rolls when seed is given."""
    rng = np.random.default_rng(seed)
    rest = RestPose()
    for name, parent, head, tail in _spec(preset, _joints(arm_pose, scale)):
        roll = rng.uniform(-np.pi, np.pi) if seed is not None else 0.0
        rest.bones[name] = RestBone(name, parent, _matrix(head, tail, roll), head, tail)
    return rest


def build_armature(rest: RestPose, name: str):
    """A real Blender armature object with exactly these rest bones (head, tail, roll from the matrix)."""
    import bpy
    from mathutils import Vector

    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone in rest.bones.values():
        eb = data.edit_bones.new(bone.name)
        eb.head, eb.tail = Vector(bone.head), Vector(bone.tail)
        eb.align_roll(Vector(bone.matrix[:3, 2]))
        if bone.parent:
            eb.parent = data.edit_bones[bone.parent]
            eb.use_connect = np.allclose(rest.bones[bone.parent].tail, bone.head)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def snapshot(obj, frame: int) -> RestPose:
    """The armature's evaluated pose at `frame` as a RestPose (posed matrices, heads and tails in
    armature space), so `rest_landmarks` can read landmarks off a posed rig."""
    import bpy

    bpy.context.scene.frame_set(frame)
    snap = RestPose()
    for pb in obj.pose.bones:
        snap.bones[pb.name] = RestBone(pb.name, pb.parent.name if pb.parent else None, np.array(pb.matrix),
                                       np.array(pb.head), np.array(pb.tail))
    return snap


def plain_armature(name: str, bones):
    """A Blender armature object `name`, linked to the scene and active, with bones (name, parent, head,
    tail) in that order (parents first); no edit mode at all when `bones` is empty."""
    import bpy

    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    if bones:
        bpy.ops.object.mode_set(mode="EDIT")
        for bone, parent, head, tail in bones:
            eb = data.edit_bones.new(bone)
            eb.head, eb.tail = head, tail
            if parent:
                eb.parent = data.edit_bones[parent]
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def posed_matrices(obj, frames: int) -> dict[str, np.ndarray]:
    """Each pose bone's matrix (armature space) on scene frames 1..frames: {name: (frames, 4, 4)}."""
    import bpy

    out = {pb.name: np.empty((frames, 4, 4)) for pb in obj.pose.bones}
    for f in range(frames):
        bpy.context.scene.frame_set(1 + f)
        for pb in obj.pose.bones:
            out[pb.name][f] = np.array(pb.matrix)
    return out


def linked_from_library(name: str, blend) -> object:
    """Save the open file as `blend`, start an empty one and link object `name` from it into the scene:
    → the linked object (its data belongs to the library file)."""
    import bpy

    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(str(blend), link=True) as (_, dst):
        dst.objects = [name]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    return linked


def metarig_with_user_action():
    """The add-on's Add Metarig operator, then the user's own action "users_walk" on the new (active) rig,
    its spine keyed at frame 5: → (rig, action)."""
    import bpy

    assert bpy.ops.video_mocap.add_metarig() == {"FINISHED"}
    rig = bpy.context.active_object
    rig.animation_data_create()
    user_action = bpy.data.actions.new("users_walk")
    rig.animation_data.action = user_action
    rig.pose.bones["spine"].rotation_quaternion = (0.9, 0.1, 0, 0)
    rig.pose.bones["spine"].keyframe_insert("rotation_quaternion", frame=5)
    return rig, user_action
