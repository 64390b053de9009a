"""Flight: jumps and hops leave the floor. Synthetic clips with known motion, seen by a pinhole camera
(image + world landmarks, as MediaPipe gives them), solved onto a rig of other proportions."""
import numpy as np
import pytest
from synthetic import BONE_MAP, landmarks_from_pose, make_rig

from video_mocap.capture.track import PoseTrack
from video_mocap.motion.feet import air_heights, detect_contacts, flight_offset
from video_mocap.motion.root import intrinsics
from video_mocap.retarget.solver import _leg_length, solve

FPS = 30.0
SIZE = (1080, 1920)
FEET = {"L": [27, 29, 31], "R": [28, 30, 32]}  # ankle, heel, toe landmarks per side


def _q(deg):
    a = np.radians(np.asarray(deg, float)) / 2
    return np.stack([np.cos(a), np.sin(a), np.zeros_like(a), np.zeros_like(a)], -1)


def _smooth(x):
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _bend(pose, side, hip_deg, knee_deg, foot_deg=None):
    """Leg flexion (knee forward, foot kept level unless foot_deg); rig rolls are 0: local X = ±world X."""
    pose[f"leg_{side}"] = _q(-np.asarray(hip_deg))
    pose[f"knee_{side}"] = _q(knee_deg)
    pose[f"foot_{side}"] = _q(np.asarray(knee_deg) - np.asarray(hip_deg) if foot_deg is None else foot_deg)


def clip(kind: str):
    """→ (person (T,33,3) world landmarks, metres, floor z = 0; contact truth {'L','R'} (T,) bool).

    jump: stand, crouch, both feet off for 0.4 s with the hips rising 0.5 leg lengths and moving
    0.6 m towards the camera, land, stand up. hop: three hops on the right foot (left leg tucked up).
    walk: legs swinging, travelling towards the camera, the lower foot on the floor and still."""
    rig = make_rig("A", seed=None)
    t = np.arange({"jump": 80, "hop": 72, "walk": 90}[kind])
    T = len(t)
    pose = {}
    lift = np.zeros(T)          # extra height above "lowest foot on the floor"
    path = np.zeros((T, 2))     # horizontal travel of the hips
    leg = 0.92                  # this rig's hip-knee-ankle length
    if kind == "jump":
        crouch = 45 * (_smooth((t - 10) / 8) - _smooth((t - 20) / 6) + _smooth((t - 38) / 4) - _smooth((t - 46) / 10))
        _bend(pose, "l", crouch, 2 * crouch)
        _bend(pose, "r", crouch, 2 * crouch)
        flight = (t >= 26) & (t < 38)  # 12 frames = 0.4 s
        s = (t - 25.5) / 12.5
        lift = np.where(flight, 4 * s * (1 - s), 0.0) * 0.5 * leg
        path[:, 1] = -0.6 * _smooth((t - 24) / 16)
    elif kind == "hop":
        _bend(pose, "l", np.full(T, 40.0), np.full(T, 90.0))
        phase = t % 20
        flight = (phase >= 10) & (t >= 10) & (t < 70)
        crouch = np.where(flight, 0.0, 20 * np.sin(np.pi * phase / 10) * (t >= 10))
        _bend(pose, "r", crouch, 2 * crouch)
        s = (phase - 9.5) / 10.5
        lift = np.where(flight, 4 * s * (1 - s), 0.0) * 0.25
        path[:, 0] = 0.25 * (np.clip(t - 10, 0, 60) // 20 + np.where(flight, _smooth(s), 0.0))
        flight_mask = flight
    else:
        swing = 25 * np.sin(2 * np.pi * t / 30)
        _bend(pose, "l", swing, 30 * np.clip(np.sin(2 * np.pi * t / 30 + 1.0), 0, None))
        _bend(pose, "r", -swing, 30 * np.clip(-np.sin(2 * np.pi * t / 30 + 1.0), 0, None))
    if kind == "jump":
        flight_mask = flight
    P = landmarks_from_pose(rig, pose, T)
    if kind == "walk":  # towards the camera, the hips carried by the lower (stance) foot: it does not slide
        stance = np.where(P[:, 27, 2] < P[:, 28, 2], 0, 1)
        foot_y = np.stack([P[:, FEET["L"], 1].mean(1), P[:, FEET["R"], 1].mean(1)], 1)
        step = foot_y[:-1, stance[1:]].diagonal() - foot_y[1:, stance[1:]].diagonal()
        path[1:, 1] = np.cumsum(step)
    feet_z = P[:, sum(FEET.values(), []), 2]
    P = P - (feet_z.min(1) - lift)[:, None, None] * [0, 0, 1]
    P[..., :2] += path[:, None]
    truth = {}
    for side, idx in FEET.items():
        low = P[:, idx, 2].min(1)
        truth[side] = low < 0.02
    if kind != "walk":
        for side in truth:
            truth[side] &= ~flight_mask
    return P, truth, _leg_length(P).mean(), rig


def track_from(person, tilt_deg=0.0, camera=(0.0, -4.0, 1.2), noise=0.0, world_noise=0.0, seed=0):
    """What a pose model sees of `person` (T,33,3) from a pinhole camera pitched down by tilt_deg;
    noise: pixels of noise on the image landmarks, world_noise: metres on the world landmarks."""
    a = np.radians(tilt_deg)
    pitch = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])
    rel = (person - np.asarray(camera)) @ pitch.T
    cam = np.stack([rel[..., 0], -rel[..., 2], rel[..., 1]], -1)  # x right, y down, z forward
    K = intrinsics(SIZE, 60)
    uvw = cam @ K.T
    image = np.concatenate([uvw[..., :2] / uvw[..., 2:] / np.array(SIZE), np.zeros_like(uvw[..., :1])], -1)
    rng = np.random.default_rng(seed)
    image[..., :2] += rng.normal(0, noise, image[..., :2].shape) / np.array(SIZE)  # noise in pixels
    hip = (cam[:, 23] + cam[:, 24]) / 2
    track = PoseTrack.empty(len(person), FPS, SIZE)
    track.world_landmarks[:] = np.nan_to_num(cam - hip[:, None]) + rng.normal(0, world_noise, cam.shape)
    track.image_landmarks[:] = np.nan_to_num(image)
    track.visibility[:] = np.where(np.isfinite(cam).all(-1), 1.0, 0.0)
    track.detected[:] = True
    return track


