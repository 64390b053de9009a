"""Landmark filtering (motion/filters.py): error against known truth, no lag, gaps, visibility weights,
One Euro, quaternions, and the small print (input untouched, constants, shapes, tiny tracks). No bpy."""
import copy
import time

import numpy as np
import pytest

from video_mocap.capture.landmarks import INDEX
from video_mocap.capture.track import PoseTrack
from video_mocap.motion.filters import (
    DEFAULT_CUTOFF_HZ,
    DEFAULT_MAX_GAP_S,
    FilterReport,
    Gap,
    align_hemispheres,
    cutoff_to_sigma,
    frequency_response,
    hidden_stretch,
    one_euro,
    smooth,
    smooth_quaternions,
    smooth_track,
)

WRIST = INDEX["left_wrist"]


# ---------------------------------------------------------------------------------------------
# Synthetic tracks with known truth

def human_motion(fps, seconds=6.0, seed=0):
    """(T,33,3) metres: per landmark and axis a sum of 4 sinusoids, 0.2-3 Hz, amplitude ∝ f^-0.8."""
    rng = np.random.default_rng(seed)
    T = int(round(seconds * fps))
    t = np.arange(T) / fps
    f = np.exp(rng.uniform(np.log(0.2), np.log(3.0), size=(33, 3, 4)))
    a = 0.06 * f ** -0.8
    phase = rng.uniform(0, 2 * np.pi, size=f.shape)
    base = rng.normal(0, 0.4, size=(33, 3))
    return base + np.sum(a * np.sin(2 * np.pi * f * t[:, None, None, None] + phase), axis=-1)


def image_of(world):
    return world * 0.3 + 0.5


def make_track(world, fps, visibility=None, detected=None):
    world = np.asarray(world, dtype=np.float64)
    T = len(world)
    vis = np.full((T, 33), 0.95) if visibility is None else np.asarray(visibility, dtype=np.float64)
    det = np.ones(T, bool) if detected is None else np.asarray(detected, bool)
    w = world.copy()
    w[~det] = np.nan
    v = vis.copy()
    v[~det] = np.nan
    return PoseTrack(w.astype(np.float32), image_of(w).astype(np.float32), v.astype(np.float32),
                     v.astype(np.float32), det, (np.arange(T) * 1000 / fps).astype(np.int64), float(fps),
                     (640, 480), "synthetic", "none", first_frame=100)


def noisy(truth, sigma=0.015, spikes=0.003, seed=1):
    rng = np.random.default_rng(seed)
    x = truth + rng.normal(0, sigma, size=truth.shape)
    hit = rng.random(truth.shape[:2]) < spikes
    x[hit] += rng.choice([-1, 1], size=(hit.sum(), 3)) * 0.08
    return x


def rms(a, b):
    d = np.linalg.norm(np.asarray(a, np.float64) - b, axis=-1)
    return float(np.sqrt(np.nanmean(d ** 2)))


def best_lag(y, ref, max_lag=8):
    """Shift (frames) of y that correlates best with ref; > 0: y is late."""
    lags = range(-max_lag, max_lag + 1)
    m = max_lag
    scores = [np.sum(y[m + lag:len(y) - m + lag] * ref[m:len(ref) - m]) for lag in lags]
    return list(lags)[int(np.argmax(scores))]


# ---------------------------------------------------------------------------------------------
# Zero-phase smoothing

@pytest.mark.parametrize("fps, at_most", [(30, 0.6), (60, 0.45)])
def test_smoothing_lowers_the_error_against_the_truth(fps, at_most):
    truth = human_motion(fps)
    track = make_track(noisy(truth), fps)
    out, report = smooth_track(track, torso_stretch=1.0)  # every landmark moves on its own here, shoulders too
    raw_err, err = rms(track.world_landmarks, truth), rms(out.world_landmarks, truth)
    assert err < at_most * raw_err, (raw_err, err)
    assert rms(out.image_landmarks, image_of(truth)) < at_most * rms(track.image_landmarks, image_of(truth))
    assert report.method == "zero_phase" and report.cutoff_hz == DEFAULT_CUTOFF_HZ
    assert report.sigma_frames == pytest.approx(cutoff_to_sigma(DEFAULT_CUTOFF_HZ, fps))


