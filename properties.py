"""Scene settings of the Mocap panel (scene.mocap)."""
import bpy

from .capture.models import DEFAULT_VARIANT, HINTS, VARIANTS


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
