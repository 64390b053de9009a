"""Live capture: a camera, a network stream or a video file played in real time → the newest frame's
landmarks, every frame the landmarker can take, off the caller's thread. No bpy.

    live = LiveCapture.open("0", model="full", on_result=fn)   # camera 0; "http://…/mjpg", "rtsp://…", "clip.mp4"
    # fn(result) runs in the landmarker thread; LiveCapture(open_source(spec), …).start() does the same
    live.record(True) … track = live.take()     # a PoseTrack (the landmark cache) with the frames' real times
    live.stop()

Two threads. The grabber reads the source as fast as it delivers and keeps only the newest frame (one
slot, overwritten). The landmarker thread takes the newest frame whenever it is free: frames that
arrive while it is busy are dropped, never queued, so the delay from a frame's arrival to its
landmarks stays one detection (plus at most one frame interval; when the newest frame is already old
and the next is due within FRESH_WAIT of an interval, it waits for that one instead). MediaPipe's
inference runs in native code without the GIL, so the caller's thread (Blender's main thread) keeps
running.

Errors at start (no camera, camera busy, unreachable stream, bad file) raise `SourceError`, a
`VideoError` (so a `MocapError`: the command prints `error: …` and exits 1, operators report it).
A source that stops delivering mid-take (a stream drops, a camera is unplugged) ends the capture;
what was recorded is kept and `LiveCapture.ended` says why.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VideoError
from .track import PoseTrack

OPEN_TIMEOUT_S = 5.0   # a network stream that does not answer within this is "unreachable"
# FFmpeg's own lines ("[tcp @ 0x…] Connection refused") are errors to it but not to us: the SourceError says
# it once. OpenCV reads this when it first uses FFmpeg in the process.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
READ_TIMEOUT_S = 3.0   # a stream (or camera) that sends nothing for this long has "dropped"
# When the landmarker gets free and the newest frame is already old, the next frame may be due within
# this fraction of the source's frame interval: then it waits that little for the fresh frame rather
# than spend a detection on a stale one (see FrameGrabber.newest). 0: never wait.
FRESH_WAIT = 0.25
STATS_WINDOW_S = 2.0   # fps and latency figures are over the last this many seconds


class SourceError(VideoError):
    """A live source that cannot be started (no camera, camera busy, unreachable stream)."""


# ----------------------------------------------------------------------------------------------
# Sources

class FrameSource:
    """A live source. `read()` → (BGR frame, source time in ms or None) or None when it ends; then
    `end_reason` is 'end' (a file played to its end) or 'dropped' (a stream or camera stopped)."""

    kind = "source"   # camera | stream | file

    def __init__(self, name: str, fps: float, size: tuple[int, int]):
        self.name, self.fps, self.size = name, float(fps), (int(size[0]), int(size[1]))
        self.end_reason: str | None = None

    def read(self):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class CaptureSource(FrameSource):
    """A camera or a network stream through OpenCV (its FFmpeg backend for streams)."""

    def __init__(self, cap, kind: str, name: str, first_frame: np.ndarray):
        import cv2

        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (0 < fps < 1000):
            fps = 0.0  # unknown (MJPEG over HTTP has no frame rate): measured from the take
        super().__init__(name, fps, (first_frame.shape[1], first_frame.shape[0]))
        self.kind = kind
        self._cap = cap
        self._pending = first_frame   # read when the source was opened (to prove it sends frames)

    def read(self):
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame, None
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self.end_reason = "dropped"
            return None
        return frame, None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FileSource(FrameSource):
    """A video file played at its own real-time rate (rehearsal, tests): frame i is released at its
    container time after the first read. loop: start again at the end (benchmarks); speed: play faster
    (> 1) or slower (< 1) than real time (benchmarks: a machine that keeps up)."""

    kind = "file"

    def __init__(self, path: str, realtime: bool = True, loop: bool = False, speed: float = 1.0):
        from .video import VideoSource

        self._video = VideoSource(path)  # VideoError: missing, a folder, an image, not a video …
        info = self._video.info
        super().__init__(str(path), info.fps, (info.width, info.height))
        self.realtime, self.loop, self.speed = realtime, loop, float(speed)
        self._frames = self._video.frames()
        self._t0: float | None = None
        self._offset_ms = 0.0
        self._last_ms = 0.0
        self.index = -1  # the video frame index of the frame last read

    def read(self):
        while True:
            try:
                index, frame = next(self._frames)
                break
            except StopIteration:
                if not self.loop or self.index < 0:
                    self.end_reason = "end"
                    return None
                self._offset_ms = self._last_ms + 1000.0 / self.fps
                self._frames = self._video.frames()
        ms = self._video.last_timestamp_ms
        ms = (index * 1000.0 / self.fps if not np.isfinite(ms) or ms < 0 else ms) + self._offset_ms
        self._last_ms, self.index = ms, index
        if self.realtime:
            now = time.perf_counter()
            if self._t0 is None:
                self._t0 = now - ms / 1000.0 / self.speed
            wait = self._t0 + ms / 1000.0 / self.speed - now
            if wait > 0:
                time.sleep(wait)
        return frame, ms

    def close(self) -> None:
        self._video.close()


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV's and FFmpeg's own log lines (`[ WARN:0@…] … can't open camera by index`, `[tcp @ …]
    Connection refused`) would add lines to the one message a failed start gives."""
    import cv2

    previous = cv2.getLogLevel() if hasattr(cv2, "getLogLevel") else None
    if hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)  # silent
    try:
        yield
    finally:
        if previous is not None:
            cv2.setLogLevel(previous)