def test_strength_in_frames_or_hz():
    fps = 60
    truth = human_motion(fps)
    track = make_track(noisy(truth, spikes=0), fps)

    def jitter(tr):
        return float(np.mean(np.linalg.norm(np.diff(tr.world_landmarks.astype(float), 2, axis=0), axis=-1)))

    light, _ = smooth_track(track, strength_hz=10)
    strong, _ = smooth_track(track, strength_hz=3)
    by_frames, report = smooth_track(track, strength_frames=cutoff_to_sigma(3, fps))
    assert jitter(strong) < jitter(light) < jitter(track)
    np.testing.assert_allclose(by_frames.world_landmarks, strong.world_landmarks, atol=1e-6)
    assert report.cutoff_hz is None and report.sigma_frames == pytest.approx(cutoff_to_sigma(3, fps))


def test_cutoff_halves_the_amplitude_at_the_cutoff_frequency():
    fps, fc = 60.0, 5.0
    sigma = cutoff_to_sigma(fc, fps)
    assert frequency_response(fc, fps, sigma) == pytest.approx(0.5, abs=1e-4)
    assert frequency_response(1.0, fps, sigma) > 0.97
    t = np.arange(1200) / fps
    for f, gain in ((fc, 0.5), (1.0, float(frequency_response(1.0, fps, sigma)))):
        y = smooth(np.sin(2 * np.pi * f * t), fps, cutoff_hz=fc, robust=False)
        mid = slice(200, 1000)
        amplitude = np.sqrt(2) * np.std(y[mid])
        assert amplitude == pytest.approx(gain, abs=0.01)
    assert cutoff_to_sigma(40.0, 60.0) == 0.0  # above Nyquist: nothing to smooth


@pytest.mark.parametrize("fps", [30, 60])
def test_zero_phase_does_not_lag_and_one_euro_does(fps):
    t = np.arange(int(4 * fps)) / fps
    truth = 0.2 * np.sin(2 * np.pi * 1.5 * t)
    x = truth + np.random.default_rng(3).normal(0, 0.01, size=t.shape)
    assert best_lag(smooth(x, fps), truth) == 0
    assert best_lag(one_euro(x, fps), truth) >= 1  # the causal filter is late: the test can see lag


def test_a_step_is_not_delayed():
    step = np.zeros(200)
    step[100:] = 1.0
    y = smooth(step, 60, robust=False)
    # antisymmetric about the step: y[99 - k] + y[100 + k] == 1, crossing 0.5 between rows 99 and 100
    np.testing.assert_allclose(y[90:100][::-1] + y[100:110], 1.0, atol=1e-9)
    assert y[99] < 0.5 < y[100]
    # robust (default): samples at a clean jump are outliers of the local fits; the step stays sharp, on time
    yr = smooth(step, 60)
    np.testing.assert_allclose(yr[90:100][::-1] + yr[100:110], 1.0, atol=1e-6)
    assert yr[99] < 0.05 and yr[100] > 0.95


def test_polynomials_and_constants_pass_unchanged_edges_included():
    t = np.arange(90) / 30.0
    quadratic = (0.3 + 0.5 * t - 0.2 * t ** 2)[:, None, None] * np.ones((1, 33, 3))
    np.testing.assert_allclose(smooth(quadratic, 30), quadratic, atol=1e-8)


@pytest.mark.parametrize("method", ["zero_phase", "one_euro", "none"])
def test_constant_signals_are_unchanged(method):
    rng = np.random.default_rng(4)
    world = np.repeat(rng.normal(size=(1, 33, 3)), 120, axis=0)
    vis = np.repeat(rng.uniform(0.6, 1.0, size=(1, 33)), 120, axis=0)
    track = make_track(world, 60, visibility=vis)
    out, _ = smooth_track(track, method=method)
    np.testing.assert_allclose(out.world_landmarks, track.world_landmarks, atol=1e-6)
    np.testing.assert_allclose(out.image_landmarks, track.image_landmarks, atol=1e-6)