def solved(kind, target_scale=1.15, smooth=False, **kw):
    person, truth, leg_person, _ = clip(kind)
    target = make_rig("T", scale=target_scale, seed=4)
    track = track_from(person, **kw)
    if smooth:  # the pipeline's default smoothing (zero-phase, 5 Hz)
        from video_mocap.motion.filters import smooth_track
        track = smooth_track(track)[0]
    solution = solve(track, target, BONE_MAP, root_mode="hips", camera={"fov_deg": 60})
    leg_rig = 0.92 * target_scale
    return solution, person, truth, leg_person, leg_rig, target


def rise(z, standing):
    return z.max() - z[standing].mean()


def rig_feet(solution, target):
    """(T,) per side the lowest foot point of the baked rig, armature space."""
    from video_mocap.retarget.fk import heads_tails, pose_matrices
    ht = heads_tails(target, pose_matrices(target, solution.rotations, solution.frames, solution.root_offset))
    return {side: np.min(np.stack([ht[f"foot_{s}"][0][:, 2], ht[f"toe_{s}"][0][:, 2], ht[f"toe_{s}"][1][:, 2]]), 0)
            for side, s in (("L", "l"), ("R", "r"))}


@pytest.mark.parametrize("tilt", [0.0, 12.0])
def test_forward_jump_rises_like_the_performer(tilt):
    solution, person, truth, leg_person, leg_rig, target = solved("jump", tilt_deg=tilt)
    hips = (person[:, 23, 2] + person[:, 24, 2]) / 2
    standing = np.arange(8)
    true_rise = rise(hips, standing) / leg_person
    baked = rise(solution.root_offset[:, 2], standing) / leg_rig
    assert 0.4 < true_rise < 0.6
    assert abs(baked - true_rise) < 0.25 * true_rise, (baked, true_rise)
    # No foot is planted in the air; the feet are planted before and after.
    flight = ~truth["L"] & ~truth["R"]
    for side in ("L", "R"):
        assert not (solution.contacts[side] & flight).any()
        assert solution.contacts[side][:8].all() and solution.contacts[side][-8:].all()
    # Planted feet on the floor.
    feet = rig_feet(solution, target)
    floor = feet["L"][0]
    for side in ("L", "R"):
        c = solution.contacts[side]
        assert np.abs(feet[side][c] - floor).max() < 0.03 * leg_rig
    # Take-off and landing: the root's vertical step stays within the performer's own (scaled).
    true_step = np.abs(np.diff(hips)).max() / leg_person
    assert np.abs(np.diff(solution.root_offset[:, 2])).max() / leg_rig < 1.3 * true_step


def test_hops_on_one_foot():
    solution, person, truth, leg_person, leg_rig, target = solved("hop")
    hips = (person[:, 23, 2] + person[:, 24, 2]) / 2
    standing = np.arange(6)
    true_rise = rise(hips, standing) / leg_person
    baked = rise(solution.root_offset[:, 2], standing) / leg_rig
    assert abs(baked - true_rise) < 0.25 * true_rise, (baked, true_rise)
    flight = ~truth["R"]
    assert not (solution.contacts["R"] & flight).any()
    assert not solution.contacts["L"].any()  # the tucked leg never touches
    assert (solution.contacts["R"] == truth["R"]).mean() > 0.85
    # Each hop's peak is found, not only the first.
    peaks = [solution.root_offset[a:a + 10, 2].max() for a in (20, 40, 60)]
    assert np.ptp(peaks) < 0.05 * leg_rig


