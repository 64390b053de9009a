"""Accuracy benchmark: raw landmarks vs filtered vs the final baked rig, against a reference.

  .venv/bin/python tools/bench_accuracy.py [--model full] [--write BENCHMARKS.md]

Clips: the Pose2Sim demo (../shared/data/pose2sim_demo, real footage, 4 calibrated cameras,
triangulated reference — its Butterworth-filtered version, the raw triangulation being jittery;
skipped when absent) and the project's own rendered mannequin with known
motion (tools/render_mannequin.py; skipped when it cannot be rendered). Per clip and stage:
Stages: the raw landmarks; filtered = the default processing of the landmarks (left/right flips
undone, motion/sides.py, then zero-phase smoothing); the baked rig (default settings). Figures:
- dir: per-limb direction error (upper arms, forearms, thighs, shins) after ONE global rotation
  for the whole clip (camera frames differ between the stages), degrees, mean over limbs and frames
- PA-MPJPE: per frame, Procrustes-aligned (rotation, translation, scale) error of the 12 limb
  joints, mm (for the rig it includes the rig's own proportions, which are not the person's)
- jitter: mean norm of second differences of the hip-centred joints, mm/frame² (the reference's own
  figure beside it)
- L/R: frames whose joints fit the reference clearly better (30 % lower PA error) with the person's
  left and right swapped
- skate: foot slide while planted, cm/frame, before / after foot locking (root motion on)
Prints one table; with --write, replaces the accuracy section of BENCHMARKS.md and saves a plot.
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


def metrics(pred, ref):
    """pred, ref (T,12,3) joint positions in any (right-handed) frames, same units (metres)."""
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
    return {"dir": dir_err, "pampjpe": float(np.mean(errs) * 1000), "jitter": jit(pred), "ref_jitter": jit(ref),
            "lr": lr, "frames": int(ok.sum()), "per_limb": {k: float(v.mean()) for k, v in per_limb.items()}}


def joints_from_track(track):
    from video_mocap.capture.landmarks import INDEX
    return track.world_landmarks[:, [INDEX[j] for j in JOINTS]].astype(float)


def rig_joints(track, level=True):
    """Bake the track onto a fresh metarig (default settings) and read the rig's joints back."""
    import bpy
    import numpy as np

    from video_mocap.blender.apply import apply_track
    from video_mocap.blender.armature import add_metarig, read_rest_pose
    from video_mocap.capture.landmarks import INDEX
    from video_mocap.retarget.body import posed_landmarks

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = add_metarig(bpy.context)
    result = apply_track(bpy.context, rig, track, "metarig")
    posed = {pb.name: np.empty((len(track), 4, 4)) for pb in rig.pose.bones}
    for i in range(len(track)):
        bpy.context.scene.frame_set(result.frame_start + i)
        for pb in rig.pose.bones:
            posed[pb.name][i] = np.array(pb.matrix)
    P = posed_landmarks(read_rest_pose(rig), result.bone_map, posed)
    return P[:, [INDEX[j] for j in JOINTS]], result.foot_skate


def capture_cached(video, model, name):
    from video_mocap.capture.landmarker import capture_video
    from video_mocap.capture.track import PoseTrack
    path = CACHE / f"{name}_{model}.npz"
    if path.exists():
        return PoseTrack.load(path)
    track = capture_video(video, model)
    track.save(path)
    return track