def test_robust_pass_removes_a_spike():
    fps = 60
    truth = human_motion(fps, seed=5)
    x = noisy(truth, sigma=0.005, spikes=0, seed=6)
    x[150, WRIST] += [0.15, -0.1, 0.0]
    track = make_track(x, fps)
    plain, _ = smooth_track(track, robust=False, torso_stretch=1.0)  # the wrist alone, not its shoulder's pace
    robust, report = smooth_track(track, torso_stretch=1.0)
    err = lambda tr: np.linalg.norm(tr.world_landmarks[150, WRIST] - truth[150, WRIST])  # noqa: E731
    assert err(robust) < 0.01 < err(plain)
    assert report.outliers >= 1


def test_visibility_weighting_makes_a_low_visibility_outlier_pull_less():
    world = np.zeros((121, 33, 3))
    world[60, WRIST, 0] = 0.1
    pulls = {}
    for v in (1.0, 0.55, 0.1):
        vis = np.ones((121, 33))
        vis[60, WRIST] = v
        out, _ = smooth_track(make_track(world, 60, visibility=vis), robust=False, min_visibility=0.05)
        pulls[v] = float(out.world_landmarks[60, WRIST, 0])
    assert pulls[1.0] > pulls[0.55] > pulls[0.1] > 0
    assert pulls[0.1] < 0.2 * pulls[1.0]
    # without weights all three pull the same
    vis = np.ones((121, 33))
    vis[60, WRIST] = 0.1
    out, _ = smooth_track(make_track(world, 60, visibility=vis), robust=False, min_visibility=0.05,
                          visibility_weights=False)
    assert float(out.world_landmarks[60, WRIST, 0]) == pytest.approx(pulls[1.0], rel=1e-5)


def test_hidden_landmarks_are_smoothed_longer():
    """A landmark the detector mostly does not see (the far arm of a body seen from the side) jitters while
    its neighbours do not: its kernel is longer, by its median visibility."""
    vis = np.array([[0.95, 0.9, 0.7, 0.4, 0.1, np.nan]] * 5)
    vis[0, 2] = np.nan  # frames without a visibility do not count
    assert hidden_stretch(vis).tolist() == [1.0, 1.0, 1.5, 2.0, 2.0, 1.0]
    assert hidden_stretch(vis, most=1.0).tolist() == [1.0] * 6
    truth = human_motion(30, seconds=8.0, seed=3)
    truth[:, WRIST] = truth[:, INDEX["right_wrist"]]  # the same motion, seen and hidden
    measured = truth + np.random.default_rng(4).normal(0, 0.02, size=truth.shape)
    measured[:, WRIST] = measured[:, INDEX["right_wrist"]]  # and the same noise
    vis = np.full((len(truth), 33), 0.95)
    vis[:, WRIST] = 0.55  # still measurements (min_visibility 0.5), rarely seen
    jitter = {}
    for most in (1.0, 2.0):
        out, _ = smooth_track(make_track(measured, 30, visibility=vis), hidden_slowdown=most, torso_stretch=1.0)
        w = out.world_landmarks.astype(np.float64)
        jitter[most] = [float(np.linalg.norm(np.diff(w[:, j], 2, axis=0), axis=-1).mean())
                        for j in (WRIST, INDEX["right_wrist"])]
        if most == 1.0:  # alike: the weights are uniform in time, so they do not change the fit
            np.testing.assert_allclose(w[:, WRIST], w[:, INDEX["right_wrist"]], atol=1e-6)
    assert jitter[2.0][1] == pytest.approx(jitter[1.0][1])  # the seen landmark is untouched
    assert jitter[2.0][0] < 0.75 * jitter[2.0][1]           # the hidden one is steadier (0.62 here)
    truth_jitter = float(np.linalg.norm(np.diff(truth[:, WRIST], 2, axis=0), axis=-1).mean())
    assert jitter[2.0][0] > 0.5 * truth_jitter              # and still moves (its motion is 0.2-3 Hz)


