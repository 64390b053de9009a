"""PoseTrack and its landmark cache (.npz): exact keys, round trip, atomic writes, clear errors."""
import os
import re

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


def _numbered(frames=10, first_frame=0):
    t = PoseTrack.empty(frames, 30.0, (640, 360), "/videos/clip.mp4", "full", first_frame=first_frame)
    t.timestamps_ms[:] = np.arange(first_frame, first_frame + frames)  # row → its video frame number
    return t


@pytest.mark.parametrize("first_frame,start,stop,want", [
    (0, 0, 4, [0, 1, 2, 3]),         # 0 is frame 0, not "unset"
    (0, None, 3, [0, 1, 2]),
    (0, 7, None, [7, 8, 9]),
    (0, None, None, list(range(10))),
    (0, 8, 50, [8, 9]),              # an end past the cache is clamped, like a video's
    (5, 5, 7, [5, 6]),               # video frame numbers, not rows
    (5, 12, None, [12, 13, 14]),
    (5, None, 6, [5]),
    (5, 14, 15, [14]),
])
def test_video_range_slices_by_video_frame_numbers(first_frame, start, stop, want):
    t = _numbered(10, first_frame).video_range(start, stop)
    assert t.timestamps_ms.tolist() == want and len(t) == len(want)
    assert t.first_frame == want[0]


@pytest.mark.parametrize("first_frame,start,stop,message", [
    (0, 10, None, re.escape("Frame range starts at 10 but the landmark cache of clip.mp4 has only 10 frames "
                            "(0..9). Choose a start from 0 to 9.")),
    (0, 25, 30, "Frame range starts at 25 but .* has only 10 frames \\(0..9\\)"),
    (5, 0, 8, "Frame range starts at 0 but .* has only 10 frames \\(5..14\\). Choose a start from 5 to 14."),
    (5, 3, None, "Frame range starts at 3 but"),
    (5, None, 5, "Frame range ends at 5 but .* \\(5..14\\). Choose an end above 5."),
    (5, None, 2, "Frame range ends at 2 but"),
    (0, 4, 4, "Frame range 4:4 is empty"),
    (0, 6, 2, "Frame range 6:2 is empty"),
    (0, -1, None, "must be a whole number"),
])
def test_video_range_outside_the_cache_is_a_clear_error(first_frame, start, stop, message):
    with pytest.raises(TrackError, match=message):
        _numbered(10, first_frame).video_range(start, stop)


def test_video_range_names_the_cache_and_handles_an_empty_one():
    with pytest.raises(TrackError, match="starts at 3 but cam.npz has only 2 frames"):
        _numbered(2).video_range(3, None, name="cam.npz")
    with pytest.raises(TrackError, match="has no frames"):
        _numbered(0).video_range(None, None)
