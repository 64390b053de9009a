"""`cli.py batch` (batch.py): many videos, a report, resumable, worker processes, Dask, and the Blender
extension command. Clips are 12-frame, 270×480 cuts of the sample (seconds each)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from videos import ffmpeg

from video_mocap.capture.track import PoseTrack

FRAMES = 12


def cut(src: Path, dst: Path, start_s: float, frames: int = FRAMES) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-ss", f"{start_s:.3f}", "-i", str(src), "-frames:v",
                    str(frames), "-vf", "scale=270:480", "-c:v", "mpeg4", "-q:v", "3", "-an", str(dst)], check=True)
    return dst


def batch(*args, check_rc=None, timeout=600, quiet=True):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "batch", *map(str, args),
                           *(["--quiet"] if quiet else [])], capture_output=True, text=True, timeout=timeout)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr[-3000:]
    return proc


def report(out: Path) -> dict:
    records = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    by_video = {Path(r["video"]).relative_to(r["video"][: r["video"].index("/in/") + 4]).as_posix(): r
                for r in records}
    assert len(by_video) == len(records), "a video reported twice"
    return by_video


def has_record(out: Path, status: str | None = None) -> bool:
    """The batch report has a whole line (with that status, if given)."""
    path = out / "batch.jsonl"
    if not path.exists():
        return False
    lines = [line for line in path.read_text().splitlines() if line.strip().endswith("}")]
    return bool(lines) if status is None else any(json.loads(line).get("status") == status for line in lines)


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name or p.name.endswith("@")]


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sample_video, full_model):
    root = tmp_path_factory.mktemp("batch") / "in"
    for i, rel in enumerate(("a.mp4", "day1/b.mp4", "day1/c.mp4", "day2/deep/d.mp4")):
        cut(sample_video, root / rel, 0.2 * i)
    (root / "day2" / "broken.mp4").write_bytes(b"not a video at all")
    return root


@pytest.fixture(scope="module")
def first_run(clips):
    out = clips.parent / "out"
    started = time.monotonic()
    proc = batch(clips, "--out-dir", out, "--format", "fbx,npz,bvh,blend,png", "--workers", "2", quiet=False)
    return out, proc, time.monotonic() - started


def test_batch_writes_every_format_per_video_and_reports(first_run, clips):
    out, proc, _ = first_run
    assert proc.returncode == 1, proc.stderr[-3000:]      # one video failed: exit 1, after all are done
    rec = report(out)
    assert sorted(rec) == ["a.mp4", "day1/b.mp4", "day1/c.mp4", "day2/broken.mp4", "day2/deep/d.mp4"]
    bad = rec.pop("day2/broken.mp4")
    assert bad["status"] == "failed" and "Cannot open" in bad["message"] and bad["outputs"] == []
    assert "\n" not in bad["message"]
    for rel, r in rec.items():
        stem = rel[:-4]
        assert r["status"] == "ok", r
        assert r["frames"] == FRAMES and 0.5 <= r["detected"] <= 1.0 and r["seconds"] > 0
        assert {"video", "status", "outputs", "frames", "detected", "seconds", "message"} <= set(r)
        assert sorted(r["outputs"]) == sorted(str(out / f"{stem}.{e}") for e in ("fbx", "npz", "bvh", "blend", "png"))
        assert (out / f"{stem}.fbx").stat().st_size > 10_000 and (out / f"{stem}.png").stat().st_size > 5_000
        assert (out / f"{stem}.blend").read_bytes()[:4] in (b"BLEN", b"\x28\xb5\x2f\xfd")  # plain or zstd
        assert re.search(rf"Frames:\s+{FRAMES}\b", (out / f"{stem}.bvh").read_text())
        track = PoseTrack.load(out / f"{stem}.npz")
        assert len(track) == FRAMES and np.isfinite(track.world_landmarks[track.detected.astype(bool)]).all()
        made = json.loads((out / f"{stem}.mocap.json").read_text())
        assert set(made["outputs"]) == {"fbx", "npz", "bvh", "blend", "png"}
    assert not (out / "day2" / "broken.fbx").exists()
    assert partials(out) == []
    # progress with an ETA, one line per video, then the summary
    assert len(re.findall(r"^\[\d/5\] .*ETA", proc.stderr, re.M)) == 5
    assert "4 ok, 1 failed, 0 skipped" in proc.stderr


def test_second_run_skips_finished_videos(first_run, clips):
    out, _, first_seconds = first_run
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.fbx")}
    started = time.monotonic()
    proc = batch(clips, "--out-dir", out, "--format", "fbx,npz,bvh,blend,png", "--workers", "2", check_rc=1)
    again = time.monotonic() - started
    rec = report(out)
    assert rec.pop("day2/broken.mp4")["status"] == "failed"   # failures are tried again
    assert {r["status"] for r in rec.values()} == {"skipped"}, proc.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.fbx")} == stamps
    assert again < first_seconds


def test_changed_options_list_input_base_and_force(first_run, clips, tmp_path):
    out, _, _ = first_run
    listing = tmp_path / "takes.txt"
    listing.write_text(f"# two takes\n{clips / 'day1' / 'b.mp4'}\n{clips / 'day1' / 'gone.mp4'}\n")
    before = json.loads((out / "day1" / "b.mocap.json").read_text())
    proc = batch(listing, "--out-dir", out, "--base", clips, "--format", "npz", "--smooth-hz", "6",
                 "--workers", "1", "--report", tmp_path / "r.jsonl", check_rc=1)
    records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "failed"], proc.stderr   # other options: made again
    assert records[1]["message"].startswith("Video not found")
    after = json.loads((out / "day1" / "b.mocap.json").read_text())
    assert after["options_hash"] != before["options_hash"] and after["options"]["smooth_hz"] == 6
    # the same again is up to date; --force redoes it
    batch(clips / "day1" / "b.mp4", "--out-dir", out, "--base", clips, "--format", "npz", "--smooth-hz", "6",
          "--report", tmp_path / "r2.jsonl", check_rc=0)
    assert json.loads((tmp_path / "r2.jsonl").read_text())["status"] == "skipped"
    batch(clips / "day1" / "b.mp4", "--out-dir", out, "--base", clips, "--format", "npz", "--smooth-hz", "6",
          "--report", tmp_path / "r3.jsonl", "--force", check_rc=0)
    assert json.loads((tmp_path / "r3.jsonl").read_text())["status"] == "ok"


@pytest.mark.parametrize("args,message", [
    (["{clips}", "--out-dir", "{tmp}", "--format", "fbx,obj"], "unknown format"),
    (["{tmp}/missing.mp4", "--out-dir", "{tmp}"], "no such file or folder"),
    (["{clips}", "--out-dir", "{tmp}", "--model", "huge"], "unknown model"),
    (["{clips}"], "--out-dir"),
    (["{tmp}/empty", "--out-dir", "{tmp}"], "no video files"),
])
def test_bad_arguments_exit_2(clips, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    proc = batch(*[a.format(clips=clips, tmp=tmp_path) for a in args])
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "batch.jsonl").exists()


def test_interrupted_batch_leaves_no_half_file_and_goes_on(clips, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "batch", str(clips), "--out-dir", str(out),
                             "--format", "fbx,npz", "--workers", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not has_record(out, status="ok"):  # one video done (then the second run has one to skip)
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(120)  # the workers finish the video they are writing; slower on a loaded machine
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the batch did not stop within 120 s of Ctrl+C: {proc.stderr.read()[-2000:]}") from None
    err = proc.stderr.read()
    assert rc == 130 and "interrupted" in err, (rc, err[-2000:], (out / "batch.jsonl").read_text())
    time.sleep(1)
    assert partials(out) == []
    for sidecar in out.rglob("*.mocap.json"):  # what is there is whole
        stem = str(sidecar)[: -len(".mocap.json")]
        assert len(PoseTrack.load(stem + ".npz")) == FRAMES and os.path.getsize(stem + ".fbx") > 10_000
    proc = batch(clips, "--out-dir", out, "--format", "fbx,npz", "--workers", "2", check_rc=1)
    statuses = {k: r["status"] for k, r in report(out).items()}
    assert statuses.pop("day2/broken.mp4") == "failed" and set(statuses.values()) <= {"ok", "skipped"}, statuses
    assert "skipped" in statuses.values(), statuses
    assert partials(out) == []


def test_worker_keeps_the_people_counter_warm_but_never_a_tracking_landmarker(sample_video, full_model):
    """A batch worker process (capture.landmarker.keep_warm): a closed IMAGE-mode landmarker (stateless)
    is handed to the next one with the same model and settings and counts the same as a fresh one; a
    VIDEO-mode one (it tracks from frame to frame) never is."""
    import cv2

    from video_mocap.capture import landmarker as lm

    cap = cv2.VideoCapture(str(sample_video))
    frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(3)]
    cap.release()
    with lm.Landmarker(full_model, num_poses=2, video=False) as fresh:
        expected = [fresh.count_people(f, rgb=True) for f in frames]
    lm.keep_warm(True)
    try:
        first = lm.Landmarker(full_model, num_poses=2, video=False)
        kept = first._impl
        assert [first.count_people(f, rgb=True) for f in frames] == expected
        first.close()
        again = lm.Landmarker(full_model, num_poses=2, video=False)
        assert again._impl is kept
        assert [again.count_people(f, rgb=True) for f in frames] == expected
        other = lm.Landmarker(full_model, num_poses=3, video=False)  # other settings: its own
        assert other._impl is not kept
        other.close()
        again.close()
        tracking = lm.Landmarker(full_model)
        used = tracking._impl
        tracking.close()
        tracking = lm.Landmarker(full_model)
        assert tracking._impl is not used
        tracking.close()
    finally:
        lm.keep_warm(False)
    assert lm._WARM is None


# ----------------------------------------------------------------------------------------------
# Dask: a real scheduler and two workers on 127.0.0.1; one of them is killed mid-batch

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = {}
    logs = []

    def start(name, *args):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        procs[name] = subprocess.Popen([dask, *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    for name in ("w1", "w2"):
        start(name, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", name)
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, procs
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for log in logs:
        log.close()


def test_dask_batch_survives_a_killed_worker(dask_cluster, sample_video, tmp_path):
    address, procs = dask_cluster
    clips = tmp_path / "in"
    for i in range(6):
        cut(sample_video, clips / f"take{i}.mp4", 0.15 * i)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "batch", str(clips), "--out-dir", str(out),
                             "--format", "fbx,npz", "--scheduler", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    from distributed import Client

    killed = None
    with Client(address, timeout="30s") as client:
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            if has_record(out):  # both workers have started videos by now: kill w1 in the middle of its current one
                info = client.scheduler_info()["workers"]
                busy = {w["name"] for a, w in info.items() if client.processing().get(a)}
                if "w1" in busy:
                    os.killpg(procs["w1"].pid, signal.SIGKILL)
                    killed = "w1"
            time.sleep(0.2)
    assert killed, "w1 never had a video to be killed in"
    assert proc.wait(600) == 0, proc.stderr.read()[-3000:]
    records = [json.loads(x) for x in (out / "batch.jsonl").read_text().splitlines()]
    assert sorted(Path(r["video"]).name for r in records) == [f"take{i}.mp4" for i in range(6)]  # once each
    assert {r["status"] for r in records} == {"ok"}
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    expected = sorted([f"take{i}.{e}" for i in range(6) for e in ("fbx", "npz", "mocap.json")] + ["batch.jsonl"])
    assert files == expected      # every output exactly once, nothing temporary left
    for i in range(6):
        assert len(PoseTrack.load(out / f"take{i}.npz")) == FRAMES


# ----------------------------------------------------------------------------------------------
# `blender -c video_mocap …`: the registered handler, called as Blender would

def test_registered_blender_command_runs_single_and_batch(clips, tmp_path):
    script = f"""