CAMERA_PATTERN = re.compile(r"^(?:\d+|/dev/video\d+)$")


def describe(spec: str) -> str:
    spec = str(spec).strip()
    if CAMERA_PATTERN.match(spec):
        return f"camera {spec}"
    if "://" in spec:
        return f"stream {spec}"
    return Path(spec).name


def _first_frame(cap, cannot_open: str, no_picture: str):
    """(first frame, cap) of an OpenCV capture just made; released and a SourceError with the message
    that fits when it did not open or sends nothing."""
    if not cap.isOpened():
        cap.release()
        raise SourceError(cannot_open)
    ok, frame = cap.read()
    if not ok or frame is None:
        cap.release()
        raise SourceError(no_picture)
    return frame, cap


def open_source(spec, *, realtime: bool = True, loop: bool = False, open_timeout_s: float = OPEN_TIMEOUT_S,
                read_timeout_s: float = READ_TIMEOUT_S, speed: float = 1.0) -> FrameSource:
    """'0' (a camera index) or '/dev/videoN', a URL OpenCV's FFmpeg backend opens (http:// MJPEG,
    rtsp://, …), or a video file (played at its real-time rate). The source has delivered one frame
    before this returns; anything else raises SourceError (VideoError for a bad file)."""
    with _quiet_opencv():
        return _open(str(spec).strip(), realtime, loop, open_timeout_s, read_timeout_s, speed)


def _open(spec: str, realtime: bool, loop: bool, open_timeout_s: float, read_timeout_s: float,
          speed: float = 1.0) -> FrameSource:
    import cv2

    if not spec:
        raise SourceError("No live source given. Give a camera index (0 is the first camera), a stream "
                          "address (http://…, rtsp://…) or a video file.")
    if CAMERA_PATTERN.match(spec):
        device = int(spec) if spec.isdigit() else spec
        frame, cap = _first_frame(
            cv2.VideoCapture(device),
            f"No camera {spec}: nothing is connected there, or it cannot be opened "
            f"(no permission). Check the camera and its number (0 is the first camera).",
            f"Camera {spec} opened but sends no picture: it is probably in use by another "
            f"program. Close that program (or choose another camera) and start again.")
        return CaptureSource(cap, "camera", f"camera {spec}", frame)
    if "://" in spec:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)]
        frame, cap = _first_frame(
            cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params),
            f"Cannot open the stream {spec}: it is unreachable or not a video stream "
            f"(HTTP MJPEG, RTSP, … that FFmpeg reads). Check the address and that the stream is running.",
            f"The stream {spec} opened but sends no picture. Check that the camera behind it is running.")
        return CaptureSource(cap, "stream", spec, frame)
    return FileSource(spec, realtime=realtime, loop=loop, speed=speed)


# ----------------------------------------------------------------------------------------------
# The newest-frame slot

@dataclass
class Frame:
    seq: int               # 1, 2, … in the order the source delivered them
    image: np.ndarray      # BGR
    arrival: float         # time.perf_counter() when the grabber had it
    source_ms: float | None  # the file's own time (file sources), else None
    index: int = -1        # the video frame index (file sources)


