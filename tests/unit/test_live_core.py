"""Live capture without bpy and without models (issue 16): the newest-frame policy, the take, drops,
the streaming One Euro filter, the per-frame pose, and the sources' start-up errors."""
import socket
import threading
import time

import numpy as np
import pytest
from synthetic import BONE_MAP, landmarks_from_pose, make_rig, random_pose, world_directions

from video_mocap.capture.errors import MocapError, VideoError
from video_mocap.capture.live import FrameGrabber, FrameSource, LiveCapture, LiveResult, SourceError, open_source
from video_mocap.live import LivePoser, OneEuroStream
from video_mocap.motion.filters import one_euro
from video_mocap.retarget.rotations import angle_between


class FakeSource(FrameSource):
    """`fps` frames a second, each a tiny image holding its number; ends after `frames` ('dropped'
    like a stream, or 'end' like a file)."""
    kind = "stream"

    def __init__(self, fps=100.0, frames=None, end="dropped"):
        super().__init__("fake", fps, (8, 6))
        self.period, self.frames, self.end = 1.0 / fps, frames, end
        self.n = 0
        self.closed = False
        self.t0 = None

    def read(self):
        if self.closed or (self.frames is not None and self.n >= self.frames):
            self.end_reason = self.end
            return None
        self.t0 = self.t0 or time.perf_counter()
        time.sleep(max(0.0, self.t0 + self.n * self.period - time.perf_counter()))
        self.n += 1
        return np.full((6, 8, 3), self.n % 256, np.uint8), None

    def close(self):
        self.closed = True


class FakeLandmarker:
    """Takes `busy` seconds a frame (like the model), finds a person unless told otherwise."""

    def __init__(self, busy=0.03, person=True):
        self.busy, self.person = busy, person
        self.timestamps, self.threads = [], set()
        self.closed = False

    def detect(self, frame, timestamp_ms, rgb=False):
        self.timestamps.append(timestamp_ms)
        self.threads.add(threading.get_ident())
        time.sleep(self.busy)
        if not self.person:
            return None
        world = np.zeros((33, 3), np.float32) + frame[0, 0, 0] / 1000
        return world, world.copy(), np.ones(33, np.float32), np.ones(33, np.float32)

    def close(self):
        self.closed = True


def started(source, landmarker, **kw):
    live = LiveCapture(source, model="fake", **kw)
    live._landmarker = landmarker
    return live.start()


def test_grabber_keeps_only_the_newest_frame():
    grabber = FrameGrabber(FakeSource(fps=200)).start()
    try:
        first = grabber.newest(0, timeout=2)
        time.sleep(0.2)   # a slow consumer: ~40 frames arrive meanwhile
        newest = grabber.newest(first.seq, timeout=2)
        assert newest.seq - first.seq > 10 and newest.seq == grabber.grabbed
    finally:
        grabber.stop()
    assert grabber.ended == "stopped" and grabber.source.closed


def test_an_old_newest_frame_waits_briefly_for_the_next_one():
    """The landmarker gets free when the newest frame is most of an interval old: it takes the next
    frame, due within a quarter interval, rather than the stale one; a fresh newest frame is taken at once."""
    grabber = FrameGrabber(FakeSource(fps=10)).start()   # a frame every 100 ms
    try:
        frame = None
        for _ in range(5):  # a few intervals known
            frame = grabber.newest(frame.seq if frame else 0, timeout=2)
        time.sleep(max(0.0, frame.arrival + 0.085 - time.perf_counter()))   # 85 ms old: the next due in ~15
        t0 = time.perf_counter()
        got = grabber.newest(frame.seq - 1, timeout=2, fresh_wait=0.25)
        assert got.seq == frame.seq + 1 and time.perf_counter() - t0 < 0.06
        fresh = grabber.newest(got.seq, timeout=2)                          # just arrived
        t0 = time.perf_counter()
        again = grabber.newest(fresh.seq - 1, timeout=2, fresh_wait=0.25)
        assert again.seq == fresh.seq and time.perf_counter() - t0 < 0.02
        stale = grabber.newest(again.seq, timeout=2)
        time.sleep(max(0.0, stale.arrival + 0.08 - time.perf_counter()))
        assert grabber.newest(stale.seq - 1, timeout=2).seq == stale.seq    # fresh_wait 0: as it is
    finally:
        grabber.stop()


