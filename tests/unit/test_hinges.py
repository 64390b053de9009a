"""Knees bend one way (motion/hinges.py): a knee put behind the hip–ankle line moves along its camera ray
back to the front, keeping the thigh and shin lengths; knees bent forward are left exactly as they were.
Feet point forward: a toe put behind the ankle (seen from behind, on the camera's side) is turned round on its
ray with its heel; feet pointing forward or turned out are left exactly as they were."""
import numpy as np

from video_mocap.motion.hinges import (
    FOOT_BACK,
    TOLERANCE,
    forward_direction,
    knee_bend,
    point_feet_forward,
    unbend_knees,
)

ROWS = {"left_shoulder": 0, "right_shoulder": 1, "left_hip": 2, "right_hip": 3, "left_knee": 4,
        "right_knee": 5, "left_ankle": 6, "right_ankle": 7}


def _walker(T=60, seed=0, distance=4.0):
    """A person facing the camera (camera axes: x right, y down, z away), knees bent forward by a varying
    angle. → (points (T,8,3), thigh, shin)."""
    rng = np.random.default_rng(seed)
    thigh, shin = 0.42, 0.40
    P = np.zeros((T, 8, 3))
    t = np.arange(T)
    for side, x in (("left", 0.1), ("right", -0.1)):  # the person's left is the image's right (+x)
        hip = np.stack([np.full(T, x), np.zeros(T), np.full(T, distance)], -1)
        flex = np.radians(20 + 25 * (1 + np.sin(t / 6 + (side == "left") * 2)) / 2)  # knee flexion 20–45°
        swing = np.radians(10 * np.sin(t / 6)) + rng.normal(0, 0.02, T)
        # thigh forward (towards the camera, −z) by swing, shin back by flex − swing
        knee = hip + thigh * np.stack([np.zeros(T), np.cos(swing), -np.sin(swing)], -1)
        ankle = knee + shin * np.stack([np.zeros(T), np.cos(flex - swing), np.sin(flex - swing)], -1)
        P[:, ROWS[f"{side}_hip"]], P[:, ROWS[f"{side}_knee"]], P[:, ROWS[f"{side}_ankle"]] = hip, knee, ankle
    P[:, ROWS["left_shoulder"]] = P[:, ROWS["left_hip"]] + [0.08, -0.5, 0]
    P[:, ROWS["right_shoulder"]] = P[:, ROWS["right_hip"]] + [-0.08, -0.5, 0]
    return P, thigh, shin


def _rays(P):
    return P / np.linalg.norm(P, axis=-1, keepdims=True)


def _knee_bent_backwards(P, k, h, a):
    """Move knee row k along its ray until its bend is the opposite of the true one (the detector's wrong
    depth sign): the bend is linear along the ray."""
    out = P.copy()
    F = forward_direction(P, ROWS)
    u = _rays(P)[:, k]
    bend = knee_bend(P[:, h], P[:, k], P[:, a], F)
    per_metre = knee_bend(P[:, h], P[:, k] + u, P[:, a], F) - bend
    out[:, k] = P[:, k] + (-2 * bend / per_metre)[:, None] * u
    return out


def test_the_walker_faces_the_camera_and_bends_its_knees_forward():
    P, _, _ = _walker()
    F = forward_direction(P, ROWS)
    assert np.all(F[:, 2] < -0.9)  # towards the camera
    for s in ("left", "right"):
        bend = knee_bend(P[:, ROWS[f"{s}_hip"]], P[:, ROWS[f"{s}_knee"]], P[:, ROWS[f"{s}_ankle"]], F)
        assert np.all(bend > 0.03)


def test_knees_bent_forward_are_left_exactly_as_they_were():
    P, thigh, shin = _walker()
    out, fixed = unbend_knees(P, _rays(P), thigh, shin, ROWS)
    assert fixed == [0, 0]
    assert np.array_equal(out, P)


