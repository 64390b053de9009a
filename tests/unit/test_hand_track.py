"""Hand arrays of PoseTrack and the cache (format 2): round trip with and without hands, older caches,
slicing, the parallel capture's row messages, and where a hand's crop is placed from the body."""
import numpy as np
import pytest
from conftest import saved_and_loaded

from video_mocap.capture.hands import LEFT, RIGHT, body_sides, hand_crop
from video_mocap.capture.segment import Rows, place_rows
from video_mocap.capture.track import FORMAT_VERSION, HAND_KEYS, PoseTrack, TrackError


def make_track(frames=6, hands=True):
    t = PoseTrack.empty(frames, 30.0, (640, 360), "/videos/clip.mp4", "full", first_frame=4, hands=hands)
    rng = np.random.default_rng(1)
    t.world_landmarks[:] = rng.normal(size=t.world_landmarks.shape)
    t.image_landmarks[:] = rng.uniform(size=t.image_landmarks.shape)
    t.detected[:] = True
    t.timestamps_ms[:] = np.arange(frames) * 33
    if hands:
        t.hand_world_landmarks[1:, LEFT] = rng.normal(scale=0.05, size=(frames - 1, 21, 3))
        t.hand_image_landmarks[1:, LEFT] = rng.uniform(size=(frames - 1, 21, 3))
        t.hand_presence[1:, LEFT] = 0.9
        t.hand_world_landmarks[::2, RIGHT] = rng.normal(scale=0.05, size=(len(range(0, frames, 2)), 21, 3))
        t.hand_image_landmarks[::2, RIGHT] = 0.5
        t.hand_presence[::2, RIGHT] = 0.7
    return t


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


def test_empty_hand_arrays_are_nan_with_the_documented_shapes():
    t = PoseTrack.empty(3, 30.0, (64, 64), hands=True)
    assert t.has_hands
    assert t.hand_world_landmarks.shape == (3, 2, 21, 3) and t.hand_image_landmarks.shape == (3, 2, 21, 3)
    assert t.hand_presence.shape == (3, 2)
    assert all(np.isnan(a).all() for a in t.hand_arrays().values())
    assert not PoseTrack.empty(3, 30.0, (64, 64)).has_hands
    assert PoseTrack.empty(3, 30.0, (64, 64)).hand_arrays() == {}


def test_round_trip_with_hands(tmp_path):
    t = make_track()
    path = t.save(tmp_path / "hands.npz")
    with np.load(path) as data:
        assert set(HAND_KEYS) <= set(data.files)
        assert int(data["format_version"]) == FORMAT_VERSION == 3
    back = PoseTrack.load(path)
    assert back.has_hands
    for key in HAND_KEYS:
        assert getattr(back, key).dtype == np.float32
        assert same(getattr(back, key), getattr(t, key)), key
    assert np.isnan(back.hand_presence[0, LEFT]) and back.hand_presence[1, LEFT] == pytest.approx(0.9)


def test_round_trip_without_hands(tmp_path):
    t = make_track(hands=False)
    files, back = saved_and_loaded(t, tmp_path / "body.npz")
    assert not set(HAND_KEYS) & files
    assert not back.has_hands and back.hand_presence is None
    assert same(back.world_landmarks, t.world_landmarks)


def test_a_format_1_cache_loads_without_hands(tmp_path):
    t = make_track(hands=False)
    path = tmp_path / "old.npz"
    np.savez_compressed(path, world_landmarks=t.world_landmarks, image_landmarks=t.image_landmarks,
                        visibility=t.visibility, presence=t.presence, detected=t.detected,
                        timestamps_ms=t.timestamps_ms, fps=np.float64(30.0), frame_size=np.array([640, 360]),
                        source=np.str_("/videos/clip.mp4"), model=np.str_("full"), first_frame=np.int64(4),
                        format_version=np.int64(1))
    back = PoseTrack.load(path)
    assert len(back) == 6 and back.first_frame == 4 and not back.has_hands
    back.save(tmp_path / "again.npz")  # and writes as format 2 without hand keys
    assert not PoseTrack.load(tmp_path / "again.npz").has_hands


