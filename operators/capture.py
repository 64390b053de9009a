"""Capture: video → landmark cache. Runs in a worker thread; the main thread only polls a timer.

The running job, its progress and status line live in blender/jobs.py (Python memory), not in the
scene, so a file saved during a capture reopens ready to capture.
"""
from __future__ import annotations

import os

import bpy

from .. import pipeline
from ..blender import jobs
from ..blender.scene import cache_path, is_own_cache, options, settings_of, video_abspath
from ..capture.errors import Cancelled, MocapError
from ..capture.job import CaptureJob
from ..capture.track import PoseTrack
from .common import redraw_view3d, report_messages, reports_errors


def _scene_by_uid(uid: int):
    return next((s for s in bpy.data.scenes if s.session_uid == uid), None)


class VIDEO_MOCAP_OT_capture(bpy.types.Operator):
    """Detect the person in the video and save the landmark track (Esc cancels)"""

    bl_idname = "video_mocap.capture"
    bl_label = "Capture"
    # UNDO: the new take is its own undo step; without it, undoing the next operator (an Apply) would
    # also drop the take, which was added between two undo pushes. No REGISTER: a redo panel would run
    # the whole capture again, blocking, when its option is changed.
    bl_options = {"UNDO"}

    keep_partial: bpy.props.BoolProperty(
        name="Keep Partial Take", default=False, options={"SKIP_SAVE"},
        description="When cancelled, keep the frames captured so far as a take")

    _timer = None
    job: CaptureJob | None = None
    scene_uid: int = 0

    @classmethod
    def poll(cls, context):
        settings = settings_of(context)
        if jobs.running(context.scene) is not None:
            cls.poll_message_set("A capture is already running")
            return False
        if not settings.video_path:
            cls.poll_message_set("Choose a video first")
            return False
        return True

    def _make_job(self, context) -> CaptureJob:
        settings = settings_of(context)
        opts = options(context, keep_partial=self.keep_partial or settings.keep_partial)
        video = video_abspath(settings)
        start, stop = opts.frames
        model_key = opts.model + ("_hands" if opts.hands else "")
        request = pipeline.capture_request(video, opts, str(cache_path(context, video, model_key, start, stop)))
        job = CaptureJob(request)
        self.scene_uid = context.scene.session_uid
        jobs.begin(context.scene, job)
        return job

    def _finish(self, scene, status) -> set:
        err = status.error
        if isinstance(err, Cancelled):
            jobs.end(scene, "Cancelled")
            self.report({"WARNING"}, str(err))
            return {"CANCELLED"}
        if err is not None:
            jobs.end(scene, "Failed")
            self.report({"ERROR"}, str(err) if isinstance(err, MocapError) else
                        f"Capture failed: {err.__class__.__name__}: {err}")
            return {"CANCELLED"}
        track: PoseTrack = status.track
        add_take(scene.video_mocap, self.job.request.cache_path, track)
        partial = track.extra.get("cancelled")
        jobs.end(scene, f"{len(track)} frames, person in {track.detected_fraction:.0%}"
                        f"{' (partial: cancelled)' if partial else ''}", progress=1.0)
        report = pipeline.capture_report(track)
        if partial:
            report.warning(f"cancelled: kept the {len(track)} frames captured so far as a partial take")
        report_messages(self, report, f"Captured {len(track)} frames")
        return {"FINISHED"}

    @reports_errors
    def execute(self, context):  # blocking: scripts and tests
        self.job = self._make_job(context)
        try:
            status = self.job.run()
        except BaseException:
            jobs.end(context.scene, "Failed")
            raise
        return self._finish(context.scene, status)

    @reports_errors
    def invoke(self, context, event):
        self.job = self._make_job(context).start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def step(self, context, event_type: str) -> set:
        """One modal step (also driven directly by tests): Esc, progress, completion."""
        job = self.job
        scene = _scene_by_uid(self.scene_uid)
        if scene is None or jobs.running(scene) is not job:  # another file was opened, or the scene deleted
            job.cancel()
            return {"CANCELLED"}
        if event_type == "ESC":
            jobs.cancel(scene)
        if event_type != "TIMER":
            return {"PASS_THROUGH"}
        st, state = job.status, jobs.state(scene)
        state.progress = st.fraction
        if st.fps > 0 and not job.cancel_requested:
            state.status = f"{st.done}/{st.total} frames · {st.fps:.1f} fps · ETA {st.eta_s:.0f} s"
        if job.is_alive():
            return {"PASS_THROUGH"}
        return self._finish(scene, st)

    def modal(self, context, event):
        result = self.step(context, event.type)
        wm = context.window_manager
        scene = _scene_by_uid(self.scene_uid)
        wm.progress_update(int(1000 * (jobs.peek(scene).progress if scene else 1.0)))
        redraw_view3d(context)
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


class VIDEO_MOCAP_OT_take_remove(bpy.types.Operator):
    """Remove the selected take from the list, and its landmark cache file when this extension wrote it
    in its cache folder (any other file the take points at is kept)"""

    bl_idname = "video_mocap.take_remove"
    bl_label = "Remove Take"
    bl_options = {"REGISTER", "UNDO"}

    delete_file: bpy.props.BoolProperty(name="Delete Cache File", default=True)

    @classmethod
    def poll(cls, context):
        return settings_of(context).active_take() is not None and jobs.running(context.scene) is None

    def execute(self, context):
        settings = settings_of(context)
        take = settings.active_take()
        path = os.path.abspath(bpy.path.abspath(take.path)) if take.path else ""
        if self.delete_file and path and os.path.lexists(path):
            if is_own_cache(context, path):
                try:
                    os.remove(path)
                except OSError as exc:
                    self.report({"WARNING"}, f"Could not delete {path}: {exc.strerror or exc}")
            else:
                self.report({"WARNING"}, f"Kept {path}: it is not a landmark cache in this extension's "
                                         f"cache folder; only the take was removed from the list")
        settings.takes.remove(settings.take_index)
        settings.take_index = min(settings.take_index, len(settings.takes) - 1)
        settings.track_path = settings.active_take().path if settings.active_take() else ""
        return {"FINISHED"}


class VIDEO_MOCAP_OT_capture_cancel(bpy.types.Operator):
    """Stop the running capture"""

    bl_idname = "video_mocap.capture_cancel"
    bl_label = "Cancel Capture"

    @classmethod
    def poll(cls, context):
        return jobs.running(context.scene) is not None

    def execute(self, context):
        jobs.cancel(context.scene)
        return {"FINISHED"}


classes = (VIDEO_MOCAP_OT_capture, VIDEO_MOCAP_OT_capture_cancel, VIDEO_MOCAP_OT_take_remove)
