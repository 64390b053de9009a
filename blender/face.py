"""The face onto a character: expression weights keyed on shape keys and Rigify face bones.

Sources: the take's ARKit weights (`PoseTrack.face_expressions`, or motion/face.expressions from the
face landmarks) and the VRM expressions derived from them (motion/face.vrm_expressions).

Targets:
* shape keys of the meshes bound to the armature (its child meshes, or meshes whose Armature modifier
  uses it), matched by name: ARKit (`eyeBlinkLeft`, `EyeBlink_L`, `eye_blink_left`, `blendShape1.jawOpen`,
  `BS_jawOpen`, `A_mouthSmileLeft` …) or VRM (`Blink`, `Blink_L`, `A`/`aa`, `Joy`, VRoid's
  `Fcl_EYE_Close_L`, `Fcl_MTH_A` …): case, separators, camelCase, L/R side words and common prefixes are
  ignored. A mesh with ARKit-named keys takes only the ARKit weights (no doubled VRM shapes on a
  "perfect sync" avatar). A JSON map names keys explicitly: {"shape_keys": {"jawOpen": "MouthOpen",
  "blink": ["Blink", "Lashes_Blink"]}, "auto": true} (auto false: only the map).
* Rigify face bones where the rig has them: the jaw ('jaw_master', else 'jaw') opened by jawOpen, the
  upper lids ('lid.T.L' / 'lid.T.R') closed by the blinks; keyed in the body's new action.

Each mesh's shape keys get a NEW action (the user's stays untouched, referred to by the new one as for
the body: `video_mocap_previous_action`), slotted on Blender 4.4+ and legacy on 4.2/4.3.
"""
from __future__ import annotations

import re

import bpy
import numpy as np

from ..capture.errors import RigError
from ..motion.face import EXPRESSION_NAMES, VRM_NAMES, expressions, vrm_expressions
from ..retarget.bonemaps import load_shape_key_map
from .action import key_rotations, new_action, write_curves

FADE_S = 0.3          # where the face is lost, expressions ease to neutral (0) over this long
JAW_DEG = 25.0        # jaw bone rotation at jawOpen 1
LID_DEG = 30.0        # upper lid bone rotation at a full blink
FACE_GROUP = "Face"

# -- name matching -------------------------------------------------------------------------------------
_PREFIX = re.compile(r"^(?:blend_?shapes?\d*|bs|arkit|vrc|shapes?|sk|a)[._:\-\s]+", re.IGNORECASE)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SIDES = {"l": "left", "r": "right", "lt": "left", "rt": "right"}
# VRM 0.x presets and VRoid's clip names (normalised) → VRM 1.0 preset names
VRM_ALIASES = {
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "joy": "happy", "sorrow": "sad",
    "fclmtha": "aa", "fclmthi": "ih", "fclmthu": "ou", "fclmthe": "ee", "fclmtho": "oh",
    "fcleyeclose": "blink", "fcleyecloseleft": "blinkLeft", "fcleyecloseright": "blinkRight",
    "fclalljoy": "happy", "fclallangry": "angry", "fclallsorrow": "sad", "fclallsurprised": "surprised",
    "fclallfun": None,
}


def normalise(name: str) -> str:
    """A shape key or expression name reduced for matching: prefixes ('blendShape1.', 'BS_', 'A_'),
    separators, case and camelCase gone, side letters spelt out: 'EyeBlink_L' → 'eyeblinkleft'."""
    name = name.strip()
    while True:
        stripped = _PREFIX.sub("", name, count=1)
        if stripped == name or not stripped:
            break
        name = stripped
    words = []
    for part in re.split(r"[^0-9A-Za-z]+", name):
        words.extend(w.lower() for w in _WORDS.findall(part))
    return "".join(_SIDES.get(w, w) for w in words)


def _arkit_table(names) -> dict[str, str]:
    return {normalise(n): n for n in names if not n.startswith("_")}


def _vrm_table() -> dict[str, str]:
    table = {normalise(n): n for n in VRM_NAMES}
    table.update({k: v for k, v in VRM_ALIASES.items() if v})
    return table


def match_shape_keys(key_names, arkit_names=EXPRESSION_NAMES, explicit: dict | None = None,
                     auto: bool = True) -> dict[str, str]:
    """Shape key name → source expression (an ARKit name of the take, or a VRM preset name). Explicit
    entries ({source: [key names]}) first; then ARKit names; VRM names only when no key matched ARKit."""
    out = {}
    for source, targets in (explicit or {}).items():
        for target in targets:
            if target in key_names:
                out[target] = source
    if not auto:
        return out
    rest = [k for k in key_names if k not in out]
    arkit = _arkit_table(arkit_names)
    found = {k: arkit[normalise(k)] for k in rest if normalise(k) in arkit}
    if not found:
        vrm = _vrm_table()
        found = {k: vrm[normalise(k)] for k in rest if normalise(k) in vrm}
    out.update(found)
    return out


