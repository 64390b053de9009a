"""Render a test fixture with KNOWN finger motion on a whole person: the mannequin of
tools/render_mannequin.py wearing the skinned WebXR hands of tools/render_hand.py, seen from the front
at upper-body framing while both hands, raised in front of the chest, curl their fingers.

    .venv/bin/python tools/render_mannequin_hands.py --out .cache/fixtures/mannequin_hands [--force]

or, from Python, `render(out_dir, force=False) -> Path` (this module imports without bpy; the build runs
in a child process `sys.executable tools/render_mannequin_hands.py`, so the caller's bpy session is left
alone). Work is skipped when the outputs exist and `stamp.json` holds the hash of this file's source,
tools/render_common.py's, and the parameters, which include the sha256 of tools/render_mannequin.py and
tools/render_hand.py (whose scene, rig and finger kinematics this script reuses): edit any of them and
the fixture is rebuilt.

The scene: render_mannequin.build_scene (the 1.75 m mannequin facing -Y, its left = +X, same
materials, sun and world) with its rigid hand meshes removed; the generic-hand left.glb is bone-parented
to hand.L and right.glb to hand.R (the WebXR wrist joint on the hand bone's head, the fingers along the
bone, the palm toward the thigh and the thumb forward at rest, scaled to PARAMS hand_length wrist to
middle tip). The camera is level at PARAMS camera_location looking along +Y, framing head to hips (a
hand spans 78-143 px). Rendering takes about 3.5 s a frame (5.3 min) on a shared 2-core machine.

The motion (video frame t = scene frame 1 + t, 30 fps, PARAMS frames): the body stands, turning
slowly +-8 deg about Z; each arm places its wrist in front of the chest (two-bone IK, elbow down and
out) along its own path (ARM), the wrists close together (17 cm) over frames ~28-45 and 118-282 px
apart in the image over the clip; the hand's orientation is set from a palm-toward-the-camera frame
(fingers up, leaning out a little) turned about the vertical (the left palm turns by up to ~22 deg from
facing the camera, the right one turns its BACK to the camera over frames ~57-76). The fingers (render_hand.pose: the same kinematics and
angle conventions) go through one gesture per KEY_STEP frames, held HOLD frames and cosine-eased between,
the two hands doing different gestures at the same time (LEFT_KEYS, RIGHT_KEYS):

    left:  open fist one two three four five pinch fist open   (counting 1-2-3-4-5)
    right: fist open point pinch spread fist point open spread fist

Outputs in the folder:
- mannequin_hands.mp4  mp4v, 30 fps, PARAMS resolution; frames/NNNN.png are the rendered frames
- truth.npz        ground truth, Blender world axes (metres); hand index 0 = the person's LEFT hand:
    fps, frame_size (w, h), frame_start, K, R_world_from_cv, camera_matrix_world
    points_world (T,2,21,3)   MediaPipe's 21 hand points from each rig's joints (render_hand.MP_JOINTS)
    points_image (T,2,21,2)   the same projected to pixels (x right, y down, origin top-left)
    joint_names (25,), joints_world (T,2,25,3)   every WebXR joint, posed
    finger_angles (T,2,5,3,2) retarget/hands.finger_angles per hand (sign +1 left, -1 right; absent if
                              the package cannot be loaded)
    commanded (T,2,5,4)       the commanded curls (render_hand's convention), degrees
    gesture (T,2)             name of the nearest key gesture per hand
    landmarks_world (T,33,3), landmarks_image (T,33,2), landmark_names (33,), bone_names, bone_heads,
    bone_tails, dir_<bone>    the body as render_mannequin.read_truth gives it, except the hand points:
                              wrist = the WebXR wrist, index/pinky = the index/pinky MCP, thumb = the
                              thumb tip (the mannequin's own hand points are gone with its hand meshes)
- mannequin_hands.blend
- stamp.json       the hash the cache check compares, and timings
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
if str(HERE.parent) not in sys.path:  # also when loaded by path (tests)
    sys.path.insert(0, str(HERE.parent))
import render_common as rc  # noqa: E402
import render_hand as rh  # noqa: E402
import render_mannequin as rm  # noqa: E402

REUSED = (HERE.parent / "render_mannequin.py", HERE.parent / "render_hand.py")
PARAMS = {
    "fps": 30,
    "frames": 90,
    "resolution": (480, 640),
    "samples": 8,
    "denoise": False,
    "camera_location": (0.0, -2.3, 1.28),
    "camera_vertical_fov_deg": 24.5,
    "hand_length": 0.19,
    "version": 1,
}
OUTPUTS = ("mannequin_hands.mp4", "truth.npz", "mannequin_hands.blend")
MOTION = "hands"

# Gestures: render_hand's, and the counting ones (thumb folded, the first n fingers straight).
_FOLDED = {"thumb": (25, 40, 45, 0), "index": (80, 95, 60, 0), "middle": (82, 98, 62, 0),
           "ring": (85, 100, 62, 0), "pinky": (85, 100, 60, 0)}
_STRAIGHT = (0, 0, 0, 0)
GESTURES = dict(rh.GESTURES)
for _n, _name in enumerate(("one", "two", "three", "four"), start=1):
    GESTURES[_name] = {f: (_STRAIGHT if 1 <= k <= _n else _FOLDED[f]) for k, f in enumerate(rh.FINGER_NAMES)}
GESTURES["five"] = {"thumb": (-5, 0, 0, 20), "index": (-5, 0, 0, 8), "middle": (-5, 0, 0, 0),
                    "ring": (-5, 0, 0, -8), "pinky": (-5, 0, 0, -15)}

KEY_STEP, HOLD = 9, 4
LEFT_SEQUENCE = ("open", "fist", "one", "two", "three", "four", "five", "pinch", "fist", "open")
RIGHT_SEQUENCE = ("fist", "open", "point", "pinch", "spread", "fist", "point", "open", "spread", "fist")


def _keys(sequence):
    """((name, first held frame, last held frame), ...)"""
    return tuple((name, KEY_STEP * k, KEY_STEP * k + HOLD - 1) for k, name in enumerate(sequence))


LEFT_KEYS, RIGHT_KEYS = _keys(LEFT_SEQUENCE), _keys(RIGHT_SEQUENCE)
SIDE_KEYS = {"left": LEFT_KEYS, "right": RIGHT_KEYS}


def sources_digest() -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in REUSED}


def params_for() -> dict:
    return {**PARAMS, "motion": MOTION, "sources": sources_digest()}


def params_hash() -> str:
    return rc.params_hash(HERE, params_for())


def is_current(out_dir: Path) -> bool:
    return rc.is_current(out_dir, OUTPUTS, params_hash())


def render(out_dir: Path, force: bool = False, in_process: bool = False) -> Path:
    """Build the fixture into out_dir unless it is already there and current; → out_dir. The build runs
    in a child Python unless in_process (what the command line does)."""
    return rc.render(HERE, out_dir, [], "mannequin hands fixture", "mannequin-hands", is_current, _build,
                     force, in_process)


# ---------------------------------------------------------------------------------------------------------
# Fingers


def commanded(t: float, keys) -> tuple[dict, str]:
    """Video frame t and a side's keys → ({finger: (4,) degrees}, nearest key gesture)."""
    for i, (name, a, b) in enumerate(keys):
        if t <= b:
            if t >= a or i == 0:
                return {f: np.array(v, float) for f, v in GESTURES[name].items()}, name
            prev, _, pb = keys[i - 1]
            u = 0.5 - 0.5 * math.cos(math.pi * (t - pb) / (a - pb))
            g0, g1 = GESTURES[prev], GESTURES[name]
            out = {f: (1 - u) * np.array(g0[f], float) + u * np.array(g1[f], float) for f in g0}
            return out, (name if u >= 0.5 else prev)
    name = keys[-1][0]
    return {f: np.array(v, float) for f, v in GESTURES[name].items()}, name


