"""Live motion capture: a camera, a network stream or a video file (played in real time) → a pose every
frame (Blender's Live panel), or a recorded take processed like a video (`cli.py live`).

    .venv/bin/python cli.py live SOURCE [--seconds N] [--landmarks TAKE.npz] [--out OUT.fbx|.bvh|.blend|.png]...
                                 [the single-video command's options: --model, --armature, --root, --quiet, …]

SOURCE: a camera index (0 is the first camera) or /dev/videoN, a stream address OpenCV's FFmpeg
backend opens (http://… MJPEG, rtsp://…), or a video file played at its own real-time rate (rehearsal).
Records for N seconds (default: until Ctrl+C, or until a file source ends), then processes the take
like the single-video command (its options apply). A stream that drops mid-take keeps the frames up to
the drop, and says so. Progress (stderr) shows the processed frame rate and the dropped frames.

The per-frame path (the panel): capture/live.py gives the newest frame's world landmarks in its
landmarker thread; `LivePoser` (called in the poser thread on the newest detection) filters them with a
streaming One Euro filter (motion/filters.py's, sample by sample) and solves them with the offline
solver's own code (retarget.solver.RigSolver: everything that depends only on the rig is worked out
once when live starts, so a frame is a few batched numpy operations, a few ms) into local bone
rotations; blender/live.py sets them on the armature at the next timer tick (every TICK_S).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .capture.landmarks import mediapipe_to_blender
from .motion.filters import DEFAULT_BETA, DEFAULT_D_CUTOFF, DEFAULT_MIN_CUTOFF, _alpha
from .retarget.solver import RigSolver

MIN_VISIBILITY_WEIGHT = 0.05


# ----------------------------------------------------------------------------------------------
# The per-frame pose (bpy-free; runs in the poser thread)

class OneEuroStream:
    """motion.filters.one_euro one sample at a time, with each sample's own time step (live frames
    arrive irregularly). With a constant step it gives exactly what the batch filter gives."""

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.prev = None
        self.dprev = None

    def reset(self) -> None:
        self.prev = self.dprev = None

    def __call__(self, x, dt: float, weight=None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.prev is None:
            self.prev = np.full(x.shape, np.nan)
            self.dprev = np.zeros(x.shape)
        wt = np.ones_like(x) if weight is None else np.broadcast_to(
            np.clip(np.nan_to_num(np.asarray(weight, np.float64), nan=1.0), 0.0, 1.0).reshape(
                np.shape(weight) + (1,) * (x.ndim - np.ndim(weight))), x.shape)
        dt = max(float(dt), 1e-4)
        a_d = _alpha(self.d_cutoff, dt)
        ok = np.isfinite(x)
        start = ok & ~np.isfinite(self.prev)
        dx = np.where(start | ~ok, 0.0, (x - self.prev) / dt)
        dhat = np.where(start, 0.0, self.dprev + a_d * wt * (dx - self.dprev))
        a = _alpha(self.min_cutoff + self.beta * np.abs(dhat), dt) * wt
        xhat = np.where(start, x, self.prev + a * (x - self.prev))
        self.prev = np.where(ok, xhat, np.nan)
        self.dprev = np.where(ok, dhat, 0.0)
        return self.prev.copy()


@dataclass
class LivePose:
    """One frame's pose: local rotations (w, x, y, z) per bone, locations per bone (root motion)."""
    rotations: dict[str, np.ndarray]
    locations: dict[str, np.ndarray] = field(default_factory=dict)
    solve_ms: float = 0.0


