"""The headless command's contract: outputs, frame numbering, exit codes and one-line errors."""
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from videos import write_video

from video_mocap.capture.track import PoseTrack


def run_cli(*args, check_rc=None):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr[-2000:]
    return proc


def last_line(proc):
    return proc.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, sample_video, full_model):
    out = tmp_path_factory.mktemp("cli")
    run_cli(sample_video, "--frames", "20:50", "--landmarks", out / "lm.npz", "--out", out / "take.fbx",
            "--out", out / "take.bvh", "--out", out / "take.blend", "--out", out / "sheet.png", check_rc=0)
    return out


def test_outputs_exist_and_frames_follow_the_range(outputs):
    track = PoseTrack.load(outputs / "lm.npz")
    assert len(track) == 30 and track.first_frame == 20 and track.model == "full"
    assert (outputs / "take.fbx").stat().st_size > 10_000
    assert (outputs / "sheet.png").stat().st_size > 10_000
    bvh = (outputs / "take.bvh").read_text()
    assert re.search(r"Frames:\s+30\b", bvh)
    assert float(re.search(r"Frame Time:\s+([\d.]+)", bvh).group(1)) == pytest.approx(1 / 60, abs=1e-6)


def test_blend_holds_one_key_per_processed_frame(outputs):
    script = (
        "import bpy, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"bpy.ops.wm.open_mainfile(filepath={str(outputs / 'take.blend')!r})\n"
        "ob = bpy.data.objects['metarig']\n"
        "a = ob.animation_data.action\n"
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('video_mocap', {str(ROOT / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(ROOT)!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['video_mocap'] = m; spec.loader.exec_module(m)\n"
        "from video_mocap.blender.action import action_fcurves\n"
        "fcs = action_fcurves(a, ob)\n"
        "s = bpy.context.scene\n"
        "print(a.name, len(fcs), min(len(f.keyframe_points) for f in fcs), max(len(f.keyframe_points) for f in fcs),"
        " s.frame_start, s.frame_end, a['mocap_first_video_frame'])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name, curves, kmin, kmax, start, end, first = proc.stdout.strip().splitlines()[-1].split()
    assert name == "cam01_full" and int(curves) >= 4 * 17
    assert (int(kmin), int(kmax), int(start), int(end), int(first)) == (30, 30, 1, 30, 20)


def test_landmark_cache_as_input_skips_capture(outputs, tmp_path):
    run_cli(outputs / "lm.npz", "--out", tmp_path / "again.bvh", check_rc=0)
    assert re.search(r"Frames:\s+30\b", (tmp_path / "again.bvh").read_text())


def test_missing_output_folders_are_made_for_every_type(outputs, tmp_path):
    outs = [tmp_path / kind / "deeper" / f"take.{kind}" for kind in ("blend", "png", "fbx", "bvh")]
    proc = run_cli(outputs / "lm.npz", *[a for out in outs for a in ("--out", out)], check_rc=0)
    assert "Traceback" not in proc.stderr
    assert all(out.stat().st_size > 1000 for out in outs), [out for out in outs if not out.exists()]
    assert not list(tmp_path.rglob("*@")) and not list(tmp_path.rglob("*.partial"))  # no half-written files left


@pytest.mark.parametrize("case,rc,message", [
    ("missing", 1, "Video not found"),
    ("text", 1, "Cannot open"),
    ("folder", 1, "is a folder"),
    ("noperson", 1, "No person was found"),
    ("badrange", 1, "only 8 frames"),
    ("badmodel", 2, "unknown model 'huge'"),
    ("badout", 2, "unsupported type"),
    ("badsmooth", 2, "--smooth-hz 0 is out of range: give 0.5 to 30"),
    ("badfov", 2, "--fov 200 is out of range: give 5 to 170"),
    ("fovandlens", 2, "give either --fov or --focal-mm, not both"),
    ("badneutral", 2, "--face-neutral-frame must be a video frame"),
    # files the options name are read before the capture (after it, this noise video would say "No person")
    ("badbonemap", 1, "map.json is not valid JSON"),
    ("badfacemap", 1, "Cannot read the shape key map"),
    ("noblend", 1, "Blend file not found"),
])
def test_errors_end_with_one_clear_line(tmp_path, case, rc, message):
    video = tmp_path / "clip.mp4"
    args = [video, "--out", tmp_path / "x.fbx"]
    if case == "missing":
        pass
    elif case == "text":
        video.write_text("hello")
    elif case == "folder":
        args[0] = tmp_path
    elif case in ("badsmooth", "badfov", "fovandlens", "badneutral"):  # refused before the video is opened
        args += {"badsmooth": ["--smooth-hz", "0"], "badfov": ["--fov", "200"],
                 "fovandlens": ["--fov", "60", "--focal-mm", "26"], "badneutral": ["--face-neutral-frame", "-3"]}[case]
    elif case in ("noperson", "badrange", "badmodel", "badout", "badbonemap", "badfacemap", "noblend"):
        write_video(video, frames=8, pattern="noise")
        bad_map = tmp_path / "map.json"
        bad_map.write_text("{not json")
        args += {"badbonemap": ["--bone-map", bad_map], "badfacemap": ["--face-map", bad_map],
                 "noblend": ["--armature", tmp_path / "none.blend:Armature"]}.get(case, [])
        if case == "badrange":
            args += ["--frames", "50:60"]
        if case == "badmodel":
            args += ["--model", "huge"]
        if case == "badout":
            args[2] = tmp_path / "x.mov"
    proc = run_cli(*args)
    assert proc.returncode == rc
    assert message in last_line(proc)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.fbx").exists()


def test_left_right_flips_are_undone_unless_kept(outputs, tmp_path):
    """A cache whose frames 10-15 have the person's sides exchanged (as the detector sometimes does)
    bakes exactly as the clean one by default; --keep-flips bakes it as it is."""
    from video_mocap.motion.sides import PAIRS

    bad = PoseTrack.load(outputs / "lm.npz")
    a = [p for p, _ in PAIRS] + [q for _, q in PAIRS]
    b = [q for _, q in PAIRS] + [p for p, _ in PAIRS]
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence"):
        arr = getattr(bad, key)
        block = arr[10:16]
        block[:, a] = block[:, b]
        arr[10:16] = block
    bad.save(tmp_path / "flipped.npz")
    run_cli(outputs / "lm.npz", "--out", tmp_path / "clean.bvh", check_rc=0)
    run_cli(tmp_path / "flipped.npz", "--out", tmp_path / "fixed.bvh", check_rc=0)
    run_cli(tmp_path / "flipped.npz", "--keep-flips", "--out", tmp_path / "kept.bvh", check_rc=0)
    motion = lambda name: (tmp_path / name).read_text().split("MOTION", 1)[1]  # noqa: E731
    assert motion("fixed.bvh") == motion("clean.bvh")
    assert motion("kept.bvh") != motion("clean.bvh")


def test_hands_and_face_flags_fill_the_cache_keys(sample_video, full_model, tmp_path):
    """--hands and --face (the issue's flags) capture into the cache keys they name; without them the
    cache has none. (The sample's faces are pixelated: the face arrays exist, with NaN where no face.)"""
    run_cli(sample_video, "--frames", "0:6", "--hands", "--face", "--workers", "1",
            "--landmarks", tmp_path / "both.npz", check_rc=0)
    run_cli(sample_video, "--frames", "0:6", "--workers", "1", "--landmarks", tmp_path / "body.npz", check_rc=0)
    with np.load(tmp_path / "both.npz") as data:
        assert data["hand_world_landmarks"].shape == (6, 2, 21, 3)
        assert data["hand_presence"].shape == (6, 2)
        assert data["face_landmarks"].shape[0] == 6 and data["face_presence"].shape == (6,)
        assert np.isfinite(data["hand_world_landmarks"]).any()  # hands are found on the sample
    with np.load(tmp_path / "body.npz") as data:
        assert "hand_world_landmarks" not in data.files and "face_landmarks" not in data.files


def test_verbose_flag_shows_mediapipe_log_lines(sample_video, full_model, tmp_path):
    """MediaPipe's own log lines are hidden by default and shown with --verbose."""
    env_free = [sample_video, "--frames", "0:3", "--workers", "1", "--landmarks", tmp_path / "a.npz"]
    quiet = run_cli(*env_free, check_rc=0)
    loud = run_cli(*env_free, "--verbose", check_rc=0)
    native = re.compile(r"^(W|I)\d{4} |TensorFlow Lite|InitGoogle", re.M)
    assert not native.search(quiet.stderr), quiet.stderr[-1000:]
    assert native.search(loud.stderr), loud.stderr[-1000:]
