"""`PoseTrack`: the landmark track of one capture, and its on-disk cache (`.npz`, written atomically)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TrackError
from .landmarks import COUNT

FORMAT_VERSION = 3  # 2: optional hand arrays (HAND_KEYS); 3: optional face arrays (FACE_KEYS, FACE_EXPRESSION_KEYS);
# version 1 and 2 caches load without hands / face
ARRAY_KEYS = ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms")
HAND_KEYS = ("hand_world_landmarks", "hand_image_landmarks", "hand_presence")
HAND_COUNT = 21  # MediaPipe's hand landmarks (capture/hands.py NAMES)
FACE_KEYS = ("face_landmarks", "face_presence")
FACE_EXPRESSION_KEYS = ("face_expressions", "face_expression_names")
PEOPLE_KEYS = ("people_world", "people_image", "people_visibility", "people_presence")  # capture only, never saved
FACE_COUNTS = (478, 468)  # MediaPipe's face mesh with / without the 10 iris points
META_KEYS = ("fps", "frame_size", "source", "model")


@dataclass
class PoseTrack:
    """Per processed video frame t: 33 landmarks, NaN where no person was found.

    world_landmarks  (T,33,3) metres, MediaPipe's hip-centred axes (x right, y down, z away from camera)
    image_landmarks  (T,33,3) x, y normalised to the (rotated) frame, z relative depth
    visibility, presence (T,33)
    detected (T,) bool; timestamps_ms (T,) int64, time of each frame in the source video
    first_frame: video frame index of row 0 (output frame i is video frame first_frame + i)

    Hands (all three None when the capture had no hands, or the cache is older); index 0 = the
    person's left hand, 1 = the right; MediaPipe's 21-point order; NaN where no hand was found:
    hand_world_landmarks (T,2,21,3) metres, MediaPipe's hand world landmarks (origin: the hand's centre)
    hand_image_landmarks (T,2,21,3) normalised like image_landmarks (z relative depth, x's scale)
    hand_presence        (T,2) 0-1: the hand landmarker's score of the found hand (its handedness score: the
                         Tasks API gives no presence score; a hand is kept only above its presence threshold, 0.5);
                         NaN where no hand was found

    Face (None when the capture had no face, or the cache is older); NaN where no face was found:
    face_landmarks   (T,478,3) or (T,468,3) normalised like image_landmarks (z relative depth, x's scale),
                     MediaPipe's face mesh order (478: with the irises)
    face_presence    (T,) 1.0 where a face was found (the landmarker keeps a face only above its presence
                     threshold), NaN where not
    face_expressions (T,K) 0-1 weights under ARKit blendshape names (motion/face.py from the landmarks'
                     geometry, or the bundle's blendshape model's scores), with face_expression_names (K,);
                     None until computed (both or neither)

    Every pose of every frame, only while capturing (capture/segment.py; split into people by
    capture/people.py `follow_person` / `split_people`; never saved in the cache), None otherwise:
    people_world, people_image (T,K,33,3), people_visibility, people_presence (T,K,33); K = the most poses
    a frame may hold, in MediaPipe's order (not an identity), NaN where fewer were found
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
    hand_world_landmarks: np.ndarray | None = None
    hand_image_landmarks: np.ndarray | None = None
    hand_presence: np.ndarray | None = None
    face_landmarks: np.ndarray | None = None
    face_presence: np.ndarray | None = None
    face_expressions: np.ndarray | None = None
    face_expression_names: tuple | None = None
    people_world: np.ndarray | None = None
    people_image: np.ndarray | None = None
    people_visibility: np.ndarray | None = None
    people_presence: np.ndarray | None = None

    @classmethod
    def empty(cls, frames: int, fps: float, frame_size, source="", model="", first_frame=0,
              hands: bool = False, face: bool = False, face_count: int = FACE_COUNTS[0], people: int = 0) -> PoseTrack:
        nan3 = np.full((frames, COUNT, 3), np.nan, dtype=np.float32)
        nan1 = np.full((frames, COUNT), np.nan, dtype=np.float32)
        track = cls(nan3, nan3.copy(), nan1, nan1.copy(), np.zeros(frames, bool),
                    np.zeros(frames, np.int64), float(fps), tuple(int(v) for v in frame_size),
                    str(source), str(model), int(first_frame))
        if hands:
            track.hand_world_landmarks = np.full((frames, 2, HAND_COUNT, 3), np.nan, np.float32)
            track.hand_image_landmarks = track.hand_world_landmarks.copy()
            track.hand_presence = np.full((frames, 2), np.nan, np.float32)
        if face:
            track.face_landmarks = np.full((frames, int(face_count), 3), np.nan, np.float32)
            track.face_presence = np.full(frames, np.nan, np.float32)
        if people:
            track.people_world = np.full((frames, int(people), COUNT, 3), np.nan, np.float32)
            track.people_image = track.people_world.copy()
            track.people_visibility = np.full((frames, int(people), COUNT), np.nan, np.float32)
            track.people_presence = track.people_visibility.copy()
        return track

    @property
    def has_people(self) -> bool:
        """Whether the track holds every pose of every frame (a capture's, before the split into people)."""
        return self.people_world is not None

    def people_arrays(self) -> dict:
        """{key: array} of the capture's every-pose arrays, empty when the track has none."""
        return {key: getattr(self, key) for key in PEOPLE_KEYS} if self.has_people else {}

    @property
    def has_hands(self) -> bool:
        return self.hand_world_landmarks is not None

    def hand_arrays(self) -> dict:
        """{key: array} of the hand arrays, empty when the track has none."""
        return {key: getattr(self, key) for key in HAND_KEYS} if self.has_hands else {}

    @property
    def has_face(self) -> bool:
        return self.face_landmarks is not None

    def face_arrays(self) -> dict:
        """{key: array} of the face arrays present (landmarks, presence; expressions and names when
        computed), empty when the track has no face. Names as a numpy str array."""
        if not self.has_face:
            return {}
        out = {key: getattr(self, key) for key in FACE_KEYS}
        if self.face_expressions is not None:
            out["face_expressions"] = self.face_expressions
            out["face_expression_names"] = np.asarray(self.face_expression_names, dtype=np.str_)
        return out

    def _face_rows(self, start: int, stop: int) -> dict:
        out = {key: getattr(self, key)[start:stop] for key in FACE_KEYS} if self.has_face else {}
        if self.face_expressions is not None:
            out["face_expressions"] = self.face_expressions[start:stop]
            out["face_expression_names"] = self.face_expression_names
        return out

    def __len__(self) -> int:
        return len(self.detected)

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self) else 0.0

    def validate(self) -> PoseTrack:
        t = len(self.detected)
        shapes = {"world_landmarks": (t, COUNT, 3), "image_landmarks": (t, COUNT, 3),
                  "visibility": (t, COUNT), "presence": (t, COUNT), "timestamps_ms": (t,)}
        for key, shape in shapes.items():
            if np.shape(getattr(self, key)) != shape:
                raise TrackError(f"'{key}' has shape {np.shape(getattr(self, key))}, expected {shape}")
        hands = [getattr(self, key) is not None for key in HAND_KEYS]
        if any(hands) and not all(hands):
            raise TrackError("the hand arrays must be all present or all absent")
        hand_shapes = {"hand_world_landmarks": (t, 2, HAND_COUNT, 3), "hand_image_landmarks": (t, 2, HAND_COUNT, 3),
                       "hand_presence": (t, 2)}
        for key, array in self.hand_arrays().items():
            if np.shape(array) != hand_shapes[key]:
                raise TrackError(f"'{key}' has shape {np.shape(array)}, expected {hand_shapes[key]}")
        face = [getattr(self, key) is not None for key in FACE_KEYS]
        if any(face) and not all(face):
            raise TrackError("the face arrays must be all present or all absent")
        expr = [getattr(self, key) is not None for key in FACE_EXPRESSION_KEYS]
        if any(expr) and not all(expr):
            raise TrackError("face_expressions and face_expression_names must be both present or both absent")
        if all(expr) and not self.has_face:
            raise TrackError("face_expressions need the face landmarks")
        if self.has_face:
            shape = np.shape(self.face_landmarks)
            if len(shape) != 3 or shape[0] != t or shape[1] not in FACE_COUNTS or shape[2] != 3:
                raise TrackError(f"'face_landmarks' has shape {shape}, expected ({t}, 478 or 468, 3)")
            if np.shape(self.face_presence) != (t,):
                raise TrackError(f"'face_presence' has shape {np.shape(self.face_presence)}, expected ({t},)")
        if all(expr):
            k = len(self.face_expression_names)
            if np.shape(self.face_expressions) != (t, k):
                raise TrackError(f"'face_expressions' has shape {np.shape(self.face_expressions)}, "
                                 f"expected ({t}, {k})")
        if not (self.fps > 0):
            raise TrackError(f"fps must be positive, got {self.fps}")
        return self

    def sliced(self, start: int, stop: int) -> PoseTrack:
        return PoseTrack(self.world_landmarks[start:stop], self.image_landmarks[start:stop],
                         self.visibility[start:stop], self.presence[start:stop], self.detected[start:stop],
                         self.timestamps_ms[start:stop], self.fps, self.frame_size, self.source,
                         self.model, self.first_frame + start,
                         **{key: array[start:stop] for key, array in self.hand_arrays().items()},
                         **self._face_rows(start, stop),
                         **{key: array[start:stop] for key, array in self.people_arrays().items()})

    def video_range(self, start: int | None, stop: int | None, name: str | None = None) -> PoseTrack:
        """The rows of VIDEO frames start (inclusive) to stop (exclusive), as `--frames A:B` means them
        (None: from the cache's first frame / to its end; 0 is frame 0, not "unset"). A stop past the
        cache's end is clamped, like a video's; a range that starts outside the cache, ends before it
        or is empty raises TrackError. name: how to call the cache in messages (default: from source)."""
        first, count = int(self.first_frame), len(self)
        last = first + count - 1
        label = name or (f"the landmark cache of {Path(self.source).name}" if self.source else "the landmark cache")
        held = (f"{label} has only {count} frames ({first}..{last})" if count
                else f"{label} has no frames")
        for value, what in ((start, "start"), (stop, "end")):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 0):
                raise TrackError(f"Frame range {what} {value!r} must be a whole number, 0 or more.")
        if start is not None and stop is not None and stop <= start:
            raise TrackError(f"Frame range {start}:{stop} is empty: the end must be after the start.")
        begin = first if start is None else int(start)
        end = first + count if stop is None else min(int(stop), first + count)
        if not count or begin < first or begin > last:
            choose = f"Choose a start from {first} to {last}." if count else "Capture the video again."
            raise TrackError(f"Frame range starts at {begin} but {held}. {choose}")
        if end <= begin:
            raise TrackError(f"Frame range ends at {stop} but {held}. Choose an end above {first}.")
        return self.sliced(begin - first, end - first)

    def save(self, path) -> Path:
        """Write the cache atomically: a temporary file in the same folder, then a rename."""
        self.validate()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Compressed in memory, then one plain write: a full disk fails that write (and no zip writer is
        # left half-closed to complain later).
        import io

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, world_landmarks=self.world_landmarks, image_landmarks=self.image_landmarks,
            visibility=self.visibility, presence=self.presence, detected=self.detected,
            timestamps_ms=self.timestamps_ms, fps=np.float64(self.fps),
            frame_size=np.asarray(self.frame_size, np.int64), source=np.str_(self.source),
            model=np.str_(self.model), first_frame=np.int64(self.first_frame),
            format_version=np.int64(FORMAT_VERSION), **self.hand_arrays(), **self.face_arrays())
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buffer.getbuffer())
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a cache is an ordinary file
            os.replace(tmp, path)
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                from .errors import ExportError

                raise ExportError(f"Cannot write {path}: {exc.strerror or exc} (is the disk full?). The "
                                  f"file there before, if any, is unchanged. Free some space or choose "
                                  f"another folder.") from None
            raise
        return path

    @classmethod
    def load(cls, path) -> PoseTrack:
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
                if all(key in data.files for key in HAND_KEYS):  # format 2 with hands
                    for key in HAND_KEYS:
                        setattr(track, key, data[key].astype(np.float32))
                if all(key in data.files for key in FACE_KEYS):  # format 3 with a face
                    for key in FACE_KEYS:
                        setattr(track, key, data[key].astype(np.float32))
                    if all(key in data.files for key in FACE_EXPRESSION_KEYS):
                        track.face_expressions = data["face_expressions"].astype(np.float32)
                        track.face_expression_names = tuple(str(n) for n in data["face_expression_names"])
        except TrackError:
            raise
        except FileNotFoundError:
            raise TrackError(f"landmark cache not found: {path}") from None
        except Exception as exc:  # zip/pickle/shape errors: a corrupt or foreign file
            raise TrackError(f"{path} is not a readable landmark cache ({exc.__class__.__name__}: {exc})") from None
        return track.validate()