def test_smoothing_never_reaches_across_a_long_gap():
    x = np.zeros((100, 33, 3))
    x[60:] = 1.0
    det = np.ones(100, bool)
    det[40:60] = False  # 20 frames, longer than max_gap
    out, _ = smooth_track(make_track(x, 30, detected=det), strength_frames=10.0, max_gap_frames=5)
    np.testing.assert_allclose(out.world_landmarks[:40], 0.0, atol=1e-9)
    np.testing.assert_allclose(out.world_landmarks[60:], 1.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Gaps

def test_short_gaps_are_filled_and_long_ones_left_and_reported():
    fps = 60
    truth = human_motion(fps, seconds=5)
    det = np.ones(len(truth), bool)
    det[0:3] = False          # at the start: nothing to interpolate from
    det[50:56] = False        # 6 frames (0.1 s): filled
    det[120:130] = False      # 10 frames: filled (≤ 0.2 s = 12 frames)
    det[200:260] = False      # 60 frames (1 s): left
    track = make_track(noisy(truth, sigma=0.005, spikes=0), fps, detected=det)
    out, report = smooth_track(track)

    assert report.max_gap_frames == int(DEFAULT_MAX_GAP_S * fps) == 12
    assert out.detected[50:56].all() and out.detected[120:130].all()
    assert not out.detected[200:260].any() and not out.detected[0:3].any()
    assert np.isfinite(out.world_landmarks[50:56]).all() and np.isfinite(out.image_landmarks[120:130]).all()
    assert np.isnan(out.world_landmarks[200:260]).all() and np.isnan(out.world_landmarks[0:3]).all()
    assert rms(out.world_landmarks[50:56], truth[50:56]) < 0.03
    assert rms(out.world_landmarks[120:130], truth[120:130]) < 0.04
    assert np.isfinite(out.visibility[50:56]).all() and np.isnan(out.visibility[200:260]).all()

    person = {(g.start, g.stop): g for g in report.gaps if g.landmarks is None}
    assert set(person) == {(0, 3), (50, 56), (120, 130), (200, 260)}
    assert person[(50, 56)].filled and person[(120, 130)].filled
    assert not person[(200, 260)].filled and not person[(200, 260)].at_edge
    assert not person[(0, 3)].filled and person[(0, 3)].at_edge
    assert report.frames_filled == 16 and report.frames_left == 63
    assert {(g.start, g.stop) for g in report.left} == {(0, 3), (200, 260)}
    text = report.warnings()
    assert len(text) == 2 and all("no person" in line for line in text)
    assert any("video frames 300-359" in line and "1.00 s" in line for line in text)  # first_frame 100
    assert "16 frames without a person filled" in report.summary()


def test_max_gap_is_configurable():
    fps = 60
    truth = human_motion(fps, seconds=3)
    det = np.ones(len(truth), bool)
    det[80:89] = False  # 9 frames = 0.15 s
    track = make_track(truth, fps, detected=det)
    assert smooth_track(track, max_gap_s=0.2)[0].detected[80:89].all()
    assert not smooth_track(track, max_gap_s=0.1)[0].detected[80:89].any()
    assert not smooth_track(track, max_gap_s=0)[0].detected[80:89].any()
    assert smooth_track(track, max_gap_frames=9)[0].detected[80:89].all()


def test_low_visibility_runs_short_are_interpolated_long_are_kept():
    fps = 60
    truth = human_motion(fps, seconds=4)
    x = truth.copy()
    vis = np.full((len(x), 33), 0.95)
    x[100:106, WRIST] += 0.25          # garbage while occluded, short
    vis[100:106, WRIST] = 0.1
    x[150:200, WRIST] += 0.05          # long occlusion
    vis[150:200, WRIST] = 0.2
    track = make_track(x, fps, visibility=vis)
    out, report = smooth_track(track)
    assert rms(out.world_landmarks[100:106, WRIST], truth[100:106, WRIST]) < 0.02  # the garbage is gone
    kept = out.world_landmarks[150:200, WRIST]
    assert np.isfinite(kept).all() and rms(kept[5:-5], x[155:195, WRIST]) < 0.02  # MediaPipe's values kept
    assert out.detected.all()
    low = {(g.start, g.stop, g.landmarks): g.filled for g in report.gaps if g.landmarks is not None}
    assert low == {(100, 106, (WRIST,)): True, (150, 200, (WRIST,)): False}
    assert any("low visibility of left_wrist" in line for line in report.warnings())
    assert report.samples_filled == 6


def test_method_none_only_fills_gaps():
    fps = 30
    truth = human_motion(fps, seconds=3)
    x = noisy(truth)
    det = np.ones(len(x), bool)
    det[40:43] = False
    track = make_track(x, fps, detected=det)
    out, report = smooth_track(track, method="none")
    keep = det
    np.testing.assert_array_equal(out.world_landmarks[keep], track.world_landmarks[keep])
    assert out.detected.all() and report.frames_filled == 3
    same, _ = smooth_track(track, method="none", max_gap_s=0)
    np.testing.assert_array_equal(same.world_landmarks, track.world_landmarks)
    np.testing.assert_array_equal(same.detected, track.detected)


# ---------------------------------------------------------------------------------------------
# One Euro

def test_one_euro_reduces_jitter_when_still_and_follows_motion():
    fps, T = 60, 600
    rng = np.random.default_rng(7)
    still = 0.3 + rng.normal(0, 0.01, size=(T, 33, 3))
    y = one_euro(still, fps)
    assert y[60:].std(axis=0).mean() < 0.5 * still[60:].std(axis=0).mean()

    t = np.arange(T) / fps
    moving = 0.2 * np.sin(2 * np.pi * 1.0 * t)[:, None, None] * np.ones((1, 33, 3))
    y = one_euro(moving + rng.normal(0, 0.002, size=moving.shape), fps)
    assert np.sqrt(np.mean((y[30:] - moving[30:]) ** 2)) < 0.02  # 10 % of the amplitude
    assert np.corrcoef(y[30:, 0, 0], moving[30:, 0, 0])[0, 1] > 0.99


def test_one_euro_is_causal_and_restarts_after_nan():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(100, 33, 3))
    y = one_euro(x, 30)
    x2 = x.copy()
    x2[60:] += 5.0
    np.testing.assert_array_equal(one_euro(x2, 30)[:60], y[:60])
    x3 = x.copy()
    x3[40:50] = np.nan
    y3 = one_euro(x3, 30)
    assert np.isnan(y3[40:50]).all()
    np.testing.assert_array_equal(y3[50], x3[50])  # a new segment starts at its first sample


