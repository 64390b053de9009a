"""Render the project's own test fixture: a mannequin doing KNOWN motion, seen by a static camera.

    .venv/bin/python tools/render_mannequin.py --out .cache/fixtures/mannequin [--motion NAME] [--force]

or, from Python, `render(out_dir, force=False, in_process=False, motion="default") -> Path` (this module
imports without bpy; the build runs in a child process `sys.executable tools/render_mannequin.py`, so the
caller's bpy session, if any, is left alone). `motion` is one of MOTIONS ("default", "jump", "turn",
"boxing", "walk", "walk_side"), each rendered into its own folder (by convention .cache/fixtures/mannequin,
mannequin_jump, mannequin_turn, mannequin_boxing, mannequin_walk, mannequin_walk_side). Work is skipped when the outputs exist and `stamp.json` holds the hash of this file's
source, tools/render_common.py's (the scaffolding both fixture renderers share) and the motion's
parameters (params_for(motion)): edit either script and the fixture is rebuilt.

The scene, built from scratch in an empty Blender scene:
- a humanoid armature, 1.75 m, facing -Y (left = +X), standing on Z = 0, with its own bone names
  (hips, spine, chest, neck, head, upper_arm/forearm/hand/thigh/shin/foot/toe .L/.R);
- a mannequin skinned to it by bone parenting (one rigid mesh per bone: capsules and ellipsoids):
  skin-toned head with hair, eyes, brows, nose, mouth and ears; a T-shirt with short sleeves, trousers,
  hands with thumbs, shoes;
- a ground plane, a sun and an ambient world, a static level camera at -Y looking along +Y (walk_high: higher and tilted down).

The motion (scene frames 1..N, video frame i = scene frame 1 + i, 30 fps), from smooth curves keyed on
every frame as bone quaternions (hips also located): rest; both arms raise sideways to horizontal, sweep
forward, elbows flex and extend; a squat (hips down 0.28 m, torso leaning, arms forward); stand up and
lower the arms; the whole body turns +45 deg then -45 deg about Z and back; the left foot steps forward
0.30 m (hips follow by half) and comes back. Legs come from two-bone IK, so the feet stay planted.

The other motions (same scene, camera and render settings; only the frame count differs):
- jump (75 frames, 2.5 s): a standing forward jump, the body facing +X turned 25 deg toward the camera
  (JUMP_YAW 65 deg), so it travels mostly across the image (left to right). 0-8 stand; 8-24 crouch (hips
  down 0.20 m and back 0.04 m, torso leaning 30 deg, arms swung 45 deg back); 24-29 push-off (arms swing
  forward); 29-47 flight: both feet leave the ground (heels/toes > 3 cm up on frames 30-46), the ankles
  hang from the hips, tucked up to 0.20 m and swinging from behind to ahead, toes pointing down; the hips
  follow a parabola (g about 9.7 m/s^2) peaking 0.42 m = half a leg length (thigh + shin 0.84 m) above
  standing height at frame 38, arms forward-up 75 deg; 47-53 landing 0.65 m further on, knees bending
  (hips 0.24 m down); 53-66 stand up, arms down; 66-74 stand. Planted feet do not move at all.
- turn (100 frames, 3.3 s): marching on the spot (a step every 11 frames, left first at frame 4, the
  ankle lifted 0.14 m, arms swinging 30 deg against the legs) while turning 180 deg to the back view over
  frames 8-36, holding it over 36-64 (37 frames within 10 deg of facing straight away), where the LEFT
  arm alone rises out sideways to 50 deg (frames 40-62, in the image's left half, as seen from behind)
  while the right keeps swinging; turning back over 64-92 (the other way round) and standing. A planted
  foot stays where it was put and only swivels with the body.
- boxing (90 frames, 3 s): an orthodox guard, the left side turned 25 deg toward the camera, bouncing on
  planted feet; a jab, a cross (the body turning square), a left hook, a double jab and a cross, all
  thrown at the camera, so the arms point at it (the foreshortened case the fusion's lift is for).
- walk (90 frames, 3 s): a steady walk toward the camera (the body turned 15 deg to its left), from
  6.2 m to 4.6 m away, cut from the middle of a walk: a gait cycle of 44 frames (0.81 m stride), each foot
  planted for 27 frames from its heel strike 0.25 m ahead of the hips to its toe-off as far behind, then
  swinging forward, lifted up to 0.08 m; the hips at a constant 0.55 m/s, bobbing 1.5 cm, knees bent
  (the hips 2.5-5.5 cm below standing), the arms swinging 20 deg against the legs. Planted feet do not move.
- walk_side (90 frames, 3 s): the same walk across the view (the body turned 75 deg: left to right,
  slightly toward the camera), from 0.8 m left of the centre to 0.8 m right; the camera stands 6 m away
  (not 4.6) so the whole body stays in the picture.
- walk_high (90 frames, 3 s): the walk toward the camera seen by another camera: 1.9 m up, tilted 12 deg
  down, with a wider lens (50 deg across the frame's height instead of 30): the held-out clips' cameras are
  not this scene's, and the fusion's lens guess (60 deg) is nearer this one.
- jump_high (75 frames, 2.5 s): the jump seen by that camera (HIGH_CAMERA).
- walk_away (90 frames, 3 s): the same walk away from the camera, seen from behind (the body turned 195 deg,
  drifting a little to the image's left), from 4.6 m to 6.2 m away, through the default 30 deg camera.

Outputs in the folder:
- mannequin.mp4    mp4v, 30 fps, PARAMS resolution; frames/NNNN.png are the rendered frames
- truth.npz        ground truth, all in Blender world axes (metres):
    fps, frame_size (w, h), frame_start (scene frame of video frame 0)
    landmarks_world (T,33,3)  the 33 BlazePose landmarks where the mannequin has them (all 33 here:
                              eyes inner/outer, mouth corners, knuckles and thumb are points on the mesh)
    landmarks_image (T,33,2)  the same projected to pixels (x right, y down, origin top-left corner)
    camera_matrix_world (4,4) Blender camera (looks along its -Z, up +Y)
    K (3,3)                   OpenCV intrinsics for the camera frame x right, y down, z forward
    R_world_from_cv (3,3)     rotation taking directions in that OpenCV camera frame to world
    dir_<bone> (T,3)          unit world direction head -> tail of the limb bones (dir_upper_arm.L, ...)
    bone_names (B,), bone_heads (T,B,3), bone_tails (T,B,3)   every bone, posed, world space
    landmark_names (33,)
- mannequin.blend  armature + mesh + action + camera + lights (render settings included)
- stamp.json       the hash the cache check compares, the motion, and timings
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
if str(HERE.parent) not in sys.path:  # also when loaded by path (tests, benchmarks)
    sys.path.insert(0, str(HERE.parent))
import render_common as rc  # noqa: E402

PARAMS = {
    "fps": 30,
    "frames": 171,                 # scene frames 1..171 = 5.7 s
    "resolution": (480, 640),      # width, height: portrait
    "samples": 8,
    "denoise": False,
    "camera_location": (0.0, -4.6, 1.0),
    "camera_vertical_fov_deg": 30.0,
    "camera_pitch_deg": 0.0,       # tilted down by this much
    "version": 1,
}

# Another camera for the walk and the jump: 1.9 m up, tilted 12 deg down, a wider lens.
HIGH_CAMERA = {"camera_location": (0.0, -4.6, 1.9), "camera_pitch_deg": 12.0, "camera_vertical_fov_deg": 50.0}

# The motions (see the module docstring); each may override PARAMS (the default overrides nothing).
MOTIONS = ("default", "jump", "turn", "boxing", "walk", "walk_side", "walk_high", "jump_high", "walk_away")
MOTION_PARAMS = {
    "default": {},
    "jump": {"frames": 75},        # 2.5 s
    "turn": {"frames": 100},       # 3.3 s
    "boxing": {"frames": 90},      # 3.0 s
    "walk": {"frames": 90},        # 3.0 s
    "walk_side": {"frames": 90, "camera_location": (0.0, -6.0, 1.0)},   # 3.0 s; the camera 6 m away: in view
    "walk_high": {"frames": 90, **HIGH_CAMERA},
    "jump_high": {"frames": 75, **HIGH_CAMERA},
    "walk_away": {"frames": 90},   # 3.0 s
}

OUTPUTS = ("mannequin.mp4", "truth.npz", "mannequin.blend")
LIMB_BONES = ("upper_arm.L", "forearm.L", "thigh.L", "shin.L", "upper_arm.R", "forearm.R", "thigh.R", "shin.R")

# ---------------------------------------------------------------------------------------------------------
# Cache


def params_for(motion: str = "default") -> dict:
    """PARAMS with the motion's own overrides (MOTION_PARAMS) and its name."""
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; one of {MOTIONS}")
    return {**PARAMS, **MOTION_PARAMS[motion], "motion": motion}


