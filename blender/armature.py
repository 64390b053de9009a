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
    """Enable the bundled Rigify add-on; RigError when this Blender has none."""
    import addon_utils

    from ..capture.errors import RigError

    if not addon_utils.check("rigify")[1]:
        addon_utils.enable("rigify", default_set=True, persistent=True)
    if not addon_utils.check("rigify")[1]:
        raise RigError("Could not add the human metarig: the Rigify add-on is not available in this Blender. "
                       "Enable Rigify in Preferences ▸ Add-ons, or select your own armature.")


def add_metarig(context, name: str = "metarig"):
    """Add the Rigify human metarig at the 3D cursor; returns the new object (Object mode)."""
    ensure_rigify()
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.object.armature_human_metarig_add()
    obj = context.active_object
    obj.name = name
    return obj


def open_armature(blend_path: str, object_name: str):
    """Open FILE.blend (read only: we never save over it) and return its armature OBJECT."""
    from ..retarget.bonemaps import check_blend_file
    from ..retarget.rig import RigError

    check_blend_file(blend_path)
    try:
        bpy.ops.wm.open_mainfile(filepath=blend_path, load_ui=False)
    except RuntimeError as exc:
        raise RigError(f"Cannot open {blend_path}: {exc}") from None
    obj = bpy.data.objects.get(object_name)
    if obj is None:
        armatures = [o.name for o in bpy.data.objects if o.type == "ARMATURE"]
        raise RigError(f"No object '{object_name}' in {blend_path}. Armatures there: "
                       f"{', '.join(armatures) or 'none'}.")
    if obj.type != "ARMATURE":
        raise RigError(f"'{object_name}' in {blend_path} is a {obj.type.lower()}, not an armature.")
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj
