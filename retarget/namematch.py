"""Bone maps guessed from bone names when no preset fits: any naming that spells the body parts
out (Daz `lThighBend`, Character Creator `CC_Base_L_Thigh`, 3ds Max Biped `Bip01 L Thigh`,
`Thigh_L`, `L_UpperArm`, `upperleg01.L`, `Left Up Leg`, …).

A name is cut into lower-case words (namespace prefixes, separators, camelCase and digits), its
side read from a word of its own (l / left / r / right, or a leading l / r glued to a part word as
in `lThigh`), and its part from word patterns. Helper bones (twist, IK, pole, control, mechanism,
ends) never play a role. Among the candidates for a role the one with the fewest other words wins
(then the shortest name).
"""
from __future__ import annotations

import re

SIDES = {"l": "L", "left": "L", "r": "R", "right": "R"}
HELPERS = {"twist", "ik", "pole", "target", "ctrl", "control", "mch", "org", "end", "nub", "tip", "roll",
           "helper", "aux", "share", "ref", "null", "offset", "jiggle", "breast", "bust", "skirt", "hair",
           "eye", "jaw", "tongue", "teeth", "lip", "brow", "cheek", "nose", "ear", "thumb", "middle", "ring",
           "carpal", "metacarpal", "weapon", "prop", "corrective", "fix", "bend_helper"}
# role → word patterns (every word of a pattern must be in the name; a pattern word may be a
# tuple of alternatives). Ordered: earlier patterns are better matches.
PARTS = {
    "hips": [("hips",), ("pelvis",), ("hip",)],
    "chest": [("upper", "chest"), ("upperchest",), ("chest",), ("spine", ("3", "03", "2", "02")), ("spine2",)],
    "neck": [("neck",)],
    "head": [("head",)],
    "upper_arm": [("upper", "arm"), ("upperarm",), ("shldr",), ("arm",)],
    "forearm": [("forearm",), ("fore", "arm"), ("lower", "arm"), ("lowerarm",), ("elbow",)],
    "hand": [("hand",), ("wrist",)],
    "thigh": [("thigh",), ("up", "leg"), ("upleg",), ("upper", "leg"), ("upperleg",)],
    "shin": [("shin",), ("calf",), ("lower", "leg"), ("lowerleg",), ("knee",), ("leg",)],
    "foot": [("foot",), ("ankle",)],
    "toe": [("toe",), ("toes",), ("toebase",), ("ball",)],
}
SIDED = {"upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe"}
PART_WORDS = {w for patterns in PARTS.values() for p in patterns for w in p if isinstance(w, str)}
EXCLUDE = {  # words that make a name something else than the part
    "hips": {"spine", "thigh", "leg"}, "neck": {"head"}, "head": {"top", "end", "neck"},
    "arm": set(), "upper_arm": {"fore", "forearm", "lower", "lowerarm", "hand"},
    "hand": {"index", "pinky", "little", "finger"}, "shin": {"up", "upleg", "upper", "upperleg", "thigh"},
    "foot": {"toe", "toes", "ball"}, "chest": set(),
}


def words(name: str) -> list[str]:
    """'mixamorig:LeftUpLeg' → ['left', 'up', 'leg']; 'CC_Base_L_Thigh' → ['cc', 'base', 'l', 'thigh']."""
    name = re.split(r"[:|]", name)[-1]
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)
    name = re.sub(r"([A-Za-z])(\d)", r"\1 \2", name)
    out = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    # 'lthigh' / 'rshldr' (a side letter glued to a part word, as Daz does)
    fixed = []
    for w in out:
        if len(w) > 1 and w[0] in "lr" and w[1:] in PART_WORDS and w not in PART_WORDS:
            fixed += [w[0], w[1:]]
        else:
            fixed.append(w)
    return fixed


def _side(ws: list[str]) -> str | None:
    found = {SIDES[w] for w in ws if w in SIDES}
    return found.pop() if len(found) == 1 else None


def _matches(ws: set[str], pattern) -> bool:
    return all((w in ws) if isinstance(w, str) else any(a in ws for a in w) for w in pattern)


def guess_bone_map(bone_names, parents: dict[str, str | None] | None = None) -> dict[str, str]:
    """role → bone name, from the words of the names (see the module docstring). With `parents`
    (bone → parent bone), the hierarchy settles the trunk: the chest is the bone the arms and the
    neck branch from, the hips the bone the legs and the spine branch from (when the bone named
    like the hips is not above both, as Daz's and Character Creator's 'pelvis')."""
    bone_names = list(bone_names)
    found = _by_words(bone_names, HELPERS)
    missing = [r for r in ("neck", "head") if r not in found]
    if missing:  # Character Creator's neck bones are called NeckTwist01/02
        lenient = _by_words(bone_names, HELPERS - {"twist"})
        found.update({r: lenient[r] for r in missing if r in lenient})
    if parents:
        _trunk_from_hierarchy(found, parents)
    found.update(guess_fingers(bone_names, parents))
    return found


