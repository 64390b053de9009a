"""The Blender experience, headless: every panel drawn with a recording layout in the main states,
the modal capture stepped by its timer to completion and to cancel, takes, bone map editing,
the reference video, exports."""
import numpy as np
import pytest
from preset_rigs import metarig_with_user_action

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


PANELS = ("VIDEO_MOCAP_PT_main", "VIDEO_MOCAP_PT_source", "VIDEO_MOCAP_PT_capture", "VIDEO_MOCAP_PT_target",
          "VIDEO_MOCAP_PT_motion", "VIDEO_MOCAP_PT_apply", "VIDEO_MOCAP_PT_reference")


def draw_all(context) -> dict:
    out = {}
    for name in PANELS:
        panel = getattr(bpy.types, name)
        stand_in = type("PanelStandIn", (), {"layout": Recorder()})()
        panel.draw(stand_in, context)
        out[name] = stand_in.layout
    return out


class CaptureDriver:
    """Drives VIDEO_MOCAP_OT_capture's own methods the way its modal timer does."""
    keep_partial = False

    def __init__(self):
        op = bpy.types.VIDEO_MOCAP_OT_capture
        self.reports = []
        self._make_job, self._finish, self.step = (getattr(op, n).__get__(self)
                                                   for n in ("_make_job", "_finish", "step"))

    def report(self, kind, message):
        self.reports.append((kind, message))


def test_panels_in_every_state(scene, sample_video, full_model):
    ctx = bpy.context
    p = draw_all(ctx)  # nothing chosen yet
    assert p["VIDEO_MOCAP_PT_source"].has("prop", "video_path")
    assert p["VIDEO_MOCAP_PT_capture"].has("operator", "video_mocap.capture")
    assert p["VIDEO_MOCAP_PT_target"].has("operator", "video_mocap.add_metarig")  # no armature
    assert not p["VIDEO_MOCAP_PT_target"].has("prop", "rig_preset")
    assert not bpy.ops.video_mocap.capture.poll() and not bpy.ops.video_mocap.apply.poll()

    scene.video_mocap.video_path = str(sample_video)  # video chosen: its info is shown
    p = draw_all(ctx)
    assert p["VIDEO_MOCAP_PT_source"].has("label", "1080×1920 · 60 fps · 100 frames · 1.7 s")
    assert bpy.ops.video_mocap.capture.poll()

    from video_mocap.blender import jobs
    from video_mocap.capture.job import CaptureJob, CaptureRequest

    state = jobs.begin(scene, CaptureJob(CaptureRequest(str(sample_video))))  # a capture runs (not started here)
    state.progress, state.status = 0.4, "40/100 frames"
    p = draw_all(ctx)  # capturing: progress and cancel, no second capture
    cap = p["VIDEO_MOCAP_PT_capture"]
    assert cap.has("progress", "0.4") and cap.has("operator", "video_mocap.capture_cancel")
    assert not cap.has("operator", "video_mocap.capture'") and not bpy.ops.video_mocap.capture.poll()
    jobs.end(scene, "")

    scene.video_mocap.use_frame_range, scene.video_mocap.frame_first, scene.video_mocap.frame_last = True, 0, 8
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    bpy.ops.video_mocap.add_metarig()
    p = draw_all(ctx)  # a take and an armature
    assert p["VIDEO_MOCAP_PT_capture"].has("list", "VIDEO_MOCAP_UL_takes")
    assert p["VIDEO_MOCAP_PT_target"].has("prop", "rig_preset")
    assert p["VIDEO_MOCAP_PT_apply"].has("operator", "video_mocap.apply")
    assert len(p["VIDEO_MOCAP_PT_apply"].kinds("operator")) == 5  # apply, 3 FBX presets, BVH
    assert bpy.ops.video_mocap.apply.poll()

    assert bpy.ops.video_mocap.detect_bone_map() == {"FINISHED"}  # the editor, with a partial map
    for item in scene.video_mocap.bone_map:
        if item.name in ("thigh.L", "shin.L"):
            item.bone = ""
    p = draw_all(ctx)
    target = p["VIDEO_MOCAP_PT_target"]
    assert target.has("list", "VIDEO_MOCAP_UL_bone_map") and target.has("label", "Unmapped: thigh.L, shin.L")
    assert target.has("label", "Detected: metarig")
    row = Recorder()
    settings = scene.video_mocap
    bpy.types.VIDEO_MOCAP_UL_bone_map.draw_item(None, ctx, row, settings, settings.bone_map[4], 0, None, "", 4)
    assert row.has("prop_search", "bones")  # role → bone with a search over the armature's bones


