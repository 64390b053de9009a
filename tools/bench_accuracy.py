"""Accuracy benchmark: raw landmarks vs filtered vs the final baked rig, against a reference.

  .venv/bin/python tools/bench_accuracy.py [--model full] [--write BENCHMARKS.md]

Clips: the Pose2Sim demo (../shared/data/pose2sim_demo, real footage, 4 calibrated cameras,
triangulated reference — its Butterworth-filtered version, the raw triangulation being jittery;
skipped when absent) and the project's own rendered mannequin with known
motion (tools/render_mannequin.py; skipped when it cannot be rendered). Per clip and stage:
Stages: the raw landmarks; filtered = flips undone and zero-phase smoothing without fusion (`--no-fusion`);
fused = the default processing (pipeline.clean: flips, image-plane fusion, smoothing); baked = the whole
default path onto a target: a metarig built to the performer's proportions (the command's default
target), the metarig at its own proportions, and a user armature (the mannequin's own rig, on its clip).
Figures:
- dir: per-limb direction error (upper arms, forearms, thighs, shins) after ONE global rotation
  for the whole clip (camera frames differ between the stages), degrees, mean over limbs and frames
- feet: the feet's direction error (ankle → toe tip; on Pose2Sim ankle → big toe, its triangulated keypoint),
  after the limbs' global rotation, degrees (not one of issue 13's targets: a planted foot that
  turns or tilts is what an animator sees first)
- PA-MPJPE: per frame, Procrustes-aligned (rotation, translation, scale) error of the 12 limb
  joints, mm (for the rig it includes the rig's own proportions, which are not the person's)
- jitter: mean norm of second differences of the hip-centred joints, mm/frame² (the reference's own
  figure beside it)
- L/R: frames whose joints fit the reference clearly better (30 % lower PA error) with the person's
  left and right swapped
- skate: foot slide while planted, cm/frame, before / after foot locking (root motion on), as the solver sees it
  (its own contacts, the feet's mean points)
- planted feet's slide: rendered clips: the rig's ankles' horizontal speed, in the truth's scale, over the frames
  where the truth's ankle stands (slower than 0.15 m/s, within 5 cm of its lowest), cm/frame (the truth's: 0)
- ÷ raw: the stage's dir error and PA-MPJPE divided by the raw landmarks' (targets: ≤ 0.90 / ≤ 0.92)
- root path error: rendered clips (exact truth): the rig's horizontal hip path against the truth's, both
  in their own leg lengths, after the best rotation about the vertical and translation; mean distance,
  and the truth's travel beside it
- hip rise: highest hip height above the clip's median, in leg lengths, ours / truth (jumps)
- knees bent backwards: leg-frames whose knee is > 2 cm behind the hip–ankle line (the reference's beside it)
- fusion cost: the default cleaning's CPU time minus the no-fusion cleaning's (each the least of 3 runs), ms per frame
Prints one table; with --write, replaces the accuracy section of BENCHMARKS.md and saves a plot.
--budget prints only the error budget of the rendered clips (`error_budget`: the truth's 2D or depth put in).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "pose2sim_demo"
CACHE = ROOT / ".cache" / "bench"
JOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
LIMBS = {"upper_arm.L": (0, 2), "upper_arm.R": (1, 3), "forearm.L": (2, 4), "forearm.R": (3, 5),
         "thigh.L": (6, 8), "thigh.R": (7, 9), "shin.L": (8, 10), "shin.R": (9, 11)}
FEET = (("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"))
ANKLES = [JOINTS.index("left_ankle"), JOINTS.index("right_ankle")]
MIRROR = {"upper_arm.L": "upper_arm.R", "forearm.L": "forearm.R", "thigh.L": "thigh.R", "shin.L": "shin.R"}
MIRROR.update({v: k for k, v in MIRROR.items()})


def load_package():
    """The repository root as the `video_mocap` package (cli.py's loader)."""
    import runpy

    return runpy.run_path(str(ROOT / "cli.py"))["load_package"]()


def directions(J):
    import numpy as np
    d = {k: J[:, b] - J[:, a] for k, (a, b) in LIMBS.items()}
    return {k: v / np.linalg.norm(v, axis=-1, keepdims=True) for k, v in d.items()}


def kabsch(A, B):
    """Rotation R minimising |R·a − b| over rows (unit vectors or centred points)."""
    import numpy as np
    H = A.T @ B
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1, 1, np.sign(np.linalg.det(Vt.T @ U.T))])
    return Vt.T @ D @ U.T