def test_walk_stays_on_the_floor_and_does_not_skate_more():
    solution, person, truth, leg_person, leg_rig, target = solved("walk", tilt_deg=8.0, noise=1.0)
    feet = rig_feet(solution, target)
    lowest = np.minimum(feet["L"], feet["R"])
    floor = np.median(lowest)
    assert np.abs(lowest - floor).max() < 0.03 * leg_rig  # always a foot on the floor, none below
    assert solution.foot_skate["after"] <= solution.foot_skate["before"]
    for side in ("L", "R"):
        assert (solution.contacts[side] == truth[side]).mean() > 0.7


def test_contacts_ignore_a_foot_in_the_air_even_when_still():
    """A vertical jump in place: no horizontal speed, so only the camera height tells it is in the air."""
    T = 40
    foot = np.zeros((T, 3))
    air = np.where((np.arange(T) >= 15) & (np.arange(T) < 27), 0.3, 0.0)
    assert detect_contacts(foot, 30.0).all()
    planted = detect_contacts(foot, 30.0, air=air)
    assert not planted[15:27].any() and planted[:14].all() and planted[28:].all()


def test_flight_offset_joins_contacts_without_steps():
    T = 60
    t = np.arange(T)
    flight = (t >= 20) & (t < 35)
    s = (t - 19.5) / 15.5
    true_lift = np.where(flight, 4 * s * (1 - s) * 0.4, 0.0)
    ground = 0.02 * np.sin(t / 5)                      # lowest foot on the floor: pose only
    camera = ground + true_lift + 0.1 + 0.002 * t      # camera: biased and drifting
    air = air_heights({"L": -ground}, ground, camera, 0.0, 30.0)["L"]
    grounded = ~flight
    out = flight_offset(ground, camera, grounded, air, 0.1)
    assert np.allclose(out[grounded], ground[grounded])
    assert abs((out - ground).max() - 0.4) < 0.03
    assert np.abs(np.diff(out)).max() < np.abs(np.diff(ground + true_lift)).max() + 0.01


@pytest.mark.parametrize("kind", ["jump", "hop"])
def test_noisy_smoothed_clips_still_leave_the_floor(kind):
    """Pixel and depth noise, a tilted camera, the pipeline's smoothing: the rise stays within 25 %."""
    solution, person, truth, leg_person, leg_rig, target = solved(kind, smooth=True, noise=3.0, world_noise=0.015,
                                                                  tilt_deg=10.0)
    hips = (person[:, 23, 2] + person[:, 24, 2]) / 2
    true_rise = rise(hips, np.arange(6)) / leg_person
    baked = rise(solution.root_offset[:, 2], np.arange(6)) / leg_rig
    assert abs(baked - true_rise) < 0.25 * true_rise, (baked, true_rise)
    flight = ~truth["L"] & ~truth["R"]
    assert not any((c & flight).any() for c in solution.contacts.values())


def test_a_foot_rocking_heel_to_toe_does_not_move_the_standing_body():
    """Standing in place, the left foot rocks from heel to toe and back (±25°, both feet planted all along):
    its lowest point changes from heel to toe and back. The foot lock holds each foot's mean point, so the
    body stays where it stands; holding the lowest point, the lock moved it by the heel-to-toe distance."""
    rig = make_rig("A", seed=None)
    T = 90
    rock = 25 * np.sin(2 * np.pi * np.arange(T) / 45)
    pose = {}
    _bend(pose, "l", np.zeros(T), np.zeros(T), foot_deg=rock)
    _bend(pose, "r", np.zeros(T), np.zeros(T))
    P = landmarks_from_pose(rig, pose, T)
    P = P - P[:, sum(FEET.values(), []), 2].min(1)[:, None, None] * [0, 0, 1]
    lowest = np.argmin(P[:, FEET["L"], 2], axis=1)
    assert len(set(lowest[np.abs(rock) > 10])) == 2  # the heel, then the toe, is the lowest point
    target = make_rig("T", scale=1.15, seed=4)
    solution = solve(track_from(P), target, BONE_MAP, root_mode="hips", camera={"fov_deg": 60})
    assert solution.contacts["L"].mean() > 0.9 and solution.contacts["R"].mean() > 0.9
    travel = solution.root_offset[:, :2] - solution.root_offset[0, :2]
    assert np.linalg.norm(travel, axis=1).max() < 0.02 * 0.92 * 1.15
