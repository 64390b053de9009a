"""Video decoding with OpenCV: metadata, frame ranges, moving to a frame (decode or seek), phone-video
rotation applied by us, and the conversion to RGB the landmarkers take.

OpenCV 4.x ignores the rotation flag of phone videos while 5.x applies it; we switch OpenCV's own
rotation off and rotate every frame ourselves, so the result is the same whatever the version.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VideoError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".mts")


IMAGE_SIGNATURES = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
                    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _image_kind(path: str) -> str | None:
    """The image format if the file is a still image (whatever its name says)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in IMAGE_SIGNATURES if head.startswith(magic)), None)


def _cv2():
    import cv2
    return cv2


def to_rgb(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A decoded frame (BGR, or gray) → RGB (into `out` if given), the only format MediaPipe's
    landmarkers take (a gray image crashes inference)."""
    cv2 = _cv2()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB if frame.ndim == 3 else cv2.COLOR_GRAY2RGB, dst=out)


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int          # after rotation
    height: int         # after rotation
    fps: float
    frame_count: int    # as reported by the container (may be an estimate)
    rotation: int       # degrees clockwise applied to each decoded frame: 0, 90, 180 or 270

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


def parse_frame_range(text: str | None) -> tuple[int | None, int | None]:
    """'A:B' → (A, B): video frames A (inclusive) to B (exclusive), 0-based; either side may be empty."""
    if text in (None, "", ":"):
        return None, None
    if ":" not in text:
        raise ValueError(f"frame range '{text}' must look like A:B (for example 0:120)")
    a, b = text.split(":", 1)
    try:
        start = int(a) if a.strip() else None
        stop = int(b) if b.strip() else None
    except ValueError:
        raise ValueError(f"frame range '{text}' must hold whole numbers, like 0:120") from None
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        raise ValueError(f"frame range '{text}' must not be negative")
    if start is not None and stop is not None and stop <= start:
        raise ValueError(f"frame range '{text}' is empty: the end must be after the start")
    return start, stop


class VideoSource:
    """An opened video. Use as a context manager; iterate with `frames(start, stop)`."""

    def __init__(self, path):
        cv2 = _cv2()
        self.path = str(path)
        if not os.path.exists(self.path):
            raise VideoError(f"Video not found: {self.path}. Check the path.")
        if os.path.isdir(self.path):
            raise VideoError(f"{self.path} is a folder, not a video file. Choose a video file.")
        image = _image_kind(self.path)
        if image:
            raise VideoError(f"{self.path} is a {image} image, not a video. Choose a video file.")
        if os.path.getsize(self.path) == 0:
            raise VideoError(f"{self.path} is empty (0 bytes). Choose a video file.")
        self._cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoError(f"Cannot open {self.path} as a video (not a video, or a codec OpenCV cannot "
                             f"decode). Convert it to H.264 MP4 and try again.")
        cap = self._cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)  # unknown: 0 (some report < 0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if width <= 0 or height <= 0 or not (0 < fps < 10000):
            cap.release()
            raise VideoError(f"{self.path} has no readable video stream (size {width}x{height}, fps {fps:g}). "
                             f"Choose a video file.")
        # Our rotation, not OpenCV's: read the flag, switch auto-rotation off, remember what is left to do.
        rotation = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
        auto = cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0) is False and bool(cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
        self._rotate = 0 if auto else rotation
        if rotation in (90, 270):
            width, height = height, width
        self.info = VideoInfo(self.path, width, height, fps, count, rotation)
        self._position = 0
        self.last_timestamp_ms: float = float("nan")  # container time of the frame last yielded

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def resolve_range(self, start: int | None, stop: int | None) -> tuple[int, int | None]:
        count = self.info.frame_count
        start = 0 if start is None else start
        if stop is None or (count and stop > count):
            stop = count or None  # None: read to the end (the container did not say how long it is)
        if count and start >= count:
            raise VideoError(f"Frame range starts at {start} but {Path(self.path).name} has only {count} "
                             f"frames (0..{count - 1}). Choose a start below {count}.")
        return start, stop

    def _oriented(self, frame: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        if self._rotate == 90:
            return cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)
        if self._rotate == 180:
            return cv2.rotate(frame, cv2.ROTATE_180)
        if self._rotate == 270:
            return cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return frame

    @property
    def position(self) -> int:
        """The index of the frame the video reads next (`frames` or `skip_to` go on from here)."""
        return self._position

    def skip_to(self, target: int, cancelled: Callable[[], bool] | None = None, seek_beyond: int | None = None,
                on_rate: Callable[[float], None] | None = None, rate_after: int = 48) -> bool | str:
        """Move on until the next frame read is `target`: decode without converting (cv2 grab), rewinding
        first when already past it; or, when more than `seek_beyond` frames are to be skipped, seek
        (OpenCV decodes from the keyframe before; frame-exact on constant frame rate videos only: the
        caller must check the frames it gets). `cancelled()` is polled every 32 frames.
        Returns False when the video ended or `cancelled()` said so, 'seek' after a seek, else True.
        `on_rate(seconds per skipped frame)` is called once: after `rate_after` frames, at the end
        (8 frames or more), or right after a seek."""
        cap = self._cap
        if self._position > target:
            cap.set(_cv2().CAP_PROP_POS_FRAMES, 0)
            self._position = 0
        count, t0, reported = 0, time.perf_counter(), on_rate is None
        if seek_beyond is not None and target - self._position > seek_beyond:
            cap.set(_cv2().CAP_PROP_POS_FRAMES, target)
            skipped, self._position = target - self._position, target
            if on_rate is not None:
                on_rate((time.perf_counter() - t0) / skipped)  # the keyframe decode is paid by the first read
            return "seek"
        while self._position < target:
            if not cap.grab():
                return False
            self._position += 1
            count += 1
            if not reported and count >= rate_after:
                on_rate((time.perf_counter() - t0) / count)
                reported = True
            if cancelled is not None and count % 32 == 0 and cancelled():
                return False
        if not reported and count >= 8:
            on_rate((time.perf_counter() - t0) / count)
        return True

    def frames(self, start: int = 0, stop: int | None = None, reuse: bool = False
               ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (video frame index, BGR frame) for start <= index < stop, streamed one at a time.

        Stops early when the video ends (the container's count can be wrong); `position` tells the
        next frame index. `last_timestamp_ms` is the container time of the frame last yielded.
        reuse: decode every frame into the same array (no fresh memory a frame; the caller must be
        done with a frame before asking for the next).
        """
        if not self.skip_to(start):
            return
        cap = self._cap
        frame = None
        while stop is None or self._position < stop:
            ok, frame = cap.read(frame) if reuse and frame is not None else cap.read()
            if not ok or frame is None:
                return
            index = self._position
            self._position += 1
            self.last_timestamp_ms = float(cap.get(_cv2().CAP_PROP_POS_MSEC))
            yield index, self._oriented(frame)


def probe(path) -> VideoInfo:
    with VideoSource(path) as video:
        return video.info
