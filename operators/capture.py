"""Capture: video → landmark cache. Runs in a worker thread; the main thread only polls a timer."""
from __future__ import annotations

import threading
import time

import bpy

from ..capture.errors import Cancelled, CaptureError
from ..capture.landmarker import capture_video
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
    _thread = None
    _job = None

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

    def _start(self, context):
        settings = context.scene.mocap
        start, stop = _frame_range(settings)
        self._job = {"video": video_abspath(settings), "model": settings.model,
                     "override": model_override(context, settings.model), "start": start, "stop": stop,
                     "cache": str(cache_path(context, video_abspath(settings), settings.model)),
                     "done": 0, "total": 0, "fps": 0.0, "track": None, "error": None,
                     "cancel": threading.Event(), "keep_partial": self.keep_partial, "t0": time.perf_counter()}
        return self._job

    @staticmethod
    def _run(job):
        def progress(done, total, fps):
            job["done"], job["total"], job["fps"] = done, total, fps

        try:
            track = capture_video(job["video"], job["model"], job["override"], job["start"], job["stop"],
                                  progress=progress, should_cancel=job["cancel"].is_set,
                                  keep_partial=job["keep_partial"])
            track.save(job["cache"])
            job["track"] = track
        except CaptureError as exc:
            job["error"] = exc
        except Exception as exc:  # never let a worker exception vanish: report it
            job["error"] = exc

    def _finish(self, context, job) -> set:
        settings = context.scene.mocap
        settings.is_capturing = False
        settings.cancel_requested = False
        err = job["error"]
        if isinstance(err, Cancelled):
            settings.status = "Cancelled"
            self.report({"WARNING"}, str(err))
            return {"CANCELLED"}
        if err is not None:
            settings.status = "Failed"
            self.report({"ERROR"}, str(err) if isinstance(err, CaptureError) else
                        f"Capture failed: {err.__class__.__name__}: {err}")
            return {"CANCELLED"}
        track: PoseTrack = job["track"]
        settings.track_path = job["cache"]
        settings.progress = 1.0
        partial = " (partial: cancelled)" if track.extra.get("cancelled") else ""
        stopped = (f"; the video stopped decoding at frame {track.extra['truncated_at']}"
                   if "truncated_at" in track.extra else "")
        settings.status = f"{len(track)} frames, person in {track.detected_fraction:.0%}{partial}"
        self.report({"WARNING"} if partial or stopped else {"INFO"},
                    f"Captured {len(track)} frames, person found in {track.detected_fraction:.0%}{partial}{stopped}")
        return {"FINISHED"}

    def execute(self, context):  # blocking: scripts and the headless command
        job = self._start(context)
        context.scene.mocap.is_capturing = True
        self._run(job)
        return self._finish(context, job)

    def invoke(self, context, event):
        job = self._start(context)
        settings = context.scene.mocap
        settings.is_capturing, settings.progress, settings.status = True, 0.0, "Starting…"
        settings.cancel_requested = False
        self._thread = threading.Thread(target=self._run, args=(job,), daemon=True, name="mocap-capture")
        self._thread.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        settings = context.scene.mocap
        if event.type == "ESC" or settings.cancel_requested:
            job["cancel"].set()
            settings.status = "Cancelling…"
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        total = max(job["total"], 1)
        settings.progress = job["done"] / total
        context.window_manager.progress_update(int(1000 * settings.progress))
        if job["fps"] > 0 and not job["cancel"].is_set():
            eta = (job["total"] - job["done"]) / job["fps"]
            settings.status = f"{job['done']}/{job['total']} frames · {job['fps']:.1f} fps · ETA {eta:.0f} s"
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        if self._thread.is_alive():
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        context.window_manager.progress_end()
        return self._finish(context, job)


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


classes = (MOCAP_OT_capture, MOCAP_OT_capture_cancel)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