class LivePoser:
    """World landmarks of one frame → the mapped bones' local rotations, with the offline solver's
    RigSolver (made once here: the same rotations as the offline solve of the same frame).

    rest: the armature's RestPose (read once, on the main thread); bone_map: role → bone.
    smoothing: 'one_euro' (default) or 'none'. root_mode: 'in_place' or 'grounded' (the lowest foot
    on the rest pose's floor); camera-based travel needs the whole take (offline)."""

    def __init__(self, rest, bone_map: dict, smoothing: str = "one_euro", root_mode: str = "grounded",
                 min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA):
        self.rest, self.bone_map = rest, bone_map
        if bone_map.get("hips") not in rest.bones:
            from .capture.errors import RigError

            raise RigError("The armature has no bone for the hips in its bone map: live posing needs at least "
                           "the hips. Check the bone names (Detect Bone Map).")
        # Everything that depends only on the rig, once: a frame is then a few batched numpy operations.
        self.solver = RigSolver(rest, bone_map)
        self.missing = self.solver.missing
        self.root_mode = "in_place" if root_mode == "in_place" else "grounded"
        self.filter = OneEuroStream(min_cutoff, beta) if smoothing == "one_euro" else None
        self._last_ms: float | None = None
        self.last: LivePose | None = None

    def __call__(self, result) -> LivePose | None:
        """A capture.live.LiveResult → LivePose (None when nobody is in the frame: hold the last one)."""
        if result.landmarks is None:
            if self.filter is not None:
                self.filter.reset()  # the next detection starts the filter again (like the batch filter)
            self._last_ms = None
            return None
        t0 = time.perf_counter()
        world, _image, visibility, _presence = result.landmarks
        points = np.asarray(world, np.float64)
        if self.filter is not None:
            dt = (result.time_ms - self._last_ms) / 1000.0 if self._last_ms is not None else 1 / 30
            weight = np.maximum(np.nan_to_num(visibility, nan=1.0), MIN_VISIBILITY_WEIGHT)[:, None]
            points = self.filter(points, dt, weight)
        self._last_ms = result.time_ms
        return self.solve(points, t0)

    def solve(self, world: np.ndarray, t0: float | None = None) -> LivePose:
        t0 = time.perf_counter() if t0 is None else t0
        P = mediapipe_to_blender(world)[None]
        solution = self.solver.solve(P, root_mode=self.root_mode, foot_lock=False)
        pose = LivePose({bone: q[0] for bone, q in solution.rotations.items()},
                        {bone: loc[0] for bone, loc in solution.locations.items()},
                        1000.0 * (time.perf_counter() - t0))
        self.last = pose
        return pose


# ----------------------------------------------------------------------------------------------
# The headless command: record, then process like a video

def parse_args(argv):
    from .cli import OUTPUT_TYPES, build_parser, check_args

    ap = build_parser("cli.py live", "Record a take from a camera or a stream (or a video file played in real "
                                     "time), then process it like a video.")
    ap.add_argument("source", help="camera index (0 = the first camera) or /dev/videoN, a stream address "
                                   "(http://… MJPEG, rtsp://…), or a video file played at its real-time rate")
    ap.add_argument("--seconds", type=float, default=None,
                    help="record this long (default: until Ctrl+C, or until a video file ends)")
    ap.add_argument("--landmarks", help="write the take's landmark cache (.npz) here")
    ap.add_argument("--out", action="append", default=[], help="output file; repeat for several")
    args = ap.parse_args(argv)
    check_args(ap, args)
    if args.frames:
        ap.error("--frames does not apply to a live source (use --seconds)")
    for flag in ("hands", "face"):
        if getattr(args, flag, False):
            ap.error(f"--{flag}: a live take holds the body only (record, then capture the {flag} from a video)")
    if args.seconds is not None and not args.seconds > 0:
        ap.error("--seconds must be more than 0")
    for out in args.out:
        if not out.lower().endswith(OUTPUT_TYPES):
            ap.error(f"--out {out}: unsupported type; use {', '.join(OUTPUT_TYPES)}")
    if args.landmarks and not args.landmarks.endswith(".npz"):
        ap.error("--landmarks must end in .npz")
    if not args.landmarks and not args.out:
        ap.error("give --landmarks TAKE.npz and/or --out FILE: a live take must be written somewhere")
    return args


