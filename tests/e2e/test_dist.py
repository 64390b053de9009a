"""The installable extension zips (make dist): contents, Blender's validator, wheel choice per Blender,
and a real install + capture + apply + uninstall in a Python that has bpy but no MediaPipe/OpenCV.

The install test needs the clean venvs that `make test-dist` creates (.cache/venv-clean: bpy 5.0.1,
.cache/venv-clean-lts: bpy 4.2.23 LTS, and /opt/venv-clean in the Debian trixie root .cache/trixie/root:
bpy 5.2.3, the 5.2 LTS, whose Python 3.13 the host lacks, run through tools/chroot_run.sh as root);
without one, its case is skipped with that reason.
"""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

_spec = importlib.util.spec_from_file_location("build_dist", ROOT / "tools" / "build_dist.py")
build_dist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_dist)

DIST = ROOT / "dist"
TRIXIE = ROOT / ".cache" / "trixie"
# Blender -> (the marker the Makefile writes when its Python is ready, the command that runs that Python).
CLEAN_PYTHONS = {
    "bpy-5.0": (ROOT / ".cache" / "venv-clean" / ".done", [str(ROOT / ".cache" / "venv-clean" / "bin" / "python")]),
    "bpy-4.2-lts": (ROOT / ".cache" / "venv-clean-lts" / ".done",
                    [str(ROOT / ".cache" / "venv-clean-lts" / "bin" / "python")]),
    "bpy-5.2-lts-trixie": (TRIXIE / ".done", [str(ROOT / "tools" / "chroot_run.sh"), str(TRIXIE / "root"),
                                              "/opt/venv-clean/bin/python"]),
}
INSTALL_CHECK = ROOT / "tools" / "dist_install_check.py"
# Never in a zip: other OpenCV builds (GUI), JAX, numpy (Blender's own), packages the pose path does not import.
FORBIDDEN_WHEELS = ("opencv_python-", "opencv_contrib", "jax", "numpy", "absl", "flatbuffers", "sounddevice",
                    "contourpy", "certifi")


def clean_python(name: str) -> list[str]:
    """The command that runs the Python of a clean bpy (in the trixie root: through tools/chroot_run.sh,
    which sees the repository at the same path, so the zips, the sample and the tools keep their paths)."""
    done, command = CLEAN_PYTHONS[name]
    if not done.exists():
        pytest.skip(f"{done.parent.relative_to(ROOT)} missing: 'make test-dist' creates it")
    return command


@pytest.fixture(scope="module")
def built():
    """Build (or find up to date) every platform's zip with tools/build_dist.py, as `make dist` does."""
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_dist.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    zips = {p: DIST / build_dist.zip_name(manifest, p) for p in build_dist.PLATFORMS}
    for path in zips.values():
        assert path.exists(), proc.stdout[-3000:]
    return zips, proc.stdout


@pytest.fixture(scope="module")
def lock():
    return json.loads(build_dist.LOCK.read_text())


def read_manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return tomllib.loads(zf.read("blender_manifest.toml").decode())


