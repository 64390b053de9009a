"""Many videos at once: `cli.py batch INPUT... --out-dir DIR` (issue 15). A front end like cli.py.

    .venv/bin/python cli.py batch INPUT... --out-dir DIR [--format fbx,npz] [--workers N] [--force]
                              [--scheduler tcp://HOST:PORT] [--base DIR] [--report FILE] [single-video options]

INPUT: video files, folders (searched recursively for video files), globs (quoted: 'clips/**/*.mp4'),
or a text file (.txt / .lst / .list) listing one path per line (relative to the list's folder; `#`
comments). Outputs: DIR/<path of the video relative to its input, or to --base>.<ext> for every
--format (bvh, fbx, blend, npz = landmark cache, png = contact sheet), each written under a temporary
name in the same folder and renamed when all of a video's outputs are done: an interrupted batch never
leaves a half file. Beside them DIR/<…>.mocap.json records what made them (video size and mtime, the
options' hash), so running the same command again skips finished videos (--force redoes them).

Per video the work is the single-video command's: pipeline.capture → blender apply_track → exports.
Videos run in worker processes (one landmarker and one Blender each; `--workers N`, default the usable
cores; each video's own capture then uses one process), or on a Dask cluster (`--scheduler`).
The report DIR/batch.jsonl has one JSON object per video. Exit 0 when none failed, 1 otherwise,
2 for bad arguments.

This module imports only the standard library at load time: it is also the worker process's script
(`python batch.py --worker`: reads jobs as JSON lines on stdin, answers JSON lines).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VIDEO_EXTS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                        ".mts", ".m2ts", ".ts", ".3gp", ".ogv", ".mxf"})
LIST_EXTS = frozenset({".txt", ".lst", ".list"})
FORMATS = ("bvh", "fbx", "blend", "npz", "png")
BAKED = frozenset({"bvh", "fbx", "blend", "png"})   # formats that need Blender
DEFAULT_FORMATS = "fbx,npz"
SIDECAR = ".mocap.json"
PARTIAL = ".partial"                                 # temporary outputs: .<name>.<token>.partial<ext>
REPORT_NAME = "batch.jsonl"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The single-video options (cli.build_parser) all change what a video's outputs contain, but these:
NOT_HASHED = frozenset({"workers", "quiet", "verbose", "help"})


class UsageError(Exception):
    """Bad arguments: exit 2."""


# ----------------------------------------------------------------------------------------------
# Plan (pure: no bpy, no MediaPipe)

@dataclass
class Item:
    video: str                 # absolute path
    rel: str                   # output name without extension, relative to DIR (posix)
    error: str | None = None   # a listed path that does not exist: recorded as failed


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _glob_base(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard."""
    parts = Path(pattern).parts
    base = []
    for part in parts:
        if _is_glob(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _videos_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS
                  and not p.name.startswith("."))


def _strip(rel: Path) -> str:
    return rel.with_suffix("").as_posix()