def params_hash(motion: str = "default") -> str:
    return rc.params_hash(HERE, params_for(motion))


def is_current(out_dir: Path, motion: str = "default") -> bool:
    return rc.is_current(out_dir, OUTPUTS, params_hash(motion))


def render(out_dir: Path, force: bool = False, in_process: bool = False, motion: str = "default") -> Path:
    """Build the fixture of `motion` (one of MOTIONS) into out_dir unless it is already there and
    current; → out_dir.

    By default the build runs in a child Python (bpy can be imported once per process, and the build
    resets the scene); in_process=True builds here (what the command line does).
    """
    params_for(motion)  # an unknown motion fails here, before any work
    return rc.render(HERE, out_dir, ["--motion", motion], f"mannequin fixture ({motion})", "mannequin",
                     lambda d: is_current(d, motion), lambda d: _build(d, motion), force, in_process)


# ---------------------------------------------------------------------------------------------------------
# Rig: rest pose (metres, Blender axes: the mannequin faces -Y, its left is +X)

ARM_REST_ELEV = 10.0  # degrees out from straight down, in the rest pose
_e = math.radians(ARM_REST_ELEV)
_ARM_DIR = np.array([math.sin(_e), 0.0, -math.cos(_e)])
SHOULDER = np.array([0.19, 0.0, 1.44])
UPPER_ARM, FOREARM, HAND = 0.29, 0.25, 0.18
ELBOW = SHOULDER + UPPER_ARM * _ARM_DIR
WRIST = ELBOW + FOREARM * _ARM_DIR
HAND_TIP = WRIST + HAND * _ARM_DIR
HIP = np.array([0.09, 0.0, 0.92])
KNEE = np.array([0.09, 0.0, 0.50])
ANKLE = np.array([0.09, 0.0, 0.08])
BALL = np.array([0.09, -0.13, 0.025])
TOE = np.array([0.09, -0.20, 0.02])
THIGH, SHIN = float(np.linalg.norm(KNEE - HIP)), float(np.linalg.norm(ANKLE - KNEE))


def _mirror(p):
    p = np.array(p, float)
    p[0] = -p[0]
    return p


def _side(p, side):
    return np.array(p, float) if side == "L" else _mirror(p)


def bone_specs():
    """[(name, parent, head, tail, connected)] in parent-first order."""
    z = np.array
    bones = [
        ("hips", None, z([0, 0, 0.95]), z([0, 0, 1.05]), False),
        ("spine", "hips", z([0, 0, 1.05]), z([0, 0, 1.22]), True),
        ("chest", "spine", z([0, 0, 1.22]), z([0, 0, 1.45]), True),
        ("neck", "chest", z([0, 0, 1.45]), z([0, 0, 1.56]), True),
        ("head", "neck", z([0, 0, 1.56]), z([0, 0, 1.75]), True),
    ]
    for s in ("L", "R"):
        bones += [
            (f"upper_arm.{s}", "chest", _side(SHOULDER, s), _side(ELBOW, s), False),
            (f"forearm.{s}", f"upper_arm.{s}", _side(ELBOW, s), _side(WRIST, s), True),
            (f"hand.{s}", f"forearm.{s}", _side(WRIST, s), _side(HAND_TIP, s), True),
            (f"thigh.{s}", "hips", _side(HIP, s), _side(KNEE, s), False),
            (f"shin.{s}", f"thigh.{s}", _side(KNEE, s), _side(ANKLE, s), True),
            (f"foot.{s}", f"shin.{s}", _side(ANKLE, s), _side(BALL, s), True),
            (f"toe.{s}", f"foot.{s}", _side(BALL, s), _side(TOE, s), True),
        ]
    return bones


def _hand_points(side):
    """Knuckles and thumb tip at rest (palm faces the thigh, thumb forward = -Y)."""
    w, u = _side(WRIST, side), _side(_ARM_DIR, side)
    fwd = np.array([0.0, -1.0, 0.0])
    return {
        "index": w + 0.095 * u + 0.030 * fwd,
        "pinky": w + 0.085 * u - 0.030 * fwd,
        "thumb": w + 0.075 * u + 0.055 * fwd,
    }


