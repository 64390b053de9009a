"""Foreshortened limbs get their depth back (motion/lift.py): a limb joint the fit left nearly level with
its parent, though the image leaves its segment a lot of depth, goes on its camera ray to the segment's
length, on the side the detector's depth order says over the whole run, unless that order is weak and its
side would hold an upper arm or thigh far behind the body (the body's reach); limbs across the view, frames
not usable, and joints that already have their depth are left exactly as they were."""
import numpy as np
import pytest

from video_mocap.motion.lift import CHAINS, LIFT_MIN, keep_sides, lift_limbs, run_vote

NAMES = sorted({n for p, c, _, below in CHAINS for n in (p, c, *below)})
ROWS = {n: i for i, n in enumerate(NAMES)}
LENGTHS = {"upper_arm": 0.29, "forearm": 0.26, "thigh": 0.44, "shin": 0.42}


def _body(T=40, distance=4.0):
    """Arms and legs hanging straight down, facing the camera (camera axes: x right, y down, z away)."""
    P = np.zeros((T, len(NAMES), 3))
    for side, x in (("left", 1.0), ("right", -1.0)):
        def put(name, xyz, side=side):
            P[:, ROWS[f"{side}_{name}"]] = xyz
        put("shoulder", [0.18 * x, -0.5, distance])
        put("elbow", [0.18 * x, -0.5 + 0.29, distance])
        put("wrist", [0.18 * x, -0.5 + 0.55, distance])
        for k, n in enumerate(("index", "pinky", "thumb")):
            put(n, [0.18 * x + 0.01 * k, 0.13, distance])
        put("hip", [0.11 * x, 0.0, distance])
        put("knee", [0.11 * x, 0.44, distance])
        put("ankle", [0.11 * x, 0.86, distance])
        put("heel", [0.11 * x, 0.9, distance + 0.05])
        put("foot_index", [0.11 * x, 0.92, distance - 0.15])
    return P


def _rays(P):
    return P / np.linalg.norm(P, axis=-1, keepdims=True)


ARM = ("elbow", "wrist", "index", "pinky", "thumb")
LEG = ("knee", "ankle", "heel", "foot_index")


def _held(P, side, root, parts, angle_deg, frames=slice(None)):
    """The limb from `root` (`parts`: all below it) turned by angle about the root's x axis on those frames:
    + towards the camera (−z), which is in front of this body (it faces the camera)."""
    out = P.copy()
    a = np.radians(angle_deg)
    R = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])
    base = out[frames, ROWS[f"{side}_{root}"]]
    for name in parts:
        r = ROWS[f"{side}_{name}"]
        out[frames, r] = (out[frames, r] - base) @ R.T + base
    return out


def _thigh_pointing(P, side, angle_deg, frames):
    """The thigh (and all below it) turned by angle about the hip's x axis: + towards the camera (−z)."""
    return _held(P, side, "hip", LEG, angle_deg, frames)


def _level(truth, side, root, parts):
    """The fit the lift gets: every point on its true ray, but the limb's first joint pulled back to its
    root's depth and what hangs below it shifted in depth with it (the foreshortened limb comes out level)."""
    out = truth.copy()
    rays = _rays(truth)
    dz = truth[:, ROWS[f"{side}_{root}"], 2] - truth[:, ROWS[f"{side}_{parts[0]}"], 2]
    for name in parts:
        r = ROWS[f"{side}_{name}"]
        out[:, r] = rays[:, r] * ((truth[:, r, 2] + dz) / rays[:, r, 2])[:, None]
    return out


def _flattened(truth, knee):
    """_level for a thigh: the knee pulled back to its hip's depth."""
    return _level(truth, knee.split("_")[0], "hip", LEG)


def test_run_vote_sums_each_run():
    v = np.array([1.0, -3.0, 5.0, 2.0, 2.0, -1.0, 7.0])
    m = np.array([True, True, False, True, True, True, False])
    np.testing.assert_allclose(run_vote(v, m), [-2, -2, 0, 3, 3, 3, 0])


def test_a_squat_thigh_gets_its_depth_back_on_the_detectors_side():
    T = 40
    truth = _thigh_pointing(_body(T), "left", 50, slice(10, 30))     # thigh 50° towards the camera
    fit = _flattened(truth, "left_knee")                             # knee level with the hip
    # the detector's own depth order: right on 14 of the 20 frames (sums to "nearer the camera")
    ref = truth.copy()
    ref[10:16, ROWS["left_knee"], 2] = truth[10:16, ROWS["left_hip"], 2] + 0.1
    usable = np.ones(T, bool)
    out, moved, _, _ = lift_limbs(fit, _rays(truth), LENGTHS, ref, usable, ROWS)
    k = ROWS["left_knee"]
    for name in ("knee", "ankle", "heel", "foot_index"):                  # back where it was, every frame
        r = ROWS[f"left_{name}"]
        np.testing.assert_allclose(out[10:30, r], truth[10:30, r], atol=1e-6)
    assert moved >= 20
    # the knee stays on its ray (the image is kept)
    np.testing.assert_allclose(_rays(out)[:, k], _rays(truth)[:, k], atol=1e-9)
    # the frames where the leg hangs down are not touched, nor the other leg
    np.testing.assert_array_equal(out[:10], fit[:10])
    np.testing.assert_array_equal(out[30:], fit[30:])
    right = [ROWS[f"right_{n}"] for n in ("hip", "knee", "ankle")]
    np.testing.assert_array_equal(out[:, right], fit[:, right])