class FrameGrabber:
    """Reads the source in its own thread, keeping only the newest frame."""

    def __init__(self, source: FrameSource):
        self.source = source
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self.ended: str | None = None      # 'end' | 'dropped' | 'stopped' | 'error: …'
        self.ended_at: float | None = None
        self.grabbed = 0
        self._intervals: deque = deque(maxlen=15)   # the last frames' arrival intervals (s)
        self._thread = threading.Thread(target=self._run, name="live-grabber", daemon=True)

    def start(self) -> FrameGrabber:
        self._thread.start()
        return self

    def _run(self) -> None:
        reason = "stopped"
        try:
            while not self._stop.is_set():
                got = self.source.read()
                if got is None:
                    reason = self.source.end_reason or "dropped"
                    break
                frame, source_ms = got
                arrival = time.perf_counter()
                with self._cond:
                    if self._latest is not None:
                        self._intervals.append(arrival - self._latest.arrival)
                    self.grabbed += 1
                    self._latest = Frame(self.grabbed, frame, arrival, source_ms, getattr(self.source, "index", -1))
                    self._cond.notify_all()
        except Exception as exc:  # a decoder error mid-stream: the same as a drop, said so
            reason = f"dropped ({exc.__class__.__name__}: {exc})"
        finally:
            with self._cond:
                self.ended = "stopped" if self._stop.is_set() else reason
                self.ended_at = time.perf_counter()
                self._cond.notify_all()

    def newest(self, after: int, timeout: float = 0.5, fresh_wait: float = 0.0) -> Frame | None:
        """The newest frame if it is newer than seq `after` (waits up to `timeout`), else None.

        fresh_wait: when the newest frame is old and the next one is due within this fraction of the
        frame interval, wait (at most that long) for the next one: its detection then starts almost
        at once instead of on a frame that has waited most of an interval already."""
        with self._cond:
            if not self._cond.wait_for(lambda: (self._latest is not None and self._latest.seq > after)
                                       or self.ended is not None, timeout):
                return None
            latest = self._latest
            if latest is None or latest.seq <= after:
                return None
            if fresh_wait > 0 and len(self._intervals) >= 3:
                interval = float(np.median(self._intervals))
                due = latest.arrival + interval - time.perf_counter()   # the next frame, about then
                if 0 < due <= fresh_wait * interval:
                    self._cond.wait_for(lambda: self._latest.seq > latest.seq or self.ended is not None,
                                        fresh_wait * interval)
                    latest = self._latest
            return latest

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=READ_TIMEOUT_S + 1)
        self.source.close()


# ----------------------------------------------------------------------------------------------
# The landmarker thread

@dataclass
class LiveResult:
    """One processed frame."""
    seq: int
    arrival: float          # perf_counter() when the frame arrived
    done: float             # perf_counter() when its landmarks were ready
    time_ms: float          # ms since the capture started (the source's own time for files)
    landmarks: tuple | None  # (world, image, visibility, presence) or None when nobody was found
    index: int = -1         # video frame index (file sources)
    pose: object = None     # what on_result returned (the front end's pose for this frame)
    started: float = 0.0    # perf_counter() when the landmarker took the frame (arrival → started: waiting)
    posed: float = 0.0      # perf_counter() when on_result had returned (landmarks → pose)


