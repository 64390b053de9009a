"""Issue 19's wider matrix, the Blender side: odd target armatures (no bones, one bone, a quadruped,
transformed and parented, constrained and driven, a library override, pose and edit mode, an action
shared by two armatures) and the file saved and reopened mid-workflow. Each: the motion is right or
one clear message, and the user's data is untouched."""
import numpy as np
import pytest
from preset_rigs import linked_from_library, plain_armature

from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")


@pytest.fixture(scope="module")
def track_path(tmp_path_factory, sample_video, full_model):
    from video_mocap import pipeline

    path = tmp_path_factory.mktemp("take") / "take.npz"
    track, _ = pipeline.capture(str(sample_video), pipeline.Options(frames=(0, 4), workers=1))
    track.save(path)
    return path


@pytest.fixture
def track(track_path):
    return PoseTrack.load(track_path)


def apply(obj, track, **kw):
    from video_mocap.blender.apply import apply_track

    return apply_track(bpy.context, obj, track, **kw)


def metarig(name="metarig"):
    from video_mocap.blender.armature import add_metarig

    return add_metarig(bpy.context, name)


def quadruped():
    bones = [("Root", None, (0, 0, 0.6), (0, 0.1, 0.6)), ("Back", "Root", (0, 0.1, 0.6), (0, 0.6, 0.6)),
             ("NeckBase", "Back", (0, 0.6, 0.6), (0, 0.8, 0.8)), ("Skull", "NeckBase", (0, 0.8, 0.8), (0, 1.0, 0.8)),
             ("Tail1", "Root", (0, 0, 0.6), (0, -0.3, 0.5)), ("Tail2", "Tail1", (0, -0.3, 0.5), (0, -0.6, 0.4))]
    for side, x in (("L", 0.15), ("R", -0.15)):
        for end, y, parent in (("Fore", 0.55, "Back"), ("Hind", 0.05, "Root")):
            bones += [(f"{end}Leg.{side}", parent, (x, y, 0.55), (x, y, 0.3)),
                      (f"{end}Cannon.{side}", f"{end}Leg.{side}", (x, y, 0.3), (x, y, 0.05)),
                      (f"{end}Hoof.{side}", f"{end}Cannon.{side}", (x, y, 0.05), (x, y + 0.05, 0.0))]
    return bones


@pytest.mark.parametrize("case", ["no_bones", "one_bone", "quadruped"])
def test_non_humanoid_armatures_give_one_message(scene, track, case):
    from video_mocap.retarget.rig import RigError

    bones = {"no_bones": [], "one_bone": [("Bone", None, (0, 0, 0), (0, 0, 1))], "quadruped": quadruped()}[case]
    obj = plain_armature(case, bones)
    with pytest.raises(RigError, match="No humanoid bones recognised"):
        apply(obj, track)
    assert obj.animation_data is None and len(bpy.data.actions) == 0


def test_non_humanoid_through_the_apply_button(scene, track_path):
    obj = plain_armature("horse", quadruped())
    scene.video_mocap.track_path = str(track_path)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    with pytest.raises(RuntimeError, match="No humanoid bones"):
        bpy.ops.video_mocap.apply()
    assert obj.animation_data is None or obj.animation_data.action is None


def world_pose(obj, frame):
    """Each bone's head and unit direction in world space at `frame`."""
    bpy.context.scene.frame_set(frame)
    bpy.context.view_layer.update()
    mw = np.array(obj.matrix_world)
    out = {}
    for pb in obj.pose.bones:
        head = mw[:3, :3] @ np.array(pb.head) + mw[:3, 3]
        tail = mw[:3, :3] @ np.array(pb.tail) + mw[:3, 3]
        out[pb.name] = head, (tail - head) / np.linalg.norm(tail - head)
    return out


@pytest.mark.parametrize("scale", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (0.5, 0.5, 0.5), (-1.0, 1.0, 1.0),
                                   (-1.5, -1.5, -1.5)])