class LiveProgress:
    """`live 4.0/10 s  112 frames  27.8 fps  dropped 12  latency 41 ms` on stderr, a line a second.

    Whole lines, not one line rewritten in place with a carriage return: while the landmarker exists,
    stderr passes through capture/native_log.py's filter, which forwards complete lines only."""

    def __init__(self, quiet: bool, seconds: float | None, every_s: float = 1.0):
        self.quiet, self.seconds, self.every_s, self.last = quiet, seconds, every_s, 0.0

    def __call__(self, elapsed: float, stats: dict, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (now - self.last < self.every_s and not final) or not stats["processed"]:
            return
        self.last = now
        span = f"{elapsed:5.1f}/{self.seconds:g} s" if self.seconds else f"{elapsed:5.1f} s"
        print(f"live {span}  {stats['recorded']} frames  {stats['fps']:5.1f} fps  dropped {stats['dropped']}  "
              f"latency {stats['latency_ms']:3.0f} ms", file=sys.stderr, flush=True)


def record(source_spec: str, options, seconds: float | None, progress=None, loop: bool = False):
    """Open the source, record until `seconds` have passed, the source ends, or Ctrl+C; → (track, report).
    The take is kept whatever ended it."""
    from .capture.live import LiveCapture
    from .pipeline import Report, capture_report

    live = LiveCapture.open(source_spec, model=options.model, model_path=options.model_file, loop=loop)
    source = live.source
    live.record(True)
    interrupted = False
    t0 = time.perf_counter()
    try:
        while live.is_alive():
            elapsed = time.perf_counter() - t0
            if seconds is not None and elapsed >= seconds:
                break
            if progress is not None:
                progress(elapsed, live.stats())
            time.sleep(0.05)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        live.record(False)
        live.stop()
    if progress is not None:
        progress(time.perf_counter() - t0, live.stats(), final=True)
    if live.error is not None and not isinstance(live.error, KeyboardInterrupt):
        raise live.error
    track = live.take()
    report = Report()
    stats = live.stats()
    report.info(f"live take from {source.name}: {len(track)} frames in {track.extra['duration_s']:.1f} s "
                f"({track.extra['measured_fps']:.1f} processed frames per second, {stats['dropped']} frames "
                f"dropped while the landmarker was busy)")
    report.facts.update(live_frames=len(track), live_fps=track.extra["measured_fps"], dropped=stats["dropped"])
    if "stream_dropped" in track.extra:
        report.warning(f"the {source.kind} stopped sending after {live.ended_after_s:.1f} s "
                       f"({track.extra['stream_dropped']}); kept the {len(track)} frames recorded before the drop")
    elif interrupted:
        report.info(f"stopped by Ctrl+C; kept the {len(track)} frames recorded")
    elif live.ended == "end":
        report.info("the video file ended; the take ends there")
    return track, report.extend(capture_report(track))


def run(args) -> int:
    from .capture.files import check_writable
    from .cli import bake_and_export, check_inputs, start_run

    progress, options = start_run(args)
    for out in args.out + ([args.landmarks] if args.landmarks else []):
        check_writable(out)
    check_inputs(args)  # before the performance: a bad bone map found after it would lose the take
    track, report = record(args.source, options, args.seconds, LiveProgress(args.quiet, args.seconds))
    for line in report.lines():
        progress.say(line)
    if args.landmarks:
        track.save(args.landmarks)
        progress.say(f"wrote {args.landmarks}")
    if args.out:
        bake_and_export(track, options, args, progress)
    return 0


def main(argv=None) -> int:
    """`cli.py live …` (cli.py dispatches here): exit 0, 1 with one `error: …` line, 2 for bad arguments."""
    from .capture.errors import MocapError

    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        return run(args)
    except MocapError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nerror: interrupted", file=sys.stderr)
        return 130
