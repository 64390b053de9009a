"""The frame loop of a capture: video frames → landmarks, one segment of the video at a time.

A segment is video frames [start, stop). Its landmarker (VIDEO mode) first runs over the warm-up
frames [warm, start), which the previous segment owns, so that tracking and MediaPipe's landmark
smoothing have converged when the segment's own frames begin; the warm-up results are dropped.
Rows are handed out in chunks (`Rows` messages, written into a track by `place_rows`) as they are
made; nothing grows with the number of pixels.

`run_segment` is the one loop: frames decoded and converted to RGB in a prefetch thread
(capture/prefetch.py), the pose landmarker (capture/landmarker.py), the hands (capture/hands.py: a
thread a side, the hands of a frame found while the body of the next ones is, rows sent up to
HANDS_BEHIND frames late) and
the face (capture/face.py) on each. Every pose of every frame is kept too (the rows' people_* arrays:
one pose a frame until a second person shows up, then two; N with people = N), and told apart into
people after the capture, on the stitched rows (`end_people`, capture/people.py). It runs in a
worker process of a parallel capture (capture/parallel.py `worker_main`), or in this process:
`capture_video` is one worker, the whole range as one segment without warm-up, the landmarker and
the decoding pinned each to a core; `capture_segment` one segment (tests, benchmarks).
`cut_track` / `finish_track` end a capture, one worker or several. Never imports bpy.
"""
from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import Cancelled, NoPersonError, VideoError
from .face import BLENDSHAPE_COUNT, FaceTracker, has_blendshapes, resolve_face_model
from .hands import HandThread, HandTracker
from .landmarker import Landmarker
from .landmarks import COUNT
from .models import DEFAULT_VARIANT, resolve_hand_model, resolve_model
from .prefetch import FramePrefetch, core_pair, open_video, opencv_threads, pinned
from .track import HAND_KEYS, PoseTrack
from .video import VideoSource, to_rgb

Plan = tuple  # (warm, start, stop): video frame indices
ProgressFn = Callable[[int, int, float], None]  # (frames done, frames total, frames per second)


def frame_time_ms(container_ms: float, index: int, fps: float, previous: int) -> int:
    """The container's time for the frame (variable frame rate videos), else index / fps; always
    strictly after the previous frame's (MediaPipe's VIDEO mode requires it)."""
    if np.isfinite(container_ms) and container_ms >= 0 and (index == 0 or container_ms > 0):
        ts = int(round(container_ms))
    else:
        ts = int(round(index * 1000.0 / fps))
    return max(ts, previous + 1)


def frame_check(frame: np.ndarray) -> int:
    """A cheap fingerprint of a decoded frame (CRC of a sparse grid of pixels)."""
    return zlib.crc32(np.ascontiguousarray(frame[::16, ::16]).tobytes())


_NAN3 = np.full((COUNT, 3), np.nan, np.float32)  # a row without a person (read only: rows are copied out)
_NAN1 = np.full(COUNT, np.nan, np.float32)
_NAN3.flags.writeable = _NAN1.flags.writeable = False


def _rows_of(parts: list) -> np.ndarray:
    """The arrays of consecutive rows as one (n, ...) array; one row: a view, nothing copied (the
    common case, a row a message: np.stack costs ~10 µs an array)."""
    return parts[0][None] if len(parts) == 1 else np.stack(parts)