def test_sliced_and_video_range_cut_the_hand_arrays():
    t = make_track()
    part = t.sliced(2, 5)
    assert part.has_hands and len(part) == 3 and part.first_frame == 6
    for key in HAND_KEYS:
        assert same(getattr(part, key), getattr(t, key)[2:5])
    ranged = t.video_range(5, 8)  # video frames 5..7 = rows 1..3
    for key in HAND_KEYS:
        assert same(getattr(ranged, key), getattr(t, key)[1:4])
    assert not make_track(hands=False).sliced(1, 3).has_hands


def test_validate_rejects_bad_or_partial_hand_arrays(tmp_path):
    t = make_track()
    t.hand_presence = t.hand_presence[:, :1]
    with pytest.raises(TrackError, match="hand_presence"):
        t.save(tmp_path / "bad.npz")
    t = make_track()
    t.hand_image_landmarks = None
    with pytest.raises(TrackError, match="all present or all absent"):
        t.validate()


def test_rows_messages_carry_the_hands_into_the_stitched_track():
    """A worker's 'rows' message with hands, placed by the parent (the parallel capture's stitching)."""
    track = PoseTrack.empty(5, 30.0, (64, 64), first_frame=10, hands=True)
    rows = Rows()
    rows.clear(12)
    nan = (np.full((2, 21, 3), np.nan, np.float32), np.full((2, 21, 3), np.nan, np.float32), np.full(2, np.nan))
    found = (np.ones((33, 3), np.float32), np.ones((33, 3), np.float32), np.ones(33, np.float32),
             np.ones(33, np.float32))
    hand = (np.full((2, 21, 3), 0.25, np.float32), np.full((2, 21, 3), 0.5, np.float32), np.array([0.8, 0.6]))
    rows.add(found, 400, hand)
    rows.add(None, 433, nan)
    assert place_rows(track, rows.message(), 10) == 2
    assert (track.hand_world_landmarks[2] == 0.25).all() and (track.hand_image_landmarks[2] == 0.5).all()
    assert track.hand_presence[2].tolist() == pytest.approx([0.8, 0.6])
    assert np.isnan(track.hand_presence[[0, 1, 3, 4]]).all()
    body_only = Rows()
    body_only.clear(10)
    body_only.add(found, 333)
    assert len(body_only.message()) == 8  # no hands: the message of format 1


def body(width=640, height=480, presence=1.0):
    """A body facing the camera: its left wrist on the image's right."""
    image = np.full((33, 3), np.nan, np.float32)
    px = {11: (380, 150), 12: (260, 150), 13: (420, 230), 14: (220, 230), 15: (440, 300), 16: (200, 300),
          17: (450, 330), 18: (190, 330), 19: (445, 335), 20: (195, 335), 21: (430, 325), 22: (210, 325)}
    for i, (x, y) in px.items():
        image[i] = (x / width, y / height, 0.0)
    return (np.zeros((33, 3), np.float32), image, np.ones(33, np.float32), np.full(33, presence, np.float32))


def test_hand_crop_holds_the_hand_and_follows_the_side():
    _, image, _, _ = body()
    for side, wrist, knuckle in ((LEFT, (440, 300), (445, 335)), (RIGHT, (200, 300), (195, 335))):
        x0, y0, size = hand_crop(image, side, 640, 480)
        for x, y in (wrist, knuckle):
            assert x0 + 0.1 * size < x < x0 + 0.9 * size and y0 + 0.1 * size < y < y0 + 0.9 * size
        assert size >= 1.2 * np.hypot(20, 70) - 1e-3  # at least 1.2 forearms (elbow to wrist: 20, 70 px)
    missing = image.copy()
    missing[15] = np.nan
    assert hand_crop(missing, LEFT, 640, 480) is None
    far = image.copy()
    far[[15, 17, 19, 21, 13], 0] += 3.0  # the arm far outside the frame
    assert hand_crop(far, LEFT, 640, 480) is None


def test_body_sides_need_a_present_wrist_and_elbow():
    assert body_sides(None) == []
    assert body_sides(body()) == [LEFT, RIGHT]
    assert body_sides(body(presence=0.3)) == []  # the pose model's guess on a close-up of hands
    weak = body()
    weak[3][16] = 0.1  # the right wrist out of the frame
    assert body_sides(weak) == [LEFT]
