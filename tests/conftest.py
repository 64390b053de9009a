"""Test set-up: the repository root is the extension package; import it as `video_mocap`.

bpy writes into the user's Blender folder unless told otherwise: point it at a temporary one.
"""
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tiers: tests/unit (no bpy, no models: seconds), tests/blender (Blender as the bpy module),
# tests/e2e (real models, videos, the headless command, the extension zips). Shared helpers live here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="mocap-blender-user-"))


def load_package():
    """The repository root as the `video_mocap` package (cli.py's loader)."""
    import runpy

    return runpy.run_path(str(ROOT / "cli.py"))["load_package"]()


load_package()

SHARED = ROOT.parent / "shared" / "data" / "pose2sim_demo"
SAMPLE = ROOT / "samples" / "cam01.mp4"
FULL_MODEL = ROOT / "models" / "pose_landmarker_full.task"


def existing(path: Path, fix: str, skip: bool = False) -> Path:
    """`path` when it exists; else the test fails (skips, with skip=True) with "<path> missing: <fix>"."""
    if not path.exists():
        (pytest.skip if skip else pytest.fail)(f"{path} missing: {fix}")
    return path


@pytest.fixture(scope="session")
def sample_video():
    return existing(SAMPLE, "'make test' fetches it (make sample)")


@pytest.fixture(scope="session")
def full_model():
    return existing(FULL_MODEL, "'make test' builds it (make models)")


def saved_and_loaded(track, path):
    """`track` saved to `path` and loaded back → (the names of the arrays in the file, the loaded track)."""
    import numpy as np

    from video_mocap.capture.track import PoseTrack

    path = track.save(path)
    with np.load(path) as data:
        files = set(data.files)
    return files, PoseTrack.load(path)


def check_default_beats_raw(raw, truth, label: str, bounds: tuple) -> None:
    """Issue 13's promise, measured like the benchmark (tools/bench_accuracy.py): the default processing
    (pipeline.clean: flips, fusion, smoothing) of the raw track against truth joints (T,12,3) in any frame
    must have limb-direction error and PA-MPJPE at most bounds = (dir, PA) × the raw detector's, no
    left/right swap, and jitter at most 1.5 × the truth's."""
    from video_mocap.pipeline import Options, clean

    bench = load_tool("bench_accuracy")
    n = min(len(raw), len(truth))
    raw, truth = raw.sliced(0, n), truth[:n]
    before = bench.metrics(bench.joints_from_track(raw), truth)
    after = bench.metrics(bench.joints_from_track(clean(raw, Options())), truth)
    ratios = (after["dir"] / before["dir"], after["pampjpe"] / before["pampjpe"])
    print(f"\n{label}: dir {before['dir']:.1f} → {after['dir']:.1f}°, PA-MPJPE {before['pampjpe']:.0f} → "
          f"{after['pampjpe']:.0f} mm ({ratios[0]:.3f} / {ratios[1]:.3f}); jitter {after['jitter']:.1f} "
          f"(truth {after['ref_jitter']:.1f}); swaps {after['lr']}")
    assert ratios[0] <= bounds[0] and ratios[1] <= bounds[1], ratios
    assert after["lr"] == 0
    assert after["jitter"] <= 1.5 * after["ref_jitter"]


def load_tool(name: str):
    """tools/<name>.py loaded by path as a module called `name` (the fixture renderers, the benchmarks)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def procrustes_error(pred, true):
    """(N,3) each → (N,) distances after the best similarity transform (rotation, translation, scale) of
    pred onto true: the per-joint terms of PA-MPJPE (the hand fixtures' measure)."""
    import numpy as np

    a, b = pred - pred.mean(0), true - true.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    scale = np.trace(np.diag(s) @ D) / np.sum(a ** 2)
    return np.linalg.norm(scale * a @ (u @ D @ vt) - b, axis=1)


@pytest.fixture
def scene():
    """An empty Blender scene (factory settings) with the add-on registered; unregistered afterwards.
    A test module may define its own `scene` (for instance module-scoped) instead."""
    import bpy

    import video_mocap

    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    yield bpy.context.scene
    video_mocap.unregister()


REAL_FOOTAGE = "test_real_footage.py"
_real_footage_skips: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The real-footage tests may skip only when the Pose2Sim demo data is absent: with the data there,
    a skip (a missing model or camera video, a skip inside a test) fails the run."""
    outcome = yield
    report = outcome.get_result()
    if item.path.name != REAL_FOOTAGE or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if SHARED.is_dir():
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} skipped although {SHARED} is present: {reason}"
    else:
        _real_footage_skips.append(item.nodeid)


def pytest_terminal_summary(terminalreporter):
    if _real_footage_skips:
        terminalreporter.write_line(f"real-footage tests: {len(_real_footage_skips)} skipped, the Pose2Sim demo "
                                    f"data is not in {SHARED} (see tests/e2e/test_real_footage.py)", yellow=True)


_exit_status = None


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config):
    """With bpy 4.2 and MediaPipe loaded in one process, interpreter teardown can segfault after the
    run has finished and reported: leave straight away with pytest's own exit status."""
    if "bpy" in sys.modules and _exit_status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