def landmark_points():
    """BlazePose landmark name → (bone, rest world position) or ('head'/'tail' of a bone)."""
    pts = {
        "nose": ("head", np.array([0.0, -0.112, 1.635])),
        "mouth_left": ("head", np.array([0.024, -0.088, 1.600])),
        "mouth_right": ("head", np.array([-0.024, -0.088, 1.600])),
    }
    for s, side in (("L", "left"), ("R", "right")):
        pts[f"{side}_eye_inner"] = ("head", _side([0.018, -0.088, 1.668], s))
        pts[f"{side}_eye"] = ("head", _side([0.033, -0.088, 1.668], s))
        pts[f"{side}_eye_outer"] = ("head", _side([0.048, -0.082, 1.668], s))
        pts[f"{side}_ear"] = ("head", _side([0.080, 0.0, 1.645], s))
        pts[f"{side}_shoulder"] = (f"upper_arm.{s}", "head")
        pts[f"{side}_elbow"] = (f"forearm.{s}", "head")
        pts[f"{side}_wrist"] = (f"hand.{s}", "head")
        hp = _hand_points(s)
        pts[f"{side}_index"] = (f"hand.{s}", hp["index"])
        pts[f"{side}_pinky"] = (f"hand.{s}", hp["pinky"])
        pts[f"{side}_thumb"] = (f"hand.{s}", hp["thumb"])
        pts[f"{side}_hip"] = (f"thigh.{s}", "head")
        pts[f"{side}_knee"] = (f"shin.{s}", "head")
        pts[f"{side}_ankle"] = (f"foot.{s}", "head")
        pts[f"{side}_heel"] = (f"foot.{s}", _side([0.09, 0.055, 0.02], s))
        pts[f"{side}_foot_index"] = (f"toe.{s}", "tail")
    return pts


# ---------------------------------------------------------------------------------------------------------
# Motion: smooth curves of a few parameters → each bone's world rotation relative to rest (G)


def _curve(keys):
    """Piecewise cosine ease between (frame, value) keys: C1, zero slope at every key."""
    frames = np.array([k[0] for k in keys], float)
    values = np.array([k[1] for k in keys], float)

    def f(t):
        if t <= frames[0]:
            return values[0]
        if t >= frames[-1]:
            return values[-1]
        i = int(np.searchsorted(frames, t, side="right")) - 1
        a = (t - frames[i]) / (frames[i + 1] - frames[i])
        a = 0.5 - 0.5 * math.cos(math.pi * a)
        return values[i] + (values[i + 1] - values[i]) * a

    return f


# Video frame index t (0-based; scene frame t + 1).
ARM_ELEV = _curve([(0, ARM_REST_ELEV), (6, ARM_REST_ELEV), (24, 90), (78, 90), (94, 22), (158, 22), (168, 15)])
ARM_AZIM = _curve([(0, 0), (24, 0), (36, 90), (78, 90), (94, 0)])          # 0 sideways, 90 forward
ELBOW_FLEX = _curve([(0, 8), (36, 8), (44, 80), (52, 8), (62, 25), (88, 25), (94, 12)])
SQUAT = _curve([(0, 0), (52, 0), (72, 1), (78, 1), (94, 0)])
YAW = _curve([(0, 0), (94, 0), (104, 45), (122, -45), (132, 0)])
STEP_FOOT = _curve([(0, 0), (132, 0), (146, 1), (154, 1), (168, 0)])      # left ankle forward, 0..1
STEP_HIPS = _curve([(0, 0), (136, 0), (150, 1), (154, 1), (168, 0)])      # hips follow, 0..1
STEP_LENGTH, SQUAT_DROP, STEP_LIFT = 0.30, 0.28, 0.08
LEAN_SPINE, LEAN_CHEST = 12.0, 14.0                                       # degrees forward at full squat


_rot = rc.rot


