"""Left/right flips of the detector undone by image continuity and the body's handedness (motion/sides.py)."""
from __future__ import annotations

import numpy as np
import pytest
import synthetic

from video_mocap.capture.landmarks import INDEX
from video_mocap.capture.track import PoseTrack
from video_mocap.motion.sides import HALVES, fix_side_flips

FPS = 30.0


def body(frames=120, seed=0, yaw_deg=0.0):
    """(T,33,3) landmarks in Blender axes of the synthetic rig in motion, turned by yaw (deg, scalar
    or per frame) about the vertical; the face points the rig does not model are put near the head."""
    rest = synthetic.make_rig()
    P = synthetic.landmarks_from_pose(rest, synthetic.random_pose(rest, frames, seed=seed, max_deg=45), frames)
    # The face the rig does not model rides on its head: eyes and mouth between the nose and the ears.
    nose, ear_l, ear_r = P[:, INDEX["nose"]], P[:, INDEX["left_ear"]], P[:, INDEX["right_ear"]]
    mid = (ear_l + ear_r) / 2
    up = np.cross(ear_l - ear_r, nose - mid)  # left × front = up
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    for side, ear in (("left", ear_l), ("right", ear_r)):
        for name, along, height in (("eye_inner", 0.15, 0.035), ("eye", 0.3, 0.035), ("eye_outer", 0.45, 0.03)):
            P[:, INDEX[f"{side}_{name}"]] = nose + along * (ear - nose) + height * up
        P[:, INDEX[f"mouth_{side}"]] = nose + 0.2 * (ear - nose) - 0.04 * up
    yaw = np.radians(np.broadcast_to(np.asarray(yaw_deg, float), (frames,)))
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    X, Y = P[..., 0].copy(), P[..., 1].copy()
    P[..., 0], P[..., 1] = c * X - s * Y, s * X + c * Y
    return P


def track_of(P, noise=0.0, seed=0):
    """A PoseTrack seeing P (Blender axes) through an orthographic camera looking along +Y; noise: the
    detector's error, in metres (world landmarks; depth three times as much) and alike in the image."""
    T = len(P)
    rng = np.random.default_rng(seed)
    world = np.stack([P[..., 0], -P[..., 2], P[..., 1]], -1)  # MediaPipe axes: x right, y down, z away
    image = np.stack([0.5 + 0.35 * P[..., 0], 0.5 - 0.35 * (P[..., 2] - 1.0), P[..., 1]], -1)
    if noise:
        world = world + rng.normal(0.0, noise, world.shape) * [1.0, 1.0, 3.0]
        image = image + rng.normal(0.0, 0.35 * noise, image.shape)
    vis = np.linspace(0.5, 1.0, 33)[None].repeat(T, 0)  # distinct per landmark: exchanges show
    return PoseTrack(world.astype(np.float32), image.astype(np.float32), vis.astype(np.float32),
                     (vis * 0.9).astype(np.float32), np.ones(T, bool), (np.arange(T) * 1000 / FPS).astype(np.int64),
                     FPS, (1000, 1000), "synthetic", "none")


def flipped(track, rows, half=None, backwards=False):
    """The track with the detector's mistake made on `rows`: left and right exchanged (one half or all);
    backwards: a front/back confusion, the depths mirrored with the labels (a consistent body, wrongly)."""
    if backwards:
        track = track.sliced(0, len(track))
        for key in ("world_landmarks", "image_landmarks"):
            arr = getattr(track, key).copy()
            arr[rows, :, 2] *= -1  # world landmarks are hip-centred; image z is relative to the hips
            setattr(track, key, arr)
    return synthetic.exchange_sides(track, rows, half)


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


def swapped_fraction(track, truth):
    """Fraction of frames whose left/right labels (either half) are not the truth's: per frame, the labels
    nearer the truth's image positions as detected or exchanged."""
    out = np.zeros(len(track), bool)
    for pairs in HALVES.values():
        a = [p for p, _ in pairs] + [q for _, q in pairs]
        b = [q for _, q in pairs] + [p for p, _ in pairs]
        im, ref = track.image_landmarks[..., :2], truth.image_landmarks[..., :2]
        as_is = np.nanmean(np.linalg.norm(im[:, a] - ref[:, a], axis=-1), axis=1)
        exch = np.nanmean(np.linalg.norm(im[:, b] - ref[:, a], axis=-1), axis=1)
        out |= exch < as_is
    return float(out.mean())