def test_a_knee_put_behind_the_leg_goes_back_in_front_on_its_ray():
    P, thigh, shin = _walker(seed=1)
    k, h, a = ROWS["left_knee"], ROWS["left_hip"], ROWS["left_ankle"]
    wrong = _knee_bent_backwards(P, k, h, a)
    F = forward_direction(P, ROWS)
    bent_back = knee_bend(wrong[:, h], wrong[:, k], wrong[:, a], F) < -TOLERANCE
    assert bent_back.all()  # the fixture really has backward knees
    out, fixed = unbend_knees(wrong, _rays(wrong), thigh, shin, ROWS)
    assert fixed == [int(bent_back.sum()), 0]
    # on its ray: the image position is unchanged
    assert np.linalg.norm(np.cross(_rays(out)[:, k], _rays(P)[:, k]), axis=-1).max() < 1e-9
    # forward again, near the truth, lengths kept
    assert np.all(knee_bend(out[:, h], out[:, k], out[:, a], F) >= -TOLERANCE - 1e-9)
    assert np.abs(out[bent_back, k] - P[bent_back, k]).max() < 0.03
    assert np.abs(np.linalg.norm(out[:, k] - out[:, h], axis=-1) - thigh).max() < 0.02
    # the rest of the body untouched
    others = [r for r in range(P.shape[1]) if r != k]
    assert np.array_equal(out[:, others], wrong[:, others])


def test_unknown_lengths_or_missing_frames_change_nothing():
    P, thigh, shin = _walker(seed=2)
    wrong = _knee_bent_backwards(P, ROWS["right_knee"], ROWS["right_hip"], ROWS["right_ankle"])
    out, fixed = unbend_knees(wrong, _rays(wrong), float("nan"), shin, ROWS)
    assert fixed == [0, 0] and np.array_equal(out, wrong)
    usable = np.zeros(len(P), bool)
    out, fixed = unbend_knees(wrong, _rays(wrong), thigh, shin, ROWS, usable)
    assert fixed == [0, 0] and np.array_equal(out, wrong)
    nan = wrong.copy()
    nan[::3] = np.nan
    out, fixed = unbend_knees(nan, _rays(nan), thigh, shin, ROWS)
    assert np.isnan(out[::3]).all() and fixed[1] > 0


FEET_ROWS = dict(ROWS, left_heel=8, right_heel=9, left_foot_index=10, right_foot_index=11)


def _walker_with_feet(facing_away: bool, turn_out_deg: float = 15.0, T: int = 60):
    """_walker with heels and toes: the toe 0.17 m ahead of the ankle (turned out by turn_out_deg) and
    0.05 m down, the heel 0.06 m behind and 0.05 m down. facing_away: the person turned round (180° about
    the vertical through the hips' middle), back to the camera. → points (T,12,3)."""
    P, _, _ = _walker(T)
    F = forward_direction(P, ROWS)
    feet = np.zeros((T, 4, 3))
    for k, (side, sign) in enumerate((("left", 1.0), ("right", -1.0))):
        a = np.radians(turn_out_deg) * sign  # the person's left foot turns to its left (+x here)
        ahead = np.cos(a) * F + np.sin(a) * np.array([1.0, 0.0, 0.0])
        ankle = P[:, ROWS[f"{side}_ankle"]]
        feet[:, k] = ankle - 0.06 * ahead + [0, 0.05, 0]          # heel
        feet[:, 2 + k] = ankle + 0.17 * ahead + [0, 0.05, 0]      # toe
    P = np.concatenate([P, feet], 1)
    if facing_away:
        centre = P[:, [ROWS["left_hip"], ROWS["right_hip"]]].mean(1, keepdims=True)
        P = (P - centre) * [-1, 1, -1] + centre
    return P


def _foot_turned_round(P, rows, side):
    """The detector's mistake: the toe and the heel on the other depth side of the ankle along their rays."""
    out = P.copy()
    ankle = P[:, rows[f"{side}_ankle"]]
    for name in ("foot_index", "heel"):
        r = _rays(P)[:, rows[f"{side}_{name}"]]
        s_now, s_ankle = np.sum(P[:, rows[f"{side}_{name}"]] * r, -1), np.sum(ankle * r, -1)
        out[:, rows[f"{side}_{name}"]] += (2 * (s_ankle - s_now))[:, None] * r
    return out