# -- values ----------------------------------------------------------------------------------------------
def _fade(seen: np.ndarray, fps: float, fade_s: float = FADE_S) -> np.ndarray:
    from ..retarget.hands import hand_weights

    return hand_weights(np.asarray(seen, bool)[:, None], fps, fade_s)[:, 0]


def face_values(track, strength: float = 1.0, neutral_frame: int | None = None,
                fov_deg: float | None = 60.0) -> dict[str, np.ndarray]:
    """Expression name (the take's ARKit names, and VRM's) → (T,) values to key: times strength, held
    from the nearest frame with a face and eased to 0 over FADE_S away from it. {} without a face.
    neutral_frame: a row of the track for the neutral face (recomputes the weights from the landmarks)."""
    if not getattr(track, "has_face", False):
        return {}
    if track.face_expressions is not None and neutral_frame is None:
        weights, names = np.asarray(track.face_expressions, np.float64), tuple(track.face_expression_names)
    else:
        weights, names = expressions(track.face_landmarks, track.frame_size, track.fps, neutral_frame, fov_deg)
        weights = np.asarray(weights, np.float64)
    seen = np.isfinite(weights).all(axis=1)
    if track.face_presence is not None:
        seen &= np.nan_to_num(np.asarray(track.face_presence, np.float64), nan=0.0) > 0
    if not seen.any():
        return {}
    columns = [weights]
    all_names = list(names)
    try:
        vrm, vrm_names = vrm_expressions(np.where(seen[:, None], weights, np.nan), names)
        columns.append(np.asarray(vrm, np.float64))
        all_names += list(vrm_names)
    except KeyError:  # names without the ARKit set VRM is derived from
        pass
    values = np.concatenate(columns, axis=1)
    idx = np.arange(len(seen))
    good = idx[seen]
    pos = np.clip(np.searchsorted(good, idx), 0, len(good) - 1)
    before = good[np.maximum(pos - 1, 0)]
    nearest = np.where(np.abs(before - idx) <= np.abs(good[pos] - idx), before, good[pos])
    values = np.nan_to_num(values[nearest], nan=0.0) * _fade(seen, track.fps)[:, None] * float(strength)
    return {name: values[:, i] for i, name in enumerate(all_names) if not name.startswith("_")}


# -- targets ----------------------------------------------------------------------------------------------
def face_meshes(obj) -> list:
    """Meshes with shape keys bound to the armature obj: its children (any depth) and meshes whose
    Armature modifier uses it."""
    found = [o for o in getattr(obj, "children_recursive", obj.children) if o.type == "MESH"]
    for o in bpy.data.objects:
        if o.type == "MESH" and o not in found and any(
                m.type == "ARMATURE" and m.object == obj for m in o.modifiers):
            found.append(o)
    return [o for o in found if o.data.shape_keys is not None and len(o.data.shape_keys.key_blocks) > 1]


def new_key_action(key, name: str):
    """A fresh Action assigned to a shape-key datablock (bpy.types.Key), as for the body (action.new_action)."""
    return new_action(key, name, id_type="KEY")


