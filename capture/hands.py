"""Both hands of the captured person, frame by frame (MediaPipe Tasks HandLandmarker, `hand_landmarker.task`).

With a body in the frame, each side has its own VIDEO-mode landmarker (one hand) that sees a square
crop around the body's hand points (wrist, pinky, index, thumb), resized to CROP_PIXELS: the hand is
large in the crop (the palm detector finds it where it is a few dozen pixels in the full frame), and
while tracking holds the palm detector does not run (the crop moves with the body's wrist, so the hand
stays where tracking expects it). A hand found in a side's crop belongs to that side only if its wrist
is nearer this side's body wrist than the other's (in the image): the side comes from the body, never
from the model's handedness label. A wrong hand resets that side's tracking.

The pose model sometimes swaps its left and right for a frame or puts both wrists in the middle (a
person turning: Pose2Sim cam02). A crop that followed the body's wrist there jumped away from the hand
tracked, tracking lost it and the palm detector ran again, twice a swap. So when the side's wrist jumps
(held_crop: further than WRIST_JUMP crops from the hand tracked), the crop holds still for HOLD_FRAMES
frame, tracking keeps the hand, and the side rule still decides whose it is this frame: a held hand
nearer the other side's wrist is not this side's, keeps its tracking, and is the other side's when that
side found none (`adopt`, once both sides are done). Measured (issue 14; the first 100 frames, full,
`detect` in line on a body-only capture's bodies): cam02 palm detector runs 74 → 57, hands found 127 →
138, every one on its side; the sample and Pose2Sim cam03/cam04 (no swaps) unchanged. (A crop kept still
while the hand stayed inside it, not moved with the body's wrist, lost more hands on the sample, 128 →
117: there the body's wrist follows the hand's motion, which keeps the hand where tracking expects it.)

A side whose landmarker found no hand PALM_BACKOFF frames in a row tries on every other frame only,
until it finds one: most palm detector runs find nothing (a hand hidden, edge-on or blurred) and cost as
much as those that do. Measured the same way (hands found / hands' CPU ms per frame, without → with):
sample 128 / 48 → 128 / 36, cam02 138 / 44 → 137 / 40, cam03 131 / 47 → 127 / 38, cam04 144 / 48 →
144 / 40 (after 3 misses instead of 6: cam02 130, cam03 125 found).

Without a body (a close-up of hands), one VIDEO-mode landmarker (two hands) sees the full frame and
the sides come from the model's handedness: on unmirrored video the Tasks API labels the person's own
hand ("Left" = the person's left).

Speed: `HandThread` runs the tracker beside the frame loop, a thread per side (each side's landmarker
is its own), a few frames behind the body; the results are those of `HandTracker.detect` in line.

Output per frame: world (2,21,3) metres, image (2,21,3) normalised to the full frame like the body's
(z: relative depth at x's scale), presence (2,) the handedness score of the found hand (0-1): index 0
= the person's left hand, 1 = right, NaN where no hand was found.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import ModelError

NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
COUNT = len(NAMES)
LEFT, RIGHT = 0, 1
SIDE_LABELS = {"Left": LEFT, "Right": RIGHT}
# Body (BlazePose) landmarks per side: wrist, pinky, index, thumb, elbow, shoulder.
BODY_POINTS = {LEFT: (15, 17, 19, 21, 13, 11), RIGHT: (16, 18, 20, 22, 14, 12)}
CROP_PIXELS = 256  # the crop's side after resizing (the landmark model's input is 224, the palm detector's 192)
# held_crop: the body's wrist further than this (× the crop's side) from the tracked hand's wrist has jumped
# (the pose model swapped its left and right, or put both wrists in the middle); the crop holds still for
# up to HOLD_FRAMES frames in a row.
WRIST_JUMP = 0.5
HOLD_FRAMES = 1
# A side whose landmarker found no hand PALM_BACKOFF frames in a row runs it (and so the palm detector) on
# every other frame only, until a hand is found: a palm detector run that finds nothing costs as much as
# one that does (21-39 ms), and most of them find nothing (a hand hidden, edge-on or blurred).
PALM_BACKOFF = 6


def empty_hands() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame's hands before any is found: world (2,21,3), image (2,21,3), presence (2,), all NaN."""
    return (np.full((2, COUNT, 3), np.nan, np.float32), np.full((2, COUNT, 3), np.nan, np.float32),
            np.full(2, np.nan, np.float32))