def feet_vectors(points):
    """(T,2,3) unit ankle → toe-tip vectors of (T,33,3) landmarks."""
    import numpy as np

    from video_mocap.capture.landmarks import INDEX
    v = np.stack([points[:, INDEX[b]] - points[:, INDEX[a]] for a, b in FEET], 1).astype(float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def metrics(pred, ref, pred_feet=None, ref_feet=None):
    """pred, ref (T,12,3) joint positions in any (right-handed) frames, same units (metres); pred_feet,
    ref_feet: (T,2,3) feet_vectors in the same frames, or None (then 'feet' is NaN)."""
    import numpy as np
    ok = np.isfinite(pred).all((1, 2)) & np.isfinite(ref).all((1, 2))
    pred, ref = pred[ok], ref[ok]
    dp, dr = directions(pred), directions(ref)
    A = np.concatenate([dp[k] for k in LIMBS])
    B = np.concatenate([dr[k] for k in LIMBS])
    R = kabsch(A, B)
    ang = lambda u, v: np.degrees(np.arccos(np.clip(np.sum(u * v, -1), -1, 1)))  # noqa: E731
    per_limb = {k: ang(dp[k] @ R.T, dr[k]) for k in LIMBS}
    dir_err = float(np.mean([v.mean() for v in per_limb.values()]))
    feet = float("nan")
    if pred_feet is not None and ref_feet is not None:
        both = ok & np.isfinite(pred_feet).all((1, 2)) & np.isfinite(ref_feet).all((1, 2))
        feet = float(np.mean(ang(pred_feet[both] @ R.T, ref_feet[both]))) if both.any() else feet
    def pa_error(p, r):
        pc, rc = p - p.mean(0), r - r.mean(0)
        pr = pc @ kabsch(pc, rc).T
        return np.linalg.norm(np.sum(pr * rc) / np.sum(pr * pr) * pr - rc, axis=1).mean()

    swap = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10]  # left ↔ right joints
    errs, lr = [], 0
    for p, r in zip(pred, ref):
        straight = pa_error(p, r)
        errs.append(straight)
        lr += int(pa_error(p[swap], r) < 0.7 * straight)  # clearly better with the sides swapped
    hip = lambda J: J - (J[:, 6:7] + J[:, 7:8]) / 2  # noqa: E731
    jit = lambda J: float(np.linalg.norm(np.diff(hip(J), 2, axis=0), axis=-1).mean() * 1000)  # noqa: E731
    return {"dir": dir_err, "feet": feet, "pampjpe": float(np.mean(errs) * 1000), "jitter": jit(pred), "ref_jitter": jit(ref),
            "lr": lr, "frames": int(ok.sum()), "per_limb": {k: float(v.mean()) for k, v in per_limb.items()},
            "knees_back": backward_knees(pred), "ref_knees_back": backward_knees(ref)}


def backward_knees(J, margin=0.02):
    """Share of leg-frames whose knee sits more than `margin` m behind the hip–ankle line (J (T,12,3),
    order JOINTS), the body's forward from its hips and shoulders (motion/hinges.py)."""
    import numpy as np

    from video_mocap.motion.hinges import forward_direction, knee_bend
    rows = {j: i for i, j in enumerate(JOINTS)}
    F = forward_direction(J, rows)
    bends = [knee_bend(J[:, rows[f"{s}_hip"]], J[:, rows[f"{s}_knee"]], J[:, rows[f"{s}_ankle"]], F)
             for s in ("left", "right")]
    return float(np.mean(np.concatenate(bends) < -margin))


