"""Run the BlazePose GHUM landmarker (MediaPipe Tasks API, VIDEO mode) over a video → `PoseTrack`."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import Cancelled, CaptureError, ModelError, NoPersonError, VideoError
from .hands import HandTracker
from .models import DEFAULT_VARIANT, resolve_hand_model, resolve_model
from .native_log import quiet_native_logs, set_verbose  # noqa: F401  (set_verbose: for the front ends)
from .track import PoseTrack
from .video import VideoSource

ProgressFn = Callable[[int, int, float], None]  # (frames done, frames total, frames per second)


def to_rgb(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A decoded frame (BGR, or gray) → RGB (into `out` if given), the only format MediaPipe's
    landmarker takes (a gray image crashes inference)."""
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB if frame.ndim == 3 else cv2.COLOR_GRAY2RGB, dst=out)


# The system libraries MediaPipe's native library links against (OpenGL ES and EGL, even on CPU), with
# the packages that provide them.
SYSTEM_LIBRARIES = {"GLESv2": "libGLESv2", "EGL": "libEGL"}
INSTALL_HINT = ("Install them with your system's package manager: Debian/Ubuntu 'sudo apt install libgles2 "
                "libegl1', Fedora 'sudo dnf install mesa-libGLES mesa-libEGL', Arch 'sudo pacman -S "
                "libglvnd mesa'.")


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
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except OSError as exc:
            raise missing_library_error(exc) or CaptureError(f"Cannot load MediaPipe: {exc}") from None

        self.video = video
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

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._impl is not None:
                self._impl.close()
                self._impl = None
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
        presence (33,)) or None when nobody is found."""
        import mediapipe as mp

        ts = max(int(timestamp_ms), self._last_ts + 1)
        self._last_ts = ts
        frame = frame if rgb else to_rgb(frame)
        result = self._impl.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), ts)
        if not result.pose_landmarks:
            return None
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks[0]], np.float32)
        image = np.array([(p.x, p.y, p.z) for p in result.pose_landmarks[0]], np.float32)
        vis = np.array([p.visibility if p.visibility is not None else np.nan for p in result.pose_landmarks[0]],
                       np.float32)
        pres = np.array([p.presence if p.presence is not None else np.nan for p in result.pose_landmarks[0]],
                        np.float32)
        return world, image, vis, pres


def capture_video(video_path, model: str = DEFAULT_VARIANT, model_path=None, start: int | None = None,
                  stop: int | None = None, progress: ProgressFn | None = None,
                  should_cancel: Callable[[], bool] | None = None, keep_partial: bool = False,
                  require_person: bool = True, people_check_every: int = 60, hands: bool = False,
                  hand_model_path=None) -> PoseTrack:
    """Detect the person in video frames [start, stop) and return the track.

    Frames are streamed: only the landmark arrays grow with the clip length. If `should_cancel`
    returns True the capture stops; the partial track is returned when `keep_partial`, else Cancelled.
    One person is tracked; every `people_check_every` frames a second landmarker counts the people
    in view, and track.extra says how many were seen ('people_max') and whether the tracked person
    seems to change ('identity_jumps': frames where the body jumps across the image).
    hands: also both hands every frame (capture/hands.py; the track's hand arrays), with the bundled
    hand_landmarker.task or `hand_model_path`; track.extra['hands'] counts crops, hands found, rejected.
    """
    from .prefetch import FramePrefetch, core_pair, open_video, pinned  # speed: see capture/prefetch.py

    task = resolve_model(model, model_path)
    hand_task = resolve_hand_model(hand_model_path) if hands else None
    with open_video(video_path) as video:
        info = video.info
        first, last = video.resolve_range(start, stop)
        total = max(last - first, 0) if last else 0
        track = PoseTrack.empty(total, info.fps, (info.width, info.height), info.path,
                                Path(task).stem.replace("pose_landmarker_", "") if model_path is None
                                else str(task), first, hands=hands)
        done = 0
        stopped_early = False
        t0 = time.perf_counter()
        people_seen = []
        cores = core_pair()  # the landmarker on one core, the decoding on another (see core_pair)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_opencv_threads(1))  # decoding has a core; OpenCV's pool would take the model's
            counter = stack.enter_context(Landmarker(task, num_poses=2, video=False)) if people_check_every else None
            stack.enter_context(pinned(cores[0] if cores else None))
            landmarker = stack.enter_context(Landmarker(task))
            hand_tracker = stack.enter_context(HandTracker(hand_task)) if hands else None

            def count_people(index, rgb):  # in the decoding thread, beside the landmarker (see FramePrefetch)
                if counter is not None and (index - first) % people_check_every == 0:
                    people_seen.append(counter.count_people(rgb, rgb=True))

            frames = stack.enter_context(FramePrefetch(video, first, last, rgb=True, on_frame=count_people,
                                                       cpu=cores[1] if cores else None))
            for index, frame, container_ms in frames:
                if should_cancel is not None and should_cancel():
                    stopped_early = True
                    break
                row = index - first
                if row >= len(track):  # the container under-reported its length
                    track = _grow(track, max(row + 1, 2 * len(track)))
                ts = _frame_time_ms(container_ms, index, info.fps,
                                    track.timestamps_ms[row - 1] if row else -1)
                track.timestamps_ms[row] = ts
                found = landmarker.detect(frame, ts, rgb=True)
                if found is not None:
                    (track.world_landmarks[row], track.image_landmarks[row],
                     track.visibility[row], track.presence[row]) = found
                    track.detected[row] = True
                if hand_tracker is not None:
                    (track.hand_world_landmarks[row], track.hand_image_landmarks[row],
                     track.hand_presence[row]) = hand_tracker.detect(frame, ts, found)
                done = row + 1
                if progress is not None:
                    elapsed = time.perf_counter() - t0
                    progress(done, max(total, done), done / elapsed if elapsed > 0 else 0.0)
    if hands:
        track.extra["hands"] = {**hand_tracker.stats, "model": str(hand_task)}
    track = cut_track(track, done, total, first, last, info.path, stopped_early, keep_partial)
    return finish_track(track, done, info.path, stopped_early, people_seen, require_person)


def cut_track(track: PoseTrack, done: int, total: int, first: int, last, path: str, stopped_early: bool,
              keep_partial: bool) -> PoseTrack:
    """The end of a capture (one worker or several): cancelled without keeping, nothing decoded, a
    video shorter than it said (track.extra['truncated_at']); the track cut to the `done` rows."""
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


@contextlib.contextmanager
def _opencv_threads(count: int):
    """OpenCV's thread pool size for a while (restored after)."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def identity_jumps(track: PoseTrack, threshold: float = 0.15) -> int:
    """Consecutive detected frames whose body centre moves more than `threshold` of the frame: the
    tracker probably switched to someone else."""
    centre = np.mean(track.image_landmarks[:, 11:25, :2], axis=1)  # shoulders to hips; NaN: nobody
    ok = track.detected & np.isfinite(centre).all(axis=1)
    both = ok[1:] & ok[:-1]
    step = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    return int(np.sum(both & (step > threshold)))


def _frame_time_ms(container_ms: float, index: int, fps: float, previous: int) -> int:
    """The container's time for the frame (variable frame rate videos), else index / fps; always
    strictly after the previous frame's (MediaPipe's VIDEO mode requires it)."""
    if np.isfinite(container_ms) and container_ms >= 0 and (index == 0 or container_ms > 0):
        ts = int(round(container_ms))
    else:
        ts = int(round(index * 1000.0 / fps))
    return max(ts, previous + 1)


def _grow(track: PoseTrack, frames: int) -> PoseTrack:
    bigger = PoseTrack.empty(frames, track.fps, track.frame_size, track.source, track.model, track.first_frame,
                             hands=track.has_hands)
    n = len(track)
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms",
                *track.hand_arrays()):
        getattr(bigger, key)[:n] = getattr(track, key)
    return bigger
