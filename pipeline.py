"""The one way through: video → `PoseTrack` → cleaned track → `Solution`, for every front end. No bpy.

    options = Options.from_args(args)            # the headless command
    options = Options.from_settings(settings)    # the panel (duck-typed: reads attributes)
    track, report = capture(video, options, progress=…)      # or load_take(path, options)
    motion = process(track, rest, bone_map, options)         # flips → fusion → smoothing → solve
    motion.report.lines()                                    # the same messages in every front end

Stages (imports only go down): capture/ → motion/ → retarget/ → pipeline.py → blender/ → cli.py,
operators/, ui/. The Blender layer reads rest poses, writes the keys of `motion.solution`, exports.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields

import numpy as np

from .capture.errors import Cancelled, MotionError, TrackError
from .capture.job import CaptureJob, CaptureRequest
from .capture.track import PoseTrack
from .motion.filters import DEFAULT_CUTOFF_HZ, smooth_track
from .motion.fusion import fuse_track
from .motion.gait import lens_from_walk
from .motion.hands import smooth_hands
from .motion.sides import fix_side_flips
from .retarget.rig import RestPose
from .retarget.solver import Solution, solve

SMOOTHING = ("zero_phase", "one_euro", "none")

# The range each number option accepts, in every front end: the panel's min/max (properties.py) and the
# command's checks (cli.check_args). The lens range is the field of view's for a full-frame sensor.
RANGES = {
    "smooth_hz": (0.5, 30.0, "Hz"),
    "face_strength": (0.0, 2.0, ""),
    "fov_deg": (5.0, 170.0, "degrees across the longer side"),
    "focal_mm": (1.6, 400.0, "mm, full-frame equivalent"),
}


def out_of_range(name: str, value) -> str | None:
    """Why `value` is not a valid `name` (an Options field in RANGES), in a few words; None when it is
    (None itself, the default, is valid)."""
    if value is None:
        return None
    low, high, unit = RANGES[name]
    if not low <= value <= high:  # NaN fails too
        return f"{value:g} is out of range: give {low:g} to {high:g}" + (f" ({unit})" if unit else "")
    return None


@dataclass
class Options:
    """Every choice a front end makes, with the product's defaults."""
    model: str = "full"                 # lite | full | heavy
    model_file: str | None = None       # a user .task file (wins over the built one)
    frames: tuple[int | None, int | None] = (None, None)  # video frames [start, stop)
    workers: int = 1                    # capture worker processes (0: usable cores)
    hands: bool = False                 # capture both hands too (about half the frame rate: off by default)
    hand_model_file: str | None = None  # a user hand_landmarker.task (wins over the built one)
    keep_partial: bool = False          # on cancel, keep the frames captured so far
    fix_sides: bool = True              # undo the detector's left/right flips
    fusion: bool = True                 # image-plane fusion (camera rays + model depth, constant bones)
    smoothing: str = "zero_phase"       # zero_phase | one_euro | none
    smooth_hz: float = DEFAULT_CUTOFF_HZ
    root_mode: str = "hips"             # hips | root_bone | grounded | in_place
    foot_lock: bool = True
    fov_deg: float | None = None        # camera field of view across the longer side (None: read from a
    #                                     walk toward or away from the camera, else 60; see walk_camera)
    focal_mm: float | None = None       # or the lens, full-frame equivalent
    rig: str | dict | None = "auto"     # auto | preset | bone map JSON path | {role: bone}
    face: bool = False                  # capture the face too; keyed (the head follows it) whenever the take has one
    face_model_file: str | None = None  # a user face_landmarker.task (its blendshapes are used if it has them)
    face_strength: float = 1.0          # expression weights × this (0: expressions not keyed)
    face_neutral_frame: int | None = None  # video frame of the performer's neutral face (None: found in the clip)
    face_map: str | None = None         # shape key map JSON {"shape_keys": {"jawOpen": "MouthOpen", …}}
    level: bool = True                  # make the body upright whatever the camera's tilt
    people: int = 1                     # 1: one person followed; N > 1: up to N people, one take each
    person: int | None = None           # people = 1: the person to follow (1-based; None: the most prominent)

    @property
    def camera(self) -> dict | None:
        if self.fov_deg:
            return {"fov_deg": float(self.fov_deg)}
        if self.focal_mm:
            return {"focal_mm": float(self.focal_mm)}
        return None

    @classmethod
    def from_args(cls, args) -> Options:
        """From the headless command's argparse namespace (cli.py)."""
        from .capture.video import parse_frame_range

        rig = args.bone_map or args.rig or "auto"
        return cls(model=args.model, model_file=args.model_file, frames=parse_frame_range(args.frames),
                   workers=args.workers, hands=getattr(args, "hands", False),
                   hand_model_file=getattr(args, "hand_model_file", None), fix_sides=not args.keep_flips,
                   fusion=not args.no_fusion,
                   smoothing=args.smooth, smooth_hz=args.smooth_hz, root_mode=args.root,
                   foot_lock=not args.no_foot_lock, fov_deg=args.fov, focal_mm=args.focal_mm, rig=rig,
                   face=getattr(args, "face", False), face_model_file=getattr(args, "face_model_file", None),
                   face_strength=getattr(args, "face_strength", 1.0),
                   face_neutral_frame=getattr(args, "face_neutral_frame", None),
                   face_map=getattr(args, "face_map", None),
                   people=getattr(args, "people", 1) or 1, person=getattr(args, "person", None))

    @classmethod
    def from_settings(cls, settings, **overrides) -> Options:
        """From the panel's settings (any object with these attribute names; missing ones keep the
        default). `overrides` win (e.g. rig=…, workers=… from the preferences)."""
        values = {}
        for f in fields(cls):
            if hasattr(settings, f.name):
                values[f.name] = getattr(settings, f.name)
        if hasattr(settings, "keep_flips"):
            values["fix_sides"] = not settings.keep_flips
        if values.get("fov_deg") == 0 or not getattr(settings, "lens_known", True):
            values["fov_deg"] = None  # no lens known: read from a walk, else the 60° guess (walk_camera)
        if values.get("focal_mm") == 0:
            values["focal_mm"] = None
        if values.get("person") in (0, -1):  # a panel's "none chosen"
            values["person"] = None
        values.update(overrides)
        return cls(**values)


