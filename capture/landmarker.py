"""The BlazePose GHUM pose landmarker (MediaPipe Tasks API): one frame in, 33 landmarks out.

`Landmarker` wraps MediaPipe's PoseLandmarker (VIDEO mode, timestamps made strictly increasing; or
IMAGE mode to count the people in a frame), hides MediaPipe's native log lines while it exists, and
turns a failure to start into a CaptureError/ModelError that says what to do. The loop over a
video's frames is capture/segment.py.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

from .errors import CaptureError, ModelError
from .native_log import quiet_native_logs
from .video import to_rgb

# The system libraries MediaPipe's native library links against (OpenGL ES and EGL, even on CPU), with
# the packages that provide them.
SYSTEM_LIBRARIES = {"GLESv2": "libGLESv2", "EGL": "libEGL"}
INSTALL_HINT = ("Install them with your system's package manager: Debian/Ubuntu 'sudo apt install libgles2 "
                "libegl1', Fedora 'sudo dnf install mesa-libGLES mesa-libEGL', Arch 'sudo pacman -S "
                "libglvnd mesa'.")


# keep_warm(): closed IMAGE-mode landmarkers kept for the next one with the same model and settings.
_WARM: dict | None = None
_WARM_LOCK = threading.Lock()


def keep_warm(on: bool = True) -> None:
    """In this process, keep IMAGE-mode landmarkers when closed and hand them to the next one made with
    the same model file (path, size, mtime) and settings: a batch worker process counts people in each
    video's frames without loading the model again per video (~0.13 s CPU each). IMAGE mode is
    stateless (each frame is detected on its own), so the results are the same. VIDEO mode never is
    kept: it tracks from frame to frame, so each video needs a fresh one."""
    global _WARM
    with _WARM_LOCK:
        if on:
            _WARM = {} if _WARM is None else _WARM
            return
        kept, _WARM = _WARM, None
    for impls in (kept or {}).values():
        for impl in impls:
            impl.close()


def _warm_key(model_path, min_detection_confidence, min_tracking_confidence, num_poses):
    st = os.stat(model_path)
    return (os.path.abspath(model_path), st.st_size, st.st_mtime_ns, float(min_detection_confidence),
            float(min_tracking_confidence), int(num_poses))


def missing_library_error(exc: BaseException) -> CaptureError | None:
    """A CaptureError naming the missing system library when MediaPipe's native library failed to load
    for lack of libGLESv2 / libEGL (the OSError of its loader, or an error mentioning them); else None."""
    import re

    text = str(exc)
    named = sorted(set(re.findall(r"lib(?:GLESv2|EGL|GLdispatch|GL)\b[\w.]*", text)))
    if not named and isinstance(exc, OSError) and "cannot open shared object" in text:
        import ctypes.util

        named = [lib for name, lib in SYSTEM_LIBRARIES.items() if ctypes.util.find_library(name) is None]
    if not named:
        return None
    return CaptureError(f"MediaPipe cannot start: the system library {' and '.join(named)} is missing "
                        f"({text.strip()}). It is needed even without a GPU. {INSTALL_HINT}")


class Landmarker:
    """One MediaPipe PoseLandmarker in VIDEO mode. Timestamps must increase strictly: we ensure it."""

    def __init__(self, model_path: Path, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, num_poses: int = 1, video: bool = True):
        self._impl = None
        self._warm_key = None
        # MediaPipe's native log lines are hidden while the landmarker exists (see native_log.py).
        self._quiet = contextlib.ExitStack()
        self._quiet.enter_context(quiet_native_logs())
        try:
            self._create(model_path, min_detection_confidence, min_tracking_confidence, num_poses, video)
        except BaseException:
            self._quiet.close()
            raise
        self._last_ts = -1

    def _create(self, model_path, min_detection_confidence, min_tracking_confidence, num_poses, video) -> None:
        self.num_poses = int(num_poses)
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except OSError as exc:
            raise missing_library_error(exc) or CaptureError(f"Cannot load MediaPipe: {exc}") from None

        self.video = video
        if not video and _WARM is not None:
            try:
                key = _warm_key(model_path, min_detection_confidence, min_tracking_confidence, num_poses)
            except OSError:
                key = None  # the model cannot be read: the error comes from MediaPipe below
            with _WARM_LOCK:
                kept = _WARM.get(key) if _WARM is not None and key is not None else None
                if kept:
                    self._impl, self._warm_key = kept.pop(), key
                    return
            self._warm_key = key
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE, num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        try:
            self._impl = vision.PoseLandmarker.create_from_options(options)
        except Exception as exc:
            missing = missing_library_error(exc)
            if missing is not None:
                raise missing from None
            raise ModelError(f"Cannot load model {model_path}: {exc}. Choose a valid pose_landmarker .task "
                             f"file or rebuild with 'make models'.") from None

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._impl is not None:
                impl, self._impl = self._impl, None
                with _WARM_LOCK:
                    if self._warm_key is not None and _WARM is not None:
                        _WARM.setdefault(self._warm_key, []).append(impl)
                        impl = None
                if impl is not None:
                    impl.close()
        finally:
            self._quiet.close()

    def count_people(self, frame: np.ndarray, rgb: bool = False) -> int:
        """How many people an IMAGE-mode landmarker (num_poses > 1) finds in one frame (BGR, or RGB
        when `rgb`)."""
        import mediapipe as mp

        frame = frame if rgb else to_rgb(frame)
        return len(self._impl.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)).pose_landmarks)

    def detect(self, frame: np.ndarray, timestamp_ms: int, rgb: bool = False):
        """One frame (BGR, or RGB when `rgb`) → (world (33,3), image (33,3), visibility (33,),
        presence (33,)) or None when nobody is found (the first pose MediaPipe returns)."""
        poses = self.detect_all(frame, timestamp_ms, rgb)
        if poses is None:
            return None
        return tuple(a[0] for a in poses)

    def detect_all(self, frame: np.ndarray, timestamp_ms: int, rgb: bool = False):
        """One frame → every pose found (K ≤ num_poses, MediaPipe's order: not an identity) as arrays
        (world (K,33,3), image (K,33,3), visibility (K,33), presence (K,33)), or None when nobody is found.
        VIDEO mode: timestamps made strictly increasing; IMAGE mode: the timestamp is not used."""
        import mediapipe as mp

        frame = frame if rgb else to_rgb(frame)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
        if self.video:
            ts = max(int(timestamp_ms), self._last_ts + 1)
            self._last_ts = ts
            result = self._impl.detect_for_video(image, ts)
        else:
            result = self._impl.detect(image)
        if not result.pose_landmarks:
            return None
        world = np.array([[(p.x, p.y, p.z) for p in pose] for pose in result.pose_world_landmarks], np.float32)
        img = np.array([[(p.x, p.y, p.z) for p in pose] for pose in result.pose_landmarks], np.float32)
        vis = np.array([[p.visibility if p.visibility is not None else np.nan for p in pose]
                        for pose in result.pose_landmarks], np.float32)
        pres = np.array([[p.presence if p.presence is not None else np.nan for p in pose]
                         for pose in result.pose_landmarks], np.float32)
        return world, img, vis, pres
