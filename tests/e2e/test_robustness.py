"""Bad input, odd targets and faults: a clear message, a non-zero exit or CANCELLED, no traceback,
and nothing of the user's lost. Through the headless command and through the Blender operators."""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from preset_rigs import linked_from_library
from videos import ffmpeg, with_rotation, write_video

from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")


def cli(*args):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def last_line(proc):
    return proc.stderr.strip().splitlines()[-1]


def encode(src, dst, *filters):
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(src), *filters, "-c:v", "mpeg4", "-q:v", "4",
                    "-movflags", "+faststart", str(dst)], check=True)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sample_video):
    d = tmp_path_factory.mktemp("clips")
    c = {}
    c["short"] = encode(sample_video, d / "short.mp4", "-frames:v", "2")
    c["base"] = encode(sample_video, d / "base.mp4", "-frames:v", "40")
    data = (d / "base.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) * 6 // 10])
    c["truncated"] = d / "truncated.mp4"
    # A phone stores the frames sideways and flags how to turn them upright.
    sideways = encode(sample_video, d / "sideways.mp4", "-frames:v", "40", "-vf", "transpose=1")
    c["rotated"] = with_rotation(sideways, d / "rotated.mp4", 90)
    c["vfr"] = encode(sample_video, d / "vfr.mp4", "-vf", "select='lt(n\\,20)+not(mod(n\\,3))'", "-fps_mode", "vfr")
    c["4k"] = encode(sample_video, d / "4k.mp4", "-frames:v", "3", "-vf", "scale=2160:3840")
    # The person leaves (black frames) and comes back.
    c["leave"] = encode(sample_video, d / "leave.mp4", "-frames:v", "40", "-vf",
                        "drawbox=enable='between(n\\,15\\,24)':x=0:y=0:w=iw:h=ih:color=black:t=fill")
    # Two people side by side (the sample and another camera's view of the same scene).
    c["two"] = d / "two.mp4"
    other = ROOT.parent / "shared" / "data" / "pose2sim_demo" / "cam02.mp4"
    second = other if other.exists() else sample_video  # any second person will do
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(sample_video), "-i", str(second),
                    "-filter_complex", "[0:v]scale=540:960[a];[1:v]hflip,scale=540:960[b];[a][b]hstack",
                    "-frames:v", "61", "-c:v", "mpeg4", "-q:v", "4", str(c["two"])], check=True)
    c["noperson"] = write_video(d / "noperson.mp4", frames=8, pattern="noise")
    import cv2
    cv2.imwrite(str(d / "image.png"), np.full((64, 64, 3), 200, np.uint8))
    (d / "image.mp4").write_bytes((d / "image.png").read_bytes())
    c["image"] = d / "image.mp4"
    (d / "text.mp4").write_text("not a video")
    c["text"] = d / "text.mp4"
    (d / "empty.mp4").write_bytes(b"")
    c["empty"] = d / "empty.mp4"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc", "-t", "1", "-c:a", "aac",
                    str(d / "audio.mp4")], check=True)
    c["audio"] = d / "audio.mp4"
    c["zero"] = encode(sample_video, d / "zero.mp4", "-frames:v", "0")
    c["dir"] = d
    c["missing"] = d / "missing.mp4"
    return c


