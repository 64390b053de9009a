"""Armatures: read rest data for the solver, create the Rigify human metarig."""
from __future__ import annotations

import bpy
import numpy as np

from ..retarget.rig import RestBone, RestPose


def read_rest_pose(obj) -> RestPose:
    """Rest matrices, heads and tails in armature space, parents first."""
    rest = RestPose()
    for bone in obj.data.bones:  # Blender lists parents before children
        rest.bones[bone.name] = RestBone(
            bone.name, bone.parent.name if bone.parent else None,
            np.array(bone.matrix_local, dtype=np.float64), np.array(bone.head_local, dtype=np.float64),
            np.array(bone.tail_local, dtype=np.float64))
    return rest


def ensure_rigify() -> None:
    import addon_utils

    if not addon_utils.check("rigify")[1]:
        addon_utils.enable("rigify", default_set=True, persistent=True)


def add_metarig(context, name: str = "metarig"):
    """Add the Rigify human metarig at the 3D cursor; returns the new object (Object mode)."""
    ensure_rigify()
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.object.armature_human_metarig_add()
    obj = context.active_object
    obj.name = name
    return obj
