"""A capture running in the background: a worker thread, progress, ETA, cancel. No bpy.

The Blender operator polls a job from a timer on the main thread, so Blender stays responsive; the
headless command may run the same job and wait.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import Cancelled, MocapError
from .parallel import capture_parallel
from .people import person_path, split_people
from .track import PoseTrack


@dataclass
class CaptureRequest:
    video: str
    model: str = "full"
    model_path: str | None = None
    start: int | None = None
    stop: int | None = None
    cache_path: str | None = None      # where to save the landmark cache when done
    keep_partial: bool = False         # on cancel, keep (and save) what was captured
    workers: int = 1                   # worker processes (1: in this process; 0: usable cores)
    min_frames_per_worker: int | None = None  # None: capture.parallel's default
    hands: bool = False                # both hands every frame too (the track's hand arrays)
    hand_model_path: str | None = None  # a hand_landmarker .task; None: the bundled one
    face: bool = False                 # the face every frame too (the track's face arrays)
    face_model_path: str | None = None  # a face_landmarker .task; None: the bundled one
    people: int = 1                    # 1: one person followed; N > 1: up to N people, one track each
    person: int | None = None          # people = 1: which person to follow (1-based; None: the most prominent)
    finalize: Callable[[PoseTrack], PoseTrack | None] | None = None  # run on each track before it is saved


@dataclass
class CaptureStatus:
    done: int = 0
    total: int = 0
    fps: float = 0.0
    running: bool = False
    track: PoseTrack | None = None
    tracks: list[PoseTrack] | None = None   # one per person (people > 1: ordered by number; else [track])
    error: Exception | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def eta_s(self) -> float:
        return (self.total - self.done) / self.fps if self.fps > 0 else float("nan")

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, Cancelled) or bool(self.track is not None and self.track.extra.get("cancelled"))


class CaptureJob:
    """One capture: run blocking (`run()`, the command) or in a thread (`start()`, the panel)."""

    def __init__(self, request: CaptureRequest, progress=None):
        self.request = request
        self.status = CaptureStatus()
        self._cancel = threading.Event()
        self._cancel_when = None
        self._thread: threading.Thread | None = None
        self._on_progress = progress

    def start(self) -> CaptureJob:
        self.status.running = True
        self._thread = threading.Thread(target=self.run, daemon=True, name="mocap-capture")
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def cancel_when(self, should_cancel) -> None:
        """Also stop when should_cancel() returns True (polled between frames)."""
        self._cancel_when = should_cancel

    def _cancelled(self) -> bool:
        if self._cancel_when is not None and self._cancel_when():
            self._cancel.set()
        return self._cancel.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> CaptureStatus:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    def _progress(self, done: int, total: int, fps: float) -> None:
        self.status.done, self.status.total, self.status.fps = done, total, fps
        if self._on_progress is not None:
            self._on_progress(done, total, fps)

    def run(self) -> CaptureStatus:
        """The work itself (in the worker thread, or called directly to run blocking)."""
        r, st = self.request, self.status
        st.running = True
        try:
            # One frame loop for every front end: capture_parallel is capture_video with one worker.
            track = capture_parallel(r.video, r.model, r.model_path, r.start, r.stop, workers=r.workers or None,
                                     progress=self._progress, should_cancel=self._cancelled,
                                     keep_partial=r.keep_partial, hands=r.hands, hand_model_path=r.hand_model_path,
                                     face=r.face, face_model_path=r.face_model_path, people=r.people,
                                     person=r.person if r.people <= 1 else None,
                                     **({"min_frames_per_worker": r.min_frames_per_worker}
                                        if r.min_frames_per_worker else {}))
            tracks = split_people(track) if r.people > 1 else [track]
            if r.finalize is not None:
                tracks = [r.finalize(t) or t for t in tracks]
            if r.cache_path:
                for t in tracks:
                    t.save(person_path(r.cache_path, t.extra["person"]) if r.people > 1 else r.cache_path)
            st.track, st.tracks = tracks[0], tracks
        except MocapError as exc:
            st.error = exc
        except OSError as exc:  # e.g. the cache folder became unwritable: one message, not a traceback
            st.error = MocapError(f"Cannot write {r.cache_path}: {exc.strerror or exc}")
        except Exception as exc:  # a thread must never die silently: the main thread reports it
            st.error = exc
        finally:
            st.running = False
        return st
