"""Issue 19's wider matrix (the rest of test_robustness.py's): odd videos, files that change under the
capture, bone-map files, and faults (a full disk, cancel then again). Each case: a clear message or a
correct result, no traceback, the user's data untouched, no half-written file. Clips are tiny (a few
frames, small sizes) except where size is the point, and then only a few frames are captured."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ROOT
from videos import ffmpeg, with_rotation

from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")

SMALL = "scale=270:480"  # the sample is 1080x1920 at 60 fps: a quarter of it is plenty for the detector


def cli(*args, timeout=600):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--workers", "1", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def last_line(proc):
    return proc.stderr.strip().splitlines()[-1]


def run_ffmpeg(*args):
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", *map(str, args)], check=True)


def encode(src, dst, *filters, vf=SMALL, frames=None):
    run_ffmpeg("-i", src, *(["-frames:v", str(frames)] if frames else []), *(["-vf", vf] if vf else []), *filters,
               "-an", "-c:v", "mpeg4", "-q:v", "3", dst)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sample_video):
    d = tmp_path_factory.mktemp("matrix")
    c = {"up": encode(sample_video, d / "up.mp4", frames=4)}
    # Phones store the frames turned and flag how to turn them upright (display rotation, degrees ccw).
    for degrees, turn in ((90, "transpose=1"), (180, "hflip,vflip"), (270, "transpose=2")):
        stored = encode(sample_video, d / f"stored{degrees}.mp4", frames=4, vf=f"{SMALL},{turn}")
        c[f"rot{degrees}"] = with_rotation(stored, d / f"rot{degrees}.mp4", degrees)
    c["4k60"] = encode(sample_video, d / "4k60.mp4", "-r", "60", frames=3, vf="scale=2160:3840")
    # Slow motion: the same frames stamped 240 per second.
    c["240"] = encode(sample_video, d / "240.mp4", "-r", "240", frames=6, vf=f"{SMALL},setpts=PTS/4")
    # Ten minutes, tiny and static: cheap to make, long to capture (only a few frames are).
    c["10min"] = d / "10min.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=64x64:r=25:d=600", "-c:v", "mpeg4", "-q:v", "10", c["10min"])
    c["black_start"] = encode(sample_video, d / "black_start.mp4", frames=20,
                              vf=f"{SMALL},drawbox=enable='lt(n\\,8)':x=0:y=0:w=iw:h=ih:color=black:t=fill")
    # The bottom of the frame cut off above the knees: legs out of view.
    c["legs_cut"] = encode(sample_video, d / "legs_cut.mp4", frames=6, vf=f"{SMALL},crop=iw:ih*0.45:0:0")
    # A far-away person: the whole frame shrunk into a corner of a large dark one.
    c["tiny"] = encode(sample_video, d / "tiny.mp4", frames=4, vf="scale=34:60,pad=540:960:20:20:black")
    c["one"] = encode(sample_video, d / "one.mp4", frames=1)
    c["base"] = encode(sample_video, d / "base.mp4", frames=24)
    # A stream that can be read while it is written (MPEG-TS), for the file that grows.
    c["ts"] = d / "grow_source.ts"
    run_ffmpeg("-i", sample_video, "-frames:v", "40", "-vf", SMALL, "-an", "-c:v", "mpeg2video", "-q:v", "4",
               "-f", "mpegts", c["ts"])
    return c


def capture(video, tmp_path, *args, name="lm.npz"):
    proc = cli(video, "--landmarks", tmp_path / name, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return PoseTrack.load(tmp_path / name), proc


# --- videos --------------------------------------------------------------------------------------

@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_every_rotation_flag_reads_upright(clips, tmp_path, degrees):
    """All three rotation flags: the frames are turned upright (same size, same pose as the upright clip)."""
    up, _ = capture(clips["up"], tmp_path, name="up.npz")
    rot, _ = capture(clips[f"rot{degrees}"], tmp_path, name="rot.npz")
    assert rot.frame_size == up.frame_size == (270, 480) and rot.detected.all()
    assert np.abs(rot.image_landmarks[..., :2] - up.image_landmarks[..., :2]).mean() < 0.015
    assert np.abs(rot.world_landmarks - up.world_landmarks).mean() < 0.03


def test_4k_at_60_fps_a_few_frames(clips, tmp_path):
    track, _ = capture(clips["4k60"], tmp_path, "--frames", "0:2")
    assert track.frame_size == (2160, 3840) and track.fps == pytest.approx(60) and len(track) == 2
    assert track.detected.all()


def test_240_fps_slow_motion_keys_at_the_right_times(clips, tmp_path):
    """A 240 fps clip: the scene runs at 240 fps, one key a frame, BVH frame time 1/240."""
    track, proc = capture(clips["240"], tmp_path, "--out", tmp_path / "x.bvh", "--out", tmp_path / "x.blend")
    assert track.fps == pytest.approx(240) and len(track) == 6
    assert np.allclose(np.diff(track.timestamps_ms), 1000 / 240, atol=1.01)
    bvh = (tmp_path / "x.bvh").read_text()
    assert "Frames: 6" in bvh
    frame_time = float(bvh.split("Frame Time:")[1].split()[0])
    assert frame_time == pytest.approx(1 / 240, rel=1e-3)
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "x.blend"))
    scene = bpy.context.scene
    assert scene.render.fps / scene.render.fps_base == pytest.approx(240)
    assert (scene.frame_start, scene.frame_end) == (1, 6)
    from video_mocap.blender.action import action_fcurves

    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    frames = {k.co[0] for fc in action_fcurves(rig.animation_data.action, rig) for k in fc.keyframe_points}
    assert frames == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}


def test_ten_minute_clip_probe_plan_and_progress(clips, tmp_path):
    """Ten minutes at 25 fps: probed as 15000 frames; the progress counts all of them when the whole
    clip is asked for (and a cancel stops it quickly); --frames captures only the few asked for."""
    from video_mocap.capture.job import CaptureJob, CaptureRequest
    from video_mocap.capture.parallel import default_overlap, plan_segments
    from video_mocap.capture.video import probe

    info = probe(clips["10min"])
    assert info.frame_count == 15000 and info.fps == pytest.approx(25) and info.duration_s == pytest.approx(600)
    for workers in (2, 8):  # the worker plan covers the whole clip, end to end, each segment overlapping
        plan = plan_segments(0, 15000, workers, default_overlap(info.fps), skip_ratio=0.05)
        assert plan[0][1] == 0 and plan[-1][2] == 15000
        assert all(a[2] == b[1] and b[0] < b[1] for a, b in zip(plan, plan[1:]))
    proc = cli(clips["10min"], "--frames", "100:103", "--landmarks", tmp_path / "lm.npz")
    assert proc.returncode == 1 and "No person was found in any of the 3 frames" in last_line(proc)
    assert "capture 3/3 frames" in proc.stderr
    seen = []
    job = CaptureJob(CaptureRequest(str(clips["10min"]), cache_path=str(tmp_path / "all.npz"), workers=1))
    original = job._progress

    def progress(done, total, fps):
        original(done, total, fps)
        seen.append((done, total))
        if done >= 5:
            job.cancel()

    job._progress = progress
    t0 = time.monotonic()
    status = job.start().wait(300)
    assert status.cancelled and time.monotonic() - t0 < 120
    assert seen and all(total == 15000 for _, total in seen)
    assert not (tmp_path / "all.npz").exists()


def test_black_first_frames_then_the_person(clips, tmp_path):
    """Nobody in the first frames: reported, not an error; keys start where the person appears."""
    track, proc = capture(clips["black_start"], tmp_path, "--out", tmp_path / "x.bvh")
    assert not track.detected[:8].any() and track.detected[9:].all()
    assert "warning: no person in 8 of 20 frames" in proc.stderr
    assert (tmp_path / "x.bvh").stat().st_size > 0


def test_legs_out_of_frame(clips, tmp_path):
    """Legs cut off by the frame: no crash, the lower body is seen with low visibility."""
    track, proc = capture(clips["legs_cut"], tmp_path, "--out", tmp_path / "x.bvh")
    assert track.detected.all()
    upper = track.visibility[:, 11:17].mean()
    ankles = track.visibility[:, 27:33].mean()
    assert upper > 0.8 and ankles < 0.5, (upper, ankles)
    assert (tmp_path / "x.bvh").stat().st_size > 0


def test_tiny_far_away_person_is_reported(clips, tmp_path):
    """A person 60 pixels tall in a 960-pixel frame: either captured (and the share of frames with a
    person is reported) or one clear 'no person' line."""
    proc = cli(clips["tiny"], "--landmarks", tmp_path / "lm.npz")
    if proc.returncode == 0:
        assert "person found in" in proc.stderr
    else:
        assert proc.returncode == 1 and "No person was found in any of the 4 frames" in last_line(proc)
        assert not (tmp_path / "lm.npz").exists()


def test_one_frame_video(clips, tmp_path):
    track, proc = capture(clips["one"], tmp_path, "--out", tmp_path / "x.bvh", "--out", tmp_path / "x.fbx")
    assert len(track) == 1 and track.detected.all()
    assert "Frames: 1" in (tmp_path / "x.bvh").read_text() and (tmp_path / "x.fbx").stat().st_size > 0


# --- a file that changes during the capture ------------------------------------------------------

def _capture_job(video, cache, keep_partial=False, workers=1, on_progress=None):
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    job = CaptureJob(CaptureRequest(str(video), cache_path=str(cache), keep_partial=keep_partial, workers=workers))
    original = job._progress

    def progress(done, total, fps):
        original(done, total, fps)
        if on_progress is not None:
            on_progress(done, total)

    job._progress = progress
    return job.start().wait(300)


@pytest.mark.parametrize("workers", [1, 2])
def test_video_deleted_during_capture(clips, tmp_path, workers):
    """The file is deleted mid-capture (what was opened can still be read on Linux): the take completes,
    or one clear message; nothing half-written."""
    video = tmp_path / "vanish.mp4"
    video.write_bytes(clips["base"].read_bytes())
    deleted = []

    def on_progress(done, total):
        if done >= 2 and not deleted:
            video.unlink()
            deleted.append(done)

    status = _capture_job(video, tmp_path / "lm.npz", workers=workers, on_progress=on_progress)
    assert deleted and not status.running
    if status.error is None:
        assert len(PoseTrack.load(tmp_path / "lm.npz")) == 24
    else:
        from video_mocap.capture.errors import MocapError

        assert isinstance(status.error, MocapError) and "vanish.mp4" in str(status.error)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.parametrize("keep_partial", [False, True])
def test_video_cut_short_during_capture(clips, tmp_path, keep_partial):
    """The file shrinks mid-capture (a copy overwritten, a network share gone): the frames decoded
    before are kept with the 'stopped decoding' warning."""
    from video_mocap.pipeline import capture_report

    video = tmp_path / "shrink.mp4"
    video.write_bytes(clips["base"].read_bytes())
    cut = []

    def on_progress(done, total):
        if done >= 4 and not cut:
            os.truncate(video, video.stat().st_size // 3)
            cut.append(done)

    status = _capture_job(video, tmp_path / "lm.npz", keep_partial=keep_partial, on_progress=on_progress)
    assert cut and not status.running
    if status.error is None:
        track = PoseTrack.load(tmp_path / "lm.npz")
        assert 4 <= len(track) == len(status.track) <= 24
        if len(track) < 24:
            assert any(f"stopped decoding at frame {len(track)}" in line
                       for line in capture_report(status.track).lines())
    else:
        from video_mocap.capture.errors import MocapError

        assert isinstance(status.error, MocapError)


def test_growing_file_is_captured_without_a_crash(clips, tmp_path):
    """A recording still being written (a stream file growing while the command reads it): no crash;
    what was there is captured (at least the first chunk's frames)."""
    data = clips["ts"].read_bytes()
    video = tmp_path / "growing.ts"
    chunk = len(data) // 5
    video.write_bytes(data[:chunk])

    def grow():
        for k in range(2, 6):
            time.sleep(0.4)
            with open(video, "ab") as fh:
                fh.write(data[(k - 1) * chunk: k * chunk if k < 5 else len(data)])

    writer = threading.Thread(target=grow)
    writer.start()
    proc = cli(video, "--landmarks", tmp_path / "lm.npz")
    writer.join()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 1 <= len(PoseTrack.load(tmp_path / "lm.npz")) <= 40


# --- bone-map files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def one_frame_track(clips, tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "one.npz"
    cli(clips["one"], "--landmarks", path).check_returncode()
    return path


@pytest.mark.parametrize("case,content,message", [
    ("list", b'[["hips", "spine"]]', "must hold"),
    ("numbers", b'{"bones": {"hips": 3, "spine": 4.5}}', "must hold"),
    ("roles", b'{"bones": {"hips": "spine", "tail": "spine.001"}}', "unknown roles: tail"),
    ("missing_bones", b'{"bones": {"hips": "Pelvis_not_here", "chest": "Nope"}}',
     "names bones not in the armature 'metarig': Nope, Pelvis_not_here"),
    ("empty", b'{"bones": {}}', "hips"),
    ("folder", None, "is a folder"),
    ("latin1", '{"bones": {"hips": "Hüfte"}}'.encode("latin-1"), "not UTF-8"),
    ("huge", None, "too large"),
])
def test_bad_bone_map_files_give_one_message(one_frame_track, tmp_path, case, content, message):
    path = tmp_path / f"{case}.json"
    if case == "folder":
        path.mkdir()
    elif content is None:  # 50 MB of JSON
        with open(path, "wb") as fh:
            fh.write(b'{"bones": {"hips": "spine"}, "pad": "')
            fh.write(b"x" * (50 << 20))
            fh.write(b'"}')
    else:
        path.write_bytes(content)
    before = None if path.is_dir() else path.read_bytes()
    proc = cli(one_frame_track, "--bone-map", path, "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and message in last_line(proc), proc.stderr[-1500:]
    assert not (tmp_path / "x.fbx").exists() and (before is None or path.read_bytes() == before)


# --- faults --------------------------------------------------------------------------------------

def _cli_with_file_limit(limit_bytes, *args):
    """cli.py in a process that may not write files larger than limit_bytes (a full disk, as the
    kernel reports it to the writer: EFBIG; SIGXFSZ ignored so the write fails instead of killing)."""
    script = ("import resource, runpy, signal, sys, os\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))\n"
              f"sys.argv = ['cli.py', '--workers', '1', *{[str(a) for a in args]!r}]\n"
              f"code = runpy.run_path({str(ROOT / 'cli.py')!r}, run_name='not_main')['main']()\n"
              "sys.stderr.flush(); os._exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode != -signal.SIGXFSZ
    return proc


def test_disk_full_while_writing_the_cache_keeps_the_previous_one(clips, one_frame_track, tmp_path):
    cache = tmp_path / "take.npz"
    cache.write_bytes(one_frame_track.read_bytes())
    before = cache.read_bytes()
    proc = _cli_with_file_limit(2000, clips["base"], "--frames", "0:6", "--landmarks", cache)
    assert proc.returncode == 1 and "take.npz" in last_line(proc), proc.stderr[-1500:]
    assert len(proc.stderr.strip().splitlines()[-1]) < 400
    assert cache.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.npz"]


def test_disk_full_while_writing_an_fbx_leaves_no_half_file(one_frame_track, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.fbx").write_bytes(b"the user's previous export")
    proc = _cli_with_file_limit(20000, one_frame_track, "--out", out / "keep.fbx")
    assert proc.returncode == 1 and "keep.fbx" in last_line(proc), proc.stderr[-1500:]
    assert (out / "keep.fbx").read_bytes() == b"the user's previous export"
    assert sorted(p.name for p in out.iterdir()) == ["keep.fbx"]


def test_cancel_at_half_then_run_again(clips, tmp_path):
    """Cancel at 50 %, then the same capture again: the second run completes."""
    cache = tmp_path / "take.npz"
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    job = CaptureJob(CaptureRequest(str(clips["base"]), cache_path=str(cache)))
    original = job._progress

    def progress(done, total, fps):
        original(done, total, fps)
        if done >= total // 2:
            job.cancel()

    job._progress = progress
    status = job.start().wait(300)
    assert status.cancelled and not cache.exists()
    again = _capture_job(clips["base"], cache)
    assert again.error is None and not again.cancelled and len(PoseTrack.load(cache)) == 24
