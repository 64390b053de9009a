"""The face of the captured person, frame by frame (MediaPipe Tasks FaceLandmarker, `face_landmarker.task`).

The Tasks face detector is short-range: in a full-body frame the face is a few dozen pixels and is
missed. So, with a body in the frame, one VIDEO-mode landmarker sees a square crop around the body's
face points (BlazePose 0-10: nose, eyes, ears, mouth), resized to CROP_PIXELS: the face fills about
half of it, and while tracking holds the detector does not run (the crop moves with the body's head).
A face whose nose is far from the body's nose is not this person's: it is dropped and tracking reset.

Without a body (or with the body's face points missing: a face-only close-up), the same kind of
landmarker sees the full frame.

Output per frame: landmarks (478,3) normalised to the full frame like the body's image landmarks
(z: relative depth at x's scale), presence (1.0 where a face was found, the landmarker keeps a face
only above its presence threshold; NaN where none), and blendshapes (52,) when the model bundle
carries MediaPipe's blendshape model (a user-chosen face_landmarker.task), else None.

`resolve_face_model` finds the bundle: a user-chosen file wins, else the built/bundled one.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelError
from .models import check_task_file, search_dirs

FACE_MODEL = "face_landmarker.task"
FACE_BUNDLE_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite")
BLENDSHAPES_MEMBER = "face_blendshapes.tflite"
COUNT = 478
BLENDSHAPE_COUNT = 52  # MediaPipe's blendshape model: '_neutral' and 51 ARKit names
BODY_FACE_POINTS = tuple(range(11))  # BlazePose: nose, eyes (inner, centre, outer), ears, mouth corners
CROP_PIXELS = 256


def resolve_face_model(override: str | os.PathLike | None = None) -> Path:
    """The face landmarker `.task` to load: a user-chosen file wins, else the bundled/built one."""
    if override:
        return check_task_file(Path(override).expanduser(), FACE_BUNDLE_MEMBERS, "face_landmarker")
    for folder in search_dirs():
        candidate = folder / FACE_MODEL
        if candidate.exists():
            return check_task_file(candidate, FACE_BUNDLE_MEMBERS, "face_landmarker")
    where = ", ".join(str(d) for d in search_dirs())
    raise ModelError(f"Model file {FACE_MODEL} not found (looked in {where}). "
                     f"Run 'make models' or choose a face_landmarker .task file.")


def has_blendshapes(model_path) -> bool:
    """Whether the bundle carries MediaPipe's blendshape model (the built one does not)."""
    try:
        with zipfile.ZipFile(model_path) as zf:
            return BLENDSHAPES_MEMBER in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _body_points(body):
    """(image (33,3), presence (33,) or None) from Landmarker.detect's tuple, an image array, or None."""
    if body is None:
        return None, None
    if isinstance(body, (tuple, list)):
        return np.asarray(body[1], np.float64), np.asarray(body[3], np.float64)
    return np.asarray(body, np.float64), None


def face_crop(body_image: np.ndarray, width: int, height: int, presence=None,
              min_presence: float = 0.5) -> tuple[float, float, float] | None:
    """(x0, y0, side) in pixels of the square around the face placed from the body's image landmarks
    (33,3), or None when the face points are missing (or not present) or the square lies mostly outside
    the frame. The side is about twice the head's width (ear to ear; eyes and eye-to-mouth when the
    head is turned and the ears crowd together)."""
    pts = np.asarray(body_image, np.float64)[list(BODY_FACE_POINTS), :2] * [width, height]
    if not np.isfinite(pts).all():
        return None
    if presence is not None and np.nanmean(np.asarray(presence)[list(BODY_FACE_POINTS)]) < min_presence:
        return None
    nose, eyes, ears, mouth = pts[0], pts[[2, 5]], pts[[7, 8]], pts[[9, 10]]
    ear_span = float(np.linalg.norm(ears[0] - ears[1]))
    eye_span = float(np.linalg.norm(eyes[0] - eyes[1]))
    eye_mouth = float(np.linalg.norm(eyes.mean(axis=0) - mouth.mean(axis=0)))
    size = max(2.0 * ear_span, 3.5 * eye_span, 4.5 * eye_mouth, 48.0)
    centre = 0.5 * (nose + 0.5 * (eyes.mean(axis=0) + mouth.mean(axis=0)))   # between the eyes and the mouth
    x0, y0 = centre - size / 2
    if x0 + size < 0.25 * size or y0 + size < 0.25 * size or x0 > width - 0.25 * size or y0 > height - 0.25 * size:
        return None
    return float(x0), float(y0), float(size)