def hand_crop(body_image: np.ndarray, side: int, width: int, height: int) -> tuple[float, float, float] | None:
    """(x0, y0, side) in pixels of the square around one hand placed from the body's image landmarks
    (33,3), or None when those are missing or the square lies mostly outside the frame."""
    wrist, pinky, index, thumb, elbow, _ = BODY_POINTS[side]
    scale = np.array([width, height], np.float64)
    pts = np.asarray(body_image[[wrist, pinky, index, thumb, elbow, 11, 12], :2], np.float64) * scale
    if not np.isfinite(pts).all():
        return None
    w, knuckles, el = pts[0], pts[1:4].mean(axis=0), pts[4]
    reach = float(np.linalg.norm(knuckles - w))       # wrist to the body's hand points (~ the knuckles)
    forearm = float(np.linalg.norm(w - el))
    shoulders = float(np.linalg.norm(pts[5] - pts[6]))
    size = max(6.5 * reach, 1.2 * forearm, 0.8 * shoulders, 32.0)
    centre = w + 1.2 * (knuckles - w)                 # the middle of the hand: past the knuckles' mean
    x0, y0 = centre - size / 2
    if x0 + size < 0.25 * size or y0 + size < 0.25 * size or x0 > width - 0.25 * size or y0 > height - 0.25 * size:
        return None
    return float(x0), float(y0), float(size)


def held_crop(body_crop: tuple[float, float, float] | None, body_wrist_px: np.ndarray, last) -> tuple:
    """(this frame's crop (x0, y0, side) in pixels, or None; frames held in a row) for a side: the body's
    crop `body_crop` (hand_crop's; None: none), unless its wrist `body_wrist_px` (2,) jumped away from
    the hand the side tracks. `last`: None, or (the side's previous crop, the wrist (2,) in pixels of the
    hand found there or None, frames held). Then the previous crop is kept as it is, so that tracking
    finds the hand where it left it, for HOLD_FRAMES frames in a row at most."""
    if last is None or last[1] is None:
        return body_crop, 0
    crop, wrist, held = last
    if body_crop is not None and np.linalg.norm(np.asarray(body_wrist_px) - wrist) <= WRIST_JUMP * crop[2]:
        return body_crop, 0
    if held >= HOLD_FRAMES:
        return body_crop, 0
    return crop, held + 1


def body_sides(body, min_presence: float = 0.5) -> list[int]:
    """The sides whose hand the body places: wrist and elbow present (MediaPipe's presence, 0-1) and
    both wrists known (the other wrist decides which hand is whose)."""
    if body is None:
        return []
    image, presence = np.asarray(body[1]), np.asarray(body[3])
    if not np.isfinite(image[[15, 16], :2]).all():
        return []
    return [side for side in (LEFT, RIGHT)
            if all(presence[i] >= min_presence for i in (BODY_POINTS[side][0], BODY_POINTS[side][4]))]


