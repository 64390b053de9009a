"""Install an extension zip into a fresh Blender user folder, capture + apply, uninstall; report as JSON.

    PYTHON tools/dist_install_check.py ZIP VIDEO [--frames 0:10] [--model full]

Run by tests/e2e/test_dist.py with the Python of a venv that has bpy and none of the bundled packages
(make test-dist creates .cache/venv-clean), so the capture can only work with the zip's own wheels.
Blender's user folder (BLENDER_USER_RESOURCES) and HOME are pointed at temporary folders: the
machine's own Blender set-up is never touched. The last line on stdout is the JSON report; every
check that fails raises, and the exit code is non-zero.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

BUNDLED_MODULES = ("mediapipe", "cv2", "matplotlib", "PIL", "kiwisolver", "fontTools", "cycler", "pyparsing",
                   "dateutil", "packaging")
NOT_BUNDLED = ("absl", "flatbuffers", "contourpy", "sounddevice", "jax")
PKG_ID = "video_mocap"
REPO = "user_default"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def run(zip_path: Path, video: Path, frames: tuple[int, int], model: str, work: Path) -> dict:
    report: dict = {"zip": str(zip_path), "python": sys.version.split()[0]}
    # 1. The environment really lacks what the zip bundles.
    present = [m for m in BUNDLED_MODULES + NOT_BUNDLED if importlib.util.find_spec(m) is not None]
    assert not present, f"this Python already has {present}: use a venv with bpy only"

    user = Path(os.environ["BLENDER_USER_RESOURCES"])
    before = files_under(user)
    import bpy  # after BLENDER_USER_RESOURCES is set

    report["blender"] = bpy.app.version_string
    repos = bpy.context.preferences.extensions.repos
    repo_index = next(i for i, r in enumerate(repos) if r.module == REPO)
    repo_dir = Path(repos[repo_index].directory)
    local = Path(bpy.utils.user_resource("EXTENSIONS")) / ".local"
    assert not (repo_dir / PKG_ID).exists()

    # 2. Install and enable, the way a user's "Install from Disk" does.
    say(f"installing {zip_path.name} into {repo_dir}")
    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo=REPO, enable_on_install=True)
    assert result == {"FINISHED"}, result
    module = f"bl_ext.{REPO}.{PKG_ID}"
    assert module in bpy.context.preferences.addons, "the extension is not enabled after install"
    pkg_dir = repo_dir / PKG_ID
    assert (pkg_dir / "__init__.py").exists() and (pkg_dir / "blender_manifest.toml").exists()
    installed = files_under(pkg_dir)
    report["installed_files"] = len(installed)
    report["installed_wheels"] = sorted(p.rpartition("/")[2] for p in installed if p.endswith(".whl"))

    # 3. The bundled packages come from the extension's own site-packages.
    import cv2
    import matplotlib
    import mediapipe
    from mediapipe.tasks.python import vision  # noqa: F401  (imports matplotlib.pyplot)

    origins = {}
    for mod in (mediapipe, cv2, matplotlib):
        path = Path(mod.__file__).resolve()
        assert path.is_relative_to(local.resolve()), f"{mod.__name__} imported from {path}, not from {local}"
        origins[mod.__name__] = str(path.relative_to(local.resolve()))
    report["origins"] = origins
    report["versions"] = {"mediapipe": mediapipe.__version__, "cv2": cv2.__version__,
                          "matplotlib": matplotlib.__version__}
    site = [p for p in local.rglob("site-packages") if p.is_dir()]
    report["site_packages"] = [str(p.relative_to(user)) for p in site]
    report["site_packages_entries"] = sorted({e.name for s in site for e in s.iterdir()})

    # 4. The models are found inside the installed package (no network, no repository).
    models = sys.modules[f"{module}.capture.models"]
    model_path = Path(models.resolve_model(model)).resolve()
    assert model_path.is_relative_to(pkg_dir.resolve()), model_path
    report["model"] = str(model_path.relative_to(repo_dir.resolve()))

    # 5. Capture + apply with the operators, as in the panel.
    scene = bpy.context.scene
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.cache_dir = str(work / "landmarks")
    settings = scene.video_mocap
    settings.video_path = str(video)
    settings.model = model
    settings.use_frame_range = True
    settings.frame_first, settings.frame_last = frames
    say(f"capturing frames {frames[0]}:{frames[1]} of {video.name} with the {model} model")
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}, settings.status
    report["capture_status"] = settings.status
    track_path = Path(bpy.path.abspath(settings.track_path))
    assert track_path.is_file() and track_path.is_relative_to(work), track_path
    assert bpy.ops.video_mocap.add_metarig() == {"FINISHED"}
    rig = bpy.context.active_object
    assert rig is not None and rig.type == "ARMATURE"
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    action = rig.animation_data.action if rig.animation_data else None
    assert action is not None, "no Action on the rig after Apply"
    curves = sys.modules[f"{module}.blender.action"].action_fcurves(action, rig)
    keys = [k.co[0] for fc in curves for k in fc.keyframe_points]
    assert curves and keys, "the Action has no keyframes"
    report["action"] = {"name": action.name, "fcurves": len(curves), "keyframes": len(keys),
                        "frames": [min(keys), max(keys)]}

    # 6. Uninstall: the package, its wheels and its user folder go.
    repo_index = next(i for i, r in enumerate(bpy.context.preferences.extensions.repos) if r.module == REPO)
    say("uninstalling")
    result = bpy.ops.extensions.package_uninstall(repo_index=repo_index, pkg_id=PKG_ID)
    assert result == {"FINISHED"}, result
    assert module not in bpy.context.preferences.addons, "still enabled after uninstall"
    assert not pkg_dir.exists(), f"{pkg_dir} is still there after uninstall"
    left_site = sorted({e.name for s in site if s.exists() for e in s.iterdir()})
    assert not left_site, f"bundled packages left in the extensions' site-packages: {left_site}"
    after = files_under(user)
    report["left_in_user_folder"] = sorted(after - before)
    leftovers = [p for p in after - before
                 if PKG_ID in p or p.endswith((".whl", ".py", ".pyc", ".so", ".pyd", ".task"))]
    assert not leftovers, f"left behind in the Blender user folder: {leftovers[:20]}"
    report["left_in_home"] = sorted(files_under(Path(os.environ["HOME"])))
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("zip", type=Path)
    parser.add_argument("video", type=Path)
    parser.add_argument("--frames", default="0:10")
    parser.add_argument("--model", default="full")
    args = parser.parse_args()
    first, last = (int(v) for v in args.frames.split(":"))
    with tempfile.TemporaryDirectory(prefix="mocap-dist-check-") as tmp:
        work = Path(tmp).resolve()
        os.environ["BLENDER_USER_RESOURCES"] = str(work / "blender-user")
        os.environ["HOME"] = str(work / "home")
        for key in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR", "PYTHONPATH", "PYTHONUSERBASE"):
            os.environ.pop(key, None)
        (work / "home").mkdir()
        code = 0
        try:
            report = run(args.zip.resolve(), args.video.resolve(), (first, last), args.model, work)
            report["ok"] = True
        except BaseException as exc:  # report, then leave without interpreter teardown (bpy + MediaPipe)
            import traceback

            traceback.print_exc()
            report = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
            code = 1
        print(json.dumps(report), flush=True)
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
