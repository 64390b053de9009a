"""Apply a `PoseTrack` to an armature: solve, then key a new Action; set the scene's fps and range."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..capture.track import PoseTrack
from ..retarget.bonemaps import detect_preset, load_bone_map, resolve_preset
from ..retarget.rig import RigError
from ..retarget.solver import solve
import numpy as np

from ..motion.filters import DEFAULT_CUTOFF_HZ, smooth_track
from ..motion.sides import fix_side_flips
from ..retarget.rotations import make_continuous
from .action import key_rotations, new_action, write_curves
from .evaluated import local_rotations_evaluated, needs_evaluation

# Rigify limb switches: the custom property 'IK_FK' on the limb's parent control, 1.0 = FK.
FK_SWITCHES = ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R")


def _switch_limbs_to_fk(action, obj, frame_start: int) -> None:
    """Set Rigify's IK/FK switches to FK and key them in our Action, so the FK keys drive the limbs."""
    import numpy as np

    for name in FK_SWITCHES:
        pb = obj.pose.bones.get(name)
        if pb is not None and "IK_FK" in pb.keys():
            pb["IK_FK"] = 1.0
            write_curves(action, obj, f'pose.bones["{name}"]["IK_FK"]', np.array([frame_start]),
                         np.array([[1.0]]), name)
from .armature import read_rest_pose


@dataclass
class ApplyResult:
    action: object
    frame_start: int
    frame_end: int
    keyed_bones: list
    missing_roles: list
    filled_frames: int
    preset: str | None = None
    bone_map: dict = field(default_factory=dict)
    held: dict = field(default_factory=dict)
    foot_skate: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    unkeyed_frames: int = 0
    side_flips_fixed: int = 0


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
    # Rounding to whole milliseconds moves a constant-rate frame by < 0.1 frame: keep whole frames then.
    return regular if np.abs(timed - regular).max() < 0.1 else timed


def choose_bone_map(obj, rig: str | dict | None = "auto") -> tuple[str | None, dict]:
    """'auto' (detect), a preset name, a bone map JSON path, or a ready dict → (preset or None, map)."""
    names = [b.name for b in obj.data.bones]
    parents = {b.name: b.parent.name if b.parent else None for b in obj.data.bones}
    if isinstance(rig, dict):
        return None, dict(rig)
    if rig in (None, "", "auto"):
        return detect_preset(names, parents)
    if str(rig).lower().endswith(".json"):
        return None, load_bone_map(rig)
    return rig, resolve_preset(rig, names, parents)


def check_target(obj) -> None:
    if obj is None or obj.type != "ARMATURE":
        raise RigError("The target is not an armature. Select an armature object.")
    if obj.mode == "EDIT":
        raise RigError(f"'{obj.name}' is in Edit Mode. Leave Edit Mode (Tab) and apply again.")
    if obj.library is not None or (obj.data.library is not None and obj.override_library is None):
        raise RigError(f"'{obj.name}' is linked from another file and cannot be keyed here. "
                       f"Make it local or use a library override.")


def apply_track(context, obj, track: PoseTrack, rig: str | dict | None = "auto", frame_start: int = 1,
                set_scene: bool = True, root_mode: str = "hips", foot_lock: bool = True,
                camera: dict | None = None, level: bool = True, smoothing: str = "zero_phase",
                smooth_hz: float = DEFAULT_CUTOFF_HZ, fix_sides: bool = True) -> ApplyResult:
    """Key one pose per processed video frame into a NEW Action on obj.

    Output frame i (scene frame frame_start + i) is video frame track.first_frame + i.
    fix_sides: undo the landmarker's left/right flips first (motion/sides.py).
    """
    check_target(obj)
    preset, bone_map = choose_bone_map(obj, rig)
    rest = read_rest_pose(obj)
    raw = track
    sides = None
    if fix_sides:
        track, sides = fix_side_flips(track)
    track, report = smooth_track(track, smoothing, strength_hz=smooth_hz)
    solution = solve(track, rest, bone_map, root_mode=root_mode, foot_lock=foot_lock, camera=camera, level=level)
    rotations = solution.rotations
    action = new_action(obj, action_name(track))  # empty and assigned: nothing else animates the rig now
    if needs_evaluation(obj, rotations):
        roles = {bone: role for role, bone in bone_map.items()}
        rotations = local_rotations_evaluated(context, obj, solution.world_rotations, roles, frame_start)
        rotations = {bone: make_continuous(q) for bone, q in rotations.items()}
    times = key_times(track, frame_start)
    # Frames inside gaps too long to fill (nobody there) get no keys: Blender interpolates across.
    keep = track.detected.astype(bool) if track.detected.any() else np.ones(len(track), bool)
    keyed = key_rotations(action, obj, {b: q[keep] for b, q in rotations.items()}, times[keep])
    _switch_limbs_to_fk(action, obj, frame_start)
    for name, location in solution.locations.items():
        write_curves(action, obj, f'pose.bones["{name}"].location', times[keep], location[keep], name)
    frame_end = int(round(times[-1]))
    if set_scene:
        scene = context.scene
        set_scene_fps(scene, track.fps)
        scene.frame_start, scene.frame_end = frame_start, frame_end
    action["mocap_source"] = raw.source
    action["mocap_first_video_frame"] = track.first_frame
    action["mocap_fps"] = track.fps
    return ApplyResult(action, frame_start, frame_end, keyed, solution.missing_roles, solution.filled_frames,
                       preset, {r: bone_map[r] for r in bone_map if bone_map[r] in rest.bones}, solution.held,
                       solution.foot_skate, report.warnings() if hasattr(report, "warnings") else [],
                       int((~keep).sum()), sides.frames if sides is not None else 0)