@pytest.mark.parametrize("case,message", [
    ("missing", "Video not found"), ("dir", "is a folder"), ("text", "Cannot open"),
    ("image", "is a PNG image, not a video"), ("empty", "is empty"), ("audio", "Cannot open"),
    ("zero", "Cannot open"),
    ("noperson", "No person was found in any of the 8 frames"),
])
def test_bad_videos_fail_with_one_clear_line(clips, tmp_path, case, message):
    proc = cli(clips[case], "--landmarks", tmp_path / "lm.npz", "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and message in last_line(proc)
    assert not (tmp_path / "lm.npz").exists() and not (tmp_path / "x.fbx").exists()


def test_truncated_video_keeps_what_was_decoded(clips, tmp_path):
    proc = cli(clips["truncated"], "--landmarks", tmp_path / "lm.npz", "--out", tmp_path / "x.bvh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    track = PoseTrack.load(tmp_path / "lm.npz")
    assert 0 < len(track) < 40
    assert f"the video stopped decoding at frame {len(track)}" in proc.stderr


def test_very_short_video(clips, tmp_path):
    proc = cli(clips["short"], "--landmarks", tmp_path / "lm.npz", "--out", tmp_path / "x.bvh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(PoseTrack.load(tmp_path / "lm.npz")) == 2


def test_rotated_phone_video_reads_upright(clips, tmp_path):
    """Frames stored sideways with a rotation flag read upright: same frame size and pose as the
    upright clip."""
    cli(clips["base"], "--frames", "0:10", "--landmarks", tmp_path / "up.npz").check_returncode()
    cli(clips["rotated"], "--frames", "0:10", "--landmarks", tmp_path / "rot.npz").check_returncode()
    up, rot = PoseTrack.load(tmp_path / "up.npz"), PoseTrack.load(tmp_path / "rot.npz")
    assert rot.frame_size == up.frame_size and rot.detected.all()
    # Same pose up to compression differences (sideways frames read unrotated would give a lying person).
    assert np.abs(rot.world_landmarks - up.world_landmarks).mean() < 0.02
    assert np.abs(rot.image_landmarks[..., :2] - up.image_landmarks[..., :2]).mean() < 0.01


def test_variable_frame_rate_uses_container_timestamps(clips, tmp_path):
    proc = cli(clips["vfr"], "--landmarks", tmp_path / "lm.npz", "--out", tmp_path / "x.blend")
    assert proc.returncode == 0, proc.stderr[-2000:]
    ts = PoseTrack.load(tmp_path / "lm.npz").timestamps_ms
    steps = np.diff(ts)
    assert steps.min() >= 15 and steps.max() >= 45  # 60 fps, then every third frame kept


def test_4k_video_streams_within_memory(clips, tmp_path):
    # Peak RSS of this process's own memory: VmHWM. (ru_maxrss would also count the pytest process this
    # child was forked from: Linux carries the high-water mark across exec.)
    script = ("import runpy, sys\n"
              f"sys.argv = ['cli.py', {str(clips['4k'])!r}, '--landmarks', {str(tmp_path / 'lm.npz')!r}]\n"
              "try:\n"
              f"    runpy.run_path({str(ROOT / 'cli.py')!r}, run_name='not_main')['main']()\n"
              "finally:\n"
              "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
              "    print('peak_mb', int(hwm.split()[1]) // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak = int(proc.stdout.split("peak_mb")[-1])
    track = PoseTrack.load(tmp_path / "lm.npz")
    assert track.frame_size == (2160, 3840) and track.detected.all()
    assert peak < 1500, peak


def test_person_leaving_and_coming_back(clips, tmp_path):
    proc = cli(clips["leave"], "--landmarks", tmp_path / "lm.npz", "--out", tmp_path / "x.bvh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    track = PoseTrack.load(tmp_path / "lm.npz")
    assert not track.detected[16:24].any() and track.detected[:14].all() and track.detected[30:].all()
    assert "warning: no person in" in proc.stderr


def test_two_people_one_is_tracked_and_the_user_is_told(clips, tmp_path):
    proc = cli(clips["two"], "--landmarks", tmp_path / "lm.npz")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 people in view; person 1 followed (--person to choose another" in proc.stderr
    track = PoseTrack.load(tmp_path / "lm.npz")
    centre_x = track.image_landmarks[:, 11:25, 0].mean(axis=1)
    assert track.detected.all() and (np.all(centre_x < 0.5) or np.all(centre_x > 0.5))  # never swaps


def test_corrupt_model_and_cache(clips, tmp_path):
    junk = tmp_path / "junk.task"
    junk.write_bytes(os.urandom(1000))
    proc = cli(clips["short"], "--model-file", junk, "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and "junk.task" in last_line(proc)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not numpy")
    proc = cli(bad, "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and "bad.npz" in last_line(proc)
    proc = cli(clips["short"], "--frames", "10:20", "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and "only 2 frames" in last_line(proc)


@pytest.fixture(scope="module")
def short_track(clips, tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "short.npz"
    cli(clips["short"], "--landmarks", path).check_returncode()
    return path


def test_bad_targets_in_the_headless_command(short_track, tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    bpy.context.active_object.name = "Cube"
    bpy.ops.object.armature_add()
    bpy.context.active_object.name = "Stick"  # one bone: not a humanoid
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = cli(short_track, "--armature", f"{blend}:Cube", "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and "is a mesh, not an armature" in last_line(proc)
    proc = cli(short_track, "--armature", f"{blend}:Stick", "--out", tmp_path / "x.fbx")
    assert proc.returncode == 1 and "No humanoid bones recognised" in last_line(proc)
    proc = cli(short_track, "--out", "/dev/null/x.fbx")
    assert proc.returncode == 1 and "/dev/null/x.fbx" in last_line(proc)


# --- the same through the Blender operators (`scene`: tests/conftest.py) ---------------------------

@pytest.mark.parametrize("case,message", [("missing", "Video not found"), ("dir", "is a folder"),
                                          ("image", "PNG image"), ("noperson", "No person was found")])
def test_capture_operator_reports_bad_videos(scene, clips, case, message):
    scene.video_mocap.video_path = str(clips[case])
    scene.video_mocap.track_path = "/previous/take.npz"
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.video_mocap.capture()
    assert scene.video_mocap.track_path == "/previous/take.npz" and not scene.video_mocap.is_capturing


@pytest.mark.parametrize("case,message", [("text", "Cannot open"), ("empty", "is empty"), ("audio", "Cannot open"),
                                          ("zero", "Cannot open")])
def test_capture_operator_reports_unreadable_files(scene, clips, case, message):
    scene.video_mocap.video_path = str(clips[case])
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.video_mocap.capture()
    assert len(scene.video_mocap.takes) == 0


@pytest.mark.parametrize("case", ["truncated", "short", "rotated", "vfr", "leave", "two"])
def test_capture_operator_handles_odd_videos(scene, clips, case, capfd):
    """The odd-but-valid videos through the panel's operators: a take, applied, with the same
    warnings the headless command gives (the video stopped early / nobody in some frames)."""
    from video_mocap.blender.armature import add_metarig

    scene.video_mocap.video_path = str(clips[case])
    capfd.readouterr()
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    # In background mode Blender prints each operator report as 'Warning: …' / 'Info: …'.
    printed = "".join(capfd.readouterr())
    warnings = [line for line in printed.splitlines() if line.startswith("Warning:")]
    expected = {"truncated": "the video stopped decoding at frame", "leave": "no person in",
                "two": "2 people in view; person 1 followed"}
    if case in expected:
        assert any(expected[case] in line for line in warnings), printed
    if case in ("short", "rotated"):
        assert not warnings, warnings
    take = scene.video_mocap.takes[0]
    track = PoseTrack.load(bpy.path.abspath(take.path))
    assert take.frames == len(track) > 0
    if case == "truncated":
        assert len(track) < 40
    if case == "leave":
        assert take.detected < 1.0
    add_metarig(bpy.context)
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}


def test_capture_cannot_run_twice(scene, clips):
    from video_mocap.blender import jobs
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    scene.video_mocap.video_path = str(clips["short"])
    jobs.begin(scene, CaptureJob(CaptureRequest(str(clips["short"]))))  # running (in the registry, not the scene)
    assert scene.video_mocap.is_capturing and not bpy.ops.video_mocap.capture.poll()
    jobs.end(scene, "")
    assert bpy.ops.video_mocap.capture.poll()


def test_cancel_half_way_keeps_nothing_unless_asked(clips, tmp_path):
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    for keep in (False, True):
        cache = tmp_path / f"keep{keep}.npz"
        job = CaptureJob(CaptureRequest(str(clips["base"]), cache_path=str(cache), keep_partial=keep))
        original = job._progress

        def progress(done, total, fps, job=job, original=original):
            original(done, total, fps)
            if done >= total // 2:
                job.cancel()

        job._progress = progress
        status = job.start().wait(300)
        assert status.cancelled and not status.running
        if keep:
            assert 20 <= len(PoseTrack.load(cache)) <= 22
        else:
            assert not cache.exists() and "cancelled" in str(status.error)


def _metarig_with_take(scene, short_track):
    from video_mocap.blender.armature import add_metarig

    rig = add_metarig(bpy.context)
    scene.video_mocap.track_path = str(short_track)
    return rig


def test_apply_operator_refuses_bad_targets(scene, short_track, tmp_path):
    rig = _metarig_with_take(scene, short_track)
    bpy.ops.mesh.primitive_cube_add()
    assert not bpy.ops.video_mocap.apply.poll()  # a mesh is active
    bpy.ops.object.armature_add()  # a one-bone armature: no humanoid bones
    with pytest.raises(RuntimeError, match="No humanoid bones"):
        bpy.ops.video_mocap.apply()
    stick = bpy.context.active_object
    assert stick.animation_data is None or stick.animation_data.action is None
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    assert not bpy.ops.video_mocap.apply.poll()
    from video_mocap.blender.apply import apply_track
    from video_mocap.retarget.rig import RigError
    with pytest.raises(RigError, match="Edit Mode"):
        apply_track(bpy.context, rig, PoseTrack.load(short_track))
    bpy.ops.object.mode_set(mode="OBJECT")
    scene.video_mocap.track_path = str(tmp_path / "corrupt.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="corrupt.npz"):
        bpy.ops.video_mocap.apply()


def test_locked_and_constrained_bones_still_apply(scene, short_track):
    rig = _metarig_with_take(scene, short_track)
    rig.pose.bones["forearm.L"].lock_rotation = (True, True, True)
    rig.pose.bones["forearm.L"].lock_rotation_w = True
    c = rig.pose.bones["hand.R"].constraints.new("LIMIT_ROTATION")
    c.use_limit_x = True
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    assert rig.pose.bones["hand.R"].constraints[0] == c  # the user's constraint is kept


def test_apply_twice_gives_two_actions_and_keeps_the_first(scene, short_track):
    from video_mocap.blender.action import action_fcurves

    rig = _metarig_with_take(scene, short_track)
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    first = rig.animation_data.action
    keys = [tuple(k.co) for fc in action_fcurves(first, rig) for k in fc.keyframe_points]
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    second = rig.animation_data.action
    # the first action is kept, unmodified (no fake user forced on it): the new one refers to it
    assert second != first and first.name in bpy.data.actions and not first.use_fake_user
    assert second["video_mocap_previous_action"] == first and first.users >= 1
    assert [tuple(k.co) for fc in action_fcurves(first, rig) for k in fc.keyframe_points] == keys


def test_linked_armature_cannot_be_keyed(scene, short_track, tmp_path):
    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.armature import add_metarig
    from video_mocap.retarget.rig import RigError

    add_metarig(bpy.context, "LibRig")
    linked = linked_from_library("LibRig", tmp_path / "lib.blend")
    with pytest.raises(RigError, match="linked from another file"):
        apply_track(bpy.context, linked, PoseTrack.load(short_track))


def test_export_to_an_unwritable_path_is_reported(scene, short_track):
    rig = _metarig_with_take(scene, short_track)
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    bpy.context.view_layer.objects.active = rig
    with pytest.raises(RuntimeError, match="Cannot write"):
        bpy.ops.video_mocap.export_fbx(filepath="/dev/null/take.fbx")