# Fingers: a finger word (or MakeHuman's `finger1-1` … `finger5-3`, 3ds Max Biped's `Finger0`,
# `Finger01`, `Finger1` …), a side, and a segment (a number, or metacarpal / proximal / intermediate /
# distal). Per finger and side the three shallowest bones in the hierarchy (else in segment order)
# are the chain; a finger's metacarpal is not (the palm stays at rest), the thumb's is its first bone.
FINGER_WORDS = {"thumb": "thumb", "index": "f_index", "pointer": "f_index", "middle": "f_middle", "mid": "f_middle",
                "ring": "f_ring", "pinky": "f_pinky", "pinkie": "f_pinky", "little": "f_pinky"}
NUMBERED_FINGERS = ("thumb", "f_index", "f_middle", "f_ring", "f_pinky")
SEGMENT_WORDS = {"metacarpal": 0, "carpal": 0, "proximal": 1, "intermediate": 2, "medial": 2, "distal": 3}
FINGER_HELPERS = (HELPERS - {"thumb", "middle", "ring", "carpal", "metacarpal"}) | {
    "def", "master", "drv", "tweak", "palm", "hand_ik", "nail", "mechanism"}


def _finger_of(ws: list[str]) -> tuple[str | None, tuple]:
    """(finger, segment key) of a name's words, or (None, 0)."""
    segment = next((SEGMENT_WORDS[w] for w in ws if w in SEGMENT_WORDS), None)
    for i, w in enumerate(ws):
        if w in FINGER_WORDS:  # numbers after the finger word, all of them: f_index.01.L < f_index.01.L.001
            numbers = tuple(int(n) for n in ws[i + 1:] if n.isdigit())
            return FINGER_WORDS[w], (segment,) if segment is not None else numbers
    if "finger" in ws:
        after = [w for w in ws[ws.index("finger") + 1:] if w.isdigit()]
        if len(after) >= 2 and 1 <= int(after[0]) <= 5:         # MakeHuman: finger<N>-<segment>
            return NUMBERED_FINGERS[int(after[0]) - 1], (int(after[1]),)
        if len(after) == 1 and int(after[0][0]) <= 4:           # Biped: Finger<N>[<segment>]
            return NUMBERED_FINGERS[int(after[0][0])], (len(after[0]),)
    return None, ()


def guess_fingers(bone_names, parents: dict[str, str | None] | None = None) -> dict[str, str]:
    """Finger roles (`thumb.01.L` … `f_pinky.03.R`) guessed from the bone names (see above)."""
    chains: dict[tuple[str, str], list[tuple]] = {}
    for name in bone_names:
        ws = words(name)
        if set(ws) & FINGER_HELPERS:
            continue
        side = _side(ws)
        finger, segment = _finger_of(ws)
        if side is None or finger is None:
            continue
        if finger != "thumb" and ({"metacarpal", "carpal"} & set(ws)):
            continue
        depth = len(_ancestors(name, parents)) if parents else 0
        chains.setdefault((finger, side), []).append((depth, segment, len(name), name))
    out = {}
    for (finger, side), bones in chains.items():
        for k, (_, _, _, name) in enumerate(sorted(bones)[:3], start=1):
            out[f"{finger}.0{k}.{side}"] = name
    return out


def _ancestors(bone: str, parents: dict) -> list[str]:
    out, seen = [], set()
    while bone is not None and bone not in seen:
        seen.add(bone)
        out.append(bone)
        bone = parents.get(bone)
    return out


def _common_ancestor(bones: list[str], parents: dict) -> str | None:
    chains = [_ancestors(b, parents) for b in bones]
    shared = set(chains[0]).intersection(*map(set, chains[1:]))
    return next((b for b in chains[0] if b in shared), None)


def _trunk_from_hierarchy(found: dict, parents: dict) -> None:
    arms = [found.get(r) for r in ("upper_arm.L", "upper_arm.R", "neck")]
    if all(arms):
        chest = _common_ancestor(arms, parents)
        if chest is not None and chest not in arms:
            found["chest"] = chest
    legs = [found.get(r) for r in ("thigh.L", "thigh.R", "chest")]
    if all(legs):
        hips = found.get("hips")
        if hips is None or any(hips not in _ancestors(b, parents) for b in legs):
            base = _common_ancestor(legs, parents)
            if base is not None and base not in legs:
                found["hips"] = base


def _by_words(bone_names, helpers) -> dict[str, str]:
    best: dict[str, tuple] = {}
    for name in bone_names:
        ws = words(name)
        wset = set(ws)
        if wset & helpers:
            continue
        side = _side(ws)
        for part, patterns in PARTS.items():
            if wset & EXCLUDE.get(part, set()):
                continue
            for rank, pattern in enumerate(patterns):
                if not _matches(wset, pattern):
                    continue
                if part in SIDED:
                    if side is None:
                        break
                    role = f"{part}.{side}"
                elif side is not None:
                    break
                else:
                    role = part
                extra = len([w for w in ws if w not in SIDES and not w.isdigit()]) - len(pattern)
                key = (rank, extra, _index(ws, part), len(name))
                if role not in best or key < best[role][0]:
                    best[role] = (key, name)
                break
    return {role: name for role, (_, name) in best.items()}


def _index(ws: list[str], part: str) -> int:
    """Among numbered bones: the first neck / head, the highest spine for the chest."""
    numbers = [int(w) for w in ws if w.isdigit()]
    if not numbers:
        return 0
    return -numbers[-1] if part == "chest" else numbers[-1]
