"""Real footage: the full BlazePose model on the Pose2Sim demo (4 calibrated cameras, 3D reference).

Checks, per camera, in the camera frame given by the calibration (x right, y down, z forward, the axes of
MediaPipe's world landmarks):
(a) per-limb direction error against the reference;
(b) left/right: the detected left limbs match the reference left limbs, not the right ones;
(c) the calibration handling: the reference projected with cv2.projectPoints lands on the detected
    hips and shoulders, and the TRC → calibration axis permutation is the only one that does.

The reference is Pose2Sim's own triangulation of 2D keypoints from another detector, with its own idea of
where a hip or a shoulder is: a good reference (a few cm), not truth. TRC frame i is video frame i.

Measured with pose_landmarker_full (100 frames per camera; medians over frames, in degrees):

    limb          cam01  cam02  cam03  cam04
    upper_arm_L    20.7   20.5   14.4   25.2
    upper_arm_R    15.3   45.7*  11.4   29.7
    forearm_L      30.1   27.5   17.7   33.6
    forearm_R      12.5   17.7   24.9   12.0
    thigh_L        15.5   11.2   19.9   26.9
    thigh_R        16.1   13.8    9.5   14.0
    shin_L         14.0   11.6   19.9   23.0
    shin_R          9.4   11.8   14.5   12.1
    all limbs      15.8   18.6   16.4   20.5
    image plane    ≤15.5  ≤16.2  ≤21.7  ≤17.2   (x, y only: worst limb)

Most of the error is depth: in the image plane (x, y of the directions) the medians are 3-22°, while
MediaPipe's z of a limb direction is off by up to 0.5 (unit vector) for limbs pointing towards or away
from the camera (cam04 upper arms: dz -0.42 / +0.46). Correcting for the person being off the optical
axis (5-7°) changes the medians by only ±4°, so the plain camera frame is used.

Left/right (frames whose four left limbs, summed, are closer to the reference left limbs than to the
reference right ones; same for the right limbs): cam01, cam03, cam04 100% / 100%; cam02 70% / 73%.
* cam02 is a real model failure, not a reference problem: from frame ~35 to ~75 the full model swaps the
  person's sides (in the image too: its left hip/knee/ankle sit on the reference right ones), as if it saw
  them from behind; the face is pixelated. The heavy model gets cam02 right on 100% of frames, the lite
  model on 55%. cam02 is marked xfail for (a) and (b); it still passes the image-plane and reprojection
  checks, which do not depend on the sides.

Reprojection (median over frames of the distance between projected reference and detected, in px, for the
mid-hip / mid-shoulder points, swap-proof): cam01 21.0 / 11.5, cam02 19.2 / 12.3, cam03 44.6 / 32.0,
cam04 19.2 / 7.2. cam03 has a steady offset of about (+25, +25) px (farthest camera; a small calibration
or sync error). Per joint (L/R hip, L/R shoulder) the medians are 7-46 px, 64 px at worst (cam03 right
hip). The torso is 220-265 px long in these images; 1 px is about 2 mm at the person.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
DATA = HERE.parents[3] / "shared" / "data" / "pose2sim_demo"
TRC = DATA / "S00_P00_T01_BalancingTrial_0-100.trc"
CALIB = DATA / "Calib_qualisys.toml"
FULL_MODEL = REPO / "models" / "pose_landmarker_full.task"
CAMERAS = ("cam01", "cam02", "cam03", "cam04")

pytestmark = [
    pytest.mark.skipif(not (TRC.is_file() and CALIB.is_file()
                            and all((DATA / f"{c}.mp4").is_file() for c in CAMERAS)),
                       reason=f"Pose2Sim demo data not found in {DATA}"),
    pytest.mark.skipif(not FULL_MODEL.is_file(), reason=f"{FULL_MODEL} missing: build it with 'make models'"),
]

if "video_mocap" not in sys.modules:  # normally done by conftest.py
    _spec = importlib.util.spec_from_file_location("video_mocap", REPO / "__init__.py",
                                                   submodule_search_locations=[str(REPO)])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["video_mocap"] = _module
    _spec.loader.exec_module(_module)

if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import reference as ref  # noqa: E402

# Bounds, from the measurements in the module docstring, with a margin for other CPUs / builds.
PER_LIMB_MEDIAN_MAX_DEG = 45.0     # worst measured 33.6 (cam04 forearm_L), cam02 aside
ALL_LIMBS_MEDIAN_MAX_DEG = 30.0    # worst measured 20.5 (cam04)
IMAGE_PLANE_MEDIAN_MAX_DEG = 30.0  # worst measured 21.7 (cam03 forearm_R)
LEFT_RIGHT_MIN_FRACTION = 0.90     # measured 1.00 on cam01, cam03, cam04
REPROJECTION_MEDIAN_MAX_PX = 60.0  # worst measured 44.6 (cam03 mid-hip)

CAM02_SWAP = pytest.mark.xfail(
    strict=False, reason="pose_landmarker_full swaps the person's sides on cam02 frames ~35-75 "
                         "(measured 70% of frames right; the heavy model: 100%)")
SIDED = [pytest.param(c, marks=CAM02_SWAP) if c == "cam02" else c for c in CAMERAS]


def own_side_fractions(detected: dict, expected: dict) -> dict:
    """Per side ('L', 'R'): the fraction of frames whose detected limbs of that side are closer to the
    reference limbs of the same side than to the mirrored ones."""
    fractions = {}
    for side in ("L", "R"):
        limbs = [limb for limb in ref.LIMBS if limb.endswith(side)]
        own = sum(ref.angle_deg(detected[limb], expected[limb]) for limb in limbs)
        mirrored = sum(ref.angle_deg(detected[limb], expected[ref.mirror_limb(limb)]) for limb in limbs)
        fractions[side] = float(np.mean(own < mirrored))
    return fractions


def calib_name(camera: str) -> str:
    return "cam_" + camera[3:]


@pytest.fixture(scope="module")
def reference():
    names, points = ref.load_trc(TRC)
    return names, points, ref.load_calibration(CALIB)


@pytest.fixture(scope="module")
def tracks():
    """Each camera captured once with the full model (about 3 s per camera)."""
    from video_mocap.capture.segment import capture_video

    return {c: capture_video(DATA / f"{c}.mp4", "full", model_path=FULL_MODEL) for c in CAMERAS}


def image_points(track, landmark: str) -> np.ndarray:
    """Detected image landmark in pixels → (T, 2)."""
    w, h = track.frame_size
    return track.image_landmarks[:, ref.MP_INDEX[landmark], :2].astype(np.float64) * (w, h)


def midpoint_errors_px(track, names, points, camera_params, to_world=ref.trc_to_calib_world):
    """Per frame, distance in px between the projected reference and the detected mid-hip / mid-shoulder
    (midpoints: immune to left/right swaps) → {'hip': (T,), 'shoulder': (T,)}."""
    K, dist, R, t = camera_params
    out = {}
    for part in ("hip", "shoulder"):
        mid = (ref.trc_marker(points, names, f"left_{part}") + ref.trc_marker(points, names, f"right_{part}")) / 2
        uv = ref.project_world(to_world(mid), K, dist, R, t)
        det = (image_points(track, f"left_{part}") + image_points(track, f"right_{part}")) / 2
        out[part] = np.linalg.norm(det - uv, axis=1)
    return out


def limb_directions(reference, track, camera):
    """Reference and detected limb directions in the camera's frame → (expected, detected),
    each {limb: (T, 3)}."""
    names, points, cams = reference
    expected = ref.limb_directions_camera(points, names, cams[calib_name(camera)][2])
    return expected, ref.limb_directions_mediapipe(track.world_landmarks)


def test_reference_files_parse(reference, tracks):
    names, points, cams = reference
    assert points.shape == (100, 21, 3) and np.isfinite(points).all()
    assert set(ref.TRC_TO_MP) <= set(names)
    assert sorted(cams) == [calib_name(c) for c in CAMERAS]
    for K, dist, R, t in cams.values():
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(R), 1.0)
        assert K.shape == (3, 3) and dist.shape == (4,) and t.shape == (3,)
    # Same landmark numbering as the package, and the same frames as the reference.
    from video_mocap.capture.landmarks import INDEX
    assert all(INDEX[n] == i for n, i in ref.MP_INDEX.items())
    for camera, track in tracks.items():
        assert len(track) == len(points) and track.detected.all(), camera
        w, h = track.frame_size  # portrait like the calibration (1088x1920); cam01/02 lose 8 columns
        assert h == 1920 and w in (1080, 1088), (camera, track.frame_size)


def test_axis_permutation_is_the_only_one_that_fits(reference, tracks):
    """Of the 48 signed axis permutations TRC → calibration world, only ref.trc_to_calib_world lands on the person."""
    import itertools

    names, points, cams = reference
    scores = {}
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            to_world = (lambda p, perm=perm, signs=signs: p[..., list(perm)] * np.array(signs))
            errors = [np.median(np.concatenate(list(midpoint_errors_px(
                tracks[c], names, points, cams[calib_name(c)], to_world).values()))) for c in CAMERAS]
            scores[(perm, signs)] = max(errors)
    best = min(scores, key=scores.get)
    runner_up = sorted(scores.values())[1]
    assert best == ((2, 0, 1), (1.0, 1.0, 1.0)), best  # world = (trc Z, trc X, trc Y), as the README says
    probe = np.array([1.0, 2.0, 3.0])
    assert np.allclose(ref.trc_to_calib_world(probe), [3.0, 1.0, 2.0])  # and the helper does just that
    assert scores[best] < REPROJECTION_MEDIAN_MAX_PX and runner_up > 2 * scores[best], (scores[best], runner_up)


@pytest.mark.parametrize("camera", CAMERAS)
def test_reference_projects_onto_detected_hips_and_shoulders(reference, tracks, camera):
    """(c) The calibration, the axis permutation and the image size are handled right."""
    names, points, cams = reference
    errors = midpoint_errors_px(tracks[camera], names, points, cams[calib_name(camera)])
    medians = {part: float(np.median(e)) for part, e in errors.items()}
    assert max(medians.values()) < REPROJECTION_MEDIAN_MAX_PX, medians


@pytest.mark.parametrize("camera", SIDED)
def test_limb_directions_match_reference_in_camera_frame(reference, tracks, camera):
    """(a) Per-limb median angle between detected and reference directions, camera frame."""
    expected, detected = limb_directions(reference, tracks[camera], camera)
    angles = {limb: ref.angle_deg(detected[limb], expected[limb]) for limb in ref.LIMBS}
    medians = {limb: round(float(np.median(a)), 1) for limb, a in angles.items()}
    assert max(medians.values()) < PER_LIMB_MEDIAN_MAX_DEG, medians
    assert np.median(np.concatenate(list(angles.values()))) < ALL_LIMBS_MEDIAN_MAX_DEG, medians


@pytest.mark.parametrize("camera", CAMERAS)
def test_limb_directions_match_reference_in_image_plane(reference, tracks, camera):
    """(a) without MediaPipe's depth: the directions' x, y only, where the camera alignment shows."""
    expected, detected = limb_directions(reference, tracks[camera], camera)
    medians = {}
    for limb in ref.LIMBS:
        a, b = detected[limb][:, :2], expected[limb][:, :2]
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        medians[limb] = round(float(np.median(ref.angle_deg(a, b))), 1)
    assert max(medians.values()) < IMAGE_PLANE_MEDIAN_MAX_DEG, medians


@pytest.mark.parametrize("camera", SIDED)
def test_left_limbs_are_the_persons_left(reference, tracks, camera):
    """(b) Per frame, the detected left limbs are closer to the reference left limbs than to the right ones."""
    expected, detected = limb_directions(reference, tracks[camera], camera)
    fractions = own_side_fractions(detected, expected)
    assert min(fractions.values()) >= LEFT_RIGHT_MIN_FRACTION, fractions


@pytest.mark.parametrize("camera", CAMERAS)
def test_left_right_flips_undone_in_every_camera(reference, tracks, camera):
    """The default processing undoes the detector's flips (motion/sides.py): cam02's frames ~35-75,
    swapped by the model, come back to the person's own sides; the other cameras are left as they are."""
    from video_mocap.motion.sides import fix_side_flips

    fixed, report = fix_side_flips(tracks[camera])
    expected, detected = limb_directions(reference, fixed, camera)
    fractions = own_side_fractions(detected, expected)
    assert min(fractions.values()) >= 0.97, (fractions, report.flipped)
    if camera != "cam02":
        assert report.frames == 0, report.flipped
        assert not report.uncertain and not report.messages, report.messages
    else:
        assert report.frames >= 20, report.flipped
        # a front/back confusion (consistent handedness): undone by continuity, and said to be unsure
        assert len(report.backwards) >= 20 and report.messages, (report.backwards, report.messages)


