"""The panel's settings read as the core wants them: the target armature, the take, the rig choice,
the pipeline's Options, and where landmark caches live (and which files are ours to delete).

Shared by operators/ and ui/ (ui imports no operator module).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import bpy

CACHE_FOLDER = "mocap_cache"
CACHE_SUFFIX = ".npz"


def addon_preferences(context):
    """The extension's preferences (preferences.py), read through Blender: the package is this one's parent."""
    addon = context.preferences.addons.get(__package__.rpartition(".")[0])
    return addon.preferences if addon else None


def settings_of(context):
    return context.scene.video_mocap


def target_armature(context):
    """The panel's chosen armature, else the active object when it is an armature."""
    settings = settings_of(context)
    if settings.target is not None:
        return settings.target
    obj = context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def take_path(context) -> str:
    settings = settings_of(context)
    take = settings.active_take()
    path = take.path if take is not None else settings.track_path
    return bpy.path.abspath(path) if path else ""


def rig_choice(settings):
    """What the pipeline's `rig` option is for the panel's settings."""
    if settings.rig_preset == "AUTO":
        return "auto"
    if settings.rig_preset == "CUSTOM":
        return settings.custom_map()
    if settings.rig_preset == "JSON":
        return bpy.path.abspath(settings.bone_map_path)
    return settings.rig_preset


def video_abspath(settings) -> str:
    return os.path.abspath(bpy.path.abspath(settings.video_path)) if settings.video_path else ""


def frame_range(settings) -> tuple[int | None, int | None]:
    if settings.use_frame_range:
        return settings.frame_first, settings.frame_last
    return None, None


def model_override(context, variant: str) -> str | None:
    prefs = addon_preferences(context)
    path = getattr(prefs, f"model_{variant}", "") if prefs else ""
    return bpy.path.abspath(path) if path else None


def options(context, **overrides):
    """The pipeline's Options for the panel's settings and the preferences (model file, workers)."""
    from ..pipeline import Options

    settings = settings_of(context)
    prefs = addon_preferences(context)
    values = dict(model_file=model_override(context, settings.model), frames=frame_range(settings),
                  workers=prefs.capture_workers if prefs else 1, rig=rig_choice(settings))
    values.update(overrides)
    return Options.from_settings(settings, **values)


# ----------------------------------------------------------------------------------------------
# Landmark caches

def cache_folder(context) -> Path:
    """Preferences folder, else `mocap_cache` beside the .blend, else the temporary folder."""
    prefs = addon_preferences(context)
    if prefs and prefs.cache_dir:
        return Path(os.path.abspath(bpy.path.abspath(prefs.cache_dir)))
    if bpy.data.filepath:
        return Path(os.path.abspath(bpy.path.abspath("//" + CACHE_FOLDER)))
    return Path(tempfile.gettempdir()) / CACHE_FOLDER


def source_key(video_path: str) -> str:
    """A short hash of the video file itself (absolute path, size, modification time): two `clip.mp4`
    from different folders, or a clip re-exported in place, get different caches."""
    path = os.path.abspath(video_path)
    try:
        st = os.stat(path)
        ident = f"{path}\0{st.st_size}\0{st.st_mtime_ns}"
    except OSError:
        ident = path
    return hashlib.sha1(ident.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def cache_name(video_path: str, model: str, start=None, stop=None) -> str:
    frames = f"_{start or 0}-{stop if stop is not None else 'end'}" if start is not None or stop is not None else ""
    return f"{Path(video_path).stem}_{model}_{source_key(video_path)}{frames}{CACHE_SUFFIX}"


def cache_path(context, video_path: str, model: str, start=None, stop=None) -> Path:
    """Where the landmark cache of (this video file, model, frame range) lives."""
    return cache_folder(context) / cache_name(video_path, model, start, stop)


def is_own_cache(context, path: str) -> bool:
    """True only for a landmark cache this extension wrote: a .npz file inside the cache folder (links
    resolved) holding a landmark track. A take's path comes from the .blend, which anyone can craft."""
    from ..capture.track import ARRAY_KEYS, META_KEYS

    if not path:
        return False
    real = Path(os.path.realpath(path))
    folder = Path(os.path.realpath(cache_folder(context)))
    if real.suffix.lower() != CACHE_SUFFIX or folder not in real.parents or not real.is_file():
        return False
    import zipfile

    import numpy as np

    try:
        data = np.load(real, allow_pickle=False)
        if not hasattr(data, "files"):  # a bare .npy array under a .npz name
            return False
        with data:
            return all(k in data.files for k in ARRAY_KEYS + META_KEYS)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # not a cache of ours
        return False
