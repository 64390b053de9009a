"""Bone names Blender accepts but a naive F-curve data path breaks on (quotes, backslashes, dots,
spaces, unicode): the keys must land on the right bones (issue 19 #9)."""
import numpy as np
import pytest
from preset_rigs import plain_armature

bpy = pytest.importorskip("bpy")

from video_mocap.blender.action import action_fcurves, bone_path, key_rotations, new_action, write_curves  # noqa: E402

NAMES = ['arm "L"', "back\\slash", "spine.001", "upper arm", "épaule_左", 'mix\\"ed"\\', "x"]
MODES = ["QUATERNION", "XYZ", "AXIS_ANGLE", "QUATERNION", "ZXY", "QUATERNION", "QUATERNION"]


@pytest.fixture(scope="module")
def rig():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = plain_armature("escape", [(name, None, (i, 0, 0), (i, 0, 1)) for i, name in enumerate(NAMES)])
    assert [pb.name for pb in obj.pose.bones] == NAMES  # Blender keeps every one of these names
    for pb, mode in zip(obj.pose.bones, MODES):
        pb.rotation_mode = mode
    yield obj
    bpy.data.objects.remove(obj)


def _quats(seed: int, frames: int) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(frames, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.sign(q[:, :1])


def test_bone_path_escapes_the_name():
    assert bone_path('a"b', "location") == 'pose.bones["a\\"b"].location'
    assert bone_path("c\\d", '["IK_FK"]') == 'pose.bones["c\\\\d"]["IK_FK"]'
    assert bone_path("plain", "rotation_euler") == 'pose.bones["plain"].rotation_euler'


def test_rotation_keys_land_on_the_right_bones(rig):
    from mathutils import Quaternion

    frames = 5
    rotations = {name: _quats(i, frames) for i, name in enumerate(NAMES)}
    action = new_action(rig, "escaped")
    assert key_rotations(action, rig, rotations, 1) == NAMES
    paths = {fc.data_path for fc in action_fcurves(action, rig)}
    for name in NAMES:  # every path resolves to its own bone
        for path in paths:
            if path.startswith(bone_path(name, "")[:-1] + "."):
                assert rig.path_resolve(path.rsplit(".", 1)[0]) == rig.pose.bones[name]
    assert len(paths) == len(NAMES)
    for f in range(frames):
        bpy.context.scene.frame_set(1 + f)
        for name in NAMES:
            pb = rig.pose.bones[name]
            if pb.rotation_mode == "QUATERNION":
                got = Quaternion(pb.rotation_quaternion)
            elif pb.rotation_mode == "AXIS_ANGLE":
                a, *axis = pb.rotation_axis_angle
                got = Quaternion(axis, a)
            else:
                got = pb.rotation_euler.to_quaternion()
            dot = abs(np.dot(np.array(got), rotations[name][f]))
            assert dot == pytest.approx(1.0, abs=1e-5), (name, f)


def test_location_and_custom_property_keys_with_escaped_names(rig):
    action = new_action(rig, "escaped_loc")
    name = NAMES[0]
    rig.pose.bones[name]["IK_FK"] = 0.0
    write_curves(action, rig, bone_path(name, "location"), np.array([1, 2]),
                 np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), name)
    write_curves(action, rig, bone_path(name, '["IK_FK"]'), np.array([1]), np.array([[1.0]]), name)
    bpy.context.scene.frame_set(2)
    np.testing.assert_allclose(rig.pose.bones[name].location, [0.4, 0.5, 0.6], atol=1e-6)
    assert rig.pose.bones[name]["IK_FK"] == pytest.approx(1.0)
    for other in NAMES[1:]:
        np.testing.assert_allclose(rig.pose.bones[other].location, 0, atol=1e-9)