def joints_from_track(track):
    from video_mocap.capture.landmarks import INDEX
    return track.world_landmarks[:, [INDEX[j] for j in JOINTS]].astype(float)


def rig_joints(track, target="performer"):
    """Bake the track (default settings, pipeline.Options()) onto a fresh target and read the rig's joints
    back, with its hips' path. target: 'performer' (the default: a metarig built to the performer's
    proportions), 'metarig' (the metarig as Rigify makes it), 'user' (the rendered mannequin's own
    armature, auto-detected bone names, its own proportions). → (joints (T,12,3), skate, hips (T,3) in
    armature space, leg length of the rig)."""
    import bpy
    import numpy as np

    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.armature import add_metarig, open_armature, read_rest_pose
    from video_mocap.capture.landmarks import INDEX
    from video_mocap.retarget.body import posed_landmarks, rest_landmarks

    if target == "user":
        rig = open_armature(str(ROOT / ".cache" / "fixtures" / "mannequin" / "mannequin.blend"), "mannequin")
        rig.animation_data_clear()
        result = apply_track(bpy.context, rig, track, "auto")
    else:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        rig = add_metarig(bpy.context)
        result = apply_track(bpy.context, rig, track, "metarig", fit_proportions=target == "performer")
    posed = {pb.name: np.empty((len(track), 4, 4)) for pb in rig.pose.bones}
    for i in range(len(track)):
        bpy.context.scene.frame_set(result.frame_start + i)
        for pb in rig.pose.bones:
            posed[pb.name][i] = np.array(pb.matrix)
    rest = read_rest_pose(rig)
    P = posed_landmarks(rest, result.bone_map, posed)
    hips = (P[:, INDEX["left_hip"]] + P[:, INDEX["right_hip"]]) / 2
    R = rest_landmarks(rest, result.bone_map)
    leg = np.mean([np.linalg.norm(R[INDEX[f"{s}_hip"]] - R[INDEX[f"{s}_knee"]])
                   + np.linalg.norm(R[INDEX[f"{s}_knee"]] - R[INDEX[f"{s}_ankle"]]) for s in ("left", "right")])
    return P[:, [INDEX[j] for j in JOINTS]], result.foot_skate, hips, float(leg), feet_vectors(P)


def root_metrics(hips, leg, truth_hips, truth_leg, up_truth=2):
    """Horizontal hip path error and hip rise, both in leg lengths. hips: the rig's hips (T,3) in the
    rig's upright world (z up); truth_hips (T,3) with axis `up_truth` up. The paths are compared after
    the best 2D rotation + translation (the camera's heading is unknown to the capture)."""
    import numpy as np

    ok = np.isfinite(hips).all(1) & np.isfinite(truth_hips).all(1)
    h, t = hips[ok] / leg, truth_hips[ok] / truth_leg
    axes = [a for a in range(3) if a != up_truth]
    a, b = h[:, :2] - h[:, :2].mean(0), t[:, axes] - t[:, axes].mean(0)
    U, _, Vt = np.linalg.svd(a.T @ b)
    D = np.diag([1, np.sign(np.linalg.det(Vt.T @ U.T))])
    R2 = Vt.T @ D @ U.T
    path = float(np.linalg.norm(a @ R2.T - b, axis=1).mean())
    rise = lambda z: float(np.max(z) - np.median(z))  # noqa: E731
    return {"path": path, "travel": float(np.linalg.norm(np.diff(b, axis=0), axis=1).sum()),
            "rise": rise(h[:, 2]), "rise_truth": rise(t[:, up_truth])}


