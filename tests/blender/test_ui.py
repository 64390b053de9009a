"""The Blender experience, headless: every panel drawn with a recording layout in the main states,
the modal capture stepped by its timer to completion and to cancel, takes, bone map editing,
the reference video, exports."""
import numpy as np
import pytest

import video_mocap
from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")


class Recorder:
    """A stand-in for `layout`: records every control; sub-layouts record into the same list."""

    def __init__(self, log=None):
        self.log = [] if log is None else log

    def _sub(self, *args, **kwargs):
        return Recorder(self.log)

    row = column = box = split = _sub

    def prop(self, data, prop, **kw):
        self.log.append(("prop", prop, kw.get("text")))

    def prop_search(self, data, prop, search_data, search_prop, **kw):
        self.log.append(("prop_search", prop, search_prop))

    def label(self, text="", **kw):
        self.log.append(("label", text))

    def operator(self, idname, **kw):
        self.log.append(("operator", idname, kw.get("text")))
        return type("Props", (), {})()

    def template_list(self, listtype, list_id, data, prop, active_data, active_prop, **kw):
        self.log.append(("list", listtype, prop))

    def progress(self, factor=0.0, text="", **kw):
        self.log.append(("progress", factor, text))

    def kinds(self, kind):
        return [entry for entry in self.log if entry[0] == kind]

    def has(self, kind, name):
        return any(entry[0] == kind and name in str(entry[1:]) for entry in self.log)


PANELS = ("VIEW3D_PT_mocap", "VIEW3D_PT_mocap_source", "VIEW3D_PT_mocap_capture", "VIEW3D_PT_mocap_target",
          "VIEW3D_PT_mocap_motion", "VIEW3D_PT_mocap_apply", "VIEW3D_PT_mocap_reference")


def draw_all(context) -> dict:
    out = {}
    for name in PANELS:
        panel = getattr(bpy.types, name)
        stand_in = type("PanelStandIn", (), {"layout": Recorder()})()
        panel.draw(stand_in, context)
        out[name] = stand_in.layout
    return out


@pytest.fixture
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    yield bpy.context.scene
    video_mocap.unregister()


class CaptureDriver:
    """Drives MOCAP_OT_capture's own methods the way its modal timer does."""
    keep_partial = False

    def __init__(self):
        op = bpy.types.MOCAP_OT_capture
        self.reports = []
        self._make_job, self._finish, self.step = (getattr(op, n).__get__(self) for n in ("_make_job", "_finish", "step"))

    def report(self, kind, message):
        self.reports.append((kind, message))