def test_modal_capture_steps_to_completion_and_to_cancel(scene, sample_video, full_model):
    ctx = bpy.context
    scene.video_mocap.video_path = str(sample_video)
    scene.video_mocap.use_frame_range, scene.video_mocap.frame_first, scene.video_mocap.frame_last = True, 0, 30
    driver = CaptureDriver()
    driver.job = driver._make_job(ctx).start()
    steps, result = 0, {"PASS_THROUGH"}
    while result == {"PASS_THROUGH"}:
        driver.job.wait(0.05)
        result = driver.step(ctx, "TIMER")
        steps += 1
        assert steps < 2000
    assert result == {"FINISHED"} and scene.video_mocap.progress == 1.0 and not scene.video_mocap.is_capturing
    assert len(scene.video_mocap.takes) == 1 and scene.video_mocap.takes[0].frames == 30
    assert "30 frames" in scene.video_mocap.status
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
    assert result == {"CANCELLED"} and scene.video_mocap.status == "Cancelled"
    assert len(scene.video_mocap.takes) == 1  # nothing added
    assert driver.reports[-1][0] == {"WARNING"}


def test_takes_apply_and_remove(scene, sample_video, full_model, tmp_path):
    scene.video_mocap.video_path = str(sample_video)
    scene.video_mocap.use_frame_range, scene.video_mocap.frame_first, scene.video_mocap.frame_last = True, 5, 15
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    take = scene.video_mocap.takes[0]
    assert (take.frames, take.first_frame, take.model, take.detected) == (10, 5, "full", 1.0)
    bpy.ops.video_mocap.add_metarig()
    rig = bpy.context.active_object
    scene.video_mocap.target = rig
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = None  # the Target field is enough
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    assert rig.animation_data.action.name.startswith("cam01_full")
    assert (scene.frame_start, scene.frame_end) == (1, 10)
    # The panel reports what the command prints: each warning of the pipeline's report, then a summary.
    from video_mocap import pipeline
    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.scene import options

    settings = scene.video_mocap
    bpy.ops.video_mocap.detect_bone_map()
    next(i for i in settings.bone_map if i.name == "thigh.L").bone = ""  # a role the rig then lacks
    stand_in = Reporter()
    assert bpy.types.VIDEO_MOCAP_OT_apply.execute(stand_in, bpy.context) == {"FINISHED"}
    track, report = pipeline.load_take(bpy.path.abspath(take.path), options(bpy.context, frames=(None, None)))
    expected = apply_track(bpy.context, rig, track, options=options(bpy.context), report=report).report
    assert expected.warnings and any("thigh.L" in w for w in expected.warnings)
    assert [m for kind, m in stand_in.reports if kind == {"WARNING"}] == expected.warnings
    (kind, summary), = [r for r in stand_in.reports if r[0] == {"INFO"}]
    assert summary.startswith(f"Applied to '{rig.name}'") and "keyed" in summary

    path = bpy.path.abspath(take.path)
    assert bpy.ops.video_mocap.take_remove() == {"FINISHED"}
    assert len(scene.video_mocap.takes) == 0 and not __import__("os").path.exists(path)


class Reporter:
    """A stand-in `self` for an operator method: records self.report calls."""

    def __init__(self):
        self.reports = []

    def report(self, kind, message):
        self.reports.append((kind, message))


