"""Batch throughput (issue 15): one worker vs two local workers vs a Dask cluster (scheduler + two workers on
this machine), and the re-run of a finished batch. Prints one table and the ratios for BENCHMARKS.md.

    .venv/bin/python tools/bench_batch.py [--clips 8] [--frames 30] [--height 0] [--format fbx,npz]

Clips: --clips cuts of samples/cam01.mp4, --frames frames each (--height N scales them to N pixels high;
0 = the sample's 1080×1920). Every run starts from an empty output folder and includes starting the
worker processes; the Dask cluster is started before its run (not timed) and its workers start their
Blender worker processes inside the timed run, like the local pool.
Targets: 2 local workers ≥ 1.8× one worker; Dask ≥ 0.95× the local pool; a re-run < 10 % of the first run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "cam01.mp4"


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clips(folder: Path, count: int, frames: int, height: int) -> list[Path]:
    clips = []
    for i in range(count):
        dst = folder / f"clip{i:02d}.mp4"
        start = (i * 7) % max(1, 100 - frames) / 60.0
        vf = ["-vf", f"scale=-2:{height}"] if height else []
        subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-ss", f"{start:.3f}", "-i", str(SAMPLE),
                        "-frames:v", str(frames), *vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                        "-pix_fmt", "yuv420p", "-an", str(dst)], check=True)
        clips.append(dst)
    return clips


def run_batch(inputs: Path, out: Path, fmt: str, *extra) -> tuple[float, list[dict]]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "batch", str(inputs), "--out-dir", str(out),
                           "--format", fmt, "--quiet", *map(str, extra)], capture_output=True, text=True)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    records = [json.loads(x) for x in (out / "batch.jsonl").read_text().splitlines()]
    return seconds, records, cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, workers: int, logs: Path):
        dask = str(Path(sys.executable).parent / "dask")
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.procs = []
        self.logs = []

        def start(name, *args):
            log = open(logs / f"{name}.log", "w")
            self.logs.append(log)
            self.procs.append(subprocess.Popen([dask, *args], stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
        for k in range(workers):
            start(f"worker{k}", "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard")
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in self.logs:
            log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--height", type=int, default=0, help="scale the clips to this height (0: as the sample)")
    ap.add_argument("--format", default="fbx,npz")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="bench-batch-blender-"))
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        clips = work / "clips"
        clips.mkdir()
        make_clips(clips, args.clips, args.frames, args.height)
        rows = []

        def measure(label, out, *extra):
            seconds, records, cpu = run_batch(clips, work / out, args.format, *extra)
            statuses = sorted({r["status"] for r in records})
            videos_per_min = 60 * len(records) / seconds
            phases = {}
            for r in records:
                for k, v in (r.get("timings") or {}).items():
                    phases[k] = phases.get(k, 0.0) + v / len(records)
            rows.append((label, seconds, videos_per_min, ",".join(statuses)))
            cpu_note = f"  CPU {cpu:6.1f} s ({cpu / seconds:.2f} cores)" if not extra[:1] == ("--scheduler",) else ""
            print(f"{label:30s} {seconds:7.1f} s  {videos_per_min:6.1f} videos/min{cpu_note}  "
                  f"per video: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) +
                  f"  [{','.join(statuses)}]", flush=True)
            return seconds

        one = measure("local, 1 worker", "one", "--workers", "1")
        two = measure("local, 2 workers", "two", "--workers", "2")
        rerun = measure("re-run of the 2-worker batch", "two", "--workers", "2")
        cluster = Cluster(2, work)
        try:
            dask = measure("Dask, scheduler + 2 workers", "dask", "--scheduler", cluster.address)
        finally:
            cluster.close()
        print()
        with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as fh:
            load = fh.read().split()[:3]
        print(f"load average at the end: {' '.join(load)} (other work on the machine skews the ratios)")
        print(f"clips: {args.clips} × {args.frames} frames of {SAMPLE.name}"
              f"{f' scaled to {args.height} px high' if args.height else ' (1080×1920)'}, formats {args.format}, "
              f"{os.cpu_count()} CPUs")
        print(f"2 local workers / 1 worker throughput: {one / two:.2f}×  (target ≥ 1.8)")
        print(f"Dask / local pool (2 workers) throughput: {two / dask:.2f}×  (target ≥ 0.95)")
        print(f"re-run / first run time: {100 * rerun / two:.1f} %  (target < 10 %)")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
