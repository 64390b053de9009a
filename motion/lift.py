"""Foreshortened limbs get their depth back: a limb joint placed on its camera ray at the segment's length.

    lift_limbs(points, rays, lengths, reference, usable, rows) -> (points, joint-frames moved,
                                                                   joint-frames whose side came from the reach)
    keep_sides(before, after, rays, rows, usable) -> (points, joint-frames put back)

Where a limb points at or away from the camera its image is short, and the detector's depth for it is
mostly too small (a squat's thighs came out level with the hips, a reach toward the camera flat). The
fusion's length terms cannot recover it by themselves: they are linearised about the current direction,
which has almost no depth, so the cheaper fix for the solver is to push the whole body away from the
camera (tools/bench_accuracy.py: the rendered squat's hips went 17 % further away, its thighs' depth sign
right on 60 % of the frames where the raw detector had it right on 74–100 %).

Per frame, from the body's roots outward (shoulder → elbow → wrist, hip → knee → ankle): with the parent
already placed, the child's camera ray meets the sphere of the segment's length around it at two depths,
one nearer the camera than the parent and one farther. When the depth the image leaves for the segment
is large (more than LIFT_MIN of its length) and the current fit has less, the child takes the one on the
side the detector's depth order says, decided once per run of such frames: a limb cannot go from pointing
at the camera to pointing away without lying across the view, where the image leaves it no depth and a
run ends, so within a run the side is one, and the detector's per-frame order (right on 54–86 % of the
frames) is summed over the run. What hangs below the child (wrist → hand points, ankle → heel and toes)
shifts in depth with it, on its own rays. One exception to the detector's side (the body's reach): where
its order over a run is weak (the mean depth difference under WEAK_ORDER of the length: it sees the limb
nearly level with its parent though the image says it is not, so its side is little more than a guess) and
its side would hold an upper arm or a thigh more than BEHIND_MAX degrees behind the body (the body's
forward from its hips and shoulders, motion/hinges.py) on nearly the whole run (HELD) while the other side
keeps it within that, the run takes the other side. Shoulders and hips extend only 50–60° and 10–30° behind
the body, and an arm swinging back passes through, it is not held there; a strong order is never
overruled. Where the image leaves little depth (a limb across the view)
nothing moves: there a noisy length would invent depth. The fusion then takes the lifted depth halfway
into its shape prior (PRIOR_SHARE) and solves with the lengths as before. numpy only.

Measured (tools/bench_accuracy.py, the default processing, fused landmarks; limb direction ÷ raw /
PA-MPJPE ÷ raw, without → with): Pose2Sim cam01 0.853/0.876 → 0.806/0.852, cam02 0.449/0.597 →
0.430/0.609, cam03 0.857/0.905 → 0.839/0.889, cam04 0.957/0.880 → 0.904/0.870; the rendered mannequin
0.852/0.960 → 0.795/0.912, jump 0.838/0.990 → 0.771/0.936, turn 0.903/0.944 → 0.880/0.944. The squat's
thighs: depth side right on 62/59 % → 100/94 % of the frames where they point at the camera. Trade-off:
on the synthetic performer of tests/unit/test_fusion.py, whose depth noise is unbiased (nothing flattened
to undo), limb error 4.67/3.77/3.85° → 4.47/3.83/3.85° and PA-MPJPE 21.2/20.4/23.1 → 22.7/23.0/25.2 mm
(3 noise seeds). Variants tried and not taken: the side from each frame's own order (cam04 0.96 → 0.92),
from the order smoothed over 0.1–0.5 s instead of per run (the synthetic's fast arm got 129° wrong), from
the fit without lengths (cam04 0.93), lifting only above 0.25/0.35/0.5 of the length, the prior taking
0/0.75/1 of the lifted depth (0: the rendered clips' gain halves; 1: the turn's PA-MPJPE 0.97), a second
lift after the passes with the lengths (cam04 0.95), only joints the detector sees (visibility ≥ 0.3–0.7:
no change but the jump's PA-MPJPE 0.94 → 0.96), the knee's hinge choosing the shin's side (cam04 0.93),
the torso too, hips → shoulders (cam04 0.85 but PA-MPJPE 0.98, cam01 1.00).

keep_sides: a pass with the lengths may not carry a limb joint through to the other side of its parent.
The passes linearise each length about the segment's current direction; where a segment lies nearly across
its child's camera ray (the ray's closest approach to the parent is near the child), moving the child along
the ray barely changes the length to first order, so one pass jumps far along it and lands on the other
side; the next may jump back. Seen on Pose2Sim cam04: the right thigh changed side on 16 frames with every
pass (a cycle: the result depended on whether the number of passes was even; the even one happened to be
right there). After each pass, a limb joint (CHAINS) that went to the other side along its ray (relative
to the ray's closest approach to its parent) is mirrored back about that point: the same length, the same
image position, the side it had before the pass (the lift's, or the detector's through the first fit);
what hangs below it shifts in depth with it. Measured (tools/bench_accuracy.py, fused, dir ÷ raw /
PA-MPJPE ÷ raw, without → with): the rendered mannequin 0.795/0.912 → 0.781/0.897, jump 0.771/0.936 →
0.743/0.870, turn 0.880/0.944 → 0.871/0.934, boxing 0.883/0.801 → 0.886/0.801; Pose2Sim cam01 0.806/0.852 →
0.792/0.835, cam02 0.430/0.609 → 0.433/0.613, cam03 0.839/0.889 → 0.836/0.873, cam04 0.904/0.870 →
0.916/0.880 (its right thigh: 9.1° on the lucky even pass, 10.7° now). Trade-off: the synthetic performer
of tests/unit/test_fusion.py, whose depth noise is unbiased, has some first-pass sides wrong that the
passes used to flip right: limb error 4.47/3.83/3.85° → 4.75/4.13/4.02°, PA-MPJPE 22.7/23.0/25.2 →
24.2/24.8/26.3 mm. Tried and not taken: guarding the heels, toes and hand points too (the turn 0.929, cam04
0.921, the synthetic worse), guarding from the second pass on only (the first pass's flips are the harmful
ones: cam04 0.956), damping the passes instead (they then converge: cam04 0.92-0.93, the jump's PA-MPJPE
0.88-0.90).

The reach (a weak order does not hold a limb far behind the body): on the eight benchmark clips one run
changes, Pose2Sim cam04's left upper arm on frames 33–52, where the detector's mean depth difference is
0.04 of the length (the right runs elsewhere: mostly 0.27–0.98) and its side held the arm 30–59° behind
the body (the reference: 8° in front on average). Fused, dir ÷ raw / PA-MPJPE ÷ raw: cam04 0.916/0.880 →
0.874/0.819; cam02 0.433/0.613 → 0.437/0.618; the other six unchanged. The window is narrow and is stated
here: the same result for BEHIND_MAX 20–32°, HELD 0.5–0.9 and WEAK_ORDER 0.05–0.2; with BEHIND_MAX 33° or
HELD 0.95 that run no longer changes. Cost on the synthetic performer of tests/unit/test_fusion.py: none
with its usual noise (3 seeds identical); with its depth flattened to 30 % (every order weak) its arms,
swinging to 35° behind plus an 8° lean, lose 4 joint-frames (limb error 11.37 → 11.51°; HELD 0.5 would
cost 30 joint-frames, 12.15°). Tried and not taken: weak runs always taking the side more in front of the
body (cam04 1.04: its right arm really is behind the body, 18°).

A compressed order is read against its offset. On a walk toward the camera the detector puts each swinging upper
arm 0.2 of its length behind the shoulder on every frame, give or take a few hundredths: the arm swings ±22° in
depth, and its order said "behind" on every run, so every forward swing was lifted behind the body (the rendered
walk's right upper arm: wrong side on 24 of 24 deep frames, 16.9° → 20.9° error). What is left in such an order
does follow the limb (correlation with the truth +0.5 to +0.7 on the walk's elbows, wrist and knees), around an
offset: the order where the image shows the segment across the view, where the truth is near 0. So where a
segment's order over the clip varies by less than COMPRESSED of the depth the image leaves it (standard deviations
over the usable frames), while that depth varies by more than MOVING of its length (the limb moves in and out of
depth), its order is taken relative to its value on the frames with less than ACROSS of the length to depth,
interpolated in time between them (`order_offset`). The fusion's summary names those limbs. Measured
(tools/bench_accuracy.py, the default processing, fused landmarks; dir ÷ raw / PA-MPJPE ÷ raw / jitter ÷ the
truth's): the walk toward the camera 0.985/1.002/1.17 → 0.865/0.952/1.28 (its elbows, right wrist and right knee
are compressed; the right upper arm's side wrong on 8 of 24 deep frames instead of 24); the rendered mannequin
0.777/0.894/1.30 → 0.774/0.894/1.35 (its knees); the eight others have no compressed order (their least ratio 0.28,
the walk across the view's right knee) and are unchanged. The same walk figures within ±0.03 for COMPRESSED
0.2-0.3, ACROSS 0.1-0.2 and MOVING 0.05-0.12; COMPRESSED 0.35 takes in the walk across the view (its dir ÷ raw 0.85
→ 0.92). Tried and not taken: the offset on every limb (Pose2Sim cam01 0.79 → 0.94, cam04 0.87 → 1.01: an order
that swings with the limb is information, not offset); a compressed order's weak runs not lifted (the walk 0.98,
the mannequin 0.84); consecutive runs of a compressed limb taking alternate sides, one vote for the chain (the walk
0.87-0.90: noise splits a run in two and the alternation slips).

An offset needs frames to be read from: with fewer than MIN_ACROSS frames across the view, a compressed order has
nothing to be read against, and it says nothing about the side, so that limb is not lifted (it keeps the fit's
depth, the detector's shape through the first pass). Seen on the walk filmed from above (walk_high): the left
forearm's order stayed at −0.36 ± 0.02 of its length (toward the camera) while the truth swung from +0.34 to
−0.47; one frame came under ACROSS, its order became the offset, and every run was lifted toward the camera
(forearm error 20.1° raw, 21.5° fused). Measured (fused; dir ÷ raw / PA-MPJPE ÷ raw): walk_high 0.902/0.900 →
0.893/0.893; the other eleven clips identical; the same for MIN_ACROSS 3–10.
"""
from __future__ import annotations