import bpy, runpy, sys
runpy.run_path({str(ROOT / 'cli.py')!r})['load_package']()
from video_mocap import cli_command
import video_mocap.batch as batch
cli_command.register()
assert cli_command._handle is not None
batch._inside_blender = lambda: True        # as in the Blender binary: videos in this process
codes = [cli_command.execute(["batch", {str(clips / 'a.mp4')!r}, "--out-dir", {str(tmp_path / 'out')!r},
                              "--format", "npz,bvh", "--quiet", "--workers", "1"]),
         cli_command.execute([{str(clips / 'day1' / 'b.mp4')!r}, "--out", {str(tmp_path / 'single.bvh')!r},
                              "--quiet", "--workers", "1"]),
         cli_command.execute(["batch", "--out-dir", {str(tmp_path)!r}]),
         cli_command.execute(["--help"])]
cli_command.unregister()
assert cli_command._handle is None
import os
print("CODES", *codes, os.getpid())
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *codes, pid = proc.stdout.strip().splitlines()[-1].split()
    assert codes == ["CODES", "0", "0", "2", "0"]
    rec = json.loads((tmp_path / "out" / "batch.jsonl").read_text())
    assert rec["status"] == "ok" and rec["worker"].endswith(f":{pid}")  # in the command's own process
    assert re.search(rf"Frames:\s+{FRAMES}\b", (tmp_path / "out" / "a.bvh").read_text())
    assert re.search(rf"Frames:\s+{FRAMES}\b", (tmp_path / "single.bvh").read_text())