def expand_inputs(inputs: list[str], base: str | None = None, cwd: str | None = None) -> list[Item]:
    """INPUT arguments → the videos, each with its output name. Raises UsageError for an input that
    does not exist, matches nothing, or two videos that would write the same outputs."""
    cwd_path = Path(cwd or os.getcwd())
    items: list[Item] = []

    def add(path: Path, rel: Path, error: str | None = None):
        items.append(Item(str(path.resolve() if not error else path), _strip(rel), error))

    def expand(text: str, origin: Path, listed: bool) -> None:
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = origin / path
        if _is_glob(text):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            root = _glob_base(str(path))
            found = False
            for m in matches:
                if m.is_dir():
                    for v in _videos_under(m):
                        add(v, v.relative_to(root))
                        found = True
                elif m.is_file() and (m.suffix.lower() in VIDEO_EXTS or m.suffix.lower() == ".npz"):
                    add(m, m.relative_to(root))
                    found = True
            if not found:
                if listed:
                    add(path, Path(path.name), f"No video matches {text}")
                else:
                    raise UsageError(f"{text}: no video matches this pattern")
        elif path.is_dir():
            videos = _videos_under(path)
            if not videos and not listed:
                raise UsageError(f"{text}: no video files in this folder (looked for "
                                 f"{', '.join(sorted(VIDEO_EXTS))})")
            for v in videos:
                add(v, Path(path.name) / v.relative_to(path) if listed else v.relative_to(path))
        elif path.is_file() and path.suffix.lower() in LIST_EXTS and not listed:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{text}: cannot read this list of videos ({exc})") from None
            entries = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
            if not entries:
                raise UsageError(f"{text}: the list names no videos")
            for entry in entries:
                expand(entry, path.parent, listed=True)
        elif path.exists():
            add(path, Path(path.name))
        elif listed:
            add(path, Path(path.name), f"Video not found: {path}")
        else:
            raise UsageError(f"{text}: no such file or folder")

    for text in inputs:
        expand(text, cwd_path, listed=False)
    if base is not None:
        base_path = (cwd_path / Path(base).expanduser()).resolve()
        for item in items:
            try:
                item.rel = _strip(Path(item.video).resolve().relative_to(base_path))
            except ValueError:
                raise UsageError(f"{item.video} is not inside --base {base}") from None
    # The same video twice (a folder and a glob over it): keep the first.
    seen, unique = set(), []
    for item in items:
        if item.video not in seen:
            seen.add(item.video)
            unique.append(item)
    owners: dict[str, str] = {}
    for item in unique:
        if item.rel in owners:
            raise UsageError(f"{owners[item.rel]} and {item.video} would both write {item.rel}.*: give "
                             f"them different names or folders, or use --base")
        owners[item.rel] = item.video
    return unique


def parse_formats(text: str) -> list[str]:
    formats = []
    for part in (p.strip().lower().lstrip(".") for p in text.split(",")):
        if not part:
            continue
        if part not in FORMATS:
            raise UsageError(f"--format {part}: unknown format; use a comma list of {', '.join(FORMATS)}")
        if part not in formats:
            formats.append(part)
    if not formats:
        raise UsageError("--format: give at least one of " + ", ".join(FORMATS))
    return formats


def output_paths(out_dir: str, rel: str, formats: list[str]) -> dict[str, str]:
    return {fmt: str(Path(out_dir, f"{rel}.{fmt}")) for fmt in formats}


def sidecar_path(out_dir: str, rel: str) -> str:
    return str(Path(out_dir, rel + SIDECAR))


def temp_path(final: str, token: str) -> str:
    """A temporary name beside `final` that keeps its extension (exporters and numpy go by it)."""
    p = Path(final)
    return str(p.with_name(f".{p.name}.{token}{PARTIAL}{p.suffix}"))