import numpy as np

from .hinges import forward_direction

LIFT_MIN = 0.3        # lift only where the image leaves more than this share of the segment's length to depth
PRIOR_SHARE = 0.5     # how much of the lifted depth the fusion's shape prior takes (0 = the detector's alone)
WEAK_ORDER = 0.1      # a run's mean detector depth difference (÷ the length) below which its side is a guess
BEHIND_MAX = {"upper_arm": 30.0, "thigh": 30.0}  # degrees behind the body's coronal plane that are doubted
HELD = 0.9            # share of a run's frames the detector's side must be that far behind on
COMPRESSED = 0.25     # the detector's depth order varies less than this share of the depth the image leaves
MOVING = 0.08         # … while that depth varies by more than this share of the length: its order is offset
ACROSS = 0.15         # frames whose image leaves less than this share of the length to depth: the offset's
MIN_ACROSS = 5        # … read from at least this many such frames; with fewer a compressed limb is not lifted

# (parent, child, segment, what hangs below the child) per side, roots first.
CHAINS = tuple((f"{s}_{a}", f"{s}_{b}", seg, tuple(f"{s}_{d}" for d in below))
               for s in ("left", "right") for a, b, seg, below in (
                   ("shoulder", "elbow", "upper_arm", ("wrist", "index", "pinky", "thumb")),
                   ("elbow", "wrist", "forearm", ("index", "pinky", "thumb")),
                   ("hip", "knee", "thigh", ("ankle", "heel", "foot_index")),
                   ("knee", "ankle", "shin", ("heel", "foot_index"))))