# ----------------------------------------------------------------------------------------------
# Flamenco: the job type's task generation under node (stand-ins for the Manager's authoring calls), then
# one generated task's command line run as the Blender command would run it (cli.py stands in for
# `blender -b -y -c video_mocap`: the same arguments go to the same cli.main)

def test_flamenco_job_type_makes_one_task_per_video_that_runs(clips, tmp_path):
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    flamenco = ROOT / "tools" / "flamenco"
    videos = [clips / "a.mp4", clips / "day1" / "b.mp4", clips / "day2" / "deep" / "d.mp4"]
    settings = {"videos": "\n".join(map(str, videos)) + "\n# not this one\n", "input_root": str(clips),
                "out_dir": str(tmp_path / "out"), "formats": "npz,bvh", "extra_args": "--smooth-hz 6 --frames '0:10'"}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    proc = subprocess.run([node, str(flamenco / "check_job_type.js"), str(flamenco / "video_mocap_batch.js"),
                           str(tmp_path / "settings.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    tasks = json.loads(proc.stdout)["tasks"]
    assert [t["name"] for t in tasks] == ["mocap-0001-a.mp4", "mocap-0002-b.mp4", "mocap-0003-d.mp4"]
    assert {t["type"] for t in tasks} == {"blender"}
    params = tasks[1]["commands"][0]["parameters"]
    assert tasks[1]["commands"][0]["name"] == "blender-render"
    assert (params["exe"], params["exeArgs"], params["blendfile"]) == ("{blender}", "{blenderArgs}", "")
    args = params["args"]
    assert args[:4] == ["-c", "video_mocap", "batch", str(videos[1])] and args[-4:] == ["--smooth-hz", "6",
                                                                                     "--frames", "0:10"]
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args[2:], "--quiet"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"Frames:\s+10\b", (tmp_path / "out" / "day1" / "b.bvh").read_text())
    rec = json.loads((tmp_path / "out" / "flamenco-reports" / "0002.jsonl").read_text())
    assert rec["status"] == "ok" and rec["frames"] == 10
    # a video outside input_root: the job is refused with a message
    (tmp_path / "bad.json").write_text(json.dumps({**settings, "videos": "/elsewhere/x.mp4"}))
    proc = subprocess.run([node, str(flamenco / "check_job_type.js"), str(flamenco / "video_mocap_batch.js"),
                           str(tmp_path / "bad.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not inside input_root" in proc.stderr