def test_transformed_and_parented_armature_moves_like_an_identity_copy(scene, track, scale):
    """Scaled (also negatively), rotated and parented: the motion follows the object, so in world space
    every bone is where the identity-transform copy's bone is, carried by the object's transform."""
    from mathutils import Euler, Matrix, Vector

    plain = metarig("plain")
    placed = metarig("placed")
    parent = bpy.data.objects.new("Carrier", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.matrix_world = Matrix.Translation((3, -2, 0.5)) @ Euler((0.2, -0.1, 0.8)).to_matrix().to_4x4()
    placed.parent = parent
    placed.matrix_basis = (Matrix.Translation((0.4, 0, 0)) @ Euler((0, 0, -1.1)).to_matrix().to_4x4()
                           @ Matrix.Diagonal(Vector((*scale, 1))))
    a = apply(plain, track, set_scene=False)
    b = apply(placed, track, set_scene=False)
    assert a.keyed_bones == b.keyed_bones and len(a.keyed_bones) > 10
    bpy.context.view_layer.update()
    carry = np.array(placed.matrix_world)  # plain is at the identity
    lin = carry[:3, :3]
    for frame in (1, 3):
        want, got = world_pose(plain, frame), world_pose(placed, frame)
        for name in a.keyed_bones:
            head, direction = want[name]
            moved_dir = lin @ direction
            moved_dir /= np.linalg.norm(moved_dir)
            assert np.allclose(got[name][1], moved_dir, atol=1e-3), (name, frame)
            assert np.allclose(got[name][0], lin @ head + carry[:3, 3], atol=1e-3 * max(map(abs, scale))), name


def test_constraints_and_drivers_are_kept_and_keys_land(scene, track):
    rig = metarig()
    target = bpy.data.objects.new("Target", None)
    bpy.context.scene.collection.objects.link(target)
    con = rig.pose.bones["shin.L"].constraints.new("DAMPED_TRACK")
    con.target = target
    copy = rig.pose.bones["hand.L"].constraints.new("COPY_ROTATION")
    copy.target, copy.influence = target, 0.3
    rig.pose.bones["spine"]["stretch"] = 1.0
    drv = rig.pose.bones["forearm.R"].driver_add("scale", 1).driver
    drv.expression = "1.0 + 0.1 * var"
    var = drv.variables.new()
    var.targets[0].id = rig
    var.targets[0].data_path = 'pose.bones["spine"]["stretch"]'
    rot = rig.pose.bones["upper_arm.R"].driver_add("rotation_quaternion", 2).driver
    rot.expression = "0.05"

    def drivers():
        return sorted((fc.data_path, fc.array_index, fc.driver.expression, len(fc.driver.variables))
                      for fc in rig.animation_data.drivers)

    before = drivers()
    result = apply(rig, track)
    from video_mocap.blender.action import action_fcurves

    paths = {fc.data_path for fc in action_fcurves(result.action, rig)}
    for bone in ("shin.L", "hand.L", "forearm.R", "upper_arm.R"):
        assert any(f'"{bone}"' in p for p in paths), bone
    assert drivers() == before
    assert list(rig.pose.bones["shin.L"].constraints) == [con] and con.target == target
    assert list(rig.pose.bones["hand.L"].constraints) == [copy] and copy.influence == pytest.approx(0.3)


def test_library_override_can_be_keyed(scene, track, tmp_path):
    metarig("LibRig")
    linked = linked_from_library("LibRig", tmp_path / "lib.blend")
    override = linked.override_create(remap_local_usages=True)
    assert override.override_library is not None and override.data.library is not None
    result = apply(override, track)
    assert override.animation_data.action == result.action and len(result.keyed_bones) > 10
    bpy.context.scene.frame_set(3)
    assert linked.library is not None  # the library's object is untouched


def test_pose_mode_works_and_edit_mode_is_refused(scene, track_path):
    from video_mocap.retarget.rig import RigError

    rig = metarig()
    scene.video_mocap.track_path = str(track_path)
    bpy.ops.object.mode_set(mode="POSE")
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    assert rig.mode == "POSE" and rig.animation_data.action is not None
    bpy.ops.object.mode_set(mode="EDIT")
    action = rig.animation_data.action
    with pytest.raises(RigError, match="is in Edit Mode"):
        apply(rig, PoseTrack.load(track_path))
    assert rig.animation_data.action == action and rig.mode == "EDIT"
    bpy.ops.object.mode_set(mode="OBJECT")


def test_two_armatures_sharing_an_action(scene, track):
    from video_mocap.blender.action import action_fcurves

    one, two = metarig("one"), metarig("two")
    shared = bpy.data.actions.new("shared_walk")
    for obj in (one, two):
        obj.animation_data_create()
        obj.animation_data.action = shared
    one.pose.bones["spine"].rotation_quaternion = (0.9, 0.1, 0, 0)
    one.pose.bones["spine"].keyframe_insert("rotation_quaternion", frame=7)
    keys = sorted(tuple(k.co) for fc in action_fcurves(shared, one) for k in fc.keyframe_points)
    curves = len(action_fcurves(shared, one))
    result = apply(one, track)
    assert result.action != shared and one.animation_data.action == result.action
    assert two.animation_data.action == shared
    assert sorted(tuple(k.co) for fc in action_fcurves(shared, one) for k in fc.keyframe_points) == keys
    assert len(action_fcurves(shared, one)) == curves


def test_file_saved_and_reopened_mid_workflow(scene, sample_video, tmp_path):
    """Capture, change settings, save, reopen: the settings and the take survive; capture and apply
    work after the reopen."""
    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 3
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    settings.smoothing, settings.root_mode, settings.smooth_hz = "one_euro", "in_place", 7.0
    take = settings.takes[0]
    saved = (take.path, take.frames, settings.track_path)
    blend = tmp_path / "work" / "shot.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    settings = bpy.context.scene.video_mocap
    assert (settings.smoothing, settings.root_mode, settings.smooth_hz) == ("one_euro", "in_place", 7.0)
    assert len(settings.takes) == 1 and (settings.takes[0].path, settings.takes[0].frames,
                                         settings.track_path) == saved
    assert not settings.is_capturing
    assert len(PoseTrack.load(bpy.path.abspath(settings.track_path))) == 3
    metarig()
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    settings.frame_first, settings.frame_last = 1, 3
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    assert len(settings.takes) == 2 and settings.takes[-1].frames == 2