def remove_temp(path: str) -> None:
    """A temporary output: a file, or an exporter's staging folder (blender/export.py) left by a killed worker."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def stale_temps(final: str) -> list[str]:
    """Temporary files of `final` left by an interrupted run (a killed worker), and the staging folders
    an exporter makes beside a temporary file (`.` + its name + `.….partial`)."""
    p = Path(final)
    return sorted(glob.glob(glob.escape(str(p.with_name(f".{p.name}."))) + f"*{PARTIAL}*")
                  + glob.glob(glob.escape(str(p.with_name(f"..{p.name}."))) + f"*{PARTIAL}*"))


def file_stamp(path: str) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def named_file(value) -> str | None:
    """The file an option value names (a path, or FILE.blend:OBJECT), if it is one."""
    if not isinstance(value, str) or not value:
        return None
    if os.path.isfile(value):
        return value
    head = value.rsplit(":", 1)[0]
    return head if ":" in value and os.path.isfile(head) else None


def options_fingerprint(values: dict) -> tuple[dict, str]:
    """What makes the outputs (the option values, and the size/mtime of the files they name) → a hash."""
    record = {}
    for key in sorted(values):
        if key in NOT_HASHED:
            continue
        value = values[key]
        record[key] = value
        path = named_file(value)
        if path:
            record[key + "_stamp"] = file_stamp(path)
    record["version"] = _version()
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return record, digest


def _version() -> str:
    try:
        for line in (ROOT / "blender_manifest.toml").read_text().splitlines():
            if line.startswith("version"):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def up_to_date(video: str, out_dir: str, rel: str, formats: list[str], options_hash: str) -> dict | None:
    """The sidecar when every requested output is complete and made from this video with these options."""
    try:
        with open(sidecar_path(out_dir, rel), encoding="utf-8") as fh:
            made = json.load(fh)
        stamp = file_stamp(video)
    except (OSError, ValueError):
        return None
    if made.get("options_hash") != options_hash or made.get("video_stamp") != stamp:
        return None
    outputs = made.get("outputs", {})
    for fmt in formats:
        entry = outputs.get(fmt)
        path = os.path.join(out_dir, f"{rel}.{fmt}")
        if not entry:
            return None
        try:
            now = file_stamp(path)
        except OSError:
            return None
        if now["size"] != entry.get("size") or now["mtime_ns"] < stamp["mtime_ns"]:
            return None
    return made


def write_atomic_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_path(path, f"{os.getpid()}-{threading.get_ident() % 100000}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1] if len(lines) > 1 and lines[0].startswith("Traceback") else " ".join(lines)


# ----------------------------------------------------------------------------------------------
# One video (in a worker process; the same path as the single-video command)

def run_job(job: dict) -> dict:
    """Capture, bake and export one video; every output written under a temporary name and renamed when
    all are done, then the sidecar. Never raises: returns the report record."""
    started = time.monotonic()
    record = {"video": job["video"], "status": "failed", "outputs": [], "frames": None, "detected": None,
              "seconds": 0.0, "message": "", "worker": f"{socket.gethostname()}:{os.getpid()}"}
    outputs: dict = job["outputs"]
    temps = _CURRENT_TEMPS
    temps.clear()
    try:
        if set(outputs) & BAKED:
            import bpy  # noqa: F401  (before MediaPipe: importing bpy after it crashes Blender 4.2)
        for final in list(outputs.values()) + [job["sidecar"]]:
            for stale in stale_temps(final):  # a previous attempt's leftovers (a killed worker)
                try:
                    remove_temp(stale)
                except OSError:
                    pass
        if job.get("error"):
            from video_mocap.capture.errors import VideoError

            raise VideoError(job["error"])
        video_stamp = file_stamp(job["video"])  # as it was read (a video changed meanwhile is redone next time)
        record.update(_make_outputs(job, temps))
        if os.path.exists(job["sidecar"]):  # the old record goes first: it never vouches for new files
            os.unlink(job["sidecar"])
        stamps = {}
        for fmt, final in outputs.items():
            os.replace(temps.pop(fmt), final)
            stamps[fmt] = file_stamp(final)
        made = {"video": job["video"], "video_stamp": video_stamp, "options_hash": job["options_hash"],
                "options": job["options_record"], "outputs": stamps, "frames": record["frames"],
                "detected": record["detected"], "message": record["message"],
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "worker": record["worker"]}
        write_atomic_text(job["sidecar"], json.dumps(made, indent=1) + "\n")
        record["status"] = "ok"
        record["outputs"] = list(outputs.values())
    except Exception as exc:  # noqa: BLE001  (a bad video is recorded and the batch goes on)
        from video_mocap.capture.errors import MocapError

        record["message"] = one_line(exc) if isinstance(exc, MocapError) else \
            f"{type(exc).__name__}: {one_line(exc)}"
    finally:
        for tmp in temps.values():
            for leftover in [tmp, tmp + "@"]:
                if os.path.exists(leftover):
                    os.unlink(leftover)
        record["seconds"] = round(time.monotonic() - started, 3)
    return record


_CURRENT_TEMPS: dict[str, str] = {}   # the job's temporary files (removed if the process is told to leave)


def _make_outputs(job: dict, temps: dict) -> dict:
    import argparse

    from video_mocap import pipeline

    args = argparse.Namespace(**job["args"])
    options = pipeline.Options.from_args(args)
    options.workers = job["capture_workers"]
    t0 = time.monotonic()
    if job["video"].lower().endswith(".npz"):
        track, report = pipeline.load_take(job["video"], options)
    else:
        track, report = pipeline.capture(job["video"], options)
    timings = {"capture": round(time.monotonic() - t0, 3)}
    token = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
    outputs = job["outputs"]
    for fmt, final in outputs.items():
        os.makedirs(os.path.dirname(final), exist_ok=True)
        temps[fmt] = temp_path(final, token)
    if "npz" in outputs:
        track.save(temps["npz"])
    baked = [fmt for fmt in outputs if fmt in BAKED]
    if baked:
        t0 = time.monotonic()
        report.extend(bake_and_export(track, options, args.armature, {fmt: temps[fmt] for fmt in baked}))
        timings["bake_export"] = round(time.monotonic() - t0, 3)
    return {"frames": report.facts.get("frames", len(track)), "detected": report.facts.get("detected"),
            "message": "; ".join(report.warnings), "timings": timings}


def bake_and_export(track, options, armature: str | None, paths: dict[str, str]):
    """cli.bake_and_export (the one bake) with explicit output paths per format; each path ends in its
    format's extension (temporary names too). Returns the apply report."""
    from types import SimpleNamespace

    return _cli().bake_and_export(track, options, SimpleNamespace(armature=armature, out=[]), None,
                                  outs=list(paths.values()))