class Rows:
    """Rows of consecutive frames waiting to be sent."""

    def __init__(self):
        self.clear(0)

    def clear(self, index0: int) -> None:
        self.index0 = index0
        self.world, self.image, self.vis, self.pres, self.detected, self.ts = [], [], [], [], [], []
        self.extras: dict[str, list] = {}  # PoseTrack attribute → per row (hands, face, every pose …)

    def add(self, found, raw_ts: int, extras: dict | tuple | None = None) -> None:
        """One row: the pose found (or None), the frame's raw time, and `extras`: {PoseTrack attribute:
        this row's value}, e.g. {"hand_world_landmarks": (2,21,3), "face_landmarks": (478,3),
        "face_presence": (), "people_world": (K,33,3), …} (a tuple: the hands' (world, image, presence))."""
        if isinstance(extras, tuple):
            extras = dict(zip(HAND_KEYS, extras))
        for key, value in (extras or {}).items():
            self.extras.setdefault(key, []).append(np.asarray(value))
        self.detected.append(found is not None)
        if found is None:
            found = (_NAN3, _NAN3, _NAN1, _NAN1)
        self.world.append(found[0])
        self.image.append(found[1])
        self.vis.append(found[2])
        self.pres.append(found[3])
        self.ts.append(raw_ts)

    def __len__(self) -> int:
        return len(self.ts)

    def message(self) -> tuple:
        """('rows', first index, world, image, visibility, presence, detected, timestamps[, {PoseTrack
        attribute: (n, …) array}]); the arrays may be views of the rows' own (copy them to keep them)."""
        msg = ("rows", self.index0, _rows_of(self.world), _rows_of(self.image), _rows_of(self.vis),
               _rows_of(self.pres), np.array(self.detected, bool), np.array(self.ts, np.int64))
        if self.extras:
            msg += ({key: _rows_of(parts) for key, parts in self.extras.items()},)
        return msg


def place_rows(track: PoseTrack, msg: tuple, first: int) -> int:
    """Copy a 'rows' message into the track (row = video index - first); returns the row count. Each
    extra array goes into the track's attribute of that name when the track has it."""
    _, index0, world, image, vis, pres, detected, ts, *rest = msg
    r0, n = index0 - first, len(ts)
    for key, rows in (rest[0] if rest else {}).items():
        target = getattr(track, key, None)
        if target is not None:
            width = min(target.shape[1], rows.shape[1]) if target.ndim > 1 and key.startswith("people_") else None
            if width is None:
                target[r0:r0 + n] = rows
            else:
                target[r0:r0 + n, :width] = rows[:, :width]
    track.world_landmarks[r0:r0 + n] = world
    track.image_landmarks[r0:r0 + n] = image
    track.visibility[r0:r0 + n] = vis
    track.presence[r0:r0 + n] = pres
    track.detected[r0:r0 + n] = detected
    track.timestamps_ms[r0:r0 + n] = ts
    return n


# How many frames the hands may lag behind the body: a hand's cost varies (~15 ms tracked, ~35 ms when the
# palm detector runs again), and a few frames of slack let the body's thread run on meanwhile. Measured
# (tools/bench_hands.py runs, interleaved, full, 1080x1920, load 2-3): 3 frames gave 8-25 % more frames per
# second with hands than 1 (2: +1-8 %, 5: no better than 3); each costs one more decoded frame kept.
HANDS_BEHIND = 3

JUMP = 0.15  # the hips moving more than this (of the image) in one frame: another person (identity_jumps)


def _hips(image: np.ndarray) -> np.ndarray:
    """(…,33,3) image landmarks → (…,2) the hips' centre."""
    return 0.5 * (image[..., 23, :2] + image[..., 24, :2])


def _pick(poses, last_centre) -> int:
    """Which of a frame's poses the hands and face follow: the nearest to the last one followed (else
    the largest)."""
    if len(poses[1]) == 1:
        return 0
    if last_centre is not None:
        return int(np.argmin(np.linalg.norm(_hips(poses[1]) - last_centre, axis=-1)))
    from .people import boxes

    b = boxes(poses[1], poses[2])
    return int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))


