"""Render a test fixture with KNOWN finger motion: a skinned hand curling its fingers, seen close up.

    .venv/bin/python tools/render_hand.py --out .cache/fixtures/hand_right [--side right|left] [--force]

or, from Python, `render(out_dir, force=False, side="right") -> Path` (this module imports without bpy;
the build runs in a child process `sys.executable tools/render_hand.py`, so the caller's bpy session is
left alone). Work is skipped when the outputs exist and `stamp.json` holds the hash of this file's source,
tools/render_common.py's and the parameters (like tools/render_mannequin.py): edit either script and the
fixture is rebuilt.

The hand: the MIT-licensed skinned hands of the npm package @webxr-input-profiles/assets (ASSETS_VERSION,
`dist/profiles/generic-hand/{left,right}.glb`, 25 joints named after the WebXR Hand Input spec: wrist,
thumb-metacarpal/phalanx-proximal/phalanx-distal/tip, <finger>-finger-metacarpal/phalanx-proximal/
phalanx-intermediate/phalanx-distal/tip for index, middle, ring, pinky). `npm pack` fetches the tarball
into .cache/npm once; its sha256 is checked against ASSETS_SHA256. The glb comes in with Blender's glTF
importer; its joints are all parentless bones of one armature, so the script does its own forward
kinematics (wrist → metacarpal → proximal → intermediate → distal → tip) and keys every bone's world
matrix on every frame.

The motion (video frame t = scene frame 1 + t, 30 fps, FRAMES frames), commanded joint curls in degrees
(GESTURES), eased (cosine) from one gesture to the next, each held a few frames:
open (0-4) → fist (12-16) → point (23-27) → pinch (34-38) → spread (45-49). The wrist does not move.
Flexion turns a segment about (segment × palm normal), i.e. toward the palm; spread turns the finger at
its MCP about (segment × across-palm), toward the thumb for positive values; the thumb's CMC, MCP and IP
bend toward the palm and the little finger.

The camera looks at the palm from CAMERA_DISTANCE (fingers up in the image), unmirrored; one sun from
behind the camera and a grey world.

Outputs in the folder:
- hand.mp4         mp4v, 30 fps, PARAMS resolution; frames/NNNN.png are the rendered frames
- truth.npz        ground truth, Blender world axes (metres):
    fps, frame_size (w, h), frame_start, side ("right"/"left")
    points_world (T,21,3)   MediaPipe's 21 hand points from the rig's joints (MP_JOINTS): 0 wrist,
                            1-4 thumb CMC/MCP/IP/TIP, 5-8 index MCP/PIP/DIP/TIP, 9-12 middle, 13-16 ring,
                            17-20 pinky (a finger's MCP is its phalanx-proximal joint, the thumb's CMC its
                            metacarpal joint)
    points_image (T,21,2)   the same projected to pixels (x right, y down, origin top-left)
    joint_names (25,), joints_world (T,25,3)   every WebXR joint, posed
    finger_angles (T,5,3,2) retarget/hands.finger_angles(points_world, sign) (thumb, index, middle, ring,
                            pinky; CMC/MCP, PIP/MCP, DIP/IP; flexion, abduction; degrees), sign -1 for a
                            right hand, +1 for a left (absent if the package cannot be loaded)
    commanded (T,5,4)       the commanded curls per finger (thumb: CMC, MCP, IP, 0; fingers: MCP, PIP, DIP,
                            spread), degrees
    gesture (T,)            name of the nearest key gesture
    camera_matrix_world (4,4), K (3,3), R_world_from_cv (3,3)   as in tools/render_mannequin.py
- hand.blend       armature + mesh + action + camera + light
- stamp.json       the hash the cache check compares, and timings
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
if str(HERE.parent) not in sys.path:  # also when loaded by path (tests)
    sys.path.insert(0, str(HERE.parent))
import render_common as rc  # noqa: E402

NPM_CACHE = REPO / ".cache" / "npm"

ASSETS_PACKAGE = "@webxr-input-profiles/assets"
ASSETS_VERSION = "1.0.20"  # the tarball has no licence file or field; upstream (immersive-web/webxr-input-profiles) is MIT
ASSETS_TARBALL = f"webxr-input-profiles-assets-{ASSETS_VERSION}.tgz"
ASSETS_SHA256 = "30df2a2268220fc0d0e034bed1550aabdd7a2500573c5216f64fc70d59c3d91e"

SIDES = ("right", "left")
PARAMS = {
    "fps": 30,
    "frames": 50,
    "resolution": (320, 320),
    "samples": 12,
    "denoise": False,
    "camera_distance": 0.40,
    "camera_fov_deg": 38.0,
    "version": 1,
}
OUTPUTS = ("hand.mp4", "truth.npz", "hand.blend")

FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
JOINT_NAMES = ("wrist",
               "thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip") + tuple(
    f"{f}-finger-{j}" for f in FINGER_NAMES[1:]
    for j in ("metacarpal", "phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip"))
MP_JOINTS = ("wrist", "thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip") + tuple(
    f"{f}-finger-{j}" for f in FINGER_NAMES[1:]
    for j in ("phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip"))
assert len(JOINT_NAMES) == 25 and len(MP_JOINTS) == 21

# Commanded curls (degrees). Thumb: CMC, MCP, IP flexion (toward palm and little finger), CMC spread
# (away from the index, positive). Fingers: MCP, PIP, DIP flexion, spread at the MCP (toward the thumb).
GESTURES = {
    "open": {"thumb": (0, 0, 0, 0), "index": (0, 0, 0, 0), "middle": (0, 0, 0, 0), "ring": (0, 0, 0, 0),
             "pinky": (0, 0, 0, 0)},
    "fist": {"thumb": (25, 40, 45, 0), "index": (80, 95, 60, 0), "middle": (82, 98, 62, 0),
             "ring": (85, 100, 62, 0), "pinky": (85, 100, 60, 0)},
    "point": {"thumb": (25, 40, 45, 0), "index": (0, 0, 0, 0), "middle": (82, 98, 62, 0),
              "ring": (85, 100, 62, 0), "pinky": (85, 100, 60, 0)},
    "pinch": {"thumb": (40, 25, 25, 0), "index": (45, 55, 35, 0), "middle": (20, 25, 10, 0),
              "ring": (22, 28, 12, 0), "pinky": (25, 30, 15, 0)},
    "spread": {"thumb": (-5, 0, 0, 25), "index": (-5, 0, 0, 12), "middle": (-5, 0, 0, 0),
               "ring": (-5, 0, 0, -10), "pinky": (-5, 0, 0, -20)},
}
# (first frame, last frame) each gesture is held; eased between.
KEYS = (("open", 0, 4), ("fist", 12, 16), ("point", 23, 27), ("pinch", 34, 38), ("spread", 45, 49))


def params_for(side: str = "right") -> dict:
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; one of {SIDES}")
    return {**PARAMS, "side": side}


def params_hash(side: str = "right") -> str:
    return rc.params_hash(HERE, params_for(side))


def is_current(out_dir: Path, side: str = "right") -> bool:
    return rc.is_current(out_dir, OUTPUTS, params_hash(side))


def render(out_dir: Path, force: bool = False, side: str = "right", in_process: bool = False) -> Path:
    """Build the fixture for `side` into out_dir unless it is already there and current; → out_dir.
    The build runs in a child Python unless in_process (what the command line does)."""
    params_for(side)
    return rc.render(HERE, out_dir, ["--side", side], f"hand fixture ({side})", "hand",
                     lambda d: is_current(d, side), lambda d: _build(d, side), force, in_process)


# ---------------------------------------------------------------------------------------------------------
# The asset


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fetch_glb(side: str) -> Path:
    """The pinned package's generic-hand/<side>.glb, extracted under .cache/npm (npm pack once)."""
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = NPM_CACHE / ASSETS_TARBALL
    if not tarball.is_file():
        subprocess.run(["npm", "pack", f"{ASSETS_PACKAGE}@{ASSETS_VERSION}", "--silent"], cwd=NPM_CACHE,
                       check=True, capture_output=True, timeout=900)
    digest = _sha256(tarball)
    if digest != ASSETS_SHA256:
        raise RuntimeError(f"{tarball}: sha256 {digest}, expected {ASSETS_SHA256}; delete it to fetch again")
    out = NPM_CACHE / f"generic-hand-{ASSETS_VERSION}" / f"{side}.glb"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tf:
            for name in ("left.glb", "right.glb", "profile.json"):
                member = tf.getmember(f"package/dist/profiles/generic-hand/{name}")
                data = tf.extractfile(member).read()
                tmp = out.parent / f".{name}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, out.parent / name)
            pkg = json.loads(tf.extractfile(tf.getmember("package/package.json")).read())
            (out.parent / "LICENSE.txt").write_text(
                f"{ASSETS_PACKAGE}@{ASSETS_VERSION}: package.json license {pkg.get('license')!r}; the upstream "
                "repository immersive-web/webxr-input-profiles is MIT-licensed\n")
    return out