# ----------------------------------------------------------------------------------------------
# Report: one list of messages, worded once, shown by every front end

@dataclass
class Message:
    severity: str   # INFO | WARNING
    text: str


@dataclass
class Report:
    messages: list[Message] = field(default_factory=list)
    facts: dict = field(default_factory=dict)   # figures for machines (batch reports, benchmarks)

    def info(self, text: str) -> None:
        self.messages.append(Message("INFO", text))

    def warning(self, text: str) -> None:
        self.messages.append(Message("WARNING", text))

    def extend(self, other: Report) -> Report:
        self.messages.extend(other.messages)
        self.facts.update(other.facts)
        return self

    @property
    def warnings(self) -> list[str]:
        return [m.text for m in self.messages if m.severity == "WARNING"]

    def lines(self) -> list[str]:
        """As the command prints them: warnings prefixed `warning: `."""
        return [("warning: " if m.severity == "WARNING" else "") + m.text for m in self.messages]


# ----------------------------------------------------------------------------------------------
# Stage 1: capture (or a cached take)

def capture_request(video: str, options: Options, cache_path: str | None = None) -> CaptureRequest:
    """The capture job of these options (cache_path: people > 1 saves `_p1`, `_p2`, … beside it)."""
    start, stop = options.frames
    finalize = (functools.partial(add_face_expressions, neutral_frame=options.face_neutral_frame,
                                  fov_deg=_face_fov(options)) if options.face else None)
    return CaptureRequest(video=video, model=options.model, model_path=options.model_file, start=start,
                          stop=stop, cache_path=cache_path, keep_partial=options.keep_partial,
                          workers=options.workers, hands=options.hands, hand_model_path=options.hand_model_file,
                          face=options.face, face_model_path=options.face_model_file,
                          people=max(1, int(options.people or 1)),
                          person=options.person if (options.people or 1) <= 1 else None, finalize=finalize)


