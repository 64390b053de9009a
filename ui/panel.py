"""3D View ▸ Sidebar (N) ▸ Mocap: Source → Capture & Takes → Target → Motion → Apply & Export → Reference."""
import bpy

from ..capture.models import HINTS
from ..operators.common import target_armature
from ..retarget.rig import POSED_ROLES


class MOCAP_UL_takes(bpy.types.UIList):
    """Captured takes: source, model, frames, detected %."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.label(text=item.name, icon="SEQUENCE" if not item.partial else "ERROR")
        row.label(text=f"{item.frames} fr · {item.detected:.0%}")


class MOCAP_UL_bone_map(bpy.types.UIList):
    """role → bone, with a search over the target's bones."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.label(text=item.name)
        obj = target_armature(context)
        if obj is not None:
            row.prop_search(item, "bone", obj.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class _MocapPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"


class VIEW3D_PT_mocap(_MocapPanel, bpy.types.Panel):
    bl_label = "Video Mocap"
    bl_idname = "VIEW3D_PT_mocap"

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        if settings.is_capturing:
            layout.label(text=settings.status or "Capturing…", icon="REC")
        elif settings.status:
            layout.label(text=settings.status)


class VIEW3D_PT_mocap_source(_MocapPanel, bpy.types.Panel):
    bl_label = "Source"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        layout.prop(settings, "video_path", text="")
        if settings.video_error:
            layout.label(text=settings.video_error, icon="ERROR")
        elif settings.video_frames:
            dur = settings.video_frames / settings.video_fps if settings.video_fps else 0
            layout.label(text=f"{settings.video_width}×{settings.video_height} · {settings.video_fps:.3g} fps · "
                              f"{settings.video_frames} frames · {dur:.1f} s", icon="INFO")
        layout.prop(settings, "model")
        layout.label(text=HINTS[settings.model])
        layout.prop(settings, "use_frame_range")
        if settings.use_frame_range:
            row = layout.row(align=True)
            row.prop(settings, "frame_first")
            row.prop(settings, "frame_last")


class VIEW3D_PT_mocap_capture(_MocapPanel, bpy.types.Panel):
    bl_label = "Capture & Takes"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        if settings.is_capturing:
            if hasattr(layout, "progress"):
                layout.progress(factor=settings.progress, text=settings.status or "Capturing…")
            else:
                layout.label(text=settings.status or "Capturing…")
            layout.operator("mocap.capture_cancel", icon="CANCEL")
        else:
            layout.operator("mocap.capture", icon="REC")
            layout.prop(settings, "keep_partial")
        row = layout.row()
        row.template_list("MOCAP_UL_takes", "", settings, "takes", settings, "take_index", rows=3)
        row.operator("mocap.take_remove", text="", icon="REMOVE")


class VIEW3D_PT_mocap_target(_MocapPanel, bpy.types.Panel):
    bl_label = "Target"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        layout.prop(settings, "target")
        obj = target_armature(context)
        if obj is None:
            layout.label(text="Select an armature or add one", icon="INFO")
            layout.operator("mocap.add_metarig", icon="OUTLINER_OB_ARMATURE")
            return
        layout.prop(settings, "rig_preset")
        if settings.detected_preset:
            layout.label(text=f"Detected: {settings.detected_preset}", icon="CHECKMARK")
        if settings.rig_preset == "JSON":
            layout.prop(settings, "bone_map_path", text="")
        row = layout.row(align=True)
        row.operator("mocap.detect_bone_map", icon="VIEWZOOM")
        row.operator("mocap.load_bone_map", text="", icon="FILEBROWSER")
        row.operator("mocap.save_bone_map", text="", icon="FILE_TICK")
        if settings.rig_preset == "CUSTOM":
            layout.template_list("MOCAP_UL_bone_map", "", settings, "bone_map", settings, "bone_map_index", rows=6)
            missing = [i.name for i in settings.bone_map if not i.bone and i.name in POSED_ROLES]
            if missing:
                layout.label(text=f"Unmapped: {', '.join(missing[:6])}{'…' if len(missing) > 6 else ''}",
                             icon="ERROR")


class VIEW3D_PT_mocap_motion(_MocapPanel, bpy.types.Panel):
    bl_label = "Motion"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        layout.prop(settings, "smoothing")
        if settings.smoothing == "zero_phase":
            layout.prop(settings, "smooth_hz")
        layout.prop(settings, "fix_sides")
        layout.prop(settings, "root_mode")
        if settings.root_mode in ("hips", "root_bone"):
            layout.prop(settings, "foot_lock")
            layout.prop(settings, "fov_deg")


class VIEW3D_PT_mocap_apply(_MocapPanel, bpy.types.Panel):
    bl_label = "Apply & Export"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        layout = self.layout
        layout.operator("mocap.apply", icon="ACTION")
        row = layout.row(align=True)
        for preset, label in (("unity", "FBX Unity"), ("unreal", "FBX Unreal"), ("blender", "FBX Blender")):
            op = row.operator("mocap.export_fbx", text=label, icon="EXPORT")
            op.preset = preset
        layout.operator("mocap.export_bvh", text="BVH", icon="EXPORT")


class VIEW3D_PT_mocap_reference(_MocapPanel, bpy.types.Panel):
    bl_label = "Reference Video"
    bl_parent_id = "VIEW3D_PT_mocap"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.mocap
        layout = self.layout
        layout.operator("mocap.show_reference", icon="CAMERA_DATA")
        layout.prop(settings, "show_skeleton")


classes = (MOCAP_UL_takes, MOCAP_UL_bone_map, VIEW3D_PT_mocap, VIEW3D_PT_mocap_source, VIEW3D_PT_mocap_capture,
           VIEW3D_PT_mocap_target, VIEW3D_PT_mocap_motion, VIEW3D_PT_mocap_apply, VIEW3D_PT_mocap_reference)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