LIMBS = [("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")]


def limb_error_deg(track, clean):
    """Mean angle (degrees) between the track's limb directions (world) and the clean body's."""
    errs = []
    for side in ("left", "right"):
        for a, b in LIMBS:
            u = track.world_landmarks[:, INDEX[f"{side}_{b}"]] - track.world_landmarks[:, INDEX[f"{side}_{a}"]]
            v = clean.world_landmarks[:, INDEX[f"{side}_{b}"]] - clean.world_landmarks[:, INDEX[f"{side}_{a}"]]
            cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
            errs.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return float(np.mean(errs))


@pytest.mark.parametrize("half", [None, "lower"])
@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.75, 0.9])
@pytest.mark.parametrize("yaw", [0.0, 40.0, 180.0])  # 180: the person's back to the camera
def test_label_swaps_minority_or_majority_are_decided_by_handedness(half, fraction, yaw):
    """The detector exchanged the labels (whole body, or the legs only) on 20-90 % of the frames, with
    noise on every landmark: the body's handedness says which frames are wrong, whatever the majority."""
    seed = int(fraction * 100) + int(yaw)
    clean = track_of(body(frames=120, seed=seed % 7, yaw_deg=yaw))
    noisy = track_of(body(frames=120, seed=seed % 7, yaw_deg=yaw), noise=0.01, seed=seed)
    rows = synthetic.swap_rows(len(clean), fraction, seed)
    bad = flipped(noisy, rows, half=half)
    assert swapped_fraction(bad, clean) >= fraction
    fixed, report = fix_side_flips(bad)
    assert swapped_fraction(fixed, clean) <= 0.05, report.flipped
    assert limb_error_deg(fixed, clean) <= limb_error_deg(noisy, clean) + 1.5
    assert report.frames >= 0.9 * len(rows)


def test_a_track_flipped_throughout_is_repaired_by_its_handedness():
    """Labels exchanged on every frame: no jump anywhere, but the body is the mirror image of a person."""
    truth = track_of(body())
    bad = flipped(truth, np.arange(len(truth)))
    fixed, report = fix_side_flips(bad)
    assert same(fixed, truth) and report.frames == len(truth)
    assert not report.uncertain


def test_a_front_back_confusion_of_a_few_frames_is_undone_and_flagged():
    """Seen from behind, the detector takes the person as facing the camera for a while: labels and depths
    mirrored together, a consistent body. Only continuity tells; the repair says it is unsure."""
    truth = track_of(body(yaw_deg=180.0))
    rows = np.r_[30:60]
    bad = flipped(truth, rows, backwards=True)
    fixed, report = fix_side_flips(bad)
    assert report.frames == len(rows) and sorted(report.backwards) == rows.tolist()
    assert set(rows) <= set(report.uncertain) and report.messages
    assert swapped_fraction(fixed, truth) == 0.0


def test_a_front_back_confusion_throughout_has_no_evidence_and_is_kept():
    """Labels and depths mirrored on every frame: a consistent body, no jump: nothing to go on."""
    truth = track_of(body(yaw_deg=180.0))
    bad = flipped(truth, np.arange(len(truth)), backwards=True)
    fixed, report = fix_side_flips(bad)
    assert report.frames == 0 and same(fixed, bad)


def test_evidence_never_flips_a_run_the_handedness_says_is_right():
    """Noisy, clean-labelled takes in several views stay as detected."""
    for seed, yaw in ((4, 0.0), (5, 90.0), (6, 180.0)):
        truth = track_of(body(seed=seed, yaw_deg=yaw), noise=0.01, seed=seed)
        fixed, report = fix_side_flips(truth)
        assert report.frames == 0 and same(fixed, truth), (yaw, report.flipped)
