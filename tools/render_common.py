"""What the fixture renderers (tools/render_mannequin.py, tools/render_hand.py) share: the cache check
(stamp.json), the child process a fixture is built in, the per-folder lock, materials, world, Cycles
settings and camera projection, the animation render and its mp4, and the preview stills.

Imports without bpy. A fixture is current when its outputs exist and its stamp.json holds
params_hash(script, params): the hash of the renderer's source, of this file's source and of the
parameters, so editing either file rebuilds the fixtures.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()

# ---------------------------------------------------------------------------------------------------------
# Cache


def params_hash(script: Path, params: dict) -> str:
    h = hashlib.sha256()
    h.update(Path(script).read_bytes())
    h.update(HERE.read_bytes())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


def is_current(out_dir: Path, outputs: tuple, digest: str) -> bool:
    """The outputs are all there and stamp.json holds `digest`."""
    out_dir = Path(out_dir)
    stamp = out_dir / "stamp.json"
    if not stamp.is_file() or not all((out_dir / name).is_file() for name in outputs):
        return False
    try:
        return json.loads(stamp.read_text()).get("hash") == digest
    except (OSError, ValueError):
        return False


def render(script: Path, out_dir: Path, args: list, what: str, prefix: str, current: Callable[[Path], bool],
           build: Callable[[Path], None], force: bool = False, in_process: bool = False) -> Path:
    """Build a fixture into out_dir unless current(out_dir); → out_dir (resolved).

    By default the build runs in a child Python, `script --out out_dir *args [--force]` (bpy can be
    imported once per process, and the build resets the scene); in_process=True builds here, under a
    per-folder lock. `what` names the fixture in the error a failed child raises; `prefix` starts the
    name of the child's temporary Blender user folder."""
    out_dir = Path(out_dir).resolve()
    if not force and current(out_dir):
        return out_dir
    if not in_process:  # the child takes the lock
        env = dict(os.environ)
        env.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix=f"{prefix}-blender-user-"))
        cmd = [sys.executable, str(script), "--out", str(out_dir), *args] + (["--force"] if force else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not current(out_dir):
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise RuntimeError(f"rendering the {what} failed (exit {proc.returncode}):\n{tail}")
        return out_dir
    with lock(out_dir):  # one build at a time per folder; a waiting caller then finds it current
        if force or not current(out_dir):
            build(out_dir)
    return out_dir


@contextlib.contextmanager
def lock(out_dir: Path):
    import fcntl

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def blender(prefix: str):
    """bpy, its user folder a temporary one unless BLENDER_USER_RESOURCES says otherwise."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix=f"{prefix}-blender-user-"))
    import bpy

    return bpy


def start_build(out_dir: Path, prefix: str):
    """bpy, with out_dir made and its stamp removed (until the build ends, the fixture is not current)."""
    bpy = blender(prefix)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "stamp.json").unlink(missing_ok=True)
    return bpy


def save_blend(bpy, path: Path) -> None:
    for old in (path, path.with_suffix(".blend1")):
        old.unlink(missing_ok=True)  # no .blend1 backup
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=True)


def finish_build(bpy, scene, out_dir: Path, video: str, params: dict, stamp: dict, extra: dict,
                 t_build: float) -> tuple:
    """Render the animation into out_dir/frames, write out_dir/<video> from it and then stamp.json
    (`stamp`, the params, the Blender version, `extra`, timings, frame count); → (frames, render seconds)."""
    frames_dir = out_dir / "frames"
    shutil.rmtree(frames_dir, ignore_errors=True)
    frames_dir.mkdir()
    scene.render.filepath = str(frames_dir) + os.sep
    t1 = time.perf_counter()
    bpy.ops.render.render(animation=True)
    t_render = time.perf_counter() - t1
    count = write_video(frames_dir, out_dir / video, params)
    if count != params["frames"]:
        raise RuntimeError(f"rendered {count} frames, expected {params['frames']}")
    (out_dir / "stamp.json").write_text(json.dumps({
        **stamp, "params": params, "blender": bpy.app.version_string, **extra,
        "build_s": round(t_build, 1), "render_s": round(t_render, 1), "frames": count,
    }, indent=1))
    return count, t_render


def write_video(frames_dir: Path, path: Path, params: dict) -> int:
    import cv2

    files = sorted(frames_dir.glob("*.png"))
    w, h = params["resolution"]
    tmp = path.with_suffix(".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), params["fps"], (w, h))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v")
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img.shape[:2] != (h, w):
            raise RuntimeError(f"{f} is {img.shape}, expected {(h, w)}")
        writer.write(img)
    writer.release()
    os.replace(tmp, path)
    return len(files)


def render_stills(bpy, scene, out_dir: Path, frames: list[int]) -> None:
    """Render video frames (0-based) to out_dir/preview_NNNN.png, printing each one's time."""
    for t in frames:
        scene.frame_set(1 + t)
        scene.render.filepath = str(out_dir / f"preview_{t:04d}.png")
        t0 = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        print(f"frame {t}: {time.perf_counter() - t0:.1f} s", flush=True)


# ---------------------------------------------------------------------------------------------------------
# Command line


def add_build_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    ap.add_argument("--preview", type=str, default=None,
                    help="comma-separated video frames to render as PNGs into --out (no cache, no video)")


def preview_frames(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


# ---------------------------------------------------------------------------------------------------------
# Scene


def rot(axis, deg):
    """3x3 rotation by `deg` degrees about `axis`."""
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    a = math.radians(deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def linear(c):
    """sRGB → linear RGBA."""
    return tuple(((v / 12.92) if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4) for v in c) + (1.0,)


def material(bpy, name, srgb, roughness=0.6):
    m = bpy.data.materials.new(name)
    if m.node_tree is None:  # Blender < 5.0
        m.use_nodes = True
    bsdf = m.node_tree.nodes.get("Principled BSDF")
    bsdf.inputs["Base Color"].default_value = linear(srgb)
    bsdf.inputs["Roughness"].default_value = roughness
    return m


def world(bpy, scene, srgb, strength) -> None:
    """A plain background colour as the scene's world."""
    w = bpy.data.worlds.new("world")
    if w.node_tree is None:  # Blender < 5.0
        w.use_nodes = True
    bg = w.node_tree.nodes.get("Background")
    bg.inputs["Color"].default_value = linear(srgb)
    bg.inputs["Strength"].default_value = strength
    scene.world = w


def cycles_settings(scene, params) -> None:
    """Cycles on the CPU with params' samples, denoise and resolution; PNG frames, Standard view."""
    w, h = params["resolution"]
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = params["samples"]
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = params["denoise"]
    scene.cycles.max_bounces = 3
    scene.cycles.diffuse_bounces = 2
    scene.cycles.glossy_bounces = 1
    scene.cycles.transmission_bounces = 0
    scene.cycles.volume_bounces = 0
    scene.cycles.transparent_max_bounces = 0
    scene.cycles.use_light_tree = False  # one sun: no use, and it costs time
    scene.render.use_persistent_data = True
    scene.render.resolution_x, scene.render.resolution_y = w, h
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.compression = 15  # higher costs ~1 s of CPU per frame
    scene.view_settings.view_transform = "Standard"


def projection(cam, params, points: np.ndarray) -> dict:
    """The camera's OpenCV intrinsics and axes, and world points (...,3) projected to pixels (x right, y
    down, origin top-left): → {"camera_matrix_world", "K", "R_world_from_cv", "image"}."""
    w, h = params["resolution"]
    f = cam.data.lens / cam.data.sensor_height * h  # vertical sensor fit, square pixels
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    cmw = np.array(cam.matrix_world)
    R_cv = cmw[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    cam_pts = (points - cmw[:3, 3]) @ R_cv  # world → OpenCV camera frame
    uv = cam_pts[..., :2] / cam_pts[..., 2:3] * f + [w / 2, h / 2]
    return {"camera_matrix_world": cmw, "K": K, "R_world_from_cv": R_cv, "image": uv}