def test_what_hangs_below_moves_in_depth_with_the_joint_on_its_own_ray():
    T = 20
    truth = _thigh_pointing(_body(T), "right", 50, slice(0, T))
    fit = _flattened(truth, "right_knee")
    out, _, _, _ = lift_limbs(fit, _rays(truth), LENGTHS, truth, np.ones(T, bool), ROWS)
    dz = out[:, ROWS["right_knee"], 2] - fit[:, ROWS["right_knee"], 2]
    assert (dz < -0.2).all()                                           # towards the camera
    for name in ("ankle", "heel", "foot_index"):
        r = ROWS[f"right_{name}"]
        np.testing.assert_allclose(out[:, r, 2] - fit[:, r, 2], dz, atol=1e-9)
        np.testing.assert_allclose(_rays(out)[:, r], _rays(fit)[:, r], atol=1e-9)


def test_the_side_is_the_detectors_when_it_points_away():
    T = 20
    truth = _thigh_pointing(_body(T), "left", -50, slice(0, T))        # thigh 50° away from the camera
    fit = _flattened(truth, "left_knee")
    out, _, _, _ = lift_limbs(fit, _rays(truth), LENGTHS, truth, np.ones(T, bool), ROWS)
    np.testing.assert_allclose(out[:, ROWS["left_knee"]], truth[:, ROWS["left_knee"]], atol=1e-6)
    np.testing.assert_allclose(out[:, ROWS["left_ankle"]], truth[:, ROWS["left_ankle"]], atol=1e-6)


def test_limbs_across_the_view_unusable_frames_and_deep_fits_are_left_alone():
    T = 30
    body = _body(T)
    # across the view: a limb at 10° out of the image plane leaves less than LIFT_MIN of its length
    tilted = _thigh_pointing(body, "left", 10, slice(0, T))
    assert np.sin(np.radians(10)) < LIFT_MIN
    fit = _flattened(tilted, "left_knee")
    out, moved, _, _ = lift_limbs(fit, _rays(tilted), LENGTHS, tilted, np.ones(T, bool), ROWS)
    np.testing.assert_array_equal(out, fit)
    assert moved == 0
    # a deep limb on frames not usable
    deep = _thigh_pointing(body, "left", 50, slice(0, T))
    fit = _flattened(deep, "left_knee")
    out, moved, _, _ = lift_limbs(fit, _rays(deep), LENGTHS, deep, np.zeros(T, bool), ROWS)
    np.testing.assert_array_equal(out, fit)
    # a fit that already has at least the depth the length leaves is kept
    out, moved, _, _ = lift_limbs(deep, _rays(deep), LENGTHS, deep, np.ones(T, bool), ROWS)
    np.testing.assert_allclose(out, deep, atol=1e-9)


def test_unknown_lengths_change_nothing():
    T = 10
    truth = _thigh_pointing(_body(T), "left", 50, slice(0, T))
    fit = _flattened(truth, "left_knee")
    out, moved, _, _ = lift_limbs(fit, _rays(truth), {"thigh": float("nan")}, truth, np.ones(T, bool), ROWS)
    np.testing.assert_array_equal(out, fit)
    assert moved == 0


def _mirrored(fit, joint, below=()):
    """The fit with `joint` taken along its ray to the other side of the ray's closest approach to its
    parent (what an overshooting pass does), what hangs below shifted in depth with it."""
    parent = next(p for p, c, _, _ in CHAINS if c == joint)
    rays = _rays(fit)
    out = fit.copy()
    r = rays[:, ROWS[joint]]
    s = np.sum(r * fit[:, ROWS[joint]], -1)
    closest = np.sum(r * fit[:, ROWS[parent]], -1)
    s_new = 2 * closest - s
    dz = (s_new - s) * r[:, 2]
    out[:, ROWS[joint]] = s_new[:, None] * r
    for name in below:
        q = ROWS[name]
        out[:, q] = rays[:, q] * ((fit[:, q, 2] + dz) / rays[:, q, 2])[:, None]
    return out


