"""Image-plane fusion: MediaPipe's world landmarks put back on the camera rays of the image
landmarks, as a skeleton with constant per-performer segment lengths. numpy only.

    fuse_track(track, fov_deg=None | focal_px=None | focal_mm=None) -> (new PoseTrack, FusionReport)

BlazePose's 2D landmarks are good to a few pixels; its metric world landmarks are mostly wrong in
depth (the z of a limb pointing at or away from the camera). Per clip, in camera space (MediaPipe's
axes: x right, y down, z away from the camera, metres), the fit finds the positions X of the 25
body landmarks (nose, ears, shoulders down) of every frame minimising

    Σ vis·(f/z)²/σ_px² · |X − its projection on the ray through the image landmark|²   2D evidence
  + Σ |(X − mean X) − (W − mean W)|² / (σ_xy², σ_xy², σ_z²)                          shape prior
  + Σ (|X_b − X_a| − L_seg)² / σ_seg²                                               segment lengths
  + Σ |X(t−1) − 2X(t) + X(t+1)|² / σ_acc²                                           light smoothness

where W are the world landmarks (the prior is translation-free: the rays place the body), L_seg one
length per segment for the whole clip, left and right pooled (`motion/proportions.py`), and
σ_acc = accel / fps². The segment lengths are estimated first, from a fit without them, weighting
the frames where a segment lies across the view (its length is then fixed by the image). The length
terms are linearised about the current fit (Gauss-Newton, a few passes), which cannot give depth to a
limb the fit has level with its parent: before those passes, limbs the image shows foreshortened are put
at their length on their rays, on the side the detector's depth order says over the run, and the shape
prior's depth moves halfway there (`motion/lift.py`); no pass may carry a limb joint through to the other
side of its parent along its ray (`lift.keep_sides`: the linearisation is blind there). Each pass is one sparse
linear system over the whole clip, solved by conjugate gradients preconditioned by the exact
per-frame solve. Long clips go in windows of `CHUNK` frames with `CONTEXT` frames of overlap.

Feet that stand still in the picture (motion/feet.py `still_in_image`: a foot's image points slower than
0.6 torso lengths a second for 0.1 s or more; with a static camera, a planted foot) keep their ankle (and toe,
below) where it is over each stance: held at the lifted fit's median position of the stance within STANCE_SIGMA
(3 cm per axis), ramped in and out over 0.1 s, a term in the passes with the lengths. A planted foot does not move: the
image keeps it on one ray, the hold at one depth on it, whatever the camera's tilt; a moving camera shows no
still foot and nothing is held. Measured (tools/bench_accuracy.py, the default processing, fused landmarks;
dir ÷ raw / PA-MPJPE ÷ raw, without → with): the rendered mannequin 0.774/0.894 → 0.665/0.838, boxing
0.890/0.807 → 0.896/0.673, the walk toward the camera 0.865/0.952 → 0.850/0.921, walk_high 0.914/0.923 →
0.902/0.900, jump_high 0.907/0.914 → 0.899/0.903, the jump 0.746/0.879 → 0.740/0.888, Pose2Sim cam01
0.792/0.835 → 0.796/0.848, cam03 0.833/0.881 → 0.828/0.865, the other four within 0.005. The cost is in
smoothness: the ankles, pinned while the fit's hips wander in depth, shake more against the hips (the
mannequin's jitter 1.35 → 1.45 × the truth's, boxing's 0.70 → 0.74). Tried and not taken: holding the
camera height alone (the mannequin 0.700/0.842, boxing PA 0.750, the walk's 0.951; jitter 1.36), σ 2 cm
(boxing dir 0.917, the mannequin's jitter 1.49), 5 cm (about half the gain), no ramp (more jitter), a
stronger temporal term in the fit (accel 150-200: the mannequin's jitter 1.55-1.59), one floor height for
both feet and every stance (needs the floor's tilt: assumed level, the tilted camera's walk went
0.93/0.95).

The toe (foot_index) of a still foot is held like its ankle (STANCE_POINTS): a planted foot neither slides
nor turns. Measured (tools/bench_accuracy.py, default processing, fused; dir ÷ raw / PA-MPJPE ÷ raw, and the
feet's own direction error, ankle → toe tip, ÷ raw; ankle alone → ankle and toe): the mannequin 0.665/0.836,
feet 1.17 → 0.657/0.833, feet 0.86; boxing 0.896/0.670, 1.08 → 0.897/0.665, 0.76; the jump 0.740/0.888,
0.58 → 0.741/0.887, 0.40; jump_high 0.899/0.901, 0.52 → 0.902/0.899, 0.33; the walk toward the camera
0.850/0.921, 0.63 → 0.848/0.913, 0.74; walk_high 0.893/0.892, 0.88 → 0.893/0.887, 0.85; the turn
0.870/0.928, 1.08 → 0.869/0.931, 1.05; the walk across 0.846/0.931, 0.31 → 0.848/0.931, 0.32; Pose2Sim cam04
0.879/0.821 → 0.874/0.818, the other three within 0.002 (their toes were not measured then). With the ankle alone
the mannequin's and boxing's feet came out worse than the detector's. Baked, the hips' false rise on clips
without a jump falls (the mannequin 0.07 → 0.02 leg lengths, boxing 0.08 → 0.02). Tried and not taken: the
heel too (boxing dir 0.907: the heel leaves the floor before the toe), the toe at a quarter of the weight
(jump_high 0.901, a smaller feet gain), each point held only while it is itself still in the image (boxing
0.909, jump_high 0.907).

Length spread (CONSTRAINED): how far each segment may leave the clip's one length, 1.3 × the first
tuning's (limbs 1 → 1.3 cm, feet and widths 1.5 → 2, hands 2 → 2.6, the torso's side 3 → 4). The clip's
lengths are themselves estimates: on the frames where a segment lies across the view they scatter by 0.5–2 cm
on the rendered clips and 1–4 cm on the Pose2Sim footage (robust σ, pass 1), so a 1 cm hold forced lengths a
few per cent off onto every frame. Measured (tools/bench_accuracy.py, default processing, baked onto the
metarig at the performer's proportions; dir ÷ raw / PA-MPJPE ÷ raw, 1× → 1.3×): the turn 0.869/0.924 →
0.879/0.918, jump_high 0.902/0.901 → 0.897/0.898, boxing 0.897/0.656 → 0.889/0.652, the walk toward the
camera 0.848/0.907 → 0.843/0.904, Pose2Sim cam01 PA 0.84 → 0.84, cam03 0.86 → 0.87, the rest within 0.005;
the mannequin's jitter 1.41 → 1.38 × the truth's. Looser still trades the Pose2Sim clips for the turn
(1.5×: cam03 PA 0.88 fused, the turn 0.915 baked, the mannequin's jitter 1.47; 2×: cam03 0.90); the limbs
alone or the rest alone loosened gain less (the turn 0.927 / 0.923 fused at 1.5×).

A wrong field of view barely matters: the hip depth from perspective-n-point (`motion/root.py`)
scales with the focal length, so the rays' metric spacing at the person is nearly the same.
After the passes, knees bent backwards and feet turned backwards are put right along their rays (motion/hinges.py).
The face landmarks other than the nose and ears keep their rays and take the nose's depth change.
Output: world landmarks hip-centred again (the mean of the hips at 0), the other arrays copied;
frames without a person stay NaN; detected frames that cannot be placed (a landmark missing, or
no perspective-n-point) keep the raw values. Smoothing proper is left to `filters.smooth_track`.

Measured (defaults; limb error = mean angle of the 8 arm/leg segments to the truth, PA-MPJPE =
per-frame similarity-aligned error of the 22 landmarks from the shoulders down):
- Synthetic (tests/unit/test_fusion.py: 120 frames, 3.4–5 m, 2.5 px noise, world depth noise 5 cm
  correlated over ~5 frames, 1 cm across; 3 noise seeds × FOV guess 60/45/75 with true 60; re-measured
  in session 11 with everything above): limb error 8.8° → 4.7° (0.53×), PA-MPJPE 40.7 → 27.5 mm (0.68×).
  After smooth_track (seed 0, right FOV): 8.7° → 4.0°, 38.6 → 20.8 mm. Right FOV: 4.3° / 25.4 mm; 15° off:
  4.8–4.9° / 28–29 mm. Lengths within 3 %. (The first version, without the lift, the stance hold and the
  torso's pace, measured 3.9° / 22.1 mm here: a synthetic performer with no depth bias in its "detector"
  needs none of them, and the real clips below do.)
- Pose2Sim demo (4 calibrated cameras, 100 frames, pose_landmarker_full, reference = Pose2Sim's
  triangulation; left/right flips fixed first with motion/sides.py; median over frames of the
  8 limbs, then mean over cameras): limb error 17.2° → 14.4° (f from the calibration),
  14.5° (FOV guess 45°), 14.6° (75°; true 59.5°); PA-MPJPE (17 landmarks) 98.0 → 94.0 mm. Per
  camera 15.8/16.1/16.4/20.5° → 13.5/13.1/13.8/17.1°. Without the flip fix cam02 (front/back
  confusion on frames ~35–75) gets worse in PA-MPJPE (134 → 150 mm) though not in limb error.
- Cost: 0.5–0.7 ms per frame on one core (tools/bench_accuracy.py: three sparse linear solves over the clip of
  75 unknowns a frame, the later ones reusing the first one's preconditioner).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX as I
from ..capture.track import PoseTrack
from . import proportions
from .blas import one_blas_thread
from .feet import runs, still_in_image
from .hinges import point_feet_forward, unbend_knees
from .lift import keep_sides, lift_limbs, lifted_prior
from .root import hip_translation, intrinsics

FUSED = np.array([I["nose"], I["left_ear"], I["right_ear"]] + list(range(11, 33)))
FACE_REST = np.array([i for i in range(11) if i not in (I["nose"], I["left_ear"], I["right_ear"])])
_POS = {int(j): k for k, j in enumerate(FUSED)}  # landmark index → row in the fused block
_ROWS = {name: _POS[i] for name, i in I.items() if i in _POS}  # landmark name → row

# Segments held at one length over the clip, and the spread allowed around it (metres).
# (Module docstring, "Length spread": 1.3 × the first tuning's 1 / 1.5 / 2 / 3 cm.)
CONSTRAINED = {
    "upper_arm": 0.013, "forearm": 0.013, "thigh": 0.013, "shin": 0.013,
    "heel": 0.02, "foot": 0.02, "ankle_to_toe": 0.02,
    "hand": 0.026, "hand_pinky": 0.026, "hand_thumb": 0.026,
    "shoulder_width": 0.02, "hip_width": 0.02, "torso_side": 0.04,
    "head_width": 0.02, "nose_to_ear": 0.02,
}
CHUNK, CONTEXT = 240, 20
MIN_WEIGHT = 0.05
MIN_SIDE_ON = 0.25  # mean (side-on fraction)⁴ over frames below which a length comes from the world landmarks
STANCE_SIGMA = 0.03  # metres: how far a still foot's ankle may leave its stance's position (per axis)
STANCE_POINTS = ("ankle", "foot_index")  # the points of a still foot that are held (module docstring)
STANCE_RAMP_S = 0.1  # the hold ramps in and out over this


@dataclass
class FusionReport:
    frames: int
    fused_frames: int               # frames placed on the rays
    kept_frames: int                # detected frames left as they were (could not be placed)
    focal_px: float
    segment_lengths: dict = field(default_factory=dict)
    reprojection_px: tuple = (float("nan"), float("nan"))  # median (raw world + PnP hips, fused)
    depth_change_m: float = float("nan")   # median |Δz| of a landmark relative to the hips
    knees_unbent: tuple = (0, 0)            # frames whose left / right knee was bent backwards and moved
    feet_turned: tuple = (0, 0)             # frames whose left / right foot pointed backwards and was turned round
    limbs_lifted: int = 0                   # joint-frames given depth by motion/lift.py
    sides_kept: int = 0                     # joint-frames a pass sent to the other side, put back
    sides_from_reach: int = 0               # joint-frames whose weak detector side was behind the body's reach
    orders_offset: tuple = ()               # limb joints whose detector depth order was compressed (read
                                            # against its own across-the-view offset, motion/lift.py)
    ankles_held: int = 0                    # ankle-frames of feet still in the image, held (toes too) where they stand
    seconds: float = 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / max(self.frames, 1)

    def summary(self) -> str:
        lengths = ", ".join(f"{k} {v * 100:.1f}" for k, v in self.segment_lengths.items()
                            if k in ("upper_arm", "forearm", "thigh", "shin", "shoulder_width", "hip_width")
                            and np.isfinite(v))
        return (f"fusion: {self.fused_frames}/{self.frames} frames on the image rays (f = {self.focal_px:.0f} px), "
                f"reprojection {self.reprojection_px[0]:.1f} → {self.reprojection_px[1]:.1f} px, "
                f"depth moved {self.depth_change_m * 100:.1f} cm (median); foreshortened limb joints lifted: "
                f"{self.limbs_lifted} (side from the body's reach, the detector unsure: {self.sides_from_reach}; "
                f"the detector's depth order read against its offset: {', '.join(self.orders_offset) or 'none'}); "
                f"put back on their side: {self.sides_kept}; still feet's ankle-frames held: {self.ankles_held}; "
                f"knees bent backwards, moved: "
                f"{self.knees_unbent[0]} left / {self.knees_unbent[1]} right; feet pointing backwards, turned round: "
                f"{self.feet_turned[0]} left / {self.feet_turned[1]} right; lengths cm: {lengths}; "
                f"{self.ms_per_frame:.2f} ms/frame")


def _pairs(name: str):
    """(side count) list of (rows of end A, rows of end B) in the fused block."""
    return [([_POS[i] for i in a], [_POS[i] for i in b]) for a, b in proportions.SEGMENTS[name]]


def _second_difference(x: np.ndarray, valid3: np.ndarray) -> np.ndarray:
    """D2ᵀ D2 x along axis 0, over the triples (t-1, t, t+1) marked valid3 (len T-2)."""
    out = np.zeros_like(x)
    if len(x) < 3:
        return out
    d = (x[:-2] - 2 * x[1:-1] + x[2:]) * valid3[:, None]
    out[:-2] += d
    out[1:-1] -= 2 * d
    out[2:] += d
    return out


def _solve_chunk(H, rhs, x0, lam, valid3, iters, tol=1e-6, M=None):
    """(H_t block-diagonal + lam·D2ᵀD2) x = rhs by preconditioned conjugate gradients.
    H (T,m,m), rhs/x0 (T,m). The preconditioner M is the exact per-frame solve (or one passed in,
    from a previous Gauss-Newton pass). Returns (x, M)."""
    T, m = rhs.shape
    if M is None:
        diag = np.zeros(T)
        if T >= 3:
            diag[:-2] += valid3
            diag[1:-1] += 4 * valid3
            diag[2:] += valid3
        M = np.linalg.inv(H + (lam * diag)[:, None, None] * np.eye(m))

    def A(v):
        return (H @ v[..., None])[..., 0] + lam * _second_difference(v, valid3)

    x = x0.copy()
    r = rhs - A(x)
    z = (M @ r[..., None])[..., 0]
    p = z.copy()
    rz = float(np.sum(r * z))
    norm0 = float(np.sqrt(np.sum(rhs * rhs))) or 1.0
    for _ in range(iters):
        Ap = A(p)
        alpha = rz / float(np.sum(p * Ap))
        x += alpha * p
        r -= alpha * Ap
        if np.sqrt(np.sum(r * r)) < tol * norm0:
            break
        z = (M @ r[..., None])[..., 0]
        rz_new = float(np.sum(r * z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, M


def _assemble(rays, w_ray, W, prior_w, anchor, anchor_w, lengths, X_lin, seg_sigma, stance=None):
    """Per frame normal equations (T, n·3, n·3), (T, n·3) for the fused block.
    rays (T,n,3) unit; w_ray (T,n); W (T,n,3) prior shape; prior_w (3,) per axis;
    anchor (T,3) target of the mean position; lengths {name: L} (None: no length terms);
    stance: (weights (T,n), targets (T,n,3)): a point held at that position with that weight."""
    T, n, _ = W.shape
    H = np.zeros((T, n, 3, n, 3))
    b = np.zeros((T, n, 3))
    idx = np.arange(n)
    # 2D evidence: distance from the ray, X on the ray through the camera centre → target 0
    Q = np.eye(3) - rays[..., :, None] * rays[..., None, :]
    H[:, idx, :, idx, :] += np.moveaxis(w_ray[..., None, None] * Q, 1, 0)
    # shape prior, translation-free: per axis, diag(w) − w wᵀ / Σw (uniform w per landmark)
    P = np.eye(n) - np.full((n, n), 1.0 / n)
    for k in range(3):
        H[:, :, k, :, k] += prior_w[k] * P
        b[:, :, k] += prior_w[k] * (W[:, :, k] - W[:, :, k].mean(1, keepdims=True))
    # weak anchor on the mean position (keeps the system well posed with few rays)
    for k in range(3):
        H[:, :, k, :, k] += anchor_w / n ** 2
        b[:, :, k] += (anchor_w / n) * anchor[:, k:k + 1]
    # segment lengths, linearised: u·(X_b − X_a) = L with u the current direction
    if lengths:
        for name, sigma in seg_sigma.items():
            L = lengths.get(name)
            if L is None or not np.isfinite(L):
                continue
            wt = 1.0 / sigma ** 2
            for a, bb in _pairs(name):
                d = X_lin[:, bb].mean(1) - X_lin[:, a].mean(1)
                u = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
                uu = wt * u[:, :, None] * u[:, None, :]
                ends = [(r, -1.0 / len(a)) for r in a] + [(r, 1.0 / len(bb)) for r in bb]
                for r1, c1 in ends:
                    b[:, r1] += (wt * L * c1) * u
                    for r2, c2 in ends:
                        H[:, r1, :, r2, :] += (c1 * c2) * uu
    if stance is not None:
        weights, targets = stance
        for r in np.flatnonzero(weights.any(0)):
            for k in range(3):
                H[:, r, k, r, k] += weights[:, r]
                b[:, r, k] += weights[:, r] * targets[:, r, k]
    return H.reshape(T, 3 * n, 3 * n), b.reshape(T, 3 * n)


def _stance_targets(X: np.ndarray, still: dict, usable: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(weights (T,n), targets (T,n,3)) for the fused block: on each run of usable frames where a foot stands
    still in the image, its ankle and toe (STANCE_POINTS) are held at the run's median position (of the fit X)
    with 1/STANCE_SIGMA² per axis, ramped in and out over STANCE_RAMP_S (a hold that starts at once jerks the
    ankle). A planted foot does not move: the image keeps it on one ray, the hold at one depth on it."""
    weights, targets = np.zeros(X.shape[:2]), np.zeros(X.shape)
    ramp_frames = max(1, int(round(STANCE_RAMP_S * fps)))
    for side, mask in still.items():
        held = [_ROWS[f"{side}_{point}"] for point in STANCE_POINTS]
        for a, b in runs(np.asarray(mask, bool) & usable):
            k = min(ramp_frames, (b - a) // 2)
            ramp = np.ones(b - a)
            if k:
                ramp[:k] = np.arange(1, k + 1) / (k + 1)
                ramp[b - a - k:] = ramp[:k][::-1]
            weights[a:b, held] = ramp[:, None] / STANCE_SIGMA ** 2
            targets[a:b, held] = np.median(X[a:b, held], axis=0)
    return weights, targets


def fuse_track(track: PoseTrack, *, fov_deg: float | None = None, focal_px: float | None = None,
               focal_mm: float | None = None, sensor_mm: float = 36.0, pixel_sigma: float = 5.0,
               prior_sigma_xy: float = 0.05, prior_sigma_z: float = 0.08, length_sigma_scale: float = 1.0,
               accel: float = 300.0, iterations: int = 2, cg_iterations: int = 10,
               lengths: dict | None = None, knees: bool = True, lift: bool = True,
               sides: bool = True, reach: bool = True, stance: bool = True) -> tuple[PoseTrack, FusionReport]:
    """Put the world landmarks on the image rays as a constant-length skeleton (module docstring).

    fov_deg / focal_px / focal_mm (+ sensor_mm): the camera, as in `motion.root.intrinsics`
      (default 60° across the longer side; a guess 15° off still helps).
    pixel_sigma: 2D landmark noise (px); prior_sigma_xy / prior_sigma_z: trust in the world
      landmarks' shape across / along the view (m); length_sigma_scale scales the allowed spread of
      the segment lengths; accel: the acceleration (m/s²) that costs as much as a pixel_sigma miss
      — the light temporal term; iterations: Gauss-Newton passes with the lengths.
    lengths: {segment name: metres} to use instead of estimating them.
    knees: move knees the fit left bent backwards onto the front of the hip–ankle line, and turn feet it left
      pointing backwards round on their rays (motion/hinges.py).
    lift: give foreshortened limbs the depth their lengths need before the passes with the lengths, on
      the side the detector's depth order says over each run, and move the shape prior halfway there
      (motion/lift.py).
    reach: where the detector's depth order over a run is weak, the lift does not put an upper arm or a thigh
      far behind the body when the other side keeps it in reach (motion/lift.py).
    sides: after each pass with the lengths, put limb joints it carried to the other side of their parent
      along their ray back (motion/lift.py keep_sides).
    stance: in the passes with the lengths, hold the ankle and toe of a foot the image shows still (motion/feet.py
      still_in_image) where it is over each stance (module docstring).
    Returns (new PoseTrack, FusionReport); the input is not modified. The estimated segment lengths
    are in the new track's extra["segment_lengths"]."""
    t0 = time.perf_counter()
    T = len(track)
    w_px, h_px = track.frame_size
    K = intrinsics(track.frame_size, fov_deg, focal_px, focal_mm, sensor_mm)
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]

    world = np.asarray(track.world_landmarks, np.float64)
    image = np.asarray(track.image_landmarks, np.float64)
    vis = np.clip(np.nan_to_num(np.asarray(track.visibility, np.float64), nan=1.0), MIN_WEIGHT, 1.0)
    detected = np.asarray(track.detected, bool)
    finite = np.isfinite(world).all((1, 2)) & np.isfinite(image[..., :2]).all((1, 2))
    T_cam = np.full((T, 3), np.nan)
    if (detected & finite).any():
        T_cam = hip_translation(np.where(detected[:, None, None], world, np.nan), image, vis * detected[:, None],
                                track.frame_size, K)
    usable = detected & finite & np.isfinite(T_cam).all(1) & (T_cam[:, 2] > 0.1)

    # Rays through the image landmarks (camera centre at the origin); the prior in camera space.
    u = image[..., 0] * w_px - cx
    v = image[..., 1] * h_px - cy
    rays = np.stack([u / f, v / f, np.ones_like(u)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    X0 = world + T_cam[:, None]                      # raw world landmarks at the PnP hips

    out_world = np.array(track.world_landmarks, copy=True)
    X_all = X0.copy()
    seg_lengths = {}
    knees_fixed = [0, 0]
    feet_fixed = [0, 0]
    lifted = kept = reached = stances = 0
    compressed: list = []
    if usable.any():
        Wf = np.nan_to_num(world[:, FUSED])
        rf = np.nan_to_num(rays[:, FUSED])
        depth = np.clip(np.nan_to_num(X0[:, FUSED, 2], nan=1.0), 0.3, None)
        w_ray = vis[:, FUSED] * (f / depth) ** 2 / pixel_sigma ** 2 * usable[:, None]
        prior_w = np.array([1 / prior_sigma_xy ** 2, 1 / prior_sigma_xy ** 2, 1 / prior_sigma_z ** 2])
        anchor = np.nan_to_num(X0[:, FUSED].mean(1))
        anchor_w = 1.0  # σ = 1 m on the mean position
        # temporal weight: an acceleration `accel` costs like one pixel_sigma miss at the person
        lam = (1.0 / (accel / track.fps ** 2)) ** 2
        seg_sigma = {k: s * length_sigma_scale for k, s in CONSTRAINED.items()}
        start = np.nan_to_num(X0[:, FUSED])
        # the naive start: each landmark on its ray at its prior depth
        start = np.where(usable[:, None, None], rf * (start[..., 2:3] / np.maximum(rf[..., 2:3], 1e-6)), 0.0)

        held = None  # (weights, targets) of the still feet's ankles and toes, once the lift has placed them

        def solve(lengths_now, X_lin, x_init, cache=None):
            with one_blas_thread():  # 75×75 systems: a second BLAS thread only spins (motion/blas.py)
                return _solve_all(lengths_now, X_lin, x_init, cache)

        def _solve_all(lengths_now, X_lin, x_init, cache):
            X_new = np.zeros_like(x_init)
            for s in range(0, T, CHUNK):
                a, b = max(0, s - CONTEXT), min(T, s + CHUNK + CONTEXT)
                sl = slice(a, b)
                H, rhs = _assemble(rf[sl], w_ray[sl], Wf[sl], prior_w, anchor[sl], anchor_w, lengths_now,
                                   X_lin[sl], seg_sigma, None if held is None else (held[0][sl], held[1][sl]))
                ok = usable[sl]
                H[~ok] = np.eye(H.shape[1])
                rhs[~ok] = 0.0
                valid3 = ok[:-2] & ok[1:-1] & ok[2:] if b - a >= 3 else np.zeros(0, bool)
                x, M = _solve_chunk(H, rhs, x_init[sl].reshape(b - a, -1), lam, valid3.astype(float),
                                    cg_iterations, M=None if cache is None else cache.get(s))
                if cache is not None:
                    cache[s] = M
                keep = slice(s - a, s - a + min(CHUNK, T - s))
                X_new[s:s + CHUNK] = x.reshape(b - a, -1, 3)[keep]
            return X_new

        # Pass 1 without lengths → the performer's segment lengths, from side-on frames.
        X1 = solve(None, start, start)
        X_all[:, FUSED] = X1
        seg_w = {}
        for name in proportions.SEGMENTS:
            ws = []
            for vec, a, b in proportions.segment_vectors(X_all, name):
                mid = (X_all[:, list(a)].mean(1) + X_all[:, list(b)].mean(1)) / 2
                view = mid / np.maximum(np.linalg.norm(mid, axis=-1, keepdims=True), 1e-9)
                along = np.abs(np.sum(vec * view, -1)) / np.maximum(np.linalg.norm(vec, axis=-1), 1e-9)
                ws.append(np.clip(1 - along ** 2, 0, 1) ** 2)  # (side-on fraction)⁴
            seg_w[name] = np.stack(ws, 1)
        seg_lengths = proportions.segment_lengths(np.where(usable[:, None, None], X_all, np.nan),
                                                  vis, segment_weights=seg_w)
        # Segments hardly ever seen side-on (the nose → ears of a person facing the camera): the
        # image cannot fix their length; take the world landmarks' own robust length.
        raw_lengths = proportions.segment_lengths(np.where(usable[:, None, None], world, np.nan), vis)
        for name, w in seg_w.items():
            if not float(np.nanmean(np.where(usable[:, None], w, np.nan))) >= MIN_SIDE_ON:
                seg_lengths[name] = raw_lengths[name]
        seg_lengths.update(lengths or {})
        # Gauss-Newton passes with the lengths.
        X = X1
        if lift:  # foreshortened limbs get the depth their lengths need (motion/lift.py)
            X, lifted, reached, compressed = lift_limbs(X1, rf, seg_lengths, Wf, usable, _ROWS, reach=reach)
            Wf = lifted_prior(Wf, X, usable)
        if stance:  # a foot the picture shows still keeps its ankle and toe where they are over the stance
            held = _stance_targets(X, still_in_image(image, track.frame_size, track.fps), usable, track.fps)
            stances = int((held[0][:, [_ROWS["left_ankle"], _ROWS["right_ankle"]]] > 0).sum())
        preconditioners: dict = {}  # the later passes reuse the first one's (the lengths barely turn)
        for _ in range(max(1, iterations)):
            X_next = solve(seg_lengths, X, X, preconditioners)
            if sides:
                X_next, n_kept = keep_sides(X, X_next, rf, _ROWS, usable)
                kept += n_kept
            X = X_next
        if knees:  # a knee put behind the hip–ankle line moves along its ray (motion/hinges.py)
            X, knees_fixed = unbend_knees(X, rf, seg_lengths.get("thigh", np.nan), seg_lengths.get("shin", np.nan),
                                          _ROWS, usable)
            X, feet_fixed = point_feet_forward(X, rf, _ROWS, usable)  # and feet do not point backwards
        X_all[:, FUSED] = X
        # Face landmarks other than nose/ears: on their rays, shifted in depth like the nose.
        dz = X[:, _POS[I["nose"]], 2] - X0[:, I["nose"], 2]
        z_face = X0[:, FACE_REST, 2] + dz[:, None]
        X_all[:, FACE_REST] = rays[:, FACE_REST] * (z_face / rays[:, FACE_REST, 2])[..., None]
        hips = (X_all[:, I["left_hip"]] + X_all[:, I["right_hip"]]) / 2
        fused_world = X_all - hips[:, None]
        out_world[usable] = fused_world[usable].astype(out_world.dtype)

    def reproj(P):
        P = P[usable][:, FUSED]
        uv = P[..., :2] / P[..., 2:3] * f + np.array([cx, cy])
        obs = np.stack([image[usable][:, FUSED, 0] * w_px, image[usable][:, FUSED, 1] * h_px], -1)
        e = np.linalg.norm(uv - obs, axis=-1)
        return float(np.nanmedian(e)) if e.size else float("nan")

    hips0 = (X0[:, I["left_hip"]] + X0[:, I["right_hip"]]) / 2
    rel0 = X0 - hips0[:, None]
    dz_rel = np.abs(out_world.astype(np.float64)[..., 2] - rel0[..., 2])[usable][:, FUSED]
    report = FusionReport(
        frames=T, fused_frames=int(usable.sum()), kept_frames=int((detected & ~usable).sum()), focal_px=float(f),
        segment_lengths={k: float(v) for k, v in seg_lengths.items()},
        reprojection_px=(reproj(X0), reproj(X_all)) if usable.any() else (float("nan"), float("nan")),
        depth_change_m=float(np.median(dz_rel)) if dz_rel.size else float("nan"), knees_unbent=tuple(knees_fixed),
        feet_turned=tuple(feet_fixed),
        limbs_lifted=lifted, sides_kept=kept, sides_from_reach=reached, orders_offset=tuple(compressed),
        ankles_held=stances)
    extra = dict(track.extra)
    extra["segment_lengths"] = dict(report.segment_lengths)
    new = PoseTrack(out_world, np.array(track.image_landmarks, copy=True), np.array(track.visibility, copy=True),
                    np.array(track.presence, copy=True), np.array(track.detected, copy=True),
                    np.array(track.timestamps_ms, copy=True), track.fps, tuple(track.frame_size), track.source,
                    track.model, track.first_frame, extra, **track.hand_arrays(),
                    **track._face_rows(0, len(track)))
    report.seconds = time.perf_counter() - t0
    return new, report
