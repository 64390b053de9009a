"""Parallel capture: the frame range split into contiguous segments, one worker process each; both
sides of it (the parent: `capture_parallel`, `_ParallelRun`; the child: `worker_main`).

Each worker opens the video, moves to its warm-up start (below), and runs the frame loop of
capture/segment.py (`run_segment`, the loop of the one-worker path too): its own VIDEO-mode landmarker
over `overlap` frames that the previous segment owns (tracking is re-acquired and MediaPipe's landmark
smoothing converges: those rows are dropped), then over its own frames, and streams its rows back as
they come. The parent writes them into one PoseTrack: frames, order and timestamps are exactly the
one-worker path's (`capture_video`); landmarks agree within the model's own frame-to-frame noise once
the warm-up is over (tests/e2e/test_parallel.py, tools/bench_speed.py).

Skipping to a segment: a worker seeks when it has more than SEEK_BEYOND frames to skip. OpenCV's
seek is frame-exact on constant frame rate videos only, so every seek is checked: the warm-up frames
of worker k must have the container times and pixel fingerprints of worker k-1's last frames; if they
do not (a variable frame rate video), the segments from k on are captured again by workers that
decode every frame from the start (cv2 grab, as VideoSource.frames does).

Balancing: workers skip at once to the equal split (a lower bound of the balanced boundaries);
worker 0 reports its time per processed frame and the others their time per skipped frame (nearly
nothing after a seek, ~1/5 of a processed frame when decoding); the parent then fixes the boundaries
so that every worker finishes at about the same time (a worker that decodes its way gets fewer frames).

Processes: multiprocessing's 'spawn' method (fork is unsafe with bpy and MediaPipe's threads loaded),
with the child's target being the standard library's `runpy.run_path` on capture/_spawn_worker.py,
which imports this capture package by path under a private name and calls `worker_main`: the child
never imports bpy nor the extension's own package name (`video_mocap` in tests and the headless
command, `bl_ext.<repo>.video_mocap` in Blender), and it does not re-run the parent's `__main__`
script either (the 'init_main' step of spawn is skipped). The interpreter is `python_executable()`: in
Blender 2.91+ `sys.executable` is the bundled Python (e.g. `<blender>/4.2/python/bin/python3.11`);
if it is not a Python (an embedded build), the Python under `sys.prefix`/bin is used.
"""
from __future__ import annotations

import contextlib
import os
import runpy
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import errors
from .errors import CaptureError
from .face import BLENDSHAPE_COUNT, has_blendshapes, resolve_face_model
from .models import DEFAULT_VARIANT, resolve_hand_model, resolve_model
from .prefetch import open_video
from .segment import ProgressFn, capture_video, cut_track, end_face, finish_track, place_rows, run_segment
from .track import PoseTrack
from .video import VideoSource

WORKER_SCRIPT = Path(__file__).resolve().parent / "_spawn_worker.py"
OVERLAP_SECONDS = 0.25       # warm-up before each later segment: tracking converges in ~10 frames (BENCHMARKS.md)
MIN_OVERLAP = 15             # frames
MIN_FRAMES_PER_WORKER = 90   # below this a worker's start-up (~1-2 s: Python, MediaPipe, the model) is not repaid
SEEK_BEYOND = 120            # a worker seeks (checked) rather than decodes when it has more frames than this to skip
_SPAWN_LOCK = threading.Lock()


def usable_cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_overlap(fps: float) -> int:
    return max(MIN_OVERLAP, int(round(OVERLAP_SECONDS * fps)))


def python_executable() -> str:
    """The Python interpreter for worker processes: `sys.executable` when it is a Python (plain
    Python, the bpy module, Blender 2.91+), else the interpreter bundled under `sys.prefix`."""
    exe = sys.executable or ""
    if Path(exe).name.lower().startswith(("python", "pypy")):
        return exe
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.prefix, "bin", f"python{ver}"), Path(sys.prefix, "bin", "python3"),
                      Path(sys.prefix, "bin", "python.exe"), Path(sys.prefix, "python.exe")):
        if candidate.is_file():
            return str(candidate)
    return exe


