"""Apply a `PoseTrack` to an armature: solve, then key a new Action; set the scene's fps and range."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..capture.errors import MotionError, RigError
from ..capture.track import PoseTrack
from ..pipeline import Motion, Options, Report, clean, performer_lengths, solve_cleaned
from ..retarget.bonemaps import detect_preset, load_bone_map, resolve_preset
from ..retarget.rotations import make_continuous
from .action import bone_path, key_rotations, new_action, write_curves
from .armature import read_rest_pose
from .evaluated import local_rotations_evaluated, needs_evaluation
from .proportions import fit_to_proportions

# Rigify limb switches: the custom property 'IK_FK' on the limb's parent control, 1.0 = FK.
FK_SWITCHES = ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R")


def _switch_limbs_to_fk(action, obj, frame_start: int) -> None:
    """Key Rigify's IK/FK switches to FK in OUR action, so the FK keys drive the limbs while it plays.
    The values the switches had are stored on the action (`video_mocap_restore`, data path → value)."""
    restore = {}
    for name in FK_SWITCHES:
        pb = obj.pose.bones.get(name)
        if pb is not None and "IK_FK" in pb.keys():
            path = bone_path(name, '["IK_FK"]')
            restore[path] = float(pb["IK_FK"])
            write_curves(action, obj, path, np.array([frame_start]), np.array([[1.0]]), name)
    if restore:
        action["video_mocap_restore"] = restore


@dataclass
class ApplyResult:
    action: object
    frame_start: int
    frame_end: int
    keyed_bones: list
    missing_roles: list
    preset: str | None = None
    bone_map: dict = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    motion: Motion | None = None
    face: dict | None = None                  # blender/face.apply_face's result when the take had a face

    @property
    def warnings(self) -> list[str]:
        return self.report.warnings

    @property
    def side_flips_fixed(self) -> int:
        return self.report.facts.get("side_flips_fixed", 0)

    @property
    def unkeyed_frames(self) -> int:
        return self.report.facts.get("unkeyed_frames", 0)

    @property
    def foot_skate(self) -> dict:
        return self.motion.solution.foot_skate if self.motion else {}


def set_scene_fps(scene, fps: float) -> None:
    """Scene fps = video fps exactly (fps / fps_base), e.g. 30000/1001 for NTSC."""
    frac = Fraction(fps).limit_denominator(1001)
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / float(frac)


def action_name(track: PoseTrack) -> str:
    stem = Path(track.source).stem or "capture"
    return f"{stem}_{Path(track.model).stem or 'mocap'}"


def key_times(track: PoseTrack, frame_start: int):
    """Scene frame of each processed video frame: frame_start + i for a constant frame rate; for a
    variable frame rate the frame's own time (container timestamps) at the track's nominal fps."""
    import numpy as np

    n = len(track)
    regular = frame_start + np.arange(n, dtype=np.float64)
    ts = track.timestamps_ms.astype(np.float64)
    if n < 2 or not (np.diff(ts) > 0).all():  # no usable times: one frame per processed frame
        return regular
    timed = frame_start + (ts - ts[0]) * track.fps / 1000.0
    # Timestamps are whole milliseconds (and made strictly increasing by up to 1 ms): that moves a
    # constant-rate frame by up to ~1 ms, 0.24 frame at 240 fps. Within that (+ 0.1 frame): whole frames.
    tolerance = 0.1 + 1.0 * track.fps / 1000.0
    return regular if np.abs(timed - regular).max() < tolerance else timed


def choose_bone_map(obj, rig: str | dict | None = "auto") -> tuple[str | None, dict]:
    """'auto' (detect), a preset name, a bone map JSON path, or a ready dict → (preset or None, map)."""
    names = [b.name for b in obj.data.bones]
    parents = {b.name: b.parent.name if b.parent else None for b in obj.data.bones}
    if isinstance(rig, dict):
        return None, dict(rig)
    if rig in (None, "", "auto"):
        return detect_preset(names, parents)
    if str(rig).lower().endswith(".json"):
        bone_map = load_bone_map(rig)
        absent = [bone for bone in bone_map.values() if bone not in names]
        if absent:
            raise RigError(f"Bone map {rig} names bones not in the armature '{obj.name}': "
                           f"{', '.join(sorted(set(absent))[:8])}{' …' if len(set(absent)) > 8 else ''}. "
                           f"Fix the names in the bone map, or choose the armature it was made for.")
        if "hips" not in bone_map:
            raise RigError(f"Bone map {rig} does not map 'hips', the bone the body hangs from. Add "
                           f"\"hips\": \"<your pelvis bone>\" to its \"bones\".")
        return None, bone_map
    return rig, resolve_preset(rig, names, parents)


def check_target(obj) -> None:
    if obj is None or obj.type != "ARMATURE":
        raise RigError("The target is not an armature. Select an armature object.")
    if obj.mode == "EDIT":
        raise RigError(f"'{obj.name}' is in Edit Mode. Leave Edit Mode (Tab) and apply again.")
    if obj.library is not None or (obj.data.library is not None and obj.override_library is None):
        raise RigError(f"'{obj.name}' is linked from another file and cannot be keyed here. "
                       f"Make it local or use a library override.")


def apply_track(context, obj, track: PoseTrack, rig: str | dict | None = None, frame_start: int = 1,
                set_scene: bool = True, options: Options | None = None, report: Report | None = None,
                fit_proportions: bool = False, **overrides) -> ApplyResult:
    """Key one pose per processed video frame into a NEW Action on obj (pipeline.process does the rest).

    Output frame i (scene frame frame_start + i) is video frame track.first_frame + i. `overrides` are
    Options fields (root_mode=…, smoothing=…); `rig` overrides options.rig. fit_proportions: first give
    obj the performer's proportions (for a new metarig; never for a user's own armature).
    """
    options = options or Options()
    camera = overrides.pop("camera", None)
    if camera:  # the older keyword: {"fov_deg": …} or {"focal_mm": …}
        overrides.update(fov_deg=camera.get("fov_deg"), focal_mm=camera.get("focal_mm"))
    if rig is not None or overrides:
        options = replace(options, **({"rig": rig} if rig is not None else {}), **overrides)
    check_target(obj)
    preset, bone_map = choose_bone_map(obj, options.rig)
    report = report if report is not None else Report()
    cleaned = _keep_face(track, clean(track, options, report))
    neutral = _neutral_row(cleaned, getattr(options, "face_neutral_frame", None)) if cleaned.has_face else None
    if fit_proportions:
        lengths = performer_lengths(cleaned)
        fit_to_proportions(context, obj, lengths, bone_map)
        if lengths:
            report.info("rig built to the performer's proportions: " + ", ".join(
                f"{k.replace('_', ' ')} {100 * v:.0f} cm" for k, v in lengths.items()))
    rest = read_rest_pose(obj)
    motion = solve_cleaned(track, cleaned, rest, bone_map, options, report)
    solution, cleaned = motion.solution, motion.track
    rotations = solution.rotations
    action = new_action(obj, action_name(track))  # empty and assigned: nothing else animates the rig now
    _switch_limbs_to_fk(action, obj, frame_start)  # before evaluating: the FK chain must be the live one
    if needs_evaluation(obj, rotations):
        roles = {bone: role for role, bone in bone_map.items()}
        rotations = local_rotations_evaluated(context, obj, solution.world_rotations, roles, frame_start)
        rotations = {bone: make_continuous(q) for bone, q in rotations.items()}
    times = key_times(cleaned, frame_start)
    keep = motion.keep
    keyed = key_rotations(action, obj, {b: q[keep] for b, q in rotations.items()}, times[keep])
    for name, location in solution.locations.items():
        write_curves(action, obj, bone_path(name, "location"), times[keep], location[keep], name)
    face = None
    strength = getattr(options, "face_strength", 1.0)
    if cleaned.has_face and strength > 0:  # like the hands: whenever the take has a face (after the body:
        from .face import apply_face  # the jaw and lids key into its action)

        face = apply_face(context, obj, cleaned, frame_start, strength=strength,
                          shape_key_map=getattr(options, "face_map", None) or None, report=motion.report,
                          neutral_frame=neutral,
                          times=times, action=action, fov_deg=_face_fov(options))
    frame_end = int(round(times[-1]))
    if set_scene:
        scene = context.scene
        set_scene_fps(scene, track.fps)
        scene.frame_start, scene.frame_end = frame_start, frame_end
    action["mocap_source"] = track.source
    action["mocap_first_video_frame"] = track.first_frame
    action["mocap_fps"] = track.fps
    report = motion.report
    if preset:
        report.info(f"bone map: preset '{preset}' ({len(bone_map)} roles)")
    report.info(f"keyed {len(keyed)} bones, frames {frame_start}-{frame_end} into action '{action.name}'")
    return ApplyResult(action, frame_start, frame_end, keyed, solution.missing_roles, preset,
                       {r: bone_map[r] for r in bone_map if bone_map[r] in rest.bones}, report, motion, face)


def _keep_face(track: PoseTrack, cleaned: PoseTrack) -> PoseTrack:
    """The cleaning stages rebuild the track without its face arrays: carry them over (cleaning does not
    change the face). A no-op once pipeline.clean keeps them itself."""
    if track.has_face and not cleaned.has_face and len(track) == len(cleaned):
        for key, value in track.face_arrays().items():
            setattr(cleaned, key, tuple(str(v) for v in value) if key == "face_expression_names" else value)
    return cleaned


def _neutral_row(track: PoseTrack, video_frame) -> int | None:
    """The user's neutral face (a video frame number; None or < 0: found in the clip) as a row."""
    if video_frame is None or video_frame < 0:
        return None
    row = int(video_frame) - track.first_frame
    if not 0 <= row < len(track):
        raise MotionError(f"The neutral face frame {video_frame} is outside the take "
                          f"(video frames {track.first_frame}-{track.first_frame + len(track) - 1}).")
    return row


def _face_fov(options) -> float:
    from ..retarget.solver import camera_fov

    return camera_fov(options.camera, (1, 1)) if options.camera else 60.0