# ----------------------------------------------------------------------------------------------
# Worker processes: `python batch.py --worker` (jobs as JSON lines on stdin, records on stdout)

def worker_command(bpy: bool = True) -> list[str]:
    """`bpy`: the worker imports Blender at start, before its first job (the jobs bake)."""
    from video_mocap.capture.parallel import python_executable

    return [python_executable(), str(ROOT / "batch.py"), "--worker"] + (["--bpy"] if bpy else [])


def warm_up(bpy: bool) -> None:
    """A worker process's start, before its first job arrives (while the batch is still planning and the
    other workers start): import Blender (first: after MediaPipe it crashes Blender 4.2), MediaPipe (without
    the matplotlib its drawing utilities import: ~0.8 s of each worker's start, as in the capture's own
    worker processes), the pipeline and the exporters once for all its videos; keep the people counter's
    model loaded between videos (capture.landmarker.keep_warm). Any failure here is left to the first job
    to report."""
    try:
        if bpy:
            import bpy as _bpy  # noqa: F401
        from video_mocap.capture._spawn_worker import import_mediapipe_lean

        import_mediapipe_lean()
        from video_mocap import pipeline  # noqa: F401
        from video_mocap.capture import landmarker, segment  # noqa: F401

        landmarker.keep_warm(True)
        from mediapipe.tasks.python import vision  # noqa: F401

        if bpy:
            import io_scene_fbx.export_fbx_bin  # noqa: F401

            from video_mocap.blender import apply, armature, export  # noqa: F401
    except Exception:  # noqa: BLE001
        pass


