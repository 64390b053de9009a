"""Capture: video → landmark cache. Runs in a worker thread; the main thread only polls a timer.

The running job, its progress and status line live in blender/jobs.py (Python memory), not in the
scene, so a file saved during a capture reopens ready to capture.
"""
from __future__ import annotations

import os
import time

import bpy

from .. import pipeline
from ..blender import jobs
from ..blender.people import person_cache_path, person_of
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
    started: float = 0.0  # wall clock at the start (per-person caches older than this are not this capture's)
    threaded: bool = False  # the job runs in its own thread (invoke, or any several-people capture)
    cache_file: str = ""
    people: int = 1  # people asked for: > 1 saves (and lists) each person's take as `<cache>_p<K>.npz`

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

    def _make_job(self, context, start_thread: bool = False) -> CaptureJob:
        """The capture job (started in its thread when start_thread, or always with several people: the
        pipeline's start_capture is the several-people job's only constructor)."""
        settings = settings_of(context)
        opts = options(context, keep_partial=self.keep_partial or settings.keep_partial, **people_options(settings))
        video = video_abspath(settings)
        start, stop = opts.frames
        people = getattr(opts, "people", 1) or 1
        model_key = opts.model + ("_hands" if opts.hands else "") + (f"_{people}people" if people > 1 else "")
        if people == 1 and settings.person and hasattr(pipeline.Options, "person"):
            model_key += f"_person{settings.person}"
        self.cache_file = path = str(cache_path(context, video, model_key, start, stop))
        self.started = time.time()
        self.threaded = start_thread or people > 1
        self.people = people
        if people > 1:
            job = pipeline.start_capture(video, opts, path)
        else:
            job = CaptureJob(pipeline.capture_request(video, opts, path))
            if start_thread:
                job.start()
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
        tracks = list(getattr(status, "tracks", None) or [])
        if tracks and (self.people > 1 or len(tracks) > 1 or tracks[0].extra.get("people", 1) > 1):
            return self._finish_people(scene, tracks)
        track: PoseTrack = status.track if status.track is not None else tracks[0]
        add_take(scene.video_mocap, self.cache_file, track)
        partial = track.extra.get("cancelled")
        jobs.end(scene, f"{len(track)} frames, person in {track.detected_fraction:.0%}"
                        f"{' (partial: cancelled)' if partial else ''}", progress=1.0)
        report = pipeline.capture_report(track)
        if partial:
            report.warning(f"cancelled: kept the {len(track)} frames captured so far as a partial take")
        report_messages(self, report, f"Captured {len(track)} frames")
        return {"FINISHED"}

    def _finish_people(self, scene, tracks: list[PoseTrack]) -> set:
        """A take per person (cache `<capture>_p<K>.npz`), the first person's take made active."""
        try:
            add_people_takes(scene.video_mocap, self.cache_file, tracks, self.started, self.people)
        except (OSError, MocapError) as exc:
            jobs.end(scene, "Failed")
            self.report({"ERROR"}, f"Cannot write the people's landmark caches beside {self.cache_file}: "
                                   f"{getattr(exc, 'strerror', None) or exc}")
            return {"CANCELLED"}
        report = pipeline.Report()
        for i, track in enumerate(tracks):
            k = person_of(track, i)
            for m in pipeline.capture_report(track).messages:
                report.messages.append(pipeline.Message(m.severity, f"person {k}: {m.text}"))
            if track.extra.get("cancelled"):
                report.warning(f"person {k}: cancelled: kept the {len(track)} frames captured so far")
        frames = len(tracks[0])
        jobs.end(scene, f"{len(tracks)} people, {frames} frames"
                        f"{' (partial: cancelled)' if tracks[0].extra.get('cancelled') else ''}", progress=1.0)
        report_messages(self, report, f"Captured {len(tracks)} people, {frames} frames")
        return {"FINISHED"}

    @reports_errors
    def execute(self, context):  # blocking: scripts and tests
        self.job = self._make_job(context)
        try:
            status = self.job.wait() if self.threaded else self.job.run()
        except BaseException:
            jobs.end(context.scene, "Failed")
            raise
        return self._finish(context.scene, status)

    @reports_errors
    def invoke(self, context, event):
        self.job = self._make_job(context, start_thread=True)
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


def people_options(settings) -> dict:
    """Follow Person 0 (the most prominent) is the pipeline's person=None. Empty while the pipeline has
    no `person` option (Options.from_settings copies `people` and `person` by name)."""
    return {"person": settings.person or None} if hasattr(pipeline.Options, "person") else {}


def add_take(settings, path: str, track: PoseTrack, person: int | None = None, people: int | None = None) -> None:
    """List the capture as a take (replacing a take with the same cache file) and make it active. A person's
    take of a several-people capture (track.extra 'person'/'people', or the arguments) is named
    `… · person K` and remembers K."""
    for i, take in enumerate(settings.takes):
        if take.path == path:
            settings.takes.remove(i)
            break
    people = int(people if people is not None else track.extra.get("people", 1) or 1)
    person = int(person if person is not None else track.extra.get("person", 0) or 0)
    take = settings.takes.add()
    take.name = f"{os.path.basename(track.source)} · {track.model}"
    if track.first_frame or len(track):
        take.name += f" · {track.first_frame}-{track.first_frame + len(track) - 1}"
    if people > 1 and person:
        take.name += f" · person {person}"
        take.person, take.people = person, people
    take.path, take.source, take.model = path, track.source, track.model
    take.frames, take.first_frame = len(track), track.first_frame
    take.detected, take.partial = track.detected_fraction, bool(track.extra.get("cancelled"))
    settings.take_index = len(settings.takes) - 1
    settings.track_path = path


def add_people_takes(settings, path: str, tracks: list[PoseTrack], since: float = 0.0, asked: int = 2) -> list[str]:
    """A take per person of a several-people capture (`asked` people; fewer may have been found): person
    K's cache is `path` with `_p<K>` before the extension (written here unless the capture wrote it already,
    i.e. it is newer than `since`). The first person's take is made active. → the caches' paths, in order."""
    paths = []
    for i, track in enumerate(tracks):
        k = person_of(track, i)
        person_path = person_cache_path(path, k)
        if not (os.path.isfile(person_path) and os.path.getmtime(person_path) >= since > 0):
            track.save(person_path)
        add_take(settings, person_path, track, person=k,
                 people=max(len(tracks), track.extra.get("people", 1), asked))
        paths.append(person_path)
    for i, take in enumerate(settings.takes):
        if paths and take.path == paths[0]:
            settings.take_index, settings.track_path = i, take.path
    return paths


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
