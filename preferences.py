"""Add-on preferences: model file overrides per variant and the landmark cache folder."""
import bpy

from .capture.models import VARIANTS


class VIDEO_MOCAP_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    model_lite: bpy.props.StringProperty(name="Lite model", subtype="FILE_PATH",
                                         description="Optional .task file used instead of the bundled lite model")
    model_full: bpy.props.StringProperty(name="Full model", subtype="FILE_PATH",
                                         description="Optional .task file used instead of the bundled full model")
    model_heavy: bpy.props.StringProperty(name="Heavy model", subtype="FILE_PATH",
                                          description="Optional .task file used instead of the bundled heavy model")
    default_model: bpy.props.EnumProperty(
        name="Default Model", default="full",
        items=[(v, v.title(), f"New scenes start with the {v} model") for v in VARIANTS])
    capture_workers: bpy.props.IntProperty(
        name="Capture Workers", default=0, min=0, max=64,
        description="Processes that capture parts of the video at once (0: one per usable CPU core; 1: in "
                    "Blender's own process). Short clips use fewer")
    cache_dir: bpy.props.StringProperty(name="Landmark cache", subtype="DIR_PATH",
                                        description="Folder for landmark caches (empty: beside the .blend file, "
                                                    "or the temporary folder for unsaved files)")

    def draw(self, context):
        layout = self.layout
        for variant in VARIANTS:
            layout.prop(self, f"model_{variant}")
        layout.prop(self, "default_model")
        layout.prop(self, "capture_workers")
        layout.prop(self, "cache_dir")


def get(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


classes = (VIDEO_MOCAP_AP_preferences,)
