"""Parallel capture (capture/parallel.py) gives the single path's frames: the same count, order, first
frame and timestamps, the same detections, and landmarks within the model's own frame-to-frame noise
(each segment's landmarker is a separate run: after the warm-up it tracks the same person but is not
bit-identical). Cancel, worker errors, the headless command's --workers. No timing assertions."""
import multiprocessing
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT
from videos import ffmpeg

from video_mocap.capture.errors import Cancelled, ModelError, VideoError
from video_mocap.capture.parallel import (
    capture_parallel,
    default_overlap,
    equal_split,
    plan_segments,
    python_executable,
    usable_cores,
)
from video_mocap.capture.segment import capture_video
from video_mocap.capture.track import PoseTrack

OVERLAP = 10
KEYS = ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms")


def noise(track: PoseTrack, key: str = "world_landmarks") -> float:
    """The model's own frame-to-frame noise: median |second difference| of a single run."""
    x = getattr(track, key)[..., :2] if key == "image_landmarks" else getattr(track, key)
    return float(np.median(np.abs(x[2:] - 2 * x[1:-1] + x[:-2])))


def boundaries(track: PoseTrack) -> list[int]:
    return [start - track.first_frame for _, start, _ in track.extra["parallel"]["segments"][1:]]


@pytest.fixture(scope="module")
def single(sample_video, full_model):
    # The sample has 100 frames: too short to repay a second worker by default, so this is capture_video.
    return capture_parallel(sample_video, "full", workers=2)


@pytest.fixture(scope="module")
def parallel(sample_video, full_model):
    try:  # the parent has bpy loaded, as in Blender and the headless command: the workers must not
        import bpy  # noqa: F401
    except ImportError:
        pass
    # seek_beyond=20: the second worker seeks (checked against the first worker's last frames).
    return capture_parallel(sample_video, "full", workers=2, overlap=OVERLAP, min_frames_per_worker=10,
                            seek_beyond=20)


def test_short_clips_use_one_worker(single):
    assert single.extra["workers"] == 1 and "parallel" not in single.extra


def test_one_isolated_worker_is_the_single_path_in_another_process(sample_video, single):
    alone = capture_parallel(sample_video, "full", workers=1, isolate=True)
    assert alone.extra["workers"] == 1 and alone.extra["parallel"]["workers"][0]["pid"] != os.getpid()
    for key in KEYS:
        np.testing.assert_array_equal(getattr(alone, key), getattr(single, key), err_msg=key)
    assert alone.extra["people_max"] == single.extra["people_max"]


def test_same_frames_order_and_timestamps(single, parallel):
    assert parallel.extra["workers"] == 2
    assert len(parallel) == len(single) == 100 and parallel.first_frame == single.first_frame == 0
    assert (parallel.fps, parallel.frame_size, parallel.source, parallel.model) == \
        (single.fps, single.frame_size, single.source, single.model)
    np.testing.assert_array_equal(parallel.timestamps_ms, single.timestamps_ms)
    assert np.all(np.diff(parallel.timestamps_ms) > 0)
    assert parallel.extra["parallel"]["seeked"] == [False, True] and parallel.extra["parallel"]["redone_from"] is None
    segments = parallel.extra["parallel"]["segments"]
    assert segments[0][1] == 0 and segments[-1][2] == 100
    assert all(a[2] == b[1] and b[0] == b[1] - OVERLAP for a, b in zip(segments, segments[1:]))
    for key in ("people_max", "identity_jumps"):
        assert parallel.extra[key] == single.extra[key]
    parallel.validate()


def test_first_segment_is_the_single_run(single, parallel):
    b = boundaries(parallel)[0]
    for key in KEYS:
        np.testing.assert_array_equal(getattr(parallel, key)[:b], getattr(single, key)[:b], err_msg=key)


def test_later_segments_within_the_models_own_noise(single, parallel):
    b = boundaries(parallel)[0]
    warm = np.zeros(len(single), bool)
    warm[b:b + OVERLAP] = True  # detections may differ just after a restart (they do not on this clip)
    assert np.array_equal(parallel.detected[~warm], single.detected[~warm])
    for key in ("world_landmarks", "image_landmarks"):
        x = getattr(single, key)[..., :2] if key == "image_landmarks" else getattr(single, key)
        y = getattr(parallel, key)[..., :2] if key == "image_landmarks" else getattr(parallel, key)
        diff = float(np.nanmedian(np.abs(y[b:] - x[b:])))
        # Within the model's own frame-to-frame noise. The boundary moves with the workers' measured
        # speeds (load balancing), so the figure varies from run to run: seen 0.6-1.003 x the noise.
        assert diff <= 1.25 * noise(single, key), (key, diff, noise(single, key))
        # No visible seam: the step across the boundary is no bigger than the single run's steps.
        steps = np.nanmedian(np.abs(np.diff(x, axis=0)), axis=(1, 2))
        assert np.nanmedian(np.abs(y[b] - y[b - 1])) <= steps.max(), key