def run_segment(video: VideoSource, task, first: int, limit: int | None, provisional: Plan,
                people_check_every: int = 60, *,
                send: Callable[[tuple], None], get_plan: Callable[[bool], Plan | None],
                cancelled: Callable[[], bool] = lambda: False, measure_rate: bool = False,
                prefetch: bool = True, chunk_rows: int = 1, chunk_seconds: float = 0.25,
                seek_beyond: int | None = None, tail: int = 0, pin: bool = False, hand_task=None,
                face_task=None, people: int = 1) -> dict:
    """Capture one segment of an opened video (`prefetch.open_video`); returns a summary (the 'done'
    message's content).

    limit: no plan goes past this frame (the capture's end; None: the video's end).
    provisional = (skip_to, start, stop): decode up to skip_to at once; start None means the
    segment's start is not known yet: wait for the plan (get_plan(True) blocks) before processing;
    stop is the provisional end: the loop waits for the plan rather than go past it. The plan
    (warm, start, stop) replaces these when it comes (stop None: to the video's end). `first` is the
    capture's first frame: the people count runs on rows (index - first) % people_check_every == 0.
    Messages sent: ('ready', s), ('skip_rate', s/frame), ('rate', s/frame), ('waiting',), ('rows', ...):
    rows every `chunk_rows` frames or `chunk_seconds` (a row costs ~0.1 ms to send and place; a row a
    message: progress and cancel frame by frame).
    seek_beyond: seek rather than decode when more frames than this are to be skipped (None: never).
    pin: the only worker: the landmarker and the decoding thread each on a core of their own.
    OpenCV's own thread pool is held to one thread meanwhile (the decoding has its thread).
    hand_task: a hand_landmarker .task: both hands every frame (warm-up frames too: tracking converges),
    in the rows' hand arrays; the summary's 'hands' counts crops, hands found, rejected. The hands run in
    threads of their own (hands.HandThread: a thread a side, on any core; MediaPipe releases the GIL while
    it infers), up to HANDS_BEHIND frames behind the body, so a row is sent once its hands are found:
    the same rows, in the same order, as found in line.
    face_task: a face_landmarker .task: the face of the body followed every frame (warm-up frames too),
    in the rows' face arrays (and 'face_expressions' when the bundle has the blendshape model); the
    summary's 'face' counts crops, faces found, rejected, and holds the blendshape names.
    people: the most people captured at once. Every pose of every frame goes into the rows'
    people_world / people_image / people_visibility / people_presence (K = max(people, 2) slots).
    people > 1: the landmarker finds up to `people` poses from the start. people = 1 (one person
    followed): a one-pose landmarker, switched to a two-pose one for the rest of the segment (a fresh
    VIDEO landmarker, the frame detected again) as soon as the people count sees two people or the
    body jumps across the image (hips > JUMP of the image in one frame): the parent then tells the
    people apart (capture/people.py). The row's own pose (and the hands' and face's) is the one
    nearest the last one followed. The summary's 'switched_at': the frame of the switch (or None).
    The summary holds, to check a seek, (index, container ms, fingerprint) of the warm-up frames
    ('head') and of the last `tail` frames of the segment ('tail').
    """
    t_begin = time.perf_counter()
    info = {"rows": 0, "warm_rows": 0, "skipped": 0, "skip_s": 0.0, "process_s": 0.0, "init_s": 0.0,
            "eof": False, "cancelled": False, "people": [], "next_index": None, "seeked": False,
            "head": [], "tail": [], "switched_at": None, "poses_max": 0}
    skip_to, start, stop = provisional
    plan = get_plan(False)
    with contextlib.ExitStack() as stack:
        fps = video.info.fps
        stack.enter_context(opencv_threads(1))  # decoding has a thread (a core); OpenCV's pool would take the model's
        wanted = max(1, int(people))
        slots = max(wanted, 2)          # the every-pose arrays: room for the second person of a switch
        counter = (stack.enter_context(Landmarker(Path(task), num_poses=2, video=False))
                   if people_check_every and wanted == 1 else None)
        cores = core_pair() if pin else None  # alone on the machine
        every_cpu = os.sched_getaffinity(0) if cores else None  # before this thread is pinned
        stack.enter_context(pinned(cores[0] if cores else None))
        current = [Landmarker(Path(task), num_poses=wanted)]
        stack.callback(lambda: current[0].close())
        hand_tracker = stack.enter_context(HandTracker(Path(hand_task))) if hand_task else None
        # The hands of frame t (a thread a side) while the body of the next frames is found, free to run on
        # any core: rows go out up to HANDS_BEHIND frames late, in order, the same as found in line.
        hands = stack.enter_context(HandThread(hand_tracker, every_cpu)) if hand_tracker is not None else None
        lag = HANDS_BEHIND if hands is not None else 0
        face_tracker = stack.enter_context(FaceTracker(Path(face_task))) if face_task else None
        blend_nan = np.full(BLENDSHAPE_COUNT, np.nan, np.float32)
        several = {"seen": False}       # the people count saw two people (set in the decoding thread)
        info["init_s"] = time.perf_counter() - t_begin
        send(("ready", info["init_s"]))

        def wait_for_plan():
            send(("waiting",))
            return get_plan(True)

        t_skip = time.perf_counter()
        moved = video.skip_to(skip_to, cancelled, seek_beyond, on_rate=lambda s: send(("skip_rate", s)))
        info["seeked"] = moved == "seek"
        if not moved:
            info["cancelled"] = cancelled()
            info["eof"] = not info["cancelled"]
        if plan is None and not info["cancelled"]:
            plan = get_plan(False) if start is not None else wait_for_plan()
            if plan is None and start is None:
                info["cancelled"] = True
        if plan is not None:
            skip_to, start, stop = plan
        if not (info["cancelled"] or info["eof"]) and not video.skip_to(skip_to, cancelled):
            info["cancelled"] = cancelled()
            info["eof"] = not info["cancelled"]
        info["skipped"] = video.position
        info["skip_s"] = time.perf_counter() - t_skip
        if info["cancelled"] or info["eof"]:
            info["next_index"] = min(video.position, skip_to)
            return info

        t_proc = time.perf_counter()
        rows, last_flush = Rows(), time.perf_counter()
        rows.clear(start)
        previous_ts, count, t_rate = -1, 0, 0.0
        upper = limit if plan is None else stop
        people = info["people"]

        def count_people(index, rgb):  # in the decoding thread, beside the landmarker
            if counter is None or current[0].num_poses > 1:
                return
            if index >= start and (index - first) % people_check_every == 0 and index != skip_to:
                n = counter.count_people(rgb, rgb=True)
                several["seen"] = several["seen"] or n >= 2
                people.append(n)

        def switch(index):
            current[0].close()
            current[0] = Landmarker(Path(task), num_poses=2)
            info["switched_at"] = index

        if prefetch:  # decoded, converted to RGB and people counted in a thread beside the landmarker
            source = iter(stack.enter_context(FramePrefetch(video, skip_to, upper, rgb=True, on_frame=count_people,
                                                            cpu=cores[1] if cores else None,
                                                            held=lag)))
        else:
            source = _inline(video, skip_to, upper, count_people)
        next_index = skip_to
        last = deque(maxlen=tail)
        last_centre, previous_hips, previous_index = None, None, None
        waiting: deque = deque()  # frames found but not yet in the rows: (index, raw ts, pose, extras, check)

        def emit(index, raw, found, extras, check):
            """One frame's row (its hands' result taken first when they run in their thread)."""
            nonlocal last_flush
            if hands is not None:
                extras.update(zip(HAND_KEYS, hands.result()))
            if index < start:
                info["warm_rows"] += 1
                info["head"].append((index, raw, check))
            else:
                rows.add(found, raw, extras)
                if tail:
                    last.append((index, raw, check))
            now = time.perf_counter()
            if len(rows) >= chunk_rows or (len(rows) and now - last_flush >= chunk_seconds):
                send(rows.message())
                info["rows"] += len(rows)
                rows.clear(index + 1)
                last_flush = now

        for index, frame, container_ms in source:
            if cancelled():
                info["cancelled"] = True
                break
            if plan is None:
                plan = get_plan(False)
                if plan is not None:
                    stop = plan[2]
            if plan is None and index >= stop:
                plan = wait_for_plan()
                if plan is None:
                    info["cancelled"] = True
                    break
                stop = plan[2]
            if stop is not None and index >= stop:
                break
            raw = frame_time_ms(container_ms, index, fps, -1)
            previous_ts = max(raw, previous_ts + 1)
            if counter is not None and index == skip_to and current[0].num_poses == 1:
                n = counter.count_people(frame, rgb=True)  # the segment's first frame, before it is detected
                several["seen"] = several["seen"] or n >= 2
                if index >= start and (index - first) % people_check_every == 0:
                    people.append(n)
            if current[0].num_poses == 1 and several["seen"]:
                switch(index)
            poses = current[0].detect_all(frame, previous_ts, rgb=True)
            if current[0].num_poses == 1 and poses is not None:
                hips = _hips(poses[1][0])
                if (previous_hips is not None and previous_index == index - 1
                        and np.linalg.norm(hips - previous_hips) > JUMP):
                    switch(index)  # someone else, or two people: see them all from this frame on
                    poses = current[0].detect_all(frame, previous_ts, rgb=True)
            found, extras = None, {}
            poses_now = 0 if poses is None else len(poses[0])
            info["poses_max"] = max(info["poses_max"], poses_now)
            if poses is not None:
                k = _pick(poses, last_centre)
                found = tuple(a[k] for a in poses)
                last_centre = previous_hips = _hips(found[1])
                previous_index = index
            every = [np.full((slots, *a.shape[1:]), np.nan, np.float32) for a in
                     (poses if poses is not None else (_NAN3[None], _NAN3[None], _NAN1[None], _NAN1[None]))]
            for a, b in zip(every, poses or ()):
                a[:min(slots, len(b))] = b[:slots]
            extras.update(zip(("people_world", "people_image", "people_visibility", "people_presence"), every))
            if hands is not None:
                hands.submit(frame, previous_ts, found)
            if face_tracker is not None:
                marks, presence, blend = face_tracker.detect(frame, previous_ts, found)
                extras["face_landmarks"], extras["face_presence"] = marks, np.float32(presence)
                if face_tracker.blendshapes:
                    extras["face_expressions"] = blend_nan if blend is None else blend[:BLENDSHAPE_COUNT]
            next_index = index + 1
            if index >= start and current[0].num_poses > 1 and (index - first) % max(1, people_check_every) == 0:
                people.append(poses_now)
            waiting.append((index, raw, found, extras, frame_check(frame) if index < start or tail else None))
            while len(waiting) > lag:
                emit(*waiting.popleft())
            count += 1
            # Soon (frames 2-8: tracking, past the first detection), so that the plan rarely has to be
            # made before it: a later worker that sought is waiting for it.
            if measure_rate and count == 2:
                t_rate = time.perf_counter()
            elif measure_rate and count == 8:
                send(("rate", (time.perf_counter() - t_rate) / 6))
        else:
            info["eof"] = stop is None or next_index < stop  # the video ended before the segment did
        while waiting:
            emit(*waiting.popleft())
        if len(rows):
            send(rows.message())
            info["rows"] += len(rows)
        info["next_index"] = next_index
        info["process_s"] = time.perf_counter() - t_proc
        info["tail"] = list(last)
        if hand_tracker is not None:
            info["hands"] = dict(hand_tracker.stats)
        if face_tracker is not None:
            info["face"] = {**face_tracker.stats, "blendshape_names": face_tracker.blendshape_names}
    return info