def test_panels_in_every_state(scene, sample_video, full_model):
    ctx = bpy.context
    p = draw_all(ctx)  # nothing chosen yet
    assert p["VIEW3D_PT_mocap_source"].has("prop", "video_path")
    assert p["VIEW3D_PT_mocap_capture"].has("operator", "mocap.capture")
    assert p["VIEW3D_PT_mocap_target"].has("operator", "mocap.add_metarig")  # no armature
    assert not p["VIEW3D_PT_mocap_target"].has("prop", "rig_preset")
    assert not bpy.ops.mocap.capture.poll() and not bpy.ops.mocap.apply.poll()

    scene.mocap.video_path = str(sample_video)  # video chosen: its info is shown
    p = draw_all(ctx)
    assert p["VIEW3D_PT_mocap_source"].has("label", "1080×1920 · 60 fps · 100 frames · 1.7 s")
    assert bpy.ops.mocap.capture.poll()

    scene.mocap.is_capturing, scene.mocap.progress, scene.mocap.status = True, 0.4, "40/100 frames"
    p = draw_all(ctx)  # capturing: progress and cancel, no second capture
    cap = p["VIEW3D_PT_mocap_capture"]
    assert cap.has("progress", "0.4") and cap.has("operator", "mocap.capture_cancel")
    assert not cap.has("operator", "mocap.capture'") and not bpy.ops.mocap.capture.poll()
    scene.mocap.is_capturing = False

    scene.mocap.use_frame_range, scene.mocap.frame_first, scene.mocap.frame_last = True, 0, 8
    assert bpy.ops.mocap.capture() == {"FINISHED"}
    bpy.ops.mocap.add_metarig()
    p = draw_all(ctx)  # a take and an armature
    assert p["VIEW3D_PT_mocap_capture"].has("list", "MOCAP_UL_takes")
    assert p["VIEW3D_PT_mocap_target"].has("prop", "rig_preset")
    assert p["VIEW3D_PT_mocap_apply"].has("operator", "mocap.apply")
    assert len(p["VIEW3D_PT_mocap_apply"].kinds("operator")) == 5  # apply, 3 FBX presets, BVH
    assert bpy.ops.mocap.apply.poll()

    assert bpy.ops.mocap.detect_bone_map() == {"FINISHED"}  # the editor, with a partial map
    for item in scene.mocap.bone_map:
        if item.name in ("thigh.L", "shin.L"):
            item.bone = ""
    p = draw_all(ctx)
    target = p["VIEW3D_PT_mocap_target"]
    assert target.has("list", "MOCAP_UL_bone_map") and target.has("label", "Unmapped: thigh.L, shin.L")
    assert target.has("label", "Detected: metarig")
    row = Recorder()
    bpy.types.MOCAP_UL_bone_map.draw_item(None, ctx, row, scene.mocap, scene.mocap.bone_map[4], 0, None, "", 4)
    assert row.has("prop_search", "bones")  # role → bone with a search over the armature's bones


def test_modal_capture_steps_to_completion_and_to_cancel(scene, sample_video, full_model):
    ctx = bpy.context
    scene.mocap.video_path = str(sample_video)
    scene.mocap.use_frame_range, scene.mocap.frame_first, scene.mocap.frame_last = True, 0, 30
    driver = CaptureDriver()
    driver.job = driver._make_job(ctx).start()
    steps, result = 0, {"PASS_THROUGH"}
    while result == {"PASS_THROUGH"}:
        driver.job.wait(0.05)
        result = driver.step(ctx, "TIMER")
        steps += 1
        assert steps < 2000
    assert result == {"FINISHED"} and scene.mocap.progress == 1.0 and not scene.mocap.is_capturing
    assert len(scene.mocap.takes) == 1 and scene.mocap.takes[0].frames == 30
    assert "30 frames" in scene.mocap.status
    # Cancel: Esc while it runs.
    driver = CaptureDriver()
    driver.job = driver._make_job(ctx).start()
    while driver.job.status.done < 5:
        driver.job.wait(0.01)
    driver.step(ctx, "ESC")
    while result := driver.step(ctx, "TIMER"):
        if result != {"PASS_THROUGH"}:
            break
        driver.job.wait(0.05)
    assert result == {"CANCELLED"} and scene.mocap.status == "Cancelled"
    assert len(scene.mocap.takes) == 1  # nothing added
    assert driver.reports[-1][0] == {"WARNING"}


def test_takes_apply_and_remove(scene, sample_video, full_model, tmp_path):
    scene.mocap.video_path = str(sample_video)
    scene.mocap.use_frame_range, scene.mocap.frame_first, scene.mocap.frame_last = True, 5, 15
    assert bpy.ops.mocap.capture() == {"FINISHED"}
    take = scene.mocap.takes[0]
    assert (take.frames, take.first_frame, take.model, take.detected) == (10, 5, "full", 1.0)
    bpy.ops.mocap.add_metarig()
    rig = bpy.context.active_object
    scene.mocap.target = rig
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = None  # the Target field is enough
    assert bpy.ops.mocap.apply() == {"FINISHED"}
    assert rig.animation_data.action.name.startswith("cam01_full")
    assert (scene.frame_start, scene.frame_end) == (1, 10)
    path = bpy.path.abspath(take.path)
    assert bpy.ops.mocap.take_remove() == {"FINISHED"}
    assert len(scene.mocap.takes) == 0 and not __import__("os").path.exists(path)