# ---------------------------------------------------------------------------------------------------------
# Body and arms (body frame: the mannequin's, before the yaw)

YAW = rm._curve([(0, 0), (15, 8), (45, -8), (75, 6), (89, 0)])
# wrist targets (x out from the midline, y: negative = in front, z up) and the palm's turn (deg, about the
# vertical; positive turns the palm toward the midline), per side
ARM = {
    "L": {"x": rm._curve([(0, 0.20), (18, 0.15), (31, 0.085), (42, 0.085), (60, 0.22), (89, 0.17)]),
          "y": rm._curve([(0, -0.26), (35, -0.34), (70, -0.28), (89, -0.32)]),
          "z": rm._curve([(0, 1.20), (25, 1.32), (55, 1.26), (89, 1.34)]),
          "turn": rm._curve([(0, 0), (20, 30), (45, -25), (70, 15), (89, 0)])},
    "R": {"x": rm._curve([(0, 0.16), (18, 0.19), (31, 0.085), (42, 0.085), (60, 0.15), (89, 0.20)]),
          "y": rm._curve([(0, -0.32), (35, -0.27), (70, -0.33), (89, -0.28)]),
          "z": rm._curve([(0, 1.33), (25, 1.22), (55, 1.30), (89, 1.24)]),
          "turn": rm._curve([(0, -20), (25, 20), (50, 0), (60, 140), (70, 140), (80, 0), (89, -10)])},
}
LEAN_OUT_DEG = 12.0  # the fingers lean away from the midline


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _arm_ik(shoulder, wrist, hint):
    """Elbow position for the arm's lengths, bending toward `hint`."""
    d_vec = wrist - shoulder
    d = float(np.linalg.norm(d_vec))
    u = d_vec / d
    cos_a = min(1.0, (rm.UPPER_ARM ** 2 + d ** 2 - rm.FOREARM ** 2) / (2 * rm.UPPER_ARM * d))
    alpha = math.acos(cos_a)
    b = _unit(hint - np.dot(hint, u) * u)
    return shoulder + rm.UPPER_ARM * (math.cos(alpha) * u + math.sin(alpha) * b)