def _face_fov(options: Options) -> float:
    from .retarget.solver import camera_fov

    return camera_fov(options.camera, (1, 1)) if options.camera else 60.0


def add_face_expressions(track: PoseTrack, neutral_frame: int | None = None, fov_deg: float | None = 60.0
                         ) -> PoseTrack:
    """The take's expressions from its face landmarks, unless it has them (a blendshape model's);
    neutral_frame: a VIDEO frame (None or < 0, or outside the take: found in the clip)."""
    from .motion.face import add_expressions

    row = None
    if neutral_frame is not None and neutral_frame >= 0 and 0 <= neutral_frame - track.first_frame < len(track):
        row = int(neutral_frame) - track.first_frame
    return add_expressions(track, neutral_frame=row, fov_deg=fov_deg)


def start_capture(video: str, options: Options, cache_path: str | None = None) -> CaptureJob:
    """A capture in a background thread (the panel polls `job.status`)."""
    return CaptureJob(capture_request(video, options, cache_path)).start()


def capture(video: str, options: Options, *, progress=None, cache_path: str | None = None,
            should_cancel=None) -> tuple[PoseTrack, Report]:
    """Capture blocking, in this thread (the command); the same job the panel runs in the background."""
    status = _run_capture(video, options, progress, cache_path, should_cancel)
    return status.track, capture_report(status.track)


def _run_capture(video, options, progress, cache_path, should_cancel):
    """The capture job run blocking; its finished status (raises the job's error)."""
    job = CaptureJob(capture_request(video, options, cache_path), progress=progress)
    if should_cancel is not None:
        job.cancel_when(should_cancel)
    status = job.run()
    if status.error is not None:
        raise status.error
    return status


def capture_people(video: str, options: Options, progress=None, *, cache_path: str | None = None,
                   should_cancel=None) -> list[tuple[PoseTrack, Report]]:
    """Capture blocking; one (track, report) per person found, ordered by their number (track.extra
    ['person'] = 1, 2, …: order of first appearance, left to right when together). options.people = 1:
    one, the followed person's. cache_path: people > 1 saves each as `<stem>_pK<ext>`."""
    status = _run_capture(video, options, progress, cache_path, should_cancel)
    tracks = status.tracks or [status.track]
    return [(t, capture_report(t)) for t in tracks]


def capture_report(track: PoseTrack) -> Report:
    """What a capture found, worded once for every front end."""
    report = Report()
    if track.extra.get("workers", 1) > 1:
        report.info(f"captured with {track.extra['workers']} worker processes")
    if "truncated_at" in track.extra:
        report.warning(f"the video stopped decoding at frame {track.extra['truncated_at']}; "
                       f"kept the {len(track)} frames before it")
    found = int(track.detected.sum())
    report.info(f"person found in {found}/{len(track)} frames")
    report.facts.update(frames=len(track), detected=track.detected_fraction)
    people = track.extra.get("people_max", 1)
    several = track.extra.get("people", 0)
    report.facts.update({key: track.extra[key] for key in ("person", "people", "people_found", "person_hidden")
                         if key in track.extra})
    if several > 1:  # one take of several (--people N)
        report.info(f"person {track.extra.get('person', 1)} of {several}")
        if track.extra.get("person_hidden"):
            report.info(f"person {track.extra.get('person', 1)} not seen in {track.extra['person_hidden']} "
                        f"of {len(track)} frames")
    elif "people_found" in track.extra and max(track.extra["people_found"], people) > 1:
        n = max(track.extra["people_found"], people)
        report.warning(f"{n} people in view; person {track.extra.get('person', 1)} followed "
                       f"(--person to choose another, --people {n} to capture them all)")
        if track.extra.get("person_hidden"):
            report.warning(f"person {track.extra.get('person', 1)} hidden or out of view in "
                           f"{track.extra['person_hidden']} of {len(track)} frames (left as gaps)")
    elif people > 1:
        jumps = track.extra.get("identity_jumps", 0)
        report.warning(f"{people} people in view; one person was tracked"
                       + (f", but the tracker seems to switch people {jumps} times" if jumps else " consistently"))
    if 0 < found < len(track):
        report.warning(f"no person in {len(track) - found} of {len(track)} frames")
    return report