def _inline(video: VideoSource, start: int, stop: int | None, on_frame):
    """FramePrefetch's frames (RGB) decoded in the caller's thread."""
    for index, frame in video.frames(start, stop):
        rgb = to_rgb(frame)
        ts = video.last_timestamp_ms
        on_frame(index, rgb)
        yield index, rgb, ts


def capture_video(video_path, model: str = DEFAULT_VARIANT, model_path=None, start: int | None = None,
                  stop: int | None = None, progress: ProgressFn | None = None,
                  should_cancel: Callable[[], bool] | None = None, keep_partial: bool = False,
                  require_person: bool = True, people_check_every: int = 60, hands: bool = False,
                  hand_model_path=None, face: bool = False, face_model_path=None, people: int = 1,
                  person: int | None = None) -> PoseTrack:
    """Detect the person in video frames [start, stop) and return the track: one worker, in this
    process (`run_segment` over the whole range, the decoding in a prefetch thread, the landmarker
    and the decoding each pinned to a core; see capture/prefetch.py).

    Frames are streamed: only the landmark arrays grow with the clip length. If `should_cancel`
    returns True the capture stops; the partial track is returned when `keep_partial`, else Cancelled.
    One person is tracked; every `people_check_every` frames a second landmarker counts the people
    in view, and track.extra says how many were seen ('people_max') and whether the tracked person
    seems to change ('identity_jumps': frames where the body jumps across the image).
    hands: also both hands every frame (capture/hands.py; the track's hand arrays), with the bundled
    hand_landmarker.task or `hand_model_path`; track.extra['hands'] counts crops, hands found, rejected.
    face: also the face every frame (capture/face.py; the track's face arrays, and face_expressions when
    the bundle has MediaPipe's blendshape model), with the bundled face_landmarker.task or `face_model_path`;
    track.extra['face'] counts crops, faces found, rejected.
    people, person: see `end_people`: one person followed (people = 1: the most prominent, or `person`,
    1-based), or the capture's every-pose arrays kept for `people.split_people` (people > 1).
    """
    task = resolve_model(model, model_path)
    hand_task = resolve_hand_model(hand_model_path) if hands else None
    face_task = resolve_face_model(face_model_path) if face else None
    with open_video(video_path) as video:
        info = video.info
        first, last = video.resolve_range(start, stop)
        total = max(last - first, 0) if last else 0
        track = PoseTrack.empty(total, info.fps, (info.width, info.height), info.path,
                                Path(task).stem.replace("pose_landmarker_", "") if model_path is None
                                else str(task), first, hands=hands, face=face, people=max(2, people))
        if face_task is not None and has_blendshapes(face_task):
            track.face_expressions = np.full((total, BLENDSHAPE_COUNT), np.nan, np.float32)
        written = _TrackWriter(track, first, total, progress, time.perf_counter())
        plan = (first, first, last)
        result = run_segment(video, task, first, last, plan, people_check_every, send=written,
                             get_plan=lambda block: plan, cancelled=should_cancel or (lambda: False),
                             pin=True, hand_task=hand_task, face_task=face_task, people=people)
    track, done, stopped_early = written.track, written.done, result["cancelled"]
    if hands:
        track.extra["hands"] = {**result.get("hands", {}), "model": str(hand_task)}
    if face:
        end_face(track, [result.get("face", {})], face_task)
    track.extra["people_switched"] = [result["switched_at"]] if result["switched_at"] is not None else []
    track = cut_track(track, done, total, first, last, info.path, stopped_early, keep_partial)
    return finish_track(track, done, info.path, stopped_early, result["people"], require_person, people, person)