def run_blender_ext(python, *commands):
    script = ("import json, sys, bpy\n"
              "from bl_pkg.bl_extension_cli import cli_extension_handler\n"
              "print(json.dumps([cli_extension_handler(a) for a in json.loads(sys.argv[1])]))\n")
    command = python if isinstance(python, list) else [str(python)]
    proc = subprocess.run([*command, "-c", script, json.dumps(commands)], capture_output=True, text=True,
                          timeout=300, env=os.environ | {"NO_COLOR": "1"}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout


def test_every_zip_is_built_and_passes_blenders_validator(built):
    zips, log = built
    for path in zips.values():
        assert f'validate {path.name}: Success parsing TOML in "{path}"' in log
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")


def test_zip_contents(built, lock):
    zips, _ = built
    models_lock = json.loads((ROOT / "tools" / "models.lock.json").read_text())["task_sha256"]
    runtime = set(build_dist.runtime_files())
    for platform, path in zips.items():
        manifest = read_manifest(path)
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            # The manifest: platforms declared, wheels with forward slashes, this platform's set generated.
            assert manifest["platforms"] == list(build_dist.PLATFORMS)
            assert manifest["build"]["generated"]["platforms"] == [platform]
            for wheel in manifest["wheels"]:
                assert wheel.startswith("./wheels/") and "\\" not in wheel
            wheels = {n for n in names if n.startswith("wheels/")}
            expected = {w for py in build_dist.PYTHONS for w in lock["sets"][platform][py]}
            assert {w.rpartition("/")[2] for w in wheels} == expected
            assert {w.removeprefix("./") for w in manifest["build"]["generated"]["wheels"]} == wheels
            for wheel in wheels:  # unmodified: byte for byte the locked file
                data = zf.read(wheel)
                assert hashlib.sha256(data).hexdigest() == lock["wheels"][wheel.rpartition("/")[2]]["sha256"]
                assert not wheel.removeprefix("wheels/").startswith(FORBIDDEN_WHEELS), wheel
            # The models, byte for byte the built ones.
            for name, digest in models_lock.items():
                assert hashlib.sha256(zf.read(f"models/{name}")).hexdigest() == digest
            # The runtime files (code and models) and nothing from development.
            assert names == runtime | wheels | {"blender_manifest.toml"}, sorted(names ^ (runtime | wheels))
            for name in names:
                assert not name.startswith(("tests/", "tools/", "samples/", "out/", ".")), name
                assert "__pycache__" not in name and not name.endswith((".pyc", ".zip")), name
            assert "cli.py" in names and "batch.py" in names  # blender -c video_mocap


def test_blender_installs_one_wheel_per_package_for_each_python(built, lock):
    """Blender's own wheel filter, run for every platform and Python version, picks the locked set."""
    zips, _ = built
    script = r"""
import json, sys, sysconfig, zipfile, tomllib, bpy
from bl_pkg.bl_extension_ops import _extensions_wheel_filter_for_this_system as pick
SYSTEM = {"linux-x64": "linux-x86_64", "macos-arm64": "macosx-11.0-arm64", "windows-x64": "win-amd64"}
out = {}
real_platform, real_version = sysconfig.get_platform, sys.version_info
for platform, path in json.loads(sys.argv[1]).items():
    with zipfile.ZipFile(path) as zf:
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    wheels = manifest["build"]["generated"]["wheels"]
    for python in json.loads(sys.argv[2]):
        sysconfig.get_platform = lambda: SYSTEM[platform]
        sys.version_info = tuple(int(v) for v in python.split(".")) + (0, "final", 0)
        try:
            out[f"{platform} {python}"] = sorted(w.rpartition("/")[2] for w in pick(wheels))
        finally:
            sysconfig.get_platform, sys.version_info = real_platform, real_version
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script, json.dumps({p: str(z) for p, z in zips.items()}),
                           json.dumps(list(build_dist.PYTHONS))], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    picked = json.loads(proc.stdout.strip().splitlines()[-1])
    bundled = {build_dist.normalise(r["name"]) for r in build_dist.REQUIREMENTS}
    for platform in build_dist.PLATFORMS:
        for python in build_dist.PYTHONS:
            chosen = picked[f"{platform} {python}"]
            assert chosen == sorted(lock["sets"][platform][python])
            names = [lock["wheels"][w]["name"] for w in chosen]
            assert sorted(names) == sorted(bundled), (platform, python, chosen)


def test_validator_checks_the_tags(built, tmp_path):
    """The staged manifest passes Blender's validator; the same with a tag Blender does not know fails."""
    stage = ROOT / ".cache" / "dist" / "stage" / build_dist.PACKAGE
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "__init__.py").write_text("")
    text = (stage / "blender_manifest.toml").read_text()
    assert 'tags = ["Animation", "Rigging"]' in text
    (bad / "blender_manifest.toml").write_text(text.replace('"Rigging"', '"Mocap Magic"'))
    codes, log = run_blender_ext(sys.executable, ["validate", str(stage)], ["validate", str(bad)])
    assert codes[0] == 0 and f'Success parsing TOML in "{stage}"' in log
    assert codes[1] != 0 and "Mocap Magic" in log


@pytest.mark.parametrize("blender", ["bpy-4.2-lts", "bpy-5.2-lts-trixie"])
def test_zips_pass_the_validator_of_the_lts_blenders(built, blender):
    zips, _ = built
    python = clean_python(blender)
    codes, log = run_blender_ext(python, *(["validate", str(p)] for p in zips.values()))
    assert codes == [0] * len(zips), log


@pytest.fixture(scope="module", params=list(CLEAN_PYTHONS))
def installed(request, built):
    """Install the linux zip in a clean bpy, capture 10 frames, apply, uninstall: the JSON report."""
    python = clean_python(request.param)
    if not SAMPLE.exists():
        pytest.fail(f"{SAMPLE} missing: 'make sample' fetches it")
    zips, _ = built
    proc = subprocess.run([*python, str(INSTALL_CHECK), str(zips["linux-x64"]), str(SAMPLE),
                           "--frames", "0:10", "--model", "full"], capture_output=True, text=True, timeout=900,
                          cwd=ROOT)
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {"ok": False, "error": "no report"}
    assert proc.returncode == 0 and report["ok"], f"{report.get('error')}\n{proc.stderr[-4000:]}"
    return report


def test_install_capture_apply_uninstall_with_only_the_bundled_wheels(installed, lock):
    report = installed
    # Only the wheels for this Blender's Python were installed; mediapipe, cv2, matplotlib came from them.
    for module, origin in report["origins"].items():
        assert origin.startswith(f"lib/python{report['python'].rsplit('.', 1)[0]}/site-packages/{module}/")
    assert report["versions"] == {"mediapipe": "1.2.2", "cv2": "4.11.0", "matplotlib": "3.11.2"}
    assert report["model"] == "video_mocap/models/pose_landmarker_full.task"
    assert report["capture_status"] == "10 frames, person in 100%"
    action = report["action"]
    assert action["keyframes"] >= 10 * 17 and action["frames"] == [1.0, 10.0]
    # Uninstall: dist_install_check asserts the package folder and the bundled packages are gone; what is
    # left in Blender's user folder is Blender's own extension cache.
    assert all(p.startswith("extensions/.cache/") for p in report["left_in_user_folder"]), \
        report["left_in_user_folder"]


def test_nothing_is_left_in_home(installed):
    # matplotlib (imported by mediapipe) would cache fonts in ~/.cache: register() points it at the
    # extension's user folder, which uninstall removes.
    assert not installed["left_in_home"]
