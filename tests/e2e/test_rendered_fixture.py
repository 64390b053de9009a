"""Our own rendered fixture: a mannequin doing known motion (tools/render_mannequin.py), exact ground truth.

The fixture is rendered once with Cycles (CPU) into <repo>/.cache/fixtures/mannequin, in a child process,
and reused while tools/render_mannequin.py is unchanged (its stamp.json holds a hash of the script). The
first run renders 171 frames, 480x640, 8 samples: about 6 CPU-minutes (6 min wall on a busy 2-core machine,
about half on an idle one); afterwards the module takes under 10 s (the capture is ~5 s).

Motion (video frames, 30 fps): 0-24 arms raise sideways, 24-52 sweep forward, elbows flex; 52-94 squat
(hips down 0.28 m, knees toward the camera) and stand; 94-132 the whole body turns +45 / -45 deg about Z;
132-170 the left foot steps 0.30 m toward the camera and back. Camera level at -Y looking along +Y, so
MediaPipe's camera-aligned world axes are Blender's world axes (truth.npz R_world_from_cv).

Measured with pose_landmarker_full (all 171 frames detected; angle between the raw detected and the true
limb directions, degrees, over detected frames; 8 Cycles samples, 16 gave the same within 1 deg):

    limb         mean  median  p90   max    worst phase (mean)
    upper_arm.L  10.1   10.0  15.2  37.6   turn 12.5
    forearm.L    11.3    8.4  18.7  39.7   arms forward 15.5
    thigh.L      14.9    7.2  37.1  43.7   squat 29.7 (thighs pointing at the camera: depth)
    shin.L       14.1   15.4  18.7  29.7   rest 17.7 (ankles put ~0.13 m behind the knees)
    upper_arm.R  11.2   10.8  18.8  36.7   turn 12.7
    forearm.R     8.6    5.6  18.7  35.7   arms forward 12.5
    thigh.R      11.0    4.8  37.9  47.9   squat 30.6
    shin.R       14.2   15.6  19.9  22.8   rest 18.9
    all limbs    11.9   10.0

Most of the error is depth: knees coming toward the camera in the squat and the left foot stepping toward
it are barely seen (detected knee 0.02 m in front of the hips in the squat, truly 0.31 m).

Left/right, by hip-centred joint positions across the viewing direction: 100% of frames for every limb
(smallest margin 0.13 m, the shins at the end of the turn). With depth included the stepping left shin
would look "right" (see the test); comparing directions alone is no side test here either, as the two
legs (and often the two arms) point the same way. The truth projected with K and the camera matrix lands
within a few pixels of the detected image landmarks (medians 3-10 px), which checks the camera data.

The other motions (jump, turn, boxing, walk, walk_side, walk_high, jump_high: 75, 100, 90, 90, 90, 90 and 75
frames, 1-3 min of rendering each on 2 free cores) are rendered into their own folders and checked for their
motion; on all eight, the default processing (flips, fusion, smoothing) must beat the raw detector in limb
directions and PA-MPJPE by the margins of DEFAULT_BEATS_RAW (issue 13; measured fused ÷ raw: 0.67/0.84,
0.74/0.89, 0.87/0.93, 0.90/0.67, the walk across 0.85/0.93, the walk toward the camera 0.85/0.92, the same
seen from higher up through a wider lens 0.90/0.90, the jump seen so 0.90/0.90), with no left/right swap and
jitter at most 1.5 × the truth's (the mannequin's the highest: 1.45).
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import check_default_beats_raw, load_tool

from video_mocap.capture.landmarks import INDEX

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / ".cache" / "fixtures" / "mannequin"

# Bounds from the measurements above, with margin.
MIN_DETECTION_RATE = 0.95
PER_LIMB_MEAN_MAX_DEG = 22.0      # worst measured 14.9 (thigh.L)
ALL_LIMBS_MEAN_MAX_DEG = 16.0     # measured 11.9
REPROJECTION_MEDIAN_MAX_PX = 20.0  # measured 3-10 px

LIMBS = {
    "upper_arm.L": ("left_shoulder", "left_elbow"), "forearm.L": ("left_elbow", "left_wrist"),
    "thigh.L": ("left_hip", "left_knee"), "shin.L": ("left_knee", "left_ankle"),
    "upper_arm.R": ("right_shoulder", "right_elbow"), "forearm.R": ("right_elbow", "right_wrist"),
    "thigh.R": ("right_hip", "right_knee"), "shin.R": ("right_knee", "right_ankle"),
}


def _tool():
    return load_tool('render_mannequin')


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle_deg(u, v):
    return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name[:-1] + {"L": "R", "R": "L"}[name[-1]]


@pytest.fixture(scope="module")
def fixture_dir():
    """Render (in a child process) or reuse the cached fixture."""
    return _rendered("default")


@pytest.fixture(scope="module")
def truth(fixture_dir):
    with np.load(fixture_dir / "truth.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def track(fixture_dir, full_model):
    """The full model over the rendered video, once (about 5 s)."""
    from video_mocap.capture.segment import capture_video

    return capture_video(fixture_dir / "mannequin.mp4", "full", model_path=full_model)


@pytest.fixture(scope="module")
def detected_world(track, truth):
    """Detected world landmarks turned into Blender world axes through the camera's rotation → (T, 33, 3)."""
    return track.world_landmarks.astype(np.float64) @ truth["R_world_from_cv"].T