def end_face(track: PoseTrack, counts: list[dict], face_task) -> None:
    """track.extra['face'] (the workers' counts summed) and the blendshape names of the expressions
    (none found: no expressions, motion/face.py computes them from the landmarks)."""
    names = next((c.get("blendshape_names") for c in counts if c.get("blendshape_names")), None)
    track.extra["face"] = {**{key: sum(c.get(key, 0) for c in counts) for key in ("crops", "found", "rejected",
                                                                                   "full_frame")},
                           "model": str(face_task), "blendshapes": bool(names)}
    if track.face_expressions is not None:
        if names:
            track.face_expression_names = tuple(names)[:track.face_expressions.shape[1]]
        else:
            track.face_expressions = None


class _TrackWriter:
    """The in-process end of run_segment's messages: rows into the track (row = video index - first;
    made longer when the video has more frames than its container said), then progress(done,
    max(total, done), frames per second since t0). `done`: the rows written from the first on."""

    def __init__(self, track: PoseTrack, first: int, total: int = 0, progress: ProgressFn | None = None,
                 t0: float = 0.0):
        self.track, self.first, self.total, self.progress, self.t0 = track, first, total, progress, t0
        self.done = 0

    def __call__(self, msg: tuple) -> None:
        if msg[0] != "rows":
            return
        end = msg[1] - self.first + len(msg[7])
        if end > len(self.track):
            self.track = _grow(self.track, max(end, 2 * len(self.track)))
        place_rows(self.track, msg, self.first)
        self.done = end
        if self.progress is not None:
            elapsed = time.perf_counter() - self.t0
            self.progress(end, max(self.total, end), end / elapsed if elapsed > 0 else 0.0)