def _watch_parent() -> None:
    """Leave at once when the parent dies (a killed Dask worker): no orphan finishing a video."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                for tmp in list(_CURRENT_TEMPS.values()):
                    staging = glob.glob(glob.escape(os.path.join(os.path.dirname(tmp), "." + os.path.basename(tmp)))
                                        + f".*{PARTIAL}")  # an exporter's staging folder (blender/export.py)
                    for leftover in [tmp, tmp + "@", *staging]:
                        try:
                            remove_temp(leftover)
                        except OSError:
                            pass
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def worker_loop(bpy: bool = False) -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # Blender's exporters print to stdout: keep the protocol channel clean
    sys.stdout = sys.stderr
    _watch_parent()
    warm_up(bpy)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        if job.get("need_bpy"):
            import bpy  # noqa: F401
        if job.get("no_pin"):
            os.environ["MOCAP_NO_PIN"] = "1"  # several workers on the cores: no pinning of one's threads
        proto.write(json.dumps(run_job(job)) + "\n")
        proto.flush()
    return 0


class Worker:
    """One worker process (python batch.py --worker), a job at a time."""

    def __init__(self, env: dict | None = None, bpy: bool = True):
        self.bpy = bpy
        self.proc = subprocess.Popen(worker_command(bpy), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL if not os.environ.get("MOCAP_BATCH_DEBUG") else None,
                                     text=True, bufsize=1, env=env, start_new_session=False)
        self.job: dict | None = None

    def send(self, job: dict) -> None:
        self.job = job
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        """The record of the current job; a process that died mid-video makes a failed record."""
        line = self.proc.stdout.readline()
        job, self.job = self.job, None
        if line:
            return json.loads(line)
        code = self.proc.wait()
        return {"video": job["video"], "status": "failed", "outputs": [], "frames": None, "detected": None,
                "seconds": 0.0, "message": f"the worker process stopped unexpectedly (exit code {code})"}

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_local(jobs: list[dict], workers: int, on_done) -> None:
    """Whole videos across `workers` worker processes, longest queue first-come."""
    from multiprocessing.connection import wait

    env = dict(os.environ)
    pending = list(jobs)
    bpy = any(job["need_bpy"] for job in jobs)
    pool: list[Worker] = []
    try:
        for _ in range(min(workers, len(pending))):
            pool.append(Worker(env, bpy))
        for w in pool:
            if pending:
                w.send(pending.pop(0))
        while any(w.job for w in pool):
            busy = {w.proc.stdout: w for w in pool if w.job}
            for ready in wait(list(busy)):
                w = busy[ready]
                record = w.receive()
                if w.proc.poll() is not None:  # died: a fresh one for the rest
                    pool.remove(w)
                    w = Worker(env, bpy)
                    pool.append(w)
                on_done(record)
                if pending:
                    w.send(pending.pop(0))
    except BaseException:  # interrupted: stop the workers now (their temporary files are swept after)
        for w in pool:
            w.proc.kill()
        raise
    finally:
        for w in pool:
            w.close()


def run_in_process(jobs: list[dict], on_done) -> None:
    """Inside Blender (`blender -c video_mocap batch …`): no Python with bpy to start, so one video at a
    time in this process (each video's capture still uses the worker processes of --workers)."""
    for job in jobs:
        on_done(run_job(job))


# ----------------------------------------------------------------------------------------------
# Dask: the same per-video jobs on a cluster (`--scheduler tcp://HOST:PORT`)

_DASK_CHILDREN: list = []
_DASK_LOCK = threading.Lock()


def _child_env() -> dict:
    """A Dask worker's environment for its worker process, without the glibc malloc setting the Dask
    nanny gives its own worker (MALLOC_TRIM_THRESHOLD_=65536, to hand memory back quickly): Blender and
    MediaPipe run ~10 % more CPU per video with it (measured: 2.8 vs 2.5 s per 30-frame clip)."""
    env = dict(os.environ)
    try:
        import dask

        nanny = dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}
    except Exception:  # noqa: BLE001  (not under Dask, or no such setting)
        nanny = {}
    for key in ("MALLOC_TRIM_THRESHOLD_",):
        if key in nanny and env.get(key) == str(nanny[key]):
            del env[key]
    return env