def test_feet_pointing_forward_or_turned_out_are_left_exactly_as_they_were():
    for away in (False, True):
        for turn_out in (0.0, 30.0, 80.0):
            P = _walker_with_feet(away, turn_out)
            out, turned = point_feet_forward(P, _rays(P), FEET_ROWS)
            assert turned == [0, 0]
            assert np.array_equal(out, P)


def test_a_foot_seen_from_behind_pointing_at_the_camera_is_turned_round_on_its_ray():
    P = _walker_with_feet(facing_away=True)
    assert np.all(forward_direction(P, FEET_ROWS)[:, 2] > 0.9)  # back to the camera
    wrong = _foot_turned_round(P, FEET_ROWS, "left")
    a, t, h = FEET_ROWS["left_ankle"], FEET_ROWS["left_foot_index"], FEET_ROWS["left_heel"]
    F = forward_direction(wrong, FEET_ROWS)
    toe = wrong[:, t] - wrong[:, a]
    assert np.all(np.sum(toe * F, -1) < -FOOT_BACK * np.linalg.norm(toe, axis=-1))  # really backwards
    out, turned = point_feet_forward(wrong, _rays(wrong), FEET_ROWS)
    assert turned == [len(P), 0]
    np.testing.assert_allclose(out[:, [t, h]], P[:, [t, h]], atol=1e-9)  # the truth back
    # on their rays (the image unchanged), at their distance from the ankle
    for row in (t, h):
        assert np.linalg.norm(np.cross(_rays(out)[:, row], _rays(wrong)[:, row]), axis=-1).max() < 1e-9
        np.testing.assert_allclose(np.linalg.norm(out[:, row] - out[:, a], axis=-1),
                                   np.linalg.norm(wrong[:, row] - wrong[:, a], axis=-1), atol=1e-9)
    others = [r for r in range(P.shape[1]) if r not in (t, h)]
    assert np.array_equal(out[:, others], wrong[:, others])


def test_feet_in_unusable_or_missing_frames_are_not_touched():
    P = _walker_with_feet(facing_away=True)
    wrong = _foot_turned_round(P, FEET_ROWS, "right")
    usable = np.arange(len(P)) % 2 == 0
    out, turned = point_feet_forward(wrong, _rays(wrong), FEET_ROWS, usable)
    assert turned == [0, int(usable.sum())]
    assert np.array_equal(out[~usable], wrong[~usable])
    nan = wrong.copy()
    nan[::3] = np.nan
    out, turned = point_feet_forward(nan, _rays(nan), FEET_ROWS)
    assert np.isnan(out[::3]).all() and turned[1] == len(P) - len(P[::3])


def test_a_kneeling_performers_feet_lying_backwards_are_left_as_they_are():
    """Kneeling (seiza), back to the camera: the shins lie on the floor behind the knees and the feet, toes
    pointing back, continue them. Feet pointing backwards, but not turned round: the shin is not upright."""
    P = _walker_with_feet(facing_away=True)
    F = forward_direction(P, FEET_ROWS)
    down = np.array([0.0, 1.0, 0.0])  # camera axes: y down
    for side in ("left", "right"):
        hip = P[:, FEET_ROWS[f"{side}_hip"]]
        knee = hip + 0.42 * down
        ankle = knee - 0.40 * F
        P[:, FEET_ROWS[f"{side}_knee"]], P[:, FEET_ROWS[f"{side}_ankle"]] = knee, ankle
        P[:, FEET_ROWS[f"{side}_foot_index"]] = ankle - 0.17 * F
        P[:, FEET_ROWS[f"{side}_heel"]] = ankle - 0.05 * down
    toe = P[:, FEET_ROWS["left_foot_index"]] - P[:, FEET_ROWS["left_ankle"]]
    assert np.all(np.sum(toe * F, -1) < -FOOT_BACK * np.linalg.norm(toe, axis=-1))  # backwards indeed
    out, turned = point_feet_forward(P, _rays(P), FEET_ROWS)
    assert turned == [0, 0]
    assert np.array_equal(out, P)
