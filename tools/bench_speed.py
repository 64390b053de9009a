"""Speed benchmark: capture (bare landmarker, one worker, parallel workers), bake, memory, responsiveness.

    .venv/bin/python tools/bench_speed.py [--models lite,full,heavy] [--long-frames 900] [--repeat 2]
                                          [--ten-minutes] [--no-write]

Prints one table and writes the section between `<!-- speed:start -->` and `<!-- speed:end -->` of
BENCHMARKS.md. Every figure is measured in this run; ratios compare runs made one after the other on
the same frames (other processes on the machine slow both sides alike, not always equally: the
load average is printed; run it twice to see how stable the figures are).

Clips: the real sample (samples/cam01.mp4, 100 frames 1080x1920 60 fps) and a long clip made from
it in .cache/bench/ (forward then reversed, so the person never jumps, re-timed to 30 fps, H.264
veryfast CRF 23, repeated by stream copy to 10 minutes = 18,000 frames 1080x1920); the long-clip
captures use its first --long-frames frames (--heavy-frames for heavy), the memory figure two lengths of it (and, with
--ten-minutes, all of it).

Definitions:
- bare landmarker loop: `Landmarker.detect` (BGR→RGB, MediaPipe VIDEO-mode inference, result arrays)
  timed alone on the same frames, decoded beforehand one at a time; steady state (frames 3+).
- one worker: `capture_video` as the headless command runs it with --workers 1 (decode, landmarker,
  track building, people count every 60 frames); steady state (progress from frame 3 on) and total
  (wall time from the call, landmarker initialisation included; MediaPipe already imported).
- parallel: `capture_parallel(workers=N)`; total = wall time from the call (worker processes'
  start-up, MediaPipe import and model load included), as a user waits for it.
- match: parallel vs one worker on the same frames: timestamps and detected flags equal; world
  landmarks' median |difference| after the segment boundaries, against the model's own frame-to-frame
  noise (median |second difference| of the one-worker track).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
SAMPLE = ROOT / "samples" / "cam01.mp4"
BENCH_MD = ROOT / "BENCHMARKS.md"
START, END = "<!-- speed:start -->", "<!-- speed:end -->"
PY = sys.executable


def load_package():
    """The repository root as the `video_mocap` package (cli.py's loader)."""
    import runpy

    return runpy.run_path(str(ROOT / "cli.py"))["load_package"]()


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def long_clip() -> Path:
    """10 minutes at 30 fps (18,000 frames, 1080x1920) from the sample; cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / "long_18000f_30fps.mp4"
    if out.exists():
        return out
    loop = CACHE / "pingpong_200f_30fps.mp4"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(SAMPLE), "-filter_complex",
                    "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0,setpts=N/(30*TB)[v]", "-map", "[v]",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", "30",
                    str(loop)], check=True)
    listing = CACHE / "pingpong_x90.txt"
    listing.write_text("".join(f"file '{loop.name}'\n" for _ in range(90)))
    tmp = out.with_suffix(".tmp.mp4")
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(tmp)], check=True)
    tmp.rename(out)
    return out


def system_busy_s() -> float:
    """CPU time all processes on the machine have used (Linux /proc/stat; NaN elsewhere)."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return float("nan")
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


class OtherLoad:
    """How many cores other processes kept busy while this one ran (our own threads and worker
    processes excluded)."""

    def __init__(self):
        self.t, self.busy, self.own = time.perf_counter(), system_busy_s(), own_cpu_s()

    def cores(self) -> float:
        wall = time.perf_counter() - self.t
        return max(0.0, (system_busy_s() - self.busy - (own_cpu_s() - self.own)) / wall) if wall > 0 else 0.0


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- parts, each run in its own process (python tools/bench_speed.py --part NAME --args JSON) ---------------

def part_bare(video: str, model: str, frames: int, start_at: float | None = None) -> dict:
    """The bare landmarker loop: `Landmarker.detect` (MediaPipe's detect_for_video and the result
    arrays) over RGB frames already decoded and converted in memory: the first min(frames, 150)
    frames, played forth and back (the motion stays continuous, as in a video) until `frames`
    detections; steady state (frames 3+). Run twice, as the OS places it and with the landmarker
    (and MediaPipe's threads) on one core as the capture runs it: the faster of the two is the bare
    figure. start_at: wait for this time.time() before the timed loop
    (two of these at once measure how the machine runs two landmarkers side by side).
    Also measured, untimed by the loop: the people check alone (every 60th frame), and the decoding
    alone (streamed as the capture decodes: one FFmpeg thread up to 1080p, one OpenCV thread, BGR→RGB
    into reused arrays): CPU ms per frame."""
    load_package()
    import cv2
    import mediapipe  # noqa: F401  (imported before any timing)
    import numpy as np

    from video_mocap.capture.landmarker import Landmarker, to_rgb
    from video_mocap.capture.models import resolve_model
    from video_mocap.capture.prefetch import core_pair, open_video, pinned
    cv2.setNumThreads(1)
    task = resolve_model(model)
    with open_video(video) as v:
        fps = v.info.fps
        held = [(i, to_rgb(f)) for i, f in v.frames(0, min(frames, 150))]
    order = held + held[::-1]
    people = []

    def loop():
        times = []
        with Landmarker(task) as lm:
            if start_at is not None:
                while time.time() < start_at:
                    time.sleep(0.001)
            c0, t0 = time.process_time(), time.perf_counter()
            for n in range(frames):
                _, frame = order[n % len(order)]
                t = time.perf_counter()
                lm.detect(frame, int(round(n * 1000 / fps)), rgb=True)
                times.append(time.perf_counter() - t)
            return times, time.process_time() - c0, time.perf_counter() - t0

    times, cpu, wall = loop()
    loose_fps = (len(times) - 2) / sum(times[2:])
    pinned_fps = float("nan")
    cores = core_pair()
    if start_at is None and cores:  # the same loop with the landmarker on one core, as the capture runs it
        with pinned(cores[0]):
            times_p, cpu_p, wall_p = loop()
        pinned_fps = (len(times_p) - 2) / sum(times_p[2:])
        if pinned_fps > loose_fps:
            times, cpu, wall = times_p, cpu_p, wall_p
    with Landmarker(task, num_poses=2, video=False) as counter:
        if start_at is None:
            for _index, frame in held[::60]:
                t = time.perf_counter()
                counter.count_people(frame, rgb=True)
                people.append(time.perf_counter() - t)
    out = {"bare_fps": (len(times) - 2) / sum(times[2:]), "bare_cpu_ms": 1000 * cpu / len(times),
           "bare_frames": len(times), "bare_wall_s": wall, "bare_loose_fps": loose_fps,
           "bare_pinned_fps": pinned_fps}
    if start_at is None:
        out["people_check_ms"] = 1000 * float(np.median(people[1:] if len(people) > 1 else people))
        del held, order
        with open_video(video) as v:
            out_buf = None
            c0 = time.process_time()
            n = 0
            for _, frame in v.frames(0, min(frames, 300), reuse=True):
                out_buf = to_rgb(frame, out_buf)
                n += 1
            out["decode_cpu_ms"] = 1000 * (time.process_time() - c0) / n
    return out


def bare_pair(video: str, model: str, frames: int) -> dict:
    """Two bare landmarker loops started together in two processes: their summed fps ÷ one loop's
    alone is what this machine gives two landmarkers side by side (no decoding, no overhead)."""
    start_at = time.time() + 8.0  # both processes have loaded their frames and models by then
    args = json.dumps({"video": video, "model": model, "frames": frames, "start_at": start_at})
    procs = [subprocess.Popen([PY, __file__, "--part", "bare", "--args", args], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, cwd=ROOT) for _ in range(2)]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"bare pair failed ({proc.returncode})")
        results.append(json.loads(lines[-1][len("RESULT "):]))
    # Both loops' frames over the time both ran (the slower one finishes last).
    return {"pair_fps": 2 * frames / max(r["bare_wall_s"] for r in results),
            "pair_each_fps": [r["bare_fps"] for r in results]}


