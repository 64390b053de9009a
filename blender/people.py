"""Several people in one shared world: an armature per person (a full copy of the user's armature, or
a new human metarig each), each keyed in its own Action, each placed where its person stood relative
to the first one.

Placement: every person's cleaned take gives its hip centre in camera space (motion/root.py
`world_trajectory`, the same perspective-n-point as the solver's root motion). The first frame where a
person is seen puts them in one shared, levelled world (the first person's levelling rotation); the
difference to the first person, horizontal only (every armature stands on its own floor) and scaled
like the solver's root motion (rig leg length / person leg length, the mean over the people so that
one world has one scale), moves each armature's object in the first armature's axes. After that each
armature's own root motion carries it, so the people stay where they were relative to each other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from ..capture.errors import MotionError
from ..capture.track import PoseTrack
from ..motion.root import world_trajectory
from ..pipeline import Message, Options, Report
from .apply import ApplyResult, action_name, apply_track, check_target
from .armature import add_metarig, read_rest_pose

PERSON_SUFFIX = re.compile(r"_p(\d+)$")


# ----------------------------------------------------------------------------------------------
# Cache paths of a several-people capture

def person_cache_path(path: str, person: int) -> str:
    """The capture's cache path with `_p<K>` before the extension: clip_full_….npz → clip_full_…_p2.npz
    (where the capture job saves person K: capture/people.py `person_path`)."""
    from ..capture.people import person_path

    return person_path(path, person)


def capture_base(path: str) -> str:
    """The capture's own cache path of a person's cache path (the `_p<K>` removed); others unchanged."""
    p = Path(path)
    return str(p.with_name(PERSON_SUFFIX.sub("", p.stem) + p.suffix))


def person_of(track: PoseTrack, index: int = 0) -> int:
    """A track's person number (1-based; `track.extra['person']`), else index + 1."""
    return int(track.extra.get("person") or index + 1)


def people_takes(settings) -> list:
    """The takes of the active take's several-people capture (same capture cache, a person number each),
    in person order; [] when the active take is not a person's take."""
    active = settings.active_take()
    if active is None or not active.person:
        return []
    base = capture_base(bpy.path.abspath(active.path))
    same = [t for t in settings.takes if t.person and capture_base(bpy.path.abspath(t.path)) == base]
    return sorted(same, key=lambda t: t.person)


# ----------------------------------------------------------------------------------------------
# Armatures

def duplicate_armature(context, obj, name: str):
    """A full copy of obj in the same collections: the armature with its own data, and the objects
    parented to it (meshes with their own data and shape keys), re-pointed at the copies (parents,
    Armature modifiers, constraint targets). Animation data is copied as is (apply_track gives the copy
    an action of its own). Returns the new armature object, named `name`."""
    suffix = name[len(obj.name):] if name.startswith(obj.name) else "_" + name
    copies = {}
    for src in (obj, *obj.children_recursive):
        new = src.copy()
        if src.data is not None:
            new.data = src.data.copy()
            new.data.name = (src.data.name + suffix) if src is not obj else name
        new.name = name if src is obj else src.name + suffix
        collections = src.users_collection or (context.scene.collection,)
        for collection in collections:
            collection.objects.link(new)
        copies[src] = new
    for src, new in copies.items():
        if src.parent in copies:
            new.parent = copies[src.parent]  # matrix_parent_inverse is copied with the object
        for modifier in new.modifiers:
            if getattr(modifier, "object", None) in copies:
                modifier.object = copies[modifier.object]
        constraints = list(new.constraints)
        if new.pose is not None:
            constraints += [c for pb in new.pose.bones for c in pb.constraints]
        for constraint in constraints:
            if getattr(constraint, "target", None) in copies:
                constraint.target = copies[constraint.target]
            if getattr(constraint, "pole_target", None) in copies:
                constraint.pole_target = copies[constraint.pole_target]
    context.view_layer.update()
    return copies[obj]


GROUP_KEY, PERSON_KEY = "mocap_people_group", "mocap_person"  # on each armature of an Apply All People


def people_group(obj) -> dict[int, object]:
    """The armatures an earlier Apply All People made together with obj: person → armature ({} if none)."""
    group = obj.get(GROUP_KEY) if obj is not None else None
    if not group:
        return {}
    return {int(o[PERSON_KEY]): o for o in bpy.data.objects
            if o.type == "ARMATURE" and o.get(GROUP_KEY) == group and PERSON_KEY in o}


def person_armatures(context, obj, persons: list[int]) -> tuple[list, bool]:
    """One armature per person: obj for the first, full copies named `<obj>_p<K>` for the others; with
    no obj, new human metarigs `metarig_p<K>` (to be fitted to their person's proportions). When obj is
    one of the armatures of an earlier Apply All People, that group's armatures are used again (copies
    made only for people it lacks), so applying again does not pile up copies.
    → (armatures, fit_proportions)."""
    if obj is None:
        return [add_metarig(context, f"metarig_p{k}") for k in persons], True
    check_target(obj)
    group = people_group(obj)
    source = group.get(persons[0], obj)
    check_target(source)
    # Copies first, before any person is applied: each copy starts from the user's armature as it is.
    armatures = [group.get(k) or (source if i == 0 else duplicate_armature(context, source, f"{source.name}_p{k}"))
                 for i, k in enumerate(persons)]
    return armatures, False


