"""`PoseTrack`: the landmark track of one capture, and its on-disk cache (`.npz`, written atomically)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TrackError
from .landmarks import COUNT

FORMAT_VERSION = 1
ARRAY_KEYS = ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms")
META_KEYS = ("fps", "frame_size", "source", "model")


@dataclass
class PoseTrack:
    """Per processed video frame t: 33 landmarks, NaN where no person was found.

    world_landmarks  (T,33,3) metres, MediaPipe's hip-centred axes (x right, y down, z away from camera)
    image_landmarks  (T,33,3) x, y normalised to the (rotated) frame, z relative depth
    visibility, presence (T,33)
    detected (T,) bool; timestamps_ms (T,) int64, time of each frame in the source video
    first_frame: video frame index of row 0 (output frame i is video frame first_frame + i)
    """

    world_landmarks: np.ndarray
    image_landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    detected: np.ndarray
    timestamps_ms: np.ndarray
    fps: float
    frame_size: tuple[int, int]
    source: str = ""
    model: str = ""
    first_frame: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, frames: int, fps: float, frame_size, source="", model="", first_frame=0) -> "PoseTrack":
        nan3 = np.full((frames, COUNT, 3), np.nan, dtype=np.float32)
        nan1 = np.full((frames, COUNT), np.nan, dtype=np.float32)
        return cls(nan3, nan3.copy(), nan1, nan1.copy(), np.zeros(frames, bool),
                   np.zeros(frames, np.int64), float(fps), tuple(int(v) for v in frame_size),
                   str(source), str(model), int(first_frame))

    def __len__(self) -> int:
        return len(self.detected)

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self) else 0.0

    def validate(self) -> "PoseTrack":
        t = len(self.detected)
        shapes = {"world_landmarks": (t, COUNT, 3), "image_landmarks": (t, COUNT, 3),
                  "visibility": (t, COUNT), "presence": (t, COUNT), "timestamps_ms": (t,)}
        for key, shape in shapes.items():
            if np.shape(getattr(self, key)) != shape:
                raise TrackError(f"'{key}' has shape {np.shape(getattr(self, key))}, expected {shape}")
        if not (self.fps > 0):
            raise TrackError(f"fps must be positive, got {self.fps}")
        return self

    def sliced(self, start: int, stop: int) -> "PoseTrack":
        return PoseTrack(self.world_landmarks[start:stop], self.image_landmarks[start:stop],
                         self.visibility[start:stop], self.presence[start:stop], self.detected[start:stop],
                         self.timestamps_ms[start:stop], self.fps, self.frame_size, self.source,
                         self.model, self.first_frame + start)

    def save(self, path) -> Path:
        """Write the cache atomically: a temporary file in the same folder, then a rename."""
        self.validate()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(
                    fh, world_landmarks=self.world_landmarks, image_landmarks=self.image_landmarks,
                    visibility=self.visibility, presence=self.presence, detected=self.detected,
                    timestamps_ms=self.timestamps_ms, fps=np.float64(self.fps),
                    frame_size=np.asarray(self.frame_size, np.int64), source=np.str_(self.source),
                    model=np.str_(self.model), first_frame=np.int64(self.first_frame),
                    format_version=np.int64(FORMAT_VERSION))
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a cache is an ordinary file
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path) -> "PoseTrack":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in ARRAY_KEYS + META_KEYS if k not in data.files]
                if missing:
                    raise TrackError(f"{path} is not a landmark cache (missing {', '.join(missing)})")
                track = cls(
                    data["world_landmarks"].astype(np.float32), data["image_landmarks"].astype(np.float32),
                    data["visibility"].astype(np.float32), data["presence"].astype(np.float32),
                    data["detected"].astype(bool), data["timestamps_ms"].astype(np.int64),
                    float(data["fps"]), tuple(int(v) for v in data["frame_size"]), str(data["source"]),
                    str(data["model"]), int(data["first_frame"]) if "first_frame" in data.files else 0)
        except TrackError:
            raise
        except FileNotFoundError:
            raise TrackError(f"landmark cache not found: {path}") from None
        except Exception as exc:  # zip/pickle/shape errors: a corrupt or foreign file
            raise TrackError(f"{path} is not a readable landmark cache ({exc.__class__.__name__}: {exc})") from None
        return track.validate()