def part_single(video: str, model: str, frames: int, save: str | None, one_core: bool = False) -> dict:
    """capture_video, the one-worker path (as the headless command runs it with --workers 1);
    one_core: the process (all its threads) pinned to one CPU, as a landmarker loop alone would use."""
    if one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load_package()
    import mediapipe  # noqa: F401  (imported before any timing, as in a running Blender after the first capture)

    from video_mocap.capture.segment import capture_video
    out = {}
    stamps = []
    others = OtherLoad()
    t0, c0 = time.perf_counter(), time.process_time()
    track = capture_video(video, model, stop=frames, progress=lambda d, t, f: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    out["others_cores"] = others.cores()
    out["single_cpu_ms"] = 1000 * (time.process_time() - c0) / len(track)
    out["single_total_fps"] = len(track) / wall
    out["single_fps"] = (len(stamps) - 3) / (stamps[-1] - stamps[2])
    out["single_first_s"] = stamps[0] - t0
    out["frames"] = len(track)
    out["rss_mb"] = peak_rss_mb()
    if save:
        track.save(save)
    return out


class MemorySampler:
    """Every 0.2 s: the summed RSS and PSS (proportional set size: shared pages split between the
    processes that map them) of this process and its children; keeps the maxima (Linux only)."""

    def __init__(self):
        import threading

        self.rss = self.pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _read(pid: int) -> tuple[float, float]:
        rss = pss = 0.0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1]) / 1024
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1]) / 1024
        except OSError:
            pass
        return rss, pss

    def _run(self):
        import multiprocessing

        while not self._stop.wait(0.2):
            pids = [os.getpid()] + [p.pid for p in multiprocessing.active_children()]
            values = [self._read(pid) for pid in pids]
            self.rss = max(self.rss, sum(v[0] for v in values))
            self.pss = max(self.pss, sum(v[1] for v in values))

    def stop(self):
        self._stop.set()
        self._thread.join()


def part_parallel(video: str, model: str, frames: int, workers: int, save: str | None,
                  min_frames_per_worker: int) -> dict:
    load_package()
    from video_mocap.capture.parallel import capture_parallel

    stamps = []
    sampler = MemorySampler()
    others = OtherLoad()
    t0 = time.perf_counter()
    track = capture_parallel(video, model, stop=frames, workers=workers,
                             progress=lambda d, t, f: stamps.append((time.perf_counter(), d)),
                             min_frames_per_worker=min_frames_per_worker)
    wall = time.perf_counter() - t0
    sampler.stop()
    others_cores = others.cores()
    stats = track.extra.get("parallel", {})
    ready = max((r for r in stats.get("ready_s", []) if r is not None), default=0.0)
    out = {"frames": len(track), "workers": track.extra.get("workers"), "total_fps": len(track) / wall,
           "wall_s": wall, "ready_s": ready,
           "after_startup_fps": len(track) / (wall - ready) if wall > ready else float("nan"),
           "segments": stats.get("segments"), "skip_ratio": stats.get("skip_ratio"), "seeked": stats.get("seeked"),
           "done_s": stats.get("done_s"), "skip_s": [w.get("skip_s", 0.0) for w in stats.get("workers", [])],
           "warm_rows": [w.get("warm_rows", 0) for w in stats.get("workers", [])],
           "process_s": [w.get("process_s", 0.0) for w in stats.get("workers", [])],
           "sum_rss_mb": sampler.rss, "sum_pss_mb": sampler.pss, "others_cores": others_cores,
           "parent_rss_mb": peak_rss_mb(),
           "worker_rss_mb": [w.get("maxrss_mb") for w in stats.get("workers", [])],
           "cpu_ms": 1000 * (sum(w.get("cpu_s", 0.0) for w in stats.get("workers", [])) + time.process_time())
           / len(track),
           "worker_modules": [w.get("foreign_modules") for w in stats.get("workers", [])]}
    if save:
        track.save(save)
    return out


