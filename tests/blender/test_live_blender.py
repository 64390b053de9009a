"""Live in Blender (issue 16): the timer tick sets bone rotations from an MJPEG stream without creating
keyframes; Record adds a take; Stop during a take keeps it; a dropped stream keeps the take as partial;
a source that cannot start is one error report."""
import time

import numpy as np
import pytest
from conftest import load_tool

import video_mocap
from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")

MODEL = "lite"


def _bench():
    return load_tool('bench_live')


BENCH = _bench()


@pytest.fixture(scope="module")
def jpegs(sample_video):
    return BENCH.clip_jpegs(sample_video, step=2, max_side=640)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    prefs = bpy.context.preferences.addons.get("video_mocap")
    if prefs is not None:
        prefs.preferences.cache_dir = str(tmp_path_factory.mktemp("live_cache"))
    assert bpy.ops.video_mocap.add_metarig() == {"FINISHED"}
    yield bpy.context.scene
    from video_mocap.blender import live as blender_live

    blender_live.end_all()
    video_mocap.unregister()


@pytest.fixture
def server(jpegs):
    with BENCH.MjpegServer(jpegs, 30) as srv:
        yield srv


def tick_until(scene, condition, timeout=60.0):
    from video_mocap.blender import live as blender_live

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        alive = blender_live.tick(scene)
        if condition():
            return True
        if not alive:
            return condition()
        time.sleep(0.01)
    return False


def pose_of(rig):
    return {pb.name: tuple(pb.rotation_quaternion) for pb in rig.pose.bones}


def start(scene, source):
    settings = scene.video_mocap
    settings.live_source, settings.model = source, MODEL
    return bpy.ops.video_mocap.live_start()


def test_live_sets_bone_rotations_without_keyframes(scene, server):
    from video_mocap.blender import live as blender_live

    rig = bpy.context.active_object
    before, actions = pose_of(rig), len(bpy.data.actions)
    assert start(scene, server.url) == {"FINISHED"}
    state = blender_live.peek(scene)
    assert state.is_live
    assert tick_until(scene, lambda: state.poses_set >= 5)
    posed = pose_of(rig)
    moved = [b for b in ("upper_arm.L", "forearm.R", "thigh.L", "spine") if
             np.degrees(2 * np.arccos(min(1.0, abs(np.dot(posed[b], before[b]))))) > 2]
    assert len(moved) >= 3, moved
    assert len(bpy.data.actions) == actions
    assert rig.animation_data is None or rig.animation_data.action is None
    assert max(state.latencies) < 2000 and state.max_tick_ms < 30
    # the breakdown (waiting, detection, landmarks → pose, pose → bones set) accounts for each latency
    assert len(state.stages) == len(state.latencies)
    for stages, latency in zip(state.stages, state.latencies):
        assert min(stages) >= 0 and abs(sum(stages) - latency) < 1e-6
    tick_until(scene, lambda: state.fps > 0, timeout=5)
    assert "fps" in state.status and "dropped" in state.status
    assert bpy.ops.video_mocap.live_stop() == {"FINISHED"}
    assert not blender_live.peek(scene).is_live
    assert pose_of(rig) == before                       # previewing leaves the rig as it was


def test_record_adds_a_take_that_applies_like_a_capture(scene, server):
    from video_mocap.blender import live as blender_live

    settings = scene.video_mocap
    takes = len(settings.takes)
    assert start(scene, server.url) == {"FINISHED"}
    assert bpy.ops.video_mocap.live_record() == {"FINISHED"}
    state = blender_live.peek(scene)
    assert state.recording
    assert tick_until(scene, lambda: state.live.recorded_frames >= 8)
    assert bpy.ops.video_mocap.live_record() == {"FINISHED"}   # stop recording: the take is listed
    assert len(settings.takes) == takes + 1 and not settings.takes[-1].partial
    take = settings.takes[-1]
    track = PoseTrack.load(bpy.path.abspath(take.path))
    assert len(track) >= 8 and track.model == MODEL and (np.diff(track.timestamps_ms) > 0).all()
    assert take.frames == len(track) and settings.track_path == take.path
    assert blender_live.peek(scene).is_live                         # still live after recording
    assert bpy.ops.video_mocap.live_stop() == {"FINISHED"}
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}             # processed offline like any capture
    rig = bpy.context.active_object
    assert rig.animation_data.action is not None


def test_stop_during_a_take_keeps_it(scene, server):
    from video_mocap.blender import live as blender_live

    settings = scene.video_mocap
    takes = len(settings.takes)
    assert start(scene, server.url) == {"FINISHED"}
    bpy.ops.video_mocap.live_record()
    state = blender_live.peek(scene)
    assert tick_until(scene, lambda: state.live.recorded_frames >= 4)
    assert bpy.ops.video_mocap.live_stop() == {"FINISHED"}
    assert len(settings.takes) == takes + 1
    assert len(PoseTrack.load(bpy.path.abspath(settings.takes[-1].path))) >= 4


def test_a_dropped_stream_ends_live_and_keeps_the_take_as_partial(scene, jpegs):
    from video_mocap.blender import live as blender_live
    from video_mocap.operators import live as live_ops

    settings = scene.video_mocap
    takes = len(settings.takes)
    with BENCH.MjpegServer(jpegs, 30, drop_after=40) as srv:
        assert start(scene, srv.url) == {"FINISHED"}
        bpy.ops.video_mocap.live_record()
        uid = scene.session_uid
        deadline = time.perf_counter() + 60
        while live_ops._app_timer_tick(uid) is not None and time.perf_counter() < deadline:
            time.sleep(0.01)
    assert not blender_live.peek(scene).is_live
    assert len(settings.takes) == takes + 1 and settings.takes[-1].partial


def test_a_source_that_cannot_start_reports_one_error(scene):
    from video_mocap.blender import live as blender_live

    with pytest.raises(RuntimeError, match="Cannot open the stream"):
        start(scene, f"http://127.0.0.1:{BENCH.free_port()}/none.mjpg")
    assert not blender_live.peek(scene).is_live
    with pytest.raises(RuntimeError, match="No camera 92"):
        start(scene, "92")