def load_take(path: str, options: Options) -> tuple[PoseTrack, Report]:
    """A landmark cache, cut to options.frames (video frame numbers, bounds-checked)."""
    track = PoseTrack.load(path)
    start, stop = options.frames
    if start is not None or stop is not None:
        track = track.video_range(start, stop)
    if track.has_face and track.face_expressions is None:  # an older cache: expressions from the landmarks
        add_face_expressions(track, options.face_neutral_frame, _face_fov(options))
    return track, capture_report(track)


# ----------------------------------------------------------------------------------------------
# Stage 2: clean (flips → fusion → gaps and smoothing)

def clean(track: PoseTrack, options: Options, report: Report | None = None) -> PoseTrack:
    """The detector's landmarks → the landmarks the solver sees. The input is not modified."""
    report = report if report is not None else Report()
    if not track.detected.any():
        raise MotionError(f"No person was found in any of the {len(track)} frames of this take. "
                          f"Use a video (or a frame range) where one person is fully visible.")
    if options.fix_sides:
        track, sides = fix_side_flips(track)
        report.facts["side_flips_fixed"] = sides.frames
        if sides.frames:
            report.info(f"left/right flips of the detector undone on {sides.frames} frames")
        for line in getattr(sides, "messages", []):
            report.warning(line)
    camera = options.camera or walk_camera(track, report)
    if options.fusion:
        track, fused = fuse_track(track, **(camera or {}))
        report.facts["fusion_ms_per_frame"] = fused.ms_per_frame
    if options.smoothing not in SMOOTHING:
        raise MotionError(f"Unknown smoothing '{options.smoothing}': choose one of {', '.join(SMOOTHING)}.")
    track, filtered = smooth_track(track, options.smoothing, strength_hz=options.smooth_hz)
    if track.has_hands:  # fingers filtered like the body
        track.hand_world_landmarks = smooth_hands(track.hand_world_landmarks, track.hand_presence, track.fps,
                                                  options.smoothing, options.smooth_hz)
    left = filtered.frames_left
    report.facts["unkeyed_frames"] = left
    for line in filtered.warnings():
        report.warning(line)
    if left:
        report.warning(f"{left} frames without a person were left unkeyed (Blender interpolates between the "
                       f"neighbouring keys)")
    if camera:  # the lens the solver's root motion uses too
        track.extra["camera"] = dict(camera)
    return track


def walk_camera(track: PoseTrack, report: Report) -> dict | None:
    """No lens given: the one a walk toward or away from the camera implies (motion.gait), else None
    (the 60° guess). Said in the report either way; `--fov` / `--focal-mm` override it."""
    lens = lens_from_walk(track)
    report.facts["lens"] = {"fov_deg": lens.fov_deg, "reason": lens.reason,
                            "cadence": float(lens.cadence) if np.isfinite(lens.cadence) else None}
    if lens.focal_px is None:
        return None
    report.info(f"lens read from the walk ({lens.cadence:.0f} steps/min): {lens.fov_deg:.0f}° across the "
                f"longer side instead of the 60° guess; give --fov or --focal-mm when you know it")
    return lens.camera


# ----------------------------------------------------------------------------------------------
# Stage 3: solve onto a rig