def test_remove_take_deletes_only_the_extensions_own_caches(scene, sample_video, full_model, tmp_path):
    """A take's path comes from the .blend: a crafted file must not make Remove Take delete anything but a
    landmark cache this extension wrote in its cache folder."""
    import os
    import shutil

    from video_mocap.blender.scene import cache_folder, is_own_cache

    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 2
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    own = bpy.path.abspath(settings.takes[0].path)
    folder = cache_folder(bpy.context)
    assert is_own_cache(bpy.context, own) and os.path.dirname(own) == str(folder)
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file")
    outside_cache = tmp_path / "elsewhere.npz"  # a real landmark cache, but outside the cache folder
    shutil.copy(own, outside_cache)
    fake = folder / f"not_a_cache_{os.getpid()}.npz"  # in the folder, named .npz, but not a landmark cache
    fake.write_bytes(b"PK not really")
    link = folder / f"link_{os.getpid()}.npz"  # in the folder, but a link to a file outside it
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(outside_cache)
    try:
        for victim in (precious, outside_cache, fake, link):
            take = settings.takes.add()
            take.name, take.path = victim.name, str(victim)
            settings.take_index = len(settings.takes) - 1
            stand_in = Reporter()
            stand_in.delete_file = True
            assert bpy.types.VIDEO_MOCAP_OT_take_remove.execute(stand_in, bpy.context) == {"FINISHED"}
            assert os.path.lexists(victim), victim
            assert any("Kept" in m for _, m in stand_in.reports)
            assert victim.name not in [t.name for t in settings.takes]
        assert outside_cache.exists() and precious.read_text() == "the user's file"
        settings.take_index = 0  # the extension's own cache: deleted with its take
        assert bpy.ops.video_mocap.take_remove() == {"FINISHED"}
        assert not os.path.exists(own) and len(settings.takes) == 0
    finally:
        for path in (fake, link):
            if os.path.lexists(path):
                path.unlink()


def test_caches_of_same_named_videos_do_not_collide(scene, sample_video, full_model, tmp_path):
    """Two `clip.mp4` from different folders: two caches, two takes (the earlier one is kept)."""
    import os
    import shutil

    from video_mocap.blender.scene import cache_path

    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    for path in (a, b):
        path.parent.mkdir()
        shutil.copy(sample_video, path)
    ctx = bpy.context
    assert cache_path(ctx, str(a), "full", 0, 2) != cache_path(ctx, str(b), "full", 0, 2)
    assert cache_path(ctx, str(a), "full", 0, 2) != cache_path(ctx, str(a), "lite", 0, 2)
    assert cache_path(ctx, str(a), "full", 0, 2) != cache_path(ctx, str(a), "full", 0, 3)
    before = cache_path(ctx, str(a), "full")
    os.utime(a, ns=(0, 10**18))  # the same file name, re-exported in place: another cache
    assert cache_path(ctx, str(a), "full") != before
    settings = scene.video_mocap
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 2
    for path in (a, b):
        settings.video_path = str(path)
        assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    paths = [bpy.path.abspath(t.path) for t in settings.takes]
    assert len(paths) == 2 and len(set(paths)) == 2 and all(os.path.exists(p) for p in paths)
    assert [PoseTrack.load(p).source for p in paths] == [str(a), str(b)]
    for _ in paths:
        bpy.ops.video_mocap.take_remove()


