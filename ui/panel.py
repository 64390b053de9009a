"""3D View ▸ Sidebar (N) ▸ Mocap."""
import bpy

from ..capture.models import HINTS


class VIEW3D_PT_mocap(bpy.types.Panel):
    bl_label = "Video Mocap"
    bl_idname = "VIEW3D_PT_mocap"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mocap
        col = layout.column(align=True)
        col.label(text="Source", icon="FILE_MOVIE")
        col.prop(settings, "video_path", text="")
        col.prop(settings, "model")
        col.label(text=HINTS[settings.model])
        col.prop(settings, "use_frame_range")
        if settings.use_frame_range:
            row = col.row(align=True)
            row.prop(settings, "frame_first")
            row.prop(settings, "frame_last")
        box = layout.box()
        if settings.is_capturing:
            box.progress(factor=settings.progress, text=settings.status or "Capturing…") \
                if hasattr(box, "progress") else box.label(text=settings.status)
            box.operator("mocap.capture_cancel", icon="CANCEL")
        else:
            box.operator("mocap.capture", icon="REC")
            if settings.status:
                box.label(text=settings.status)
        col = layout.column(align=True)
        col.label(text="Target", icon="ARMATURE_DATA")
        obj = context.active_object
        col.label(text=obj.name if obj is not None and obj.type == "ARMATURE" else "Select an armature")
        col.operator("mocap.add_metarig", icon="OUTLINER_OB_ARMATURE")
        col.prop(settings, "rig_preset")
        if settings.rig_preset == "JSON":
            col.prop(settings, "bone_map_path", text="")
        col.operator("mocap.save_bone_map", icon="FILE_TICK")
        col.prop(settings, "root_mode")
        col.operator("mocap.apply", icon="ACTION")
        row = layout.row(align=True)
        row.operator("mocap.export_fbx", text="FBX", icon="EXPORT")
        row.operator("mocap.export_bvh", text="BVH", icon="EXPORT")


def register():
    bpy.utils.register_class(VIEW3D_PT_mocap)


def unregister():
    bpy.utils.unregister_class(VIEW3D_PT_mocap)
