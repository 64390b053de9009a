"""Live capture figures (issue 16): a simulated real-time source → processed frames per second, dropped
frames, latency from a frame's arrival to the bones being set, the longest main-thread stall, and a
recorded take processed offline against the same clip captured offline.

    .venv/bin/python tools/bench_live.py [--seconds 20] [--fps 30] [--model full] [--skip-accuracy]

The source: samples/cam01.mp4 resampled to --fps (every other frame of the 60 fps clip for 30), served
in a loop as MJPEG over HTTP on 127.0.0.1 by a small server thread (`MjpegServer`, also used by the
tests). The "Blender main thread" is simulated by a loop that wakes every TICK_S (blender/live.py, the live timer's
interval) and runs blender/live.py's tick on a real armature (bpy module): latency = arrival of the
frame → its bones set; stall = how late a wake-up came plus the tick's own time.

Accuracy: the clip (every processed frame's video index known) is played at its real-time rate as a
file source and recorded; the take and an offline capture of the same clip are both processed with the
pipeline's defaults onto the metarig; limb directions (upper arm, forearm, thigh, shin) are compared on
the frames the live take holds.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="mocap-blender-user-"))


class MjpegServer:
    """Serves JPEG frames as `multipart/x-mixed-replace` (MJPEG over HTTP) on 127.0.0.1 at `fps`.

    loop: start again at the end; else the connection closes after the last frame. drop_after: close
    every connection after this many frames (a stream that drops mid-take). `url` to read it;
    `close()` stops the server."""

    def __init__(self, jpegs: list[bytes], fps: float, loop: bool = True, drop_after: int | None = None):
        self.jpegs, self.fps, self.loop, self.drop_after = jpegs, float(fps), loop, drop_after
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                t0 = time.perf_counter()
                n = 0
                try:
                    while not server._closed.is_set():
                        if server.drop_after is not None and n >= server.drop_after:
                            break
                        if n >= len(server.jpegs) and not server.loop:
                            break
                        jpg = server.jpegs[n % len(server.jpegs)]
                        wait = t0 + n / server.fps - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpg)).encode() + b"\r\n\r\n" + jpg + b"\r\n")
                        self.wfile.flush()
                        n += 1
                        server.sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self._closed = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="mjpeg-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def clip_jpegs(video, step: int = 1, max_side: int | None = None, quality: int = 90, limit=None) -> list[bytes]:
    """Every `step`-th frame of a video, JPEG-encoded (optionally scaled to `max_side`)."""
    import cv2

    sys.path.insert(0, str(ROOT))
    from video_mocap.capture.video import VideoSource

    out = []
    with VideoSource(video) as v:
        for i, frame in v.frames():
            if i % step:
                continue
            if max_side and max(frame.shape[:2]) > max_side:
                s = max_side / max(frame.shape[:2])
                frame = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)),
                                   interpolation=cv2.INTER_AREA)
            out.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())
            if limit and len(out) >= limit:
                break
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_package():
    import runpy

    return runpy.run_path(str(ROOT / "cli.py"))["load_package"]()


def main_thread_run(scene, seconds: float, interval: float | None = None):
    """The Blender main thread, simulated: wake every `interval` (default: the live timer's, TICK_S),
    tick, measure. → (stalls ms, ticks ms)."""
    from video_mocap.blender import live as blender_live

    interval = blender_live.TICK_S if interval is None else interval
    stalls, ticks = [], []
    t_end = time.perf_counter() + seconds
    due = time.perf_counter() + interval
    while time.perf_counter() < t_end:
        time.sleep(max(0.0, due - time.perf_counter()))
        woke = time.perf_counter()
        late = woke - due
        blender_live.tick(scene)
        took = time.perf_counter() - woke
        stalls.append(1000 * (late + took))
        ticks.append(1000 * took)
        due = max(due + interval, time.perf_counter())
    return stalls, ticks


def bench_stream(args) -> dict:
    import bpy
    import numpy as np

    from video_mocap import live as live_mod
    from video_mocap.blender import live as blender_live
    from video_mocap.blender.apply import choose_bone_map
    from video_mocap.blender.armature import add_metarig, read_rest_pose
    from video_mocap.capture.live import LiveCapture

    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = add_metarig(bpy.context)
    scene = bpy.context.scene
    step = max(1, round(60 / args.fps))
    jpegs = clip_jpegs(ROOT / "samples" / "cam01.mp4", step=step, max_side=args.source_side or None)
    with MjpegServer(jpegs, args.fps, loop=True) as server:
        _, bone_map = choose_bone_map(obj, "metarig")
        poser = live_mod.LivePoser(read_rest_pose(obj), bone_map)
        live = LiveCapture.open(server.url, model=args.model, on_result=poser,
                                pose_thread=args.pose_thread)
        live.fresh_wait = args.fresh_wait
        blender_live.begin(scene, live, obj)
        time.sleep(1.0)  # warm-up (first detection, the pose filter)
        blender_live.state(scene).latencies.clear()
        blender_live.state(scene).stages.clear()
        p0, d0, g0 = live.processed, live.dropped, live.grabber.grabbed
        t0 = time.perf_counter()
        stalls, ticks = main_thread_run(scene, args.seconds)
        elapsed = time.perf_counter() - t0
        processed, dropped, grabbed = live.processed - p0, live.dropped - d0, live.grabber.grabbed - g0
        lat = list(blender_live.state(scene).latencies)
        solve_ms = blender_live.state(scene).solve_ms
        stages = np.array(blender_live.state(scene).stages).reshape(-1, 4)
        blender_live.end(scene)
    has_keys = bool(obj.animation_data and obj.animation_data.action)
    return {"source_fps": args.fps, "frames_arrived": grabbed, "processed_fps": processed / elapsed,
            "dropped": dropped, "latency_median_ms": float(np.median(lat)),
            "latency_p95_ms": float(np.percentile(lat, 95)), "main_thread_max_stall_ms": float(max(stalls)),
            "main_thread_p99_stall_ms": float(np.percentile(stalls, 99)), "tick_max_ms": float(max(ticks)),
            "solve_ms_median": float(np.median(solve_ms)) if solve_ms else 0.0,
            # where the latency goes (medians, ms): waiting for the landmarker, detection, landmarks →
            # pose ready (hand-over and solve), pose ready → bones set (the main thread's timer)
            "stages_median_ms": {name: round(float(v), 2) for name, v in zip(
                ("waiting", "detection", "to_pose", "to_bones"), np.median(stages, axis=0))} if len(stages) else {},
            "keyframes_created": has_keys}


def bench_accuracy(args) -> dict:
    """Live take (file source, real time) processed offline vs the same clip captured offline."""
    import bpy
    import numpy as np

    from video_mocap import pipeline
    from video_mocap.blender.apply import choose_bone_map
    from video_mocap.blender.armature import add_metarig, read_rest_pose
    from video_mocap.capture.live import LiveCapture

    video = str(ROOT / "samples" / "cam01.mp4")
    options = pipeline.Options(model=args.model, workers=1)
    live = LiveCapture.open(video, model=args.model, speed=args.accuracy_speed)
    live.record(True)
    while live.is_alive():
        time.sleep(0.05)
    live.stop()
    take = live.take()
    frames = np.array(live.source_frames)
    offline, _ = pipeline.capture(video, options)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = add_metarig(bpy.context)
    rest = read_rest_pose(obj)
    _, bone_map = choose_bone_map(obj, "metarig")
    m_live = pipeline.process(take, rest, bone_map, options)
    m_off = pipeline.process(offline, rest, bone_map, options)
    errors = []
    for role in ("upper_arm.L", "upper_arm.R", "forearm.L", "forearm.R", "thigh.L", "thigh.R", "shin.L", "shin.R"):
        bone = bone_map[role]
        a = m_live.solution.world_rotations[bone][:, :, 1]            # the bone's Y axis = its direction
        b = m_off.solution.world_rotations[bone][frames][:, :, 1]
        cos = np.clip(np.sum(a * b, axis=1), -1, 1)
        errors.append(np.degrees(np.arccos(cos)))
    err = np.concatenate(errors)
    # The same on the detector's own world landmarks (before any processing): what dropping frames
    # does to the detections themselves, apart from the smoothing of a sparser take.
    from video_mocap.capture.landmarks import INDEX as I

    raw = []
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
        for s in ("left", "right"):
            def direction(points, a=a, b=b, s=s):
                d = points[:, I[f"{s}_{b}"]] - points[:, I[f"{s}_{a}"]]
                return d / np.linalg.norm(d, axis=1, keepdims=True)
            cos = np.sum(direction(take.world_landmarks) * direction(offline.world_landmarks[frames]), axis=1)
            raw.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    raw = np.concatenate(raw)
    return {"speed": args.accuracy_speed, "take_frames": len(take), "clip_frames": len(offline),
            "take_fps": take.fps,
            "raw_landmark_limb_error_mean_deg": float(np.nanmean(raw)),
            "raw_landmark_limb_error_p95_deg": float(np.nanpercentile(raw, 95)),
            "limb_direction_error_mean_deg": float(err.mean()),
            "limb_direction_error_median_deg": float(np.median(err)),
            "limb_direction_error_p95_deg": float(np.percentile(err, 95))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--model", default="full")
    ap.add_argument("--source-side", type=int, default=960,
                    help="the served frames' longer side (the clip is 1920; 0 = as is)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--fresh-wait", type=float, default=None,
                    help="capture/live.py FRESH_WAIT: wait up to this fraction of a frame interval for a fresh "
                         "frame when the newest is old (0: never; default: the module's)")
    ap.add_argument("--inline-pose", dest="pose_thread", action="store_false",
                    help="solve in the landmarker thread after each detection (default: in a poser thread of its own)")
    ap.add_argument("--accuracy-speed", type=float, default=1.0,
                    help="play the clip this fast for the accuracy take (1 = real time; 0.2 = as a machine that "
                         "keeps up with every frame would see it)")
    ap.add_argument("--skip-stream", action="store_true")
    args = ap.parse_args(argv)
    import bpy  # noqa: F401  (before MediaPipe)

    load_package()
    if args.fresh_wait is None:
        from video_mocap.capture.live import FRESH_WAIT

        args.fresh_wait = FRESH_WAIT
    figures = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count(), "model": args.model,
               "source_side": args.source_side, "pose_thread": args.pose_thread,
               "fresh_wait": args.fresh_wait}
    if not args.skip_stream:
        figures["stream"] = bench_stream(args)
    if not args.skip_accuracy:
        figures["accuracy"] = bench_accuracy(args)
    figures["load_average_after"] = os.getloadavg()
    import json

    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