# ---------------------------------------------------------------------------------------------------------
# Motion


_rot = rc.rot


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def commanded(t: float) -> tuple[dict, str]:
    """Video frame t → ({finger: (4,) degrees}, nearest key gesture)."""
    for i, (name, a, b) in enumerate(KEYS):
        if t <= b:
            if t >= a or i == 0:
                return {f: np.array(v, float) for f, v in GESTURES[name].items()}, name
            prev, pa, pb = KEYS[i - 1]
            u = (t - pb) / (a - pb)
            u = 0.5 - 0.5 * math.cos(math.pi * u)
            g0, g1 = GESTURES[prev], GESTURES[name]
            out = {f: (1 - u) * np.array(g0[f], float) + u * np.array(g1[f], float) for f in g0}
            return out, (name if u >= 0.5 else prev)
    name = KEYS[-1][0]
    return {f: np.array(v, float) for f, v in GESTURES[name].items()}, name


def chains():
    """finger → joint names from the metacarpal to the tip."""
    out = {"thumb": ("thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip")}
    for f in FINGER_NAMES[1:]:
        out[f] = tuple(f"{f}-finger-{j}" for j in
                       ("metacarpal", "phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip"))
    return out


def hand_axes(rest: dict, side: str):
    """(finger direction, across toward the thumb, palm normal out of the palm) at rest."""
    f = _unit(rest["middle-finger-tip"] - rest["middle-finger-phalanx-proximal"])
    a = rest["index-finger-phalanx-proximal"] - rest["pinky-finger-phalanx-proximal"]
    a = _unit(a - np.dot(a, f) * f)
    s = 1.0 if side == "right" else -1.0
    n = s * np.cross(a, f)
    return f, a, n


