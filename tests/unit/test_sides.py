"""Left/right flips of the detector undone by image continuity (motion/sides.py)."""
from __future__ import annotations

import numpy as np
import pytest
import synthetic

from video_mocap.capture.landmarks import INDEX, NAMES
from video_mocap.capture.track import PoseTrack
from video_mocap.motion.sides import HALVES, PAIRS, fix_side_flips

FPS = 30.0


def body(frames=120, seed=0, yaw_deg=0.0):
    """(T,33,3) landmarks in Blender axes of the synthetic rig in motion, turned by yaw (deg, scalar
    or per frame) about the vertical; the face points the rig does not model are put near the head."""
    rest = synthetic.make_rig()
    P = synthetic.landmarks_from_pose(rest, synthetic.random_pose(rest, frames, seed=seed, max_deg=45), frames)
    nose = P[:, INDEX["nose"]]
    for name in NAMES:
        i = INDEX[name]
        if np.isnan(P[:, i]).any():
            side = 1.0 if name.startswith("left") else -1.0
            P[:, i] = nose + [0.02 * side * (1 + name.count("outer")), 0.0, 0.03 if "eye" in name else -0.04]
    yaw = np.radians(np.broadcast_to(np.asarray(yaw_deg, float), (frames,)))
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    X, Y = P[..., 0].copy(), P[..., 1].copy()
    P[..., 0], P[..., 1] = c * X - s * Y, s * X + c * Y
    return P


def track_of(P):
    """A PoseTrack seeing P (Blender axes) through an orthographic camera looking along +Y."""
    T = len(P)
    world = np.stack([P[..., 0], -P[..., 2], P[..., 1]], -1)  # MediaPipe axes: x right, y down, z away
    image = np.stack([0.5 + 0.35 * P[..., 0], 0.5 - 0.35 * (P[..., 2] - 1.0), P[..., 1]], -1)
    vis = np.linspace(0.5, 1.0, 33)[None].repeat(T, 0)  # distinct per landmark: exchanges show
    return PoseTrack(world.astype(np.float32), image.astype(np.float32), vis.astype(np.float32),
                     (vis * 0.9).astype(np.float32), np.ones(T, bool), (np.arange(T) * 1000 / FPS).astype(np.int64),
                     FPS, (1000, 1000), "synthetic", "none")


def flipped(track, rows, half=None):
    """The track with the detector's mistake made on `rows`: left and right exchanged (one half or all)."""
    out = track.sliced(0, len(track))
    pairs = PAIRS if half is None else HALVES[half]
    a = [p for p, _ in pairs] + [q for _, q in pairs]
    b = [q for _, q in pairs] + [p for p, _ in pairs]
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence"):
        arr = getattr(track, key).copy()
        block = arr[rows]
        block[:, a] = block[:, b]
        arr[rows] = block
        setattr(out, key, arr)
    return out


def same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
               for k in ("world_landmarks", "image_landmarks", "visibility", "presence"))


@pytest.mark.parametrize("yaw", [0.0, 35.0, 160.0])
def test_flips_of_the_whole_body_of_one_half_and_of_single_frames_are_undone(yaw):
    truth = track_of(body(yaw_deg=yaw))
    bad = flipped(truth, np.r_[20:32, 70])                    # whole body: 12 frames, and 1 frame
    bad = flipped(bad, np.r_[45:48], half="lower")            # the legs only
    bad = flipped(bad, np.r_[90:91], half="upper")            # the arms and face only
    fixed, report = fix_side_flips(bad)
    assert same(fixed, truth)
    assert report.frames == 12 + 1 + 3 + 1
    assert sorted(report.flipped["lower"]) == list(range(20, 32)) + [45, 46, 47, 70]
    assert "flips fixed on 17 frames" in report.summary()


def test_a_clean_track_is_left_alone():
    truth = track_of(body(seed=3))
    fixed, report = fix_side_flips(truth)
    assert report.frames == 0 and report.summary() == ""
    assert same(fixed, truth)


@pytest.mark.parametrize("yaw", [90.0, -90.0])
def test_profile_view_limbs_crossing_in_the_image_are_not_flips(yaw):
    """Seen from the side, left and right arms and legs pass each other in the image all the time."""
    P = body(frames=150, seed=1, yaw_deg=yaw)
    truth = track_of(P)
    L, R = INDEX["left_ankle"], INDEX["right_ankle"]
    gap = truth.image_landmarks[:, L, 0] - truth.image_landmarks[:, R, 0]
    assert (gap > 0).any() and (gap < 0).any()  # they really cross
    fixed, report = fix_side_flips(truth)
    assert report.frames == 0 and same(fixed, truth)


def test_turning_round_is_not_a_flip():
    """A full turn in 1.5 s: left and right trade places in the image, continuously."""
    P = body(frames=90, seed=2, yaw_deg=np.linspace(0.0, 360.0, 90))
    truth = track_of(P)
    fixed, report = fix_side_flips(truth)
    assert report.frames == 0 and same(fixed, truth)


def test_frames_without_a_person_split_the_track_and_stay_empty():
    truth = track_of(body())
    gone = np.r_[40:50]
    for key in ("world_landmarks", "image_landmarks", "visibility", "presence"):
        getattr(truth, key)[gone] = np.nan
    truth.detected[gone] = False
    bad = flipped(truth, np.r_[52:60])
    fixed, report = fix_side_flips(bad)
    assert same(fixed, truth) and report.frames == 8
    assert np.isnan(fixed.world_landmarks[gone]).all()


def test_a_track_flipped_throughout_has_no_evidence_and_is_kept():
    truth = track_of(body())
    bad = flipped(truth, np.arange(len(truth)))
    fixed, report = fix_side_flips(bad)
    assert report.frames == 0 and same(fixed, bad)
