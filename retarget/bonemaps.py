"""Bone maps: which armature bone plays which role. Presets for common rigs, detection from bone
names, and JSON files a user can edit (and the face's shape key maps: `load_shape_key_map`).

A preset lists, per role, candidate bone names in order of preference; the first one the armature
has is used. Names match exactly, or after a namespace prefix such as Mixamo's `mixamorig:` /
`mixamorig1:` (anything up to the last ':').
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .namematch import guess_bone_map
from .rig import POSED_ROLES, ROLES, RigError

GENERIC = "generic"  # no preset: the bone map guessed from the bone names' words


def _sides(template: dict[str, list[str]]) -> dict[str, list[str]]:
    """Expand '{S}' (L/R), '{s}' (l/r), '{Side}' (Left/Right) and '{side}' (left/right) per side."""
    out: dict[str, list[str]] = {}
    for role, names in template.items():
        if role.endswith(".X"):
            for S, s, Side, side in (("L", "l", "Left", "left"), ("R", "r", "Right", "right")):
                out[role[:-2] + "." + S] = [n.format(S=S, s=s, Side=Side, side=side) for n in names]
        else:
            out[role] = list(names)
    return out


def _fingers(*patterns, **per_finger) -> dict[str, list[str]]:
    """Finger roles ('thumb.01.X' … 'f_pinky.03.X') for _sides, one candidate per pattern in order:
    a pattern is a string with {F} (the preset's word for the finger, from per_finger: thumb, index,
    middle, ring, pinky; default the key) and {k} (1, 2, 3), or a dict finger → three such strings
    (one per bone, None for none). '{S}'/'{s}'/'{Side}'/'{side}' are left for _sides."""
    out = {}
    for finger, role in (("thumb", "thumb"), ("index", "f_index"), ("middle", "f_middle"), ("ring", "f_ring"),
                         ("pinky", "f_pinky")):
        F = per_finger.get(finger, finger)
        for k in (1, 2, 3):
            names = []
            for p in patterns:
                p = p[finger][k - 1] if isinstance(p, dict) else p
                if p:
                    names.append(p.replace("{F}", F).replace("{k}", str(k)))
            out[f"{role}.0{k}.X"] = names
    return out


# VRM: the thumb's bones are Metacarpal/Proximal/Distal in VRM 1.0, Proximal/Intermediate/Distal in
# 0.x ('ThumbProximal' is the first bone in 0.x, the second in 1.0: the candidates' order settles it).
_VRM_SEGMENTS = {f: ("{side}{F}Proximal", "{side}{F}Intermediate", "{side}{F}Distal")
                 for f in ("index", "middle", "ring", "pinky")}
_VRM_SEGMENTS["thumb"] = ("{side}{F}Metacarpal", "{side}{F}Intermediate", "{side}{F}Distal")
_VRM0_THUMB = {f: (None, None, None) for f in ("index", "middle", "ring", "pinky")}
_VRM0_THUMB["thumb"] = ("{side}{F}Proximal", "{side}{F}Proximal", None)

PRESETS: dict[str, dict[str, list[str]]] = {
    # Rigify human metarig (bpy.ops.object.armature_human_metarig_add), names unchanged.
    "metarig": _sides({
        "hips": ["spine"], "chest": ["spine.003"], "neck": ["spine.004"], "head": ["spine.006"],
        "upper_arm.X": ["upper_arm.{S}"], "forearm.X": ["forearm.{S}"], "hand.X": ["hand.{S}"],
        "thigh.X": ["thigh.{S}"], "shin.X": ["shin.{S}"], "foot.X": ["foot.{S}"], "toe.X": ["toe.{S}"],
        "index.X": ["f_index.01.{S}"], "pinky.X": ["f_pinky.01.{S}"], "heel.X": ["heel.02.{S}"],
        **_fingers("{F}.0{k}.{S}", index="f_index", middle="f_middle", ring="f_ring", pinky="f_pinky"),
        # No face roles: every rig's head is read with the same canonical face, so the head's pose
        # does not depend on how a rig happens to model its ears and nose.
    }),
    # Rigify generated rig: the FK controls are keyed (and the IK/FK switches set to FK); the whole
    # body moves with 'torso'.
    "rigify": _sides({
        "hips": ["hips"], "chest": ["chest"], "neck": ["neck"], "head": ["head"],
        "upper_arm.X": ["upper_arm_fk.{S}"], "forearm.X": ["forearm_fk.{S}"], "hand.X": ["hand_fk.{S}"],
        "thigh.X": ["thigh_fk.{S}"], "shin.X": ["shin_fk.{S}"], "foot.X": ["foot_fk.{S}"], "toe.X": ["toe_fk.{S}"],
        "index.X": ["f_index.01.{S}"], "pinky.X": ["f_pinky.01.{S}"], "heel.X": ["ORG-heel.02.{S}"],
        "torso": ["torso"], "root": ["root"],
        # the finger FK controls (named like the metarig's bones; the ORG-/DEF- chains follow them)
        **_fingers("{F}.0{k}.{S}", index="f_index", middle="f_middle", ring="f_ring", pinky="f_pinky"),
    }),
    # Mixamo (any 'mixamorig*:' prefix).
    "mixamo": _sides({
        "hips": ["Hips"], "chest": ["Spine2", "Spine1"], "neck": ["Neck"], "head": ["Head"],
        "upper_arm.X": ["{Side}Arm"], "forearm.X": ["{Side}ForeArm"], "hand.X": ["{Side}Hand"],
        "thigh.X": ["{Side}UpLeg"], "shin.X": ["{Side}Leg"], "foot.X": ["{Side}Foot"], "toe.X": ["{Side}ToeBase"],
        "index.X": ["{Side}HandIndex1"], "pinky.X": ["{Side}HandPinky1"],
        **_fingers("{Side}Hand{F}{k}", thumb="Thumb", index="Index", middle="Middle", ring="Ring", pinky="Pinky"),
    }),
    # Unreal Engine mannequin (UE4: spine_03; UE5: spine_05, neck_02).
    "unreal": _sides({
        "hips": ["pelvis"], "chest": ["spine_05", "spine_04", "spine_03"], "neck": ["neck_01"], "head": ["head"],
        "root": ["root"],
        "upper_arm.X": ["upperarm_{s}"], "forearm.X": ["lowerarm_{s}"], "hand.X": ["hand_{s}"],
        "thigh.X": ["thigh_{s}"], "shin.X": ["calf_{s}"], "foot.X": ["foot_{s}"], "toe.X": ["ball_{s}"],
        "index.X": ["index_01_{s}", "index_metacarpal_{s}"], "pinky.X": ["pinky_01_{s}", "pinky_metacarpal_{s}"],
        **_fingers("{F}_0{k}_{s}"),
    }),
    # CMU mocap BVH (as Blender's BVH importer names them).
    "cmu": _sides({
        "hips": ["Hips"], "chest": ["Spine1"], "neck": ["Neck"], "head": ["Head"],
        "upper_arm.X": ["{Side}Arm"], "forearm.X": ["{Side}ForeArm"], "hand.X": ["{Side}Hand"],
        "thigh.X": ["{Side}UpLeg"], "shin.X": ["{Side}Leg"], "foot.X": ["{Side}Foot"], "toe.X": ["{Side}ToeBase"],
        "index.X": ["{Side}HandIndex1"],
    }),
    # VRM humanoid bone names (VRM 0.x / 1.0), and VRoid's J_Bip names.
    "vrm": _sides({
        "hips": ["hips", "J_Bip_C_Hips"], "chest": ["upperChest", "chest", "J_Bip_C_UpperChest", "J_Bip_C_Chest"],
        "neck": ["neck", "J_Bip_C_Neck"], "head": ["head", "J_Bip_C_Head"],
        "upper_arm.X": ["{side}UpperArm", "J_Bip_{S}_UpperArm"], "forearm.X": ["{side}LowerArm", "J_Bip_{S}_LowerArm"],
        "hand.X": ["{side}Hand", "J_Bip_{S}_Hand"], "thigh.X": ["{side}UpperLeg", "J_Bip_{S}_UpperLeg"],
        "shin.X": ["{side}LowerLeg", "J_Bip_{S}_LowerLeg"], "foot.X": ["{side}Foot", "J_Bip_{S}_Foot"],
        "toe.X": ["{side}Toes", "J_Bip_{S}_ToeBase"],
        "index.X": ["{side}IndexProximal", "J_Bip_{S}_Index1"],
        "pinky.X": ["{side}LittleProximal", "J_Bip_{S}_Little1"],
        **_fingers(_VRM_SEGMENTS, _VRM0_THUMB, "J_Bip_{S}_{F}{k}", thumb="Thumb", index="Index", middle="Middle",
                   ring="Ring", pinky="Little"),
    }),
}
# Bone names that tell two presets with shared names apart (Mixamo and CMU both say 'LeftArm').
HINTS = {"mixamo": ("Spine2", "HeadTop_End", "LeftHandIndex1", "LeftHandPinky1"),
         "cmu": ("LowerBack", "LHipJoint", "Neck1", "LeftFingerBase", "LThumb")}


def _strip(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def resolve_preset(preset: str, bone_names, parents: dict | None = None) -> dict[str, str]:
    """role → bone for the bones this armature has ('generic': guessed from the names)."""
    if preset == GENERIC:
        return guess_bone_map(bone_names, parents)
    if preset not in PRESETS:
        raise RigError(f"Unknown rig preset '{preset}'. Choose one of: {', '.join(PRESETS)}.")
    by_plain: dict[str, str] = {}
    for name in bone_names:
        by_plain.setdefault(_strip(name), name)
    names = set(bone_names)
    out = {}
    for role, candidates in PRESETS[preset].items():
        for cand in candidates:
            if cand in names:
                out[role] = cand
                break
            if cand in by_plain:
                out[role] = by_plain[cand]
                break
    return out


def detect_preset(bone_names, parents: dict | None = None) -> tuple[str, dict[str, str]]:
    """The preset that maps the most posed roles (ties broken by the presets' telltale bones), or
    'generic' (bone map guessed from the words of the names, retarget/namematch.py; `parents`:
    bone → parent, to settle the trunk) when that maps more."""
    bone_names = list(bone_names)
    plain = {_strip(n) for n in bone_names}
    best, best_score = None, (0, 0)
    for preset in PRESETS:
        found = resolve_preset(preset, bone_names)
        score = (sum(role in found for role in POSED_ROLES), sum(h in plain for h in HINTS.get(preset, ())))
        if score > best_score:
            best, best_score = preset, score
    guessed = guess_bone_map(bone_names, parents)
    if "hips" in guessed and sum(role in guessed for role in POSED_ROLES) > best_score[0]:
        return GENERIC, guessed
    if best is None or best_score[0] < 3 or "hips" not in resolve_preset(best, bone_names):
        raise RigError("No humanoid bones recognised in this armature (tried presets: "
                       f"{', '.join(PRESETS)}, and guessing from the bone names). Pick a preset or load "
                       f"a bone map JSON.")
    return best, resolve_preset(best, bone_names)


def save_bone_map(path, bone_map: dict[str, str], preset: str | None = None) -> Path:
    path = Path(path)
    data = {"format": "video_mocap bone map", "version": 1, "preset": preset,
            "bones": {role: bone_map[role] for role in ROLES if role in bone_map}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return path


MAX_BONE_MAP_BYTES = 1 << 20  # a bone map is a few kB; anything this large is the wrong file


def check_blend_file(path: str) -> None:
    """The target .blend of a bake exists (RigError otherwise): checked before a capture and again on opening."""
    if not os.path.isfile(path):
        raise RigError(f"Blend file not found: {path}")


def load_bone_map(path) -> dict[str, str]:
    path = Path(path)
    try:
        if path.is_dir():
            raise RigError(f"Bone map {path} is a folder. Choose a bone map .json file.")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BONE_MAP_BYTES + 1)
    except FileNotFoundError:
        raise RigError(f"Bone map not found: {path}") from None
    except OSError as exc:
        raise RigError(f"Cannot read bone map {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BONE_MAP_BYTES:
        raise RigError(f"Bone map {path} is too large for a bone map (over {MAX_BONE_MAP_BYTES >> 20} MB): "
                       f"choose the bone map .json file (Save Bone Map writes one).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RigError(f"Bone map {path} is not UTF-8 text: save it as UTF-8 (or choose the bone map "
                       f".json file).") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RigError(f"Bone map {path} is not valid JSON ({exc})") from None
    bones = data.get("bones") if isinstance(data, dict) else None
    if not isinstance(bones, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in bones.items()):
        raise RigError(f"Bone map {path} must hold {{\"bones\": {{role: bone name}}}}")
    unknown = sorted(set(bones) - set(ROLES))
    if unknown:
        raise RigError(f"Bone map {path} has unknown roles: {', '.join(unknown)}. Known roles: {', '.join(ROLES)}")
    return dict(bones)


def load_shape_key_map(shape_key_map) -> tuple[dict[str, list[str]], bool]:
    """A JSON path or dict → ({source expression: [shape key names]}, auto-match the rest?). The face's
    counterpart of a bone map (blender/face.py applies it); RigError when it cannot be read."""
    if shape_key_map is None or shape_key_map == "":
        return {}, True
    if isinstance(shape_key_map, (str, Path)):
        try:
            data = json.loads(Path(shape_key_map).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RigError(f"Cannot read the shape key map {shape_key_map}: {exc}") from None
    else:
        data = dict(shape_key_map)
    if not isinstance(data, dict):
        raise RigError(f'The shape key map {shape_key_map} must hold {{"shape_keys": {{"jawOpen": "MouthOpen", …}}}}')
    auto = bool(data.get("auto", True))
    entries = data["shape_keys"] if "shape_keys" in data else {k: v for k, v in data.items() if k != "auto"}
    if not isinstance(entries, dict):
        raise RigError('A shape key map is {"shape_keys": {"jawOpen": "MouthOpen", …}}')
    out = {}
    for source, targets in entries.items():
        out[str(source)] = [targets] if isinstance(targets, str) else [str(t) for t in targets]
    return out, auto