def test_fusion_passes_leave_every_limb_on_its_side(tracks):
    """The fusion's passes with the segment lengths are linearised; on cam04 they used to carry the right
    thigh to the other side of the hip and back on every pass (a cycle: the result depended on how many
    passes ran). With motion/lift.py keep_sides, 2, 3 or 4 passes leave every limb that has some depth
    (more than 0.1 of its length) on the same side of its parent. The still feet's hold (motion/fusion.py) is
    off for that: it is another force on the legs, under which one frame of the right thigh, level within
    0.12 of its length, is still settling after two passes (-0.12 → +0.10 → +0.08 after 2, 3, 4 passes); with
    the hold on, no more than that one limb-frame may differ."""
    from video_mocap.capture.landmarks import INDEX
    from video_mocap.motion.fusion import fuse_track
    from video_mocap.motion.lift import CHAINS

    def sides(track, **kwargs):
        world = fuse_track(track, knees=False, **kwargs)[0].world_landmarks.astype(np.float64)
        d = np.stack([world[:, INDEX[c]] - world[:, INDEX[p]] for p, c, _, _ in CHAINS], 1)
        z = d[..., 2] / np.linalg.norm(d, axis=-1)
        return np.where(np.abs(z) > 0.1, np.sign(z), 0.0)

    track = tracks["cam04"]
    kept = [sides(track, iterations=k, stance=False) for k in (2, 3, 4)]
    assert all(int((kept[0] * other < 0).sum()) == 0 for other in kept[1:])
    held = [sides(track, iterations=k) for k in (2, 3, 4)]
    assert all(int((held[0] * other < 0).sum()) <= 1 for other in held[1:])
    unguarded = [sides(track, iterations=k, sides=False, stance=False) for k in (2, 3)]
    assert int((unguarded[0] * unguarded[1] < 0).sum()) >= 5   # the cycle the guard removes