def run_job_in_worker_process(job: dict) -> dict:
    """In a Dask worker: hand the job to a warm worker process of this machine (bpy must run on a
    main thread, and Dask runs tasks on threads). The process outlives the task (the next task and the
    next batch find it with everything imported); it exits when the Dask worker dies."""
    need_bpy = bool(job.get("need_bpy"))
    worker = None
    with _DASK_LOCK:  # one that has Blender when the job needs it (Blender must come before MediaPipe)
        for k in range(len(_DASK_CHILDREN) - 1, -1, -1):
            if _DASK_CHILDREN[k].bpy or not need_bpy:
                worker = _DASK_CHILDREN.pop(k)
                break
    if worker is None or worker.proc.poll() is not None:
        worker = Worker(_child_env(), need_bpy)
    worker.send(job)
    record = worker.receive()
    if worker.proc.poll() is None:
        with _DASK_LOCK:
            _DASK_CHILDREN.append(worker)
    return record


_DASK_ENTRY = '''
def run_video(job):
    import runpy, sys
    if "video_mocap" not in sys.modules:
        runpy.run_path(job["cli"])["load_package"]()
    from video_mocap.batch import run_job_in_worker_process
    return run_job_in_worker_process(job)
'''


def dask_entry():
    """The task function, pickled by value (its module is not importable): a Dask worker needs only the
    project on shared storage, no preload or installed package."""
    namespace = {"__name__": "video_mocap_dask_entry"}
    exec(_DASK_ENTRY, namespace)  # noqa: S102
    return namespace["run_video"]


def run_dask(jobs: list[dict], scheduler: str, on_done, retries: int = 2) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--scheduler needs Dask's 'distributed' package (pip install -r requirements.txt)") \
            from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({one_line(exc)})") from None
    try:
        fn = dask_entry()
        pending = list(jobs)   # longest first (run_batch's order)
        futures = {}
        done = as_completed()

        def submit_more() -> None:
            """As many videos in flight as the cluster has threads now, like the local pool: a thread that
            comes free takes the next (longest) video, none is queued behind a busy worker for the
            tail, and a cluster that grows gets more."""
            try:
                slots = sum(client.nthreads().values())
            except Exception:  # noqa: BLE001
                slots = 0
            while pending and len(futures) < max(1, slots):
                job = pending.pop(0)
                key = f"video-mocap-{job['options_hash']}-{hashlib.sha1(job['video'].encode()).hexdigest()[:12]}"
                future = client.submit(fn, job, key=key, pure=False, retries=retries)
                futures[future] = job
                done.add(future)

        submit_more()
        for future in done:
            job = futures.pop(future)
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001  (KilledWorker after too many lost workers, …)
                record = {"video": job["video"], "status": "failed", "outputs": [], "frames": None,
                          "detected": None, "seconds": 0.0, "message": f"{type(exc).__name__}: {one_line(exc)}"}
            submit_more()
            on_done(record)
    finally:
        client.close()


# ----------------------------------------------------------------------------------------------
# The command

def _cli():
    try:
        from . import cli
    except ImportError:  # loaded by path (python batch.py)
        import runpy

        runpy.run_path(str(ROOT / "cli.py"))["load_package"]()
        from video_mocap import cli
    return cli


def build_parser(cli):
    ap = cli.build_parser("cli.py batch", "Motion capture of many videos: one set of outputs per video, a "
                                          "report, resumable, in worker processes or on a Dask cluster.")
    ap.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="video files, folders (searched recursively), globs, or a .txt list of paths")
    ap.add_argument("--out-dir", required=True, metavar="DIR", help="outputs: DIR/<path relative to its input>.<ext>")
    ap.add_argument("--format", default=DEFAULT_FORMATS,
                    help=f"comma list of {', '.join(FORMATS)} (default {DEFAULT_FORMATS}; npz = landmark cache, "
                         f"png = contact sheet)")
    ap.add_argument("--force", action="store_true", help="redo videos whose outputs are up to date")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run the videos on this Dask cluster (workers need the project and the paths)")
    ap.add_argument("--base", metavar="DIR", help="name outputs relative to this folder instead of each input")
    ap.add_argument("--report", metavar="FILE", help=f"the JSON-lines report (default DIR/{REPORT_NAME})")
    for action in ap._actions:
        if action.dest == "workers":
            action.help = ("videos processed at once, each in its own worker process (default: the usable "
                           "CPU cores); with the Dask scheduler: ignored")
    return ap


