"""Headless video mocap: VIDEO → landmarks → keyframed armature → .blend / .fbx / .bvh / .png.

    .venv/bin/python cli.py VIDEO [--model lite|full|heavy] [--frames A:B] [--landmarks OUT.npz] [--workers N]
                         [--armature FILE.blend:OBJECT] [--rig auto|PRESET] [--bone-map MAP.json]
                         [--root hips|root_bone|grounded|in_place] [--no-foot-lock] [--keep-flips]
                         [--fov DEG | --focal-mm MM] [--smooth zero_phase|one_euro|none] [--smooth-hz HZ]
                         [--people N | --person N] [--out OUT.fbx|OUT.bvh|OUT.blend|OUT.png]...

Without --armature the target is a new Rigify human metarig; with it, FILE.blend is opened (it is
never written) and OBJECT receives the motion; --rig auto detects the bone names' preset.

VIDEO may also be a landmark cache (.npz) written by --landmarks: capture is then skipped (one person).
Several people in view: one is followed (the most prominent at the start, or --person N; frames where
they are hidden are gaps, never another person's pose); --people N captures up to N, one take each:
every output path gets _p1, _p2, … before its extension (t.npz → t_p1.npz, a.bvh → a_p1.bvh).
Output frame i (scene frame 1 + i) is video frame A + i; one key per processed video frame;
the scene fps is the video's, so BVH frame time = 1 / video fps. Progress goes to stderr; any
error ends with a one-line message and a non-zero exit code.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = "video_mocap"
OUTPUT_TYPES = (".fbx", ".bvh", ".blend", ".png")
EXIT_USAGE, EXIT_ERROR = 2, 1


def load_package():
    """The repository root is the extension package; import it under a fixed name."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PACKAGE, ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return sys.modules[PACKAGE]


def parse_args(argv):
    ap = build_parser()
    ap.add_argument("video", help="video file, or a landmark cache .npz")
    ap.add_argument("--landmarks", help="write the landmark cache (.npz) here")
    ap.add_argument("--out", action="append", default=[], help="output file; repeat for several")
    ap.add_argument("--people", type=int, default=1, metavar="N",
                    help="capture up to N people, one take each (outputs named _p1, _p2, …); default 1: one "
                         "person followed")
    ap.add_argument("--person", type=int, default=None, metavar="N",
                    help="with several people in view, follow person N (numbered by first appearance, left to "
                         "right when together; default: the most prominent at the start)")
    args = ap.parse_args(argv)
    check_args(ap, args)
    if args.people < 1:
        ap.error("--people must be 1 or more")
    if args.person is not None and args.person < 1:
        ap.error("--person must be 1 or more")
    if args.person is not None and args.people > 1:
        ap.error("give either --person (one person followed) or --people N (several), not both")
    for out in args.out:
        if Path(out).suffix.lower() not in OUTPUT_TYPES:
            ap.error(f"--out {out}: unsupported type; use {', '.join(OUTPUT_TYPES)}")
    if args.landmarks and not args.landmarks.endswith(".npz"):
        ap.error("--landmarks must end in .npz")
    return args