@dataclass
class Motion:
    """What the Blender layer keys: the solution, the cleaned track it came from, and the report."""
    raw: PoseTrack
    track: PoseTrack
    solution: Solution
    bone_map: dict
    report: Report

    @property
    def keep(self) -> np.ndarray:
        """Frames that get keys: inside gaps too long to fill (nobody there) there are none."""
        detected = self.track.detected.astype(bool)
        return detected if detected.any() else np.ones(len(detected), bool)


def process(track: PoseTrack, rest: RestPose, bone_map: dict, options: Options,
            report: Report | None = None) -> Motion:
    """Clean the track and solve it onto the rig: everything between the cache and the keys."""
    report = report if report is not None else Report()
    return solve_cleaned(track, clean(track, options, report), rest, bone_map, options, report)


def performer_lengths(cleaned: PoseTrack) -> dict[str, float]:
    """The performer's segment lengths (metres) between the joints a rig has: upper_arm, forearm, thigh,
    shin, shoulder_width, hip_width, torso (mid-hip to mid-shoulder): the fusion's constant lengths when
    it ran, else robust (visibility-weighted median) estimates over the detected frames."""
    from .motion.proportions import segment_lengths

    keys = ("upper_arm", "forearm", "thigh", "shin", "shoulder_width", "hip_width", "torso")
    lengths = dict(cleaned.extra.get("segment_lengths") or {})
    if not all(lengths.get(k, 0) > 0 for k in keys):
        seen = cleaned.detected.astype(bool)
        if not seen.any():
            return {}
        estimated = segment_lengths(cleaned.world_landmarks[seen].astype(np.float64), cleaned.visibility[seen])
        lengths = {k: lengths.get(k) or estimated.get(k, 0.0) for k in keys}
    return {k: float(lengths[k]) for k in keys if lengths.get(k, 0) > 0 and np.isfinite(lengths[k])}


def solve_cleaned(raw: PoseTrack, cleaned: PoseTrack, rest: RestPose, bone_map: dict, options: Options,
                  report: Report) -> Motion:
    """Solve an already cleaned track (`clean`) onto the rig."""
    # fingers whenever the take has hands; the lens: the user's, else the one clean() read from a walk
    solution = solve(cleaned, rest, bone_map, root_mode=options.root_mode, foot_lock=options.foot_lock,
                     camera=options.camera or cleaned.extra.get("camera"), level=options.level)
    if solution.foot_skate:
        report.info(f"foot skate while planted: {100 * solution.foot_skate['before']:.2f} cm/frame before "
                    f"locking, {100 * solution.foot_skate['after']:.2f} cm/frame after")
        report.facts["foot_skate_cm"] = {k: 100 * v for k, v in solution.foot_skate.items()}
    if solution.hands is not None:
        seen = (solution.hands.weights == 1).mean(0)
        report.info(f"hands seen on {100 * seen[0]:.0f} % (left) and {100 * seen[1]:.0f} % (right) of the frames; "
                    f"unseen stretches ease to the last pose, then to a relaxed hand")
        clamped = {role: n for role, n in solution.hands.clamped.items() if n}
        if clamped:
            report.info(f"finger joints held to what a hand can do on {sum(clamped.values())} joint-frames")
        report.facts["hands_seen"] = [float(v) for v in seen]
    if solution.missing_roles:
        report.warning(f"roles not in this rig, left unposed: {', '.join(solution.missing_roles)}")
    return Motion(raw, cleaned, solution, bone_map, report)


def check_range(track: PoseTrack) -> None:
    if len(track) == 0:
        raise TrackError("The take has no frames. Choose a frame range inside the video.")


__all__ = ["Options", "Report", "Message", "Motion", "capture", "capture_people", "start_capture", "capture_report",
           "load_take", "add_face_expressions",
           "clean", "process", "solve_cleaned", "performer_lengths", "Cancelled"]