def run_vote(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per run of consecutive True frames of mask, the sum of values over the run (0 outside runs)."""
    out = np.zeros(len(values))
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    starts, ends = np.flatnonzero(m[1:] & ~m[:-1]), np.flatnonzero(~m[1:] & m[:-1])
    v = np.nan_to_num(values)
    for a, b in zip(starts, ends):
        out[a:b] = v[a:b].sum()
    return out


def lift_limbs(points: np.ndarray, rays: np.ndarray, lengths: dict, reference: np.ndarray, usable: np.ndarray,
               rows: dict, lift_min: float = LIFT_MIN, reach: bool = True) -> tuple[np.ndarray, int, int, list]:
    """points (T,n,3) camera space (z away from the camera), rays (T,n,3) unit rays of the same rows,
    lengths {segment: metres}, reference (T,n,3) the detector's shape (its depth order decides the side),
    usable (T,) frames to touch, rows: landmark name → row; reach: a weak order may not put an upper arm
    or thigh far behind the body (module docstring). → (a lifted copy, joint-frames moved, joint-frames
    whose side came from the reach instead of the detector, the limb joints whose detector order was
    compressed and was read against its offset)."""
    out = np.array(points, dtype=np.float64, copy=True)
    usable = np.asarray(usable, bool)
    ref = np.asarray(reference, np.float64)[..., 2]
    forward = forward_direction(out, rows) if reach else None
    moved = reached = 0
    compressed = []
    for parent, child, segment, below in CHAINS:
        L = lengths.get(segment)
        if L is None or not np.isfinite(L):
            continue
        p, c = rows[parent], rows[child]
        P, r = out[:, p], rays[:, c]
        along = np.sum(r * P, -1)                                  # the ray's closest approach to the parent
        spare = np.sqrt(np.maximum(along ** 2 - np.sum(P * P, -1) + L ** 2, 0.0))
        deep = usable & (spare > lift_min * L) & np.isfinite(spare)
        order_now = ref[:, c] - ref[:, p]
        if compressed_order(order_now, spare, usable, L):
            across = usable & (spare < ACROSS * L)
            if across.sum() < MIN_ACROSS:  # no offset to read it against: its side is unknown, not lifted
                continue
            order_now = order_now - order_offset(order_now, across)
            compressed.append(child)
        order = run_vote(order_now, deep)
        farther = order > 0                                        # one side per run (module docstring)
        if forward is not None and segment in BEHIND_MAX:
            other = _beyond_reach(P, r, along, spare, farther, order, deep, forward, L, BEHIND_MAX[segment])
            farther ^= other
            reached += int(other.sum())
        s = np.where(farther, along + spare, along - spare)
        current = np.abs(out[:, c, 2] - P[:, 2])
        depth_left = np.abs(s * r[:, 2] - P[:, 2])
        go = deep & (current < depth_left)
        if not go.any():
            continue
        dz = np.where(go, s * r[:, 2] - out[:, c, 2], 0.0)
        out[go, c] = s[go, None] * r[go]
        _shift_below(out, rays, rows, below, go, dz)
        moved += int(go.sum())
    return out, moved, reached, compressed


def compressed_order(order: np.ndarray, spare: np.ndarray, usable: np.ndarray, length: float) -> bool:
    """The detector's depth order of a segment over the clip (T,) is compressed: it varies by less than
    COMPRESSED of the depth the image leaves the segment (spare, T), while that varies by more than MOVING
    of the length (module docstring)."""
    ok = np.asarray(usable, bool) & np.isfinite(order) & np.isfinite(spare)
    if ok.sum() < 10:
        return False
    moving = float(np.std(spare[ok]))
    return moving > MOVING * length and float(np.std(order[ok])) < COMPRESSED * moving


def order_offset(order: np.ndarray, across: np.ndarray) -> np.ndarray:
    """(T,) the detector's depth order where the image shows the segment across the view (`across` frames,
    where the truth is near 0), interpolated in time between them and held at the ends; 0 without any."""
    t = np.flatnonzero(np.asarray(across, bool) & np.isfinite(order))
    if t.size == 0:
        return np.zeros(len(order))
    return np.interp(np.arange(len(order)), t, order[t])


def _beyond_reach(P, r, along, spare, farther, order, deep, forward, length, behind_max):
    """(T,) frames of the runs whose detector side must give way: the run's order is weak, and its side holds
    the segment from P more than behind_max degrees behind the body on at least HELD of the run's frames
    while the other side does on at most 1 − HELD of them."""
    def behind(s):  # the segment on this side of the ray points more than behind_max behind the body
        u = s[:, None] * r - P
        sin = np.sum(u * forward, -1) / np.maximum(np.linalg.norm(u, axis=-1), 1e-9)
        return sin < -np.sin(np.radians(behind_max))
    far, near = behind(along + spare), behind(along - spare)
    frames = run_vote(np.ones(len(deep)), deep)
    weak = deep & (np.abs(order) < WEAK_ORDER * length * frames)
    chosen_behind = run_vote(np.where(farther, far, near).astype(float), deep)
    other_behind = run_vote(np.where(farther, near, far).astype(float), deep)
    return weak & (chosen_behind >= HELD * frames) & (other_behind <= (1 - HELD) * frames)


def _shift_below(out, rays, rows, below, moved, dz):
    """What hangs below a moved joint shifts in depth by dz (T,), each point on its own ray."""
    for name in below:
        q = rows[name]
        z = out[:, q, 2] + dz
        out[moved, q] = rays[moved, q] * (z[moved] / np.maximum(rays[moved, q, 2], 1e-6))[:, None]


def keep_sides(before: np.ndarray, after: np.ndarray, rays: np.ndarray, rows: dict,
               usable: np.ndarray) -> tuple[np.ndarray, int]:
    """before/after (T,n,3) camera space, the fit going into and coming out of one pass with the lengths;
    rays (T,n,3) unit. A limb joint (CHAINS) that the pass moved to the other side of its parent along
    its camera ray goes back, mirrored about the ray's closest approach to the parent (module docstring).
    → (a corrected copy of after, joint-frames mirrored)."""
    out = np.array(after, dtype=np.float64, copy=True)
    usable = np.asarray(usable, bool)
    mirrored = 0
    for parent, child, _segment, below in CHAINS:
        p, c = rows[parent], rows[child]
        r = rays[:, c]
        side_before = np.sum(r * (before[:, c] - before[:, p]), -1)
        s_now = np.sum(r * out[:, c], -1)
        closest = np.sum(r * out[:, p], -1)
        flip = usable & (np.sign(side_before) * np.sign(s_now - closest) < 0)
        if not flip.any():
            continue
        s_new = 2 * closest - s_now
        dz = np.where(flip, (s_new - s_now) * r[:, 2], 0.0)
        out[flip, c] = s_new[flip, None] * r[flip]
        _shift_below(out, rays, rows, below, flip, dz)
        mirrored += int(flip.sum())
    return out, mirrored


def lifted_prior(prior: np.ndarray, lifted: np.ndarray, usable: np.ndarray, share: float = PRIOR_SHARE) -> np.ndarray:
    """The fusion's shape prior (T,n,3) with its depth moved `share` of the way to the lifted points' depth
    (each frame's lifted depths re-centred on the prior's mean depth), on the usable frames."""
    out = np.array(prior, dtype=np.float64, copy=True)
    depth = lifted[..., 2] - lifted[..., 2].mean(1, keepdims=True) + out[..., 2].mean(1, keepdims=True)
    out[..., 2] = np.where(np.asarray(usable, bool)[:, None], share * depth + (1 - share) * out[..., 2], out[..., 2])
    return out
