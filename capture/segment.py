"""The frame loop of a capture: video frames → landmarks, one segment of the video at a time.

A segment is video frames [start, stop). Its landmarker (VIDEO mode) first runs over the warm-up
frames [warm, start), which the previous segment owns, so that tracking and MediaPipe's landmark
smoothing have converged when the segment's own frames begin; the warm-up results are dropped.
Rows are handed out in chunks (`Rows` messages, written into a track by `place_rows`) as they are
made; nothing grows with the number of pixels.

`run_segment` is the one loop: frames decoded and converted to RGB in a prefetch thread
(capture/prefetch.py), the pose landmarker (capture/landmarker.py) and the hands (capture/hands.py)
on each. It runs in a worker process of a parallel capture (capture/parallel.py `worker_main`), or
in this process: `capture_video` is one worker, the whole range as one segment without warm-up, the
landmarker and the decoding pinned each to a core; `capture_segment` one segment (tests, benchmarks).
`cut_track` / `finish_track` end a capture, one worker or several. Never imports bpy.
"""
from __future__ import annotations

import contextlib
import time
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import Cancelled, NoPersonError, VideoError
from .hands import HandTracker
from .landmarker import Landmarker
from .landmarks import COUNT
from .models import DEFAULT_VARIANT, resolve_hand_model, resolve_model
from .prefetch import FramePrefetch, core_pair, open_video, opencv_threads, pinned
from .track import PoseTrack
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
        self.hands: list = []  # per row (world (2,21,3), image (2,21,3), presence (2,)) when capturing hands

    def add(self, found, raw_ts: int, hands=None) -> None:
        if hands is not None:
            self.hands.append(hands)
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
        """('rows', first index, world, image, visibility, presence, detected, timestamps[, hand world,
        hand image, hand presence]); the arrays may be views of the rows' own (copy them to keep them)."""
        msg = ("rows", self.index0, _rows_of(self.world), _rows_of(self.image), _rows_of(self.vis),
               _rows_of(self.pres), np.array(self.detected, bool), np.array(self.ts, np.int64))
        if self.hands:
            msg += tuple(_rows_of(part) for part in zip(*self.hands))
        return msg


def place_rows(track: PoseTrack, msg: tuple, first: int) -> int:
    """Copy a 'rows' message into the track (row = video index - first); returns the row count."""
    _, index0, world, image, vis, pres, detected, ts, *hands = msg
    r0, n = index0 - first, len(ts)
    if hands and track.has_hands:
        track.hand_world_landmarks[r0:r0 + n], track.hand_image_landmarks[r0:r0 + n], \
            track.hand_presence[r0:r0 + n] = hands
    track.world_landmarks[r0:r0 + n] = world
    track.image_landmarks[r0:r0 + n] = image
    track.visibility[r0:r0 + n] = vis
    track.presence[r0:r0 + n] = pres
    track.detected[r0:r0 + n] = detected
    track.timestamps_ms[r0:r0 + n] = ts
    return n