def test_smooth_track_one_euro():
    fps = 60
    truth = human_motion(fps)
    track = make_track(noisy(truth, spikes=0), fps)
    out, report = smooth_track(track, method="one_euro")
    jitter = lambda a: np.mean(np.linalg.norm(np.diff(a.astype(float), 2, axis=0), axis=-1))  # noqa: E731
    assert jitter(out.world_landmarks) < 0.5 * jitter(track.world_landmarks)
    assert jitter(out.image_landmarks) < 0.5 * jitter(track.image_landmarks)
    assert report.method == "one_euro" and report.cutoff_hz is None and "beta" in report.params


# ---------------------------------------------------------------------------------------------
# Quaternions

def rotation_track(T, fps, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    axis = np.stack([np.sin(0.3 * t + 1), np.cos(0.2 * t), 0.5 + 0 * t], axis=-1)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = 1.2 + 0.8 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    return np.concatenate([np.cos(angle / 2)[:, None], np.sin(angle / 2)[:, None] * axis], axis=-1)


def angle_deg(q1, q2):
    return np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(q1 * q2, axis=-1)), 0, 1)))


def test_quaternion_smoothing_handles_sign_flips_and_returns_unit_quaternions():
    fps, T = 60, 300
    truth = rotation_track(T, fps)
    rng = np.random.default_rng(9)
    q = truth + rng.normal(0, 0.02, size=truth.shape)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    flipped = q * rng.choice([-1.0, 1.0], size=(T, 1))  # same rotations, random hemispheres
    out = smooth_quaternions(flipped, fps)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)
    assert (np.sum(out[1:] * out[:-1], axis=-1) > 0).all()  # sign-continuous
    assert angle_deg(out, truth).mean() < 0.5 * angle_deg(q, truth).mean()
    same = smooth_quaternions(q, fps)
    np.testing.assert_allclose(np.abs(np.sum(out * same, axis=-1)), 1.0, atol=1e-9)  # flips change nothing
    assert angle_deg(same, truth).max() < 5.0


