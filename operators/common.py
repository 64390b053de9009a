"""Helpers shared by the operators."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy

from .. import preferences


def cache_path(context, video_path: str, model: str, start=None, stop=None) -> Path:
    """Where the landmark cache of (video, model) lives: preferences folder, beside the .blend, or temp."""
    prefs = preferences.get(context)
    if prefs and prefs.cache_dir:
        folder = Path(bpy.path.abspath(prefs.cache_dir))
    elif bpy.data.filepath:
        folder = Path(bpy.path.abspath("//mocap_cache"))
    else:
        folder = Path(tempfile.gettempdir()) / "mocap_cache"
    frames = f"_{start or 0}-{stop}" if start is not None or stop is not None else ""
    return folder / f"{Path(video_path).stem}_{model}{frames}.npz"


def model_override(context, variant: str) -> str | None:
    prefs = preferences.get(context)
    path = getattr(prefs, f"model_{variant}", "") if prefs else ""
    return bpy.path.abspath(path) if path else None


def video_abspath(settings) -> str:
    return os.path.abspath(bpy.path.abspath(settings.video_path)) if settings.video_path else ""


def target_armature(context):
    """The panel's chosen armature, else the active object when it is an armature."""
    settings = context.scene.mocap
    if settings.target is not None:
        return settings.target
    obj = context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def take_path(context) -> str:
    settings = context.scene.mocap
    take = settings.active_take()
    path = take.path if take is not None else settings.track_path
    return bpy.path.abspath(path) if path else ""


def rig_choice(context):
    """What apply_track's `rig` argument should be for the panel's settings."""
    settings = context.scene.mocap
    if settings.rig_preset == "AUTO":
        return "auto"
    if settings.rig_preset == "CUSTOM":
        return settings.custom_map()
    if settings.rig_preset == "JSON":
        return bpy.path.abspath(settings.bone_map_path)
    return settings.rig_preset