class HandTracker:
    """The hands of one person through a video: call `detect` on every frame, in order."""

    def __init__(self, model_path: Path, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        self.model_path = Path(model_path)
        self._conf = (min_detection_confidence, min_presence_confidence, min_tracking_confidence)
        self._sides: list = [None, None]   # per side: a VIDEO-mode landmarker on that side's crops
        self._last: list = [None, None]    # per side: held_crop's `last` (crop, hand's wrist, frames held)
        self._misses = [0, 0]              # per side: frames in a row its landmarker found no hand
        self._tracking = [False, False]    # per side: its landmarker found a hand last time (no palm detector now)
        self._full = None                  # no body: a VIDEO-mode landmarker (two hands) on the full frame
        self._last_ts = [-1, -1, -1]
        self.stats = {"crops": 0, "found": 0, "rejected": 0, "full_frame": 0, "held": 0, "adopted": 0,
                      "palm_runs": 0, "palm_skipped": 0}
        self._stats_lock = threading.Lock()  # the sides may run in threads of their own (HandThread)
        self._make(1)  # load the model now: a bad file fails before the capture starts

    def _make(self, num_hands: int):
        from mediapipe.tasks.python import BaseOptions, vision

        det, pres, track = self._conf
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)), running_mode=vision.RunningMode.VIDEO,
            num_hands=num_hands, min_hand_detection_confidence=det, min_hand_presence_confidence=pres,
            min_tracking_confidence=track)
        try:
            return vision.HandLandmarker.create_from_options(options)
        except Exception as exc:
            raise ModelError(f"Cannot load hand model {self.model_path}: {exc}. Choose a valid hand_landmarker "
                             f".task file or rebuild with 'make models'.") from None

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for i, impl in enumerate(self._sides):
            if impl is not None:
                impl.close()
                self._sides[i] = None
        if self._full is not None:
            self._full.close()
            self._full = None

    def _reset_side(self, side: int) -> None:
        if self._sides[side] is not None:
            self._sides[side].close()
            self._sides[side] = None
        self._last[side] = None
        self._tracking[side] = False

    def _run(self, slot: int, impl, image: np.ndarray, timestamp_ms: int):
        import mediapipe as mp

        ts = max(int(timestamp_ms), self._last_ts[slot] + 1)
        self._last_ts[slot] = ts
        return impl.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)), ts)

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def detect(self, frame: np.ndarray, timestamp_ms: int, body=None):
        """One RGB frame and the body found in it (Landmarker.detect's (world, image, visibility,
        presence), or None) → (world (2,21,3), image (2,21,3), presence (2,)), NaN where no hand was
        found. A side is placed from the body when its wrist and elbow are present (body_sides);
        when neither side is (no body, or the pose model's guess on a close-up of hands), both hands
        are searched in the full frame."""
        out, spare = empty_hands(), [None, None]
        sides = body_sides(body)
        if not sides:
            self._detect_full(frame, timestamp_ms, *out)
        for side in sides:
            self.detect_side(frame, timestamp_ms, body, side, *out, spare)
        self.adopt(out, spare)
        return out

    def detect_side(self, frame: np.ndarray, timestamp_ms: int, body, side: int, world: np.ndarray,
                    image: np.ndarray, presence: np.ndarray, spare: list | None = None) -> None:
        """One side's hand (a side of body_sides(body)) from its crop, into world/image/presence[side]
        (left NaN when not found). Each side has its own landmarker: the two sides may run at once.
        A hand still tracked while the body's wrists jumped (held_crop) that is nearer the other side's
        wrist goes into spare[side] (the frame's [None, None]) as (world, image, presence) of the other
        side, for `adopt` once both sides are done."""
        import cv2

        height, width = frame.shape[:2]
        body_image = body[1]
        wrists = np.asarray(body_image[[15, 16], :2], np.float64) * [width, height]
        crop, held = held_crop(hand_crop(body_image, side, width, height), wrists[side], self._last[side])
        if crop is None:
            self._last[side] = None
            return
        if self._misses[side] >= PALM_BACKOFF and self._misses[side] % 2 == 1:
            self._misses[side] += 1   # lost for a while: the palm detector on every other frame only
            self._count("palm_skipped")
            return
        x0, y0, size = crop
        s = CROP_PIXELS / size
        warp = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
        patch = cv2.warpAffine(frame, warp, (CROP_PIXELS, CROP_PIXELS), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)
        if self._sides[side] is None:
            self._sides[side] = self._make(1)
        self._count("crops")
        if held:
            self._count("held")
        if not self._tracking[side]:
            self._count("palm_runs")  # MediaPipe runs the palm detector when it tracks no hand
        result = self._run(side, self._sides[side], patch, timestamp_ms)
        self._tracking[side] = bool(result.hand_landmarks)
        self._last[side] = None
        if not result.hand_landmarks:
            self._misses[side] += 1
            return
        self._misses[side] = 0
        pts = np.array([(p.x, p.y, p.z) for p in result.hand_landmarks[0]], np.float64)
        px = np.column_stack([x0 + pts[:, 0] * size, y0 + pts[:, 1] * size])
        near = np.linalg.norm(wrists - px[0], axis=1)
        if near[side] > near[1 - side] or near[side] > size:  # the other hand, or far from this wrist
            self._count("rejected")
            if not held:
                self._reset_side(side)
                return
            # The body's wrists jumped (its left and right swapped, say): the hand stays tracked, and is
            # the other side's this frame if nearer that side's wrist.
            self._last[side] = (crop, px[0], held)
            if spare is not None and near[1 - side] < near[side] and near[1 - side] <= size:
                spare[side] = self._hand_arrays(result, pts, px, size, width, height)
            return
        self._last[side] = (crop, px[0], held)
        self._count("found")
        world[side], image[side], presence[side] = self._hand_arrays(result, pts, px, size, width, height)

    @staticmethod
    def _hand_arrays(result, pts, px, size, width, height):
        """A found hand's (world (21,3), image (21,3) normalised to the full frame, presence)."""
        return ([(p.x, p.y, p.z) for p in result.hand_world_landmarks[0]],
                np.column_stack([px[:, 0] / width, px[:, 1] / height, pts[:, 2] * size / width]),
                result.handedness[0][0].score if result.handedness else 1.0)

    def adopt(self, out, spare: list) -> None:
        """A frame's hands `out` (world, image, presence) once its sides are done: a side left without a
        hand takes the one the other side's landmarker tracked near its wrist (detect_side's spare)."""
        world, image, presence = out
        for slot, got in enumerate(spare):
            if got is not None and np.isnan(presence[1 - slot]):
                world[1 - slot], image[1 - slot], presence[1 - slot] = got
                self._count("found")
                self._count("adopted")

    def _detect_full(self, frame, timestamp_ms, world, image, presence) -> None:
        """No body: both hands on the full frame, sides from the model's handedness label."""
        if self._full is None:
            self._full = self._make(2)
        self._count("full_frame")
        result = self._run(2, self._full, frame, timestamp_ms)
        order = sorted(range(len(result.hand_landmarks)),
                       key=lambda i: -(result.handedness[i][0].score if result.handedness[i] else 0.0))
        for i in order:
            label = result.handedness[i][0].category_name if result.handedness[i] else ""
            side = SIDE_LABELS.get(label)
            if side is None or np.isfinite(presence[side]):
                continue  # unknown label, or that side is taken by a surer hand
            image[side] = [(p.x, p.y, p.z) for p in result.hand_landmarks[i]]
            world[side] = [(p.x, p.y, p.z) for p in result.hand_world_landmarks[i]]
            presence[side] = result.handedness[i][0].score