def _hand_frame(fingers, across, side):
    """Columns (finger direction, across toward the thumb, palm normal) for a hand of `side` (L/R)."""
    s = 1.0 if side == "R" else -1.0  # render_hand.hand_axes: n = s (a × f), s = +1 right
    return np.stack([fingers, across, s * np.cross(across, fingers)], axis=1)


def rest_hand_frame(side):
    """The mannequin hand's rest frame: fingers along the hand bone, thumb forward (-Y), palm to the thigh."""
    f = _unit(rm._side(rm._ARM_DIR, side))
    a = np.array([0.0, -1.0, 0.0])
    a = _unit(a - np.dot(a, f) * f)
    return _hand_frame(f, a, side)


def target_hand_frame(side, turn_deg):
    """Fingers up (leaning out), palm toward the camera (-Y), turned `turn_deg` about the vertical."""
    sx = 1.0 if side == "L" else -1.0
    f = _unit([sx * math.sin(math.radians(LEAN_OUT_DEG)), 0.0, math.cos(math.radians(LEAN_OUT_DEG))])
    n = np.array([0.0, -1.0, 0.0])
    # across (toward the thumb) from n = s (a × f): a = s (f × n) with n ⟂ f
    s = 1.0 if side == "R" else -1.0
    a = _unit(s * np.cross(f, n))
    F = _hand_frame(f, a, side)
    return rc.rot([0, 0, 1], -sx * turn_deg) @ F  # positive: palm toward the midline


def pose_hands(t: float):
    """→ ({bone: G world rotation relative to rest}, hips offset), like render_mannequin.pose_at."""
    Rz = rc.rot([0, 0, 1], YAW(t))
    G = {b: Rz for b in ("hips", "spine", "chest", "neck", "head")}
    for side in ("L", "R"):
        c = ARM[side]
        sx = 1.0 if side == "L" else -1.0
        shoulder = rm._side(rm.SHOULDER, side)
        wrist = np.array([sx * c["x"](t), c["y"](t), c["z"](t)])
        elbow = _arm_ik(shoulder, wrist, np.array([sx * 0.5, 0.3, -1.0]))
        rest_dir = _unit(rm._side(rm._ARM_DIR, side))
        G[f"upper_arm.{side}"] = Rz @ rm._swing(rest_dir, elbow - shoulder)
        G[f"forearm.{side}"] = Rz @ rm._swing(rest_dir, wrist - elbow)
        G[f"hand.{side}"] = Rz @ target_hand_frame(side, c["turn"](t)) @ rest_hand_frame(side).T
        for b in ("thigh", "shin", "foot", "toe"):
            G[f"{b}.{side}"] = Rz
    return G, np.zeros(3)