def test_bone_map_editor_save_and_load(scene, tmp_path):
    from video_mocap.retarget.bonemaps import load_bone_map

    bpy.ops.mocap.add_metarig()
    assert bpy.ops.mocap.detect_bone_map() == {"FINISHED"}
    settings = scene.mocap
    assert settings.rig_preset == "CUSTOM" and settings.custom_map()["forearm.R"] == "forearm.R"
    next(i for i in settings.bone_map if i.name == "hand.L").bone = "palm.01.L"
    path = tmp_path / "edited.json"
    assert bpy.ops.mocap.save_bone_map(filepath=str(path)) == {"FINISHED"}
    assert load_bone_map(path)["hand.L"] == "palm.01.L"
    settings.bone_map.clear()
    assert bpy.ops.mocap.load_bone_map(filepath=str(path)) == {"FINISHED"}
    assert settings.custom_map()["hand.L"] == "palm.01.L"


def test_reference_video_is_synced(scene, sample_video, full_model):
    from video_mocap.operators.reference import CAMERA_NAME
    from video_mocap.ui import overlay

    assert overlay.is_registered()
    scene.mocap.video_path = str(sample_video)
    scene.mocap.use_frame_range, scene.mocap.frame_first, scene.mocap.frame_last = True, 20, 26
    assert bpy.ops.mocap.capture() == {"FINISHED"}
    bpy.ops.mocap.add_metarig()
    assert bpy.ops.mocap.apply() == {"FINISHED"}  # scene fps = video fps, frames 1..6
    assert bpy.ops.mocap.show_reference() == {"FINISHED"}
    cam = bpy.data.objects[CAMERA_NAME]
    bg = cam.data.background_images[0]
    clip = bg.clip
    assert bg.source == "MOVIE_CLIP" and scene.camera == cam and cam.data.show_background_images
    # Scene frame 1 shows video frame 20: the clip (frame 1 = video frame 0) starts at scene frame -19.
    assert clip.frame_start == 1 - 20
    assert clip.fps == pytest.approx(scene.render.fps / scene.render.fps_base)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1080, 1920)
    # The overlay: segments of the take at the scene frame, placed in the fitted camera frame.
    track = PoseTrack.load(bpy.path.abspath(scene.mocap.reference_take))
    lines = overlay.skeleton_lines(track, scene.frame_current - scene.mocap.reference_frame_start)
    assert lines.shape[1:] == (2, 2) and len(lines) > 20
    frame = overlay.fitted_frame(np.array([(0, 100), (200, 100), (0, 0)]), (1080, 1920), (1920, 1080))
    corners = overlay.image_to_region(np.array([[0.0, 0.0], [1.0, 1.0]]), frame)
    width = 200 * (1080 / 1920) / (1920 / 1080)  # a portrait video fitted into a landscape frame
    assert np.allclose(corners, [[100 - width / 2, 100], [100 + width / 2, 0]])


def test_export_buttons(scene, tmp_path, sample_video, full_model):
    scene.mocap.video_path = str(sample_video)
    scene.mocap.use_frame_range, scene.mocap.frame_first, scene.mocap.frame_last = True, 0, 5
    bpy.ops.mocap.capture()
    bpy.ops.mocap.add_metarig()
    bpy.ops.mocap.apply()
    for preset in ("unity", "unreal", "blender"):
        assert bpy.ops.mocap.export_fbx(filepath=str(tmp_path / f"{preset}.fbx"), preset=preset) == {"FINISHED"}
        assert (tmp_path / f"{preset}.fbx").stat().st_size > 5000
    assert bpy.ops.mocap.export_bvh(filepath=str(tmp_path / "take.bvh")) == {"FINISHED"}
    assert "Frames: 5" in (tmp_path / "take.bvh").read_text()
