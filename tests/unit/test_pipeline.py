"""pipeline.py: the one way through. Options built the same from the command and the panel, one Report,
the default cleaning beats the raw detector on a clip with known motion, errors from the one family."""
from dataclasses import fields
from types import SimpleNamespace

import numpy as np
import pytest
from test_fusion import limb_error_deg, make_track, pa_mpjpe, performer

from video_mocap.capture.errors import MocapError, MotionError
from video_mocap.capture.track import PoseTrack
from video_mocap.pipeline import RANGES, Options, Report, capture_report, clean, out_of_range, performer_lengths


def cli_args(**kw):
    base = dict(model="full", model_file=None, frames=None, workers=1, keep_flips=False, no_fusion=False,
                smooth="zero_phase", smooth_hz=5.0, root="hips", no_foot_lock=False, fov=None, focal_mm=None,
                rig=None, bone_map=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_options_from_the_command_and_from_the_panel_agree():
    a = Options.from_args(cli_args(model="heavy", keep_flips=True, no_fusion=True, smooth_hz=7.0, fov=50.0,
                                   frames="10:20"))
    panel = SimpleNamespace(model="heavy", fix_sides=False, fusion=False, smoothing="zero_phase", smooth_hz=7.0,
                            root_mode="hips", foot_lock=True, fov_deg=50.0, keep_partial=False)
    b = Options.from_settings(panel, frames=(10, 20))
    assert a == b
    assert a.camera == {"fov_deg": 50.0} and a.frames == (10, 20)
    assert Options.from_args(cli_args(focal_mm=26.0)).camera == {"focal_mm": 26.0}
    assert Options.from_args(cli_args(bone_map="m.json")).rig == "m.json"
    # the panel's "Known Lens" off: no lens given, as the command without --fov (read from a walk, else 60°)
    unknown = Options.from_settings(SimpleNamespace(**vars(panel), lens_known=False), frames=(10, 20))
    assert unknown.camera is None and unknown.camera == Options.from_args(cli_args(fov=None)).camera
    assert Options.from_settings(SimpleNamespace(**vars(panel), lens_known=True)).camera == {"fov_deg": 50.0}


def test_number_options_have_one_range_for_every_front_end():
    assert out_of_range("smooth_hz", 5.0) is None and out_of_range("fov_deg", None) is None
    assert out_of_range("smooth_hz", 0.0) == "0 is out of range: give 0.5 to 30 (Hz)"
    assert out_of_range("face_strength", -1) == "-1 is out of range: give 0 to 2"
    assert out_of_range("fov_deg", float("nan")).startswith("nan is out of range")
    for name, (low, high, _) in RANGES.items():  # the ends are valid, a step past them is not
        assert name in {f.name for f in fields(Options)}
        assert out_of_range(name, low) is None and out_of_range(name, high) is None
        assert out_of_range(name, low - 0.01) and out_of_range(name, high + 0.01)
    # the lens range is the field of view's, for a full-frame sensor (motion/root.py: 36 mm across)
    fov = lambda mm: 2 * np.degrees(np.arctan(18 / mm))  # noqa: E731
    assert fov(RANGES["focal_mm"][0]) == pytest.approx(RANGES["fov_deg"][1], abs=0.5)
    assert fov(RANGES["focal_mm"][1]) == pytest.approx(RANGES["fov_deg"][0], abs=0.5)


def test_report_lines_are_the_same_for_every_front_end():
    r = Report()
    r.info("person found in 3/4 frames")
    r.warning("no person in 1 of 4 frames")
    assert r.lines() == ["person found in 3/4 frames", "warning: no person in 1 of 4 frames"]
    assert r.warnings == ["no person in 1 of 4 frames"]


def test_capture_report_words_people_gaps_and_truncation():
    t = PoseTrack.empty(10, 30, (640, 480))
    t.detected[:7] = True
    t.extra.update(people_max=2, identity_jumps=1, truncated_at=10, workers=2)
    lines = capture_report(t).lines()
    assert "person found in 7/10 frames" in lines
    assert "warning: no person in 3 of 10 frames" in lines
    assert any(x.startswith("warning: 2 people in view") and "switch people 1 times" in x for x in lines)
    assert any(x.startswith("warning: the video stopped decoding at frame 10") for x in lines)


def test_nobody_in_the_take_is_one_clear_error():
    t = PoseTrack.empty(12, 30, (640, 480))
    with pytest.raises(MotionError, match="No person was found in any of the 12 frames") as exc:
        clean(t, Options())
    assert isinstance(exc.value, MocapError)


@pytest.fixture(scope="module")
def clip():
    truth = performer()
    return truth - truth[:, [23, 24]].mean(1, keepdims=True), make_track(truth, seed=3)


def test_default_cleaning_is_closer_to_the_truth_than_the_raw_detector(clip):
    truth, raw = clip
    out = clean(raw, Options())
    raw_dir, raw_pa = limb_error_deg(raw.world_landmarks, truth), pa_mpjpe(raw.world_landmarks, truth)
    dir_, pa = limb_error_deg(out.world_landmarks, truth), pa_mpjpe(out.world_landmarks, truth)
    assert dir_ <= 0.9 * raw_dir and pa <= 0.92 * raw_pa, (raw_dir, dir_, raw_pa, pa)
    # and better than switching the fusion off (what --no-fusion gives)
    plain = clean(raw, Options(fusion=False))
    assert dir_ < limb_error_deg(plain.world_landmarks, truth)
    # smoother: the mean second difference is no more than 1.5x the truth's
    jit = lambda w: np.nanmean(np.linalg.norm(np.diff(w, 2, axis=0), axis=-1))  # noqa: E731
    assert jit(out.world_landmarks) <= 1.5 * jit(truth), (jit(out.world_landmarks), jit(truth))


def test_performer_lengths_come_from_the_clip(clip):
    truth, raw = clip
    lengths = performer_lengths(clean(raw, Options()))
    from video_mocap.capture.landmarks import INDEX as I
    thigh = np.median(np.linalg.norm(truth[:, I["left_hip"]] - truth[:, I["left_knee"]], axis=-1))
    width = np.median(np.linalg.norm(truth[:, I["left_shoulder"]] - truth[:, I["right_shoulder"]], axis=-1))
    assert lengths["thigh"] == pytest.approx(thigh, rel=0.05)
    assert lengths["shoulder_width"] == pytest.approx(width, rel=0.05)
    assert set(lengths) == {"upper_arm", "forearm", "thigh", "shin", "shoulder_width", "hip_width", "torso"}
