"""Hand arrays of PoseTrack and the cache (format 2): round trip with and without hands, older caches,
slicing, the parallel capture's row messages, where a hand's crop is placed from the body, and how it holds
still when the body's wrists jump (a fake landmarker that finds bright squares and tracks them)."""
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import saved_and_loaded

from video_mocap.capture import hands as hands_module
from video_mocap.capture.hands import LEFT, RIGHT, HandThread, HandTracker, body_sides, hand_crop, held_crop
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


def test_held_crop_follows_the_body_unless_its_wrist_jumps_away_from_the_hand_tracked():
    body_crop, previous = (100.0, 100.0, 200.0), (90.0, 95.0, 200.0)
    hand_wrist = np.array([190.0, 180.0])
    # nothing tracked: the body's crop
    assert held_crop(body_crop, np.array([600.0, 100.0]), None) == (body_crop, 0)
    assert held_crop(body_crop, np.array([600.0, 100.0]), (previous, None, 0)) == (body_crop, 0)
    # the body's wrist near the hand tracked (within WRIST_JUMP crops): the body's crop, which moves with it
    near = hand_wrist + [0.45 * 200, 0.0]
    assert held_crop(body_crop, near, (previous, hand_wrist, 0)) == (body_crop, 0)
    # jumped (the pose model swapped its sides, or lost the wrist's crop): the previous crop, HOLD_FRAMES frames
    far = hand_wrist + [0.55 * 200, 0.0]
    assert held_crop(body_crop, far, (previous, hand_wrist, 0)) == (previous, 1)
    assert held_crop(None, near, (previous, hand_wrist, 0)) == (previous, 1)
    assert held_crop(body_crop, far, (previous, hand_wrist, hands_module.HOLD_FRAMES)) == (body_crop, 0)
    assert held_crop(None, far, (previous, hand_wrist, hands_module.HOLD_FRAMES)) == (None, 0)


SQUARE = 12  # a hand in the synthetic frames: a bright square, SQUARE pixels a side


class FakeLandmarker:
    """One hand, VIDEO mode, on a crop: while tracking, the bright square nearest where the hand was in the
    previous crop (within 0.15 of the crop's side), else lost; not tracking, the 'palm detector' (counted):
    the square nearest the crop's centre. Its 21 points at the square's centre."""

    def __init__(self):
        self.previous, self.palm_runs, self.closed = None, 0, False

    def detect(self, patch):
        import cv2

        count, _, stats, centres = cv2.connectedComponentsWithStats((patch[..., 0] > 128).astype(np.uint8))
        centres = centres[1:][stats[1:, cv2.CC_STAT_AREA] > 4] / patch.shape[1]
        if self.previous is None:
            self.palm_runs += 1
            target = np.array([0.5, 0.5])
        else:
            target = self.previous
        dist = np.linalg.norm(centres - target, axis=1) if len(centres) else np.array([])
        if not len(dist) or (self.previous is not None and dist.min() > 0.15):
            self.previous = None
            return SimpleNamespace(hand_landmarks=[], hand_world_landmarks=[], handedness=[])
        self.previous = centres[int(np.argmin(dist))]
        point = SimpleNamespace(x=float(self.previous[0]), y=float(self.previous[1]), z=0.0)
        return SimpleNamespace(hand_landmarks=[[point] * 21], hand_world_landmarks=[[point] * 21],
                               handedness=[[SimpleNamespace(score=0.9)]])

    def close(self):
        self.closed = True


class FakeTracker(HandTracker):
    """HandTracker (its crops, side rule, holding and adopting) with FakeLandmarker in place of MediaPipe's."""

    def _make(self, num_hands):
        self.made = [*getattr(self, "made", []), FakeLandmarker()]
        return self.made[-1]

    def _run(self, slot, impl, image, timestamp_ms):
        return impl.detect(image)

    def palm_runs(self):
        return sum(m.palm_runs for m in self.made)


