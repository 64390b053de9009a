"""Video decoding: metadata, ranges, phone rotation flags, and clear errors for bad input."""
import numpy as np
import pytest
from videos import with_rotation, write_video

from video_mocap.capture.errors import VideoError
from video_mocap.capture.video import VideoSource, parse_frame_range, probe


def test_probe_and_full_read(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=12, size=(160, 120), fps=25)
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frame_count, info.rotation) == (160, 120, 25.0, 12, 0)
    with VideoSource(path) as video:
        indices = [i for i, frame in video.frames(0, None)]
    assert indices == list(range(12))


def test_frame_range_and_out_of_range(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=12)
    with VideoSource(path) as video:
        start, stop = video.resolve_range(3, 7)
        assert [i for i, _ in video.frames(start, stop)] == [3, 4, 5, 6]
        assert video.resolve_range(5, 100) == (5, 12)
        with pytest.raises(VideoError, match="only 12 frames"):
            video.resolve_range(40, None)


def test_parse_frame_range():
    assert parse_frame_range("10:20") == (10, 20)
    assert parse_frame_range(":20") == (None, 20)
    assert parse_frame_range("5:") == (5, None)
    assert parse_frame_range(None) == (None, None)
    for bad in ("20:10", "a:b", "7", "-1:5"):
        with pytest.raises(ValueError):
            parse_frame_range(bad)


@pytest.mark.parametrize("degrees_ccw,rotate", [(90, "ccw"), (-90, "cw"), (180, "180")])
def test_rotation_flag_is_applied(tmp_path, degrees_ccw, rotate):
    import cv2

    plain = write_video(tmp_path / "plain.mp4", frames=3, size=(160, 96))
    rotated = with_rotation(plain, tmp_path / "rotated.mp4", degrees_ccw)
    with VideoSource(plain) as video:
        original = [f for _, f in video.frames(0, None)]
    with VideoSource(rotated) as video:
        info = video.info
        frames = [f for _, f in video.frames(0, None)]
    code = {"ccw": cv2.ROTATE_90_COUNTERCLOCKWISE, "cw": cv2.ROTATE_90_CLOCKWISE, "180": cv2.ROTATE_180}[rotate]
    expected = [cv2.rotate(f, code) for f in original]
    assert frames[0].shape == expected[0].shape
    assert (info.width, info.height) == (frames[0].shape[1], frames[0].shape[0])
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)


def test_bad_inputs_have_clear_messages(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        VideoSource(tmp_path / "missing.mp4")
    with pytest.raises(VideoError, match="folder"):
        VideoSource(tmp_path)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(VideoError, match="notes.mp4"):
        VideoSource(text)