def part_convergence(video: str, model: str) -> dict:
    """How many warm-up frames a restarted landmarker needs: error vs the one-worker track just after
    a restart at frame b, for warm-ups of W frames."""
    load_package()
    import numpy as np

    from video_mocap.capture.models import resolve_model
    from video_mocap.capture.segment import capture_segment, capture_video

    task = resolve_model(model)
    ref = capture_video(video, model, people_check_every=0).world_landmarks
    noise = float(np.median(np.abs(ref[2:] - 2 * ref[1:-1] + ref[:-2])))
    out = {"noise_mm": 1000 * noise, "rows": {}}
    for warm in (0, 2, 5, 10, 15, 30):
        first5, next15 = [], []
        for b in (40, 60, 80):
            seg = capture_segment(video, task, b - warm, b, b + 20).world_landmarks
            err = np.abs(seg - ref[b:b + 20])
            first5.append(np.median(err[:5]))
            next15.append(np.median(err[5:]))
        out["rows"][warm] = (1000 * float(np.mean(first5)), 1000 * float(np.mean(next15)))
    return out


def part_bake(frames: int, bones: int, repeat: int) -> dict:
    load_package()
    import bpy
    import numpy as np

    from video_mocap.blender.action import action_fcurves, key_rotations, new_action

    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = bpy.data.armatures.new("Bench")
    obj = bpy.data.objects.new("Bench", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for i in range(bones):
        b = arm.edit_bones.new(f"bone{i:02d}")
        b.head, b.tail = (0, 0, 0.1 * i), (0, 0.05, 0.1 * i + 0.1)
    bpy.ops.object.mode_set(mode="OBJECT")
    rng = np.random.default_rng(0)
    rotations = {}
    for i in range(bones):
        q = rng.normal(size=(frames, 4))
        rotations[f"bone{i:02d}"] = q / np.linalg.norm(q, axis=1, keepdims=True)
    times = []
    for r in range(repeat):
        t0 = time.perf_counter()
        action = new_action(obj, f"take{r}")
        key_rotations(action, obj, rotations, 1)
        times.append(time.perf_counter() - t0)
        curves = action_fcurves(action, obj)
        counts = {"curves": len(curves), "keys": sum(len(c.keyframe_points) for c in curves)}
        if r < repeat - 1:  # each bake starts as a user's does: not beside earlier 2.4M-key actions
            obj.animation_data.action = None
            bpy.data.actions.remove(action)
    return {"times_s": times, **counts}


def part_responsive(video: str, model: str, frames: int, workers: int, isolate: bool) -> dict:
    """The Blender operator's modal step, driven every 0.1 s on the main thread (as the timer does)
    while a CaptureJob runs; times each step() and the main thread's wake-up gaps (a 2 ms heartbeat:
    a gap is the longest the main thread could not run Python)."""
    load_package()
    import types

    import bpy

    import video_mocap
    from video_mocap.capture import job as job_module
    from video_mocap.capture.job import CaptureJob, CaptureRequest
    from video_mocap.capture.parallel import capture_parallel
    from video_mocap.operators.capture import VIDEO_MOCAP_OT_capture

    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    # What job.py does once it has a `workers` field (see BENCHMARKS.md): capture_parallel(workers=N).
    forced = lambda *a, **k: capture_parallel(*a, **{**k, "workers": workers, "isolate": isolate})  # noqa: E731
    job_module.capture_video = job_module.capture_parallel = forced  # before and after job.py uses capture_parallel
    context = bpy.context
    job = CaptureJob(CaptureRequest(video, model, None, 0, frames))
    finished = []
    from video_mocap.blender import jobs

    jobs.begin(context.scene, job)  # the operator's step polls the scene's registered job
    op = types.SimpleNamespace(job=job, scene_uid=context.scene.session_uid,
                               _finish=lambda scene, st: finished.append(st) or {"FINISHED"})
    steps, gaps = [], []

    def heartbeat(seconds):  # the same loop without a capture: what the OS scheduler alone gives
        out, end = [], time.perf_counter() + seconds
        prev = time.perf_counter()
        while prev < end:
            time.sleep(0.002)
            now = time.perf_counter()
            out.append(now - prev)
            prev = now
        return out

    idle = heartbeat(3.0)
    # The same heartbeat in a separate process: a gap it sees too is the OS scheduler (other processes on
    # the machine), not the capture holding this process's GIL.
    control = subprocess.Popen([PY, "-c", CONTROL_HEARTBEAT], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    control.stdout.readline()
    t_job = time.perf_counter()
    t_job_wall = time.time()
    job.start()
    tick = last = time.perf_counter()
    while not finished:
        now = time.perf_counter()
        gaps.append((now - last, now - t_job))
        last = now
        if now >= tick:
            t = time.perf_counter()
            VIDEO_MOCAP_OT_capture.step(op, context, "TIMER")
            steps.append(time.perf_counter() - t)
            tick += 0.1
            last = time.perf_counter()
        time.sleep(0.002)
    status = finished[0]
    control.stdin.close()
    control_gaps = [tuple(map(float, ln.split())) for ln in control.stdout.read().split("\n") if ln.strip()]
    control.wait()
    video_mocap.unregister()

    def explained(gap, at):  # the control process was kept waiting at least half as long at the same time
        start, end = t_job_wall + at - gap, t_job_wall + at
        return any(cg >= gap / 2 and ce - cg < end and ce > start for cg, ce in control_gaps)

    own = [(g, t) for g, t in gaps if not explained(g, t)]
    worst_own = max(own, default=(0.0, 0.0))
    if status.error is not None:
        raise status.error
    worst = max(gaps)
    return {"steps": len(steps), "step_max_ms": 1000 * max(steps), "step_mean_ms": 1000 * sum(steps) / len(steps),
            "gap_max_ms": 1000 * worst[0], "gap_max_at_s": worst[1], "gaps_over_50ms": sum(g > 0.05 for g, _ in gaps),
            "own_gap_max_ms": 1000 * worst_own[0], "own_gap_max_at_s": worst_own[1],
            "control_gap_max_ms": 1000 * max((g for g, _ in control_gaps), default=0.0),
            "idle_gap_max_ms": 1000 * max(idle), "idle_gaps_over_50ms": sum(g > 0.05 for g in idle),
            "wall_s": time.perf_counter() - t_job, "long_gaps": [(round(1000 * g), round(t, 2)) for g, t in gaps if g > 0.03],
            "frames": len(status.track), "workers": status.track.extra.get("workers"),
            "isolated": "parallel" in status.track.extra}


CONTROL_HEARTBEAT = """
import sys, time
print("ready", flush=True)
import threading
done = []
threading.Thread(target=lambda: (sys.stdin.read(), done.append(1)), daemon=True).start()
prev = time.time()
while not done:
    time.sleep(0.002)
    now = time.time()
    if now - prev > 0.02:
        print(now - prev, now, flush=True)
    prev = now
"""

PARTS = {"bare": part_bare, "single": part_single, "parallel": part_parallel, "convergence": part_convergence, "bake": part_bake,
         "responsive": part_responsive}


def run_part(name: str, **kwargs) -> dict:
    proc = subprocess.run([PY, __file__, "--part", name, "--args", json.dumps(kwargs)], capture_output=True,
                          text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"part {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# --- the whole benchmark --------------------------------------------------------------------------------

def match(single_npz: Path, parallel_npz: Path, segments) -> dict:
    load_package()
    import numpy as np

    from video_mocap.capture.track import PoseTrack

    a, b = PoseTrack.load(single_npz), PoseTrack.load(parallel_npz)
    same = (len(a) == len(b) and a.first_frame == b.first_frame and np.array_equal(a.timestamps_ms, b.timestamps_ms))
    bounds = [s[1] - a.first_frame for s in (segments or [])[1:]]
    x, y = a.world_landmarks, b.world_landmarks
    noise = float(np.median(np.abs(x[2:] - 2 * x[1:-1] + x[:-2])))
    after = np.concatenate([np.abs(y[s:] - x[s:]).ravel() for s in bounds[:1]]) if bounds else np.zeros(1)
    seam = [float(np.median(np.abs(y[s] - y[s - 1]))) for s in bounds]  # parallel track, across each boundary
    seam_single = [float(np.median(np.abs(x[s] - x[s - 1]))) for s in bounds]  # one-worker track, same frames
    steps = np.nanmedian(np.abs(np.diff(x, axis=0)), axis=(1, 2))
    step = float(np.nanpercentile(steps, 95))
    return {"same_frames_ts": bool(same), "detected_equal": float(np.mean(a.detected == b.detected)),
            "noise_mm": 1000 * noise, "diff_mm": 1000 * float(np.nanmedian(after)),
            "seam_mm": 1000 * max(seam, default=0.0), "seam_single_mm": 1000 * max(seam_single, default=0.0),
            "step_mm": 1000 * step,
            "before_identical": bool(bounds and np.array_equal(x[:bounds[0]], y[:bounds[0]], equal_nan=True))}


def round_figures(single: dict, par: dict, cores: int) -> dict:
    """The ratios of one round (bare, bare pair, one worker, parallel run one after the other)."""
    out = {"single": single, "par": par,
           "e2e_ratio": single["single_fps"] / single["bare_fps"],
           "par_ratio": par["total_fps"] / single["single_total_fps"],
           "par_ratio_steady": par["after_startup_fps"] / single["single_fps"],
           "people_share": single["people_check_ms"] / 60 * single["single_fps"] / 1000,
           "single_busy": single["single_cpu_ms"] * single["single_total_fps"] / 1000,
           "par_busy": par["cpu_ms"] * par["total_fps"] / 1000,
           "workers": par["workers"], "segments": par["segments"], "seeked": par["seeked"],
           "worker_rss": par["worker_rss_mb"], "worker_modules": par["worker_modules"]}
    if "pair_fps" in single:
        # What two workers could give at best on this machine: per frame, the landmarker's core time
        # when two run side by side (cores / pair fps), plus the decoding and the people check.
        landmarker_ms = 1000 * cores / single["pair_fps"]
        per_frame = landmarker_ms + single["decode_cpu_ms"] + single["people_check_ms"] / 60
        out["pair_scaling"] = single["pair_fps"] / single["bare_fps"]
        out["par_ceiling_fps"] = 1000 * cores / per_frame
        out["par_ceiling_ratio"] = out["par_ceiling_fps"] / single["single_fps"]
    return out


def median_round(reps: list[dict]) -> dict:
    """The round whose parallel ÷ one worker ratio is the median (its figures stay consistent with
    each other), with every ratio's range over the rounds."""
    ordered = sorted(reps, key=lambda r: r["par_ratio"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["ranges"] = {key: (min(r[key] for r in reps), max(r[key] for r in reps))
                     for key in ("e2e_ratio", "par_ratio", "par_ratio_steady", "pair_scaling", "par_ceiling_ratio")
                     if all(key in r for r in reps)}
    return row


def load_average() -> str:
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="lite,full,heavy")
    ap.add_argument("--long-frames", type=int, default=1800,
                    help="frames of the long clip for the capture figures (lite, full)")
    ap.add_argument("--memory-frames", type=int, default=3600,
                    help="a second, longer capture (full, parallel) to show memory does not grow with length")
    ap.add_argument("--heavy-frames", type=int, default=900, help="frames of the long clip for the heavy model")
    ap.add_argument("--responsive-frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of the long-clip capture comparison; the median round is shown (default 3)")
    ap.add_argument("--ten-minutes", action="store_true",
                    help="also capture all 18,000 frames of the long clip (full, parallel; ~5 min on 2 cores)")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--render-only", action="store_true", help="render the last run's figures again")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part:
        result = PARTS[args.part](**json.loads(args.args or "{}"))
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    if args.render_only:  # the last run's figures, rendered again (after a change of presentation)
        load_package()
        last = json.loads((CACHE / "last_run.json").read_text())
        last["conv"]["rows"] = {int(k): v for k, v in last["conv"]["rows"].items()}
        md = render(last["rows"], last["conv"], last["bake"], last["mem"], last["resp"], last["cores"],
                    last["loads"], last["elapsed"], argparse.Namespace(**last["args"]))
        print(md)
        if not args.no_write:
            write_section(md)
        return 0

    load_package()
    from video_mocap.capture.parallel import usable_cores

    args.cmd = "make bench" if not sys.argv[1:] else "tools/bench_speed.py " + " ".join(sys.argv[1:])

    cores = usable_cores()
    models = [m for m in args.models.split(",") if m]
    long = long_clip()
    loads = [load_average()]
    t_start = time.perf_counter()

    def say(text):
        print(text, file=sys.stderr, flush=True)

    rows = []
    for clip, path, frames_all in (("sample", SAMPLE, 100), ("long", long, args.long_frames)):
        for model in models:
            frames = args.heavy_frames if clip == "long" and model == "heavy" else frames_all  # heavy: 3x slower
            bare_frames = min(300, frames)
            reps = []
            for rep in range(args.repeat if clip == "long" else 1):
                # One round: every side measured one after the other, so that the ratios of a round
                # compare runs made under the same conditions; the median round is shown.
                s_npz, p_npz = CACHE / f"{clip}_{model}_single.npz", CACHE / f"{clip}_{model}_parallel.npz"
                bare = run_part("bare", video=str(path), model=model, frames=bare_frames)
                pair = bare_pair(str(path), model, bare_frames) if clip == "long" else {}
                single = {**bare, **pair,
                          **run_part("single", video=str(path), model=model, frames=frames, save=str(s_npz))}
                par = run_part("parallel", video=str(path), model=model, frames=frames, workers=cores,
                               save=str(p_npz), min_frames_per_worker=1)
                if clip == "long" and rep == 0 and hasattr(os, "sched_setaffinity"):
                    pinned = run_part("single", video=str(path), model=model, frames=frames, save=None, one_core=True)
                    single["one_core_fps"] = pinned["single_total_fps"]
                reps.append(round_figures(single, par, cores))
                reps[-1]["match"] = match(s_npz, p_npz, par["segments"])
                say(f"{clip} {model}: bare {single['bare_fps']:.1f} fps, pair {single.get('pair_fps', 0):.1f}, "
                    f"one worker {single['single_fps']:.1f} (total {single['single_total_fps']:.1f}, others "
                    f"{single['others_cores']:.2f} cores), {par['workers']} workers {par['total_fps']:.1f} fps "
                    f"(others {par['others_cores']:.2f} cores)")
            row = median_round(reps)
            row.update({"clip": clip, "model": model, "frames": frames, "repeats": len(reps),
                        "one_core_fps": reps[0]["single"].get("one_core_fps", float("nan"))})
            row["par_ratio_one_core"] = row["par"]["total_fps"] / row["one_core_fps"]
            rows.append(row)
    loads.append(load_average())

    say("warm-up needed after a restart (full, sample)…")
    conv = run_part("convergence", video=str(SAMPLE), model="full")
    say("bake…")
    bake = run_part("bake", frames=10_000, bones=60, repeat=3)
    say("memory…")
    mem = []
    for n in [args.memory_frames] + ([18000] if args.ten_minutes else []):
        r = run_part("parallel", video=str(long), model="full", frames=n, workers=cores, save=None,
                     min_frames_per_worker=90)
        r["date"] = datetime.date.today().isoformat()
        mem.append((n, r))
        if n == 18000:
            (CACHE / "ten_minutes.json").write_text(json.dumps(r))
        say(f"  {n} frames: parent {r['parent_rss_mb']:.0f} MB, workers {r['worker_rss_mb']}, "
            f"sum RSS {r['sum_rss_mb']:.0f}, PSS {r['sum_pss_mb']:.0f}")
    if not args.ten_minutes and (CACHE / "ten_minutes.json").exists():
        mem.append((18000, {**json.loads((CACHE / "ten_minutes.json").read_text()), "earlier": True}))
    say("responsiveness…")
    resp = []
    for w, isolate in ((1, False), (1, True), (cores, False)):
        r = run_part("responsive", video=str(long), model="full", frames=args.responsive_frames, workers=w,
                     isolate=isolate)
        resp.append(r)
        say(f"  workers {r['workers']} ({'worker processes' if r['isolated'] else 'in Blender'}): step max "
            f"{r['step_max_ms']:.1f} ms, main-thread gap max {r['gap_max_ms']:.1f} ms")
    loads.append(load_average())
    elapsed = time.perf_counter() - t_start

    (CACHE / "last_run.json").write_text(json.dumps({"rows": rows, "conv": conv, "bake": bake, "mem": mem,
                                                      "resp": resp, "cores": cores, "loads": loads,
                                                      "elapsed": elapsed, "args": vars(args)}))
    md = render(rows, conv, bake, mem, resp, cores, loads, elapsed, args)
    print(md)
    if not args.no_write:
        write_section(md)
        say(f"wrote {BENCH_MD}")
    return 0


def budget_text(r, cores) -> str:
    """The decoding cost per frame that would let two workers reach 1.7× (none when even free
    decoding would not: two bare landmarkers side by side are slower than 1.7× one worker)."""
    s = r["single"]
    budget = 1000 * cores / (1.7 * s["single_fps"]) - 1000 * cores / s["pair_fps"] - s["people_check_ms"] / 60
    if budget <= 0:
        return f"{r['model']} less than nothing (two bare landmarkers side by side give only " \
               f"{s['pair_fps'] / s['single_fps']:.2f}× one worker)"
    return f"{r['model']} {budget:.1f} ms"


def spread(values) -> float:
    values = [v for v in (values or []) if v is not None]
    return max(values) - min(values) if values else 0.0


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(rows, conv, bake, mem, resp, cores, loads, elapsed, args) -> str:
    from video_mocap.capture.parallel import MIN_FRAMES_PER_WORKER, SEEK_BEYOND, default_overlap

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    cmd = getattr(args, "cmd", "make bench")
    out = [f"Measured {datetime.date.today().isoformat()} with `{cmd}` (tools/bench_speed.py; "
           f"{elapsed / 60:.1f} min) on **{cores} usable cores** ({os.cpu_count()} CPUs, {cpu}), Python "
           f"{platform.python_version()}. Other processes were running: load average (1/5/15 min) "
           f"{loads[0]} at the start, {loads[1]} after the captures, {loads[2]} at the end. "
           f"Long-clip capture figures: the median of {args.repeat} rounds (a round measures every side one "
           f"after the other; the round shown is the one with the median parallel ratio, ranges over the rounds "
           f"in brackets). Clips: the sample (100 frames, 1080x1920, 60 fps) and the first {args.long_frames} "
           f"frames of the long clip ({getattr(args, 'heavy_frames', args.long_frames // 2)} for heavy; 1080x1920, 30 fps, H.264). "
           f"How each figure is measured: the docstring of tools/bench_speed.py.", ""]

    def rng(r, key, fmt="{:.2f}"):
        lo_hi = r.get("ranges", {}).get(key)
        return "" if not lo_hi or r["repeats"] < 2 else f" ({fmt.format(lo_hi[0])}–{fmt.format(lo_hi[1])})"

    out += ["### Capture speed", "",
            "| clip | model | bare landmarker fps (best of: placed by the OS / on one core) | one worker fps: steady / total | one worker ÷ bare | people check "
            "| decoding (CPU ms per frame) | workers | parallel fps: total / after start-up "
            "| parallel ÷ one worker: total / steady | two bare landmarkers at once ÷ one | parallel ceiling "
            "÷ one worker | one worker pinned to one core: fps / parallel ÷ it "
            "| CPU ms per frame: bare / one worker / parallel | cores busy: one worker / parallel "
            "| other processes' load (cores): one worker / parallel run |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: |"]
    for r in rows:
        s, p = r["single"], r["par"]
        pinned = r.get("one_core_fps", float("nan"))
        one = "–" if math.isnan(pinned) else f"{pinned:.1f} / {r['par_ratio_one_core']:.2f}"
        pair = f"{r['pair_scaling']:.2f}{rng(r, 'pair_scaling')}" if "pair_scaling" in r else "–"
        ceiling = f"{r['par_ceiling_ratio']:.2f}{rng(r, 'par_ceiling_ratio')}" if "par_ceiling_ratio" in r else "–"
        loose_pinned = f"{s.get('bare_loose_fps', float('nan')):.1f} / {s.get('bare_pinned_fps', float('nan')):.1f}"
        out.append(f"| {r['clip']} ({r['frames']}) | {r['model']} | {s['bare_fps']:.1f} ({loose_pinned}) | {s['single_fps']:.1f} / "
                   f"{s['single_total_fps']:.1f} | {r['e2e_ratio']:.2f}{rng(r, 'e2e_ratio')} | "
                   f"{s['people_check_ms']:.0f} ms per 60 frames = {100 * r['people_share']:.1f} % | "
                   f"{s['decode_cpu_ms']:.1f} | {r['workers']} | {p['total_fps']:.1f} / "
                   f"{p['after_startup_fps']:.1f} | {r['par_ratio']:.2f}{rng(r, 'par_ratio')} / "
                   f"{r['par_ratio_steady']:.2f}{rng(r, 'par_ratio_steady')} | {pair} | {ceiling} | {one} | "
                   f"{s['bare_cpu_ms']:.1f} / {s['single_cpu_ms']:.1f} / {p['cpu_ms']:.1f} | "
                   f"{r['single_busy']:.2f} / {r['par_busy']:.2f} | {s['others_cores']:.2f} / {p['others_cores']:.2f} |")
    out += ["", "The people check runs in the decoding thread, beside the landmarker (its cost shows in the CPU "
            "per frame, not in the one-worker fps when a core is free). Parallel ceiling: the fastest two "
            "workers could go on this machine, from the figures of the same round: per frame, the landmarker's "
            "core time when two run side by side (cores ÷ the fps of two bare loops at once), plus the decoding "
            "and the people check; ÷ the one-worker fps."]
    out += ["", f"Parallel on the 100-frame sample is forced here; by default a worker gets at least "
            f"{MIN_FRAMES_PER_WORKER} frames, so the sample runs on one worker (start-up of a worker process: "
            f"{min(r['par']['ready_s'] for r in rows):.1f}-{max(r['par']['ready_s'] for r in rows):.1f} s until its "
            f"landmarker is ready).", ""]

    out += ["### Parallel = one worker?", "",
            "| clip | model | frames, order, timestamps | detected flags equal | first segment | median \\|Δ\\| world "
            "landmarks after the boundary | model's own noise: median \\|2nd difference\\| | step across the seam: "
            "parallel / one worker / one worker's 95th percentile | segments (warm-up start, start, stop) | seeked "
            "(checked) |",
            "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        m = r["match"]
        out.append(f"| {r['clip']} | {r['model']} | {'identical' if m['same_frames_ts'] else '**different**'} | "
                   f"{100 * m['detected_equal']:.0f} % | {'bit-identical' if m['before_identical'] else 'different'} | "
                   f"{m['diff_mm']:.1f} mm | {m['noise_mm']:.1f} mm | {m['seam_mm']:.1f} / {m['seam_single_mm']:.1f} / "
                   f"{m['step_mm']:.1f} mm | "
                   f"{r['segments']} | {r['seeked']} |")
    out += ["", f"Warm-up after a restart (full, sample, restarts at frames 40, 60, 80): median \\|Δ\\| of the world "
            f"landmarks against the one-worker track; the model's own noise is {conv['noise_mm']:.1f} mm.", "",
            "| warm-up frames | first 5 frames after the restart | next 15 frames |", "| ---: | ---: | ---: |"]
    out += [f"| {warm} | {a:.1f} mm | {b:.1f} mm |" for warm, (a, b) in conv["rows"].items()]
    out += ["", f"Default overlap: max(15 frames, 0.25 s) ({default_overlap(30)} at 30 fps, {default_overlap(60)} at "
            f"60 fps). A later worker seeks to its warm-up start when it has more than {SEEK_BEYOND} frames before it "
            f"(checked: its warm-up frames must have the container times and pixel fingerprints of the previous "
            f"worker's last frames, else that segment is captured again, decoding from the start)."]

    bt = bake["times_s"]
    out += ["", "### Bake", "",
            f"`blender/action.py` `key_rotations` (keyframe_points.add + foreach_set per F-curve) of 60 bones × "
            f"10,000 frames of quaternions into a new Action ({bake['curves']} F-curves, {bake['keys']:,} keys): "
            f"{', '.join(f'{t:.2f} s' for t in bt)}" + (f" ({bake['note']})" if bake.get("note") else "") + "."]

    out += ["", "### Memory (peak, whole capture)", "",
            "| run | one-worker process RSS | parallel: parent RSS | workers RSS | sum of RSS | sum of PSS |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['clip']} {r['frames']} frames, {r['model']} | {r['single']['rss_mb']:.0f} MB | "
                   f"{r['par']['parent_rss_mb']:.0f} MB | {' + '.join(f'{v:.0f}' for v in r['worker_rss'])} MB | "
                   f"{r['par']['sum_rss_mb']:.0f} MB | {r['par']['sum_pss_mb']:.0f} MB |")
    for n, m in mem:
        when = f" (measured {m['date']} with --ten-minutes)" if m.get("earlier") else ""
        out.append(f"| long {n} frames ({n / 1800:.1f} min), full{when} | | {m['parent_rss_mb']:.0f} MB | "
                   f"{' + '.join(f'{v:.0f}' for v in m['worker_rss_mb'])} MB | {m['sum_rss_mb']:.0f} MB | "
                   f"{m['sum_pss_mb']:.0f} MB |")
    out += ["", "RSS counts the shared libraries and model pages in every process that maps them; PSS shares them "
            "out, so the sum of PSS is the memory the capture really occupies. Frames are streamed (at most a few "
            "decoded frames per process); the track grows by 1.1 KB per frame (20 MB for 10 minutes at 30 fps)."]

    out += ["", f"### Blender responsiveness ({args.responsive_frames} frames, full)", "",
            "The operator's modal `step()` driven every 0.1 s on the main thread (as its timer does) while a "
            "`CaptureJob` runs; a 2 ms heartbeat on the main thread measures the longest time it could not run "
            "(GIL held by the capture thread, or the OS).", "",
            "| workers | MediaPipe runs | steps | longest step() | mean step() | longest main-thread gap (at s) | "
            "gaps > 50 ms | longest gap not seen by a control process (at s) | control process: longest gap | "
            "same loop before the capture: longest gap |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in resp:
        where = "in worker processes" if r["isolated"] else "in Blender's process (capture thread)"
        out.append(f"| {r['workers']} | {where} | {r['steps']} | {r['step_max_ms']:.1f} ms | {r['step_mean_ms']:.2f} ms | "
                   f"{r['gap_max_ms']:.0f} ms ({r['gap_max_at_s']:.1f}) | {r['gaps_over_50ms']} | "
                   f"{r['own_gap_max_ms']:.0f} ms ({r['own_gap_max_at_s']:.1f}) | {r['control_gap_max_ms']:.0f} ms | "
                   f"{r['idle_gap_max_ms']:.0f} ms |")

    out += ["", "### Targets", ""]
    longs = [r for r in rows if r["clip"] == "long"] or rows

    def per_model(values, ok):
        return ", ".join(f"{r['model']} {v} ({'met' if good else 'not met'})" for r, v, good in zip(longs, values, ok))

    ok1 = [r["e2e_ratio"] >= 0.95 for r in longs]
    out.append("- **One worker ≥ 0.95 × bare landmarker** (long clip, steady state): "
               + per_model([f"{r['e2e_ratio']:.2f}" for r in longs], ok1) + "."
               + " The landmarker runs on a core of its own, the decoding (with the conversion to RGB and the "
                 "people count) in a thread pinned to the other core (capture/prefetch.py)."
               + ("" if all(ok1) else " That hides the "
                  "decoding's time, not all of its cost: the landmarker runs slower while the other core decodes "
                  "(shared caches and memory; the same happens with two landmarkers side by side: "
                  + ", ".join(f"{r['model']} {r['pair_scaling'] / 2:.2f}" for r in longs if "pair_scaling" in r)
                  + " of one alone's speed each); the lighter the model, the larger the decoding's share ("
                  + ", ".join(f"{r['model']} {r['single']['decode_cpu_ms']:.1f} ms decoding per "
                              f"{1000 / r['single']['bare_fps']:.1f} ms of landmarker" for r in longs) + ")."))
    ok2 = [r["par_ratio"] >= 1.7 for r in longs]
    why = []
    if not all(ok2) and all("par_ceiling_ratio" in r for r in longs):
        short = [r for r in longs if r["par_ceiling_ratio"] < 1.7]
        why.append(" Why: a frame costs the landmarker's time plus its decoding; one worker hides the decoding on "
                   "the second core, two workers must each pay it on their own core. From the same rounds' "
                   "figures, the most two workers could give here is "
                   + ", ".join(f"{r['model']} {r['par_ceiling_ratio']:.2f}×" for r in longs)
                   + " the one-worker speed (two bare landmarkers at once give "
                   + ", ".join(f"{r['model']} {r['pair_scaling']:.2f}×" for r in longs)
                   + " one alone, before any decoding).")
        if short:
            why.append(" For " + ", ".join(r["model"] for r in short) + " that ceiling is under 1.7×: it would "
                       "take the decoding of a 1080x1920 H.264 frame costing at most "
                       + ", ".join(budget_text(r, cores) for r in short)
                       + " of CPU; it costs " + ", ".join(f"{r['single']['decode_cpu_ms']:.1f} ms" for r in short)
                       + " (FFmpeg's H.264 decoder on one thread, and the conversion to RGB).")
        why.append(" The parallel capture reaches " + ", ".join(
            f"{r['model']} {r['par_ratio'] / r['par_ceiling_ratio']:.0%}" for r in longs)
                   + " of the ceiling, start-up included; the rest is what splitting costs, per run: "
                   + "; ".join(f"{r['model']} {r['par']['wall_s']:.1f} s in all, start-up {r['par']['ready_s']:.1f} s, "
                               f"the later worker's seek {max(r['par'].get('skip_s') or [0.0]):.1f} s (decoding from "
                               f"the keyframe before its warm-up), warm-up {sum(r['par'].get('warm_rows') or [0])} "
                               f"frames, workers finishing {spread(r['par'].get('done_s')):.1f} s apart"
                               for r in longs) + ". These are fixed costs: on a longer clip they weigh less.")
        why.append(" Against one worker pinned to one core (decoding in turn with the landmarker), parallel is "
                   + ", ".join(f"{r['model']} {r['par_ratio_one_core']:.2f}×" for r in longs) + ".")
    out.append(f"- **Parallel ≥ 1.7 × one worker on {cores} cores** (long clip, total time, start-up included): "
               + per_model([f"{r['par_ratio']:.2f}" for r in longs], ok2) + "." + "".join(why))
    out.append(f"- **Bake 10,000 frames × 60 bones < 1 s**: {max(bt):.2f} s at worst — {verdict(max(bt) < 1.0)}.")
    biggest = max(mem, key=lambda nm: nm[0])
    single_rss = max(r["single"]["rss_mb"] for r in rows)
    by_model = {}
    for r in rows:
        worst = by_model.setdefault(r["model"], [0.0, 0.0])
        worst[0], worst[1] = max(worst[0], r["par"]["sum_rss_mb"]), max(worst[1], r["par"]["sum_pss_mb"])
    out.append(f"- **Peak RSS < 1 GB**: one worker (one process) at most {single_rss:.0f} MB "
               f"({'met' if single_rss < 1024 else 'not met'}); {cores} workers, summed over the processes, RSS / PSS: "
               + ", ".join(f"{m} {v[0]:.0f} / {v[1]:.0f} MB ({'met' if v[0] < 1024 else 'met by PSS only' if v[1] < 1024 else 'not met'})"
                           for m, v in by_model.items())
               + f"; memory does not grow with the length: {biggest[0]} frames ({biggest[0] / 1800:.1f} min at 30 fps), "
               f"full, {biggest[1]['sum_rss_mb']:.0f} / {biggest[1]['sum_pss_mb']:.0f} MB. Summed RSS counts the "
               f"libraries and model pages the processes share once per process; PSS is what they occupy.")
    worst_step = max(r["step_max_ms"] for r in resp)
    worst_gap = max(r["gap_max_ms"] for r in resp)
    out.append(f"- **Main thread never busy > 100 ms**: longest step() {worst_step:.1f} ms, longest gap "
               f"{worst_gap:.0f} ms — {verdict(worst_step < 100 and worst_gap < 100)}.")
    return "\n".join(out)


def write_section(md: str) -> None:
    block = f"{START}\n## Speed\n\n{md}\n{END}\n"
    text = BENCH_MD.read_text() if BENCH_MD.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    BENCH_MD.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
