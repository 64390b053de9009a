"""Capture speed with hands (issue 14): body only and with --hands, interleaved (A, B, A, B …) so that
both see the same machine load, and the ratio with hands ÷ body only (the target: ≥ 0.6).

    .venv/bin/python tools/bench_hands.py [--frames 100] [--model full] [--rounds 2] [--clips sample cam02]

One worker in this process (capture_video: the landmarker and the decoding pinned each to a core; the
hands in a thread a side, a few frames behind the body). Figures per run: steady fps (progress from frame 3
on: the landmarkers' start left out), CPU ms per frame (this process, every thread) split by where the
threads may run (the body's core, the decoding's core, any core: the hands), and the load average; the
ratio is of the medians of steady fps. Palm detector runs: HandTracker's count (calls of a side's
landmarker while it tracked no hand). Other processes on the machine slow both sides unevenly, so
the table also gives what the threads' CPU allows on two free cores: a frame takes max(body, decoding,
all / 2) (the hands' threads fill whichever core has room).
Clips: the sample (samples/cam01.mp4) and the Pose2Sim demo's cam02 (../shared/data/pose2sim_demo,
or $MOCAP_POSE2SIM), both 1080x1920, both hands in view.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
POSE2SIM = Path(os.environ.get("MOCAP_POSE2SIM", REPO.parent / "shared" / "data" / "pose2sim_demo"))
CORES = sorted(os.sched_getaffinity(0))[::-1][:2]  # as capture/prefetch.core_pair: (landmarker, decoding)
CLIPS = {"sample": REPO / "samples" / "cam01.mp4", "cam02": POSE2SIM / "cam02.mp4"}


def threads_cpu() -> dict[int, tuple[str, float]]:
    """{thread id: (role, CPU seconds so far)} of this process's threads, the role from where the thread
    may run (Linux): 'body' (the landmarker's core), 'decode' (the decoding's), 'hands' (any core)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            cpus = os.sched_getaffinity(int(tid))
        except OSError:
            continue
        role = "body" if cpus == {CORES[0]} else "decode" if cpus == {CORES[1]} else "hands"
        out[int(tid)] = role, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def role_ms(before: dict, after: dict, frames: int) -> dict[str, float]:
    """CPU ms per frame by role between two threads_cpu() (threads started meanwhile count from 0)."""
    out = {"body": 0.0, "decode": 0.0, "hands": 0.0}
    for tid, (role, cpu) in after.items():
        out[role] += 1000 * (cpu - before.get(tid, (role, 0.0))[1]) / frames
    return out


def run(clip: Path, frames: int, model: str, hands: bool) -> dict:
    from video_mocap.capture.segment import capture_video

    marks = {}

    def progress(done, total, fps):
        if done in (3, frames - 10):  # the decoding thread ends a few frames before the capture
            marks.setdefault(done, (time.perf_counter(), time.process_time(), threads_cpu()))

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    track = capture_video(clip, model, stop=frames, hands=hands, people_check_every=0, progress=progress)
    wall = time.perf_counter() - t0
    done = sorted(marks)
    (w0, c0, t0), (w1, c1, t1) = marks[3], marks[done[-1]]
    n = done[-1] - 3
    found = np.isfinite(track.hand_presence).sum(axis=0).tolist() if hands else [0, 0]
    role = role_ms(t0, t1, n)
    # Two free cores: the body's threads on one, the decoding on the other, the hands' wherever there is room.
    ideal_ms = max(role["body"], role["decode"], sum(role.values()) / 2)
    return {"fps": n / (w1 - w0), "cpu_ms": 1000 * (c1 - c0) / n, "wall_s": wall, "load": load,
            "frames": len(track), "hands_found": sum(found), "found_sides": found, "stats": track.extra.get("hands", {}),
            "role_ms": role,
            "ideal_fps": 1000 / ideal_ms if ideal_ms > 0 else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=100, help="at least 20")
    ap.add_argument("--model", default="full")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    args = ap.parse_args()
    if args.frames < 20:
        ap.error("--frames must be at least 20 (the steady rate is measured from frame 3 to frames - 10)")
    import cli

    cli.load_package()
    clips = {name: CLIPS[name] for name in args.clips if CLIPS[name].is_file()}
    for name in set(args.clips) - set(clips):
        print(f"{name}: {CLIPS[name]} not found, left out")
    if not clips:
        sys.exit("No clip to measure.")
    run(next(iter(clips.values())), 20, args.model, True)  # MediaPipe imported and the models read once
    print(f"{args.frames} frames, {args.model}, one worker, {args.rounds} rounds (body only, with hands, …); "
          f"2 cores; load average before: {os.getloadavg()[0]:.2f}")
    print("| clip | run | body only fps | CPU ms/frame (body+decode) | with hands fps | CPU ms/frame "
          "(body+decode+hands) | ratio | 2 free cores: fps body only / with hands, ratio | hands found (left, right) | "
          "palm detector runs | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    summary = []
    for name, clip in clips.items():
        body, both = [], []
        for r in range(args.rounds):
            a = run(clip, args.frames, args.model, False)
            b = run(clip, args.frames, args.model, True)
            body.append(a)
            both.append(b)
            ra, rb = a["role_ms"], b["role_ms"]
            print(f"| {name} | {r + 1} | {a['fps']:.1f} | {a['cpu_ms']:.0f} ({ra['body']:.0f}+{ra['decode']:.0f}) | "
                  f"{b['fps']:.1f} | {b['cpu_ms']:.0f} ({rb['body']:.0f}+{rb['decode']:.0f}+{rb['hands']:.0f}) | "
                  f"{b['fps'] / a['fps']:.2f} | {a['ideal_fps']:.1f} / {b['ideal_fps']:.1f}, "
                  f"{b['ideal_fps'] / a['ideal_fps']:.2f} | {b['hands_found']}/{2 * b['frames']} "
                  f"({b['found_sides'][0]}, {b['found_sides'][1]}) | {b['stats'].get('palm_runs', '?')} | "
                  f"{a['load']:.2f}–{b['load']:.2f} |", flush=True)
        fa = statistics.median(x["fps"] for x in body)
        fb = statistics.median(x["fps"] for x in both)
        ia = statistics.median(x["ideal_fps"] for x in body)
        ib = statistics.median(x["ideal_fps"] for x in both)
        summary.append((name, fa, fb, ia, ib))
    for name, fa, fb, ia, ib in summary:
        print(f"{name}: measured: body only {fa:.1f} fps, with hands {fb:.1f} fps: ratio {fb / fa:.2f} "
              f"({'meets' if fb / fa >= 0.6 else 'misses'} ≥ 0.6); from the threads' CPU on 2 free cores: "
              f"{ia:.1f} / {ib:.1f} fps, ratio {ib / ia:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