def build_parser(prog: str = "cli.py", description: str | None = None) -> argparse.ArgumentParser:
    """The options every front end of the command shares (single video, batch): model, target, motion."""
    from video_mocap.capture.models import VARIANTS
    from video_mocap.retarget.bonemaps import GENERIC, PRESETS
    from video_mocap.retarget.solver import ROOT_MODE_HELP, ROOT_MODES

    ap = argparse.ArgumentParser(prog=prog, description=description or __doc__.split("\n\n")[0])
    ap.add_argument("--model", default="full", help=f"one of {', '.join(VARIANTS)} (default full)")
    ap.add_argument("--model-file", help="a pose_landmarker .task file to use instead of the built one")
    ap.add_argument("--hands", action="store_true",
                    help="capture both hands and key the fingers (more than twice the CPU a frame: ~0.65x the "
                         "frames per second with one worker, ~0.57x with two; so off by default)")
    ap.add_argument("--hand-model-file", help="a hand_landmarker .task file to use instead of the built one")
    ap.add_argument("--face", action="store_true",
                    help="capture the face too: expressions on the character's shape keys (ARKit or VRM names) "
                         "and Rigify face bones; the head turns with the face")
    ap.add_argument("--face-model-file", help="a face_landmarker .task file to use instead of the built one")
    ap.add_argument("--face-strength", type=float, default=1.0, help="expression weights × this (0: none keyed)")
    ap.add_argument("--face-neutral-frame", type=int, default=None,
                    help="video frame with the performer's relaxed face (default: found in the clip)")
    ap.add_argument("--face-map", help='shape key map JSON: {"shape_keys": {"jawOpen": "MouthOpen", ...}}')
    ap.add_argument("--armature", help="target armature: FILE.blend:OBJECT (default: a new Rigify metarig)")
    ap.add_argument("--rig", default=None,
                    help=f"bone-name preset of the target: auto, {', '.join(PRESETS)}, or {GENERIC} (guessed "
                         f"from the bone names; auto uses it when no preset fits) (default: auto)")
    ap.add_argument("--bone-map", help="a bone map JSON (role → bone name) instead of a preset")
    ap.add_argument("--root", default="hips", choices=ROOT_MODES,
                    help="; ".join(f"{m}: {ROOT_MODE_HELP[m]}" for m in ROOT_MODES) + " (default hips)")
    ap.add_argument("--smooth", default="zero_phase", choices=("zero_phase", "one_euro", "none"),
                    help="landmark smoothing: zero_phase (offline, no lag; default), one_euro (real-time feel), none")
    ap.add_argument("--smooth-hz", type=float, default=5.0,
                    help="zero-phase strength: frequencies above this are damped (default 5; 6-8 for fast sport/dance)")
    ap.add_argument("--no-foot-lock", action="store_true", help="let planted feet slide (no foot locking)")
    ap.add_argument("--keep-flips", action="store_true",
                    help="keep the detector's left/right flips as they are (by default they are undone)")
    ap.add_argument("--no-fusion", action="store_true",
                    help="use the detector's 3D landmarks as they are (by default they are fused with the image: "
                         "camera rays, constant bone lengths)")
    ap.add_argument("--fov", type=float, help="the camera's field of view across the longer side, degrees "
                                              "(default: read from a walk toward or away from the camera when "
                                              "the take has one, else 60, a phone's main camera)")
    ap.add_argument("--focal-mm", type=float, help="the lens focal length in mm, full-frame equivalent")
    ap.add_argument("--frames", help="video frames A:B (A inclusive, B exclusive, 0-based)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--verbose", action="store_true", help="also show MediaPipe's own log lines")
    from video_mocap.capture.parallel import MIN_FRAMES_PER_WORKER, usable_cores

    ap.add_argument("--workers", type=int, default=usable_cores(), metavar="N",
                    help=f"capture worker processes, each on a segment of the video (default: the usable CPU "
                         f"cores, here {usable_cores()}; 1 = one in-process landmarker; a worker gets at "
                         f"least {MIN_FRAMES_PER_WORKER} frames)")
    return ap


def check_args(ap: argparse.ArgumentParser, args) -> None:
    """Checks of the shared options (exit 2 with a usage message)."""
    from video_mocap.capture.models import VARIANTS
    from video_mocap.retarget.bonemaps import GENERIC, PRESETS

    if args.model not in VARIANTS:
        ap.error(f"unknown model '{args.model}': choose one of {', '.join(VARIANTS)}")
    if args.rig not in (None, "auto", GENERIC) and args.rig not in PRESETS:
        ap.error(f"unknown rig preset '{args.rig}': choose one of auto, {', '.join(PRESETS)}")
    if args.rig not in (None, "auto") and args.bone_map:
        ap.error("give either --rig or --bone-map, not both")
    if args.armature and (":" not in args.armature or not args.armature.rsplit(":", 1)[0].endswith(".blend")):
        ap.error("--armature must look like FILE.blend:OBJECT")
    if args.workers < 1:
        ap.error("--workers must be 1 or more")
    from video_mocap.pipeline import out_of_range

    for flag, name in (("--smooth-hz", "smooth_hz"), ("--face-strength", "face_strength"), ("--fov", "fov_deg"),
                       ("--focal-mm", "focal_mm")):
        problem = out_of_range(name, getattr(args, flag[2:].replace("-", "_"), None))
        if problem:
            ap.error(f"{flag} {problem}")
    if getattr(args, "fov", None) is not None and getattr(args, "focal_mm", None) is not None:
        ap.error("give either --fov or --focal-mm, not both")
    if (getattr(args, "face_neutral_frame", None) or 0) < 0:
        ap.error("--face-neutral-frame must be a video frame (0 or more); leave it out to find the neutral face "
                 "in the clip")
    from video_mocap.capture.video import parse_frame_range

    try:
        parse_frame_range(args.frames)
    except ValueError as exc:
        ap.error(f"--frames: {exc}")


def check_inputs(args) -> None:
    """The files the options name, read before any capture (found after it, a mistake would cost the whole
    capture, or a live performance): the target .blend exists, the bone map and the shape key map parse.
    Raises the same MocapError the bake would."""
    from video_mocap.retarget.bonemaps import check_blend_file, load_bone_map, load_shape_key_map

    if getattr(args, "armature", None):
        check_blend_file(args.armature.rsplit(":", 1)[0])
    if getattr(args, "bone_map", None):
        load_bone_map(args.bone_map)
    if getattr(args, "face_map", None):
        load_shape_key_map(args.face_map)


class Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.last = 0.0

    def __call__(self, done, total, fps):
        now = time.monotonic()
        if self.quiet or (now - self.last < 0.5 and done < total):
            return
        self.last = now
        eta = (total - done) / fps if fps > 0 else 0
        print(f"\rcapture {done}/{total} frames  {fps:5.1f} fps  ETA {eta:4.0f} s", end="", file=sys.stderr,
              flush=True)
        if done >= total:
            print(file=sys.stderr)

    def say(self, text):
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)


def start_run(args):
    """The start every command shares (single video, live): progress, MediaPipe's log lines, the
    pipeline options, and bpy imported first when there are Blender outputs. → (progress, options)."""
    from video_mocap import pipeline

    progress = Progress(args.quiet)
    if args.verbose:
        from video_mocap.capture.native_log import set_verbose

        set_verbose(True)
    options = pipeline.Options.from_args(args)
    if args.out:
        # Blender first: on Blender 4.2, importing bpy after MediaPipe's native libraries are loaded crashes.
        import bpy  # noqa: F401
    return progress, options


def run(args) -> int:
    from video_mocap import pipeline

    progress, options = start_run(args)
    from video_mocap.capture.files import check_writable
    from video_mocap.capture.people import person_path

    several = options.people > 1 and not args.video.endswith(".npz")
    for out in args.out + ([args.landmarks] if args.landmarks else []):
        # before any work: no capture wasted on an output that cannot be written
        check_writable(person_path(out, 1) if several else out)
    check_inputs(args)
    if args.video.endswith(".npz"):
        takes = [pipeline.load_take(args.video, options)]
    elif several:
        takes = pipeline.capture_people(args.video, options, progress)
        progress.say(f"{len(takes)} {'person' if len(takes) == 1 else 'people'} captured")
    else:
        takes = [pipeline.capture(args.video, options, progress=progress)]
    for track, report in takes:
        number = track.extra.get("person", 1)
        name = (lambda path, k=number: person_path(path, k)) if several else (lambda path: path)
        for line in report.lines():
            progress.say(f"person {number}: {line}" if several else line)
        if args.landmarks:
            track.save(name(args.landmarks))
            progress.say(f"wrote {name(args.landmarks)}")
        if args.out:
            bake_and_export(track, options, args, progress, outs=[name(out) for out in args.out])
    return 0


def bake_and_export(track, options, args, progress=None, outs=None):
    """Key the track onto the target (args.armature, else a new metarig at the performer's proportions) and
    write `outs` (default: args.out; the type follows each path's extension). Returns the apply Report.
    The one bake for the command, batch.py and live.py."""
    import bpy

    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.armature import add_metarig, open_armature
    from video_mocap.blender.contact_sheet import contact_sheet
    from video_mocap.blender.export import export_bvh, export_fbx, save_blend_copy

    context = bpy.context
    if args.armature:
        blend, name = args.armature.rsplit(":", 1)
        obj = open_armature(blend, name)
    else:
        # An empty scene from the factory startup file; not read_factory_settings, which inside the Blender
        # binary (blender -c video_mocap) would also reset the preferences and the extensions.
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        obj = add_metarig(context)
        if track.has_face:  # a head with ARKit shape keys, to show the expressions on the default target
            from video_mocap.blender.face import add_face_test_mesh

            add_face_test_mesh(context, obj)
        if options.rig == "auto":
            options.rig = "metarig"
    # The default target is built to the performer's proportions; a user's own armature keeps its own.
    result = apply_track(context, obj, track, options=options, fit_proportions=not args.armature)
    say = progress.say if progress is not None else (lambda text: None)
    for line in result.report.lines():
        say(line)
    for out in args.out if outs is None else outs:
        out_abs = os.path.abspath(out)
        ext = Path(out).suffix.lower()
        if ext == ".fbx":
            export_fbx(context, obj, out_abs)
        elif ext == ".bvh":
            export_bvh(context, obj, out_abs, result.frame_start, result.frame_end)
        elif ext == ".png":
            contact_sheet(context, obj, track, out_abs, result.frame_start)
        elif ext == ".blend":
            save_blend_copy(context, out_abs, result.frame_start)
        say(f"wrote {out}")
    return result.report


def main(argv=None) -> int:
    load_package()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:  # many videos: batch.py (same options, plus --out-dir, --format, …)
        from video_mocap.batch import main as batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["live"]:  # a camera or stream: live.py (records a take, then processes it like a video)
        from video_mocap.live import main as live_main

        return live_main(argv[1:])
    args = parse_args(argv)
    from video_mocap.capture.errors import MocapError as USER_ERRORS

    try:
        return run(args)
    except USER_ERRORS as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nerror: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: with bpy 4.2 and MediaPipe both loaded it can crash after all the
    # work is done and every file is closed, turning a success into a segfault exit code.
    os._exit(code)
