"""Live preview in Blender: the runtime state of a scene's live session (Python memory, like jobs.py:
never saved in the .blend) and the pose set on the armature each tick. No keyframes are written.

    begin(scene, live, obj)   # live: capture.live.LiveCapture whose on_result returns live.LivePose
    tick(scene)               # each timer tick on the main thread: set the newest pose; False once it ended
    end(scene)                # stop the threads; the armature gets back the pose it had before

The heavy work (detection, filtering, solving) happens in the landmarker and poser threads; a tick only copies a
few dozen rotations into pose bones (well under a millisecond).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import bpy

from .jobs import SceneStates

# Timer interval while live: a new pose is set at most this long after it is ready (half of it on
# average). A tick without a new pose only compares a sequence number (microseconds), so a short
# interval costs the main thread nothing noticeable; Blender's event loop itself wakes about every 5 ms.
TICK_S = 0.005
STATUS_EVERY_S = 0.25   # how often the status line (fps, latency) is refreshed


@dataclass
class LiveState:
    live: object = None                  # capture.live.LiveCapture
    obj_name: str = ""
    last_seq: int = 0
    poses_set: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=5000))  # ms, arrival → bones set
    solve_ms: deque = field(default_factory=lambda: deque(maxlen=5000))
    # ms per pose set: (waiting for the landmarker, detection, landmarks → pose ready, pose ready → set)
    stages: deque = field(default_factory=lambda: deque(maxlen=5000))
    saved_pose: dict = field(default_factory=dict)  # bone → (rotation_mode, quaternion, euler, axis_angle, location)
    status: str = ""
    fps: float = 0.0
    latency_ms: float = 0.0
    dropped: int = 0
    recorded: int = 0
    max_tick_ms: float = 0.0
    redraw: bool = False                 # a pose was set or the status changed since the viewport was redrawn
    _status_at: float = 0.0

    @property
    def is_live(self) -> bool:
        return self.live is not None

    @property
    def recording(self) -> bool:
        return self.live is not None and self.live.recording


_states = SceneStates(LiveState)
state = _states.state
peek = _states.peek


def running(scene):
    return peek(scene).live


def _save_pose(obj, bones) -> dict:
    saved = {}
    for name in bones:
        pb = obj.pose.bones.get(name)
        if pb is not None:
            saved[name] = (pb.rotation_mode, tuple(pb.rotation_quaternion), tuple(pb.rotation_euler),
                           tuple(pb.rotation_axis_angle), tuple(pb.location))
    return saved


def _restore_pose(obj, saved: dict) -> None:
    for name, (_mode, quat, euler, axis_angle, location) in saved.items():
        pb = obj.pose.bones.get(name)
        if pb is not None:
            pb.rotation_quaternion, pb.rotation_euler = quat, euler
            pb.rotation_axis_angle, pb.location = axis_angle, location


def begin(scene, live, obj) -> LiveState:
    """Make `live` the scene's session posing `obj` (its bones' current pose is remembered)."""
    bones = [b.name for b in obj.pose.bones]  # the solver also poses bones between mapped ones (spine)
    st = state(scene)
    st.live, st.obj_name, st.last_seq, st.poses_set = live, obj.name, 0, 0
    st.latencies.clear()
    st.solve_ms.clear()
    st.stages.clear()
    st.saved_pose = _save_pose(obj, bones)
    st.status, st.max_tick_ms = f"Live: {live.source.name}", 0.0
    return st


def set_pose(obj, pose) -> int:
    """Set the pose's local rotations (w, x, y, z) in each bone's own rotation mode, and its locations.
    Returns the number of bones set. Never keys anything."""
    from mathutils import Quaternion

    bones = obj.pose.bones
    count = 0
    for name, q in pose.rotations.items():
        pb = bones.get(name)
        if pb is None:
            continue
        mode = pb.rotation_mode
        if mode == "QUATERNION":
            pb.rotation_quaternion = q
        elif mode == "AXIS_ANGLE":
            axis, angle = Quaternion(q).to_axis_angle()
            pb.rotation_axis_angle = (angle, *axis)
        else:
            pb.rotation_euler = Quaternion(q).to_euler(mode, pb.rotation_euler)
        count += 1
    for name, loc in pose.locations.items():
        pb = bones.get(name)
        if pb is not None:
            pb.location = loc
    return count


def tick(scene) -> bool:
    """One main-thread step: set the newest pose (if there is a new one), refresh the status figures.
    False when the session has ended (the source stopped, or the landmarker failed): the caller ends it."""
    t0 = time.perf_counter()
    st = peek(scene)
    live = st.live
    if live is None:
        return False
    obj = bpy.data.objects.get(st.obj_name)
    if obj is None or obj.type != "ARMATURE":
        return False
    result = live.latest()
    if result is not None and result.seq != st.last_seq:
        st.last_seq = result.seq
        if result.pose is not None:
            set_pose(obj, result.pose)
            st.poses_set += 1
            now = time.perf_counter()
            st.latencies.append(1000.0 * (now - result.arrival))
            st.stages.append((1000.0 * (result.started - result.arrival), 1000.0 * (result.done - result.started),
                              1000.0 * (result.posed - result.done), 1000.0 * (now - result.posed)))
            st.solve_ms.append(result.pose.solve_ms)
            st.redraw = True
    if t0 - st._status_at >= STATUS_EVERY_S:
        st._status_at = t0
        figures = live.stats()
        st.fps, st.dropped, st.recorded = figures["fps"], figures["dropped"], figures["recorded"]
        recent = list(st.latencies)[-60:]
        st.latency_ms = sorted(recent)[len(recent) // 2] if recent else 0.0
        st.status = (f"{st.fps:.1f} fps · {st.latency_ms:.0f} ms · dropped {st.dropped}"
                     + (f" · REC {st.recorded} frames" if live.recording else ""))
        st.redraw = True
    st.max_tick_ms = max(st.max_tick_ms, 1000.0 * (time.perf_counter() - t0))
    return live.is_alive()


def end(scene, restore: bool = True) -> object:
    """Stop the scene's live session; the armature gets back its earlier pose (restore). Returns the
    stopped LiveCapture (its recorded frames are still there: `take()`), or None."""
    st = _states.pop(scene)
    if st is None or st.live is None:
        return None
    st.live.stop()
    obj = bpy.data.objects.get(st.obj_name)
    if restore and obj is not None:
        _restore_pose(obj, st.saved_pose)
    return st.live


def end_all() -> None:
    """Stop every live session (a file is being opened, or the extension unregistered)."""
    for st in _states.values():
        if st.live is not None:
            st.live.stop()
    _states.clear()