@dataclass
class Tally:
    total: int
    to_run: int
    quiet: bool
    started: float = field(default_factory=time.monotonic)
    counts: dict = field(default_factory=lambda: {"ok": 0, "failed": 0, "skipped": 0})
    ran: int = 0

    def line(self, record: dict) -> None:
        self.counts[record["status"]] += 1
        if record["status"] != "skipped":
            self.ran += 1
        if self.quiet:
            return
        done = sum(self.counts.values())
        elapsed = time.monotonic() - self.started
        left = self.to_run - self.ran
        eta = f"ETA {elapsed / self.ran * left:4.0f} s" if self.ran and left else "ETA    0 s"
        what = record["status"]
        detail = record.get("message") or ""
        if record["status"] == "ok":
            detail = (f"{record.get('frames')} frames, {100 * (record.get('detected') or 0):.0f}% detected, "
                      f"{record['seconds']:.1f} s" + (f"; {detail}" if detail else ""))
        print(f"[{done}/{self.total}] {what:7s} {record['video']}  {detail}  |  elapsed {elapsed:4.0f} s  {eta}",
              file=sys.stderr, flush=True)


def main(argv=None) -> int:
    cli = _cli()
    cli.load_package()
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = build_parser(cli)
    args = ap.parse_args(argv)
    cli.check_args(ap, args)
    try:
        formats = parse_formats(args.format)
        items = expand_inputs(args.inputs, base=args.base)
        if not items:
            raise UsageError("no videos to process")
    except UsageError as exc:
        ap.error(str(exc))
    from video_mocap.capture.files import check_writable

    out_dir = os.path.abspath(args.out_dir)
    report_path = os.path.abspath(args.report or os.path.join(out_dir, REPORT_NAME))
    try:
        check_writable(os.path.join(out_dir, "x"))
        check_writable(report_path)
        cli.check_inputs(args)  # one bad bone map would otherwise fail every video, after its capture
    except Exception as exc:  # noqa: BLE001
        ap.error(str(exc))
    return run_batch(args, items, formats, out_dir, report_path, shared_options(cli))


def sweep_temps(jobs: list[dict]) -> None:
    """Nothing temporary left behind, whoever wrote it (a killed or interrupted worker)."""
    for job in jobs:
        for final in list(job["outputs"].values()) + [job["sidecar"]]:
            for stale in stale_temps(final):
                try:
                    remove_temp(stale)
                except OSError:
                    pass


def _inside_blender() -> bool:
    bpy = sys.modules.get("bpy")
    return bool(bpy is not None and getattr(bpy.app, "binary_path", ""))


def shared_options(cli) -> list[str]:
    """The names of the single-video command's options (every one applies to each video)."""
    return [a.dest for a in cli.build_parser()._actions if a.dest != "help"]


def make_jobs(args, items: list[Item], formats: list[str], out_dir: str, capture_workers: int,
              names: list[str]) -> tuple[list, str]:
    values = {k: getattr(args, k) for k in names}
    for key, value in values.items():  # files named by options: absolute (workers may run elsewhere)
        path = named_file(value)
        if path:
            values[key] = os.path.abspath(path) + value[len(path):]
    record, digest = options_fingerprint(values)
    jobs = []
    for item in items:
        jobs.append({"video": item.video, "rel": item.rel, "error": item.error,
                     "outputs": output_paths(out_dir, item.rel, formats), "sidecar": sidecar_path(out_dir, item.rel),
                     "args": values, "options_hash": digest, "options_record": record,
                     "capture_workers": capture_workers, "need_bpy": bool(set(formats) & BAKED),
                     "no_pin": False, "cli": str(ROOT / "cli.py")})
    return jobs, digest


