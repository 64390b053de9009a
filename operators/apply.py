"""Apply: a take (landmark cache) → keyframes in a new Action on the target armature; bone maps."""
from __future__ import annotations

import os

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .. import pipeline
from ..blender.apply import apply_track, choose_bone_map
from ..blender.people import apply_people, people_takes
from ..blender.scene import options, settings_of, take_path, target_armature
from ..capture.errors import ExportError, RigError, TrackError
from ..retarget.bonemaps import load_bone_map, save_bone_map
from .common import report_messages, reports_errors


def _poll_first_failing(cls, context, checks) -> bool:
    """Apply operators' poll: the first failing check's message, else Object or Pose mode."""
    for ok, message in checks:
        if not ok():
            cls.poll_message_set(message)
            return False
    return context.mode in {"OBJECT", "POSE"}


def _apply_options(context):
    """(settings, pipeline options) for applying takes; they are applied whole."""
    settings = settings_of(context)
    if settings.rig_preset == "JSON" and not settings.bone_map_path:
        raise RigError("Choose a bone map JSON file, or pick a preset.")
    return settings, options(context, frames=(None, None))


class VIDEO_MOCAP_OT_apply(bpy.types.Operator):
    """Key the captured motion onto the armature, in a new Action (your other actions are kept)"""

    bl_idname = "video_mocap.apply"
    bl_label = "Apply to Armature"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_first_failing(cls, context, (
            (lambda: target_armature(context) is not None, "Select an armature"),
            (lambda: bool(take_path(context)), "Capture a video first")))

    @reports_errors
    def execute(self, context):
        path = take_path(context)
        if not os.path.exists(path):
            raise TrackError(f"Landmark cache {path} is missing. Capture the video again.")
        settings, opts = _apply_options(context)
        track, report = pipeline.load_take(path, opts)
        obj = target_armature(context)
        result = apply_track(context, obj, track, options=opts, report=report)
        settings.detected_preset = result.preset or ""
        report_messages(self, result.report, f"Applied to '{obj.name}'")
        return {"FINISHED"}


class VIDEO_MOCAP_OT_apply_people(bpy.types.Operator):
    """Key every person of the selected take's capture onto an armature of their own: copies of the chosen
    armature (named <name>_p<K>), or new human metarigs built to each person when none is chosen, placed
    where the people stood relative to each other; each in a new Action"""

    bl_idname = "video_mocap.apply_people"
    bl_label = "Apply All People"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_first_failing(cls, context, (
            (lambda: bool(people_takes(settings_of(context))),
             "Select a person's take (capture with People 2 or more)"),))

    @reports_errors
    def execute(self, context):
        settings, opts = _apply_options(context)
        takes = people_takes(settings)
        tracks, reports = [], []
        for take in takes:
            path = bpy.path.abspath(take.path)
            if not os.path.exists(path):
                raise TrackError(f"Landmark cache {path} of person {take.person} is missing. Capture the video again.")
            track, report = pipeline.load_take(path, opts)
            track.extra.update(person=take.person, people=max(take.people, len(takes)))
            tracks.append(track)
            reports.append(report)
        obj = target_armature(context)
        result = apply_people(context, tracks, obj, opts, reports)
        first = result.results[0]
        settings.detected_preset = first.preset or ""
        names = ", ".join(f"'{a.name}'" for a in result.armatures)
        report_messages(self, result.report, f"Applied {len(tracks)} people to {names}")
        return {"FINISHED"}


def _armature_poll(cls, context):
    if target_armature(context) is None:
        cls.poll_message_set("Select an armature")
        return False
    return True


class VIDEO_MOCAP_OT_detect_bone_map(bpy.types.Operator):
    """Fill the bone map editor from the armature's bone names (or the chosen preset)"""

    bl_idname = "video_mocap.detect_bone_map"
    bl_label = "Detect Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    poll = classmethod(_armature_poll)

    @reports_errors
    def execute(self, context):
        settings = settings_of(context)
        preset = settings.rig_preset if settings.rig_preset not in ("AUTO", "CUSTOM", "JSON") else "auto"
        found, bone_map = choose_bone_map(target_armature(context), preset)
        settings.fill_bone_map(bone_map)
        settings.detected_preset = found or ""
        settings.rig_preset = "CUSTOM"
        self.report({"INFO"}, f"{found}: {len(bone_map)} roles mapped")
        return {"FINISHED"}


class VIDEO_MOCAP_OT_save_bone_map(bpy.types.Operator, ExportHelper):
    """Save the bone map (the editor's, or as detected) to a JSON file"""

    bl_idname = "video_mocap.save_bone_map"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    @reports_errors
    def execute(self, context):
        settings = settings_of(context)
        if settings.rig_preset == "CUSTOM" and len(settings.bone_map):
            preset, bone_map = None, settings.custom_map()
        else:
            rig = "auto" if settings.rig_preset in ("AUTO", "JSON", "CUSTOM") else settings.rig_preset
            preset, bone_map = choose_bone_map(target_armature(context), rig)
        try:
            save_bone_map(self.filepath, bone_map, preset)
        except OSError as exc:
            raise ExportError(f"Cannot write {self.filepath}: {exc.strerror or exc}. Choose another folder.") from None
        settings.bone_map_path = self.filepath
        self.report({"INFO"}, f"Saved {len(bone_map)} roles ({preset or 'custom'}) to {self.filepath}")
        return {"FINISHED"}


class VIDEO_MOCAP_OT_load_bone_map(bpy.types.Operator, ImportHelper):
    """Load a bone map JSON into the editor"""

    bl_idname = "video_mocap.load_bone_map"
    bl_label = "Load Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    @reports_errors
    def execute(self, context):
        settings = settings_of(context)
        bone_map = load_bone_map(self.filepath)
        settings.fill_bone_map(bone_map)
        settings.bone_map_path = self.filepath
        settings.rig_preset = "CUSTOM"
        obj = target_armature(context)
        absent = [b for b in bone_map.values() if obj is not None and b not in obj.data.bones]
        if absent:
            self.report({"WARNING"}, f"Not in '{obj.name}': {', '.join(absent)}")
        return {"FINISHED"}


classes = (VIDEO_MOCAP_OT_apply, VIDEO_MOCAP_OT_apply_people, VIDEO_MOCAP_OT_detect_bone_map,
           VIDEO_MOCAP_OT_save_bone_map, VIDEO_MOCAP_OT_load_bone_map)
