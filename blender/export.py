"""FBX and BVH export of one animated armature; a copy of the scene as a .blend; the output paths' checks."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile

import bpy

from ..capture.errors import ExportError
from ..capture.files import check_writable  # noqa: F401  (re-exported: checks without creating folders)

# FBX presets: axes that Unity and Unreal import upright; Blender's own defaults read back as-is.
FBX_PRESETS = {
    "unity": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_UNITS"),
    "unreal": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE"),
    "blender": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE"),
}


def prepare_output(path: str) -> None:
    """Check the path can be written (creating nothing), then make its missing folders: only now,
    when the file is about to be written."""
    check_writable(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}. Choose another folder.") from None


def _failure_reason(exc: Exception) -> str:
    """The cause in a Blender exporter's RuntimeError text (which holds the exporter's traceback): its
    last 'SomethingError: …' line, else its last line that is not Blender's 'Location: …'."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    lines = [line.removeprefix("Error: ").strip() for line in lines if not line.startswith("Location:")]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception): ", line)]
    reason = (errors or lines or [""])[-1]
    return re.sub(r"^\[Errno \d+\] ", "", reason.split(": ", 1)[1] if errors else reason)


@contextlib.contextmanager
def _output_kept_back():
    """Blender prints a failing operator's Python traceback (on stderr, and again in its report on
    stdout), and we report the failure as one message: hold both (the file descriptors, where Blender
    writes) in temporary files and pass them on only when the exporter succeeded."""
    held = []
    try:
        for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
            if stream is not None:
                stream.flush()
            saved = os.dup(fd)
            spool = tempfile.TemporaryFile()
            held.append((fd, saved, spool))
            os.dup2(spool.fileno(), fd)
    except (OSError, ValueError):
        pass  # no descriptors to hold (an embedded interpreter …): let the output through
    outcome = {"failed": False}
    try:
        yield outcome
    finally:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        for fd, saved, spool in reversed(held):
            os.dup2(saved, fd)
            os.close(saved)
            if not outcome["failed"]:
                spool.seek(0)
                text = spool.read()
                if text:
                    os.write(fd, text)
            spool.close()


def _run_exporter(kind: str, path: str, operator, **kwargs) -> str:
    """Blender's exporters raise RuntimeError (with their Python traceback text) when they fail:
    report it as an ExportError naming the file. The exporter writes a temporary file beside `path`,
    renamed over it only when complete: a failure (a full disk …) leaves no half file and keeps the
    file that was there before."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        staging = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=folder)
    except OSError as exc:
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}. Choose another folder.") from None
    tmp = os.path.join(staging, name)  # the file's own name: exporters may write it into the file
    try:
        with _output_kept_back() as outcome:
            try:
                result = operator(filepath=tmp, **kwargs)
            except RuntimeError as exc:
                outcome["failed"] = True
                reason = _failure_reason(exc)
                raise ExportError(f"{kind} export to {path} failed" + (f": {reason}" if reason else "")
                                  + ". The file there before, if any, is unchanged.") from None
            if "FINISHED" not in result:
                raise ExportError(f"{kind} export to {path} failed.")
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"{kind} export to {path} failed: {exc.strerror or exc}.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the staging folder, and the file if it was not moved
    return path


def save_blend_copy(context, path: str, frame: int) -> str:
    """A copy of the scene, at `frame`, as a .blend at `path`; the open file stays as it was. Blender writes
    `path@` and renames it over `path` only when complete, so a failure keeps the file there before (no
    staging folder here: one would break the relative paths Blender remaps on saving)."""
    prepare_output(path)
    context.scene.frame_set(frame)
    with _output_kept_back() as outcome:
        try:
            bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(path), check_existing=False, copy=True)
        except RuntimeError as exc:
            outcome["failed"] = True
            reason = _failure_reason(exc)
            raise ExportError(f"Saving {path} failed" + (f": {reason}" if reason else "")
                              + ". The file there before, if any, is unchanged.") from None
    return path


def _select_only(context, obj) -> None:
    for other in list(context.selected_objects):
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


def animated_face_meshes(obj) -> list:
    """The armature's meshes whose shape keys play an action of ours (blender/face.apply_face keyed them)."""
    from .face import face_meshes

    def ours(key):
        action = key.animation_data.action if key.animation_data is not None else None
        return action is not None and "mocap_source" in action

    return [m for m in face_meshes(obj) if ours(m.data.shape_keys)]


def export_fbx(context, obj, path: str, preset: str = "unity", meshes=None) -> str:
    """Baked animation of the armature, no leaf bones, Y-up/-Z-forward; with the meshes whose shape keys
    are animated (the face: blendshape animation; meshes=None finds them, [] leaves them out)."""
    prepare_output(path)
    _select_only(context, obj)
    meshes = animated_face_meshes(obj) if meshes is None else list(meshes)
    for mesh in meshes:
        mesh.select_set(True)
    return _run_exporter(
        "FBX", path, bpy.ops.export_scene.fbx, use_selection=True,
        object_types={"ARMATURE", "MESH"} if meshes else {"ARMATURE"},
        add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
        bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0,
        primary_bone_axis="Y", secondary_bone_axis="X", use_armature_deform_only=False,
        **FBX_PRESETS[preset])


def export_bvh(context, obj, path: str, frame_start: int, frame_end: int) -> str:
    """BVH with the scene's fps (the caller sets it to the video's, so Frame Time = 1/video fps)."""
    prepare_output(path)
    _select_only(context, obj)
    return _run_exporter("BVH", path, bpy.ops.export_anim.bvh, frame_start=frame_start, frame_end=frame_end,
                         rotate_mode="NATIVE", root_transform_only=False)