def capture_segment(video_path, task, warm: int, start: int, stop: int, first: int | None = None,
                    people_check_every: int = 0, prefetch: bool = True, hand_task=None, face_task=None,
                    people: int = 1) -> PoseTrack:
    """In-process: frames [start, stop) after a warm-up over [warm, start) → a PoseTrack of the
    segment's own rows (timestamps as capture_video gives them when no earlier frame forces them on).
    Used to measure how many warm-up frames tracking needs, and by tests."""
    with open_video(video_path) as video:
        info = video.info
        track = PoseTrack.empty(stop - start, info.fps, (info.width, info.height), info.path,
                                Path(task).stem.replace("pose_landmarker_", ""), start, hands=bool(hand_task),
                                face=bool(face_task), people=max(2, people))
        written = _TrackWriter(track, start)
        result = run_segment(video, task, start if first is None else first, stop, (warm, start, stop),
                             people_check_every, send=written, get_plan=lambda block: (warm, start, stop),
                             prefetch=prefetch, hand_task=hand_task, face_task=face_task, people=people)
    out = track.sliced(0, written.done)
    out.extra = {"people": result["people"], "segment": result}
    return out


def cut_track(track: PoseTrack, done: int, total: int, first: int, last, path: str, stopped_early: bool,
              keep_partial: bool) -> PoseTrack:
    """The end of a capture (one worker or several): cancelled without keeping, nothing decoded, a
    video shorter than it said (track.extra['truncated_at']); the track cut to the `done` rows, its
    timestamps made strictly increasing over the whole range (MediaPipe's VIDEO mode needs them so:
    each is max(the container's time, the previous + 1 ms), as the landmarker was given them)."""
    if stopped_early and not keep_partial:
        raise Cancelled("Capture cancelled; nothing was kept.")
    if done == 0:
        raise VideoError(f"No frames could be decoded from {path} in the range {first}:{last}. "
                         f"Check the file and the frame range.")
    if done < total and not stopped_early:
        track.extra["truncated_at"] = first + done  # the video ended before its stated length
    if done < len(track):
        extra = track.extra
        track = track.sliced(0, done)
        track.extra = extra
    rows = np.arange(len(track), dtype=np.int64)
    track.timestamps_ms[:] = np.maximum.accumulate(track.timestamps_ms - rows) + rows
    return track