def pose2sim_clips(model):
    """(name, track, reference joints (T,12,3) in the camera frame) per camera."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    import reference as ref

    names, trc = ref.load_trc(SHARED / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc")
    calib = ref.load_calibration(SHARED / "Calib_qualisys.toml")
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        K, dist, R, t = calib[cam] if cam in calib else calib[f"cam_{cam[-2:]}"]
        J = ref.to_camera(np.stack([ref.trc_marker(trc, names, j) for j in JOINTS], 1), R, t)
        yield f"pose2sim {cam}", capture_cached(SHARED / f"{cam}.mp4", model, f"pose2sim_{cam}"), J


def mannequin_clip(model):
    import numpy as np
    sys.path.insert(0, str(ROOT / "tools"))
    import render_mannequin

    from video_mocap.capture.landmarks import INDEX
    out = render_mannequin.render(ROOT / ".cache" / "fixtures" / "mannequin")
    truth = np.load(out / "truth.npz")
    J = truth["landmarks_world"][:, [INDEX[j] for j in JOINTS]]
    track = capture_cached(out / "mannequin.mp4", model, "mannequin")
    return "rendered mannequin", track, J


def run(model="full", write=None, skip_mannequin=False):
    import numpy as np

    from video_mocap.motion.filters import smooth_track
    from video_mocap.motion.sides import fix_side_flips

    CACHE.mkdir(parents=True, exist_ok=True)
    clips = []
    if SHARED.exists():
        clips += list(pose2sim_clips(model))
    else:
        print(f"(Pose2Sim demo not found at {SHARED}: skipped)")
    if not skip_mannequin:
        try:
            clips.append(mannequin_clip(model))
        except Exception as exc:  # the renderer needs Cycles; say so and go on
            print(f"(rendered mannequin skipped: {exc})")
    rows, plot = [], None
    for name, raw, ref_J in clips:
        n = min(len(raw), len(ref_J))
        raw = raw.sliced(0, n)
        ref_J = ref_J[:n]
        filtered, _ = smooth_track(fix_side_flips(raw)[0])  # the default: flips undone, then smoothed
        rig_J, skate = rig_joints(raw)
        stages = {"raw landmarks": joints_from_track(raw), "filtered": joints_from_track(filtered),
                  "baked rig": rig_J}
        for stage, J in stages.items():
            m = metrics(J, ref_J)
            m.update(clip=name, stage=stage,
                     skate=(f"{100 * skate['before']:.2f} / {100 * skate['after']:.2f}"
                            if stage == "baked rig" and skate else ""))
            rows.append(m)
        if plot is None:
            plot = (name, raw, filtered, ref_J)
    header = ("| clip | stage | dir error (°) | PA-MPJPE (mm) | jitter (mm/fr²) | reference jitter | L/R swaps | "
              "skate before / after lock (cm/fr) |\n|---|---|---|---|---|---|---|---|")
    lines = [header] + [f"| {r['clip']} | {r['stage']} | {r['dir']:.1f} | {r['pampjpe']:.0f} | {r['jitter']:.1f} | "
                        f"{r['ref_jitter']:.1f} | {r['lr']}/{r['frames']} | {r['skate']} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if write:
        png = ROOT / "docs" / "bench_wrist.png"
        if plot is not None:
            _plot(plot, png)
        _write_section(Path(write), table, png if plot is not None else None, model)
    return rows


def _plot(plot, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    name, raw, filtered, ref_J = plot
    j = JOINTS.index("left_wrist")
    centre = lambda J: J - (J[:, 6:7] + J[:, 7:8]) / 2  # noqa: E731
    series = {"raw": centre(joints_from_track(raw))[:, j], "filtered": centre(joints_from_track(filtered))[:, j]}
    ref = centre(ref_J)[:, j]
    # Put the reference in the landmarks' frame with the same global rotation as the table uses.
    R = kabsch(np.concatenate(list(directions(joints_from_track(raw)).values())),
               np.concatenate(list(directions(ref_J).values())))
    series = {k: v @ R.T for k, v in series.items()}
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for axis, ax in enumerate(axes):
        ax.plot(series["raw"][:, axis] * 100, color="0.6", lw=1, label="raw landmarks")
        ax.plot(series["filtered"][:, axis] * 100, color="tab:blue", lw=2, label="filtered (default)")
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
    args = ap.parse_args()
    import bpy  # noqa: F401  (before MediaPipe: Blender 4.2 crashes otherwise)
    load_package()
    run(args.model, args.write, args.no_mannequin)


if __name__ == "__main__":
    main()
