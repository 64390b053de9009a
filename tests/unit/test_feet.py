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
