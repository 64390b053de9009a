"""Apply: landmark cache → keyframes in a new Action on the active armature."""
from __future__ import annotations

import os

import bpy

from bpy_extras.io_utils import ExportHelper

from ..blender.apply import apply_track, choose_bone_map
from ..retarget.bonemaps import save_bone_map
from ..capture.track import PoseTrack, TrackError
from ..retarget.rig import RigError


class MOCAP_OT_apply(bpy.types.Operator):
    """Key the captured motion onto the active armature, in a new Action"""

    bl_idname = "mocap.apply"
    bl_label = "Apply to Armature"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE":
            cls.poll_message_set("Select an armature")
            return False
        if not context.scene.mocap.track_path:
            cls.poll_message_set("Capture a video first")
            return False
        return context.mode in {"OBJECT", "POSE"}

    def execute(self, context):
        path = bpy.path.abspath(context.scene.mocap.track_path)
        if not os.path.exists(path):
            self.report({"ERROR"}, f"Landmark cache {path} is missing. Capture the video again.")
            return {"CANCELLED"}
        settings = context.scene.mocap
        rig = {"AUTO": "auto", "JSON": bpy.path.abspath(settings.bone_map_path)}.get(
            settings.rig_preset, settings.rig_preset)
        if settings.rig_preset == "JSON" and not settings.bone_map_path:
            self.report({"ERROR"}, "Choose a bone map JSON file, or pick a preset.")
            return {"CANCELLED"}
        try:
            track = PoseTrack.load(path)
            result = apply_track(context, context.active_object, track, rig, root_mode=settings.root_mode)
        except (TrackError, RigError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        msg = (f"Bone names: {result.preset}. " if result.preset else "") + f"Keyed {len(result.keyed_bones)} bones over {result.frame_end - result.frame_start + 1} frames " \
              f"into '{result.action.name}'"
        if result.missing_roles:
            msg += f"; not in the rig: {', '.join(result.missing_roles)}"
        self.report({"WARNING"} if result.missing_roles else {"INFO"}, msg)
        return {"FINISHED"}


class MOCAP_OT_save_bone_map(bpy.types.Operator, ExportHelper):
    """Save the active armature's bone map (as detected, or from the chosen preset) to a JSON file to edit"""

    bl_idname = "mocap.save_bone_map"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def execute(self, context):
        settings = context.scene.mocap
        rig = "auto" if settings.rig_preset in ("AUTO", "JSON") else settings.rig_preset
        try:
            preset, bone_map = choose_bone_map(context.active_object, rig)
            save_bone_map(self.filepath, bone_map, preset)
        except (RigError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.bone_map_path = self.filepath
        self.report({"INFO"}, f"Saved {len(bone_map)} roles ({preset or 'custom'}) to {self.filepath}")
        return {"FINISHED"}


classes = (MOCAP_OT_apply, MOCAP_OT_save_bone_map)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