def _expected_work(job: dict) -> int:
    """How long a video should take, for the order (longest first): its file size (a stat, no decoding;
    grows with length and resolution). A missing file sorts last."""
    try:
        return os.path.getsize(job["video"])
    except OSError:
        return -1


def run_batch(args, items: list[Item], formats: list[str], out_dir: str, report_path: str,
              names: list[str]) -> int:
    from video_mocap.capture.parallel import usable_cores

    workers = max(1, args.workers)
    if args.verbose:  # the worker processes' own output (Blender, MediaPipe) on stderr too
        os.environ["MOCAP_BATCH_DEBUG"] = "1"
    if _inside_blender() and not args.scheduler:  # videos one after another here: --workers is the capture's
        capture_workers = workers
    else:
        capture_workers = 1 if (workers >= 2 or args.scheduler) else usable_cores()
    jobs, digest = make_jobs(args, items, formats, out_dir, capture_workers, names)
    for job in jobs:
        job["no_pin"] = workers >= 2 or bool(args.scheduler)
    todo, skipped = [], []
    for job in jobs:
        made = None if (args.force or job["error"]) else up_to_date(job["video"], out_dir, job["rel"], formats, digest)
        if made:
            skipped.append({"video": job["video"], "status": "skipped", "outputs": list(job["outputs"].values()),
                            "frames": made.get("frames"), "detected": made.get("detected"), "seconds": 0.0,
                            "message": "outputs up to date (--force redoes them)"})
        else:
            todo.append(job)
    todo.sort(key=_expected_work, reverse=True)  # longest first: the last videos running are short ones
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    tally = Tally(total=len(jobs), to_run=len(todo), quiet=args.quiet)
    if not args.quiet:
        where = f"Dask scheduler {args.scheduler}" if args.scheduler else (
            "this Blender process" if _inside_blender() else f"{min(workers, max(1, len(todo)))} worker process(es)")
        print(f"batch: {len(jobs)} videos, {len(skipped)} up to date, {len(todo)} to run on {where}; "
              f"outputs {', '.join(formats)} in {out_dir}", file=sys.stderr, flush=True)
    order = {job["video"]: i for i, job in enumerate(jobs)}
    with open(report_path, "w", encoding="utf-8") as report:
        def on_done(record: dict) -> None:
            record.setdefault("rel", next((j["rel"] for j in jobs if j["video"] == record["video"]), None))
            record["index"] = order.get(record["video"])
            report.write(json.dumps(record) + "\n")
            report.flush()
            tally.line(record)

        for record in skipped:
            on_done(record)
        try:
            if not todo:
                pass
            elif args.scheduler:
                run_dask(todo, args.scheduler, on_done)
            elif _inside_blender():
                run_in_process(todo, on_done)
            else:
                run_local(todo, workers, on_done)
        except UsageError as exc:
            print(f"cli.py batch: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("\nerror: interrupted (finished videos are kept; run the command again to go on)",
                  file=sys.stderr)
            return 130
        finally:
            sweep_temps(jobs)
    c = tally.counts
    if not args.quiet:
        print(f"batch: {c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped in "
              f"{time.monotonic() - tally.started:.1f} s; report {report_path}", file=sys.stderr, flush=True)
    return EXIT_FAILED if c["failed"] else EXIT_OK


if __name__ == "__main__":  # `python batch.py --worker` (a worker process), or the batch command itself
    if sys.path and os.path.abspath(sys.path[0]) == str(ROOT):
        del sys.path[0]  # the package's folders are not top-level modules
    import runpy as _runpy

    _runpy.run_path(str(ROOT / "cli.py"))["load_package"]()
    if sys.argv[1:2] == ["--worker"]:
        from video_mocap.batch import worker_loop as _loop

        code = _loop(bpy="--bpy" in sys.argv[2:])
    else:
        from video_mocap.batch import main as _main

        code = _main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