@contextlib.contextmanager
def _spawning():
    """While starting workers: Blender's Python as the executable, and no re-import of `__main__`
    in the child (it may be a Blender script that imports bpy, or the headless command)."""
    from multiprocessing import spawn

    with _SPAWN_LOCK:
        original_prep, original_exe = spawn.get_preparation_data, spawn.get_executable()

        def preparation_data(name):
            data = original_prep(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        exe = python_executable()
        spawn.get_preparation_data = preparation_data
        if exe != original_exe:
            spawn.set_executable(exe)
        try:
            yield
        finally:
            spawn.get_preparation_data = original_prep
            if exe != original_exe:
                spawn.set_executable(original_exe)


def equal_split(first: int, last: int, workers: int) -> list[int]:
    total = last - first
    return [first + (k * total) // workers for k in range(workers + 1)]


def plan_segments(first: int, last: int, workers: int, overlap: int, skip_ratio: float = 0.0
                  ) -> list[tuple[int, int, int]]:
    """(warm, start, stop) per worker, so that each costs about the same: worker k decodes its
    s_k = start_k - overlap earlier frames at `skip_ratio` × the cost of a processed frame, then
    processes stop_k - s_k frames. Boundaries never fall before the equal split."""
    r = min(max(float(skip_ratio), 0.0), 0.95)
    lower = equal_split(first, last, workers)

    def ends(c: float) -> list[float]:
        b, s = [float(first)], float(first)
        for _ in range(workers):
            b.append(s + c - r * s)
            s = max(float(first), b[-1] - overlap)
        return b

    lo, hi = 0.0, float(last) + overlap * workers + 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ends(mid)[-1] < last else (lo, mid)
    bounds = [int(round(v)) for v in ends(hi)]
    bounds[0], bounds[-1] = first, last
    for k in range(1, workers):
        bounds[k] = min(max(bounds[k], lower[k], bounds[k - 1] + 1), last - (workers - k))
    return [(first if k == 0 else max(first, bounds[k] - overlap), bounds[k], bounds[k + 1]) for k in range(workers)]


def capture_parallel(video_path, model: str = DEFAULT_VARIANT, model_path=None, start: int | None = None,
                     stop: int | None = None, workers: int | None = None, progress: ProgressFn | None = None,
                     should_cancel: Callable[[], bool] | None = None, keep_partial: bool = False,
                     overlap: int | None = None, require_person: bool = True, people_check_every: int = 60,
                     min_frames_per_worker: int = MIN_FRAMES_PER_WORKER, prefetch: bool = True,
                     seek_beyond: int | None = SEEK_BEYOND, isolate: bool = False, hands: bool = False,
                     hand_model_path=None, face: bool = False, face_model_path=None, people: int = 1,
                     person: int | None = None) -> PoseTrack:
    """`capture_video` with the frame range split over `workers` processes (default: usable cores).

    Same result contract as `capture_video` (frames, first_frame, timestamps, errors, cancel and
    keep_partial, track.extra people_max / identity_jumps / truncated_at / cancelled), plus
    track.extra['workers'] (how many ran) and track.extra['parallel'] (segments and timings).
    With one worker, or when the container does not tell the video's length, or when the clip is
    too short to repay the workers' start-up (< min_frames_per_worker each), it is capture_video.
    A cancelled capture keeps (keep_partial) the frames from the start up to the first gap.

    seek_beyond: a later worker with more frames than this before its warm-up seeks there instead of
    decoding every frame before it (None: never seek).

    isolate: never run MediaPipe in this process, even with one worker (then one worker process):
    for Blender, whose main thread would otherwise stall while MediaPipe's native library loads
    (it holds the GIL), and whose memory would keep MediaPipe's after the capture.
    OpenCV's seek is frame-exact on constant frame rate videos only, so each seek is checked: the
    warm-up frames of worker k (container time and a pixel fingerprint) must be the last frames of
    worker k-1. If one is not (a variable frame rate video), the segments from there on are captured
    again, decoding from the start.

    hands: both hands every frame too (capture/hands.py), with the bundled hand_landmarker.task or
    `hand_model_path`; each worker tracks the hands of its segment (after the same warm-up).
    face: the face every frame too (capture/face.py), likewise.

    people / person: every pose of every frame is kept while capturing and told apart into people in
    this process, on the stitched rows (so each person keeps their identity across the segments'
    boundaries): people = 1 returns the followed person's track (the most prominent, or `person`,
    1-based; never another person's pose: see capture/people.py `follow_person`); people > 1 (up to
    that many poses a frame) returns the track with its every-pose arrays, to split with
    `people.split_people` (CaptureJob does).
    """
    workers = usable_cores() if workers is None else max(1, int(workers))
    task = resolve_model(model, model_path)
    hand_task = resolve_hand_model(hand_model_path) if hands else None
    face_task = resolve_face_model(face_model_path) if face else None
    people = max(1, int(people))
    with VideoSource(video_path) as video:
        info = video.info
        first, last = video.resolve_range(start, stop)
    total = (last - first) if last else 0
    overlap = default_overlap(info.fps) if overlap is None else max(0, int(overlap))
    if last is not None:
        workers = min(workers, max(1, total // max(1, min_frames_per_worker)), max(1, total))
    if (workers <= 1 and not isolate) or last is None:
        track = capture_video(video_path, model, model_path, start, stop, progress=progress,
                              should_cancel=should_cancel, keep_partial=keep_partial,
                              require_person=require_person, people_check_every=people_check_every,
                              hands=hands, hand_model_path=hand_model_path, face=face,
                              face_model_path=face_model_path, people=people, person=person)
        track.extra["workers"] = 1
        return track

    model_name = Path(task).stem.replace("pose_landmarker_", "") if model_path is None else str(task)
    track = PoseTrack.empty(total, info.fps, (info.width, info.height), info.path, model_name, first,
                            hands=hands, face=face, people=max(2, people))
    if face_task is not None and has_blendshapes(face_task):
        track.face_expressions = np.full((total, BLENDSHAPE_COUNT), np.nan, np.float32)
    started = time.perf_counter()
    run = _ParallelRun(info.path, task, first, first, last, workers, overlap, people_check_every, prefetch,
                       seek_beyond=seek_beyond if overlap > 0 else None, hand_task=hand_task, face_task=face_task,
                       people=people)
    run.execute(track, progress, should_cancel, started)
    redo_from = run.first_unverified()
    if redo_from is not None and not run.cancel_requested:
        warm, begin, _ = run.plan[redo_from]
        redo = _ParallelRun(info.path, task, first, begin, last, workers - redo_from, overlap, people_check_every,
                            prefetch, seek_beyond=None, warm0=warm, hand_task=hand_task, face_task=face_task,
                            people=people)
        redo.execute(track, progress, should_cancel, started, done_offset=sum(run.received[:redo_from]))
        run.merge(redo, redo_from)

    done = run.contiguous_rows()
    stopped_early = run.cancel_requested
    # The workers send the container's time of each frame: cut_track makes them strictly increasing
    # over the whole range (ts = max(raw, previous + 1)), as for one worker.
    track = cut_track(track, done, total, first, last, info.path, stopped_early, keep_partial)
    track.extra["workers"] = workers
    track.extra["parallel"] = {**run.stats(), "wall_s": time.perf_counter() - started, "redone_from": redo_from}
    if hands:
        counts = [run.info[k].get("hands", {}) for k in sorted(run.info)]
        track.extra["hands"] = {**{key: sum(c.get(key, 0) for c in counts) for key in ("crops", "found", "rejected",
                                                                                       "full_frame")},
                                "model": str(hand_task)}
    if face:
        end_face(track, [run.info[k].get("face", {}) for k in sorted(run.info)], face_task)
    track.extra["people_switched"] = [run.info[k]["switched_at"] for k in sorted(run.info)
                                      if run.info[k].get("switched_at") is not None]
    track = finish_track(track, done, info.path, stopped_early, run.people(), require_person, people, person)
    return track


class _ParallelRun:
    """The parent's side: start the workers, plan the boundaries, gather rows, stop everything.

    Rows go to track row (video index - track_first); the workers share [first, last); worker 0
    warms up from warm0 (default: no warm-up)."""

    def __init__(self, video: str, task, track_first: int, first: int, last: int, workers: int, overlap: int,
                 people_check_every: int, prefetch: bool, seek_beyond: int | None, warm0: int | None = None,
                 hand_task=None, face_task=None, people: int = 1):
        self.video, self.task, self.track_first, self.first, self.last = video, str(task), track_first, first, last
        self.n, self.overlap, self.people_check_every, self.prefetch = workers, overlap, people_check_every, prefetch
        self.seek_beyond, self.warm0 = seek_beyond, first if warm0 is None else warm0
        self.hand_task = None if hand_task is None else str(hand_task)
        self.face_task = None if face_task is None else str(face_task)
        self.people_wanted = people
        self.lower = equal_split(first, last, workers)
        self.plan: list[tuple[int, int, int]] | None = None
        self.skip_ratio: float | None = None
        self.rate: float | None = None          # worker 0: seconds per processed frame
        self.skip_rates: dict[int, float] = {}  # worker k: seconds per skipped frame
        self.received = [0] * workers           # rows received per worker
        self.info: dict[int, dict] = {}
        self.ready: dict[int, float] = {}
        self.done_at: dict[int, float] = {}    # seconds from the capture's start to each worker's end
        self.error: tuple[str, str] | None = None
        self.cancel_requested = False
        self.started = time.perf_counter()

    # -- the plan -----------------------------------------------------------------------------------
    def _provisional(self, k: int) -> tuple:
        if k == 0:
            return (self.warm0, self.first, self.lower[1])
        return (max(self.first, self.lower[k] - self.overlap), None, self.lower[k + 1])

    def _maybe_plan(self, conns, force: bool) -> None:
        if self.plan is not None:
            return
        needs_skip = [k for k in range(1, self.n) if self._provisional(k)[0] >= 8]
        if not force and (self.rate is None or any(k not in self.skip_rates for k in needs_skip)):
            return
        ratio = 0.0
        if self.rate and self.skip_rates:
            ratio = float(np.median(list(self.skip_rates.values()))) / self.rate
        self.skip_ratio = ratio
        plan = plan_segments(self.first, self.last, self.n, self.overlap, ratio)
        self.plan = [(self.warm0, *plan[0][1:])] + plan[1:]
        for k, conn in enumerate(conns):
            with contextlib.suppress(OSError, ValueError):
                conn.send(("plan", *self.plan[k]))

    # -- running -------------------------------------------------------------------------------------
    def execute(self, track: PoseTrack, progress, should_cancel, started: float, done_offset: int = 0) -> None:
        import multiprocessing
        from multiprocessing.connection import wait

        ctx = multiprocessing.get_context("spawn")
        procs, conns = [], []
        try:
            with _spawning():
                self.cancel = ctx.Event()
                for k in range(self.n):
                    parent_end, child_end = ctx.Pipe(duplex=True)
                    job = {"worker": k, "video": self.video, "task": self.task, "first": self.track_first,
                           "limit": self.last, "provisional": self._provisional(k),
                           "people_check_every": self.people_check_every, "measure_rate": k == 0,
                           "prefetch": self.prefetch, "seek_beyond": self.seek_beyond if k else None,
                           "tail": self.overlap if k < self.n - 1 else 0, "alone": self.n == 1,
                           "hand_task": self.hand_task, "face_task": self.face_task,
                           "people": self.people_wanted}
                    proc = ctx.Process(target=runpy.run_path, args=(str(WORKER_SCRIPT),),
                                       kwargs={"init_globals": {"JOB": job, "CONN": child_end, "CANCEL": self.cancel},
                                               "run_name": "__mocap_worker__"},
                                       name=f"mocap-capture-{k}", daemon=True)
                    proc.start()
                    child_end.close()
                    procs.append(proc)
                    conns.append(parent_end)
            open_conns = dict(enumerate(conns))
            done_rows = done_offset
            while open_conns:
                if not self.cancel_requested and should_cancel is not None and should_cancel():
                    self._cancel()
                for conn in wait(list(open_conns.values()), timeout=0.1):
                    k = next(i for i, c in open_conns.items() if c is conn)
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        del open_conns[k]
                        if k not in self.info and self.error is None:
                            procs[k].join(5)
                            self.error = ("CaptureError", f"A capture worker process stopped unexpectedly "
                                                          f"(exit code {procs[k].exitcode}).")
                            self._cancel()
                        continue
                    kind = msg[0]
                    if kind == "rows":
                        expected = (self.plan[k][1] if self.plan else self.first) + self.received[k]
                        if msg[1] != expected:
                            raise RuntimeError(f"worker {k} sent rows from frame {msg[1]}, expected {expected}")
                        n = place_rows(track, msg, self.track_first)
                        self.received[k] += n
                        done_rows += n
                        if progress is not None:
                            elapsed = time.perf_counter() - started
                            progress(done_rows, len(track), done_rows / elapsed if elapsed > 0 else 0.0)
                    elif kind == "rate":
                        self.rate = msg[1]
                        self._maybe_plan(conns, force=False)
                    elif kind == "skip_rate":
                        self.skip_rates[k] = msg[1]
                        self._maybe_plan(conns, force=False)
                    elif kind == "waiting":
                        self._maybe_plan(conns, force=True)
                    elif kind == "ready":
                        self.ready[k] = time.perf_counter() - started
                    elif kind == "done":
                        self.info[k] = msg[1]
                        self.done_at[k] = time.perf_counter() - started
                        del open_conns[k]
                    elif kind == "error":
                        if self.error is None:
                            self.error = (msg[1], msg[2])
                        del open_conns[k]
                        self._cancel()
        finally:
            if hasattr(self, "cancel") and (self.error is not None or any(p.is_alive() for p in procs)):
                self.cancel.set()
            for proc in procs:
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
                    proc.join(1)
            for conn in conns:
                conn.close()
        if self.error is not None:
            kind, message = self.error
            cls = getattr(errors, kind, None)
            if isinstance(cls, type) and issubclass(cls, CaptureError):
                raise cls(message)
            raise RuntimeError(f"capture worker failed: {message}")

    def _cancel(self) -> None:
        self.cancel_requested = self.cancel_requested or self.error is None
        self.cancel.set()

    # -- results -------------------------------------------------------------------------------------
    def first_unverified(self) -> int | None:
        """The first worker that seeked and whose warm-up frames are not the previous worker's last
        frames (same container times and pixel fingerprints), when the previous one completed."""
        if self.plan is None:
            return None
        for k in range(1, self.n):
            info, before = self.info.get(k, {}), self.info.get(k - 1, {})
            if not info.get("seeked"):
                continue
            previous_complete = self.received[k - 1] == self.plan[k - 1][2] - self.plan[k - 1][1]
            if not previous_complete:
                return None  # the capture ends (cancelled or truncated) before segment k anyway
            tail = {index: rest for index, *rest in before.get("tail", [])}
            head = {index: rest for index, *rest in info.get("head", [])}
            common = set(tail) & set(head)
            if not common or any(tail[i] != head[i] for i in common):
                return k
        return None

    def merge(self, redo: _ParallelRun, k: int) -> None:
        """Workers k.. of this run replaced by the workers of `redo` (their segments captured again)."""
        self.plan = self.plan[:k] + (redo.plan or [])
        self.received = self.received[:k] + redo.received
        self.info = {**{i: self.info[i] for i in range(k) if i in self.info},
                     **{k + i: v for i, v in redo.info.items()}}
        self.done_at = {**{i: self.done_at[i] for i in range(k) if i in self.done_at},
                        **{k + i: v for i, v in redo.done_at.items()}}
        self.n = len(self.plan)
        self.cancel_requested = self.cancel_requested or redo.cancel_requested

    def people(self) -> list[int]:
        return [count for k in sorted(self.info) for count in self.info[k].get("people", [])]

    def contiguous_rows(self) -> int:
        """Rows filled from the first frame on, without a gap."""
        if self.plan is None:
            return self.received[0]
        done = 0
        for k, (_, begin, end) in enumerate(self.plan):
            done = begin - self.track_first + self.received[k]
            if self.received[k] < end - begin:
                break
        return done

    def stats(self) -> dict:
        return {"segments": self.plan, "overlap": self.overlap, "skip_ratio": self.skip_ratio,
                "ready_s": [self.ready.get(k) for k in range(len(self.ready))],
                "done_s": [self.done_at.get(k) for k in range(self.n)],
                "seeked": [self.info.get(k, {}).get("seeked") for k in range(self.n)],
                "workers": [{key: v for key, v in self.info.get(k, {}).items() if key not in ("head", "tail")}
                            for k in range(self.n)]}


def worker_main(job: dict, conn, cancel_event) -> None:
    """A worker process (started by `_ParallelRun.execute` through capture/_spawn_worker.py): run one
    segment, talk to the parent through `conn` (a duplex Pipe).

    Parent → worker: ('plan', warm, start, stop). Worker → parent: the messages of run_segment,
    then ('done', summary) or ('error', kind, message). Never imports bpy."""
    plan_box: list = []

    def get_plan(block: bool):
        while not plan_box:
            if not conn.poll(0.05 if block else 0):
                if not block or cancel_event.is_set():
                    return None
                continue
            msg = conn.recv()
            if msg[0] == "plan":
                plan_box.append(tuple(msg[1:]))
        return plan_box[0]

    try:
        with open_video(job["video"]) as video:
            info = run_segment(video, job["task"], job["first"], job["limit"], tuple(job["provisional"]),
                               job["people_check_every"], send=conn.send, get_plan=get_plan,
                               cancelled=cancel_event.is_set, measure_rate=job.get("measure_rate", False),
                               prefetch=job.get("prefetch", True), seek_beyond=job.get("seek_beyond"),
                               tail=job.get("tail", 0), pin=job.get("alone", False), hand_task=job.get("hand_task"),
                               face_task=job.get("face_task"), people=job.get("people", 1))
        info["maxrss_mb"] = peak_rss_mb()
        info["cpu_s"] = time.process_time()
        info["pid"] = os.getpid()
        info["foreign_modules"] = sorted(m for m in sys.modules if m == "bpy" or m.startswith(("bpy.", "video_mocap",
                                                                                               "bl_ext")))
        conn.send(("done", info))
    except CaptureError as exc:
        _send_quietly(conn, ("error", type(exc).__name__, str(exc)))
    except BaseException as exc:  # reported by the parent, never a silent death
        _send_quietly(conn, ("error", type(exc).__name__,
                             f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (NaN where the OS does not say). On Linux VmHWM: ru_maxrss
    would also count the process this one was started from (the high-water mark survives exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _send_quietly(conn, msg) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send(msg)
