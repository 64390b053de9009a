"""Capture: video → landmark cache. Runs in a worker thread; the main thread only polls a timer."""
from __future__ import annotations

import os

import bpy

from .. import preferences
from ..capture.errors import Cancelled, CaptureError
from ..capture.job import CaptureJob, CaptureRequest
from ..capture.track import PoseTrack
from .common import cache_path, model_override, video_abspath


def _frame_range(settings):
    if settings.use_frame_range:
        return settings.frame_first, settings.frame_last
    return None, None


class MOCAP_OT_capture(bpy.types.Operator):
    """Detect the person in the video and save the landmark track (Esc cancels)"""

    bl_idname = "mocap.capture"
    bl_label = "Capture"
    bl_options = {"REGISTER"}

    keep_partial: bpy.props.BoolProperty(
        name="Keep Partial Take", default=False,
        description="When cancelled, keep the frames captured so far as a take")

    _timer = None
    job: CaptureJob | None = None

    @classmethod
    def poll(cls, context):
        settings = context.scene.mocap
        if settings.is_capturing:
            cls.poll_message_set("A capture is already running")
            return False
        if not settings.video_path:
            cls.poll_message_set("Choose a video first")
            return False
        return True

    def _make_job(self, context) -> CaptureJob:
        settings = context.scene.mocap
        start, stop = _frame_range(settings)
        video = video_abspath(settings)
        keep = self.keep_partial or settings.keep_partial
        prefs = preferences.get(context)
        request = CaptureRequest(video, settings.model, model_override(context, settings.model), start, stop,
                                 str(cache_path(context, video, settings.model, start, stop)), keep,
                                 workers=prefs.capture_workers if prefs else 1)
        settings.is_capturing, settings.progress, settings.status = True, 0.0, "Starting…"
        settings.cancel_requested = False
        return CaptureJob(request)

    def _finish(self, context, status) -> set:
        settings = context.scene.mocap
        settings.is_capturing = False
        settings.cancel_requested = False
        err = status.error
        if isinstance(err, Cancelled):
            settings.status = "Cancelled"
            self.report({"WARNING"}, str(err))
            return {"CANCELLED"}
        if err is not None:
            settings.status = "Failed"
            self.report({"ERROR"}, str(err) if isinstance(err, CaptureError) else
                        f"Capture failed: {err.__class__.__name__}: {err}")
            return {"CANCELLED"}
        track: PoseTrack = status.track
        add_take(settings, self.job.request.cache_path, track)
        settings.progress = 1.0
        partial = " (partial: cancelled)" if track.extra.get("cancelled") else ""
        stopped = (f"; the video stopped decoding at frame {track.extra['truncated_at']}"
                   if "truncated_at" in track.extra else "")
        settings.status = f"{len(track)} frames, person in {track.detected_fraction:.0%}{partial}"
        self.report({"WARNING"} if partial or stopped else {"INFO"},
                    f"Captured {len(track)} frames, person found in {track.detected_fraction:.0%}{partial}{stopped}")
        return {"FINISHED"}

    def execute(self, context):  # blocking: scripts and tests
        self.job = self._make_job(context)
        return self._finish(context, self.job.run())

    def invoke(self, context, event):
        self.job = self._make_job(context).start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def step(self, context, event_type: str) -> set:
        """One modal step (also driven directly by tests): Esc/cancel requests, progress, completion."""
        job, settings = self.job, context.scene.mocap
        if event_type == "ESC" or settings.cancel_requested:
            job.cancel()
            settings.status = "Cancelling…"
        if event_type != "TIMER":
            return {"PASS_THROUGH"}
        st = job.status
        settings.progress = st.fraction
        if st.fps > 0 and not job.cancel_requested:
            settings.status = f"{st.done}/{st.total} frames · {st.fps:.1f} fps · ETA {st.eta_s:.0f} s"
        if job.is_alive():
            return {"PASS_THROUGH"}
        return self._finish(context, st)

    def modal(self, context, event):
        result = self.step(context, event.type)
        wm = context.window_manager
        wm.progress_update(int(1000 * context.scene.mocap.progress))
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        if "PASS_THROUGH" not in result:
            wm.event_timer_remove(self._timer)
            wm.progress_end()
        return result


def add_take(settings, path: str, track: PoseTrack) -> None:
    """List the capture as a take (replacing a take with the same cache file) and make it active."""
    for i, take in enumerate(settings.takes):
        if take.path == path:
            settings.takes.remove(i)
            break
    take = settings.takes.add()
    take.name = f"{os.path.basename(track.source)} · {track.model}"
    if track.first_frame or len(track):
        take.name += f" · {track.first_frame}-{track.first_frame + len(track) - 1}"
    take.path, take.source, take.model = path, track.source, track.model
    take.frames, take.first_frame = len(track), track.first_frame
    take.detected, take.partial = track.detected_fraction, bool(track.extra.get("cancelled"))
    settings.take_index = len(settings.takes) - 1
    settings.track_path = path


class MOCAP_OT_take_remove(bpy.types.Operator):
    """Remove the selected take from the list (and its landmark cache file)"""

    bl_idname = "mocap.take_remove"
    bl_label = "Remove Take"
    bl_options = {"REGISTER", "UNDO"}

    delete_file: bpy.props.BoolProperty(name="Delete Cache File", default=True)

    @classmethod
    def poll(cls, context):
        return context.scene.mocap.active_take() is not None and not context.scene.mocap.is_capturing

    def execute(self, context):
        settings = context.scene.mocap
        take = settings.active_take()
        path = bpy.path.abspath(take.path)
        if self.delete_file and os.path.isfile(path):
            try:
                os.remove(path)
            except OSError as exc:
                self.report({"WARNING"}, f"Could not delete {path}: {exc}")
        settings.takes.remove(settings.take_index)
        settings.take_index = min(settings.take_index, len(settings.takes) - 1)
        settings.track_path = settings.active_take().path if settings.active_take() else ""
        return {"FINISHED"}


class MOCAP_OT_capture_cancel(bpy.types.Operator):
    """Stop the running capture"""

    bl_idname = "mocap.capture_cancel"
    bl_label = "Cancel Capture"

    @classmethod
    def poll(cls, context):
        return context.scene.mocap.is_capturing

    def execute(self, context):
        context.scene.mocap.cancel_requested = True
        return {"FINISHED"}


classes = (MOCAP_OT_capture, MOCAP_OT_capture_cancel, MOCAP_OT_take_remove)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
