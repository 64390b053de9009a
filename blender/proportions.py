"""Give an armature the performer's proportions (edit bones), so its joints land where the performer's were.

Used for the default target (a new metarig): a capture's segment lengths (motion/proportions.py) →
the rig's limb lengths, shoulder and hip widths and torso height. A user's own armature is never
changed. Bones keep their directions and rolls: limbs are stretched along themselves (what hangs
from their tails moves with them), widths and the torso move whole sub-trees.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector

LIMBS = ("upper_arm", "forearm", "thigh", "shin")


def _translate(ebone, delta: Vector, with_self: bool = True) -> None:
    bones = ([ebone] if with_self else []) + list(ebone.children_recursive)
    for b in bones:
        b.head = b.head + delta
        b.tail = b.tail + delta


def _stretch(ebone, length: float) -> None:
    """New length along the same direction; every descendant moves with the tail."""
    if length <= 0 or ebone.length <= 1e-6:
        return
    direction = (ebone.tail - ebone.head).normalized()
    delta = direction * (length - ebone.length)
    for child in ebone.children_recursive:
        child.head = child.head + delta
        child.tail = child.tail + delta
    ebone.tail = ebone.tail + delta


def _mid(a, b) -> Vector:
    return (a + b) / 2


def fit_to_proportions(context, obj, lengths: dict[str, float], bone_map: dict[str, str]) -> dict[str, float]:
    """Edit obj's bones to `lengths` (metres: upper_arm, forearm, thigh, shin, shoulder_width, hip_width,
    torso = mid-hip to mid-shoulder), reading which bone is which from `bone_map` (role → bone).
    First a uniform scale so the legs match, then each segment. Returns the scale used."""
    eb_name = {role: bone_map.get(role) for role in bone_map}
    need = [f"{limb}.{s}" for limb in ("thigh", "shin") for s in "LR"]
    if any((eb_name.get(r) or "") not in obj.data.bones for r in need):
        return {"scale": 1.0}
    if context.view_layer.objects.active is not obj:
        context.view_layer.objects.active = obj
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        eb = obj.data.edit_bones
        connected = [b.name for b in eb if b.use_connect]
        for b in eb:  # heads and tails move independently while editing; reconnected at the end
            b.use_connect = False

        def bone(role):
            name = eb_name.get(role)
            return eb.get(name) if name else None

        rig_leg = np.mean([bone(f"thigh.{s}").length + bone(f"shin.{s}").length for s in "LR"])
        person_leg = lengths.get("thigh", 0) + lengths.get("shin", 0)
        scale = person_leg / rig_leg if rig_leg > 0 and person_leg > 0 else 1.0
        if abs(scale - 1) > 1e-6:
            for b in eb:  # about the origin: the feet stay on the floor (z = 0)
                b.head, b.tail = b.head * scale, b.tail * scale
        for limb in LIMBS:
            for s in "LR":
                b = bone(f"{limb}.{s}")
                if b is not None and lengths.get(limb, 0) > 0:
                    _stretch(b, lengths[limb])
        for role, key in (("upper_arm", "shoulder_width"), ("thigh", "hip_width")):
            left, right = bone(f"{role}.L"), bone(f"{role}.R")
            if left is None or right is None or lengths.get(key, 0) <= 0:
                continue
            across = left.head - right.head
            if across.length < 1e-6:
                continue
            delta = across.normalized() * ((lengths[key] - across.length) / 2)
            _translate(left, delta)
            _translate(right, -delta)
        chest, left, right = bone("chest"), bone("upper_arm.L"), bone("upper_arm.R")
        thigh_l, thigh_r = bone("thigh.L"), bone("thigh.R")
        if chest is not None and left and right and lengths.get("torso", 0) > 0:
            up = _mid(left.head, right.head) - _mid(thigh_l.head, thigh_r.head)
            if up.length > 1e-6:
                delta = up.normalized() * (lengths["torso"] - up.length)
                chest.tail = chest.tail + delta
                for child in chest.children:
                    _translate(child, delta)
        for name in connected:
            eb[name].use_connect = True
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    return {"scale": float(scale)}
