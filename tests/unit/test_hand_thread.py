"""The hands beside the body (issue 14, speed): HandThread gives the results HandTracker.detect gives in
line, in order, from a thread per side, and hands its errors back; the decoding's ring of RGB frames keeps
the frames the hands still use (FramePrefetch held)."""
import threading
import time

import numpy as np
import pytest

from video_mocap.capture.hands import HandThread, HandTracker
from video_mocap.capture.prefetch import FramePrefetch
from video_mocap.capture.segment import HANDS_BEHIND


class CountingTracker(HandTracker):
    """HandTracker without models: each side's answer (and the close-up path's) depends on every frame that
    side saw before (as tracking does); detect() is HandTracker's own."""

    def __init__(self, fail_at=None):
        self.state, self.threads, self.fail_at = [0.0, 0.0, 0.0], set(), fail_at
        self.stats = {"crops": 0, "found": 0, "rejected": 0, "full_frame": 0, "held": 0, "adopted": 0, "palm_runs": 0,
                      "palm_skipped": 0}
        self._stats_lock = threading.Lock()

    def _answer(self, slot, frame, timestamp_ms):
        self.threads.add(threading.get_ident())
        if timestamp_ms == self.fail_at:
            raise RuntimeError("hand model failed")
        time.sleep(0.002 * ((timestamp_ms + slot) % 3))  # uneven times: the order must not depend on them
        self.state[slot] = 0.5 * self.state[slot] + float(frame[..., slot].mean()) + timestamp_ms
        return self.state[slot]

    def detect_side(self, frame, timestamp_ms, body, side, world, image, presence, spare=None):
        self._count("crops")
        value = self._answer(side, frame, timestamp_ms)
        if side == 1 and timestamp_ms in SPARE_AT:  # a hand tracked while the body jumped: the other side's
            spare[side] = value, value + 1, 0.5
            return
        world[side], image[side], presence[side] = value, value + 1, 0.5

    def _detect_full(self, frame, timestamp_ms, world, image, presence):
        self._count("full_frame")
        world[:] = self._answer(2, frame, timestamp_ms)


def body(sides):
    """A body whose hands HandTracker places on `sides` (wrist and elbow present), None for no body."""
    if sides is None:
        return None
    image = np.full((33, 3), 0.5, np.float32)
    presence = np.zeros(33, np.float32)
    for side in sides:
        presence[[[15, 13], [16, 14]][side]] = 0.9
    return np.zeros((33, 3), np.float32), image, presence, presence


def frames(n):
    rng = np.random.default_rng(3)
    return [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(n)]


BODIES = [(0, 1), (0, 1), (1,), None, (0,), (0, 1), None, None, (0, 1), (1,), (0, 1), (0, 1)]
SPARE_AT = {2, 9, 10}  # the right's hand goes to the left where the left found none (2, 9), not at 10


def test_the_hand_thread_gives_the_in_line_results_in_order_from_other_threads():
    clip = frames(len(BODIES))
    line = CountingTracker()
    expected = [line.detect(f, ts, body(b)) for ts, (f, b) in enumerate(zip(clip, BODIES))]
    threaded = CountingTracker()
    got = []
    with HandThread(threaded) as hands:
        for ts, (f, b) in enumerate(zip(clip, BODIES)):
            hands.submit(f, ts, body(b))
            while len(hands) > HANDS_BEHIND:  # as the capture's loop runs it
                got.append(hands.result())
        while len(hands):
            got.append(hands.result())
    assert len(got) == len(expected) == len(BODIES)
    for a, b in zip(got, expected):
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
    assert any(np.isfinite(w).any() for w, _, _ in got) and any(np.isnan(w).any() for w, _, _ in got)
    assert threaded.stats == line.stats == {"crops": 15, "found": 2, "rejected": 0, "full_frame": 3, "held": 0,
                                            "adopted": 2, "palm_runs": 0, "palm_skipped": 0}
    assert [np.isfinite(p).tolist() for _, _, p in got[9:11]] == [[True, False], [True, False]]
    assert len(threaded.threads) == 2 and threading.get_ident() not in threaded.threads  # a thread a side


def test_a_failure_in_the_hand_thread_is_raised_where_its_result_is_taken():
    with HandThread(CountingTracker(fail_at=1)) as hands:
        for ts, f in enumerate(frames(3)):
            hands.submit(f, ts, body((0, 1)))
        hands.result()
        with pytest.raises(RuntimeError, match="hand model failed"):
            hands.result()


class FakeVideo:
    """What FramePrefetch reads of a VideoSource: frames(start, stop, reuse) and last_timestamp_ms; frame
    i is filled with i (BGR)."""

    def __init__(self, count):
        self.count, self.last_timestamp_ms = count, -1.0

    def frames(self, start=0, stop=None, reuse=False):
        frame = np.zeros((4, 4, 3), np.uint8)
        for i in range(start, self.count if stop is None else min(stop, self.count)):
            frame[:] = i
            self.last_timestamp_ms = i * 10.0
            yield i, frame


@pytest.mark.parametrize("held", [1, HANDS_BEHIND])
def test_the_frames_before_the_current_one_are_kept_when_held(held):
    with FramePrefetch(FakeVideo(40), 0, None, depth=2, rgb=True, held=held) as prefetch:
        kept = []
        for index, frame, ms in prefetch:
            assert (frame == index).all() and ms == index * 10.0
            time.sleep(0.003)  # the decoding runs ahead meanwhile, as far as the queue lets it
            for i, f in kept:
                assert (f == i).all(), f"frame {i}, held, was written over while taking {index}"
            kept = (kept + [(index, frame)])[-held:]
    assert kept[-1][0] == 39
