"""Live: the armature follows a camera or stream in the viewport; Record writes a take.

Start opens the source and loads the model (the only moments the main thread waits), then a timer sets
the newest pose every tick (blender/live.py); detection and solving run in a thread. Esc or Stop ends it;
a take being recorded is kept whatever ends the session (Stop, Esc, the stream dropping).
"""
from __future__ import annotations

import functools
import time

import bpy

from .. import live as live_mod
from ..blender import jobs
from ..blender import live as blender_live
from ..blender.apply import check_target, choose_bone_map
from ..blender.armature import read_rest_pose
from ..blender.scene import cache_folder, model_override, rig_choice, settings_of, target_armature
from ..capture.errors import MocapError
from ..capture.live import LiveCapture
from .capture import add_take
from .common import redraw_view3d, reports_errors


def _scene_by_uid(uid: int):
    return next((s for s in bpy.data.scenes if s.session_uid == uid), None)


def start_session(context):
    """Open the panel's live source and start posing the target armature (raises MocapError)."""
    settings = settings_of(context)
    obj = target_armature(context)
    check_target(obj)
    _, bone_map = choose_bone_map(obj, rig_choice(settings))
    poser = live_mod.LivePoser(read_rest_pose(obj), bone_map,
                               smoothing="one_euro" if settings.live_filter else "none",
                               root_mode="in_place" if settings.root_mode == "in_place" else "grounded",
                               min_cutoff=settings.live_min_cutoff, beta=settings.live_beta)
    spec = settings.live_source.strip()
    live = LiveCapture.open(bpy.path.abspath(spec) if spec.startswith("//") else spec, model=settings.model,
                            model_path=model_override(context, settings.model), on_result=poser,
                            loop=settings.live_loop)
    _watch_file_loads()
    return blender_live.begin(context.scene, live, obj)


def save_take(scene, live, context=None) -> tuple[str, object] | None:
    """The recorded frames → a landmark cache in the cache folder, listed as a take (made active)."""
    if live is None or not live.recorded_frames:
        return None
    track = live.take()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "".join(c if c.isalnum() else "_" for c in live.source.name)[-40:]
    path = cache_folder(context or bpy.context) / f"live_{name}_{track.model}_{stamp}.npz"
    track.save(path)
    add_take(scene.video_mocap, str(path), track)
    take = scene.video_mocap.takes[scene.video_mocap.take_index]
    take.name = f"live · {live.source.name} · {track.model} · {len(track)} fr"
    take.partial = "stream_dropped" in track.extra
    return str(path), track


def finish(scene, operator=None, context=None) -> None:
    """End the scene's live session; a recording in progress is saved as a take (and said so)."""
    st = blender_live.peek(scene)
    live = st.live
    recording = live is not None and live.recording
    if live is not None:
        live.record(False)
    live = blender_live.end(scene)
    if live is None:
        return

    def say(level, text):
        if operator is not None:
            operator.report({level}, text)
        else:
            print(f"Video Mocap live: {text}")

    if live.error is not None:
        say("ERROR", str(live.error) if isinstance(live.error, MocapError) else
            f"Live capture failed: {live.error.__class__.__name__}: {live.error}")
    dropped = live.ended not in (None, "stopped", "end")
    if dropped:
        say("WARNING", f"The {live.source.kind} stopped sending ({live.ended}).")
    if recording and live.recorded_frames:
        path, track = save_take(scene, live, context)
        kept = f"kept the {len(track)} frames recorded before the drop" if dropped else f"{len(track)} frames"
        say("WARNING" if dropped else "INFO", f"Live take saved as a take ({kept}): {path}")


class VIDEO_MOCAP_OT_live_start(bpy.types.Operator):
    """Follow the live source with the armature in the viewport (no keyframes; Esc stops)"""

    bl_idname = "video_mocap.live_start"
    bl_label = "Start Live"

    _timer = None
    scene_uid: int = 0

    @classmethod
    def poll(cls, context):
        settings = settings_of(context)
        if blender_live.running(context.scene) is not None:
            cls.poll_message_set("Live is already running")
            return False
        if jobs.running(context.scene) is not None:
            cls.poll_message_set("A capture is running")
            return False
        if not settings.live_source.strip():
            cls.poll_message_set("Choose a live source first (0 for the first camera, a stream address or a file)")
            return False
        if target_armature(context) is None:
            cls.poll_message_set("Select an armature (or add the human metarig)")
            return False
        return True

    @reports_errors
    def execute(self, context):  # scripts and tests: an application timer ticks (no modal handler, no Esc)
        start_session(context)
        uid = context.scene.session_uid
        bpy.app.timers.register(functools.partial(_app_timer_tick, uid), first_interval=blender_live.TICK_S)
        return {"FINISHED"}

    @reports_errors
    def invoke(self, context, event):
        start_session(context)
        self.scene_uid = context.scene.session_uid
        wm = context.window_manager
        self._timer = wm.event_timer_add(blender_live.TICK_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        scene = _scene_by_uid(self.scene_uid)
        done = scene is None or blender_live.running(scene) is None
        if not done and event.type == "ESC" and event.value == "PRESS":
            finish(scene, self, context)
            done = True
        elif not done and event.type == "TIMER":
            if not blender_live.tick(scene):
                finish(scene, self, context)
                done = True
            st = blender_live.peek(scene)
            if st.redraw:  # only when something changed: the timer ticks far more often than poses come
                st.redraw = False
                redraw_view3d(context)
        if done:
            context.window_manager.event_timer_remove(self._timer)
            redraw_view3d(context)
            return {"FINISHED"}
        return {"PASS_THROUGH"}


def _app_timer_tick(scene_uid: int):
    scene = _scene_by_uid(scene_uid)
    if scene is None or blender_live.running(scene) is None:
        return None
    if not blender_live.tick(scene):
        finish(scene)
        return None
    return blender_live.TICK_S


class VIDEO_MOCAP_OT_live_stop(bpy.types.Operator):
    """Stop live (a take being recorded is kept)"""

    bl_idname = "video_mocap.live_stop"
    bl_label = "Stop Live"

    @classmethod
    def poll(cls, context):
        return blender_live.running(context.scene) is not None

    def execute(self, context):
        finish(context.scene, self, context)
        redraw_view3d(context)
        return {"FINISHED"}


class VIDEO_MOCAP_OT_live_record(bpy.types.Operator):
    """Record a take while live (again to stop: the take is added to the takes list, ready to apply)"""

    bl_idname = "video_mocap.live_record"
    bl_label = "Record"
    bl_options = {"UNDO"}

    @classmethod
    def poll(cls, context):
        return blender_live.running(context.scene) is not None

    @reports_errors
    def execute(self, context):
        live = blender_live.running(context.scene)
        if not live.recording:
            live.record(True)
            self.report({"INFO"}, "Recording")
            return {"FINISHED"}
        live.record(False)
        saved = save_take(context.scene, live, context)
        if saved is None:
            self.report({"WARNING"}, "Nothing was recorded (no frame was processed)")
            return {"CANCELLED"}
        path, track = saved
        self.report({"INFO"}, f"Live take: {len(track)} frames, person in {track.detected_fraction:.0%}; "
                              f"saved as {path}")
        return {"FINISHED"}


@bpy.app.handlers.persistent
def _end_on_load(_filepath=None):
    blender_live.end_all()


def _watch_file_loads() -> None:
    """Opening another file stops live (its scene is about to be freed)."""
    if _end_on_load not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(_end_on_load)


classes = (VIDEO_MOCAP_OT_live_start, VIDEO_MOCAP_OT_live_stop, VIDEO_MOCAP_OT_live_record)