def test_cancel_button_and_a_file_saved_during_a_capture(scene, sample_video, full_model, tmp_path):
    """The running capture lives in Python, not in the scene: Cancel stops the job itself; a file saved
    while capturing reopens ready to capture (nothing of the capture was saved)."""
    from video_mocap.blender import jobs

    ctx = bpy.context
    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 60
    driver = CaptureDriver()
    driver.job = driver._make_job(ctx).start()
    while driver.job.status.done < 2 and driver.job.is_alive():
        driver.job.wait(0.01)
    assert settings.is_capturing and bpy.ops.video_mocap.capture_cancel.poll()
    assert bpy.ops.video_mocap.capture_cancel() == {"FINISHED"}
    assert driver.job.cancel_requested  # the job itself was told, not a flag nobody reads
    result = {"PASS_THROUGH"}
    while result == {"PASS_THROUGH"}:
        driver.job.wait(0.05)
        result = driver.step(ctx, "TIMER")
    assert result == {"CANCELLED"} and settings.status == "Cancelled" and len(settings.takes) == 0
    assert not settings.is_capturing and not bpy.ops.video_mocap.capture_cancel.poll()

    driver = CaptureDriver()  # again, and save the file while it runs
    driver.job = driver._make_job(ctx).start()
    while driver.job.status.done < 2 and driver.job.is_alive():
        driver.job.wait(0.01)
    assert settings.is_capturing
    path = str(tmp_path / "during_capture.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    assert driver.job.cancel_requested  # opening a file stops the capture of the closed one
    driver.job.wait()
    assert driver.step(bpy.context, "TIMER") == {"CANCELLED"}  # its operator leaves quietly
    scene = bpy.context.scene
    settings = scene.video_mocap
    assert not settings.is_capturing and settings.status == "" and len(settings.takes) == 0
    assert jobs.running(scene) is None and bpy.ops.video_mocap.capture.poll()
    settings.frame_first, settings.frame_last = 0, 2
    assert bpy.ops.video_mocap.capture() == {"FINISHED"} and len(settings.takes) == 1
    bpy.ops.video_mocap.take_remove()


def test_settings_of_files_saved_before_the_rename_are_migrated(scene, tmp_path):
    """Files saved with the old `scene.mocap` keep their settings (copied into scene.video_mocap on load);
    the old runtime keys are dropped."""
    obj = bpy.data.objects.new("Target", bpy.data.armatures.new("Target"))
    scene.collection.objects.link(obj)
    scene["mocap"] = {"video_path": "/videos/clip.mp4", "model": 2, "smooth_hz": 7.5, "fix_sides": 0,
                      "rig_preset": 1, "target": obj, "is_capturing": 1, "status": "Capturing",
                      "takes": [{"name": "clip.mp4 · full", "path": "/cache/clip_full.npz", "frames": 12}],
                      "bone_map": [{"name": "hips", "bone": "pelvis"}]}
    path = str(tmp_path / "old.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    scene = bpy.context.scene
    settings = scene.video_mocap
    assert "mocap" not in scene.keys()
    assert (settings.video_path, settings.model, settings.smooth_hz, settings.fix_sides) == \
        ("/videos/clip.mp4", "heavy", 7.5, False)
    assert settings.rig_preset == "CUSTOM" and settings.custom_map() == {"hips": "pelvis"}
    assert settings.target.name == "Target"
    assert [(t.name, t.path, t.frames) for t in settings.takes] == [("clip.mp4 · full", "/cache/clip_full.npz", 12)]
    assert not settings.is_capturing and settings.status == ""


def test_bone_map_editor_save_and_load(scene, tmp_path):
    from video_mocap.retarget.bonemaps import load_bone_map

    bpy.ops.video_mocap.add_metarig()
    assert bpy.ops.video_mocap.detect_bone_map() == {"FINISHED"}
    settings = scene.video_mocap
    assert settings.rig_preset == "CUSTOM" and settings.custom_map()["forearm.R"] == "forearm.R"
    next(i for i in settings.bone_map if i.name == "hand.L").bone = "palm.01.L"
    path = tmp_path / "edited.json"
    assert bpy.ops.video_mocap.save_bone_map(filepath=str(path)) == {"FINISHED"}
    assert load_bone_map(path)["hand.L"] == "palm.01.L"
    settings.bone_map.clear()
    assert bpy.ops.video_mocap.load_bone_map(filepath=str(path)) == {"FINISHED"}
    assert settings.custom_map()["hand.L"] == "palm.01.L"


def test_reference_video_is_synced(scene, sample_video, full_model):
    from video_mocap.blender.reference import CAMERA_NAME
    from video_mocap.ui import overlay

    assert overlay.is_registered()
    scene.video_mocap.video_path = str(sample_video)
    scene.video_mocap.use_frame_range, scene.video_mocap.frame_first, scene.video_mocap.frame_last = True, 20, 26
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    bpy.ops.video_mocap.add_metarig()
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}  # scene fps = video fps, frames 1..6
    assert bpy.ops.video_mocap.show_reference() == {"FINISHED"}
    cam = bpy.data.objects[CAMERA_NAME]
    bg = cam.data.background_images[0]
    clip = bg.clip
    assert bg.source == "MOVIE_CLIP" and scene.camera == cam and cam.data.show_background_images
    # Scene frame 1 shows video frame 20: the clip (frame 1 = video frame 0) starts at scene frame -19.
    assert clip.frame_start == 1 - 20
    assert clip.fps == pytest.approx(scene.render.fps / scene.render.fps_base)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1080, 1920)
    # The overlay: segments of the take at the scene frame, placed in the fitted camera frame.
    track = PoseTrack.load(bpy.path.abspath(scene.video_mocap.reference_take))
    lines = overlay.skeleton_lines(track, scene.frame_current - scene.video_mocap.reference_frame_start)
    assert lines.shape[1:] == (2, 2) and len(lines) > 20
    frame = overlay.fitted_frame(np.array([(0, 100), (200, 100), (0, 0)]), (1080, 1920), (1920, 1080))
    corners = overlay.image_to_region(np.array([[0.0, 0.0], [1.0, 1.0]]), frame)
    width = 200 * (1080 / 1920) / (1920 / 1080)  # a portrait video fitted into a landscape frame
    assert np.allclose(corners, [[100 - width / 2, 100], [100 + width / 2, 0]])


