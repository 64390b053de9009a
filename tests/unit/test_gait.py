"""The lens read from a walk (motion.gait): a walk toward the camera gives the camera's focal length;
clips that do not walk, or walk across the view, keep the guess and say why; the pipeline uses the
estimate for the fusion and the root motion, and a lens the user gives wins."""
import numpy as np
import pytest
from synthetic import BONE_MAP, make_rig

from video_mocap.capture.landmarks import INDEX as I
from video_mocap.capture.track import PoseTrack
from video_mocap.motion.gait import WALK_RATIO, lens_from_walk
from video_mocap.motion.root import intrinsics
from video_mocap.pipeline import Options, Report, clean, process

THIGH = SHIN = 0.42
SIZE = (480, 640)  # portrait, as the rendered fixtures
CAMERA_HEIGHT = 1.0


def _knee(hip, ankle, forward):
    """Two-bone leg: the knee bent forward so that thigh and shin keep their lengths."""
    mid = (hip + ankle) / 2
    half = np.linalg.norm(ankle - hip, axis=-1, keepdims=True) / 2
    return mid + forward * np.sqrt(np.clip(THIGH ** 2 - half ** 2, 0.0, None))


def walker(seconds=4.0, fps=30.0, steps_per_min=90.0, heading_deg=0.0, start=8.5, travels=True, step_scale=1.0):
    """A person walking toward a level camera at the origin (Blender axes: the camera looks along +Y from
    CAMERA_HEIGHT), heading_deg turned from straight at it (90: across the view), with the step length the
    walk ratio gives for their legs (× step_scale); travels=False: the same steps on the spot. → (T,33,3)
    Blender axes."""
    T = int(seconds * fps)
    t = np.arange(T) / fps
    a = np.radians(heading_deg)
    forward = np.array([np.sin(a), -np.cos(a), 0.0])        # toward the camera (−Y) when heading 0
    left = np.array([np.cos(a), np.sin(a), 0.0])            # the person's left (+X facing the camera)
    up = np.array([0.0, 0.0, 1.0])
    step = WALK_RATIO * (THIGH + SHIN) * steps_per_min * step_scale
    stride_s = 120.0 / steps_per_min
    speed = step * steps_per_min / 60.0 if travels else 0.0
    origin = np.array([0.0, start, 0.0])
    pelvis = origin + np.outer(speed * t, forward) + np.outer(0.9 + 0.015 * np.cos(4 * np.pi * t / stride_s), up)
    P = np.zeros((T, 33, 3))
    ankles = {}
    for side, sign, offset in (("left", 1, 0.0), ("right", -1, 0.5)):
        cycle = t / stride_s + offset
        n, phase = np.floor(cycle), cycle % 1.0
        planted = origin + np.outer(speed * stride_s * (n - offset + 0.3), forward)
        swing = np.clip((phase - 0.6) / 0.4, 0.0, 1.0)
        along = np.where(phase < 0.6, 0.0, speed * stride_s * (1 - np.cos(np.pi * swing)) / 2)
        lift = np.where(phase < 0.6, 0.0, 0.08 * np.sin(np.pi * swing))
        ankle = planted + np.outer(along, forward) + np.outer(0.08 + lift, up) + sign * 0.1 * left
        if not travels:  # on the spot: lifted and put back where it was
            ankle = origin + np.outer(0.08 + lift, up) + sign * 0.1 * left
        hip = pelvis + sign * 0.1 * left
        ankles[side] = ankle
        P[:, I[f"{side}_hip"]] = hip
        P[:, I[f"{side}_knee"]] = _knee(hip, ankle, forward)
        P[:, I[f"{side}_ankle"]] = ankle
        P[:, I[f"{side}_heel"]] = ankle - 0.05 * forward - 0.05 * up
        P[:, I[f"{side}_foot_index"]] = ankle + 0.15 * forward - 0.06 * up
        shoulder = pelvis + 0.5 * up + sign * 0.18 * left
        P[:, I[f"{side}_shoulder"]] = shoulder
        P[:, I[f"{side}_elbow"]] = shoulder - 0.28 * up
        P[:, I[f"{side}_wrist"]] = shoulder - 0.54 * up
        for k, name in enumerate(("pinky", "index", "thumb")):
            P[:, I[f"{side}_{name}"]] = shoulder - (0.6 + 0.02 * k) * up + 0.02 * forward
        P[:, I[f"{side}_eye"]] = pelvis + 0.72 * up + sign * 0.03 * left + 0.08 * forward
        P[:, I[f"{side}_eye_inner"]] = pelvis + 0.72 * up + sign * 0.015 * left + 0.08 * forward
        P[:, I[f"{side}_eye_outer"]] = pelvis + 0.72 * up + sign * 0.045 * left + 0.07 * forward
        P[:, I[f"{side}_ear"]] = pelvis + 0.7 * up + sign * 0.07 * left
    P[:, I["nose"]] = pelvis + 0.68 * up + 0.1 * forward
    P[:, I["mouth_left"]] = pelvis + 0.64 * up + 0.025 * left + 0.09 * forward
    P[:, I["mouth_right"]] = pelvis + 0.64 * up - 0.025 * left + 0.09 * forward
    return P