def _swing(a, b):
    """Smallest rotation taking unit a to unit b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        return np.eye(3)
    return _rot(axis, math.degrees(math.atan2(s, c)))


def _leg_ik(hip, ankle, forward):
    """Knee position for thigh/shin lengths, bending toward `forward`."""
    d_vec = ankle - hip
    d = float(np.linalg.norm(d_vec))
    u = d_vec / d
    cos_a = min(1.0, (THIGH ** 2 + d ** 2 - SHIN ** 2) / (2 * THIGH * d))
    alpha = math.acos(cos_a)
    b = forward - np.dot(forward, u) * u
    b /= np.linalg.norm(b)
    return hip + THIGH * (math.cos(alpha) * u + math.sin(alpha) * b)


def pose_at(t: float):
    """→ ({bone: G (3x3) world rotation relative to rest}, hips world offset (3,))."""
    Rz = _rot([0, 0, 1], YAW(t))
    s, step_f, step_h = SQUAT(t), STEP_FOOT(t), STEP_HIPS(t)
    hips_off_body = np.array([0.0, -0.5 * STEP_LENGTH * step_h, -SQUAT_DROP * s - 0.03 * step_h])
    G = {"hips": Rz}
    lean_s, lean_c = LEAN_SPINE * s, LEAN_CHEST * s
    G["spine"] = Rz @ _rot([1, 0, 0], lean_s)
    G["chest"] = Rz @ _rot([1, 0, 0], lean_s + lean_c)
    G["neck"] = Rz @ _rot([1, 0, 0], 0.4 * (lean_s + lean_c))
    G["head"] = Rz @ _rot([1, 0, 0], 0.1 * (lean_s + lean_c))
    e, a = math.radians(ARM_ELEV(t)), math.radians(ARM_AZIM(t))
    for side, sx in (("L", 1.0), ("R", -1.0)):
        target = np.array([sx * math.sin(e) * math.cos(a), -math.sin(e) * math.sin(a), -math.cos(e)])
        rest = _side(_ARM_DIR, side)
        G[f"upper_arm.{side}"] = Rz @ _swing(rest, target)
        G[f"forearm.{side}"] = G[f"upper_arm.{side}"] @ _rot([1, 0, 0], -ELBOW_FLEX(t))
        G[f"hand.{side}"] = G[f"forearm.{side}"]
        # legs, in the body frame (yaw removed), from two-bone IK
        hip = _side(HIP, side) + hips_off_body
        ankle = _side(ANKLE, side).copy()
        if side == "L":
            ankle += [0.0, -STEP_LENGTH * step_f, STEP_LIFT * math.sin(math.pi * step_f) ** 2]
        knee = _leg_ik(hip, ankle, np.array([0.0, -1.0, 0.0]))
        G[f"thigh.{side}"] = Rz @ _swing(_side(KNEE - HIP, side), knee - hip)
        G[f"shin.{side}"] = Rz @ _swing(_side(ANKLE - KNEE, side), ankle - knee)
        G[f"foot.{side}"] = Rz
        G[f"toe.{side}"] = Rz
    return G, Rz @ hips_off_body


def _quat(m):
    """3x3 rotation → (w, x, y, z)."""
    w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2, m[2, 1] - m[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] + m[1, 1] - m[2, 2])) / 2, m[0, 2] - m[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] - m[1, 1] + m[2, 2])) / 2, m[1, 0] - m[0, 1])
    q = np.array([w, x, y, z])
    return q / np.linalg.norm(q)


# ---------------------------------------------------------------------------------------------------------
# The other motions (MOTIONS): curves with nonzero slopes where the body keeps moving, legs from the same IK


def _pchip(keys):
    """Monotone cubic (Fritsch-Carlson) through (frame, value) keys: C1, no overshoot, flat outside."""
    x = np.array([k[0] for k in keys], float)
    y = np.array([k[1] for k in keys], float)
    h, d = np.diff(x), np.diff(y) / np.diff(x)
    m = np.zeros_like(y)
    for i in range(1, len(y) - 1):
        if d[i - 1] * d[i] > 0:
            w1, w2 = 2 * h[i] + h[i - 1], h[i] + 2 * h[i - 1]
            m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i])
    return _hermite([(x[i], y[i], m[i]) for i in range(len(y))])


def _hermite(knots):
    """Cubic Hermite through (frame, value, slope per frame) knots; constant outside. Exact for a
    parabola given its end values and slopes (the flight of the jump)."""
    x = np.array([k[0] for k in knots], float)

    def f(t):
        if t <= x[0]:
            return float(knots[0][1])
        if t >= x[-1]:
            return float(knots[-1][1])
        i = int(np.searchsorted(x, t, side="right")) - 1
        (t0, p0, m0), (t1, p1, m1) = knots[i], knots[i + 1]
        h = t1 - t0
        s = (t - t0) / h
        return ((2 * s ** 3 - 3 * s ** 2 + 1) * p0 + (s ** 3 - 2 * s ** 2 + s) * h * m0
                + (-2 * s ** 3 + 3 * s ** 2) * p1 + (s ** 3 - s ** 2) * h * m1)

    return f


def _arm_dir(side, flex, abd):
    """Unit upper-arm direction in the body frame: `flex` degrees forward (negative: backward) in the
    sagittal plane, `abd` degrees out sideways; (0, ARM_REST_ELEV) is the rest pose."""
    sx = 1.0 if side == "L" else -1.0
    f, a = math.radians(flex), math.radians(abd)
    return np.array([sx * math.sin(a), -math.cos(a) * math.sin(f), -math.cos(a) * math.cos(f)])


def _assemble(yaw, hips_off_body, lean, arms, ankles, foot_pitch=None):
    """Pose from body-frame parameters (the body frame is the world turned by -yaw about Z):
    yaw (deg), hips offset (3,), lean (deg, forward: 45% spine, 55% chest), arms {side: (flex, abd,
    elbow flex)}, ankle targets {side: (3,)}, foot pitch {side: deg, toes down}.
    → ({bone: G}, hips world offset), like pose_at."""
    Rz = _rot([0, 0, 1], yaw)
    lean_s, lean_c = 0.45 * lean, 0.55 * lean
    G = {"hips": Rz,
         "spine": Rz @ _rot([1, 0, 0], lean_s),
         "chest": Rz @ _rot([1, 0, 0], lean_s + lean_c),
         "neck": Rz @ _rot([1, 0, 0], 0.4 * (lean_s + lean_c)),
         "head": Rz @ _rot([1, 0, 0], 0.1 * (lean_s + lean_c))}
    for side in ("L", "R"):
        flex, abd, elbow = arms[side]
        G[f"upper_arm.{side}"] = Rz @ _swing(_side(_ARM_DIR, side), _arm_dir(side, flex, abd))
        G[f"forearm.{side}"] = G[f"upper_arm.{side}"] @ _rot([1, 0, 0], -elbow)
        G[f"hand.{side}"] = G[f"forearm.{side}"]
        hip = _side(HIP, side) + hips_off_body
        ankle = np.asarray(ankles[side], float)
        knee = _leg_ik(hip, ankle, np.array([0.0, -1.0, 0.0]))
        G[f"thigh.{side}"] = Rz @ _swing(_side(KNEE - HIP, side), knee - hip)
        G[f"shin.{side}"] = Rz @ _swing(_side(ANKLE - KNEE, side), ankle - knee)
        pitch = (foot_pitch or {}).get(side, 0.0)
        G[f"foot.{side}"] = Rz @ _rot([1, 0, 0], pitch)
        G[f"toe.{side}"] = G[f"foot.{side}"]
    return G, Rz @ hips_off_body


# Jump: a standing forward jump, seen from the side-front (the body faces JUMP_YAW: +X turned 25 deg
# toward the camera), travelling JUMP_DISTANCE from JUMP_START (forward, metres, from the origin).
# Video frames: 0-8 stand; 8-24 crouch (hips down 0.20 m, arms back, lean); 24-29 push-off; 29-47
# flight (both feet off the ground, legs tucked, hips on a parabola peaking JUMP_APEX above standing);
# 47-53 landing, knees bending (hips down 0.24 m); 53-66 stand up; 66-74 stand.
JUMP_YAW, JUMP_DISTANCE, JUMP_START = 65.0, 0.65, -0.40
JUMP_APEX = 0.5 * (THIGH + SHIN)                   # 0.42 m: half a leg length
JUMP_T0, JUMP_T1 = 29.0, 47.0                      # take-off, touch-down (18 frames = 0.6 s of flight)
JUMP_REACH, JUMP_FOOT_OFFSET, JUMP_TUCK = 0.83, 0.10, 0.20   # hip-ankle at take-off; ankle behind/ahead
_JUMP_PHI = math.asin(JUMP_FOOT_OFFSET / JUMP_REACH)
_JUMP_H_TO = ANKLE[2] + JUMP_REACH * math.cos(_JUMP_PHI) - HIP[2]   # hips offset at take-off (-0.016)
_JUMP_V0 = 4 * (JUMP_APEX - _JUMP_H_TO) / (JUMP_T1 - JUMP_T0)      # m/frame up at take-off
_JUMP_VX = (JUMP_DISTANCE - 2 * JUMP_FOOT_OFFSET) / (JUMP_T1 - JUMP_T0)
JUMP_HIPS_Z = _hermite([(0, 0, 0), (8, 0, 0), (24, -0.20, 0), (JUMP_T0, _JUMP_H_TO, _JUMP_V0),
                        (JUMP_T1, _JUMP_H_TO, -_JUMP_V0), (53, -0.24, 0), (66, 0, 0)])
JUMP_HIPS_F = _hermite([(0, 0, 0), (8, 0, 0), (24, -0.04, 0), (JUMP_T0, JUMP_FOOT_OFFSET, _JUMP_VX),
                        (JUMP_T1, JUMP_DISTANCE - JUMP_FOOT_OFFSET, _JUMP_VX), (53, JUMP_DISTANCE, 0)])
JUMP_LEAN = _pchip([(0, 0), (8, 0), (24, 30), (JUMP_T0, 10), (38, 8), (JUMP_T1, 15), (53, 28), (66, 0)])
JUMP_ARM_FLEX = _pchip([(0, 0), (8, 0), (24, -45), (JUMP_T0, 35), (38, 75), (JUMP_T1, 30), (53, 15), (66, 0)])
JUMP_ARM_ABD = _pchip([(0, ARM_REST_ELEV), (24, 12), (38, 18), (53, 14), (66, ARM_REST_ELEV)])
JUMP_ELBOW = _pchip([(0, 8), (8, 8), (24, 20), (38, 30), (53, 25), (66, 8)])


def pose_jump(t: float):
    z, f = JUMP_HIPS_Z(t), JUMP_HIPS_F(t)
    hips_off = np.array([0.0, -(JUMP_START + f), z])
    pitch = 0.0
    if t <= JUMP_T0 or t >= JUMP_T1:   # planted: before at 0, after at JUMP_DISTANCE
        foot_f = 0.0 if t <= JUMP_T0 else JUMP_DISTANCE
        foot_z = ANKLE[2]
    else:                              # in the air: hung from the hips, tucked, swinging forward
        s = (t - JUMP_T0) / (JUMP_T1 - JUMP_T0)
        reach = JUMP_REACH - JUMP_TUCK * math.sin(math.pi * s)
        phi = -_JUMP_PHI * math.cos(math.pi * s)
        foot_f = f + reach * math.sin(phi)
        foot_z = HIP[2] + z - reach * math.cos(phi)
        pitch = 25.0 * math.sin(math.pi * s)
    ankles = {side: np.array([_side(ANKLE, side)[0], -(JUMP_START + foot_f), foot_z]) for side in ("L", "R")}
    arm = (JUMP_ARM_FLEX(t), JUMP_ARM_ABD(t), JUMP_ELBOW(t))
    return _assemble(JUMP_YAW, hips_off, JUMP_LEAN(t), {"L": arm, "R": arm}, ankles, {"L": pitch, "R": pitch})


# Turn: marching on the spot (a step every 11 frames, the ankle lifted 0.14 m, arms swinging against the
# legs), turning 180 deg to the back view (frames 8-36), holding it (36-64; in the middle, 40-62, the
# left arm rises out sideways to 50 deg and down, the right keeps swinging), turning back (64-92), stand.
# A planted foot stays where it was put (it only swivels with the body); a swinging foot moves to its
# place at the yaw of the middle of its next stance.
TURN_YAW = _curve([(0, 0), (8, 0), (36, 180), (64, 180), (92, 0)])
TURN_STEPS = [(4 + 11 * k, 4 + 11 * k + 8, "LR"[k % 2]) for k in range(8)]   # (lift-off, touch-down, side)
TURN_LIFT, TURN_SWING_DEG, TURN_LAST = 0.14, 30.0, 99
TURN_HIPS_Z = _curve([(0, 0), (4, -0.03), (89, -0.03), (95, 0)])
TURN_ARM_RAISE = _curve([(0, 0), (40, 0), (46, 1), (56, 1), (62, 0)])   # left arm out sideways, 0..1
TURN_MARCH = _curve([(0, 0), (2, 0), (8, 1), (85, 1), (91, 0)])         # arm swing envelope
TURN_ELBOW = _curve([(0, 8), (6, 20), (88, 20), (95, 8)])


def _turn_foot_yaw(side):
    """The yaw (deg) a foot's position follows: constant while planted, eased while in the air."""
    swings = [(a, b) for a, b, s in TURN_STEPS if s == side]
    keys, start = [], 0
    for a, b in swings + [(TURN_LAST, TURN_LAST)]:
        mid = TURN_YAW(0.5 * (start + a)) if a < TURN_LAST else TURN_YAW(TURN_LAST)
        keys += [(start, mid), (a, mid)] if a > start else [(start, mid)]
        start = b
    return _curve(keys)


