"""One segment of a capture: the unit of work of a parallel capture (see capture/parallel.py).

A segment is video frames [start, stop). Its landmarker (VIDEO mode) first runs over the warm-up
frames [warm, start), which the previous segment owns, so that tracking and MediaPipe's landmark
smoothing have converged when the segment's own frames begin; the warm-up results are dropped.
Rows are handed out in chunks as they are made; nothing grows with the number of pixels.

`run_segment` is the loop (used in a worker process by `worker_main`, or in-process by
`capture_segment`); it never imports bpy.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import zlib
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import CaptureError
from .hands import HandTracker
from .landmarker import Landmarker, _frame_time_ms, to_rgb
from .landmarks import COUNT
from .prefetch import FramePrefetch, core_pair, open_video, pinned
from .track import PoseTrack
from .video import VideoSource, _cv2

Plan = tuple  # (warm, start, stop): video frame indices


def skip_frames(video: VideoSource, target: int, cancelled: Callable[[], bool],
                on_rate: Callable[[float], None] | None = None, rate_after: int = 48,
                seek_beyond: int | None = None) -> bool | str:
    """Move on until the video's next frame is `target`: decode without converting (cv2 grab), as
    `VideoSource.frames` does before its start; or, when more than `seek_beyond` frames are to be
    skipped, seek (OpenCV decodes from the keyframe before; frame-exact on constant frame rate videos
    only: the caller must check the frames it gets). Returns False when the video ended or the capture
    was cancelled, 'seek' after a seek, else True. `on_rate(seconds per skipped frame)` is called once."""
    cap = video._cap  # same package: continue VideoSource's own position so frames(target) reads on
    if video._position > target:
        return True  # frames(target) rewinds
    count, t0, reported = 0, time.perf_counter(), on_rate is None
    if seek_beyond is not None and target - video._position > seek_beyond:
        cap.set(_cv2().CAP_PROP_POS_FRAMES, target)
        skipped, video._position = target - video._position, target
        if on_rate is not None:
            on_rate((time.perf_counter() - t0) / skipped)  # the keyframe decode is paid by the first read
        return "seek"
    while video._position < target:
        if not cap.grab():
            return False
        video._position += 1
        count += 1
        if not reported and count >= rate_after:
            on_rate((time.perf_counter() - t0) / count)
            reported = True
        if count % 32 == 0 and cancelled():
            return False
    if not reported and count >= 8:
        on_rate((time.perf_counter() - t0) / count)
    return True


def frame_check(frame: np.ndarray) -> int:
    """A cheap fingerprint of a decoded frame (CRC of a sparse grid of pixels)."""
    return zlib.crc32(np.ascontiguousarray(frame[::16, ::16]).tobytes())


class _Rows:
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
            nan3 = np.full((COUNT, 3), np.nan, np.float32)
            nan1 = np.full(COUNT, np.nan, np.float32)
            found = (nan3, nan3, nan1, nan1)
        self.world.append(found[0])
        self.image.append(found[1])
        self.vis.append(found[2])
        self.pres.append(found[3])
        self.ts.append(raw_ts)

    def __len__(self) -> int:
        return len(self.ts)

    def message(self) -> tuple:
        """('rows', first index, world, image, visibility, presence, detected, timestamps[, hand world,
        hand image, hand presence])"""
        msg = ("rows", self.index0, np.stack(self.world), np.stack(self.image), np.stack(self.vis),
               np.stack(self.pres), np.array(self.detected, bool), np.array(self.ts, np.int64))
        if self.hands:
            msg += tuple(np.stack(part) for part in zip(*self.hands))
        return msg


def run_segment(video_path, task, first: int, limit: int, provisional: Plan, people_check_every: int = 60, *,
                send: Callable[[tuple], None], get_plan: Callable[[bool], Plan | None],
                cancelled: Callable[[], bool] = lambda: False, measure_rate: bool = False,
                prefetch: bool = True, chunk_rows: int = 1, chunk_seconds: float = 0.25,
                seek_beyond: int | None = None, tail: int = 0, pin: bool = False, hand_task=None) -> dict:
    """Capture one segment; returns a summary (the 'done' message's content).

    limit: no plan goes past this frame (the capture's end). provisional = (skip_to, start, stop):
    decode up to skip_to at once; start None means the
    segment's start is not known yet: wait for the plan (get_plan(True) blocks) before processing;
    stop is the provisional end: the loop waits for the plan rather than go past it. The plan
    (warm, start, stop) replaces these when it comes. `first` is the capture's first frame: the
    people count runs on rows (index - first) % people_check_every == 0, as in capture_video.
    Messages sent: ('ready', s), ('skip_rate', s/frame), ('rate', s/frame), ('waiting',), ('rows', ...):
    rows every `chunk_rows` frames or `chunk_seconds` (a row costs ~0.1 ms to send and place; a row a
    message keeps progress and cancel as fine-grained as capture_video's).
    seek_beyond: seek rather than decode when more frames than this are to be skipped (None: never).
    pin: the only worker: the landmarker and the decoding thread each on a core of their own.
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
    with open_video(video_path) as video, contextlib.ExitStack() as stack:
        fps = video.info.fps
        counter = (stack.enter_context(Landmarker(Path(task), num_poses=2, video=False))
                   if people_check_every else None)
        cores = core_pair() if pin else None  # alone on the machine: as capture_video does
        stack.enter_context(pinned(cores[0] if cores else None))
        landmarker = stack.enter_context(Landmarker(Path(task)))
        hand_tracker = stack.enter_context(HandTracker(Path(hand_task))) if hand_task else None
        info["init_s"] = time.perf_counter() - t_begin
        send(("ready", info["init_s"]))

        def wait_for_plan():
            send(("waiting",))
            return get_plan(True)

        t_skip = time.perf_counter()
        moved = skip_frames(video, skip_to, cancelled, lambda s: send(("skip_rate", s)), seek_beyond=seek_beyond)
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
        if not (info["cancelled"] or info["eof"]) and not skip_frames(video, skip_to, cancelled):
            info["cancelled"] = cancelled()
            info["eof"] = not info["cancelled"]
        info["skipped"] = video._position
        info["skip_s"] = time.perf_counter() - t_skip
        if info["cancelled"] or info["eof"]:
            info["next_index"] = min(video._position, skip_to)
            return info

        t_proc = time.perf_counter()
        rows, last_flush = _Rows(), time.perf_counter()
        rows.clear(start)
        previous_ts, count, t_rate = -1, 0, 0.0
        upper = limit if plan is None else stop
        people = info["people"]

        def count_people(index, rgb):  # the segment's own frames, as capture_video counts them
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
            if index >= stop and plan is None:
                plan = wait_for_plan()
                if plan is None:
                    info["cancelled"] = True
                    break
                stop = plan[2]
            if index >= stop:
                break
            raw = _frame_time_ms(container_ms, index, fps, -1)
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
            info["eof"] = next_index < stop  # the video ended before the segment did
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


def capture_segment(video_path, task, warm: int, start: int, stop: int, first: int | None = None,
                    people_check_every: int = 0, prefetch: bool = True, hand_task=None) -> PoseTrack:
    """In-process: frames [start, stop) after a warm-up over [warm, start) → a PoseTrack of the
    segment's own rows (timestamps as capture_video gives them when no earlier frame forces them on).
    Used to measure how many warm-up frames tracking needs, and by tests."""
    with VideoSource(video_path) as video:
        info = video.info
    track = PoseTrack.empty(stop - start, info.fps, (info.width, info.height), info.path,
                            Path(task).stem.replace("pose_landmarker_", ""), start, hands=bool(hand_task))
    filled = [0]

    def send(msg):
        if msg[0] == "rows":
            _place(track, msg, start)
            filled[0] = max(filled[0], msg[1] - start + len(msg[7]))

    result = run_segment(video_path, task, start if first is None else first, stop, (warm, start, stop),
                         people_check_every, send=send, get_plan=lambda block: (warm, start, stop),
                         prefetch=prefetch, hand_task=hand_task)
    out = track.sliced(0, filled[0])
    out.extra = {"people": result["people"], "segment": result}
    return out


def _place(track: PoseTrack, msg: tuple, first: int) -> int:
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


def worker_main(job: dict, conn, cancel_event) -> None:
    """A worker process: run one segment, talk to the parent through `conn` (a duplex Pipe).

    Parent → worker: ('plan', warm, start, stop). Worker → parent: the messages of run_segment,
    then ('done', summary) or ('error', kind, message). Never imports bpy."""
    plan_box: list = []

    def get_plan(block: bool):
        while not plan_box:
            if not conn.poll(0.05 if block else 0):
                if not block or cancel_event.is_set():
                    return None
                continue
            msg = conn.recv()
            if msg[0] == "plan":
                plan_box.append(tuple(msg[1:]))
        return plan_box[0]

    try:
        info = run_segment(job["video"], job["task"], job["first"], job["limit"], tuple(job["provisional"]),
                           job["people_check_every"], send=conn.send, get_plan=get_plan,
                           cancelled=cancel_event.is_set, measure_rate=job.get("measure_rate", False),
                           prefetch=job.get("prefetch", True), seek_beyond=job.get("seek_beyond"),
                           tail=job.get("tail", 0), pin=job.get("alone", False), hand_task=job.get("hand_task"))
        info["maxrss_mb"] = peak_rss_mb()
        info["cpu_s"] = time.process_time()
        info["pid"] = os.getpid()
        info["foreign_modules"] = sorted(m for m in sys.modules if m == "bpy" or m.startswith(("bpy.", "video_mocap",
                                                                                               "bl_ext")))
        conn.send(("done", info))
    except CaptureError as exc:
        _send_quietly(conn, ("error", type(exc).__name__, str(exc)))
    except BaseException as exc:  # reported by the parent, never a silent death
        _send_quietly(conn, ("error", type(exc).__name__,
                             f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (NaN where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _send_quietly(conn, msg) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send(msg)