def finish_track(track: PoseTrack, done: int, path: str, stopped_early: bool, people_seen: list,
                 require_person: bool, people: int = 1, person: int | None = None) -> PoseTrack:
    """track.extra's cancelled / people_max / identity_jumps; the people told apart (`end_people`);
    NoPersonError when nobody was found."""
    if stopped_early:
        track.extra["cancelled"] = True
    track.extra["people_max"] = max(people_seen, default=1)
    track = end_people(track, people, person)
    track.extra["identity_jumps"] = identity_jumps(track)
    if require_person and not track.detected.any():
        raise NoPersonError(f"No person was found in any of the {done} frames of {Path(path).name}. "
                            f"Use a video where one person is fully visible.")
    return track


def end_people(track: PoseTrack, people: int = 1, person: int | None = None) -> PoseTrack:
    """After a capture (on the stitched rows: identities hold across worker segments): people = 1 →
    the followed person's track (`people.follow_person`: never another person's pose), without the
    every-pose arrays; people > 1 → the track as it is, every pose kept for `people.split_people`."""
    if not track.has_people:
        return track
    if people > 1:
        return track
    from .people import follow_person

    return follow_person(track, person)


def identity_jumps(track: PoseTrack, threshold: float = 0.15) -> int:
    """Consecutive detected frames whose body centre moves more than `threshold` of the frame: the
    tracker probably switched to someone else."""
    centre = np.mean(track.image_landmarks[:, 11:25, :2], axis=1)  # shoulders to hips; NaN: nobody
    ok = track.detected & np.isfinite(centre).all(axis=1)
    both = ok[1:] & ok[:-1]
    step = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    return int(np.sum(both & (step > threshold)))


def _grow(track: PoseTrack, frames: int) -> PoseTrack:
    bigger = PoseTrack.empty(frames, track.fps, track.frame_size, track.source, track.model, track.first_frame,
                             hands=track.has_hands, face=track.has_face,
                             face_count=track.face_landmarks.shape[1] if track.has_face else 478,
                             people=track.people_world.shape[1] if track.has_people else 0)
    if track.face_expressions is not None:
        bigger.face_expressions = np.full((frames, track.face_expressions.shape[1]), np.nan, np.float32)
    n = len(track)
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms",
                *track.hand_arrays(), *track.people_arrays(), *(("face_landmarks", "face_presence")
                                                                if track.has_face else ()),
                *(("face_expressions",) if track.face_expressions is not None else ())):
        getattr(bigger, key)[:n] = getattr(track, key)
    bigger.extra = track.extra
    return bigger