def pose(rest: dict, side: str, curls: dict) -> tuple[dict, dict]:
    """Rest joint positions {name: (3,)} and curls → ({name: world rotation relative to rest (3,3)},
    {name: posed position (3,)}). The wrist stays."""
    f_dir, across, normal = hand_axes(rest, side)
    G = {"wrist": np.eye(3)}
    P = {"wrist": rest["wrist"].copy()}
    for finger, joints in chains().items():
        c = curls[finger]
        parent_G, parent_rest, parent_pos = np.eye(3), rest["wrist"], rest["wrist"]
        if finger == "thumb":
            # CMC, MCP, IP: bend toward the palm and the little finger; CMC spread away from the index
            bend = _unit(normal - 0.6 * across)
            rots = [None] * 4
            for k in range(3):
                d = _unit(rest[joints[k + 1]] - rest[joints[k]])
                R = _rot(np.cross(d, bend), c[k])
                if k == 0 and c[3]:
                    R = _rot(np.cross(d, across), c[3]) @ R  # toward +across: away from the index
                rots[k] = R
            rots[3] = np.eye(3)
        else:
            rots = [np.eye(3)]  # metacarpal keeps its rest
            for k in range(1, 4):
                d = _unit(rest[joints[k + 1]] - rest[joints[k]])
                R = _rot(np.cross(d, normal), c[k - 1])
                if k == 1 and c[3]:
                    R = _rot(np.cross(d, across), c[3]) @ R  # about d × across: positive turns toward the thumb
                rots.append(R)
            rots.append(np.eye(3))
        for name, R in zip(joints, rots):
            pos = parent_pos + parent_G @ (rest[name] - parent_rest)
            g = parent_G @ R
            G[name], P[name] = g, pos
            parent_G, parent_rest, parent_pos = g, rest[name], pos
    return G, P


