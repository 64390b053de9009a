"""Decode ahead, and where the threads of a capture run.

`FramePrefetch`: a thread reads the next frames while the landmarker works on the current one.
OpenCV releases the GIL while it decodes and MediaPipe while it infers, so on a machine with a
spare core the decoding (5-8 ms for a 1080p H.264 frame) is hidden behind the model (20-30 ms).
The frames come out in order with the container time of each, read in the decoding thread right
after the frame (`VideoSource.last_timestamp_ms` would already belong to a later frame).
The thread layout that goes with it: `open_video` (FFmpeg's decoder threads), `opencv_threads`
(OpenCV's pool), `core_pair` and `pinned` (the landmarker and the decoding each on a core).
Imports only video.py: the frame loop (segment.py) uses this, never the reverse.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from .video import VideoSource, to_rgb

_END = object()
_ENV_LOCK = threading.Lock()
ONE_DECODER_THREAD_PIXELS = 1920 * 1088  # up to 1080p one FFmpeg thread decodes fast enough (~5 ms a frame)


def open_video(path) -> VideoSource:
    """A VideoSource for decoding ahead in a thread of its own: up to 1080p, FFmpeg decodes with one
    thread (OpenCV's default, one per core, makes those threads compete with the landmarker for the
    cores: measured 5-10 % slower end to end on 2 cores); larger videos keep OpenCV's default."""
    video = VideoSource(path)
    if video.info.width * video.info.height > ONE_DECODER_THREAD_PIXELS:
        return video
    video.close()
    with _ENV_LOCK:  # OpenCV reads OPENCV_FFMPEG_THREADS when a capture is opened
        previous = os.environ.get("OPENCV_FFMPEG_THREADS")
        os.environ["OPENCV_FFMPEG_THREADS"] = "1"
        try:
            return VideoSource(path)
        finally:
            if previous is None:
                os.environ.pop("OPENCV_FFMPEG_THREADS", None)
            else:
                os.environ["OPENCV_FFMPEG_THREADS"] = previous


def core_pair() -> tuple[int, int] | None:
    """Two CPUs of this process, one for the landmarker and one for the decoding thread, or None
    (fewer than 2 usable CPUs, no thread affinity on this OS, or MOCAP_NO_PIN set).

    Why pin: left to the scheduler, the landmarker's thread moves between cores and loses its
    caches; on one core of its own, with the decoding on the other, one worker ran 2-20 % faster
    (lite gains most; tools/bench_speed.py). The decoding thread is pinned by FramePrefetch(cpu=…)."""
    if not hasattr(os, "sched_setaffinity") or os.environ.get("MOCAP_NO_PIN"):
        return None
    try:
        cores = sorted(os.sched_getaffinity(0))
    except OSError:
        return None
    return (cores[-1], cores[-2]) if len(cores) >= 2 else None


@contextlib.contextmanager
def opencv_threads(count: int):
    """OpenCV's thread pool size for a while (restored after): with the decoding on a core of its
    own, OpenCV's pool (colour conversion) would take the landmarker's."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


@contextlib.contextmanager
def pinned(cpu: int | None):
    """The calling thread (and the threads it starts meanwhile) on one CPU; restored after."""
    if cpu is None:
        yield
        return
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, before)


class FramePrefetch:
    """Iterate (video frame index, frame, container time in ms) for start <= index < stop.

    Frames are BGR, or RGB when `rgb` (converted in the decoding thread, off the landmarker's; an RGB
    frame's array is reused for a later frame: use a frame before taking the next few).
    `on_frame(index, frame)`, if given, is called in the decoding thread for every frame once it is
    queued: work on the side (the people count) that then runs beside the landmarker. `cpu`: the
    decoding thread runs on that CPU only (see core_pair).
    `held`: how many frames before the one just taken the consumer still uses (RGB frames: their arrays
    are not written again meanwhile; 1: the hands of frame t found while the body of t + 1 is).
    Use as a context manager (or call close()): leaving early stops and joins the decoding thread,
    so the video can be closed safely right after. At most `depth` decoded frames wait in memory.
    """

    def __init__(self, video: VideoSource, start: int = 0, stop: int | None = None, depth: int = 4,
                 rgb: bool = False, on_frame: Callable[[int, np.ndarray], None] | None = None,
                 cpu: int | None = None, held: int = 0):
        self._video = video
        self._cpu = cpu
        self._held = max(0, int(held))
        self._rgb, self._on_frame = rgb, on_frame
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(start, stop), daemon=True,
                                        name="mocap-decode")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, start: int, stop: int | None) -> None:
        if self._cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {self._cpu})  # this thread only (Linux)
        video = self._video
        # RGB frames go into a ring of arrays reused in turn (fresh 6 MB arrays a frame cost page
        # faults and cache: measured ~3 % of the landmarker's speed on the other core). A frame's
        # array is written again only after depth + 1 later frames were queued: by then the consumer
        # has taken depth + 1 frames after it, so it is done with it (one more slot per frame `held`).
        ring = [None] * (self._queue.maxsize + 2 + self._held)
        try:
            for n, (index, frame) in enumerate(video.frames(start, stop, reuse=self._rgb)):
                if self._rgb:
                    slot = n % len(ring)
                    out = ring[slot]
                    if out is None or out.shape[:2] != frame.shape[:2]:
                        out = ring[slot] = np.empty((*frame.shape[:2], 3), np.uint8)
                    frame = to_rgb(frame, out)
                if not self._put((index, frame, video.last_timestamp_ms)):
                    return
                if self._on_frame is not None:
                    self._on_frame(index, frame)
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, float]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(0.05)

    def __enter__(self) -> FramePrefetch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