def test_frame_range_with_three_workers(sample_video, full_model):
    one = capture_video(sample_video, "full", start=10, stop=90)
    three = capture_parallel(sample_video, "full", start=10, stop=90, workers=3, overlap=5, min_frames_per_worker=10,
                             seek_beyond=None)  # every worker decodes from the start (grab)
    assert three.extra["workers"] == 3 and len(three.extra["parallel"]["segments"]) == 3
    assert three.extra["parallel"]["seeked"] == [False, False, False]
    assert len(three) == len(one) == 80 and three.first_frame == one.first_frame == 10
    np.testing.assert_array_equal(three.timestamps_ms, one.timestamps_ms)
    assert np.array_equal(three.detected, one.detected)
    b = boundaries(three)[0]
    np.testing.assert_array_equal(three.world_landmarks[:b], one.world_landmarks[:b])


def test_variable_frame_rate_keeps_container_timestamps(sample_video, full_model, tmp_path):
    """On a variable frame rate video OpenCV's seek lands on the wrong frame: the check catches it and
    that segment is captured again, decoding from the start; timestamps stay the container's."""
    import cv2

    vfr = tmp_path / "vfr.mp4"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(sample_video), "-vf",
                    "select='lt(n\\,20)+not(mod(n\\,3))'", "-fps_mode", "vfr", "-c:v", "mpeg4", "-q:v", "4",
                    str(vfr)], check=True)
    one = capture_video(vfr, "full")
    assert np.diff(one.timestamps_ms).max() >= 45  # really variable: every third frame kept after frame 20
    # overlap 1: the second worker seeks to frame 22 (the equal split, 23, minus the overlap)
    two = capture_parallel(vfr, "full", workers=2, overlap=1, min_frames_per_worker=10, seek_beyond=10)
    assert two.extra["workers"] == 2
    np.testing.assert_array_equal(two.timestamps_ms, one.timestamps_ms)
    assert np.array_equal(two.detected, one.detected)
    cap = cv2.VideoCapture(str(vfr), cv2.CAP_FFMPEG)
    cap.set(cv2.CAP_PROP_POS_FRAMES, 22)
    cap.read()
    if cap.get(cv2.CAP_PROP_POS_MSEC) != one.timestamps_ms[22]:  # this OpenCV does seek to the wrong frame
        assert two.extra["parallel"]["redone_from"] == 1


def test_cancel_keeps_nothing_or_the_frames_from_the_start(sample_video, single, full_model):
    def cancel_after(rows):
        seen = [0]
        return (lambda done, total, fps: seen.__setitem__(0, done)), (lambda: seen[0] >= rows)

    progress, should_cancel = cancel_after(20)
    with pytest.raises(Cancelled, match="nothing was kept"):
        capture_parallel(sample_video, "full", workers=2, overlap=OVERLAP, min_frames_per_worker=10,
                         progress=progress, should_cancel=should_cancel)
    assert not multiprocessing.active_children()

    progress, should_cancel = cancel_after(20)
    part = capture_parallel(sample_video, "full", workers=2, overlap=OVERLAP, min_frames_per_worker=10,
                            progress=progress, should_cancel=should_cancel, keep_partial=True)
    assert part.extra["cancelled"] and 0 < len(part) < len(single) and part.first_frame == 0
    np.testing.assert_array_equal(part.timestamps_ms, single.timestamps_ms[:len(part)])
    np.testing.assert_array_equal(part.world_landmarks, single.world_landmarks[:len(part)])
    assert not multiprocessing.active_children()

    with pytest.raises(VideoError, match="No frames could be decoded"):  # as capture_video: cancelled at once
        capture_parallel(sample_video, "full", workers=2, min_frames_per_worker=10, should_cancel=lambda: True,
                         keep_partial=True)


def test_a_worker_error_reaches_the_caller(sample_video, tmp_path):
    fake = tmp_path / "fake.task"  # passes the bundle check, fails to load in the workers
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("pose_detector.tflite", b"not a model")
        zf.writestr("pose_landmarks_detector.tflite", b"not a model")
    with pytest.raises(ModelError, match="Cannot load model"):
        capture_parallel(sample_video, "full", model_path=fake, workers=2, min_frames_per_worker=10)
    assert not multiprocessing.active_children()