# Issue 13's promise on real footage, from BENCHMARKS.md (fused, default settings, the filtered reference):
# limb-direction error and PA-MPJPE as a share of the raw detector's; bounds with margin.
TRC_FILTERED = DATA / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc"
DEFAULT_BEATS_RAW = {"cam01": (0.86, 0.90), "cam02": (0.55, 0.72), "cam03": (0.90, 0.93), "cam04": (0.92, 0.88)}


def reference_joints(reference, camera: str, joints) -> np.ndarray:
    """The benchmark's reference (the Butterworth-filtered TRC: the raw markers jitter 40 mm/fr²) for these
    joints, (T,len(joints),3) in the camera's frame (x right, y down, z away, metres)."""
    _, _, calib = reference
    names, points = ref.load_trc(TRC_FILTERED)
    K, dist, R, t = calib[calib_name(camera)] if calib_name(camera) in calib else calib[camera]
    return ref.to_camera(np.stack([ref.trc_marker(points, names, j) for j in joints], 1), R, t)


@pytest.mark.skipif(not TRC_FILTERED.is_file(), reason=f"{TRC_FILTERED} missing")
@pytest.mark.parametrize("camera", CAMERAS)
def test_default_output_is_closer_to_the_reference_than_the_detector(reference, tracks, camera):
    """The default processing (flips, fusion, smoothing: pipeline.clean) against the raw landmarks, with
    the benchmark's measures (tools/bench_accuracy.py): limb-direction error and PA-MPJPE both lower than
    the raw detector's by the margins of DEFAULT_BEATS_RAW, no left/right swap, jitter at most 1.5 × the
    (Butterworth-filtered) reference's."""
    from conftest import check_default_beats_raw, load_tool

    truth = reference_joints(reference, camera, load_tool("bench_accuracy").JOINTS)
    check_default_beats_raw(tracks[camera], truth, camera, DEFAULT_BEATS_RAW[camera])