def test_quaternion_tracks_with_nan_rows_and_stacks():
    q = np.tile(rotation_track(120, 30)[:, None], (1, 5, 1))
    q[50:60, 2] = np.nan
    q[::3, 1] *= -1
    out = smooth_quaternions(q, 30)
    assert out.shape == q.shape
    assert np.isnan(out[50:60, 2]).all() and np.isfinite(out[:50]).all() and np.isfinite(out[60:]).all()
    aligned = align_hemispheres(q)
    assert (np.sum(aligned[1:, 1] * aligned[:-1, 1], axis=-1) > 0).all()
    with pytest.raises(ValueError):
        smooth_quaternions(np.zeros((10, 3)), 30)


# ---------------------------------------------------------------------------------------------
# Small print

def test_the_input_track_is_not_modified():
    fps = 30
    truth = human_motion(fps, seconds=4)
    det = np.ones(len(truth), bool)
    det[20:24] = False
    det[60:100] = False
    vis = np.full((len(truth), 33), 0.9)
    vis[30:34, WRIST] = 0.1
    track = make_track(noisy(truth), fps, visibility=vis, detected=det)
    before = copy.deepcopy(track)
    for method in ("zero_phase", "one_euro", "none"):
        out, _ = smooth_track(track, method=method)
        assert out is not track and out.world_landmarks is not track.world_landmarks
        for key in ("world_landmarks", "image_landmarks", "visibility", "presence", "detected", "timestamps_ms"):
            np.testing.assert_array_equal(getattr(track, key), getattr(before, key))
        assert (track.fps, track.first_frame, track.extra) == (before.fps, before.first_frame, before.extra)


def test_shapes_dtypes_and_metadata_are_preserved():
    fps = 30
    track = make_track(noisy(human_motion(fps, seconds=2)), fps)
    out, report = smooth_track(track)
    out.validate()
    assert out.world_landmarks.shape == out.image_landmarks.shape == (60, 33, 3)
    assert out.world_landmarks.dtype == np.float32 and out.detected.dtype == bool
    assert (out.fps, out.frame_size, out.source, out.model, out.first_frame) == (
        track.fps, track.frame_size, track.source, track.model, track.first_frame)
    np.testing.assert_array_equal(out.timestamps_ms, track.timestamps_ms)
    assert isinstance(report, FilterReport) and out.extra["filter_report"] is report
    assert smooth(np.zeros((10, 33, 3)), 30).shape == (10, 33, 3)


@pytest.mark.parametrize("frames", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["zero_phase", "one_euro", "none"])
def test_very_short_tracks(frames, method):
    rng = np.random.default_rng(frames)
    track = make_track(rng.normal(size=(frames, 33, 3)), 30)
    out, report = smooth_track(track, method=method)
    out.validate()
    assert len(out) == frames and np.isfinite(out.world_landmarks).all()
    if frames == 3:
        det = np.array([True, False, True])
        gappy = make_track(rng.normal(size=(3, 33, 3)), 30, detected=det)
        out, report = smooth_track(gappy, method=method)
        assert out.detected.all() and np.isfinite(out.world_landmarks).all()
        assert report.filled == [Gap(1, 2, None, True)]
        lonely = make_track(rng.normal(size=(3, 33, 3)), 30, detected=[False, True, False])
        out, report = smooth_track(lonely, method=method)
        np.testing.assert_array_equal(out.detected, [False, True, False])
        assert len(report.left) == 2 and all(g.at_edge for g in report.left)