# ---------------------------------------------------------------------------------------------------------
# Scene


def _import_hand(bpy, side: str, skin):
    """The generic-hand glb of `side` ("left"/"right") → its armature (the stray icosphere removed)."""
    before = set(bpy.data.objects)
    bpy.ops.import_scene.gltf(filepath=str(rh.fetch_glb(side)))
    new = [o for o in bpy.data.objects if o not in before]
    arms = [o for o in new if o.type == "ARMATURE"]
    if len(arms) != 1:
        raise RuntimeError(f"{side}.glb: expected one armature, found {len(arms)}")
    arm = arms[0]
    arm.name = f"hand_rig.{side}"
    names = {b.name for b in arm.data.bones}
    if not set(rh.JOINT_NAMES) <= names or any(b.parent for b in arm.data.bones):
        raise RuntimeError(f"{side}.glb: expected the 25 parentless WebXR joints, found {sorted(names)}")
    for obj in new:
        if obj.type == "MESH":
            if obj.parent is not arm:
                bpy.data.objects.remove(obj, do_unlink=True)
                continue
            obj.name = f"hand_mesh.{side}"
            obj.data.materials.clear()
            obj.data.materials.append(skin)
            for poly in obj.data.polygons:
                poly.use_smooth = True
    return arm


def attach_hand(bpy, body, side: str, skin, params):
    """Import the hand of `side`, bone-parent it to the mannequin's hand bone, aligned and scaled; → (hand
    armature, rest joint positions in its own space {name: (3,)})."""
    from mathutils import Matrix

    s = "L" if side == "left" else "R"
    hand = _import_hand(bpy, side, skin)
    rest = {b.name: np.array(b.head_local) for b in hand.data.bones}
    f, a, n = rh.hand_axes(rest, side)
    local = np.stack([f, a, n], axis=1)
    R = rest_hand_frame(s) @ local.T
    length = float(np.linalg.norm(rest["middle-finger-tip"] - rest["wrist"]))
    k = params["hand_length"] / length
    A = np.eye(4)
    A[:3, :3] = k * R
    A[:3, 3] = rm._side(rm.WRIST, s) - k * R @ rest["wrist"]
    bone = body.data.bones[f"hand.{s}"]
    hand.parent = body
    hand.parent_type = "BONE"
    hand.parent_bone = bone.name
    hand.matrix_parent_inverse = (body.matrix_world @ bone.matrix_local
                                  @ Matrix.Translation((0.0, bone.length, 0.0))).inverted()
    hand.matrix_basis = Matrix(A.tolist())
    return hand, rest


def animate_fingers(bpy, hand, rest, side: str, params):
    """Key every joint (armature space: basis = rest⁻¹ · posed) on every frame; → (commanded (T,5,4),
    gesture names (T,))."""
    from mathutils import Matrix

    for pb in hand.pose.bones:
        pb.rotation_mode = "QUATERNION"
    rest_m = {b.name: np.array(b.matrix_local) for b in hand.data.bones}
    previous, commands, gestures = {}, [], []
    for t in range(params["frames"]):
        curls, gesture = commanded(float(t), SIDE_KEYS[side])
        commands.append([curls[f] for f in rh.FINGER_NAMES])
        gestures.append(gesture)
        G, P = rh.pose(rest, side, curls)
        for pb in hand.pose.bones:
            if pb.name not in G:
                continue
            M = np.eye(4)
            M[:3, :3] = G[pb.name] @ rest_m[pb.name][:3, :3]
            M[:3, 3] = P[pb.name]
            loc, q, _ = Matrix((np.linalg.inv(rest_m[pb.name]) @ M).tolist()).decompose()
            if pb.name in previous and q.dot(previous[pb.name]) < 0:
                q.negate()
            previous[pb.name] = q.copy()
            pb.location, pb.rotation_quaternion = loc, q
            pb.keyframe_insert("location", frame=1 + t, group=pb.name)
            pb.keyframe_insert("rotation_quaternion", frame=1 + t, group=pb.name)
    hand.animation_data.action.name = f"fingers_{side}"
    return np.array(commands), np.array(gestures)


