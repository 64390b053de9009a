"""Apply a `PoseTrack` to an armature: solve, then key a new Action; set the scene's fps and range."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..capture.track import PoseTrack
from ..retarget.rig import PRESETS, RigError
from ..retarget.solver import solve
from .action import key_rotations, new_action
from .armature import read_rest_pose


@dataclass
class ApplyResult:
    action: object
    frame_start: int
    frame_end: int
    keyed_bones: list
    missing_roles: list
    filled_frames: int


def set_scene_fps(scene, fps: float) -> None:
    """Scene fps = video fps exactly (fps / fps_base), e.g. 30000/1001 for NTSC."""
    frac = Fraction(fps).limit_denominator(1001)
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / float(frac)


def action_name(track: PoseTrack) -> str:
    stem = Path(track.source).stem or "capture"
    return f"{stem}_{Path(track.model).stem or 'mocap'}"


def apply_track(context, obj, track: PoseTrack, bone_map: dict | str = "metarig",
                frame_start: int = 1, set_scene: bool = True) -> ApplyResult:
    """Key one quaternion per processed video frame into a NEW Action on obj.

    Output frame i (scene frame frame_start + i) is video frame track.first_frame + i.
    """
    if obj is None or obj.type != "ARMATURE":
        raise RigError("The target is not an armature. Select an armature object.")
    if isinstance(bone_map, str):
        bone_map = PRESETS[bone_map]
    rest = read_rest_pose(obj)
    solution = solve(track, rest, bone_map)
    action = new_action(obj, action_name(track))
    keyed = key_rotations(action, obj, solution.rotations, frame_start)
    frame_end = frame_start + solution.frames - 1
    if set_scene:
        scene = context.scene
        set_scene_fps(scene, track.fps)
        scene.frame_start, scene.frame_end = frame_start, frame_end
    action["mocap_source"] = track.source
    action["mocap_first_video_frame"] = track.first_frame
    action["mocap_fps"] = track.fps
    return ApplyResult(action, frame_start, frame_end, keyed, solution.missing_roles, solution.filled_frames)