def test_fixture_outputs(fixture_dir, truth):
    from video_mocap.capture.landmarks import NAMES, mediapipe_to_blender
    from video_mocap.capture.video import VideoSource

    tool = _tool()
    assert tool.is_current(fixture_dir)
    stamp = json.loads((fixture_dir / "stamp.json").read_text())
    assert stamp["hash"] == tool.params_hash()
    n, (w, h) = tool.PARAMS["frames"], tool.PARAMS["resolution"]
    assert 120 <= n <= 180
    with VideoSource(fixture_dir / "mannequin.mp4") as video:
        assert (video.info.width, video.info.height) == (w, h) and video.info.fps == pytest.approx(30.0)
        assert video.info.frame_count == n
    assert tuple(truth["landmark_names"]) == NAMES
    assert float(truth["fps"]) == 30.0 and tuple(truth["frame_size"]) == (w, h) and int(truth["frame_start"]) == 1
    lm = truth["landmarks_world"]
    assert lm.shape == (n, 33, 3) and np.isfinite(lm).all()
    assert truth["landmarks_image"].shape == (n, 33, 2)
    assert truth["K"].shape == (3, 3) and truth["camera_matrix_world"].shape == (4, 4)
    # The level camera: MediaPipe's axes → Blender's is exactly mediapipe_to_blender.
    probe = np.array([[0.1, 0.2, 0.3]])
    assert np.allclose(probe @ truth["R_world_from_cv"].T, mediapipe_to_blender(probe), atol=1e-6)
    index = {name: i for i, name in enumerate(NAMES)}
    for limb, (a, b) in LIMBS.items():
        d = truth[f"dir_{limb}"]
        assert d.shape == (n, 3) and np.allclose(np.linalg.norm(d, axis=1), 1.0)
        assert np.allclose(_unit(lm[:, index[b]] - lm[:, index[a]]), d, atol=1e-5), limb
    # 1.75 m, standing on Z = 0, facing -Y (nose in front), left at +X at rest.
    bones = list(truth["bone_names"])
    assert truth["bone_tails"][0, bones.index("head"), 2] == pytest.approx(1.75, abs=0.005)
    assert lm[:, [index["left_heel"], index["right_heel"]], 2].min() == pytest.approx(0.02, abs=0.005)
    assert lm[0, index["nose"], 1] < -0.1 and lm[0, index["left_shoulder"], 0] > 0.15
    # The motion is there: squat depth, turn, step.
    hips = truth["bone_heads"][:, bones.index("hips")]
    assert hips[:, 2].min() == pytest.approx(0.95 - 0.28, abs=0.01)
    shoulders = lm[:, index["left_shoulder"]] - lm[:, index["right_shoulder"]]
    yaw = np.degrees(np.arctan2(shoulders[:, 1], shoulders[:, 0]))
    assert yaw.max() == pytest.approx(45, abs=1) and yaw.min() == pytest.approx(-45, abs=1)
    assert lm[:, index["left_ankle"], 1].min() == pytest.approx(-0.30, abs=0.01)


