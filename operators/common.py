"""Helpers shared by the operators."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy

from .. import preferences


def cache_path(context, video_path: str, model: str) -> Path:
    """Where the landmark cache of (video, model) lives: preferences folder, beside the .blend, or temp."""
    prefs = preferences.get(context)
    if prefs and prefs.cache_dir:
        folder = Path(bpy.path.abspath(prefs.cache_dir))
    elif bpy.data.filepath:
        folder = Path(bpy.path.abspath("//mocap_cache"))
    else:
        folder = Path(tempfile.gettempdir()) / "mocap_cache"
    return folder / f"{Path(video_path).stem}_{model}.npz"


def model_override(context, variant: str) -> str | None:
    prefs = preferences.get(context)
    path = getattr(prefs, f"model_{variant}", "") if prefs else ""
    return bpy.path.abspath(path) if path else None


def video_abspath(settings) -> str:
    return os.path.abspath(bpy.path.abspath(settings.video_path)) if settings.video_path else ""