def track_of(P, fov_deg, fps=30.0):
    """What a perfect detector reports for Blender-axes points P seen by the level camera of fov_deg."""
    cam = np.stack([P[..., 0], -(P[..., 2] - CAMERA_HEIGHT), P[..., 1]], -1)   # x right, y down, z forward
    K = intrinsics(SIZE, fov_deg)
    uvw = cam @ K.T
    image = np.concatenate([uvw[..., :2] / uvw[..., 2:] / np.array(SIZE), np.zeros_like(uvw[..., :1])], -1)
    hips = (cam[:, I["left_hip"]] + cam[:, I["right_hip"]]) / 2
    track = PoseTrack.empty(len(P), fps, SIZE)
    track.world_landmarks[:] = cam - hips[:, None]
    track.image_landmarks[:] = image
    track.visibility[:] = 1.0
    track.presence[:] = 1.0
    track.detected[:] = True
    return track


@pytest.mark.parametrize("true_fov", [30.0, 75.0])
def test_a_walk_toward_the_camera_gives_the_lens(true_fov):
    track = track_of(walker(), true_fov)
    lens = lens_from_walk(track)
    true_focal = intrinsics(SIZE, true_fov)[0, 0]
    assert lens.reason == ""
    assert abs(lens.cadence - 90.0) < 2.0
    assert abs(lens.focal_px / true_focal - 1) < 0.08, (lens.focal_px, true_focal)
    assert abs(lens.fov_deg - true_fov) < 3.0


def test_a_walk_turned_partly_away_from_the_camera_axis_still_gives_the_lens():
    lens = lens_from_walk(track_of(walker(heading_deg=20.0), 30.0))
    assert abs(lens.fov_deg - 30.0) < 3.0, lens


@pytest.mark.parametrize("step_scale", [0.75, 1.3])
def test_a_walker_off_the_usual_walk_ratio_is_still_nearer_than_the_guess(step_scale):
    """Short or long steps for the cadence (the rendered fixture's walk ratio is 0.63× the usual): the
    focal length comes out off by about 1 / step_scale, still nearer the truth than the 60° guess."""
    true_focal = intrinsics(SIZE, 30.0)[0, 0]
    lens = lens_from_walk(track_of(walker(step_scale=step_scale), 30.0))
    off = abs(np.log(lens.focal_px / true_focal))
    assert abs(off - abs(np.log(step_scale))) < 0.05, lens
    assert off < abs(np.log(intrinsics(SIZE, 60.0)[0, 0] / true_focal))