def test_blend_file_holds_the_mannequin(fixture_dir, truth):
    """mannequin.blend (opened in a child process: bpy state here is shared with other tests) has the
    armature, the bone-parented mesh and the action, and reproduces the truth when evaluated."""
    script = textwrap.dedent(f"""
        import json, bpy
        bpy.ops.wm.open_mainfile(filepath={str(fixture_dir / 'mannequin.blend')!r})
        scene = bpy.context.scene
        arm = bpy.data.objects["mannequin"]
        meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.parent == arm]
        action = arm.animation_data.action
        out = {{"bones": [b.name for b in arm.data.bones], "meshes": len(meshes),
               "parent_bones": sorted({{o.parent_bone for o in meshes}}), "action": action.name,
               "range": list(action.frame_range), "camera": scene.camera.name, "engine": scene.render.engine,
               "fps": scene.render.fps, "heads": {{}}}}
        for frame in (1, 76, 111, 148):
            scene.frame_set(frame)
            out["heads"][frame] = [list(arm.matrix_world @ pb.head) for pb in arm.pose.bones]
        print("JSON" + json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("JSON"))[4:])
    expected = {"hips", "spine", "chest", "neck", "head"} | {
        f"{b}.{s}" for b in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe") for s in "LR"}
    assert set(info["bones"]) == expected and info["bones"] == list(truth["bone_names"])
    assert info["meshes"] >= 15 and {"head", "hand.L", "foot.R", "chest"} <= set(info["parent_bones"])
    assert info["range"] == [1.0, float(len(truth["landmarks_world"]))]
    assert info["engine"] == "CYCLES" and info["fps"] == 30 and info["camera"]
    for frame, heads in info["heads"].items():
        assert np.allclose(heads, truth["bone_heads"][int(frame) - 1], atol=1e-4), frame


def test_person_detected_on_nearly_every_frame(track, truth):
    assert len(track) == len(truth["landmarks_world"])
    assert track.detected_fraction >= MIN_DETECTION_RATE, track.detected_fraction


def test_truth_projects_onto_detected_image_landmarks(track, truth):
    """K and the camera matrix in truth.npz are right: projected truth meets the detections in the image."""
    from video_mocap.capture.landmarks import INDEX

    w, h = truth["frame_size"]
    image = track.image_landmarks[..., :2].astype(np.float64) * (w, h)
    det = track.detected
    medians = {}
    for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_wrist", "right_wrist",
                 "left_ankle", "right_ankle", "nose"):
        e = np.linalg.norm(image[:, INDEX[name]] - truth["landmarks_image"][:, INDEX[name]], axis=1)[det]
        medians[name] = round(float(np.median(e)), 1)
    assert max(medians.values()) < REPROJECTION_MEDIAN_MAX_PX, medians


def test_limb_directions_match_truth(detected_world, track, truth):
    """Per-limb mean angle between the raw detected limb directions and the exact ones."""
    from video_mocap.capture.landmarks import INDEX

    det = track.detected
    errors = {}
    for limb, (a, b) in LIMBS.items():
        d = _unit(detected_world[:, INDEX[b]] - detected_world[:, INDEX[a]])
        errors[limb] = _angle_deg(d, truth[f"dir_{limb}"])[det]
    means = {limb: round(float(e.mean()), 1) for limb, e in errors.items()}
    assert max(means.values()) < PER_LIMB_MEAN_MAX_DEG, means
    assert np.concatenate(list(errors.values())).mean() < ALL_LIMBS_MEAN_MAX_DEG, means


def test_left_is_the_mannequins_left_on_every_frame(detected_world, track, truth):
    """Per detected frame and limb: the detected limb's two joints, hip-centred and seen across the viewing
    direction (the camera's x, y), are closer to the true limb on the same side than to the other side's.

    Depth is left out on purpose: it is where MediaPipe is weak (during the step it puts the left foot,
    0.3 m nearer the camera, level with the right one), and a side swap shows across the image anyway."""
    from video_mocap.capture.landmarks import INDEX

    to_cv = truth["R_world_from_cv"]

    def across(x):  # hip-centred, camera x (right) and y (down)
        x = x - (x[:, [INDEX["left_hip"]]] + x[:, [INDEX["right_hip"]]]) / 2
        return (x @ to_cv)[..., :2]

    det, true = across(detected_world), across(truth["landmarks_world"])
    wrong = {}
    for limb, joints in LIMBS.items():
        own = sum(np.linalg.norm(det[:, INDEX[j]] - true[:, INDEX[j]], axis=1) for j in joints)
        other = sum(np.linalg.norm(det[:, INDEX[j]] - true[:, INDEX[_mirror(j)]], axis=1) for j in joints)
        bad = np.flatnonzero(track.detected & ~(own < other))
        if len(bad):
            wrong[limb] = bad.tolist()
    assert not wrong, wrong


def test_capture_and_retarget_onto_another_rig_follow_the_known_motion(track, truth):
    """The whole chain on the rendered clip: the real full model, then the solver onto the Rigify
    metarig (another rig: other proportions, rest pose and rolls than the mannequin's). Its limb
    directions against the known motion (the camera is level and looks along +Y, so the rig's space
    is the mannequin's world), and the rig's left/right across the image on every frame."""
    bpy = pytest.importorskip("bpy")
    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.armature import add_metarig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = add_metarig(bpy.context)
    result = apply_track(bpy.context, rig, track, "metarig", root_mode="in_place")
    n = min(len(track), len(truth["dir_upper_arm.L"]))
    errors = {}
    lr_ok = []
    for i in range(n):
        bpy.context.scene.frame_set(result.frame_start + i)
        pb = rig.pose.bones
        for limb in ("upper_arm", "forearm", "thigh", "shin"):
            for side in "LR":
                got = np.array(pb[f"{limb}.{side}"].tail - pb[f"{limb}.{side}"].head)
                errors.setdefault(f"{limb}.{side}", []).append(_angle_deg(_unit(got), truth[f"dir_{limb}.{side}"][i]))
        # Left/right: the rig's left wrist and ankle are on the same side (across the image, X) as the
        # mannequin's, relative to the other side's, wherever the truth separates them by > 10 cm.
        for joint, bone in (("left_wrist", "hand.L"), ("left_ankle", "foot.L")):
            j = INDEX[joint]
            truth_dx = truth["landmarks_world"][i, j, 0] - truth["landmarks_world"][i, j + 1, 0]
            if abs(truth_dx) > 0.1:
                rig_dx = pb[bone].head.x - pb[bone.replace(".L", ".R")].head.x
                lr_ok.append(np.sign(rig_dx) == np.sign(truth_dx))
    per_limb = {k: float(np.mean(v)) for k, v in errors.items()}
    assert np.mean(list(per_limb.values())) < 15.0, per_limb
    assert max(per_limb.values()) < PER_LIMB_MEAN_MAX_DEG, per_limb
    assert len(lr_ok) > n and all(lr_ok)


_RENDERED: dict = {}


def _rendered(motion: str) -> Path:
    """The motion's fixture folder, rendered once (in a child process) or reused when current."""
    if motion not in _RENDERED:
        tool = _tool()
        folder = FIXTURE if motion == "default" else REPO / ".cache" / "fixtures" / f"mannequin_{motion}"
        _RENDERED[motion] = tool.render(folder) if motion == "default" else tool.render(folder, motion=motion)
    return _RENDERED[motion]


@pytest.mark.parametrize("motion", ["jump", "turn", "boxing", "walk", "walk_side", "walk_high", "jump_high",
                                    "walk_away"])
def test_other_motions(motion):
    """The other motions (render(..., motion=...), tools/render_mannequin.py MOTIONS), each in its own
    folder .cache/fixtures/mannequin_<motion> (about 2-3 min of rendering each on 2 free cores)."""
    from video_mocap.capture.video import VideoSource

    tool = _tool()
    assert motion in tool.MOTIONS
    folder = _rendered(motion)
    with np.load(folder / "truth.npz") as data:
        truth = {k: data[k] for k in data.files}
    lm = truth["landmarks_world"]
    n = tool.params_for(motion)["frames"]
    assert lm.shape == (n, 33, 3) and np.isfinite(lm).all()
    with VideoSource(folder / "mannequin.mp4") as video:
        assert video.info.frame_count == n
    hips = (lm[:, INDEX["left_hip"]] + lm[:, INDEX["right_hip"]]) / 2
    feet = np.min([lm[:, INDEX[f"{s}_{j}"], 2] for s in ("left", "right") for j in ("heel", "foot_index")], axis=0)
    # "walk_high" and "jump_high" are "walk" and "jump" seen by another camera: 1.9 m up, looking 12 deg down.
    high = motion.endswith("_high")
    view = truth["R_world_from_cv"] @ np.array([0.0, 0.0, 1.0])
    assert np.degrees(np.arcsin(-view[2])) == pytest.approx(12.0 if high else 0.0, abs=0.01)
    assert truth["camera_matrix_world"][2, 3] == pytest.approx(1.9 if high else tool.PARAMS["camera_location"][2])
    if motion.startswith("jump"):
        leg = tool.THIGH + tool.SHIN
        assert (hips[:, 2].max() - hips[0, 2]) / leg == pytest.approx(0.5, abs=0.02)
        assert np.linalg.norm(hips[-1, :2] - hips[0, :2]) == pytest.approx(0.65, abs=0.01)
        airborne = np.flatnonzero(feet > 0.03)  # both feet, heels and toes
        assert len(airborne) >= 15 and np.all(np.diff(airborne) == 1)
        assert hips[:, 2].argmax() in airborne
    elif motion == "boxing":
        # Feet planted all through; every straight punch ends with the arm pointing at the camera (world
        # -Y) within 35 deg, the wrist at least 0.45 m nearer it than the shoulder; the hook stays bent.
        for side in ("left", "right"):
            ankle = lm[:, INDEX[f"{side}_ankle"]]
            assert np.abs(ankle - ankle[0]).max() < 0.001
        straight = 0
        for side, _start, peak, _end, (_flex, _abd, elbow), _turn in tool.BOX_PUNCHES:
            s = "left" if side == "L" else "right"
            arm = lm[peak, INDEX[f"{s}_wrist"]] - lm[peak, INDEX[f"{s}_shoulder"]]
            if elbow <= 10:
                straight += 1
                assert -arm[1] > 0.45 and -arm[1] / np.linalg.norm(arm) > np.cos(np.radians(35))
            else:
                assert np.linalg.norm(arm) < 0.45
        assert straight >= 4
    elif motion.startswith("walk"):
        # A steady walk: the hips travel one stride (0.81 m) every 44 frames in the direction the body faces
        # (toward the camera, world -Y, for "walk"; mostly across it, +X, for "walk_side"; away from it, +Y, for
        # "walk_away"); each foot is
        # planted (not moving at all) for 27 frames of each 44 and lifted 5-9 cm between; the feet take turns.
        yaw = np.radians({"walk_side": tool.WALK_SIDE_YAW, "walk_away": tool.WALK_AWAY_YAW}.get(motion, tool.WALK_YAW))
        heading = np.array([np.sin(yaw), -np.cos(yaw)])
        travel = hips[-1, :2] - hips[0, :2]
        assert travel @ heading == pytest.approx(0.81 / 44 * (n - 1), abs=0.01)
        assert np.linalg.norm(travel - (travel @ heading) * heading) < 0.01
        planted = {}
        for side in ("left", "right"):
            ankle = lm[:, INDEX[f"{side}_ankle"]]
            still = np.linalg.norm(np.diff(ankle, axis=0), axis=1) < 1e-6
            planted[side] = np.concatenate([still, [still[-1]]])
            assert 0.5 < planted[side].mean() < 0.7
            assert 0.05 < ankle[:, 2].max() - ankle[:, 2].min() < 0.09
        assert not np.any(~planted["left"] & ~planted["right"])  # walking: never both feet in the air
        assert np.any(planted["left"] & ~planted["right"]) and np.any(planted["right"] & ~planted["left"])
    else:
        forward = np.cross(lm[:, INDEX["left_shoulder"]] - lm[:, INDEX["right_shoulder"]], [0, 0, 1])
        away = _unit(forward)[:, 1] > np.cos(np.radians(10))  # the chest faces +Y, away from the camera
        assert away.sum() >= 30 and np.all(np.diff(np.flatnonzero(away)) == 1)
        # Seen from behind, the left wrist is on the image's left (world -X) of the right one; the left arm
        # alone rises out sideways meanwhile.
        left, right = lm[:, INDEX["left_wrist"]], lm[:, INDEX["right_wrist"]]
        assert np.all(left[away, 0] < right[away, 0] - 0.3)
        raised = away & (left[:, 2] > right[:, 2] + 0.08) & (left[:, 0] < right[:, 0] - 0.8)
        assert raised.sum() >= 10


# Issue 13's promise on the rendered motions, from BENCHMARKS.md (fused, default settings): limb-direction
# error and PA-MPJPE as a share of the raw detector's (measured in session 8 0.78/0.90, 0.74/0.87, 0.87/0.93,
# 0.89/0.80; in session 9, with still feet held, 0.67/0.84, 0.74/0.89, 0.87/0.93, 0.90/0.67).
# The walks (added in session 8): across the view 0.85/0.93 (jitter 1.35× the truth's, with the hidden far arm
# and leg smoothed longer: motion/filters.py); toward the camera 0.87/0.95 since the detector's compressed depth
# order is read against its offset (motion/lift.py; 0.985/1.00 before), 0.85/0.92 with still feet held
# (motion/fusion.py). Seen from 1.9 m up, tilted 12° down, through a 50° lens (session 9): the walk 0.90/0.90,
# the jump 0.90/0.90. The walk away from the camera, seen from behind (session 12, the lens read from the walk):
# 0.87/0.79.
DEFAULT_BEATS_RAW = {"default": (0.75, 0.90), "jump": (0.82, 0.93), "turn": (0.93, 0.98), "boxing": (0.95, 0.75),
                     "walk": (0.92, 0.96), "walk_side": (0.89, 0.96), "walk_high": (0.95, 0.95),
                     "jump_high": (0.95, 0.95), "walk_away": (0.92, 0.86)}


@pytest.mark.parametrize("motion", ["default", "jump", "turn", "boxing", "walk", "walk_side", "walk_high",
                                    "jump_high", "walk_away"])
def test_default_output_is_closer_to_the_truth_than_the_detector(motion, full_model):
    """The full model over each rendered motion, then the default processing (pipeline.clean: flips,
    fusion, smoothing), measured like the benchmark (tools/bench_accuracy.py) against the exact truth:
    limb-direction error and PA-MPJPE both lower than the raw detector's by the margins of
    DEFAULT_BEATS_RAW, no left/right swap, jitter at most 1.5 × the truth's."""
    from video_mocap.capture.segment import capture_video

    folder = _rendered(motion)
    with np.load(folder / "truth.npz") as data:
        landmarks = data["landmarks_world"]
    truth = landmarks[:, [INDEX[j] for j in load_tool("bench_accuracy").JOINTS]]
    raw = capture_video(folder / "mannequin.mp4", "full", model_path=full_model)
    check_default_beats_raw(raw, truth, motion, DEFAULT_BEATS_RAW[motion])


@pytest.mark.parametrize("motion", ["jump", "jump_high"])
def test_the_rendered_jump_leaves_the_floor(motion, full_model):
    """Issue 13's flight on the real detector: the jump (hips rising 0.5 leg lengths, both feet off the floor for
    15+ frames), seen by the level camera and by the higher, tilted one, processed as by default
    (pipeline.process) onto a rig of other proportions: the baked hips rise within 25 % of the performer's
    (leg lengths), and no foot is planted while both of the performer's are in the air."""
    from synthetic import BONE_MAP, make_rig

    from video_mocap.capture.segment import capture_video
    from video_mocap.pipeline import Options, process

    tool = _tool()
    folder = _rendered(motion)
    with np.load(folder / "truth.npz") as data:
        lm = data["landmarks_world"]
    raw = capture_video(folder / "mannequin.mp4", "full", model_path=full_model)
    n = min(len(raw), len(lm))
    raw, lm = raw.sliced(0, n), lm[:n]
    rig = make_rig("T", scale=1.15, seed=4)
    solution = process(raw, rig, BONE_MAP, Options()).solution
    hips = (lm[:, INDEX["left_hip"], 2] + lm[:, INDEX["right_hip"], 2]) / 2
    standing = np.arange(8)
    true_rise = (hips.max() - hips[standing].mean()) / (tool.THIGH + tool.SHIN)
    z = solution.root_offset[:, 2]
    baked_rise = (z.max() - z[standing].mean()) / (0.92 * 1.15)
    assert 0.45 < true_rise < 0.55
    print(f"\n{motion}: hips rose {baked_rise:.2f} leg lengths (the performer {true_rise:.2f})")
    assert abs(baked_rise - true_rise) < 0.25 * true_rise, (baked_rise, true_rise)
    feet = np.min([lm[:, INDEX[f"{s}_{j}"], 2] for s in ("left", "right") for j in ("heel", "foot_index")], axis=0)
    flight = feet > 0.03
    for side in ("L", "R"):
        assert not (solution.contacts[side] & flight).any()


def _swapped_frames(track, truth_image) -> np.ndarray:
    """(T,) bool: frames where a body half's image landmarks sit nearer the truth's with left and right
    exchanged than as labelled (truth_image (T,33,2) pixels)."""
    from video_mocap.motion.sides import HALVES

    im = track.image_landmarks[..., :2] * np.array(track.frame_size, float)
    out = np.zeros(len(track), bool)
    for pairs in HALVES.values():
        a = [p for p, _ in pairs] + [q for _, q in pairs]
        b = [q for _, q in pairs] + [p for p, _ in pairs]
        as_is = np.nanmean(np.linalg.norm(im[:, a] - truth_image[:, a], axis=-1), axis=1)
        exchanged = np.nanmean(np.linalg.norm(im[:, b] - truth_image[:, a], axis=-1), axis=1)
        out |= exchanged < as_is
    return out


@pytest.mark.parametrize("motion", ["walk", "turn", "boxing", "jump_high"])
@pytest.mark.parametrize("half", [None, "lower"])
@pytest.mark.parametrize("fraction", [0.2, 0.75])
def test_label_swaps_on_the_real_detectors_output_are_repaired(motion, half, fraction, full_model):
    """Issue 13's swaps on the real detector's output: its labels exchanged (the whole body, or the legs only) on
    a minority or a majority of the frames, in runs. The default processing (pipeline.clean: flips, fusion,
    smoothing) brings it back to at most 5 % swapped frames (by the image landmarks against the truth's) and
    to within 1.5° of the unswapped clip's limb error. Measured: 0 swapped frames left and exactly the unswapped
    clip's limb error in all 16 cases; the same swaps on the other rendered clips and the Pose2Sim cameras came
    back as well, except where they fell on
    Pose2Sim cam02's own front/back confusion (frames ~35-75), where the two mistakes add up to a body
    mirrored in depth with the right labels and the repair keeps 28 frames of that stretch exchanged."""
    from synthetic import exchange_sides, swap_rows

    from video_mocap.capture.segment import capture_video
    from video_mocap.pipeline import Options, clean

    bench = load_tool("bench_accuracy")
    folder = _rendered(motion)
    with np.load(folder / "truth.npz") as data:
        landmarks, image = data["landmarks_world"], data["landmarks_image"]
    raw = capture_video(folder / "mannequin.mp4", "full", model_path=full_model)
    n = min(len(raw), len(landmarks))
    raw, truth, image = raw.sliced(0, n), landmarks[:n, [INDEX[j] for j in bench.JOINTS]], image[:n]
    assert _swapped_frames(raw, image).mean() <= 0.05  # the detector's own (the turn: legs crossing, 1-2 frames)
    rows = swap_rows(n, fraction, seed=int(100 * fraction) + len(motion))
    bad = exchange_sides(raw, rows, half)
    assert _swapped_frames(bad, image)[rows].mean() >= 0.9
    unswapped = bench.metrics(bench.joints_from_track(clean(raw, Options())), truth)
    repaired_track = clean(bad, Options())
    repaired = bench.metrics(bench.joints_from_track(repaired_track), truth)
    left = _swapped_frames(repaired_track, image)
    print(f"\n{motion} {half or 'whole'} {fraction}: swapped {len(rows)} → {left.sum()} of {n} frames; limb error "
          f"{repaired['dir']:.2f}° (unswapped {unswapped['dir']:.2f}°)")
    assert left.mean() <= 0.05
    assert repaired["dir"] <= unswapped["dir"] + 1.5, (repaired["dir"], unswapped["dir"])
