"""Capture speed with several people (issue 18): 1, 2 and 4 people in view, captured as one person
(the default: a one-pose landmarker until a second person shows up) and with --people N.

    .venv/bin/python tools/bench_people.py [--frames 60] [--model full] [--workers 1]

Clips (made in .cache/fixtures/people by tools/make_two_people.py, plus a 4-person one made here): one
person (right.mp4, 544x960), two side by side (side_by_side.mp4, 1084x960), four side by side
(the Pose2Sim cam03 and cam04 clips and their mirror images, 272x480 each: four_people.mp4, 1088x480).
MediaPipe's pose detector finds at most two of the four people of the four-person clip (its detector is
made for one or two prominent people), so '--people 4' there costs what four would but finds two.
The sample (samples/cam01.mp4) has a second, small person at the back: the default switches to two poses.
Figures: steady fps (progress from frame 3 on) and total wall time (landmarker start included),
one worker unless --workers; the machine's load average is printed (other processes slow both sides).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))


def four_people(out: Path, frames: int) -> Path:
    import cv2
    from make_two_people import DATA, _frames, _write

    path = out / "four_people.mp4"
    if path.exists():
        return path
    a, fps = _frames(DATA / "cam03.mp4", 480, frames)
    b, _ = _frames(DATA / "cam04.mp4", 480, frames)
    n = min(len(a), len(b))
    _write(path, [np.hstack([a[t], b[t], cv2.flip(a[t], 1), cv2.flip(b[t], 1)]) for t in range(n)], fps)
    return path


def run(clip: Path, frames: int, model: str, workers: int, people: int) -> dict:
    from video_mocap.capture.parallel import capture_parallel
    from video_mocap.capture.people import split_people

    marks = {}

    def progress(done, total, fps):
        marks.setdefault(done, time.perf_counter())

    t0 = time.perf_counter()
    track = capture_parallel(clip, model, stop=frames, workers=workers, people=people, progress=progress)
    wall = time.perf_counter() - t0
    done = sorted(marks)
    steady = ((done[-1] - 3) / (marks[done[-1]] - marks[3])) if 3 in marks and done[-1] > 3 else float("nan")
    takes = split_people(track) if people > 1 else [track]
    return {"wall_s": wall, "total_fps": len(track) / wall, "steady_fps": steady, "takes": len(takes),
            "found": track.extra.get("people_found", len(takes)), "switched": track.extra.get("people_switched")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--model", default="full")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    import cli

    cli.load_package()
    from make_two_people import OUT, make

    clips = make()
    clips["four"] = four_people(OUT, args.frames)
    clips["sample"] = REPO / "samples" / "cam01.mp4"
    cases = [("one", "right", 1), ("one", "right", 2), ("two", "side_by_side", 1), ("two", "side_by_side", 2),
             ("four", "four", 1), ("four", "four", 4), ("one + a small one behind", "sample", 1)]
    run(clips["right"], 8, args.model, 1, 1)  # MediaPipe imported and loaded once before measuring
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores); {args.frames} frames, {args.model}, "
          f"{args.workers} worker(s)")
    print("| people in view | clip | --people | steady fps | total fps | wall s | takes | people found | "
          "switched to two poses at |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, clip, people in cases:
        r = run(clips[clip], args.frames, args.model, args.workers, people)
        print(f"| {label} | {Path(clips[clip]).name} | {people} | {r['steady_fps']:.1f} | {r['total_fps']:.1f} | "
              f"{r['wall_s']:.1f} | {r['takes']} | {r['found']} | {r['switched'] or '-'} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