TURN_FOOT_YAW = {side: _turn_foot_yaw(side) for side in ("L", "R")}


def pose_turn(t: float):
    yaw = TURN_YAW(t)
    Rz_inv = _rot([0, 0, 1], -yaw)
    ankles = {}
    for side in ("L", "R"):
        world = _rot([0, 0, 1], TURN_FOOT_YAW[side](t)) @ _side(ANKLE, side)
        for a, b, s in TURN_STEPS:
            if s == side and a < t < b:
                world = world + [0.0, 0.0, TURN_LIFT * math.sin(math.pi * (t - a) / (b - a)) ** 2]
        ankles[side] = Rz_inv @ world
    # Arm swing: +1 when the left leg is up (the right arm then swings forward), -1 for the right.
    a0, b0, _ = TURN_STEPS[0]
    phase = 2 * math.pi * (t - 0.5 * (a0 + b0)) / (2 * 11.0) + math.pi / 2
    swing = TURN_SWING_DEG * TURN_MARCH(t) * math.sin(phase)
    raise_l = TURN_ARM_RAISE(t)
    elbow = TURN_ELBOW(t)
    arms = {"L": (-swing * (1 - raise_l), 12 + 38 * raise_l, elbow * (1 - 0.5 * raise_l)),
            "R": (swing, 12.0, elbow)}
    hips_off = np.array([0.0, 0.0, TURN_HIPS_Z(t)])
    return _assemble(yaw, hips_off, 0.0, arms, ankles)


# Boxing: an orthodox stance, the left side toward the camera (the body turned BOX_YAW), hands up in a
# guard, bouncing lightly on planted feet; punches thrown at the camera: a jab (left, frames 10-18), a
# cross (right, 22-32, the body turning square), a left hook (38-48, the arm out sideways and bent, the
# body turning further), a double jab (52-56, 56-60), a cross (64-74), then the guard. The fists travel
# up to 0.5 m toward the camera, so the forearms and upper arms point at it: the foreshortened case.
BOX_YAW = -25.0
BOX_GUARD = {"L": (50.0, 10.0, 105.0), "R": (45.0, 10.0, 110.0)}   # (flex, abd, elbow) per side
BOX_PUNCHES = [  # (side, start, peak, end, (flex, abd, elbow) at the peak, body yaw change at the peak)
    ("L", 10, 14, 18, (85.0, 8.0, 5.0), -5.0),
    ("R", 22, 27, 32, (85.0, 5.0, 5.0), 28.0),
    ("L", 38, 43, 48, (80.0, 60.0, 95.0), -25.0),
    ("L", 52, 54, 56, (85.0, 8.0, 5.0), -5.0),
    ("L", 56, 58, 60, (85.0, 8.0, 5.0), -5.0),
    ("R", 64, 69, 74, (85.0, 5.0, 5.0), 28.0),
]
BOX_FEET = {"L": np.array([0.15, -0.16, ANKLE[2]]), "R": np.array([-0.15, 0.16, ANKLE[2]])}  # body frame