def shape_key_path(name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'


def _bone(obj, *names):
    for name in names:
        if name in obj.pose.bones:
            return name
    lower = {b.name.lower(): b.name for b in obj.pose.bones}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def face_bones(obj) -> dict[str, tuple[str, float]]:
    """Rigify-style face bones the rig has: bone → (source expression, degrees at weight 1)."""
    out = {}
    jaw = _bone(obj, "jaw_master", "jaw")
    if jaw:
        out[jaw] = ("jawOpen", JAW_DEG)
    for side, name in (("L", "eyeBlinkLeft"), ("R", "eyeBlinkRight")):
        lid = _bone(obj, f"lid.T.{side}")
        if lid:
            out[lid] = (name, LID_DEG)
    return out


def _bone_quaternions(obj, bone: str, degrees: np.ndarray) -> np.ndarray:
    """(T,4) local rotations turning the bone about the armature's X axis (left-right) by `degrees`:
    positive moves what is in front of the bone's head down (a jaw opens, an upper lid closes)."""
    rest = np.array(obj.data.bones[bone].matrix_local)[:3, :3]
    axis = rest.T @ np.array([1.0, 0.0, 0.0])
    axis /= max(np.linalg.norm(axis), 1e-9)
    half = np.radians(degrees) / 2
    return np.column_stack([np.cos(half), np.sin(half)[:, None] * axis])


# -- the entry point ---------------------------------------------------------------------------------------
def apply_face(context, obj, track, frame_start: int = 1, strength: float = 1.0, shape_key_map=None,
               report=None, neutral_frame: int | None = None, times=None, action=None,
               fov_deg: float | None = 60.0, bones: bool = True) -> dict:
    """Key the take's face onto obj's character: shape keys of its meshes (a NEW action per mesh's
    shape keys) and Rigify face bones (into `action`, the body's new action; default: obj's action
    when it is one of ours; bones=False: none). times: the scene frame of each track row (default
    frame_start + row). strength: every weight times this. shape_key_map: a JSON path or dict (module doc).
    neutral_frame: a row of the track holding the performer's neutral face (default: found in the clip).
    → {"actions": {mesh: action}, "shape_keys": {mesh: {key: source}}, "bones": [...], "frames": T}."""
    result = {"actions": {}, "shape_keys": {}, "bones": [], "frames": 0}
    values = face_values(track, strength, neutral_frame, fov_deg)
    if not values:
        if report is not None and getattr(track, "has_face", False):
            report.warning("the take has no frame with a face: no expressions keyed")
        return result
    n = len(next(iter(values.values())))
    times = frame_start + np.arange(n, dtype=np.float64) if times is None else np.asarray(times, np.float64)
    result["frames"] = n
    arkit = [name for name in values if name not in VRM_NAMES]
    explicit, auto = load_shape_key_map(shape_key_map)
    spelt = {normalise(name): name for name in values}       # 'JawOpen', 'jaw_open' → 'jawOpen'
    explicit = {spelt.get(normalise(source), source): targets for source, targets in explicit.items()}
    unknown = sorted(s for s in explicit if s not in values)
    if unknown and report is not None:
        report.warning(f"shape key map: no expression named {', '.join(unknown)} (ARKit or VRM names)")
    base = (action.name if action is not None else
            (obj.animation_data.action.name if obj.animation_data and obj.animation_data.action else obj.name))
    done = set()
    for mesh in face_meshes(obj):
        key = mesh.data.shape_keys
        if key.as_pointer() in done:
            continue
        names = [kb.name for kb in key.key_blocks[1:]]
        matched = {k: s for k, s in match_shape_keys(names, arkit, explicit, auto).items() if s in values}
        if not matched:
            continue
        done.add(key.as_pointer())
        act = new_key_action(key, f"{base}_{mesh.name}_face")
        act["mocap_source"] = track.source
        for name, source in matched.items():
            write_curves(act, key, shape_key_path(name), times, values[source][:, None], FACE_GROUP)
        result["actions"][mesh.name] = act
        result["shape_keys"][mesh.name] = matched
    bones = face_bones(obj) if bones else {}
    if bones:
        target = action
        if target is None and obj.animation_data and obj.animation_data.action is not None \
                and "mocap_source" in obj.animation_data.action:
            target = obj.animation_data.action
        if target is None:
            if report is not None:
                report.warning("face bones not keyed: the armature's action is not one of ours (apply the body first)")
        else:
            rotations = {b: _bone_quaternions(obj, b, deg * values[src]) for b, (src, deg) in bones.items()
                         if src in values}
            result["bones"] = key_rotations(target, obj, rotations, times)
    if report is not None:
        keys = sum(len(m) for m in result["shape_keys"].values())
        if keys or result["bones"]:
            parts = []
            if keys:
                parts.append(f"{keys} shape keys on {', '.join(result['shape_keys'])}")
            if result["bones"]:
                parts.append(f"face bones {', '.join(result['bones'])}")
            report.info("face: keyed " + " and ".join(parts) + (f" (strength {strength:g})" if strength != 1 else ""))
        else:
            report.warning(f"the take has a face, but '{obj.name}' has no shape keys with ARKit or VRM names "
                           f"and no face bones: no expressions keyed (a shape key map can name them)")
        report.facts["face_shape_keys"] = keys
    return result


# -- a test character ----------------------------------------------------------------------------------------
# Where each ARKit shape moves the test head (unit sphere coordinates: x the head's left, y back, z up)
_REGIONS = {
    "eyeBlink": ((0.35, -0.85, 0.25), (0, 0, -0.15)), "eyeWide": ((0.35, -0.85, 0.25), (0, 0, 0.1)),
    "eyeLookUp": ((0.35, -0.9, 0.2), (0, 0, 0.05)), "eyeLookDown": ((0.35, -0.9, 0.2), (0, 0, -0.05)),
    "eyeLookIn": ((0.35, -0.9, 0.2), (-0.05, 0, 0)), "eyeLookOut": ((0.35, -0.9, 0.2), (0.05, 0, 0)),
    "browDown": ((0.3, -0.8, 0.5), (0, 0, -0.1)), "browOuterUp": ((0.5, -0.7, 0.5), (0, 0, 0.12)),
    "browInnerUp": ((0.0, -0.85, 0.5), (0, 0, 0.12)), "jawOpen": ((0.0, -0.7, -0.7), (0, 0.05, -0.3)),
    "mouthClose": ((0.0, -0.9, -0.35), (0, 0, 0.05)), "mouthFunnel": ((0.0, -0.95, -0.35), (0, -0.1, 0)),
    "mouthPucker": ((0.0, -0.95, -0.35), (0, -0.12, 0)), "mouthSmile": ((0.3, -0.85, -0.35), (0.08, 0, 0.1)),
    "mouthFrown": ((0.3, -0.85, -0.35), (0, 0, -0.1)), "mouthLeft": ((0.0, -0.95, -0.35), (0.1, 0, 0)),
    "mouthRight": ((0.0, -0.95, -0.35), (-0.1, 0, 0)), "cheekSquint": ((0.45, -0.8, 0.0), (0, 0, 0.08)),
}


def _sphere(rings: int = 10, segments: int = 16):
    verts = [(0.0, 0.0, -1.0)]
    for i in range(1, rings):
        phi = np.pi * i / rings - np.pi / 2
        for j in range(segments):
            th = 2 * np.pi * j / segments
            verts.append((np.cos(phi) * np.cos(th), np.cos(phi) * np.sin(th), np.sin(phi)))
    verts.append((0.0, 0.0, 1.0))
    faces = [(0, 1 + (j + 1) % segments, 1 + j) for j in range(segments)]
    for i in range(rings - 2):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        faces += [(a + j, a + (j + 1) % segments, b + (j + 1) % segments, b + j) for j in range(segments)]
    top, last = len(verts) - 1, 1 + (rings - 2) * segments
    faces += [(last + j, last + (j + 1) % segments, top) for j in range(segments)]
    return np.array(verts), faces


def add_face_test_mesh(context, armature, name: str = "face_test_head"):
    """A low-poly head with a shape key per ARKit expression (EXPRESSION_NAMES), parented to the
    armature's head bone: a character to check facial capture on the metarig (tests, the demo)."""
    from .apply import choose_bone_map

    _, bone_map = choose_bone_map(armature, "auto")
    head = bone_map.get("head")
    if head is None or head not in armature.data.bones:
        raise RigError(f"'{armature.name}' has no head bone to carry the test face")
    bone = armature.data.bones[head]
    radius = 0.5 * bone.length
    verts, faces = _sphere()
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v * radius) for v in verts], [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    (context.collection or context.scene.collection).objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for expr in EXPRESSION_NAMES:
        side = 0.0 if expr in _REGIONS else 1.0 if expr.endswith("Left") else -1.0 if expr.endswith("Right") else 0.0
        stem = expr if expr in _REGIONS else expr.removesuffix("Left").removesuffix("Right")
        centre, move = (np.array(v, float) for v in _REGIONS[stem])
        if side:
            centre[0] *= side
            move[0] *= side
        weight = np.exp(-0.5 * (np.linalg.norm(verts - centre, axis=1) / 0.3) ** 2)
        block = obj.shape_key_add(name=expr, from_mix=False)
        co = (verts + weight[:, None] * move) * radius
        block.data.foreach_set("co", co.astype(np.float32).ravel())
    # Rigid on the head bone: bone parenting (the child sits at the bone's tail; undo that at rest).
    from mathutils import Matrix

    obj.parent = armature
    obj.parent_type = "BONE"
    obj.parent_bone = head
    at_tail = armature.matrix_world @ bone.matrix_local @ Matrix.Translation((0.0, bone.length, 0.0))
    obj.matrix_parent_inverse = at_tail.inverted()
    centre = bone.head_local + (bone.tail_local - bone.head_local) * 0.45
    obj.matrix_basis = armature.matrix_world @ Matrix.Translation(centre)
    return obj
