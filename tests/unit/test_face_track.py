"""Face arrays of PoseTrack and the cache (format 3): round trip with and without a face, older caches,
slicing, validation; where the face crop is placed from the body; the face model file; expressions
filled into a track."""
import numpy as np
import pytest
import synthetic_face as S
from conftest import saved_and_loaded

from video_mocap.capture import face as capface
from video_mocap.capture.errors import ModelError
from video_mocap.capture.track import FACE_KEYS, FORMAT_VERSION, PoseTrack, TrackError
from video_mocap.motion import face as F


def make_track(frames=6, face=True, count=478):
    t = PoseTrack.empty(frames, 30.0, (640, 480), "/videos/clip.mp4", "full", first_frame=2, face=face,
                        face_count=count)
    t.detected[:] = True
    t.timestamps_ms[:] = np.arange(frames) * 33
    if face:
        for i in range(1, frames):
            t.face_landmarks[i] = S.project(S.face(jaw=0.1 * i), S.rotation(5 * i, 0, 0))[:count]
            t.face_presence[i] = 1.0
    return t


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


def test_round_trip_with_face_and_expressions(tmp_path):
    t = make_track()
    F.add_expressions(t)
    assert t.face_expressions.shape == (6, len(F.EXPRESSION_NAMES))
    assert np.isnan(t.face_expressions[0]).all() and np.isfinite(t.face_expressions[1:]).all()
    path = t.save(tmp_path / "c.npz")
    with np.load(path) as data:
        assert int(data["format_version"]) == FORMAT_VERSION == 3
        assert set(FACE_KEYS) | {"face_expressions", "face_expression_names"} <= set(data.files)
    back = PoseTrack.load(path)
    assert back.has_face and back.face_expression_names == F.EXPRESSION_NAMES
    for key in ("face_landmarks", "face_presence", "face_expressions"):
        assert same(getattr(back, key), getattr(t, key))


def test_round_trip_with_face_only_and_468_points(tmp_path):
    t = make_track(count=468)
    back = PoseTrack.load(t.save(tmp_path / "c.npz"))
    assert back.face_landmarks.shape == (6, 468, 3) and back.face_expressions is None
    F.add_expressions(back)
    assert back.face_expressions.shape == (6, len(F.EXPRESSION_NAMES))


def test_without_face_and_older_caches_load(tmp_path):
    t = make_track(face=False)
    path = tmp_path / "c.npz"
    files, back = saved_and_loaded(t, path)
    assert not set(FACE_KEYS) & files
    assert not back.has_face and back.face_arrays() == {}
    assert F.add_expressions(back) is back and back.face_expressions is None
    # a format 2 cache (no face keys, version 2) loads too
    with np.load(path) as data:
        old = {k: data[k] for k in data.files}
    old["format_version"] = np.int64(2)
    np.savez(tmp_path / "v2.npz", **old)
    assert not PoseTrack.load(tmp_path / "v2.npz").has_face


def test_slicing_keeps_face_rows():
    t = F.add_expressions(make_track())
    part = t.video_range(4, 7)
    assert part.first_frame == 4 and len(part) == 3
    assert same(part.face_landmarks, t.face_landmarks[2:5]) and same(part.face_presence, t.face_presence[2:5])
    assert same(part.face_expressions, t.face_expressions[2:5])
    assert part.face_expression_names == t.face_expression_names


def test_validation():
    t = make_track()
    t.face_presence = None
    with pytest.raises(TrackError, match="all present"):
        t.validate()
    t = make_track()
    t.face_landmarks = t.face_landmarks[:, :400]
    with pytest.raises(TrackError, match="478 or 468"):
        t.validate()
    t = make_track()
    t.face_expressions = np.zeros((6, 3), np.float32)
    with pytest.raises(TrackError, match="both present"):
        t.validate()
    t.face_expression_names = ("a", "b")
    with pytest.raises(TrackError, match="expected"):
        t.validate()


def body_from_face(cx, cy, eye_span, width, height):
    """BlazePose image landmarks (33,3) with the face points of a frontal face centred at (cx, cy) px."""
    pts = np.full((33, 3), 0.5)
    e = eye_span / 2
    face = {0: (0, 0), 1: (-0.6 * e, -0.5 * e), 2: (-e, -0.5 * e), 3: (-1.3 * e, -0.5 * e),
            4: (0.6 * e, -0.5 * e), 5: (e, -0.5 * e), 6: (1.3 * e, -0.5 * e), 7: (-2.2 * e, 0), 8: (2.2 * e, 0),
            9: (-0.6 * e, 0.8 * e), 10: (0.6 * e, 0.8 * e)}
    for i, (dx, dy) in face.items():
        pts[i, :2] = (cx + dx) / width, (cy + dy) / height
    return pts


def test_face_crop_placed_from_the_body():
    body = body_from_face(300, 200, 40, 1280, 720)
    x0, y0, size = capface.face_crop(body, 1280, 720)
    assert x0 < 300 < x0 + size and y0 < 200 < y0 + size
    assert 2.5 * 40 <= size <= 5 * 40                  # about twice the head's width
    body[7:9, 0] = np.nan
    assert capface.face_crop(body, 1280, 720) is None  # a face point missing
    far = body_from_face(-500, 200, 40, 1280, 720)
    assert capface.face_crop(far, 1280, 720) is None   # outside the frame
    low = body_from_face(300, 200, 40, 1280, 720)
    presence = np.zeros(33)
    assert capface.face_crop(low, 1280, 720, presence) is None  # the body's face points not present


def test_face_model_file_resolution(tmp_path):
    bad = tmp_path / "face.task"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a MediaPipe .task bundle"):
        capface.resolve_face_model(bad)
    import zipfile

    with zipfile.ZipFile(tmp_path / "hand.task", "w") as zf:
        zf.writestr("hand_detector.tflite", b"x")
    with pytest.raises(ModelError, match="missing face_detector.tflite"):
        capface.resolve_face_model(tmp_path / "hand.task")
    with zipfile.ZipFile(tmp_path / "user.task", "w") as zf:
        for name in capface.FACE_BUNDLE_MEMBERS + (capface.BLENDSHAPES_MEMBER,):
            zf.writestr(name, b"x")
    assert capface.resolve_face_model(tmp_path / "user.task") == tmp_path / "user.task"  # the user's file wins
    assert capface.has_blendshapes(tmp_path / "user.task") and not capface.has_blendshapes(bad)
