"""PoseTrack and its landmark cache (.npz): exact keys, round trip, atomic writes, clear errors."""
import os

import numpy as np
import pytest

from video_mocap.capture.track import PoseTrack, TrackError

KEYS = {"world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms", "fps",
        "frame_size", "source", "model"}


def make_track(frames=5):
    t = PoseTrack.empty(frames, 30.0, (640, 360), "/videos/clip.mp4", "full", first_frame=7)
    rng = np.random.default_rng(0)
    t.world_landmarks[1:] = rng.normal(size=(frames - 1, 33, 3))
    t.image_landmarks[1:] = rng.uniform(size=(frames - 1, 33, 3))
    t.visibility[1:] = 0.9
    t.presence[1:] = 0.8
    t.detected[1:] = True
    t.timestamps_ms[:] = np.arange(7, 7 + frames) * 1000 // 30
    return t


def test_round_trip_keeps_everything(tmp_path):
    t = make_track()
    path = t.save(tmp_path / "cache.npz")
    with np.load(path) as data:
        assert KEYS <= set(data.files)
    back = PoseTrack.load(path)
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms"):
        np.testing.assert_array_equal(getattr(back, key), getattr(t, key))
    assert np.isnan(back.world_landmarks[0]).all() and not back.detected[0]
    assert (back.fps, back.frame_size, back.source, back.model, back.first_frame) == (
        30.0, (640, 360), "/videos/clip.mp4", "full", 7)
    assert back.world_landmarks.shape == (5, 33, 3)


def test_failed_write_keeps_the_old_cache(tmp_path, monkeypatch):
    path = make_track(5).save(tmp_path / "cache.npz")
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(OSError):
        make_track(9).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["cache.npz"]  # no temporary file left behind


@pytest.mark.parametrize("content", [b"not a zip at all", None])
def test_foreign_or_corrupt_cache_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, something=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(TrackError, match="bad.npz"):
        PoseTrack.load(path)


def test_missing_cache_and_bad_shapes(tmp_path):
    with pytest.raises(TrackError, match="not found"):
        PoseTrack.load(tmp_path / "nope.npz")
    t = make_track()
    t.visibility = t.visibility[:, :10]
    with pytest.raises(TrackError, match="visibility"):
        t.save(tmp_path / "x.npz")


def test_sliced_keeps_video_frame_numbers():
    t = make_track(6).sliced(2, 5)
    assert len(t) == 3 and t.first_frame == 9
