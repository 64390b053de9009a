"""FBX and BVH export of one animated armature."""
from __future__ import annotations

import os

import bpy

from ..capture.errors import ExportError

# FBX presets: axes that Unity and Unreal import upright; Blender's own defaults read back as-is.
FBX_PRESETS = {
    "unity": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_UNITS"),
    "unreal": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE"),
    "blender": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE"),
}


def check_writable(path: str) -> None:
    """Fail early, with the path in the message, when a file cannot be written there."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}. Choose another folder.") from None
    if not os.access(folder, os.W_OK) or os.path.isdir(path):
        raise ExportError(f"Cannot write {path}: the folder is not writable. Choose another folder.")


_check_writable = check_writable


def _select_only(context, obj) -> None:
    for other in list(context.selected_objects):
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


def export_fbx(context, obj, path: str, preset: str = "unity") -> str:
    """Baked animation of the armature only, no leaf bones, Y-up/-Z-forward."""
    _check_writable(path)
    _select_only(context, obj)
    result = bpy.ops.export_scene.fbx(
        filepath=path, use_selection=True, object_types={"ARMATURE"}, add_leaf_bones=False,
        bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
        bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0,
        primary_bone_axis="Y", secondary_bone_axis="X", use_armature_deform_only=False,
        **FBX_PRESETS[preset])
    if "FINISHED" not in result:
        raise ExportError(f"FBX export to {path} failed.")
    return path


def export_bvh(context, obj, path: str, frame_start: int, frame_end: int) -> str:
    """BVH with the scene's fps (the caller sets it to the video's, so Frame Time = 1/video fps)."""
    _check_writable(path)
    _select_only(context, obj)
    result = bpy.ops.export_anim.bvh(filepath=path, frame_start=frame_start, frame_end=frame_end,
                                     rotate_mode="NATIVE", root_transform_only=False)
    if "FINISHED" not in result:
        raise ExportError(f"BVH export to {path} failed.")
    return path