def _box_amount(t, start, peak, end):
    """0 → 1 (cosine ease out to the peak) → 0 (back to the guard)."""
    if t <= start or t >= end:
        return 0.0
    a = (t - start) / (peak - start) if t <= peak else (end - t) / (end - peak)
    return 0.5 - 0.5 * math.cos(math.pi * a)


def pose_boxing(t: float):
    arms = {side: np.array(BOX_GUARD[side]) for side in ("L", "R")}
    yaw = BOX_YAW
    for side, a, p, b, target, turn in BOX_PUNCHES:
        k = _box_amount(t, a, p, b)
        arms[side] = arms[side] + k * (np.array(target) - np.array(BOX_GUARD[side]))
        yaw += k * turn
    Rz_inv = _rot([0, 0, 1], -yaw)
    ankles = {side: Rz_inv @ (_rot([0, 0, 1], BOX_YAW) @ BOX_FEET[side]) for side in ("L", "R")}
    hips_off = np.array([0.0, 0.0, -0.06 + 0.015 * math.sin(2 * math.pi * t / 15.0)])
    return _assemble(yaw, hips_off, 8.0, {side: tuple(v) for side, v in arms.items()}, ankles)


# Walk: a steady walk toward the camera, the body turned WALK_YAW to its left (so it drifts to the image's
# left, seen a little from its right side); walk_side: the same walk across the view (WALK_SIDE_YAW, from
# WALK_SIDE_START). Both are cut from the middle of a walk: a gait cycle of WALK_CYCLE
# frames (two steps), each foot planted for WALK_STANCE of them (heel strike WALK_REACH ahead of the hips,
# toe-off as far behind) and swinging, lifted up to WALK_LIFT, over the rest; the hips at a constant speed,
# bobbing (highest at mid-stance), the arms swinging WALK_SWING_DEG against the legs.
WALK_YAW, WALK_START = 15.0, -1.6
WALK_SIDE_YAW, WALK_SIDE_START = 75.0, -0.8
WALK_AWAY_YAW, WALK_AWAY_START = 195.0, 0.0
WALK_CYCLE, WALK_STANCE, WALK_REACH, WALK_LIFT, WALK_SWING_DEG = 44.0, 27.0, 0.25, 0.08, 20.0
WALK_SPEED = 2 * WALK_REACH / WALK_STANCE                  # m/frame: the hips pass the planted foot in stance
WALK_STRIKE = {"L": 0.0, "R": WALK_CYCLE / 2}              # a heel strike of each foot (frames)


def _walk_foot(side, t, start=WALK_START):
    """(forward position, lift) of a foot at frame t: planted from its heel strike for WALK_STANCE frames,
    then swinging one stride forward to the next strike."""
    k = math.floor((t - WALK_STRIKE[side]) / WALK_CYCLE)
    strike = WALK_STRIKE[side] + k * WALK_CYCLE
    planted = start + WALK_SPEED * strike + WALK_REACH
    if t - strike <= WALK_STANCE:
        return planted, 0.0
    s = (t - strike - WALK_STANCE) / (WALK_CYCLE - WALK_STANCE)
    stride = WALK_SPEED * WALK_CYCLE
    return planted + stride * (0.5 - 0.5 * math.cos(math.pi * s)), WALK_LIFT * math.sin(math.pi * s)


def pose_walk(t: float, yaw: float = WALK_YAW, start: float = WALK_START):
    phase = 2 * math.pi * (t - WALK_STRIKE["L"]) / WALK_CYCLE
    bob = -0.04 + 0.015 * math.cos(2 * phase - 2 * math.pi * (WALK_STANCE / 2) / WALK_CYCLE)
    hips_off = np.array([0.0, -(start + WALK_SPEED * t), bob])
    ankles = {}
    for side in ("L", "R"):
        f, lift = _walk_foot(side, t, start)
        ankles[side] = np.array([_side(ANKLE, side)[0], -f, ANKLE[2] + lift])
    swing = WALK_SWING_DEG * math.cos(phase)   # at the left heel strike the left leg is ahead, the left arm back
    arms = {"L": (-swing, 12.0, 15.0 + 10.0 * max(0.0, -math.cos(phase))),
            "R": (swing, 12.0, 15.0 + 10.0 * max(0.0, math.cos(phase)))}
    return _assemble(yaw, hips_off, 3.0, arms, ankles)


def pose_walk_side(t: float):
    return pose_walk(t, WALK_SIDE_YAW, WALK_SIDE_START)


def pose_walk_away(t: float):
    return pose_walk(t, WALK_AWAY_YAW, WALK_AWAY_START)


POSES = {"default": pose_at, "jump": pose_jump, "turn": pose_turn, "boxing": pose_boxing, "walk": pose_walk,
         "walk_side": pose_walk_side, "walk_high": pose_walk, "jump_high": pose_jump, "walk_away": pose_walk_away}


# ---------------------------------------------------------------------------------------------------------
# Mesh primitives (numpy): vertices and faces in world rest space


def _frame(axis):
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, axis)
    x /= np.linalg.norm(x)
    return x, np.cross(axis, x), axis


