"""Foot contact and locking on synthetic walks with known planted phases."""
import numpy as np

from video_mocap.motion.feet import detect_contacts, foot_skate, lock_feet


def walk(frames=120, fps=30.0, slide=0.02, noise=0.003, seed=0):
    """Two feet alternating: planted for 20 frames (sliding `slide` m/frame, like raw mocap), then
    swinging 10 frames. The root moves forward steadily."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    root = np.stack([t * 0.03, np.zeros(frames), np.full(frames, 0.9)], -1)
    feet, truth = {}, {}
    for k, name in enumerate(("L", "R")):
        phase = (t + 15 * k) % 30
        planted = phase < 20
        z = np.where(planted, 0.02, 0.02 + 0.12 * np.sin(np.pi * (phase - 20) / 10).clip(0))
        start = 0.03 * (t - phase)  # where the foot landed: it stays there, but for the slide
        x = start + np.where(planted, phase * slide, 20 * slide + (phase - 20) / 10 * (0.9 - 20 * slide))
        pos = np.stack([x, np.full(frames, 0.1 * (1 - 2 * k)), z], -1) + rng.normal(0, noise, (frames, 3)) * [1, 1, 0]
        feet[name], truth[name] = pos, planted
    return root, feet, truth, fps


def test_contacts_are_found():
    root, feet, truth, fps = walk(slide=0.004)
    for name in feet:
        found = detect_contacts(feet[name], fps)
        assert (found == truth[name]).mean() > 0.9


def test_locking_stops_skate_during_contact():
    root, feet, truth, fps = walk(slide=0.02)
    contacts = {n: detect_contacts(feet[n], fps, speed=1.0) for n in feet}
    before = foot_skate(feet, contacts)
    fixed_root = lock_feet(root, feet, contacts)
    shift = fixed_root - root
    fixed_feet = {n: p + shift for n, p in feet.items()}
    after = foot_skate(fixed_feet, contacts)
    assert before > 0.015 and after < 0.01, (before, after)
    # No jumps: the root's frame-to-frame step stays bounded.
    assert np.abs(np.diff(fixed_root[:, 0])).max() < 0.1
    assert np.allclose(fixed_root[:, 2], root[:, 2])


def test_no_contacts_no_change():
    root = np.random.default_rng(1).normal(size=(20, 3))
    feet = {"L": np.full((20, 3), 1.0)}
    assert np.allclose(lock_feet(root, feet, {"L": np.zeros(20, bool)}), root)


def _image_track(T=60, fps=30.0):
    """(T,33,3) normalised image landmarks of a figure 400 px tall in a 1000 × 1000 frame: shoulders at y 0.3,
    hips at 0.5 (a 200 px torso), both feet at y 0.9."""
    from video_mocap.capture.landmarks import INDEX

    P = np.full((T, 33, 3), 0.5)
    for side, x in (("left", 0.55), ("right", 0.45)):
        P[:, INDEX[f"{side}_shoulder"], :2] = [x, 0.3]
        P[:, INDEX[f"{side}_hip"], :2] = [x, 0.5]
        for name in ("ankle", "heel", "foot_index"):
            P[:, INDEX[f"{side}_{name}"], :2] = [x, 0.9]
    return P


def test_feet_still_in_the_image():
    """motion/feet.py still_in_image: a foot the picture shows still is; one moving faster than STILL_SPEED torso
    lengths a second is not; stills shorter than MIN_STILL_S are dropped; a panning camera shows none."""
    from video_mocap.capture.landmarks import INDEX
    from video_mocap.motion.feet import STILL_SPEED, still_in_image

    fps, T = 30.0, 60
    P = _image_track(T, fps)
    # the right foot steps: still, then moving at twice STILL_SPEED (200 px torso) for 20 frames, then still
    step = 2 * STILL_SPEED * 200 / fps / 1000            # normalised units per frame
    moving = np.zeros(T)
    moving[20:40] = step
    for name in ("ankle", "heel", "foot_index"):
        P[:, INDEX[f"right_{name}"], 0] += np.cumsum(moving)
    still = still_in_image(P, (1000, 1000), fps)
    assert still["left"].all()
    assert still["right"][:18].all() and not still["right"][22:38].any() and still["right"][42:].all()
    # a still moment of 2 frames (under MIN_STILL_S) in the middle of the step is not a stance
    P2 = P.copy()
    brief = np.zeros(T)
    brief[10:50] = step
    brief[29:31] = 0.0
    for name in ("ankle", "heel", "foot_index"):
        P2[:, INDEX[f"right_{name}"], 0] = 0.45 + np.cumsum(brief)
    assert not still_in_image(P2, (1000, 1000), fps)["right"][12:48].any()
    # a camera panning: the whole picture slides at the same speed
    pan = P + np.cumsum(np.full(T, step))[:, None, None] * np.array([1.0, 0.0, 0.0])
    assert not any(v[5:-5].any() for v in still_in_image(pan, (1000, 1000), fps).values())
    # too short a clip, or no torso: nothing
    assert not still_in_image(P[:4], (1000, 1000), fps)["left"].any()
    assert not still_in_image(np.full((T, 33, 3), np.nan), (1000, 1000), fps)["left"].any()


def test_a_foot_still_in_the_picture_is_planted_through_3d_jitter_but_not_when_it_swings():
    """detect_contacts(still=…): the picture's stillness plants a low foot whose 3D position jitters (the
    camera-based travel's depth noise, which grows with the lens), not one the 3D has swinging fast (a
    foot swinging toward the camera barely moves in the picture), nor one in the air."""
    from video_mocap.motion.feet import SPEED_M_S, STILL_3D, detect_contacts

    fps, T = 30.0, 60
    angles = np.random.default_rng(4).uniform(0, 2 * np.pi, T)
    jitter = np.zeros((T, 3))
    jitter[:, :2] = np.cumsum(0.017 * np.stack([np.cos(angles), np.sin(angles)], 1), axis=0)  # 0.51 m/s of noise
    jitter[:, 2] = 0.02
    still = np.ones(T, bool)
    assert SPEED_M_S < 0.017 * fps < STILL_3D * SPEED_M_S
    assert not detect_contacts(jitter, fps).any()             # the 3D alone loses the stance
    assert detect_contacts(jitter, fps, still=still).all()    # the picture keeps it
    swing = np.zeros((T, 3))
    swing[:, 1] = np.arange(T) * 1.5 / fps                    # 1.5 m/s toward the camera, low
    swing[:, 2] = 0.03
    assert not detect_contacts(swing, fps, still=still).any()
    air = np.full(T, 0.3)                                     # the camera puts it 30 cm up
    assert not detect_contacts(jitter, fps, air=air, still=still).any()
