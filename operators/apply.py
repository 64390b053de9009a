"""Apply: a take (landmark cache) → keyframes in a new Action on the target armature; bone maps."""
from __future__ import annotations

import os

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..blender.apply import apply_track, choose_bone_map
from ..capture.track import PoseTrack, TrackError
from ..retarget.bonemaps import load_bone_map, save_bone_map
from ..retarget.rig import RigError
from .common import rig_choice, take_path, target_armature


class MOCAP_OT_apply(bpy.types.Operator):
    """Key the captured motion onto the armature, in a new Action (your other actions are kept)"""

    bl_idname = "mocap.apply"
    bl_label = "Apply to Armature"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if target_armature(context) is None:
            cls.poll_message_set("Select an armature")
            return False
        if not take_path(context):
            cls.poll_message_set("Capture a video first")
            return False
        return context.mode in {"OBJECT", "POSE"}

    def execute(self, context):
        path = take_path(context)
        settings = context.scene.mocap
        if not os.path.exists(path):
            self.report({"ERROR"}, f"Landmark cache {path} is missing. Capture the video again.")
            return {"CANCELLED"}
        rig = rig_choice(context)
        if settings.rig_preset == "JSON" and not settings.bone_map_path:
            self.report({"ERROR"}, "Choose a bone map JSON file, or pick a preset.")
            return {"CANCELLED"}
        try:
            track = PoseTrack.load(path)
            result = apply_track(context, target_armature(context), track, rig, root_mode=settings.root_mode,
                                 foot_lock=settings.foot_lock, camera={"fov_deg": settings.fov_deg},
                                 smoothing=settings.smoothing, smooth_hz=settings.smooth_hz,
                                 fix_sides=settings.fix_sides)
        except (TrackError, RigError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if result.preset:
            settings.detected_preset = result.preset
        msg = (f"Bone names: {result.preset}. " if result.preset else "") + \
            f"Keyed {len(result.keyed_bones)} bones over {result.frame_end - result.frame_start + 1} frames " \
            f"into '{result.action.name}'"
        if result.side_flips_fixed:
            msg += f"; left/right flips fixed on {result.side_flips_fixed} frames"
        if result.missing_roles:
            msg += f"; not in the rig: {', '.join(result.missing_roles)}"
        self.report({"WARNING"} if result.missing_roles else {"INFO"}, msg)
        return {"FINISHED"}


def _armature_poll(cls, context):
    if target_armature(context) is None:
        cls.poll_message_set("Select an armature")
        return False
    return True


class MOCAP_OT_detect_bone_map(bpy.types.Operator):
    """Fill the bone map editor from the armature's bone names (or the chosen preset)"""

    bl_idname = "mocap.detect_bone_map"
    bl_label = "Detect Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    poll = classmethod(_armature_poll)

    def execute(self, context):
        settings = context.scene.mocap
        preset = settings.rig_preset if settings.rig_preset not in ("AUTO", "CUSTOM", "JSON") else "auto"
        try:
            found, bone_map = choose_bone_map(target_armature(context), preset)
        except RigError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.fill_bone_map(bone_map)
        settings.detected_preset = found or ""
        settings.rig_preset = "CUSTOM"
        self.report({"INFO"}, f"{found}: {len(bone_map)} roles mapped")
        return {"FINISHED"}


class MOCAP_OT_save_bone_map(bpy.types.Operator, ExportHelper):
    """Save the bone map (the editor's, or as detected) to a JSON file"""

    bl_idname = "mocap.save_bone_map"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    def execute(self, context):
        settings = context.scene.mocap
        try:
            if settings.rig_preset == "CUSTOM" and len(settings.bone_map):
                preset, bone_map = None, settings.custom_map()
            else:
                rig = "auto" if settings.rig_preset in ("AUTO", "JSON", "CUSTOM") else settings.rig_preset
                preset, bone_map = choose_bone_map(target_armature(context), rig)
            save_bone_map(self.filepath, bone_map, preset)
        except (RigError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.bone_map_path = self.filepath
        self.report({"INFO"}, f"Saved {len(bone_map)} roles ({preset or 'custom'}) to {self.filepath}")
        return {"FINISHED"}


class MOCAP_OT_load_bone_map(bpy.types.Operator, ImportHelper):
    """Load a bone map JSON into the editor"""

    bl_idname = "mocap.load_bone_map"
    bl_label = "Load Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        settings = context.scene.mocap
        try:
            bone_map = load_bone_map(self.filepath)
        except RigError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.fill_bone_map(bone_map)
        settings.bone_map_path = self.filepath
        settings.rig_preset = "CUSTOM"
        obj = target_armature(context)
        absent = [b for b in bone_map.values() if obj is not None and b not in obj.data.bones]
        if absent:
            self.report({"WARNING"}, f"Not in '{obj.name}': {', '.join(absent)}")
        return {"FINISHED"}


classes = (MOCAP_OT_apply, MOCAP_OT_detect_bone_map, MOCAP_OT_save_bone_map, MOCAP_OT_load_bone_map)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