def slide(ankles, leg, truth_ankles, truth_leg, fps, up_truth=2):
    """How far a planted foot slides: the mean horizontal speed of the rig's ankles (T,2,3), in the truth's
    scale (÷ the rig's leg × the truth's), over the frames where the truth's ankle stood (slower than
    0.15 m/s horizontally and within 5 cm of its lowest height), cm/frame. NaN when the truth never stands."""
    import numpy as np

    axes = [a for a in range(3) if a != up_truth]
    speed = np.linalg.norm(np.diff(truth_ankles[..., axes], axis=0), axis=-1) * fps
    low = truth_ankles[..., up_truth] < np.nanmin(truth_ankles[..., up_truth], axis=0) + 0.05
    stood = (speed < 0.15) & low[1:]
    ours = np.linalg.norm(np.diff(ankles[..., :2], axis=0), axis=-1) / leg * truth_leg * 100
    return float(np.nanmean(ours[stood])) if stood.any() else float("nan")


def cpu_seconds(work, *args, repeats=3):
    """The least CPU time of this process (the other processes on the machine do not count) over a few
    runs of work(*args): what is left of the noise from a loaded machine (caches, frequency) is mostly upward."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        work(*args)
        best = min(best, time.process_time() - t0)
    return best


def capture_cached(video, model, name):
    from video_mocap.capture.segment import capture_video
    from video_mocap.capture.track import PoseTrack
    path = CACHE / f"{name}_{model}.npz"
    if path.exists():
        return PoseTrack.load(path)
    track = capture_video(video, model)
    track.save(path)
    return track


def pose2sim_clips(model):
    """(name, track, reference joints (T,12,3), feet (T,2,3): unit ankle → big toe vectors; both in the camera
    frame) per camera."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    import reference as ref

    names, trc = ref.load_trc(SHARED / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc")
    calib = ref.load_calibration(SHARED / "Calib_qualisys.toml")
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        K, dist, R, t = calib[cam] if cam in calib else calib[f"cam_{cam[-2:]}"]
        J = ref.to_camera(np.stack([ref.trc_marker(trc, names, j) for j in JOINTS], 1), R, t)
        feet = np.stack([ref.to_camera(ref.trc_marker(trc, names, b) - ref.trc_marker(trc, names, a), R)
                         for a, b in FEET], 1)
        feet /= np.linalg.norm(feet, axis=-1, keepdims=True)
        yield f"pose2sim {cam}", capture_cached(SHARED / f"{cam}.mp4", model, f"pose2sim_{cam}"), J, feet


def mannequin_clips(model):
    """The rendered fixtures (tools/render_mannequin.py): the default motion and, when the renderer offers
    them, a forward jump and a turn away from the camera. → (name, track, joints (T,12,3), truth hips, leg)."""
    import inspect

    import numpy as np
    sys.path.insert(0, str(ROOT / "tools"))
    import render_mannequin

    from video_mocap.capture.landmarks import INDEX
    motions = ["default"]
    if "motion" in inspect.signature(render_mannequin.render).parameters:
        motions += [m for m in getattr(render_mannequin, "MOTIONS", ()) if m != "default"]
    for motion in motions:
        folder = ROOT / ".cache" / "fixtures" / ("mannequin" if motion == "default" else f"mannequin_{motion}")
        out = (render_mannequin.render(folder) if motion == "default"
               else render_mannequin.render(folder, motion=motion))
        truth = np.load(out / "truth.npz")
        L = truth["landmarks_world"]
        J = L[:, [INDEX[j] for j in JOINTS]]
        hips = (L[:, INDEX["left_hip"]] + L[:, INDEX["right_hip"]]) / 2
        leg = np.median(np.mean([np.linalg.norm(L[:, INDEX[f"{s}_hip"]] - L[:, INDEX[f"{s}_knee"]], axis=-1)
                                 + np.linalg.norm(L[:, INDEX[f"{s}_knee"]] - L[:, INDEX[f"{s}_ankle"]], axis=-1)
                                 for s in ("left", "right")], axis=0))
        name = "rendered mannequin" + ("" if motion == "default" else f" ({motion})")
        yield (name, capture_cached(out / "mannequin.mp4", model, f"mannequin_{motion}"), J, hips, float(leg),
               feet_vectors(L))


def run(model="full", write=None, skip_mannequin=False):

    from video_mocap.pipeline import Options, clean

    CACHE.mkdir(parents=True, exist_ok=True)
    clips = []
    if SHARED.exists():
        clips += [(n, t, J, None, None, feet) for n, t, J, feet in pose2sim_clips(model)]
    else:
        print(f"(Pose2Sim demo not found at {SHARED}: skipped)")
    if not skip_mannequin:
        try:
            clips += list(mannequin_clips(model))
        except Exception as exc:  # the renderer needs Cycles; say so and go on
            print(f"(rendered mannequin skipped: {exc})")
    rows, plot = [], None
    for name, raw, ref_J, ref_hips, ref_leg, ref_feet in clips:
        n = min(len(raw), len(ref_J))
        raw = raw.sliced(0, n)
        ref_J = ref_J[:n]
        ref_feet = None if ref_feet is None else ref_feet[:n]
        filtered = clean(raw, Options(fusion=False))          # flips undone, then smoothed
        fused = clean(raw, Options())                           # the default: flips, fusion, smoothing
        cost = (cpu_seconds(clean, raw, Options()) - cpu_seconds(clean, raw, Options(fusion=False))) / n * 1000
        stages = {label: (joints_from_track(t), None, None, feet_vectors(t.world_landmarks))
                  for label, t in (("raw landmarks", raw), ("filtered (no fusion)", filtered),
                                   ("fused (default)", fused))}
        targets = [("baked: metarig at the performer's proportions (default)", "performer"),
                   ("baked: metarig at its own proportions", "metarig")]
        if ref_hips is not None and name == "rendered mannequin":
            targets.append(("baked: a user armature (the mannequin's own rig)", "user"))
        for label, target in targets:
            rig_J, skate, hips, leg, rig_feet = rig_joints(raw, target)
            stages[label] = (rig_J, skate, (hips, leg), rig_feet)
        for stage, (J, skate, root, feet) in stages.items():
            m = metrics(J, ref_J, feet, ref_feet)
            m.update(clip=name, stage=stage, cost=f"{cost:.2f}" if stage.startswith("fused") else "",
                     skate=(f"{100 * skate['before']:.2f} / {100 * skate['after']:.2f}" if skate else ""),
                     path="", rise="", slide="")
            if root is not None and ref_hips is not None:
                r = root_metrics(root[0], root[1], ref_hips[:n], ref_leg)
                m.update(path=f"{r['path']:.2f} (of {r['travel']:.1f})", rise=f"{r['rise']:.2f} / {r['rise_truth']:.2f}",
                         slide=f"{slide(J[:, ANKLES], root[1], ref_J[:, ANKLES], ref_leg, raw.fps):.2f}")
            rows.append(m)
        raw_row = next(r for r in rows if r["clip"] == name and r["stage"] == "raw landmarks")
        for r in rows:
            if r["clip"] == name:
                r["ratio"] = f"{r['dir'] / raw_row['dir']:.2f} / {r['pampjpe'] / raw_row['pampjpe']:.2f}"
                r["feet_cell"] = ("" if r["feet"] != r["feet"] else
                                  f"{r['feet']:.1f} ({r['feet'] / raw_row['feet']:.2f})")
        if plot is None:
            plot = (name, raw, fused, ref_J)
    header = ("| clip | stage | dir error (°) | PA-MPJPE (mm) | ÷ raw: dir / PA | feet (°; ÷ raw) | jitter (mm/fr²) "
              "| reference jitter "
              "| L/R swaps | skate before / after lock (cm/fr) | planted feet's slide (cm/fr) "
              "| root path error (leg lengths, of travel) "
              "| hip rise: ours / truth (leg lengths) | knees bent backwards > 2 cm (% of leg-frames; reference) "
              "| fusion cost (ms/frame) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [header] + [f"| {r['clip']} | {r['stage']} | {r['dir']:.1f} | {r['pampjpe']:.0f} | {r['ratio']} | "
                        f"{r['feet_cell']} | "
                        f"{r['jitter']:.1f} | {r['ref_jitter']:.1f} | {r['lr']}/{r['frames']} | {r['skate']} | {r['slide']} | "
                        f"{r['path']} | {r['rise']} | {100 * r['knees_back']:.0f} ({100 * r['ref_knees_back']:.0f}) | "
                        f"{r['cost']} |" for r in rows]
    table = "\n".join(lines) + "\n\n" + targets_table(rows)
    print(table)
    if write:
        png = ROOT / "docs" / "bench_wrist.png"
        if plot is not None:
            _plot(plot, png)
        _write_section(Path(write), table, png if plot is not None else None, model)
    return rows


def error_budget(model="full"):
    """Where the default output's remaining error comes from, on the rendered clips (exact truth): the
    default processing run again with the truth's image landmarks put in ("true 2D"), with the truth's
    depth relative to the hips put in the world landmarks ("true depth"), and with both. Ratios to the raw
    landmarks' dir error / PA-MPJPE, as in the main table. → markdown table."""
    import copy

    import numpy as np

    from video_mocap.capture.landmarks import INDEX
    from video_mocap.pipeline import Options, clean
    lines = ["| clip | default (fused) | with the true 2D | with the true depth | with both |", "|---|---|---|---|---|"]
    for name, raw, J, _hips, _leg, _feet in mannequin_clips(model):
        folder = ROOT / ".cache" / "fixtures" / ("mannequin" + name.removeprefix("rendered mannequin")
                                                 .replace(" (", "_").rstrip(")"))
        truth = np.load(folder / "truth.npz")
        n = min(len(raw), len(J))
        raw, J = raw.sliced(0, n), J[:n]
        w, h = raw.frame_size
        true_2d = truth["landmarks_image"][:n] / np.array([w, h])
        cam = truth["landmarks_world"][:n] @ truth["R_world_from_cv"]  # world → camera axes (x right, y down)
        cam -= (cam[:, INDEX["left_hip"]] + cam[:, INDEX["right_hip"]])[:, None] / 2
        with_2d = copy.deepcopy(raw)
        with_2d.image_landmarks[..., :2] = true_2d
        with_depth = copy.deepcopy(raw)
        with_depth.world_landmarks[..., 2] = cam[..., 2]
        both = copy.deepcopy(with_depth)
        both.image_landmarks[..., :2] = true_2d
        base = metrics(joints_from_track(raw), J)
        cells = []
        for track in (raw, with_2d, with_depth, both):
            m = metrics(joints_from_track(clean(track, Options())), J)
            cells.append(f"{m['dir'] / base['dir']:.2f} / {m['pampjpe'] / base['pampjpe']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    return table


def targets_table(rows) -> str:
    """Issue 13's targets, per clip, for the default output (baked onto the performer-proportion metarig)."""
    out = ["Targets for the default output (baked, metarig at the performer's proportions), from the rows above:",
           "", "| clip | dir ÷ raw ≤ 0.90 | PA-MPJPE ÷ raw ≤ 0.92 | jitter ≤ 1.5 × reference | no L/R swaps "
           "| hip rise within 25 % | root path ≤ 0.2 leg lengths | fusion ≤ 3 ms/frame |",
           "|---|---|---|---|---|---|---|---|"]
    yes = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    for clip in dict.fromkeys(r["clip"] for r in rows):
        raw = next(r for r in rows if r["clip"] == clip and r["stage"] == "raw landmarks")
        fused = next(r for r in rows if r["clip"] == clip and r["stage"].startswith("fused"))
        base = next(r for r in rows if r["clip"] == clip and r["stage"].endswith("(default)")
                    and r["stage"].startswith("baked"))
        d, p = base["dir"] / raw["dir"], base["pampjpe"] / raw["pampjpe"]
        cells = [f"{d:.2f} {yes(d <= 0.90)}", f"{p:.2f} {yes(p <= 0.92)}",
                 f"{base['jitter'] / base['ref_jitter']:.2f} {yes(base['jitter'] <= 1.5 * base['ref_jitter'])}",
                 f"{base['lr']} {yes(base['lr'] == 0)}"]
        if base["rise"]:
            ours, truth = (float(v) for v in base["rise"].split(" / "))
            cells.append(f"{ours:.2f} vs {truth:.2f} " + (yes(abs(ours - truth) <= 0.25 * truth) if truth > 0.2
                                                          else "(no jump)"))
            path = float(base["path"].split()[0])
            cells.append(f"{path:.2f} {yes(path <= 0.2)}")
        else:
            cells += ["–", "–"]
        cost = float(fused["cost"]) if fused["cost"] else float("nan")
        cells.append(f"{cost:.2f} {yes(cost <= 3)}")
        out.append(f"| {clip} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _plot(plot, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    name, raw, filtered, ref_J = plot
    j = JOINTS.index("left_wrist")
    centre = lambda J: J - (J[:, 6:7] + J[:, 7:8]) / 2  # noqa: E731
    series = {"raw": centre(joints_from_track(raw))[:, j], "filtered": centre(joints_from_track(filtered))[:, j]}
    # filtered here is the default output's landmarks (flips, fusion, smoothing)
    ref = centre(ref_J)[:, j]
    # Put the reference in the landmarks' frame with the same global rotation as the table uses.
    R = kabsch(np.concatenate(list(directions(joints_from_track(raw)).values())),
               np.concatenate(list(directions(ref_J).values())))
    series = {k: v @ R.T for k, v in series.items()}
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for axis, ax in enumerate(axes):
        ax.plot(series["raw"][:, axis] * 100, color="0.6", lw=1, label="raw landmarks")
        ax.plot(series["filtered"][:, axis] * 100, color="tab:blue", lw=2, label="fused + filtered (default)")
        ax.plot(ref[:, axis] * 100, color="tab:orange", lw=1.5, ls="--", label="reference")
        ax.set_ylabel(f"{'xyz'[axis]} (cm)")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{name}: left wrist relative to the hips")
    axes[-1].set_xlabel("frame")
    png.parent.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(png, dpi=80)


def _write_section(path, table, png, model):
    start, end = "<!-- accuracy:start -->", "<!-- accuracy:end -->"
    body = (f"{start}\n## Accuracy\n\n`make bench` (tools/bench_accuracy.py), model `{model}`, default settings "
            f"(zero-phase smoothing 5 Hz, root motion on the hips, foot locking), baked onto the Rigify human "
            f"metarig. Run on {time.strftime('%Y-%m-%d')}.\n\n{table}\n\n"
            + (f"![left wrist: raw, filtered, reference]({png.relative_to(ROOT)})\n\n" if png else "")
            + "How to read it: see the docstring of tools/bench_accuracy.py.\n" + end)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text:
        text = text[:text.index(start)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    path.write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="full")
    ap.add_argument("--write", help="replace the accuracy section of this markdown file")
    ap.add_argument("--no-mannequin", action="store_true", help="only the real footage")
    ap.add_argument("--budget", action="store_true",
                    help="only the error budget of the rendered clips (true 2D / true depth put in)")
    args = ap.parse_args()
    import bpy  # noqa: F401  (before MediaPipe: Blender 4.2 crashes otherwise)
    load_package()
    if args.budget:
        error_budget(args.model)
        return
    run(args.model, args.write, args.no_mannequin)


if __name__ == "__main__":
    main()