def scene(swapped):
    """A 640x480 RGB frame with the two hands of body() as bright squares, and body() itself, its left and
    right swapped on `swapped` frames (a pose model's slip)."""
    world, image, visibility, presence = body()
    hands = {LEFT: (442, 330), RIGHT: (230, 300)}  # not mirror images: each where only its own crop tracks it
    frame = np.zeros((480, 640, 3), np.uint8)
    for x, y in hands.values():
        frame[y - SQUARE // 2:y + SQUARE // 2, x - SQUARE // 2:x + SQUARE // 2] = 255
    if swapped:
        image = image.copy()
        for left, right in zip((15, 17, 19, 21, 13, 11), (16, 18, 20, 22, 14, 12)):
            image[[left, right]] = image[[right, left]]
    return frame, (world, image, visibility, presence), hands


def test_a_one_frame_swap_of_the_bodys_wrists_keeps_tracking_and_the_side_rule():
    swaps = [False, False, True, False, False]
    tracker = FakeTracker("fake.task")
    got = []
    for ts, swapped in enumerate(swaps):
        frame, person, _ = scene(swapped)
        got.append(tracker.detect(frame, ts, person))
    _, _, hands = scene(False)
    assert tracker.palm_runs() == tracker.stats["palm_runs"] == 2  # each side's first frame: held on the swap
    assert tracker.stats["held"] == 2 and tracker.stats["adopted"] == 2 and tracker.stats["rejected"] == 2
    assert tracker.stats["found"] == 2 * len(swaps)
    for (_, image, presence), swapped in zip(got, swaps):
        assert np.isfinite(presence).all()
        for side in (LEFT, RIGHT):
            # the side rule holds on every frame: the hand nearer the body's wrist of its side that frame
            expected = hands[1 - side if swapped else side]
            assert np.allclose(image[side, 0, :2] * [640, 480], expected, atol=1.0)
    # HandThread: the same arrays (the sides in threads, adopted when the frame's result is taken)
    threaded = FakeTracker("fake.task")
    with HandThread(threaded) as pool:
        out = []
        for ts, swapped in enumerate(swaps):
            frame, person, _ = scene(swapped)
            pool.submit(frame, ts, person)
        while len(pool):
            out.append(pool.result())
    for a, b in zip(out, got):
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
    assert threaded.stats == tracker.stats


def test_without_holding_a_swap_loses_both_hands_and_reruns_the_palm_detector(monkeypatch):
    """What held_crop saves: with HOLD_FRAMES 0 the crops jump with the body's wrists on the swap."""
    monkeypatch.setattr(hands_module, "HOLD_FRAMES", 0)
    tracker = FakeTracker("fake.task")
    found = []
    for ts, swapped in enumerate([False, False, True, False, False]):
        frame, person, _ = scene(swapped)
        found.append(np.isfinite(tracker.detect(frame, ts, person)[2]).sum())
    assert tracker.palm_runs() == tracker.stats["palm_runs"] == 4 and found == [2, 2, 0, 2, 2]


def test_a_side_lost_for_a_while_runs_the_palm_detector_every_other_frame_until_found(monkeypatch):
    """PALM_BACKOFF: frames without the hands (a blank frame) cost a palm detector run a side each, until
    PALM_BACKOFF runs in a row found nothing; then every other frame; a hand found resets it."""
    monkeypatch.setattr(hands_module, "PALM_BACKOFF", 3)
    tracker = FakeTracker("fake.task")
    frame, person, _ = scene(False)
    blank = np.zeros_like(frame)
    shown = [False] * 10 + [True] * 3 + [False] * 2
    found = []
    for ts, visible in enumerate(shown):
        found.append(int(np.isfinite(tracker.detect(frame if visible else blank, ts, person)[2]).sum()))
    # 10 blank frames: runs on frames 0, 1, 2 (3 misses), then 4, 6, 8 (skipped 3, 5, 7, 9) per side
    assert tracker.stats["palm_skipped"] == 2 * 4
    # frame 10: the hands are back and found at once (frame 10 is a run frame after 9 was skipped)
    assert found[10:13] == [2, 2, 2] and found[:10] == [0] * 10
    # found again: the count starts over (frames 13, 14 both run: 2 misses < 3)
    assert tracker.stats["crops"] == 2 * (len(shown) - 4)
    assert tracker.palm_runs() == tracker.stats["palm_runs"]