def test_unknown_method_is_an_error():
    track = make_track(np.zeros((5, 33, 3)), 30)
    with pytest.raises(ValueError, match="unknown method"):
        smooth_track(track, method="kalman")


def test_long_tracks_are_fast():
    fps = 60
    truth = human_motion(fps, seconds=10000 / fps, seed=11)
    det = np.ones(len(truth), bool)
    det[5000:5008] = False
    track = make_track(noisy(truth, spikes=0.001), fps, detected=det)
    start = time.perf_counter()
    out, report = smooth_track(track)
    elapsed = time.perf_counter() - start
    assert len(out) == 10000 and report.frames_filled == 8
    assert elapsed < 15.0, elapsed  # about 1-2 s on one core; generous for busy CI machines


def _body_like(fps=30, seconds=6.0, seed=7):
    """Shoulders and hips on a torso that sways and turns slowly (0.2-0.5 Hz); each limb below them swinging
    faster (1.5-2.5 Hz) about its root; the rest still. (T,33,3) metres, hip-centred like world landmarks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    X = np.tile(rng.normal(0, 0.3, (1, 33, 3)), (len(t), 1, 1))
    yaw = 0.5 * np.sin(2 * np.pi * 0.3 * t)
    for side, x in (("left", 1), ("right", -1)):
        for root, height, below in (("shoulder", -0.5, ("elbow", "wrist", "pinky", "index", "thumb")),
                                    ("hip", 0.0, ("knee", "ankle", "heel", "foot_index"))):
            half = 0.18 if root == "shoulder" else 0.1
            base = np.stack([x * half * np.cos(yaw), np.full_like(t, height), x * half * np.sin(yaw)], -1)
            X[:, INDEX[f"{side}_{root}"]] = base
            swing = 0.4 * np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * t + rng.uniform(0, 6))
            for k, name in enumerate(below, 1):
                X[:, INDEX[f"{side}_{name}"]] = base + 0.15 * k * np.stack(
                    [np.zeros_like(t), np.cos(swing), np.sin(swing)], -1)
    return X


def test_shoulders_and_hips_keep_the_torsos_pace_and_carry_their_limbs():
    """The torso turns slower than the limbs swing: the shoulders and hips are smoothed longer (TORSO_STRETCH),
    and what hangs below each moves with it, so every limb keeps the direction the usual smoothing gives it."""
    fps = 30
    truth = _body_like(fps)
    track = make_track(truth + np.random.default_rng(8).normal(0, 0.015, truth.shape), fps)
    paced, _ = smooth_track(track)
    alike, _ = smooth_track(track, torso_stretch=1.0)
    P, A = paced.world_landmarks.astype(np.float64), alike.world_landmarks.astype(np.float64)
    jitter = lambda x: float(np.linalg.norm(np.diff(x, 2, axis=0), axis=-1).mean())  # noqa: E731
    for side in ("left", "right"):
        for root, limb in (("shoulder", ("elbow", "wrist", "index")), ("hip", ("knee", "ankle", "heel"))):
            j = INDEX[f"{side}_{root}"]
            assert jitter(P[:, j]) < 0.6 * jitter(A[:, j])
            assert rms(P[:, j], truth[:, j]) < rms(A[:, j], truth[:, j])
            for name in limb:  # the limb below: moved with its root, its direction from the root unchanged
                k = INDEX[f"{side}_{name}"]
                np.testing.assert_allclose(P[:, k] - P[:, j], A[:, k] - A[:, j], atol=1e-5)
    others = [i for i in range(33) if i not in {INDEX[f"{s}_{n}"] for s in ("left", "right") for n in (
        "shoulder", "elbow", "wrist", "pinky", "index", "thumb", "hip", "knee", "ankle", "heel", "foot_index")}]
    np.testing.assert_array_equal(P[:, others], A[:, others])  # the face is left as it was
    np.testing.assert_array_equal(paced.image_landmarks, alike.image_landmarks)  # and the image too
