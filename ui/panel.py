"""3D View ▸ Sidebar (N) ▸ Mocap: Source → Capture & Takes → Target → Motion → Apply & Export → Reference."""
import bpy

from ..blender import jobs, picker
from ..blender import live as blender_live
from ..blender.scene import target_armature
from ..capture.models import HINTS
from ..retarget.rig import POSED_ROLES


class VIDEO_MOCAP_UL_takes(bpy.types.UIList):
    """Captured takes: source, model, frames, detected %."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.label(text=item.name, icon="ERROR" if item.partial else "USER" if item.person else "SEQUENCE")
        row.label(text=f"{item.frames} fr · {item.detected:.0%}")


class VIDEO_MOCAP_UL_people(bpy.types.UIList):
    """The people Find People saw: thumbnail, number, the one followed. Choosing a row follows them."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        thumb = picker.icon_of(item.thumbnail)
        if thumb:
            row.label(text=item.name, icon_value=thumb)
        else:
            row.label(text=item.name, icon="USER")
        if item.number == data.person:
            row.label(text="Following", icon="CHECKMARK")


class VIDEO_MOCAP_UL_bone_map(bpy.types.UIList):
    """role → bone, with a search over the target's bones."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.label(text=item.name)
        obj = target_armature(context)
        if obj is not None:
            row.prop_search(item, "bone", obj.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class _VideoMocapPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"


class VIDEO_MOCAP_PT_main(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Video Mocap"
    bl_idname = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        layout = self.layout
        state = jobs.peek(context.scene)
        if state.is_capturing:
            layout.label(text=state.status or "Capturing…", icon="REC")
        elif state.status:
            layout.label(text=state.status)


class VIDEO_MOCAP_PT_source(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Source"
    bl_parent_id = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        layout.prop(settings, "video_path", text="")
        if settings.video_error:
            layout.label(text=settings.video_error, icon="ERROR")
        elif settings.video_frames:
            dur = settings.video_frames / settings.video_fps if settings.video_fps else 0
            layout.label(text=f"{settings.video_width}×{settings.video_height} · {settings.video_fps:.3g} fps · "
                              f"{settings.video_frames} frames · {dur:.1f} s", icon="INFO")
        layout.prop(settings, "model")
        row = layout.row(align=True)
        row.prop(settings, "people")
        sub = row.row(align=True)
        sub.active = settings.people == 1  # whom to follow when capturing one person
        sub.prop(settings, "person", text="Follow")
        row = layout.row(align=True)
        row.operator("video_mocap.find_people", icon="COMMUNITY")
        row.operator("video_mocap.pick_person", text="Pick", icon="EYEDROPPER")
        if settings.found_people:
            layout.label(text=f"People at video frame {settings.found_frame} (choose whom to follow):")
            layout.template_list("VIDEO_MOCAP_UL_people", "", settings, "found_people", settings,
                                 "found_people_index", rows=2, maxrows=4)
            chosen = next((p for p in settings.found_people if p.number == settings.person), None)
            thumb = picker.icon_of(chosen.thumbnail) if chosen is not None else 0
            if thumb:
                layout.template_icon(icon_value=thumb, scale=5.0)
        layout.prop(settings, "hands")
        layout.prop(settings, "face")
        layout.label(text=HINTS[settings.model])
        layout.prop(settings, "use_frame_range")
        if settings.use_frame_range:
            row = layout.row(align=True)
            row.prop(settings, "frame_first")
            row.prop(settings, "frame_last")


class VIDEO_MOCAP_PT_capture(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Capture & Takes"
    bl_parent_id = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        state = jobs.peek(context.scene)
        if state.is_capturing:
            if hasattr(layout, "progress"):
                layout.progress(factor=state.progress, text=state.status or "Capturing…")
            else:
                layout.label(text=state.status or "Capturing…")
            layout.operator("video_mocap.capture_cancel", icon="CANCEL")
        else:
            layout.operator("video_mocap.capture", icon="REC")
            layout.prop(settings, "keep_partial")
        row = layout.row()
        row.template_list("VIDEO_MOCAP_UL_takes", "", settings, "takes", settings, "take_index", rows=3)
        row.operator("video_mocap.take_remove", text="", icon="REMOVE")


class VIDEO_MOCAP_PT_live(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Live"
    bl_parent_id = "VIDEO_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        state = blender_live.peek(context.scene)
        if state.is_live:
            layout.label(text=state.status or "Starting…", icon="REC" if state.recording else "PLAY")
            row = layout.row(align=True)
            row.operator("video_mocap.live_record", text="Stop Recording" if state.recording else "Record",
                         icon="PAUSE" if state.recording else "REC", depress=state.recording)
            row.operator("video_mocap.live_stop", text="Stop", icon="CANCEL")
            layout.label(text="Esc stops; the armature is posed, not keyed")
            return
        layout.prop(settings, "live_source", text="Source")
        if settings.live_source and not settings.live_source.strip().isdigit() and "://" not in settings.live_source:
            layout.prop(settings, "live_loop")
        row = layout.row(align=True)
        row.prop(settings, "live_filter")
        if settings.live_filter:
            row = layout.row(align=True)
            row.prop(settings, "live_min_cutoff")
            row.prop(settings, "live_beta")
        layout.operator("video_mocap.live_start", icon="PLAY")


class VIDEO_MOCAP_PT_target(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Target"
    bl_parent_id = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        layout.prop(settings, "target")
        obj = target_armature(context)
        if obj is None:
            layout.label(text="Select an armature or add one", icon="INFO")
            layout.operator("video_mocap.add_metarig", icon="OUTLINER_OB_ARMATURE")
            return
        layout.prop(settings, "rig_preset")
        if settings.detected_preset:
            layout.label(text=f"Detected: {settings.detected_preset}", icon="CHECKMARK")
        if settings.rig_preset == "JSON":
            layout.prop(settings, "bone_map_path", text="")
        row = layout.row(align=True)
        row.operator("video_mocap.detect_bone_map", icon="VIEWZOOM")
        row.operator("video_mocap.load_bone_map", text="", icon="FILEBROWSER")
        row.operator("video_mocap.save_bone_map", text="", icon="FILE_TICK")
        if settings.rig_preset == "CUSTOM":
            layout.template_list("VIDEO_MOCAP_UL_bone_map", "", settings, "bone_map", settings, "bone_map_index",
                                 rows=6)
            missing = [i.name for i in settings.bone_map if not i.bone and i.name in POSED_ROLES]
            if missing:
                layout.label(text=f"Unmapped: {', '.join(missing[:6])}{'…' if len(missing) > 6 else ''}",
                             icon="ERROR")


class VIDEO_MOCAP_PT_motion(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Motion"
    bl_parent_id = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        layout.prop(settings, "smoothing")
        if settings.smoothing == "zero_phase":
            layout.prop(settings, "smooth_hz")
        layout.prop(settings, "fix_sides")
        layout.prop(settings, "fusion")
        layout.prop(settings, "root_mode")
        root_motion = settings.root_mode in ("hips", "root_bone")
        if root_motion:
            layout.prop(settings, "foot_lock")
        if root_motion or settings.fusion:
            layout.prop(settings, "lens_known")
            row = layout.row()
            row.active = settings.lens_known
            row.prop(settings, "fov_deg")
        if settings.face:
            col = layout.column(heading="Face")
            col.prop(settings, "face_strength")
            col.prop(settings, "face_neutral_frame")
            col.prop(settings, "face_map")


class VIDEO_MOCAP_PT_apply(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Apply & Export"
    bl_parent_id = "VIDEO_MOCAP_PT_main"

    def draw(self, context):
        layout = self.layout
        layout.operator("video_mocap.apply", icon="ACTION")
        take = context.scene.video_mocap.active_take()
        if take is not None and take.person:
            layout.operator("video_mocap.apply_people", icon="COMMUNITY")
        row = layout.row(align=True)
        for preset, label in (("unity", "FBX Unity"), ("unreal", "FBX Unreal"), ("blender", "FBX Blender")):
            op = row.operator("video_mocap.export_fbx", text=label, icon="EXPORT")
            op.preset = preset
        layout.operator("video_mocap.export_bvh", text="BVH", icon="EXPORT")


class VIDEO_MOCAP_PT_reference(_VideoMocapPanel, bpy.types.Panel):
    bl_label = "Reference Video"
    bl_parent_id = "VIDEO_MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.video_mocap
        layout = self.layout
        layout.operator("video_mocap.show_reference", icon="CAMERA_DATA")
        layout.prop(settings, "show_skeleton")


classes = (VIDEO_MOCAP_UL_takes, VIDEO_MOCAP_UL_people, VIDEO_MOCAP_UL_bone_map, VIDEO_MOCAP_PT_main,
           VIDEO_MOCAP_PT_source, VIDEO_MOCAP_PT_capture, VIDEO_MOCAP_PT_live, VIDEO_MOCAP_PT_target,
           VIDEO_MOCAP_PT_motion, VIDEO_MOCAP_PT_apply, VIDEO_MOCAP_PT_reference)