def test_a_walk_across_the_view_keeps_the_guess_and_says_why():
    lens = lens_from_walk(track_of(walker(heading_deg=80.0, start=6.0), 30.0))
    assert lens.focal_px is None and lens.camera is None
    assert "across the view" in lens.reason
    assert abs(lens.cadence - 90.0) < 2.0


def test_stepping_on_the_spot_keeps_the_guess():
    lens = lens_from_walk(track_of(walker(travels=False), 30.0))
    assert lens.focal_px is None
    assert lens.reason.startswith("no walk")


def test_a_clip_too_short_or_without_steps_keeps_the_guess():
    short = lens_from_walk(track_of(walker(seconds=1.5), 30.0))
    assert short.focal_px is None and "two seconds" in short.reason
    still = walker()
    still[:] = still[:1]  # one pose held: no rhythm at all
    assert lens_from_walk(track_of(still, 30.0)).focal_px is None


def test_a_take_that_stands_before_and_after_its_walk_is_read_over_the_walk():
    walk = walker()
    P = np.concatenate([np.repeat(walk[:1], 45, 0), walk, np.repeat(walk[-1:], 45, 0)])  # 1.5 s still each end
    lens = lens_from_walk(track_of(P, 30.0))
    assert abs(lens.fov_deg - 30.0) < 3.0, lens


def test_missing_frames_do_not_break_the_estimate():
    track = track_of(walker(), 30.0)
    track.detected[40:55] = False
    track.world_landmarks[40:55] = np.nan
    track.image_landmarks[40:55] = np.nan
    track.visibility[40:55] = 0.0
    lens = lens_from_walk(track)
    assert abs(lens.fov_deg - 30.0) < 3.0, lens


def _travel(motion, rig_leg):
    root = motion.solution.root_offset
    return np.linalg.norm(root[-1, :2] - root[0, :2]) / rig_leg


def test_the_pipeline_walks_the_true_distance_with_the_lens_it_read():
    """The root motion of a walk toward a 30° camera: with the lens read from the walk the rig travels
    the true distance (in leg lengths); under the 60° guess it travelled two thirds of it. A lens the user
    gives wins, and the report says which lens was used."""
    P = walker()
    track = track_of(P, 30.0)
    true_travel = np.linalg.norm(P[-1, I["left_hip"], :2] - P[0, I["left_hip"], :2]) / (THIGH + SHIN)
    rig = make_rig("A")
    rig_leg = float(np.linalg.norm(rig.bones["leg_l"].head - rig.bones["knee_l"].head)
                    + np.linalg.norm(rig.bones["knee_l"].head - rig.bones["foot_l"].head))
    options = Options(smoothing="none", fix_sides=False)
    report = Report()
    read = process(track, rig, BONE_MAP, options, report)
    assert abs(report.facts["lens"]["fov_deg"] - 30.0) < 3.0 and abs(report.facts["lens"]["cadence"] - 90) < 2
    still_report = Report()
    clean(track_of(walker(travels=False), 30.0), Options(), still_report)  # no walk: said why, no NaN
    assert still_report.facts["lens"]["fov_deg"] is None and still_report.facts["lens"]["reason"].startswith("no walk")
    assert "camera" in read.track.extra
    assert any("lens read from the walk" in m.text for m in report.messages)
    guessed_report = Report()
    guessed = process(track, rig, BONE_MAP, Options(smoothing="none", fix_sides=False, fov_deg=60.0),
                      guessed_report)
    assert "lens" not in guessed_report.facts  # the user's lens: nothing read
    assert abs(_travel(read, rig_leg) / true_travel - 1) < 0.15, (_travel(read, rig_leg), true_travel)
    assert _travel(guessed, rig_leg) / true_travel < 0.75


def test_clean_leaves_the_input_track_alone_and_keeps_a_given_lens():
    track = track_of(walker(), 30.0)
    before = dict(track.extra)
    cleaned = clean(track, Options(fov_deg=45.0), Report())
    assert track.extra == before
    assert cleaned.extra["camera"] == {"fov_deg": 45.0}
