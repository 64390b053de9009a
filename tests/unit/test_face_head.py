"""Issue 17 #3: the head takes the face's orientation (motion/face.head_rotation) in the body solve,
eased back to the body's head where the face is missing."""
import numpy as np
import synthetic_face as SF
from synthetic import BONE_MAP, make_rig

from video_mocap.capture.track import PoseTrack
from video_mocap.retarget.body import rest_landmarks
from video_mocap.retarget.rotations import rotation_angle
from video_mocap.retarget.solver import MEDIAPIPE_TO_BLENDER, face_head_frames, solve

SIZE = (640, 480)
FLIP = np.diag([1.0, -1.0, -1.0])


def _track(rig, rotations, present=None):
    """A still body (the rig's rest pose) with a face turned by `rotations` (canonical axes, per frame)."""
    T = len(rotations)
    P = rest_landmarks(rig, BONE_MAP)
    mp = np.stack([P[..., 0], -P[..., 2], P[..., 1]], axis=-1)  # Blender → MediaPipe axes
    track = PoseTrack.empty(T, 30.0, SIZE, face=True)
    track.world_landmarks[:] = mp
    track.image_landmarks[:] = 0.5
    track.visibility[:] = track.presence[:] = 1.0
    track.detected[:] = True
    verts = SF.face()
    present = np.ones(T, bool) if present is None else present
    for t, rot in enumerate(rotations):
        if present[t]:
            track.face_landmarks[t] = SF.project(verts, rot, SIZE)
            track.face_presence[t] = 1.0
    return track


def _expected(rot, rig):
    """The rig's head orientation (armature space) for a face turned by rot: the turn in Blender axes,
    applied to the rest head (which faces -Y, up the head bone)."""
    turn = MEDIAPIPE_TO_BLENDER @ FLIP @ rot @ FLIP @ MEDIAPIPE_TO_BLENDER.T
    return turn @ rig.bones["head"].rotation


def test_head_bone_follows_a_known_head_rotation():
    rig = make_rig("T")
    angles = np.linspace(0, 1, 40)
    rotations = [SF.rotation(35 * np.sin(3 * a), 20 * np.sin(2 * a + 1) - 5, 15 * np.cos(4 * a)) for a in angles]
    solution = solve(_track(rig, rotations), rig, BONE_MAP, root_mode="in_place", level=False)
    world = solution.world_rotations["head"]
    errors = [rotation_angle(world[t] @ _expected(r, rig).T) for t, r in enumerate(rotations)]
    assert max(errors) < 2.0, max(errors)
    # the body alone (ears and nose still) would not turn the head at all
    still = solve(_track(rig, rotations), rig, BONE_MAP, root_mode="in_place", level=False, face=False)
    assert rotation_angle(still.world_rotations["head"][10] @ rig.bones["head"].rotation.T) < 1.0


def test_head_eases_back_to_the_body_without_a_face():
    rig = make_rig("T")
    T = 60
    rotations = [SF.rotation(40, 10, 0)] * T
    present = np.zeros(T, bool)
    present[20:40] = True
    solution = solve(_track(rig, rotations, present), rig, BONE_MAP, root_mode="in_place", level=False)
    world = solution.world_rotations["head"]
    body = rig.bones["head"].rotation
    steps = [rotation_angle(world[t + 1] @ world[t].T) for t in range(T - 1)]
    assert max(steps) < 8.0, max(steps)                      # no snap: 41° spread over the fade
    assert rotation_angle(world[30] @ _expected(rotations[30], rig).T) < 2.0
    assert rotation_angle(world[0] @ body.T) < 0.5 and rotation_angle(world[-1] @ body.T) < 0.5
    assert np.isfinite(np.concatenate(list(solution.rotations.values()))).all()


def test_face_head_frames_axes_and_levelling():
    rig = make_rig("T")
    track = _track(rig, [np.eye(3)] * 5, np.array([True, True, False, True, True]))
    frames = face_head_frames(track)
    assert np.isnan(frames[2]).all()
    # looking into the camera: left +X, up +Z, forward -Y (Blender's front)
    np.testing.assert_allclose(frames[0], [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=0.02)
    level = SF.rotation(0, 12, 0)
    np.testing.assert_allclose(face_head_frames(track, level)[[0, 1, 3, 4]], level @ frames[[0, 1, 3, 4]], atol=1e-9)