class LiveCapture:
    """The grabber plus one landmarker (VIDEO mode, running on the newest frame only).

    on_result(result) → anything: the front end turns the landmarks into bone rotations there, off
    Blender's main thread; its return value is stored as result.pose, and `latest()` gives the newest
    result that has been through it (without on_result: the newest result). By default
    (pose_thread=True) a third thread, the poser, runs it on the newest detection while the landmarker
    already works on the next frame (detections it had no time for are skipped). pose_thread=False runs
    it in the landmarker thread right after each detection: no hand-over, a few ms lower latency, but
    the solve's 5–6 ms come off the frame rate. Measured on this 2-core machine (tools/bench_live.py,
    full model, 30 fps MJPEG, load 1.0–1.5, runs alternating): poser thread 26.7–28.8 fps, latency
    median 48–56 / p95 67–78 ms (4 of 4 runs meet ≥ 25 fps, ≤ 60 / 100 ms); in the landmarker thread
    24.0–27.6 fps, 45–54 / 63–75 ms (2 of 7 runs under 25 fps). `--inline-pose` in the bench compares.
    `record(True/False)` and `take()` give every detected frame as a PoseTrack."""

    def __init__(self, source: FrameSource, model: str = "full", model_path=None,
                 on_result: Callable[[LiveResult], object] | None = None, max_side: int | None = None,
                 pose_thread: bool = True):
        self.source = source
        self.pose_thread = pose_thread  # False: on_result runs in the landmarker thread, after each detection
        self.fresh_wait = FRESH_WAIT    # see FrameGrabber.newest (0: take the newest frame as it is)
        self.model, self.model_path = model, model_path
        self.on_result = on_result
        self.max_side = max_side        # downscale frames to this longer side before detecting (None: as is)
        self.grabber = FrameGrabber(source) if source is not None else None
        self._landmarker = None
        self.model_name = model
        self._thread = threading.Thread(target=self._run, name="live-landmarker", daemon=True)
        self._poser = threading.Thread(target=self._pose_run, name="live-poser", daemon=True)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._to_pose = threading.Condition()
        self._detected: LiveResult | None = None   # the newest detection waiting for the poser
        self._latest: LiveResult | None = None
        self._recording = False
        self._rows: list[LiveResult] = []
        self._record_t0: float | None = None
        self._recorded_from: float | None = None
        self.processed = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._recent: deque = deque()   # (done, arrival) of the last STATS_WINDOW_S
        self.t0 = None
        self.ended: str | None = None   # once the landmarker thread has finished: 'end' | 'dropped…' | 'stopped'
        self.ended_after_s: float | None = None

    # -- life cycle

    @classmethod
    def open(cls, spec, *, model: str = "full", model_path=None, on_result=None, max_side: int | None = None,
             loop: bool = False, realtime: bool = True, speed: float = 1.0,
             pose_thread: bool = True) -> LiveCapture:
        """Load the model, then open the source `spec` (see open_source) and start: the model first, so
        that no frames pile up in the stream's buffer while it loads (they would be stale)."""
        live = cls(None, model=model, model_path=model_path, on_result=on_result, max_side=max_side,
                   pose_thread=pose_thread)
        live._load()
        try:
            live.source = open_source(spec, loop=loop, realtime=realtime, speed=speed)
        except BaseException:
            live._landmarker.close()
            raise
        live.grabber = FrameGrabber(live.source)
        return live.start()

    def _load(self) -> None:
        from .landmarker import Landmarker
        from .models import resolve_model

        task = resolve_model(self.model, self.model_path)
        self.model_name = Path(task).stem.replace("pose_landmarker_", "") if self.model_path is None else str(task)
        self._landmarker = Landmarker(task)

    def start(self) -> LiveCapture:
        """Load the model (ModelError here, in the caller's thread) unless loaded, then start both threads."""
        if self._landmarker is None:
            self._load()
        self.t0 = time.perf_counter()
        self.grabber.start()
        self._thread.start()
        if self.on_result is not None and self.pose_thread:
            self._poser.start()
        return self

    def stop(self) -> None:
        """Stop both threads (the recorded frames stay available to `take()`)."""
        self._stop.set()
        self.grabber.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._to_pose:
            self._to_pose.notify_all()
        if self._poser.is_alive():
            self._poser.join(timeout=5)
        if self._landmarker is not None and not self._thread.is_alive():
            self._landmarker.close()
            self._landmarker = None

    def is_alive(self) -> bool:
        return self._thread.is_alive() or self._poser.is_alive()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the loop

    def _run(self) -> None:
        from .landmarker import to_rgb

        last_seq, last_ms = 0, -1.0
        try:
            while not self._stop.is_set():
                frame = self.grabber.newest(last_seq, timeout=0.2, fresh_wait=self.fresh_wait)
                if frame is None:
                    if self.grabber.ended is not None:
                        break
                    continue
                self.dropped += frame.seq - last_seq - 1
                last_seq = frame.seq
                started = time.perf_counter()
                image = self._scaled(frame.image)
                t_ms = frame.source_ms if frame.source_ms is not None else (frame.arrival - self.t0) * 1000.0
                t_ms = max(t_ms, last_ms + 1.0)  # strictly increasing for MediaPipe's VIDEO mode
                last_ms = t_ms
                found = self._landmarker.detect(to_rgb(image), int(round(t_ms)), rgb=True)
                result = LiveResult(frame.seq, frame.arrival, time.perf_counter(), t_ms, found, frame.index,
                                    started=started)
                if self.on_result is not None and not self.pose_thread:
                    result.pose = self.on_result(result)
                    result.posed = time.perf_counter()
                elif self.on_result is not None:
                    with self._to_pose:
                        self._detected = result
                        self._to_pose.notify_all()
                with self._lock:
                    self.processed += 1
                    if self.on_result is None or not self.pose_thread:
                        self._latest = result
                    self._recent.append((result.done, result.done - result.arrival))
                    while self._recent and self._recent[0][0] < result.done - STATS_WINDOW_S:
                        self._recent.popleft()
                    if self._recording:
                        self._rows.append(result)
        except BaseException as exc:  # reported by the front end (error), never silently lost
            self.error = exc
        finally:
            ended = self.grabber.ended
            self.ended = "stopped" if self._stop.is_set() or ended is None else ended
            self.ended_after_s = time.perf_counter() - self.t0
            with self._to_pose:
                self._to_pose.notify_all()

    def _pose_run(self) -> None:
        """The poser: on_result on the newest detection (older ones it had no time for are skipped)."""
        last = 0
        try:
            while not self._stop.is_set():
                with self._to_pose:
                    self._to_pose.wait_for(lambda last=last: (self._detected is not None and self._detected.seq > last)
                                           or self._stop.is_set() or not self._thread.is_alive(), timeout=0.5)
                    result = self._detected
                if result is None or result.seq <= last:
                    if not self._thread.is_alive():
                        break
                    continue
                last = result.seq
                result.pose = self.on_result(result)
                result.posed = time.perf_counter()
                with self._lock:
                    self._latest = result
        except BaseException as exc:
            self.error = self.error or exc

    def _scaled(self, image: np.ndarray) -> np.ndarray:
        if not self.max_side or max(image.shape[:2]) <= self.max_side:
            return image
        import cv2

        h, w = image.shape[:2]
        s = self.max_side / max(h, w)
        return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)

    # -- what the front end reads

    def latest(self) -> LiveResult | None:
        with self._lock:
            return self._latest

    def stats(self) -> dict:
        """fps (processed frames per second, recent), latency_ms (median arrival → landmarks, recent),
        processed, dropped, grabbed, recorded."""
        with self._lock:
            recent = list(self._recent)
            recorded = len(self._rows)
        fps = 0.0
        if len(recent) >= 2 and recent[-1][0] > recent[0][0]:
            fps = (len(recent) - 1) / (recent[-1][0] - recent[0][0])
        latency = 1000.0 * float(np.median([r[1] for r in recent])) if recent else 0.0
        return {"fps": fps, "latency_ms": latency, "processed": self.processed, "dropped": self.dropped,
                "grabbed": self.grabber.grabbed, "recorded": recorded}

    @property
    def recording(self) -> bool:
        return self._recording

    def record(self, on: bool = True) -> None:
        """Start (clearing what was recorded) or pause recording."""
        with self._lock:
            if on and not self._recording:
                self._rows = []
                self._recorded_from = time.perf_counter()
            self._recording = on

    @property
    def recorded_frames(self) -> int:
        with self._lock:
            return len(self._rows)

    @property
    def source_frames(self) -> list[int]:
        """The video frame index of each recorded row (file sources; -1 otherwise)."""
        with self._lock:
            return [r.index for r in self._rows]

    def take(self) -> PoseTrack:
        """The recorded frames as a PoseTrack: timestamps from the first recorded frame (ms; the
        file's own times for a file source, else the frames' arrival times), fps the source's when the
        take kept its rate, else the measured rate of the processed frames. Raises SourceError when
        nothing was recorded."""
        with self._lock:
            rows = list(self._rows)
        if not rows:
            raise SourceError(f"Nothing was recorded from {self.source.name}: the take has no frames.")
        t = np.array([r.time_ms for r in rows], np.float64)
        t -= t[0]
        ts = np.round(t).astype(np.int64)
        for i in range(1, len(ts)):  # strictly increasing
            if ts[i] <= ts[i - 1]:
                ts[i] = ts[i - 1] + 1
        measured = (len(rows) - 1) * 1000.0 / ts[-1] if len(rows) > 1 and ts[-1] > 0 else (self.source.fps or 30.0)
        nominal = self.source.fps
        fps = nominal if nominal > 0 and abs(measured - nominal) <= 0.03 * nominal else measured
        track = PoseTrack.empty(len(rows), fps, self.source.size, self.source.name, self.model_name)
        track.timestamps_ms[:] = ts
        for i, r in enumerate(rows):
            if r.landmarks is not None:
                (track.world_landmarks[i], track.image_landmarks[i], track.visibility[i],
                 track.presence[i]) = r.landmarks
                track.detected[i] = True
        track.extra.update(live=True, source_kind=self.source.kind, dropped=self.dropped,
                           measured_fps=measured, duration_s=ts[-1] / 1000.0)
        if self.ended not in (None, "stopped", "end"):
            track.extra["stream_dropped"] = self.ended
        return track


__all__ = ["SourceError", "FrameSource", "CaptureSource", "FileSource", "open_source", "describe",
           "FrameGrabber", "Frame", "LiveResult", "LiveCapture"]