def test_a_busy_landmarker_drops_frames_and_latency_stays_bounded():
    landmarker = FakeLandmarker(busy=0.03)
    results = []
    live = started(FakeSource(fps=100), landmarker, on_result=lambda r: results.append(r) or "pose")
    live.record(True)
    time.sleep(1.0)
    live.record(False)
    live.stop()
    stats = live.stats()
    assert 15 <= live.processed <= 40 and live.dropped > 40          # ~33 processed of ~100 arrived
    assert live.processed + live.dropped <= live.grabber.grabbed
    latencies = np.array([r.done - r.arrival for r in results])[1:]  # the first: while the threads started
    assert np.median(latencies) < 0.03 + 0.02 and latencies.max() < 0.03 * 2 + 0.05  # one detection, never a queue
    assert stats["fps"] > 15 and stats["recorded"] == len(live.take())
    assert landmarker.threads and threading.get_ident() not in landmarker.threads  # off the caller's thread
    assert all(r.pose == "pose" for r in results) and live.latest().pose == "pose"
    assert (np.diff(landmarker.timestamps) > 0).all()
    assert landmarker.closed


def test_the_take_has_real_timestamps_and_the_landmarks():
    live = started(FakeSource(fps=50), FakeLandmarker(busy=0.005))
    live.record(True)
    time.sleep(0.6)
    live.stop()
    track = live.take()
    assert len(track) >= 15 and track.detected.all() and track.model == "fake"
    assert track.timestamps_ms[0] == 0 and (np.diff(track.timestamps_ms) > 0).all()
    # Real time: ~20 ms a frame (50 fps); the rate is the source's when no frame was dropped.
    assert 14 <= np.median(np.diff(track.timestamps_ms)) <= 30
    assert track.fps == pytest.approx(50, rel=0.35)
    track.validate()
    assert "stream_dropped" not in track.extra


def test_a_source_that_drops_mid_take_keeps_the_frames_and_says_so():
    live = started(FakeSource(fps=100, frames=30), FakeLandmarker(busy=0.001))
    live.record(True)
    deadline = time.perf_counter() + 5
    while live.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.02)
    assert not live.is_alive() and live.ended == "dropped"
    track = live.take()
    assert 5 <= len(track) <= 30 and track.extra["stream_dropped"] == "dropped"
    live.stop()


def test_nobody_in_view_is_recorded_as_undetected_and_no_pose():
    poses = []
    live = started(FakeSource(fps=50, frames=10, end="end"), FakeLandmarker(busy=0.001, person=False),
                   on_result=lambda r: poses.append(r.landmarks))
    live.record(True)
    while live.is_alive():
        time.sleep(0.02)
    track = live.take()
    assert not track.detected.any() and np.isnan(track.world_landmarks).all()
    assert live.ended == "end" and "stream_dropped" not in track.extra and poses == [None] * len(poses)


def test_an_empty_take_is_an_error():
    live = started(FakeSource(fps=50, frames=0), FakeLandmarker())
    live.record(True)
    time.sleep(0.1)
    live.stop()
    with pytest.raises(SourceError, match="Nothing was recorded"):
        live.take()


def test_streaming_one_euro_equals_the_batch_filter():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=(120, 33, 3)) * 0.01, axis=0)
    x[40:43, 5] = np.nan                        # a gap restarts the channel's filter, as in the batch filter
    w = rng.uniform(0.2, 1.0, size=(120, 33))
    batch = one_euro(x, 30.0, weights=w)
    stream = OneEuroStream()
    live = np.stack([stream(x[t], 1 / 30, w[t][:, None]) for t in range(len(x))])
    np.testing.assert_allclose(live, batch, atol=1e-12, equal_nan=True)


def _result(world_mp, t_ms, seq=1):
    ones = np.ones(33, np.float32)
    return LiveResult(seq, 0.0, 0.0, t_ms, (world_mp, world_mp, ones, ones))


def test_the_live_pose_is_the_offline_solvers():
    """Unfiltered, each frame's rotations put the bones where the known motion put them."""
    rig = make_rig("A", seed=4)
    frames = 12
    quats = random_pose(rig, frames, seed=2)
    P = landmarks_from_pose(rig, quats, frames)           # Blender axes
    mp = np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1)  # back to MediaPipe's (x, y down, z away)
    poser = LivePoser(rig, BONE_MAP, smoothing="none", root_mode="in_place")
    want = world_directions(rig, quats, frames)
    for t in range(frames):
        pose = poser(_result(np.nan_to_num(mp[t]), 33.0 * t, t + 1))
        got = world_directions(rig, {b: q[None] for b, q in pose.rotations.items()}, 1)
        for role in ("upper_arm.L", "forearm.R", "thigh.L", "shin.R"):
            bone = BONE_MAP[role]
            assert angle_between(got[bone], want[bone][t:t + 1]).max() < 1e-3, (role, t)
    assert poser(LiveResult(99, 0, 0, 999.0, None)) is None   # nobody: no new pose (the last one holds)