def run_segment(video: VideoSource, task, first: int, limit: int | None, provisional: Plan,
                people_check_every: int = 60, *,
                send: Callable[[tuple], None], get_plan: Callable[[bool], Plan | None],
                cancelled: Callable[[], bool] = lambda: False, measure_rate: bool = False,
                prefetch: bool = True, chunk_rows: int = 1, chunk_seconds: float = 0.25,
                seek_beyond: int | None = None, tail: int = 0, pin: bool = False, hand_task=None) -> dict:
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
    in the rows' hand arrays; the summary's 'hands' counts crops, hands found, rejected.
    The summary holds, to check a seek, (index, container ms, fingerprint) of the warm-up frames
    ('head') and of the last `tail` frames of the segment ('tail').
    """
    t_begin = time.perf_counter()
    info = {"rows": 0, "warm_rows": 0, "skipped": 0, "skip_s": 0.0, "process_s": 0.0, "init_s": 0.0,
            "eof": False, "cancelled": False, "people": [], "next_index": None, "seeked": False,
            "head": [], "tail": []}
    skip_to, start, stop = provisional
    plan = get_plan(False)
    with contextlib.ExitStack() as stack:
        fps = video.info.fps
        stack.enter_context(opencv_threads(1))  # decoding has a thread (a core); OpenCV's pool would take the model's
        counter = (stack.enter_context(Landmarker(Path(task), num_poses=2, video=False))
                   if people_check_every else None)
        cores = core_pair() if pin else None  # alone on the machine
        stack.enter_context(pinned(cores[0] if cores else None))
        landmarker = stack.enter_context(Landmarker(Path(task)))
        hand_tracker = stack.enter_context(HandTracker(Path(hand_task))) if hand_task else None
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

        def count_people(index, rgb):  # the segment's own frames (in the decoding thread, beside the landmarker)
            if counter is not None and index >= start and (index - first) % people_check_every == 0:
                people.append(counter.count_people(rgb, rgb=True))

        if prefetch:  # decoded, converted to RGB and people counted in a thread beside the landmarker
            source = iter(stack.enter_context(FramePrefetch(video, skip_to, upper, rgb=True, on_frame=count_people,
                                                            cpu=cores[1] if cores else None)))
        else:
            source = _inline(video, skip_to, upper, count_people)
        next_index = skip_to
        last = deque(maxlen=tail)
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
            found = landmarker.detect(frame, previous_ts, rgb=True)
            hands = (hand_tracker.detect(frame, previous_ts, found)
                     if hand_tracker is not None else None)
            next_index = index + 1
            if index < start:
                info["warm_rows"] += 1
                info["head"].append((index, raw, frame_check(frame)))
            else:
                rows.add(found, raw, hands)
                if tail:
                    last.append((index, raw, frame_check(frame)))
            count += 1
            # Soon (frames 2-8: tracking, past the first detection), so that the plan rarely has to be
            # made before it: a later worker that sought is waiting for it.
            if measure_rate and count == 2:
                t_rate = time.perf_counter()
            elif measure_rate and count == 8:
                send(("rate", (time.perf_counter() - t_rate) / 6))
            now = time.perf_counter()
            if len(rows) >= chunk_rows or (len(rows) and now - last_flush >= chunk_seconds):
                send(rows.message())
                info["rows"] += len(rows)
                rows.clear(index + 1)
                last_flush = now
        else:
            info["eof"] = stop is None or next_index < stop  # the video ended before the segment did
        if len(rows):
            send(rows.message())
            info["rows"] += len(rows)
        info["next_index"] = next_index
        info["process_s"] = time.perf_counter() - t_proc
        info["tail"] = list(last)
        if hand_tracker is not None:
            info["hands"] = dict(hand_tracker.stats)
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
                  hand_model_path=None) -> PoseTrack:
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
    """
    task = resolve_model(model, model_path)
    hand_task = resolve_hand_model(hand_model_path) if hands else None
    with open_video(video_path) as video:
        info = video.info
        first, last = video.resolve_range(start, stop)
        total = max(last - first, 0) if last else 0
        track = PoseTrack.empty(total, info.fps, (info.width, info.height), info.path,
                                Path(task).stem.replace("pose_landmarker_", "") if model_path is None
                                else str(task), first, hands=hands)
        written = _TrackWriter(track, first, total, progress, time.perf_counter())
        plan = (first, first, last)
        result = run_segment(video, task, first, last, plan, people_check_every, send=written,
                             get_plan=lambda block: plan, cancelled=should_cancel or (lambda: False),
                             pin=True, hand_task=hand_task)
    track, done, stopped_early = written.track, written.done, result["cancelled"]
    if hands:
        track.extra["hands"] = {**result.get("hands", {}), "model": str(hand_task)}
    track = cut_track(track, done, total, first, last, info.path, stopped_early, keep_partial)
    return finish_track(track, done, info.path, stopped_early, result["people"], require_person)


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
                    people_check_every: int = 0, prefetch: bool = True, hand_task=None) -> PoseTrack:
    """In-process: frames [start, stop) after a warm-up over [warm, start) → a PoseTrack of the
    segment's own rows (timestamps as capture_video gives them when no earlier frame forces them on).
    Used to measure how many warm-up frames tracking needs, and by tests."""
    with open_video(video_path) as video:
        info = video.info
        track = PoseTrack.empty(stop - start, info.fps, (info.width, info.height), info.path,
                                Path(task).stem.replace("pose_landmarker_", ""), start, hands=bool(hand_task))
        written = _TrackWriter(track, start)
        result = run_segment(video, task, start if first is None else first, stop, (warm, start, stop),
                             people_check_every, send=written, get_plan=lambda block: (warm, start, stop),
                             prefetch=prefetch, hand_task=hand_task)
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
                 require_person: bool) -> PoseTrack:
    """track.extra's cancelled / people_max / identity_jumps; NoPersonError when nobody was found."""
    if stopped_early:
        track.extra["cancelled"] = True
    track.extra["people_max"] = max(people_seen, default=1)
    track.extra["identity_jumps"] = identity_jumps(track)
    if require_person and not track.detected.any():
        raise NoPersonError(f"No person was found in any of the {done} frames of {Path(path).name}. "
                            f"Use a video where one person is fully visible.")
    return track


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
                             hands=track.has_hands)
    n = len(track)
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms",
                *track.hand_arrays()):
        getattr(bigger, key)[:n] = getattr(track, key)
    return bigger
