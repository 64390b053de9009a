"""Scene settings of the Mocap panel (scene.mocap)."""
import bpy

from .capture.models import DEFAULT_VARIANT, HINTS, VARIANTS
from .retarget.bonemaps import PRESETS
from .retarget.solver import ROOT_MODES

ROOT_MODE_TEXT = {"grounded": ("Grounded", "Hips move up and down so the feet stay on the floor"),
                  "in_place": ("In Place", "Hips stay where the rest pose has them")}


class MocapSettings(bpy.types.PropertyGroup):
    video_path: bpy.props.StringProperty(name="Video", subtype="FILE_PATH", description="Video of one person")
    model: bpy.props.EnumProperty(
        name="Model", default=DEFAULT_VARIANT,
        items=[(v, v.title(), f"BlazePose GHUM {v}: {HINTS[v]}") for v in VARIANTS])
    use_frame_range: bpy.props.BoolProperty(name="Frame Range", default=False,
                                            description="Capture only part of the video")
    frame_first: bpy.props.IntProperty(name="First", default=0, min=0, description="First video frame (0-based)")
    frame_last: bpy.props.IntProperty(name="Last", default=100, min=1,
                                      description="Video frame after the last one captured")
    rig_preset: bpy.props.EnumProperty(
        name="Bone Names", default="AUTO",
        items=[("AUTO", "Auto-detect", "Recognise the preset from the armature's bone names"),
               ("JSON", "Bone Map File", "Use the bone map JSON file below")]
        + [(p, p.title(), f"{p} bone names") for p in PRESETS])
    bone_map_path: bpy.props.StringProperty(name="Bone Map", subtype="FILE_PATH",
                                            description="Bone map JSON (role → bone name)")
    root_mode: bpy.props.EnumProperty(name="Root", default="grounded",
                                      items=[(m, *ROOT_MODE_TEXT[m]) for m in ROOT_MODES])
    track_path: bpy.props.StringProperty(name="Landmarks", subtype="FILE_PATH",
                                         description="Landmark cache (.npz) of the last capture")
    # Live status of a running capture (written by the modal operator, read by the panel).
    is_capturing: bpy.props.BoolProperty(default=False, options={"SKIP_SAVE"})
    progress: bpy.props.FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR", options={"SKIP_SAVE"})
    status: bpy.props.StringProperty(default="", options={"SKIP_SAVE"})
    cancel_requested: bpy.props.BoolProperty(default=False, options={"SKIP_SAVE"})


def register():
    bpy.utils.register_class(MocapSettings)
    bpy.types.Scene.mocap = bpy.props.PointerProperty(type=MocapSettings)


def unregister():
    del bpy.types.Scene.mocap
    bpy.utils.unregister_class(MocapSettings)