def _quaternion_angle_deg(a, b):
    """Angle (degrees) between rotations given as unit quaternions (…,4), either sign."""
    return np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0.0, 1.0)))


@pytest.mark.parametrize("preset", ["synthetic", "mixamo", "unreal"])
def test_the_live_one_frame_solve_gives_the_offline_rotations(preset, monkeypatch):
    """Frame by frame, the live poser's rotations and root motion are the offline solver's for the same
    take (noisy landmarks, not exactly the rig's), and a frame reads nothing from the rig again: the
    rig's data was worked out once, when the poser was made."""
    from preset_rigs import preset_rest

    from video_mocap.retarget import body, solver
    from video_mocap.retarget import rig as rig_mod
    from video_mocap.retarget.bonemaps import resolve_preset

    if preset == "synthetic":
        rig, bone_map = make_rig("A", seed=4, spine_bones=3), BONE_MAP
    else:
        rig = preset_rest(preset, "T", seed=2)
        bone_map = resolve_preset(preset, list(rig.bones), {n: b.parent for n, b in rig.bones.items()})
    frames = 20
    source = make_rig("T", seed=7)
    P = np.nan_to_num(landmarks_from_pose(source, random_pose(source, frames, seed=8), frames))
    P = P + np.random.default_rng(1).normal(scale=0.01, size=P.shape)
    offline = solver.solve_points(P, rig, bone_map, root_mode="grounded", foot_lock=False)
    poser = LivePoser(rig, bone_map, smoothing="none", root_mode="grounded")

    def rebuilt(*args, **kw):
        raise AssertionError("a live frame worked the rig's data out again")

    for module, name in ((solver, "rest_landmarks"), (solver, "resolve_bone_map"), (body, "rest_landmarks")):
        monkeypatch.setattr(module, name, rebuilt)
    for method in ("ordered", "chain", "is_ancestor"):
        monkeypatch.setattr(rig_mod.RestPose, method, rebuilt)
    mp = np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1)   # MediaPipe's axes, as the landmarker gives
    worst = 0.0
    for t in range(frames):
        pose = poser(_result(mp[t], 1000 / 30 * t, t + 1))
        assert list(pose.rotations) == list(offline.rotations)
        for bone, q in pose.rotations.items():
            worst = max(worst, float(_quaternion_angle_deg(q, offline.rotations[bone][t])))
        assert set(pose.locations) == set(offline.locations)
        for bone, loc in pose.locations.items():
            np.testing.assert_allclose(loc, offline.locations[bone][t], atol=1e-9)
    assert worst < 0.01, worst


def test_the_filtered_pose_follows_with_little_lag():
    rig = make_rig("T")
    frames = 60
    quats = random_pose(rig, frames, seed=5, max_deg=30)
    P = landmarks_from_pose(rig, quats, frames)
    mp = np.nan_to_num(np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1))
    poser = LivePoser(rig, BONE_MAP)
    want = world_directions(rig, quats, frames)
    errors = []
    for t in range(frames):
        pose = poser(_result(mp[t], 1000 / 30 * t, t + 1))
        got = world_directions(rig, {b: q[None] for b, q in pose.rotations.items()}, 1)
        errors.append(angle_between(got[BONE_MAP["forearm.L"]], want[BONE_MAP["forearm.L"]][t:t + 1]))
    assert np.max(errors) < 10 and np.mean(errors) < 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_stream_and_missing_camera_are_clear_errors(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="Cannot open the stream .* unreachable"):
        open_source(f"http://127.0.0.1:{_closed_port()}/video.mjpg")
    assert time.perf_counter() - t0 < 10
    with pytest.raises(SourceError, match="No camera 93"):
        open_source("93")
    with pytest.raises(SourceError, match="No camera /dev/video93"):
        open_source("/dev/video93")
    with pytest.raises(VideoError, match="Video not found"):
        open_source(str(tmp_path / "none.mp4"))
    with pytest.raises(SourceError, match="No live source"):
        open_source("  ")
    assert issubclass(SourceError, MocapError)
