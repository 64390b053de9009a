"""Root motion maths: PnP recovers the hip's position, the floor and the camera's tilt."""
import numpy as np
from synthetic import landmarks_from_pose, make_rig, random_pose

from video_mocap.capture.track import PoseTrack
from video_mocap.motion.root import _rotation_to_z, hip_translation, intrinsics, world_trajectory


def blender_to_mediapipe(P):
    return np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1)


def project(cam_points, K, size):
    uvw = cam_points @ K.T
    return np.concatenate([uvw[..., :2] / uvw[..., 2:] / np.array(size), np.zeros_like(uvw[..., :1])], -1)


def synthetic_track(frames=40, tilt_deg=0.0, size=(1080, 1920), path=None):
    """A posed synthetic person walking across a camera's view; camera pitched down by tilt_deg."""
    rig = make_rig("A", seed=2)
    P = landmarks_from_pose(rig, random_pose(rig, frames, seed=3, max_deg=25), frames)  # Blender axes
    mid_hip = (P[:, 23] + P[:, 24]) / 2
    hips_world = path if path is not None else np.stack(
        [np.linspace(-1, 1, frames), np.linspace(0, 1.5, frames), np.full(frames, 1.0)], -1)
    feet_on_floor = P[:, [27, 28, 29, 30, 31, 32], 2].min(1)
    person = P - mid_hip[:, None] + hips_world[:, None] - np.array([0, 0, 1.0]) + (mid_hip[:, None, :] * [0, 0, 1]) \
        - feet_on_floor[:, None, None] * [0, 0, 1]
    # Camera 4 m in front at 1.2 m height looking along +Y, pitched down.
    a = np.radians(tilt_deg)
    pitch = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])  # world → camera-aligned
    cam_pos = np.array([0, -4.0, 1.2])
    rel = (person - cam_pos) @ pitch.T  # Blender axes, camera-aligned
    cam = blender_to_mediapipe(rel)  # x right, y down, z forward
    K = intrinsics(size, 60)
    image = project(cam, K, size)
    hip_cam = (cam[:, 23] + cam[:, 24]) / 2
    track = PoseTrack.empty(frames, 30.0, size)
    track.world_landmarks[:] = np.nan_to_num(cam - hip_cam[:, None])
    track.image_landmarks[:] = np.nan_to_num(image)
    track.visibility[:] = np.where(np.isfinite(cam).all(-1), 1.0, 0.0)
    track.detected[:] = True
    return track, hip_cam, person, K


def test_pnp_recovers_translation_from_exact_projections():
    track, hip_cam, _, K = synthetic_track()
    T = hip_translation(track.world_landmarks, track.image_landmarks, track.visibility, track.frame_size, K)
    err = np.linalg.norm(T - hip_cam, axis=1) / np.linalg.norm(hip_cam, axis=1)
    assert err.max() < 0.02, err.max()
    assert err.max() < 1e-4  # exact data: essentially exact


def test_focal_length_from_fov_and_mm():
    K = intrinsics((1080, 1920), fov_deg=59.4)
    assert abs(K[0, 0] - 1681) < 10  # the Pose2Sim phones' calibrated focal length
    assert np.allclose(intrinsics((1920, 1080), focal_mm=26)[0, 0], 26 / 36 * 1920)


def test_floor_and_tilt_are_recovered():
    path = np.stack([np.linspace(-1.2, 1.2, 60), 0.8 * np.sin(np.linspace(0, 3, 60)) + 1, np.full(60, 1.0)], -1)
    track, _, person, _ = synthetic_track(60, tilt_deg=15, path=path)
    level, hips, floor = world_trajectory(track, fov_deg=60)
    # The levelled up is the true up: the tilt (15°) is undone.
    true_up_cam = np.array([0, np.sin(np.radians(15)), np.cos(np.radians(15))])
    assert np.degrees(np.arccos((level @ true_up_cam)[2])) < 2
    true_hips = (person[:, 23] + person[:, 24]) / 2
    moved_true = true_hips - true_hips[0]
    moved = hips - hips[0]
    assert np.abs(moved - moved_true).max() < 0.03  # metres, over a 2.4 m walk
    assert abs(hips[:, 2].mean() - true_hips[:, 2].mean()) < 0.03  # hip height above the floor


def test_rotation_to_z():
    for up in ([0, 0, 1.0], [0, 0.3, 0.95], [1, 0, 0], [0, 0, -1.0]):
        R = _rotation_to_z(np.array(up))
        assert np.allclose(R @ (np.array(up) / np.linalg.norm(up)), [0, 0, 1]) and np.isclose(np.linalg.det(R), 1)
