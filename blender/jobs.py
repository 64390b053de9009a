"""Runtime state of captures (running job, progress, status line), kept in Python, never in the .blend.

A Scene property is saved with the file whatever its options (SKIP_SAVE only affects operator
properties): a file saved during a capture would reopen 'capturing' and refuse to capture again. The
registry is keyed by the scene's session_uid, which is new for every loaded file; opening a file (or
unregistering) cancels whatever still runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..capture.job import CaptureJob


@dataclass
class CaptureState:
    job: CaptureJob | None = None
    progress: float = 0.0
    status: str = ""

    @property
    def is_capturing(self) -> bool:
        return self.job is not None


class SceneStates:
    """Runtime state per scene, kept in Python and keyed by the scene's session_uid (new for every
    loaded file): the captures' here, the live sessions' in blender/live.py."""

    def __init__(self, make):
        self._make = make
        self._by_scene: dict = {}

    def state(self, scene):
        """The scene's state (created empty on first use)."""
        return self._by_scene.setdefault(scene.session_uid, self._make())

    def peek(self, scene):
        """The scene's state without creating one (drawing must not write)."""
        return self._by_scene.get(scene.session_uid) or self._make()

    def pop(self, scene):
        return self._by_scene.pop(scene.session_uid, None)

    def values(self) -> list:
        return list(self._by_scene.values())

    def clear(self) -> None:
        self._by_scene.clear()


_states = SceneStates(CaptureState)
state = _states.state
peek = _states.peek


def begin(scene, job: CaptureJob) -> CaptureState:
    st = state(scene)
    st.job, st.progress, st.status = job, 0.0, "Starting…"
    return st


def end(scene, status: str, progress: float | None = None) -> None:
    st = state(scene)
    st.job, st.status = None, status
    if progress is not None:
        st.progress = progress


def running(scene) -> CaptureJob | None:
    return peek(scene).job


def cancel(scene) -> bool:
    """Ask the scene's running capture to stop (the modal operator then finishes it). False if none."""
    job = running(scene)
    if job is None:
        return False
    job.cancel()
    st = state(scene)
    st.status = "Cancelling…"
    return True


def cancel_all() -> None:
    """Stop every capture and forget all state (a file is being opened, or the extension unregistered)."""
    for st in _states.values():
        if st.job is not None:
            st.job.cancel()
    _states.clear()