def test_workers_import_only_the_capture_package(parallel):
    workers = parallel.extra["parallel"]["workers"]
    assert len(workers) == 2 and all(w["foreign_modules"] == [] for w in workers)


def test_workers_start_whatever_the_package_is_called(sample_video, full_model):
    """Inside Blender the extension is `bl_ext.<repository>.video_mocap`, a name a fresh interpreter
    cannot import: the workers import the capture folder by path, so any name works."""
    import importlib.util
    import types

    name = "bl_ext_test.user_default.video_mocap"
    for parent in ("bl_ext_test", "bl_ext_test.user_default"):
        sys.modules.setdefault(parent, types.ModuleType(parent)).__path__ = []
    spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        parallel = importlib.import_module(name + ".capture.parallel")
        track = parallel.capture_parallel(sample_video, "full", stop=40, workers=2, overlap=5, min_frames_per_worker=10)
        assert track.extra["workers"] == 2 and len(track) == 40 and track.detected.all()
        assert all(w["foreign_modules"] == [] for w in track.extra["parallel"]["workers"])
    finally:
        for key in [k for k in sys.modules if k.startswith("bl_ext_test")]:
            del sys.modules[key]


def test_headless_command_with_two_workers(sample_video, full_model, tmp_path):
    clip = tmp_path / "pingpong.mp4"  # 200 frames: long enough for two workers by default
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(sample_video), "-filter_complex",
                    "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-c:v", "mpeg4",
                    "-q:v", "4", str(clip)], check=True)

    def run(workers, out):
        proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), str(clip), "--workers", str(workers),
                               "--landmarks", str(out)], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        return proc.stderr

    log2 = run(2, tmp_path / "two.npz")
    log1 = run(1, tmp_path / "one.npz")
    assert "captured with 2 worker processes" in log2 and "worker processes" not in log1
    one, two = PoseTrack.load(tmp_path / "one.npz"), PoseTrack.load(tmp_path / "two.npz")
    assert len(one) == len(two) == 200 and one.first_frame == two.first_frame == 0
    np.testing.assert_array_equal(two.timestamps_ms, one.timestamps_ms)
    assert np.array_equal(two.detected, one.detected)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), str(clip), "--workers", "0"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "--workers must be 1 or more" in proc.stderr


@pytest.mark.parametrize("first,last,workers,overlap,ratio", [
    (0, 100, 2, 0, 0.0), (0, 100, 2, 10, 0.0), (0, 18000, 2, 15, 0.2), (500, 18000, 4, 15, 0.3),
    (0, 1000, 3, 15, 0.9), (7, 20, 2, 15, 0.2)])
def test_plan_segments_cover_the_range_and_balance_the_work(first, last, workers, overlap, ratio):
    plan = plan_segments(first, last, workers, overlap, ratio)
    assert len(plan) == workers and plan[0][:2] == (first, first) and plan[-1][2] == last
    lower = equal_split(first, last, workers)
    for k, (warm, start, stop) in enumerate(plan):
        assert start < stop and warm == max(first, start - overlap) and start >= lower[k]
        if k:
            assert start == plan[k - 1][2]
    cost = [ratio * warm + (stop - warm) for warm, _, stop in plan]
    if overlap == 0 and ratio == 0:
        assert [p[1] for p in plan] + [last] == lower
    elif last - first > 100 * workers:
        assert max(cost) - min(cost) <= 2, cost


def test_defaults():
    assert usable_cores() >= 1
    assert default_overlap(30) == 15 and default_overlap(60) >= 15
    assert python_executable() == sys.executable  # plain Python and the bpy module: the interpreter itself


def test_python_executable_inside_blender(monkeypatch, tmp_path):
    """In a Blender whose sys.executable is Blender itself, workers run the bundled Python."""
    bundled = tmp_path / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    bundled.parent.mkdir()
    bundled.write_text("")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "blender"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert python_executable() == str(bundled)


def test_capture_job_uses_worker_processes(tmp_path):
    """The panel's background job with two workers (the preference) gives the single path's frames."""
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    sample = ROOT / "samples" / "cam01.mp4"
    single = CaptureJob(CaptureRequest(str(sample), stop=100, workers=1)).run().track
    status = CaptureJob(CaptureRequest(str(sample), stop=100, workers=2, min_frames_per_worker=30)).start().wait(600)
    assert status.error is None, status.error
    track = status.track
    assert track.extra["workers"] == 2
    assert len(track) == len(single) and (track.timestamps_ms == single.timestamps_ms).all()
    assert track.detected.all() and status.done == 100
