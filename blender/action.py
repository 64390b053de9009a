"""Write solved rotations into a NEW Action, in bulk, on Blender 4.2 LTS through 5.x.

The only place that knows about Blender's two animation APIs: 4.4+ slotted actions (required from
5.0, where `Action.fcurves` is gone) and the legacy per-action F-curve list of 4.2/4.3.
"""
from __future__ import annotations

import bpy
import numpy as np

SLOTTED = "slots" in bpy.types.Action.bl_rna.properties


def new_action(obj, name: str, id_type: str = "OBJECT"):
    """A fresh Action assigned to obj (an Object, or a shape-key datablock with id_type 'KEY'). The previous
    one is not modified: the new action refers to it (ID property `video_mocap_previous_action`), which
    keeps it alive and saved, and says what to go back to."""
    if obj.animation_data is None:
        obj.animation_data_create()
    previous = obj.animation_data.action
    action = bpy.data.actions.new(name)
    if previous is not None:
        action["video_mocap_previous_action"] = previous
    if not SLOTTED:
        action.id_root = id_type
    obj.animation_data.action = action
    if SLOTTED and obj.animation_data.action_slot is None:
        slot = action.slots.new(id_type=id_type, name=obj.name)
        obj.animation_data.action_slot = slot
    return action


def bone_path(name: str, prop: str) -> str:
    """The F-curve data path of a pose bone's property, with the bone name escaped (quotes, backslashes):
    bone_path(name, "rotation_quaternion") -> 'pose.bones["name"].rotation_quaternion';
    a prop starting with '[' (a custom property, '["IK_FK"]') is appended without the dot."""
    head = f'pose.bones["{bpy.utils.escape_identifier(name)}"]'
    return head + (prop if prop.startswith("[") else "." + prop)


def _fcurve(action, obj, data_path: str, index: int, group: str):
    if SLOTTED:
        return action.fcurve_ensure_for_datablock(obj, data_path, index=index, group_name=group)
    fc = action.fcurves.find(data_path, index=index)
    return fc or action.fcurves.new(data_path, index=index, action_group=group)


def write_curves(action, obj, data_path: str, frames: np.ndarray, values: np.ndarray, group: str) -> None:
    """values (T, N): N F-curves (indices 0..N-1) keyed at `frames`, with keyframe_points.add + foreach_set."""
    frames = np.asarray(frames, dtype=np.float32)
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    for index in range(values.shape[1]):
        fc = _fcurve(action, obj, data_path, index, group)
        points = fc.keyframe_points
        if len(points):
            points.clear()
        points.add(len(frames))
        co = np.empty(2 * len(frames), dtype=np.float32)
        co[0::2] = frames
        co[1::2] = values[:, index]
        points.foreach_set("co", co)
        points.foreach_set("interpolation", np.full(len(frames), linear, dtype=np.int32))
        fc.update()


def key_rotations(action, obj, rotations: dict[str, np.ndarray], frames) -> list[str]:
    """Key each pose bone's rotation (quaternion, or Euler in the bone's own mode) at `frames`
    (an array of scene frames, or the first frame of consecutive ones); returns the bone names."""
    from mathutils import Quaternion

    keyed = []
    for name, quats in rotations.items():
        pbone = obj.pose.bones.get(name)
        if pbone is None:
            continue
        times = frames + np.arange(len(quats)) if np.ndim(frames) == 0 else np.asarray(frames)
        mode = pbone.rotation_mode
        if mode == "QUATERNION":
            write_curves(action, obj, bone_path(name, "rotation_quaternion"), times, quats, name)
        elif mode == "AXIS_ANGLE":
            values = np.array([Quaternion(q).to_axis_angle() for q in quats], dtype=object)
            aa = np.array([[a, *axis] for axis, a in values], dtype=np.float64)
            write_curves(action, obj, bone_path(name, "rotation_axis_angle"), times, aa, name)
        else:
            eulers, prev = [], None
            for q in quats:
                e = Quaternion(q).to_euler(mode, prev) if prev is not None else Quaternion(q).to_euler(mode)
                eulers.append(tuple(e))
                prev = e
            write_curves(action, obj, bone_path(name, "rotation_euler"), times, np.array(eulers), name)
        keyed.append(name)
    return keyed


def action_fcurves(action, obj=None) -> list:
    """All F-curves of an action (for obj's slot on slotted actions), on any supported Blender."""
    if not SLOTTED:
        return list(action.fcurves)
    curves = []
    slot = obj.animation_data.action_slot if obj is not None and obj.animation_data else None
    for layer in action.layers:
        for strip in layer.strips:
            for s in ([slot] if slot is not None else list(action.slots)):
                bag = strip.channelbag(s)
                if bag is not None:
                    curves.extend(bag.fcurves)
    return curves