def _prepare(bpy, params):
    rm.POSES[MOTION] = pose_hands  # render_mannequin.animate looks the motion up there
    scene, body, cam = rm.build_scene(bpy, params)
    for s in ("L", "R"):
        bpy.data.objects.remove(bpy.data.objects[f"body_hand.{s}"], do_unlink=True)
    rm.animate(bpy, scene, body, params)
    skin = bpy.data.materials["skin"]
    hands, commands, gestures = {}, [], []
    for side in ("left", "right"):
        hand, rest = attach_hand(bpy, body, side, skin, params)
        c, g = animate_fingers(bpy, hand, rest, side, params)
        hands[side] = hand
        commands.append(c)
        gestures.append(g)
    return scene, body, cam, hands, np.stack(commands, axis=1), np.stack(gestures, axis=1)


def read_truth(bpy, scene, body, cam, hands, params):
    truth = rm.read_truth(bpy, scene, body, cam, params)
    n = params["frames"]
    joints = np.zeros((n, 2, 25, 3))
    for t in range(n):
        scene.frame_set(1 + t)
        for h, side in enumerate(("left", "right")):
            hand = hands[side]
            mw = hand.matrix_world
            for i, name in enumerate(rh.JOINT_NAMES):
                joints[t, h, i] = mw @ hand.pose.bones[name].head
    pts = joints[:, :, [rh.JOINT_NAMES.index(j) for j in rh.MP_JOINTS]]
    # the body's hand points from the hands (the mannequin's own are gone)
    lm = truth["landmarks_world"]
    names = list(truth["landmark_names"])
    for h, side in enumerate(("left", "right")):
        for name, k in (("wrist", 0), ("index", 5), ("pinky", 17), ("thumb", 4)):
            lm[:, names.index(f"{side}_{name}")] = pts[:, h, k]
    proj = rc.projection(cam, params, np.concatenate([pts.reshape(n, 42, 3), lm], axis=1))
    truth["landmarks_world"] = lm
    truth["landmarks_image"] = proj["image"][:, 42:]
    truth.update(points_world=pts, points_image=proj["image"][:, :42].reshape(n, 2, 21, 2),
                 joint_names=np.array(rh.JOINT_NAMES), joints_world=joints)
    angles = [rh.truth_angles(pts[:, h], side) for h, side in enumerate(("left", "right"))]
    if all(a is not None for a in angles):
        truth["finger_angles"] = np.stack(angles, axis=1)
    return truth


def _build(out_dir: Path) -> None:
    bpy = rc.start_build(out_dir, "mannequin-hands")
    params = params_for()
    digest = params_hash()
    t0 = time.perf_counter()
    scene, body, cam, hands, commands, gestures = _prepare(bpy, params)
    rc.save_blend(bpy, out_dir / "mannequin_hands.blend")
    truth = read_truth(bpy, scene, body, cam, hands, params)
    truth["commanded"] = commands
    truth["gesture"] = gestures
    np.savez_compressed(out_dir / "truth.npz", **truth)
    t_build = time.perf_counter() - t0
    assets = {"assets": f"{rh.ASSETS_PACKAGE}@{rh.ASSETS_VERSION}", "assets_sha256": rh.ASSETS_SHA256}
    count, t_render = rc.finish_build(bpy, scene, out_dir, "mannequin_hands.mp4", params, {"hash": digest},
                                      assets, t_build)
    print(f"mannequin hands fixture: {count} frames rendered in {t_render:.0f} s → {out_dir}", flush=True)


def preview(out_dir: Path, frames: list[int]) -> None:
    """Render only some video frames (0-based) to out_dir/preview_NNNN.png; no cache, no video."""
    bpy = rc.blender("mannequin-hands")
    out_dir.mkdir(parents=True, exist_ok=True)
    params = params_for()
    scene, body, cam, hands, _, _ = _prepare(bpy, params)
    truth = read_truth(bpy, scene, body, cam, hands, params)
    np.savez_compressed(out_dir / "preview_truth.npz", **truth)
    rc.render_stills(bpy, scene, out_dir, frames)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / ".cache" / "fixtures" / "mannequin_hands")
    rc.add_build_args(ap)
    args = ap.parse_args(argv)
    if args.preview:
        preview(args.out, rc.preview_frames(args.preview))
        return 0
    print(render(args.out, force=args.force, in_process=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