def test_a_pass_that_carries_a_knee_to_the_other_side_is_undone():
    T = 12
    before = _thigh_pointing(_body(T), "right", 20, slice(0, T))     # the thigh 20° towards the camera
    below = ("right_ankle", "right_heel", "right_foot_index")
    after = _mirrored(before, "right_knee", below)
    assert (after[:, ROWS["right_knee"], 2] > before[:, ROWS["right_hip"], 2]).all()   # now away from it
    out, n = keep_sides(before, after, _rays(before), ROWS, np.ones(T, bool))
    assert n == T
    np.testing.assert_allclose(out, before, atol=1e-9)    # same length, same rays, its side again


def test_a_pass_that_keeps_the_side_or_an_unusable_frame_is_left_alone():
    T = 12
    before = _thigh_pointing(_body(T), "left", 20, slice(0, T))
    after = _thigh_pointing(_body(T), "left", 35, slice(0, T))      # deeper, the same side
    out, n = keep_sides(before, after, _rays(after), ROWS, np.ones(T, bool))
    assert n == 0 and np.array_equal(out, after)
    flipped = _mirrored(before, "left_knee")
    usable = np.ones(T, bool)
    usable[:4] = False
    out, n = keep_sides(before, flipped, _rays(flipped), ROWS, usable)
    assert n == T - 4
    np.testing.assert_array_equal(out[:4], flipped[:4])
    np.testing.assert_allclose(out[4:, ROWS["left_knee"]], before[4:, ROWS["left_knee"]], atol=1e-9)


def _order(truth, side, root, joint, behind_by):
    """The detector's shape: the truth, with `joint` put `behind_by` metres farther than its root."""
    ref = truth.copy()
    ref[:, ROWS[f"{side}_{joint}"], 2] = truth[:, ROWS[f"{side}_{root}"], 2] + behind_by
    return ref


@pytest.mark.parametrize("root,parts", [("shoulder", ARM), ("hip", LEG)])
def test_a_weak_order_does_not_hold_a_limb_far_behind_the_body(root, parts):
    """The detector sees the limb nearly level with its root (1 cm farther), the image says it points 50° in
    or out of the view: its side would hold it 50° behind the body, which shoulders and hips hardly reach;
    the other side, 50° in front, is taken, and said in the count."""
    T = 20
    truth = _held(_body(T), "left", root, parts, 50)
    fit = _level(truth, "left", root, parts)
    ref = _order(truth, "left", root, parts[0], 0.01)
    out, moved, reached, _ = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    assert reached == T and moved >= T
    for name in parts:
        np.testing.assert_allclose(out[:, ROWS[f"left_{name}"]], truth[:, ROWS[f"left_{name}"]], atol=1e-6)
    # without the reach the detector's side is taken: the limb goes behind the body
    out, _, reached, _ = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS, reach=False)
    assert reached == 0
    assert (out[:, ROWS[f"left_{parts[0]}"], 2] > truth[:, ROWS[f"left_{root}"], 2] + 0.15).all()


def test_a_strong_order_and_a_limb_within_reach_keep_the_detectors_side():
    T = 20
    truth = _held(_body(T), "left", "shoulder", ARM, 50)
    fit = _level(truth, "left", "shoulder", ARM)
    # the detector is sure (15 cm, half the upper arm) the elbow is behind: never overruled
    ref = _order(truth, "left", "shoulder", "elbow", 0.15)
    out, _, reached, _ = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    assert reached == 0
    assert (out[:, ROWS["left_elbow"], 2] > truth[:, ROWS["left_shoulder"], 2] + 0.15).all()
    # an arm held 25° behind the body, the detector unsure but right: both sides are within reach
    truth = _held(_body(T), "left", "shoulder", ARM, -25)
    fit = _level(truth, "left", "shoulder", ARM)
    ref = _order(truth, "left", "shoulder", "elbow", 0.01)
    out, moved, reached, _ = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    assert reached == 0 and moved >= T
    np.testing.assert_allclose(out[:, ROWS["left_elbow"]], truth[:, ROWS["left_elbow"]], atol=1e-6)


def _swinging_arm(T=80, period=40, amplitude=40.0):
    """The left arm swinging in and out of the view like a walk's: angle(t) = amplitude·sin(2πt/period),
    + towards the camera (in front of this body)."""
    P = _body(T)
    for t in range(T):
        P[t:t + 1] = _held(P[t:t + 1], "left", "shoulder", ARM, amplitude * np.sin(2 * np.pi * t / period))
    return P


def _compressed_order(truth, offset, gain):
    """The detector's shape as seen on walks toward the camera: the elbow's depth behind the shoulder is
    `offset` metres plus only `gain` of the true depth difference (it hardly moves)."""
    ref = truth.copy()
    s, e = ROWS["left_shoulder"], ROWS["left_elbow"]
    ref[:, e, 2] = truth[:, s, 2] + offset + gain * (truth[:, e, 2] - truth[:, s, 2])
    return ref