@pytest.mark.skipif(not TRC_FILTERED.is_file(), reason=f"{TRC_FILTERED} missing")
def test_a_weak_detector_side_does_not_hold_cam04s_arm_behind_the_body(reference, tracks):
    """On cam04 frames 33–52 the image shows the left upper arm pointing away from the camera (the person has
    their back to it), and the detector sees it nearly level with the shoulder (0.04 of its length, summed
    over the run) on the wrong side, 30–59° behind the body. The lift's reach (motion/lift.py) takes the
    other side: the arm in front, as in the reference."""
    from video_mocap.capture.landmarks import INDEX
    from video_mocap.motion.fusion import fuse_track

    truth = reference_joints(reference, "cam04", ("left_shoulder", "left_elbow"))
    want = truth[:, 1] - truth[:, 0]
    run = slice(33, 53)

    def upper_arm(**kwargs):
        fused, report = fuse_track(tracks["cam04"], **kwargs)
        world = fused.world_landmarks.astype(np.float64)
        got = world[:, INDEX["left_elbow"]] - world[:, INDEX["left_shoulder"]]
        cos = np.sum(got * want, -1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
        return np.degrees(np.arccos(np.clip(cos, -1, 1))), np.sign(got[:, 2]) == np.sign(want[:, 2]), report

    error, side, report = upper_arm()
    error_off, side_off, report_off = upper_arm(reach=False)
    print(f"\ncam04 left upper arm, frames 33-52: {error_off[run].mean():.1f}° → {error[run].mean():.1f}°; "
          f"depth side right on {side_off[run].mean():.0%} → {side[run].mean():.0%}; "
          f"joint-frames from the reach {report.sides_from_reach}")
    assert report_off.sides_from_reach == 0 and report.sides_from_reach >= 15
    assert side[run].mean() >= 0.9 and side_off[run].mean() <= 0.1
    assert error[run].mean() < error_off[run].mean() - 20
    outside = np.r_[0:33, 53:len(error)]                      # elsewhere the arm is where it was
    assert abs(error[outside].mean() - error_off[outside].mean()) < 1.0