# ---------------------------------------------------------------------------------------------------------
# Scene


def _matrix(x, y, z, location):
    """A Blender world matrix with these axes (columns) and location."""
    from mathutils import Matrix

    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, location
    return Matrix(m.tolist())


def build_scene(bpy, params, glb: Path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = params["fps"], 1.0
    scene.frame_start, scene.frame_end = 1, params["frames"]
    bpy.ops.import_scene.gltf(filepath=str(glb))
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    if len(arms) != 1:
        raise RuntimeError(f"{glb}: expected one armature, found {len(arms)}")
    arm = arms[0]
    arm.name = "hand_rig"
    names = {b.name for b in arm.data.bones}
    if not set(JOINT_NAMES) <= names or any(b.parent for b in arm.data.bones):
        raise RuntimeError(f"{glb}: expected the 25 parentless WebXR joints, found {sorted(names)}")
    skin = rc.material(bpy, "skin", (0.80, 0.60, 0.48), 0.55)
    for obj in list(bpy.data.objects):
        if obj.type == "MESH":
            if obj.parent is not arm:  # the package's stray icosphere (2 m across)
                bpy.data.objects.remove(obj, do_unlink=True)
                continue
            obj.data.materials.clear()
            obj.data.materials.append(skin)
            for poly in obj.data.polygons:
                poly.use_smooth = True

    rest = {b.name: np.array(arm.matrix_world @ b.head_local) for b in arm.data.bones}
    f_dir, across, normal = hand_axes(rest, params["side"])
    centre = 0.5 * (rest["wrist"] + rest["middle-finger-tip"])

    # Camera at the palm, fingers up
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    z = normal  # camera +Z points back toward the viewer: the camera looks along -normal
    y = _unit(f_dir - np.dot(f_dir, z) * z)
    x = np.cross(y, z)
    cam.matrix_world = _matrix(x, y, z, centre + params["camera_distance"] * normal)
    cam.data.sensor_fit = "VERTICAL"
    cam.data.sensor_height = 24.0
    cam.data.lens = 12.0 / math.tan(math.radians(params["camera_fov_deg"]) / 2)
    cam.data.clip_start = 0.01
    scene.collection.objects.link(cam)
    scene.camera = cam

    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.0
    sun.data.angle = math.radians(15)
    light_dir = _unit(normal + 0.5 * y + 0.3 * x)  # from the viewer's side, above and to the right
    sz = light_dir
    sy = _unit(np.cross(sz, [0.0, 0.0, 1.0]) if abs(sz[2]) < 0.9 else np.cross(sz, [1.0, 0.0, 0.0]))
    sun.matrix_world = _matrix(np.cross(sy, sz), sy, sz, centre + 0.5 * light_dir)
    scene.collection.objects.link(sun)
    rc.world(bpy, scene, (0.42, 0.45, 0.50), 1.0)
    rc.cycles_settings(scene, params)
    return scene, arm, cam, rest


def animate(bpy, scene, arm, rest, params):
    """Key every joint's location and quaternion on every frame (the joints are parentless: basis =
    rest⁻¹ · posed world matrix)."""
    from mathutils import Matrix

    n = params["frames"]
    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
    rest_m = {b.name: np.array(b.matrix_local) for b in arm.data.bones}
    previous = {}
    commands, gestures = [], []
    for t in range(n):
        curls, gesture = commanded(float(t))
        commands.append([curls[f] for f in FINGER_NAMES])
        gestures.append(gesture)
        G, P = pose(rest, params["side"], curls)
        for pb in arm.pose.bones:
            name = pb.name
            if name not in G:
                continue
            M = np.eye(4)
            M[:3, :3] = G[name] @ rest_m[name][:3, :3]
            M[:3, 3] = P[name]
            basis = Matrix((np.linalg.inv(rest_m[name]) @ M).tolist())
            loc, q, _ = basis.decompose()
            if name in previous and q.dot(previous[name]) < 0:
                q.negate()
            previous[name] = q.copy()
            pb.location, pb.rotation_quaternion = loc, q
            pb.keyframe_insert("location", frame=1 + t, group=name)
            pb.keyframe_insert("rotation_quaternion", frame=1 + t, group=name)
    arm.animation_data.action.name = "hand_curls"
    return np.array(commands), np.array(gestures)


def read_truth(bpy, scene, arm, cam, params):
    n = params["frames"]
    mw = arm.matrix_world
    joints = np.zeros((n, 25, 3))
    for t in range(n):
        scene.frame_set(1 + t)
        for i, name in enumerate(JOINT_NAMES):
            joints[t, i] = mw @ arm.pose.bones[name].head
    pts = joints[:, [JOINT_NAMES.index(j) for j in MP_JOINTS]]
    w, h = params["resolution"]
    proj = rc.projection(cam, params, pts)
    return {
        "fps": np.float64(params["fps"]), "frame_size": np.array([w, h]),
        "frame_start": np.int64(scene.frame_start), "side": np.array(params["side"]),
        "points_world": pts, "points_image": proj["image"], "joint_names": np.array(JOINT_NAMES),
        "joints_world": joints, "camera_matrix_world": proj["camera_matrix_world"], "K": proj["K"],
        "R_world_from_cv": proj["R_world_from_cv"],
    }


def truth_angles(points: np.ndarray, side: str) -> np.ndarray | None:
    """(T,5,3,2) retarget/hands.finger_angles of the truth points, or None without the package."""
    try:
        import runpy

        runpy.run_path(str(REPO / "cli.py"))["load_package"]()
        from video_mocap.retarget.hands import finger_angles
        from video_mocap.retarget.rig import FINGERS
    except Exception as exc:  # noqa: BLE001 - the angles are optional
        print(f"finger_angles unavailable: {exc}", flush=True)
        return None
    ang = finger_angles(points, -1.0 if side == "right" else 1.0)
    return np.stack([ang[f] for f in FINGERS], axis=1)


def _prepare(bpy, side):
    params = params_for(side)
    glb = fetch_glb(side)
    scene, arm, cam, rest = build_scene(bpy, params, glb)
    commands, gestures = animate(bpy, scene, arm, rest, params)
    return params, scene, arm, cam, commands, gestures


def _build(out_dir: Path, side: str = "right") -> None:
    bpy = rc.start_build(out_dir, "hand")
    digest = params_hash(side)
    t0 = time.perf_counter()
    params, scene, arm, cam, commands, gestures = _prepare(bpy, side)
    rc.save_blend(bpy, out_dir / "hand.blend")
    truth = read_truth(bpy, scene, arm, cam, params)
    truth["commanded"] = commands
    truth["gesture"] = gestures
    angles = truth_angles(truth["points_world"], side)
    if angles is not None:
        truth["finger_angles"] = angles
    np.savez_compressed(out_dir / "truth.npz", **truth)
    t_build = time.perf_counter() - t0
    assets = {"assets": f"{ASSETS_PACKAGE}@{ASSETS_VERSION}", "assets_sha256": ASSETS_SHA256}
    count, t_render = rc.finish_build(bpy, scene, out_dir, "hand.mp4", params, {"hash": digest, "side": side},
                                      assets, t_build)
    print(f"hand fixture ({side}): {count} frames rendered in {t_render:.0f} s → {out_dir}", flush=True)


def preview(out_dir: Path, frames: list[int], side: str = "right") -> None:
    """Render only some video frames (0-based) to out_dir/preview_NNNN.png; no cache, no video."""
    bpy = rc.blender("hand")
    out_dir.mkdir(parents=True, exist_ok=True)
    params, scene, arm, cam, _, _ = _prepare(bpy, side)
    rc.render_stills(bpy, scene, out_dir, frames)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="default .cache/fixtures/hand_<side>")
    ap.add_argument("--side", choices=SIDES, default="right")
    rc.add_build_args(ap)
    args = ap.parse_args(argv)
    out = args.out or REPO / ".cache" / "fixtures" / f"hand_{args.side}"
    if args.preview:
        preview(out, rc.preview_frames(args.preview), args.side)
        return 0
    print(render(out, force=args.force, side=args.side, in_process=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
