"""Keying rigs whose controls hang off constrained helper bones (Rigify's generated rig).

There a control's local rotation cannot be computed from rest matrices alone: its parent moves
through constraints. Blender itself converts each wanted armature-space orientation into the
control's local rotation against the evaluated parent, level by level, frame by frame.
"""
from __future__ import annotations

import numpy as np

# Order in which parts are set: a part's parents (through bones or constraints) come earlier.
LEVELS = (("hips", "chest", "root"), ("neck", "upper_arm", "thigh"), ("head", "forearm", "shin"), ("hand", "foot"))


def needs_evaluation(obj, bone_names) -> bool:
    """True when a mapped bone or one of its ancestors carries constraints."""
    for name in bone_names:
        pb = obj.pose.bones.get(name)
        while pb is not None:
            if len(pb.constraints):
                return True
            pb = pb.parent
    return False


def _level(role: str) -> int:
    base = role.split(".")[0]
    return next(i for i, names in enumerate(LEVELS) if base in names)


def local_rotations_evaluated(context, obj, world: dict[str, np.ndarray], roles: dict[str, str],
                              frame_start: int) -> dict[str, np.ndarray]:
    """world: bone → (T,3,3) wanted armature-space orientations; roles: bone → role.
    → bone → (T,4) local quaternions, found by letting Blender evaluate each parent."""
    from mathutils import Matrix

    T = len(next(iter(world.values())))
    groups: dict[int, list[str]] = {}
    for bone in world:
        groups.setdefault(_level(roles.get(bone, "hips")), []).append(bone)
    out = {bone: np.empty((T, 4)) for bone in world}
    pbones = {bone: obj.pose.bones[bone] for bone in world}
    for pb in pbones.values():
        pb.rotation_mode = pb.rotation_mode  # unchanged; quaternions are read below
    scene = context.scene
    frame_before = scene.frame_current
    basis_before = {bone: pb.matrix_basis.copy() for bone, pb in pbones.items()}
    for t in range(T):
        scene.frame_set(frame_start + t)
        for level in sorted(groups):
            for bone in groups[level]:
                pb = pbones[bone]
                current = pb.matrix.copy()
                target = Matrix(world[bone][t].tolist()).to_4x4()
                target.translation = current.translation
                scale = current.to_scale()
                pb.matrix = target @ Matrix.Diagonal((*scale, 1.0))
            context.view_layer.update()
        for bone, pb in pbones.items():
            q = pb.matrix_basis.to_quaternion()
            out[bone][t] = (q.w, q.x, q.y, q.z)
    for bone, pb in pbones.items():  # the static pose as it was; the Action carries the motion
        pb.matrix_basis = basis_before[bone]
    scene.frame_set(frame_before)
    return out