class FaceTracker:
    """The face of one person through a video: call `detect` on every frame, in order."""

    def __init__(self, model_path, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        self.model_path = Path(model_path)
        self.blendshapes = has_blendshapes(self.model_path)
        self.blendshape_names: tuple[str, ...] | None = None
        self._conf = (min_detection_confidence, min_presence_confidence, min_tracking_confidence)
        self._slots: list = [None, None]   # 0: crops placed from the body, 1: the full frame
        self._last_ts = [-1, -1]
        self.stats = {"crops": 0, "found": 0, "rejected": 0, "full_frame": 0}
        self._slots[0] = self._make()      # load the model now: a bad file fails before the capture starts

    def _make(self):
        from mediapipe.tasks.python import BaseOptions, vision

        det, pres, track = self._conf
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)), running_mode=vision.RunningMode.VIDEO,
            num_faces=1, min_face_detection_confidence=det, min_face_presence_confidence=pres,
            min_tracking_confidence=track, output_face_blendshapes=self.blendshapes)
        try:
            return vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:
            raise ModelError(f"Cannot load face model {self.model_path}: {exc}. Choose a valid face_landmarker "
                             f".task file or rebuild with 'make models'.") from None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for i in range(2):
            self._reset(i)

    def _reset(self, slot: int) -> None:
        if self._slots[slot] is not None:
            self._slots[slot].close()
            self._slots[slot] = None

    def _run(self, slot: int, image: np.ndarray, timestamp_ms: int):
        import mediapipe as mp

        if self._slots[slot] is None:
            self._slots[slot] = self._make()
        ts = max(int(timestamp_ms), self._last_ts[slot] + 1)
        self._last_ts[slot] = ts
        return self._slots[slot].detect_for_video(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)), ts)

    def _blendshapes(self, result) -> np.ndarray | None:
        if not self.blendshapes:
            return None
        if not result.face_blendshapes:
            return None
        cats = result.face_blendshapes[0]
        if self.blendshape_names is None:
            self.blendshape_names = tuple(c.category_name for c in cats)
        return np.array([c.score for c in cats], np.float32)

    def detect(self, frame: np.ndarray, timestamp_ms: int, body_image_landmarks=None):
        """One RGB frame and the body found in it (its image landmarks (33,3), or Landmarker.detect's
        (world, image, visibility, presence) tuple, or None) → (landmarks (478,3) normalised to the full
        frame, presence (float, NaN where no face), blendshapes (52,) or None)."""
        landmarks = np.full((COUNT, 3), np.nan, np.float32)
        height, width = frame.shape[:2]
        image, presence = _body_points(body_image_landmarks)
        crop = face_crop(image, width, height, presence) if image is not None else None
        if crop is None:
            self.stats["full_frame"] += 1
            result = self._run(1, frame, timestamp_ms)
            if not result.face_landmarks:
                return landmarks, np.nan, None
            pts = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0]], np.float32)
            self.stats["found"] += 1
            landmarks[:len(pts)] = pts[:COUNT]
            return landmarks, 1.0, self._blendshapes(result)
        import cv2

        x0, y0, size = crop
        s = CROP_PIXELS / size
        warp = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
        patch = cv2.warpAffine(frame, warp, (CROP_PIXELS, CROP_PIXELS), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)
        self.stats["crops"] += 1
        result = self._run(0, patch, timestamp_ms)
        if not result.face_landmarks:
            return landmarks, np.nan, None
        pts = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0]], np.float64)[:COUNT]
        px = np.column_stack([x0 + pts[:, 0] * size, y0 + pts[:, 1] * size])
        body_nose = image[0, :2] * [width, height]
        if np.linalg.norm(px[1] - body_nose) > 0.35 * size:   # another face in the crop, not this body's
            self.stats["rejected"] += 1
            self._reset(0)
            return landmarks, np.nan, None
        self.stats["found"] += 1
        landmarks[:len(pts)] = np.column_stack([px[:, 0] / width, px[:, 1] / height, pts[:, 2] * size / width])
        return landmarks, 1.0, self._blendshapes(result)