def ellipsoid(center, radii, rot=None, seg=24, rings=14):
    rot = np.eye(3) if rot is None else rot
    verts = []
    for i in range(1, rings):
        th = math.pi * i / rings
        for j in range(seg):
            ph = 2 * math.pi * j / seg
            verts.append([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
    verts += [[0, 0, 1], [0, 0, -1]]
    v = np.array(verts) * np.asarray(radii, float)
    v = v @ rot.T + np.asarray(center, float)
    top, bottom = len(verts) - 2, len(verts) - 1
    faces = []
    for i in range(rings - 2):
        for j in range(seg):
            a, b = i * seg + j, i * seg + (j + 1) % seg
            faces.append([a, b, b + seg, a + seg])
    for j in range(seg):
        faces.append([top, (j + 1) % seg, j])
        last = (rings - 2) * seg
        faces.append([bottom, last + j, last + (j + 1) % seg])
    return v, faces


def capsule(p0, p1, r0, r1, seg=20, cap_rings=6, body_rings=6, squash=1.0):
    """Tapered capsule p0 → p1 with hemispherical ends; squash < 1 flattens it across (second axis)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    x, y, z = _frame(p1 - p0)
    length = float(np.linalg.norm(p1 - p0))
    profile = []  # (height along axis, radius)
    for i in range(cap_rings):
        th = math.pi / 2 * (1 - i / cap_rings)
        profile.append((-r0 * math.sin(th), r0 * math.cos(th)))
    for i in range(body_rings + 1):
        a = i / body_rings
        profile.append((a * length, r0 + (r1 - r0) * a))
    for i in range(1, cap_rings):
        th = math.pi / 2 * i / cap_rings
        profile.append((length + r1 * math.sin(th), r1 * math.cos(th)))
    verts = [p0 - r0 * z, p1 + r1 * z]
    for h, r in profile:
        for j in range(seg):
            ph = 2 * math.pi * j / seg
            verts.append(p0 + h * z + r * math.cos(ph) * x + squash * r * math.sin(ph) * y)
    faces = []
    n = len(profile)
    for i in range(n - 1):
        for j in range(seg):
            a, b = 2 + i * seg + j, 2 + i * seg + (j + 1) % seg
            faces.append([a, a + seg, b + seg, b])
    for j in range(seg):
        faces.append([0, 2 + (j + 1) % seg, 2 + j])
        last = 2 + (n - 1) * seg
        faces.append([1, last + j, last + (j + 1) % seg])
    return np.array(verts), faces


COLORS = {  # sRGB
    "skin": (0.86, 0.62, 0.50),
    "shirt": (0.16, 0.36, 0.72),
    "trousers": (0.20, 0.20, 0.24),
    "shoes": (0.10, 0.07, 0.05),
    "hair": (0.16, 0.09, 0.05),
    "eye_white": (0.95, 0.95, 0.93),
    "iris": (0.05, 0.04, 0.03),
    "lips": (0.70, 0.30, 0.30),
    "ground": (0.62, 0.60, 0.55),
}


def mesh_parts():
    """{bone: [(verts, faces, material)]} in world rest space."""
    P = {b[0]: [] for b in bone_specs()}
    P["hips"].append((*ellipsoid([0, 0.005, 0.955], [0.165, 0.11, 0.12]), "trousers"))
    P["spine"].append((*ellipsoid([0, 0.0, 1.13], [0.148, 0.10, 0.15]), "shirt"))
    P["chest"].append((*ellipsoid([0, 0.0, 1.32], [0.175, 0.108, 0.17]), "shirt"))
    P["neck"].append((*capsule([0, 0.0, 1.44], [0, 0.0, 1.57], 0.05, 0.045), "skin"))
    head = P["head"]
    head.append((*ellipsoid([0, -0.005, 1.645], [0.076, 0.092, 0.108]), "skin"))
    head.append((*ellipsoid([0, 0.016, 1.672], [0.081, 0.088, 0.094]), "hair"))        # hair cap: back, top
    head.append((*ellipsoid([0, -0.035, 1.60], [0.058, 0.06, 0.05]), "skin"))          # jaw / chin
    head.append((*capsule([0, -0.092, 1.655], [0, -0.108, 1.628], 0.012, 0.014), "skin"))  # nose
    head.append((*ellipsoid([0, -0.084, 1.600], [0.026, 0.010, 0.008]), "lips"))
    for s in ("L", "R"):
        head.append((*ellipsoid(_side([0.033, -0.078, 1.668], s), [0.016, 0.011, 0.011]), "eye_white"))
        head.append((*ellipsoid(_side([0.033, -0.087, 1.668], s), [0.007, 0.005, 0.007]), "iris"))
        head.append((*ellipsoid(_side([0.034, -0.083, 1.688], s), [0.019, 0.006, 0.004],
                                _rot([0, 1, 0], 8 if s == "L" else -8)), "hair"))       # brows
        head.append((*ellipsoid(_side([0.079, 0.002, 1.645], s), [0.012, 0.022, 0.032]), "skin"))  # ears
    for s in ("L", "R"):
        sh, el, wr, tip = (_side(p, s) for p in (SHOULDER, ELBOW, WRIST, HAND_TIP))
        P["chest"].append((*ellipsoid(_side([0.165, 0.0, 1.425], s), [0.07, 0.075, 0.06]), "shirt"))
        P[f"upper_arm.{s}"].append((*capsule(sh, sh + 0.55 * (el - sh), 0.058, 0.054), "shirt"))  # sleeve
        P[f"upper_arm.{s}"].append((*capsule(sh, el, 0.045, 0.039), "skin"))
        P[f"forearm.{s}"].append((*capsule(el, wr, 0.038, 0.029), "skin"))
        u = _side(_ARM_DIR, s)
        # palm: an ellipsoid along the hand, thin across X (the palm faces the thigh at rest)
        x_ax = np.array([1.0, 0, 0]) - np.dot([1.0, 0, 0], u) * u
        x_ax /= np.linalg.norm(x_ax)
        palm_rot = np.stack([x_ax, np.cross(u, x_ax), u], axis=1)
        P[f"hand.{s}"].append((*ellipsoid(wr + 0.085 * u, [0.024, 0.046, 0.092], palm_rot), "skin"))
        hp = _hand_points(s)
        P[f"hand.{s}"].append((*capsule(wr + 0.03 * u + [0, -0.03, 0], hp["thumb"], 0.014, 0.011), "skin"))
        hip, knee, ankle = (_side(p, s) for p in (HIP, KNEE, ANKLE))
        P[f"thigh.{s}"].append((*capsule(hip, knee, 0.082, 0.058), "trousers"))
        P[f"shin.{s}"].append((*capsule(knee, ankle, 0.056, 0.042), "trousers"))
        P[f"foot.{s}"].append((*ellipsoid(_side([0.09, -0.065, 0.045], s), [0.052, 0.135, 0.045]), "shoes"))
    return P


# ---------------------------------------------------------------------------------------------------------
# Blender


def _mesh_object(bpy, name, parts, materials):
    verts, faces, mat_index, slots = [], [], [], []
    for v, f, mat in parts:
        if mat not in slots:
            slots.append(mat)
        base = len(verts)
        verts.extend(np.asarray(v).tolist())
        faces.extend([[base + i for i in face] for face in f])
        mat_index.extend([slots.index(mat)] * len(f))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.validate()
    for mat in slots:
        mesh.materials.append(materials[mat])
    mesh.polygons.foreach_set("material_index", mat_index)
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def build_scene(bpy, params=PARAMS):
    from mathutils import Matrix, Vector

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    fps, n = params["fps"], params["frames"]
    scene.render.fps, scene.render.fps_base = fps, 1.0
    scene.frame_start, scene.frame_end = 1, n

    # Armature
    arm_data = bpy.data.armatures.new("mannequin")
    arm = bpy.data.objects.new("mannequin", arm_data)
    scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    arm.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    for name, parent, head, tail, connected in bone_specs():
        eb = arm_data.edit_bones.new(name)
        eb.head, eb.tail = Vector(head), Vector(tail)
        eb.roll = 0.0
        if parent:
            eb.parent = arm_data.edit_bones[parent]
            eb.use_connect = connected
    bpy.ops.object.mode_set(mode="OBJECT")

    # Mesh: one rigid piece per bone, bone-parented
    materials = {k: rc.material(bpy, k, c, 0.35 if k in ("eye_white", "iris") else 0.6) for k, c in COLORS.items()}
    for bone_name, parts in mesh_parts().items():
        if not parts:
            continue
        obj = _mesh_object(bpy, f"body_{bone_name}", parts, materials)
        bone = arm_data.bones[bone_name]
        obj.parent = arm
        obj.parent_type = "BONE"
        obj.parent_bone = bone_name
        obj.matrix_parent_inverse = (arm.matrix_world @ bone.matrix_local
                                     @ Matrix.Translation((0.0, bone.length, 0.0))).inverted()

    # Ground, light, world, camera
    gv, gf = np.array([[-4, -6, 0], [4, -6, 0], [4, 6, 0], [-4, 6, 0]], float), [[0, 1, 2, 3]]
    _mesh_object(bpy, "ground", [(gv, gf, "ground")], materials)
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.5
    sun.data.angle = math.radians(10)
    sun.rotation_euler = (math.radians(45), 0.0, math.radians(-35))
    scene.collection.objects.link(sun)
    rc.world(bpy, scene, (0.80, 0.84, 0.88), 0.9)

    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.location = params["camera_location"]
    cam.rotation_euler = (math.radians(90 - params.get("camera_pitch_deg", 0.0)), 0.0, 0.0)  # along +Y, tilted down
    cam.data.sensor_fit = "VERTICAL"
    cam.data.sensor_height = 24.0
    cam.data.lens = 12.0 / math.tan(math.radians(params["camera_vertical_fov_deg"]) / 2)
    scene.collection.objects.link(cam)
    scene.camera = cam

    # Render settings
    rc.cycles_settings(scene, params)
    scene.render.filepath = "//frames/"
    return scene, arm, cam


def animate(bpy, scene, arm, params=PARAMS):
    """Key every bone's quaternion (and the hips' location) on every frame from the motion's pose
    function (POSES)."""
    n = params["frames"]
    pose = POSES[params.get("motion", "default")]
    rest = {b.name: np.array(b.matrix_local.to_3x3()) for b in arm.data.bones}
    parent = {b.name: (b.parent.name if b.parent else None) for b in arm.data.bones}
    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
    previous = {}
    for t in range(n):
        frame = 1 + t
        G, hips_off = pose(float(t))
        for pb in arm.pose.bones:
            name = pb.name
            gp = G[parent[name]] if parent[name] else np.eye(3)
            basis = rest[name].T @ gp.T @ G[name] @ rest[name]
            q = _quat(basis)
            if name in previous and np.dot(q, previous[name]) < 0:
                q = -q
            previous[name] = q
            pb.rotation_quaternion = q.tolist()
            pb.keyframe_insert("rotation_quaternion", frame=frame, group=name)
        hips = arm.pose.bones["hips"]
        hips.location = (rest["hips"].T @ hips_off).tolist()
        hips.keyframe_insert("location", frame=frame, group="hips")
    action = arm.animation_data.action
    action.name = "mannequin_motion"


def read_truth(bpy, scene, arm, cam, params=PARAMS):
    from mathutils import Vector

    names = LANDMARK_NAMES
    n = params["frames"]
    bones = [b.name for b in arm.data.bones]
    heads = np.zeros((n, len(bones), 3))
    tails = np.zeros((n, len(bones), 3))
    lm = np.full((n, 33, 3), np.nan)
    spec = landmark_points()
    mw = arm.matrix_world
    for t in range(n):
        scene.frame_set(1 + t)
        for i, b in enumerate(bones):
            pb = arm.pose.bones[b]
            heads[t, i] = mw @ pb.head
            tails[t, i] = mw @ pb.tail
        for k, name in enumerate(names):
            if name not in spec:
                continue
            bone, where = spec[name]
            pb = arm.pose.bones[bone]
            if isinstance(where, str):
                lm[t, k] = mw @ (pb.head if where == "head" else pb.tail)
            else:
                local = arm.data.bones[bone].matrix_local.inverted() @ Vector(where)
                lm[t, k] = mw @ pb.matrix @ local
    w, h = params["resolution"]
    proj = rc.projection(cam, params, lm)
    out = {
        "fps": np.float64(params["fps"]),
        "frame_size": np.array([w, h]),
        "frame_start": np.int64(scene.frame_start),
        "landmarks_world": lm,
        "landmarks_image": proj["image"],
        "landmark_names": np.array(names),
        "camera_matrix_world": proj["camera_matrix_world"],
        "K": proj["K"],
        "R_world_from_cv": proj["R_world_from_cv"],
        "bone_names": np.array(bones),
        "bone_heads": heads,
        "bone_tails": tails,
    }
    for b in LIMB_BONES + ("hand.L", "hand.R", "foot.L", "foot.R", "spine", "chest", "neck", "head"):
        i = bones.index(b)
        d = tails[:, i] - heads[:, i]
        out[f"dir_{b}"] = d / np.linalg.norm(d, axis=1, keepdims=True)
    return out


def _landmark_names() -> tuple:
    """The 33 BlazePose names, read from capture/landmarks.py by path (this tool imports nothing
    of the package itself)."""
    import runpy

    return tuple(runpy.run_path(str(REPO / "capture" / "landmarks.py"))["NAMES"])


LANDMARK_NAMES = _landmark_names()


def _build(out_dir: Path, motion: str = "default") -> None:
    bpy = rc.start_build(out_dir, "mannequin")
    params = params_for(motion)
    digest = params_hash(motion)  # of the code that runs, even if the file is edited meanwhile
    t0 = time.perf_counter()
    scene, arm, cam = build_scene(bpy, params)
    animate(bpy, scene, arm, params)
    rc.save_blend(bpy, out_dir / "mannequin.blend")
    truth = read_truth(bpy, scene, arm, cam, params)
    np.savez_compressed(out_dir / "truth.npz", **truth)
    t_build = time.perf_counter() - t0
    count, t_render = rc.finish_build(bpy, scene, out_dir, "mannequin.mp4", params,
                                      {"hash": digest, "motion": motion}, {}, t_build)
    print(f"mannequin fixture ({motion}): {count} frames rendered in {t_render:.0f} s → {out_dir}", flush=True)


def preview(out_dir: Path, frames: list[int], motion: str = "default") -> None:
    """Render only some video frames (0-based) to out_dir/preview_NNNN.png; no cache, no video."""
    bpy = rc.blender("mannequin")
    out_dir.mkdir(parents=True, exist_ok=True)
    params = params_for(motion)
    scene, arm, cam = build_scene(bpy, params)
    animate(bpy, scene, arm, params)
    rc.render_stills(bpy, scene, out_dir, frames)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / ".cache" / "fixtures" / "mannequin")
    rc.add_build_args(ap)
    ap.add_argument("--motion", choices=MOTIONS, default="default", help="which motion (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.preview:
        preview(args.out, rc.preview_frames(args.preview), args.motion)
        return 0
    out = render(args.out, force=args.force, in_process=True, motion=args.motion)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