def test_export_buttons(scene, tmp_path, sample_video, full_model):
    scene.video_mocap.video_path = str(sample_video)
    scene.video_mocap.use_frame_range, scene.video_mocap.frame_first, scene.video_mocap.frame_last = True, 0, 5
    bpy.ops.video_mocap.capture()
    bpy.ops.video_mocap.add_metarig()
    bpy.ops.video_mocap.apply()
    for preset in ("unity", "unreal", "blender"):
        assert bpy.ops.video_mocap.export_fbx(filepath=str(tmp_path / f"{preset}.fbx"), preset=preset) == {"FINISHED"}
        assert (tmp_path / f"{preset}.fbx").stat().st_size > 5000
    assert bpy.ops.video_mocap.export_bvh(filepath=str(tmp_path / "take.bvh")) == {"FINISHED"}
    assert "Frames: 5" in (tmp_path / "take.bvh").read_text()


def test_one_undo_reverts_an_apply_completely(scene, sample_video, full_model):
    """Apply is one undo step: Ctrl+Z brings back the user's action, pose, frame range and fps, and
    removes the new Action (memfile undo works headless once two steps exist, in the window's context)."""
    from video_mocap.blender.action import action_fcurves

    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 4
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    rig, user_action = metarig_with_user_action()
    rig.pose.bones["upper_arm.L"].rotation_quaternion = (0.8, 0, 0.6, 0)  # a static pose, not keyed
    scene.frame_start, scene.frame_end, scene.render.fps = 3, 250, 24

    def state():
        s = bpy.context.scene
        obj = bpy.data.objects["metarig"]
        act = obj.animation_data.action
        return (sorted(bpy.data.actions.keys()), act.name, act.use_fake_user, s.frame_start, s.frame_end,
                s.render.fps, s.render.fps_base, tuple(obj.pose.bones["upper_arm.L"].rotation_quaternion),
                [tuple(k.co) for fc in action_fcurves(act, obj) for k in fc.keyframe_points],
                s.video_mocap.detected_preset, len(s.video_mocap.takes))

    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window):
        bpy.ops.ed.undo_push(message="before apply")
        before = state()
        assert bpy.ops.video_mocap.apply("EXEC_DEFAULT", True) == {"FINISHED"}  # True: push an undo step
        after = state()
        assert after[0] != before[0] and after[1] != "users_walk" and after[3:5] == (1, 4)
        assert bpy.ops.ed.undo.poll()
        bpy.ops.ed.undo()
        assert state() == before


def test_reports_errors_catches_only_the_products_errors():
    from video_mocap.capture.errors import RigError
    from video_mocap.operators.common import reports_errors

    class Op(Reporter):
        @reports_errors
        def execute(self, context):
            raise self.exc

        @reports_errors
        def invoke(self, context, event):
            raise self.exc

    op = Op()
    op.exc = RigError("Choose a bone map JSON file, or pick a preset.")
    assert op.execute(None) == {"CANCELLED"} and op.invoke(None, None) == {"CANCELLED"}
    assert op.reports == [({"ERROR"}, "Choose a bone map JSON file, or pick a preset.")] * 2
    op.exc = KeyError("a bug")  # not a user error: the traceback shows
    with pytest.raises(KeyError):
        op.execute(None)
    assert Op.execute.__code__.co_argcount == 2 and Op.invoke.__code__.co_argcount == 3  # Blender checks
