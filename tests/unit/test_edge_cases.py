"""Maths and data edge cases (issue 19 #2, #10): opposite directions, a singular camera solve, a slice
with nobody in it."""
import numpy as np
import pytest
from synthetic import BONE_MAP, landmarks_from_pose, make_rig, random_pose

from video_mocap.capture.errors import MotionError
from video_mocap.capture.track import PoseTrack
from video_mocap.motion.root import hip_translation, intrinsics
from video_mocap.retarget.rotations import angle_between, rotation_angle, rotation_between
from video_mocap.retarget.solver import fill_missing, solve


def _check_rotations(R, a, b):
    """R (N,3,3) are proper rotations taking a to b, by the angle between them (the smallest)."""
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    moved = np.einsum("nij,nj->ni", R, a)
    assert angle_between(moved, b).max() < 1e-5
    assert np.abs(rotation_angle(R) - angle_between(a, b)).max() < 1e-5


def test_rotation_between_opposite_and_nearly_opposite_directions(between=rotation_between):
    rng = np.random.default_rng(7)
    a = rng.normal(size=(200, 3)) * rng.uniform(0.1, 10, size=(200, 1))
    axes = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0], [0, 0, -1.0]])  # axis-aligned, the worst case
    a = np.concatenate([a, axes])
    for eps in (0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-3):
        b = -a + eps * rng.normal(size=a.shape) * np.linalg.norm(a, axis=1, keepdims=True)
        R = between(a, b)
        _check_rotations(R, a, b)
        assert rotation_angle(R).min() > 179.5


def test_rotation_between_general_small_and_identical_directions(between=rotation_between):
    rng = np.random.default_rng(8)
    a = rng.normal(size=(500, 3))
    for b in (rng.normal(size=(500, 3)), a * 2.5, a + 1e-9 * rng.normal(size=a.shape)):
        _check_rotations(between(a, b), a, b)
    # Smallest rotation: the axis is perpendicular to both directions.
    b = rng.normal(size=(500, 3))
    R = rotation_between(a, b)
    axis = np.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0], R[:, 1, 0] - R[:, 0, 1]], -1)
    assert np.abs(np.sum(axis * a, -1)).max() < 1e-9 and np.abs(np.sum(axis * b, -1)).max() < 1e-9


def test_rotation_between_broadcasts_and_zero_vectors_give_identity():
    R = rotation_between(np.array([0.0, 0, 1]), np.array([[0.0, 0, -1], [1.0, 0, 0]]))
    assert R.shape == (2, 3, 3)
    _check_rotations(R, np.array([[0.0, 0, 1]] * 2), np.array([[0.0, 0, -1], [1.0, 0, 0]]))
    Z = rotation_between(np.zeros((2, 3)), np.array([[0.0, 0, -1], [1.0, 0, 0]]))
    np.testing.assert_array_equal(Z, np.broadcast_to(np.eye(3), (2, 3, 3)))


def _camera_track(frames=6, size=(640, 480)):
    rig = make_rig("A", seed=2)
    P = landmarks_from_pose(rig, random_pose(rig, frames, seed=3, max_deg=20), frames)
    cam = np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1)  # MediaPipe axes
    hip = (cam[:, 23] + cam[:, 24]) / 2
    world = cam - hip[:, None]
    cam = world + np.array([0.1, 0.2, 4.0])
    K = intrinsics(size, 60)
    uvw = cam @ K.T
    image = np.concatenate([uvw[..., :2] / uvw[..., 2:] / np.array(size), np.zeros_like(uvw[..., :1])], -1)
    return world, image, np.ones(world.shape[:2]), K, size


def test_one_singular_frame_does_not_break_the_camera_solve():
    world, image, weights, K, size = _camera_track()
    image[2, :, :2] = 0.5  # every landmark on one pixel: the normal equations are singular
    T = hip_translation(world, image, weights, size, K)
    assert np.isnan(T[2]).all()
    good = np.delete(np.arange(len(T)), 2)
    np.testing.assert_allclose(T[good], np.broadcast_to([0.1, 0.2, 4.0], (len(good), 3)), atol=1e-6)


def test_fill_missing_with_nobody_is_a_motion_error():
    with pytest.raises(MotionError, match="No person was found in any of the 7 frames"):
        fill_missing(np.zeros((7, 33, 3)), np.zeros(7, bool))


def test_solving_a_slice_with_nobody_is_a_motion_error():
    track = PoseTrack.empty(5, 30.0, (640, 480))
    track.detected[:] = False
    with pytest.raises(MotionError, match="No person was found in any of the 5 frames"):
        solve(track, make_rig("T", seed=4), BONE_MAP)


@pytest.mark.parametrize("text,message", [
    ("{bad json", "Cannot read the shape key map"),
    ("[1, 2]", "must hold"),
    ('{"shape_keys": ["jawOpen"]}', "A shape key map is"),
])
def test_a_bad_shape_key_map_is_one_rig_error(tmp_path, text, message):
    from video_mocap.retarget.bonemaps import load_shape_key_map
    from video_mocap.retarget.rig import RigError

    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(RigError, match=message):
        load_shape_key_map(str(path))
    with pytest.raises(RigError, match="Cannot read"):
        load_shape_key_map(str(tmp_path / "missing.json"))
    good = tmp_path / "good.json"
    good.write_text('{"shape_keys": {"jawOpen": "MouthOpen", "eyeBlinkLeft": ["Blink_L", "BlinkL"]}, "auto": false}')
    assert load_shape_key_map(str(good)) == ({"jawOpen": ["MouthOpen"], "eyeBlinkLeft": ["Blink_L", "BlinkL"]}, False)


def test_a_missing_target_blend_is_one_rig_error(tmp_path):
    """Checked before a capture (cli.check_inputs) and on opening (blender/armature.open_armature): one check."""
    from video_mocap.retarget.bonemaps import check_blend_file
    from video_mocap.retarget.rig import RigError

    with pytest.raises(RigError, match="Blend file not found: .*nowhere.blend"):
        check_blend_file(str(tmp_path / "nowhere.blend"))
    with pytest.raises(RigError, match="Blend file not found"):
        check_blend_file(str(tmp_path))                    # a folder is not a .blend
    (tmp_path / "rig.blend").write_bytes(b"BLENDER")
    check_blend_file(str(tmp_path / "rig.blend"))          # exists: no error