def test_a_compressed_order_is_read_against_its_offset():
    """The detector puts a swinging arm's elbow 6 cm behind the shoulder on every frame, give or take a tenth
    of the true swing: its order says "behind" on every run, so the arm swinging toward the camera would be
    lifted behind the body. Its order where the image shows the arm across the view (hanging down) is that
    offset: against it, the runs take their true sides."""
    truth = _swinging_arm()
    T = len(truth)
    fit = _level(truth, "left", "shoulder", ARM)
    ref = _compressed_order(truth, 0.06, 0.1)
    rel = truth[:, ROWS["left_elbow"], 2] - truth[:, ROWS["left_shoulder"], 2]
    out, moved, _, compressed = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    assert compressed == ["left_elbow"]
    lifted = np.abs(out[:, ROWS["left_elbow"], 2] - fit[:, ROWS["left_elbow"], 2]) > 1e-9
    assert moved >= lifted.sum() > 20 and (rel[lifted] < 0).sum() > 10 and (rel[lifted] > 0).sum() > 10
    for name in ARM:  # every lifted frame, toward the camera or away, lands where the arm was
        r = ROWS[f"left_{name}"]
        np.testing.assert_allclose(out[lifted, r], truth[lifted, r], atol=1e-6)
    # read as it comes, the offset wins every run: the forward swings go behind the body
    import video_mocap.motion.lift as lift
    old, lift.COMPRESSED = lift.COMPRESSED, 0.0
    try:
        out, _, _, compressed = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    finally:
        lift.COMPRESSED = old
    assert compressed == []
    assert (out[lifted, ROWS["left_elbow"], 2] > truth[lifted, ROWS["left_shoulder"], 2]).all()


def test_an_order_that_follows_the_limb_or_a_still_limb_is_read_as_it_comes():
    """Only a compressed order is offset: one that swings with the arm (the Pose2Sim clips' kind), or any order
    of a limb the image shows still, is not."""
    truth = _swinging_arm()
    T = len(truth)
    fit = _level(truth, "left", "shoulder", ARM)
    ref = _compressed_order(truth, 0.06, 0.8)
    out, _, _, compressed = lift_limbs(fit, _rays(truth), LENGTHS, ref, np.ones(T, bool), ROWS)
    assert compressed == []
    held = _held(_body(T), "left", "shoulder", ARM, 50)                # held still, 50° toward the camera
    ref = _order(held, "left", "shoulder", "elbow", 0.15)
    out, moved, _, compressed = lift_limbs(_level(held, "left", "shoulder", ARM), _rays(held), LENGTHS, ref,
                                           np.ones(T, bool), ROWS)
    assert compressed == [] and moved >= T
    assert (out[:, ROWS["left_elbow"], 2] > held[:, ROWS["left_shoulder"], 2] + 0.15).all()


def test_a_compressed_order_with_no_offset_to_read_it_against_is_not_lifted():
    """The walk filmed from above: the arm stays toward the camera (10–60°) and the image shows it across the
    view on one frame only, where the detector's order is a noisy sample. Read against that one frame, every
    run would go behind the body; with fewer than MIN_ACROSS such frames the order says nothing about the
    side, and the arm keeps the fit's depth. (The body's reach is off: it would rescue this arm, held far behind a
    body facing the camera, but not one the body's forward does not doubt.)"""
    import video_mocap.motion.lift as lift

    T = 80
    P = _body(T)
    angles = 35 + 25 * np.sin(2 * np.pi * np.arange(T) / 40)
    angles[10] = 0.0                                                    # one frame across the view
    for t in range(T):
        P[t:t + 1] = _held(P[t:t + 1], "left", "shoulder", ARM, angles[t])
    fit = _level(P, "left", "shoulder", ARM)
    ref = _compressed_order(P, 0.06, 0.1)                               # "behind", barely moving
    ref[10, ROWS["left_elbow"], 2] -= 0.05                               # the one across frame's noise
    out, moved, _, compressed = lift_limbs(fit, _rays(P), LENGTHS, ref, np.ones(T, bool), ROWS, reach=False)
    assert compressed == [] and moved == 0
    np.testing.assert_array_equal(out, fit)
    old, lift.MIN_ACROSS = lift.MIN_ACROSS, 1                            # read against that one frame …
    try:
        out, moved, _, compressed = lift_limbs(fit, _rays(P), LENGTHS, ref, np.ones(T, bool), ROWS, reach=False)
    finally:
        lift.MIN_ACROSS = old
    assert compressed == ["left_elbow"] and moved > 40                  # … every run goes behind the body
    deep = angles > 30
    s, e = ROWS["left_shoulder"], ROWS["left_elbow"]
    assert (out[deep, e, 2] > out[deep, s, 2]).all() and (P[deep, e, 2] < P[deep, s, 2]).all()