# ----------------------------------------------------------------------------------------------
# Placement in one shared world (numpy)

def _leg_length(points: np.ndarray) -> np.ndarray:
    from ..retarget.solver import _leg_length  # the solver's own measure, so the scales agree

    return _leg_length(points)


def rig_leg_length(rest, bone_map: dict) -> float:
    """The rig's leg (hip-knee + knee-ankle, mean of both sides), in armature units; NaN without legs."""
    from ..retarget.body import rest_landmarks

    return float(_leg_length(rest_landmarks(rest, bone_map)))


def person_leg_length(cleaned: PoseTrack) -> float:
    """The person's leg length (metres; the median over the frames), as the solver measures it."""
    from ..retarget.solver import landmarks_in_blender

    P, _ = landmarks_in_blender(cleaned)
    with np.errstate(all="ignore"):
        return float(np.nanmedian(_leg_length(P))) if np.isfinite(P).any() else float("nan")


def first_hip(track: PoseTrack, camera: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """→ (level (3,3), the hip centre in camera-aligned Blender axes at the first frame the person is
    seen (metres), or None when never seen)."""
    level, hips, floor = world_trajectory(track, **(camera or {}))
    ok = track.detected.astype(bool) & np.isfinite(hips).all(axis=1)
    if not ok.any():
        return level, None
    i = int(np.flatnonzero(ok)[0])
    return level, (hips[i] + np.array([0.0, 0.0, floor])) @ level  # undo the person's own levelling


def shared_offsets(tracks: list[PoseTrack], scales: list[float], camera: dict | None = None) -> np.ndarray:
    """(K,3) where each person stood at their first seen frame relative to the first person, in the
    first person's levelled world, horizontal only (z = 0), in rig units (× the mean of the finite
    `scales`, rig leg / person leg). A person never seen, or a first person never seen: zeros."""
    finite = [s for s in scales if np.isfinite(s) and s > 0]
    scale = float(np.mean(finite)) if finite else 1.0
    levels, hips = zip(*(first_hip(t, camera) for t in tracks))
    offsets = np.zeros((len(tracks), 3))
    if hips[0] is None:
        return offsets
    shared = [None if h is None else levels[0] @ h for h in hips]
    for k, h in enumerate(shared):
        if h is not None:
            offsets[k, :2] = scale * (h - shared[0])[:2]
    return offsets


# ----------------------------------------------------------------------------------------------
# Apply everyone

@dataclass
class PeopleResult:
    armatures: list
    results: list[ApplyResult]
    persons: list[int]
    offsets: np.ndarray
    report: Report = field(default_factory=Report)


def apply_people(context, tracks: list[PoseTrack], obj=None, options: Options | None = None,
                 reports: list[Report] | None = None, frame_start: int = 1) -> PeopleResult:
    """Each person's track onto an armature of its own (see person_armatures), in a new Action each
    (named after the take, `_p<K>`), the armatures placed where the people stood relative to the first
    one (module docstring). tracks: one per person, in order; reports: their load reports (optional)."""
    options = options or Options()
    if not tracks:
        raise ValueError("apply_people needs at least one track")
    persons = [person_of(t, i) for i, t in enumerate(tracks)]
    for k, track in zip(persons, tracks):  # before any armature is made or changed
        if not track.detected.any():
            raise MotionError(f"Person {k} was not found in any of the {len(track)} frames of the take. "
                              f"Remove that person's take, or capture again.")
    if obj is None:  # new metarigs: their own names, whatever bone map the panel holds for another rig
        options = replace(options, rig="auto")
    armatures, fit = person_armatures(context, obj, persons)
    results, scales = [], []
    combined = Report()
    for k, arm, track, report in zip(persons, armatures, tracks, reports or [None] * len(tracks)):
        result = apply_track(context, arm, track, options=options, report=report, fit_proportions=fit,
                             frame_start=frame_start)
        keyed_into = f"action '{result.action.name}'"
        result.action.name = f"{action_name(track)}_p{k}"
        for m in result.report.messages:  # the report names the action as it was made
            m.text = m.text.replace(keyed_into, f"action '{result.action.name}'")
        result.action[PERSON_KEY] = arm[PERSON_KEY] = k
        arm[GROUP_KEY] = armatures[0].name
        results.append(result)
        leg_person = person_leg_length(result.motion.track)
        rig_leg = rig_leg_length(read_rest_pose(arm), result.bone_map)
        scales.append(rig_leg / leg_person if leg_person > 0 else float("nan"))
        for m in result.report.messages:
            combined.messages.append(Message(m.severity, f"person {k}: {m.text}"))
    offsets = shared_offsets([r.motion.track for r in results], scales, options.camera)
    context.view_layer.update()
    base = armatures[0].matrix_world.copy()
    for arm, offset in zip(armatures[1:], offsets[1:]):
        placed = base.copy()
        placed.translation = base.translation + base.to_3x3() @ Vector(offset)
        arm.matrix_world = placed
    context.view_layer.update()
    combined.facts["people_offsets"] = offsets.tolist()
    if len(persons) > 1:
        combined.info("placed " + ", ".join(
            f"person {k} at {o[0]:+.2f}, {o[1]:+.2f}" for k, o in zip(persons[1:], offsets[1:]))
            + f" from person {persons[0]} (the armature's x, y)")
    return PeopleResult(armatures, results, persons, offsets, combined)
