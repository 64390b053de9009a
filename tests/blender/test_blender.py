"""The extension inside real Blender (bpy module): operators, a new Action, FBX and BVH exports."""
import re

import numpy as np
import pytest
from preset_rigs import metarig_with_user_action

import video_mocap
from video_mocap.capture.track import PoseTrack
from video_mocap.retarget.bonemaps import PRESETS
from video_mocap.retarget.rig import POSED_ROLES

bpy = pytest.importorskip("bpy")

FIRST, LAST = 10, 40  # a 30-frame slice of the 100-frame sample


@pytest.fixture(scope="module")
def scene(sample_video, full_model):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    yield bpy.context.scene
    video_mocap.unregister()


@pytest.fixture(scope="module")
def captured(scene, sample_video):
    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.model = "full"
    settings.use_frame_range = True
    settings.frame_first, settings.frame_last = FIRST, LAST
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    return PoseTrack.load(settings.track_path)


@pytest.fixture(scope="module")
def applied(scene, captured):
    from video_mocap.blender.action import action_fcurves

    rig, user_action = metarig_with_user_action()  # the user's own animation must survive
    user_keys = [tuple(k.co) for fc in action_fcurves(user_action, rig) for k in fc.keyframe_points]
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    return rig, user_action, user_keys


def test_capture_operator_writes_the_landmark_cache(captured):
    assert len(captured) == LAST - FIRST and captured.first_frame == FIRST
    assert captured.detected.all() and captured.model == "full"
    assert captured.world_landmarks.shape == (LAST - FIRST, 33, 3)
    np.testing.assert_array_equal(captured.timestamps_ms, np.round(np.arange(FIRST, LAST) * 1000 / 60))


def test_apply_keys_a_new_action_on_the_expected_bones(applied, scene):
    from video_mocap.blender.action import action_fcurves

    rig, user_action, user_keys = applied
    action = rig.animation_data.action
    assert action is not user_action and action.name.startswith("cam01")
    assert [tuple(k.co) for fc in action_fcurves(user_action, rig) for k in fc.keyframe_points] == user_keys
    assert user_action.name in bpy.data.actions
    curves = action_fcurves(action, rig)
    keyed = {re.match(r'pose\.bones\["(.+)"\]', fc.data_path).group(1) for fc in curves}
    assert {PRESETS['metarig'][r][0] for r in POSED_ROLES if r not in ("toe.L", "toe.R")} <= keyed
    for fc in curves:
        frames = [k.co[0] for k in fc.keyframe_points]
        assert frames == list(range(1, LAST - FIRST + 1)), fc.data_path
    assert (scene.frame_start, scene.frame_end) == (1, LAST - FIRST)
    assert scene.render.fps / scene.render.fps_base == pytest.approx(60.0)


def test_pose_follows_the_person(applied, captured, scene):
    """The rig's limb directions equal the cleaned landmark directions (flips, fusion, smoothing as the
    panel chose; Blender axes, made upright: this camera looks down on the person) at every checked frame."""
    from video_mocap import pipeline
    from video_mocap.capture.landmarks import INDEX, mediapipe_to_blender
    from video_mocap.motion.root import world_trajectory

    rig = applied[0]
    captured = pipeline.clean(captured, pipeline.Options.from_settings(scene.video_mocap))
    level, _, _ = world_trajectory(captured)
    tilt = np.degrees(np.arccos(level[2, 2]))
    assert 10 < tilt < 45  # cam01 looks down on the person
    P = mediapipe_to_blender(captured.world_landmarks) @ level.T
    pairs = {"upper_arm.L": ("left_shoulder", "left_elbow"), "forearm.R": ("right_elbow", "right_wrist"),
             "thigh.R": ("right_hip", "right_knee"), "shin.L": ("left_knee", "left_ankle")}
    for row in (0, 12, 29):
        scene.frame_set(1 + row)
        for bone, (a, b) in pairs.items():
            pb = rig.pose.bones[bone]
            got = np.array(pb.tail - pb.head)
            want = P[row, INDEX[b]] - P[row, INDEX[a]]
            cos = got @ want / np.linalg.norm(got) / np.linalg.norm(want)
            assert np.degrees(np.arccos(min(cos, 1.0))) < 0.5, (bone, row)


def test_fbx_round_trip_matches_bone_world_positions(applied, scene, tmp_path):
    from video_mocap.blender.export import export_fbx

    rig = applied[0]
    path = str(tmp_path / "take.fbx")
    export_fbx(bpy.context, rig, path)
    frames = (1, 15, 30)
    bones = [b.name for b in rig.data.bones if b.use_deform]

    def positions(obj):
        out = []
        for f in frames:
            scene.frame_set(f)
            mw = obj.matrix_world
            out.append([np.array(mw @ obj.pose.bones[n].head) for n in bones])
        return np.array(out)

    before = positions(rig)
    bpy.ops.import_scene.fbx(filepath=path, anim_offset=0.0)
    imported = next(o for o in bpy.context.selected_objects if o.type == "ARMATURE")
    after = positions(imported)
    assert np.abs(after - before).max() < 1e-3  # metres
    bpy.data.objects.remove(imported)


def test_bvh_frame_time_is_one_over_video_fps(applied, scene, tmp_path):
    from video_mocap.blender.export import export_bvh

    path = tmp_path / "take.bvh"
    export_bvh(bpy.context, applied[0], str(path), scene.frame_start, scene.frame_end)
    text = path.read_text()
    assert re.search(r"Frames:\s+30\b", text)
    assert float(re.search(r"Frame Time:\s+([\d.]+)", text).group(1)) == pytest.approx(1 / 60, abs=1e-6)


def test_operators_fail_cleanly(scene, tmp_path):
    settings = scene.video_mocap
    old = settings.video_path
    settings.video_path = str(tmp_path / "missing.mp4")
    try:
        with pytest.raises(RuntimeError, match="Video not found"):
            bpy.ops.video_mocap.capture()
    finally:
        settings.video_path = old
    assert not settings.is_capturing
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.video_mocap.apply.poll()


def test_bone_map_json_from_blender_and_back(applied, scene, tmp_path):
    from video_mocap.retarget.bonemaps import load_bone_map

    rig = applied[0]
    bpy.context.view_layer.objects.active = rig
    rig.select_set(True)
    path = tmp_path / "metarig_map.json"
    assert bpy.ops.video_mocap.save_bone_map(filepath=str(path)) == {"FINISHED"}
    bone_map = load_bone_map(path)
    assert bone_map["upper_arm.L"] == "upper_arm.L" and bone_map["hips"] == "spine"
    scene.video_mocap.rig_preset = "JSON"
    scene.video_mocap.bone_map_path = str(path)
    before = len(bpy.data.actions)
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    assert len(bpy.data.actions) == before + 1  # a second take: a second Action
    scene.video_mocap.rig_preset = "AUTO"