class HandThread:
    """A HandTracker run beside the caller, so that the hands of frame t are found while the caller finds
    the body of frame t + 1 (MediaPipe releases the GIL while it infers): each side in a thread of its own
    (its own landmarker; the close-up path, both hands in the full frame, in the left's). `submit` frames
    in order, take each one's result in the same order with `result`: every landmarker sees its frames in
    order, so the results are the same as HandTracker.detect's in the caller's thread. The frame's array
    must stay unchanged until its result is taken. `cpus`: the threads (and the landmarkers they start)
    on these CPUs only (Linux; None: the caller's).

    Why a thread per side: a hand costs ~15 ms of CPU a frame while tracked and ~20 ms more for the palm
    detector when it is lost, so both hands (~35-50 ms, Pose2Sim cam02) take longer than the body (~32 ms,
    full); one chain of both hands would set the pace, two can share the cores with the body and the
    decoding (tools/bench_hands.py)."""

    def __init__(self, tracker: HandTracker, cpus=None):
        self.tracker = tracker
        self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"mocap-hand-{name}", initializer=_pin,
                                          initargs=(cpus,)) for name in ("left", "right")]
        self._pending: deque = deque()

    def submit(self, frame: np.ndarray, timestamp_ms: int, body=None) -> None:
        out, spare = empty_hands(), [None, None]
        sides = body_sides(body)
        if sides:
            jobs = [self._pools[side].submit(self.tracker.detect_side, frame, timestamp_ms, body, side, *out,
                                             spare) for side in sides]
        else:
            jobs = [self._pools[LEFT].submit(self.tracker._detect_full, frame, timestamp_ms, *out)]
        self._pending.append((jobs, out, spare))

    def __len__(self) -> int:
        return len(self._pending)

    def result(self):
        """The oldest submitted frame's (world, image, presence) (waits for it); its error, if it failed."""
        jobs, out, spare = self._pending.popleft()
        for job in jobs:
            job.result()
        self.tracker.adopt(out, spare)
        return out

    def close(self) -> None:
        for jobs, _, _ in self._pending:
            for job in jobs:
                job.cancel()
        self._pending.clear()
        for pool in self._pools:
            pool.shutdown(wait=True)

    def __enter__(self) -> HandThread:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pin(cpus) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(cpus))  # this thread only (Linux)
