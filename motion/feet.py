"""Foot contact and foot locking: planted feet do not slide. numpy only.

Contacts come from each foot's height above the floor and its horizontal speed (with hysteresis and
a minimum duration), and, when the camera-based trajectory is known, from the foot's height in that
trajectory: a foot the camera sees clearly in the air is not planted, whatever its speed. Locking
moves the body's root so that a planted foot stays where it landed, blending in and out over a few
frames; the correction is carried between contacts so the root never jumps.

Still in the image (`still_in_image`): before any 3D, a foot the picture shows standing still. With a static
camera that is a planted foot; the fusion holds its ankle where it stands over the stance (motion/fusion.py).

Flight: the root's height follows the camera between contacts (jumps, hops, falls) and pins the
planted foot to the floor during them; the difference between the two, measured while a foot is
planted, is interpolated across the flight so that take-off and landing do not pop.
"""
from __future__ import annotations

import numpy as np

from ..capture.landmarks import INDEX as I

HEIGHT_M = 0.06          # a foot point this close to the floor may be planted (scaled to the rig)
SPEED_M_S = 0.35         # and moving slower than this horizontally
MIN_CONTACT_S = 0.1
BLEND_FRAMES = 3
AIR_M = 0.1              # a foot the camera puts this high above the floor is in the air (scaled)
BASELINE_S = 3.0         # window of the running median that absorbs the camera height's slow bias
STILL_SPEED = 0.6        # torso lengths per second: a foot the image shows slower than this stands still
MIN_STILL_S = 0.1
STILL_3D = 2.0           # a foot still in the picture is planted if the 3D has it slower than this × SPEED_M_S


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a (T,) mask."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(edges[0::2], edges[1::2]))


def detect_contacts(foot: np.ndarray, fps: float, floor_z: float = 0.0, scale: float = 1.0,
                    height: float = HEIGHT_M, speed: float = SPEED_M_S, min_s: float = MIN_CONTACT_S,
                    air: np.ndarray | None = None, air_height: float = AIR_M,
                    still: np.ndarray | None = None) -> np.ndarray:
    """foot (T,3): lowest point of one foot per frame → (T,) bool planted.

    still (T,) bool: frames the picture shows this foot standing still (`still_in_image`): planted too while
    low (1.5 × height), not in the air and slower in 3D than STILL_3D × speed. The 3D foot's speed includes
    the camera-based travel, whose depth is the noisiest part and grows with the lens; the picture's does not
    depend on the lens. The 3D cap keeps out a foot swinging toward the camera, which barely moves in the
    picture (uncapped, it held the body back: the rendered walk toward the camera's root path 0.06 → 0.16 leg
    lengths; capped 0.04).

    air (T,): the foot's height above the floor seen by the camera (see `air_heights`); frames
    above air_height are never planted, and a contact ends as the foot starts to rise into such a
    flight (and begins once it is back down), so that a jump's take-off is not read as planted."""
    h = foot[:, 2] - floor_z
    v = np.zeros(len(foot))
    if len(foot) > 1:
        step = np.linalg.norm(np.diff(foot[:, :2], axis=0), axis=1) * fps
        v[1:] = step
        v[0] = step[0]
        v[1:-1] = np.minimum(step[:-1], step[1:])  # a planted frame is slow on at least one side
    low = np.ones(len(foot), bool) if air is None else ~(np.nan_to_num(air, nan=0.0) > air_height * scale)
    planted = (h < height * scale) & (v < speed * scale) & low
    # Hysteresis: a planted foot stays planted while it is still low and fairly slow.
    loose = (h < 1.5 * height * scale) & (v < 1.5 * speed * scale) & low
    for a, b in runs(planted):
        while a > 0 and loose[a - 1] and not planted[a - 1]:
            a -= 1
            planted[a] = True
        while b < len(planted) and loose[b] and not planted[b]:
            planted[b] = True
            b += 1
    if air is not None and (~low).any():
        _trim_take_offs(planted, np.nan_to_num(air, nan=0.0), low, 0.3 * air_height * scale)
    for a, b in runs(planted):
        if (b - a) < max(1, int(round(min_s * fps))):
            planted[a:b] = False
    if still is not None:
        planted |= np.asarray(still, bool) & (h < 1.5 * height * scale) & (v < STILL_3D * speed * scale) & low
    return planted


def _trim_take_offs(planted: np.ndarray, air: np.ndarray, low: np.ndarray, margin: float) -> None:
    """A contact next to a flight ends where the foot leaves the floor: drop its frames at that end
    while the foot is above `margin` and still climbing towards the flight (same for landings)."""
    for a, b in runs(planted):
        if b < len(planted) and not low[b:b + 3].all():  # a flight follows
            while b - 1 > a and air[b - 1] > margin and air[b - 1] < air[b]:
                b -= 1
                planted[b] = False
        if a > 0 and not low[max(0, a - 3):a].all():  # a flight precedes
            while a + 1 < b and air[a] > margin and air[a] < air[a - 1]:
                planted[a] = False
                a += 1


def still_in_image(image: np.ndarray, frame_size, fps: float, speed: float = STILL_SPEED,
                   min_s: float = MIN_STILL_S) -> dict[str, np.ndarray]:
    """Feet the picture shows standing still: image landmarks (T,33,≥2, normalised) → {'left', 'right': (T,)
    bool}. A foot's image points (ankle, heel, toe: their mean) move less than `speed` torso lengths (the
    image's mid-shoulders to mid-hips, median over the clip) per second, measured over ±2 frames, for at least
    min_s. A planted foot does not move in the picture of a static camera; a moving camera shows none."""
    w, h = frame_size
    P = np.asarray(image, np.float64)[..., :2] * np.array([w, h], float)
    T = len(P)
    out = {side: np.zeros(T, bool) for side in ("left", "right")}
    if T < 5:
        return out
    shoulders = (P[:, I["left_shoulder"]] + P[:, I["right_shoulder"]]) / 2
    hips = (P[:, I["left_hip"]] + P[:, I["right_hip"]]) / 2
    lengths = np.linalg.norm(shoulders - hips, axis=-1)
    torso = float(np.median(lengths[np.isfinite(lengths)])) if np.isfinite(lengths).any() else 0.0
    if torso <= 0:
        return out
    for side in out:
        foot = P[:, [I[f"{side}_ankle"], I[f"{side}_heel"], I[f"{side}_foot_index"]]].mean(1)
        v = np.full(T, np.inf)
        v[2:-2] = np.linalg.norm(foot[4:] - foot[:-4], axis=-1) / 4 * fps / torso
        v[:2], v[-2:] = v[2], v[-3]
        still = np.nan_to_num(v, nan=np.inf) < speed
        for a, b in runs(still):
            if b - a < max(1, int(round(min_s * fps))):
                still[a:b] = False
        out[side] = still
    return out


def running_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred running median of (T,), edges padded with the edge values; NaNs ignored."""
    window = max(1, int(window)) | 1
    if len(x) == 0 or window == 1:
        return x.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    return np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, window), axis=-1)


def air_heights(feet_z: dict[str, np.ndarray], ground: np.ndarray, camera: np.ndarray, floor_z: float, fps: float,
                window_s: float = BASELINE_S) -> dict[str, np.ndarray]:
    """Each foot's height above the floor according to the camera-based trajectory.

    feet_z: name → (T,) foot height with the root at rest; ground (T,): the root height that puts the
    lowest foot on the floor; camera (T,): the root height from the camera trajectory (same units).
    The camera's height carries a slowly varying bias (proportions, floor and tilt estimates): its
    running median difference to `ground` (over window_s, so brief flights do not count) is
    removed. → name → (T,) air height (≈ 0 on the floor)."""
    bias = running_median(ground - camera, int(round(window_s * fps)))
    if not np.isfinite(bias).any():
        return {name: np.zeros_like(z) for name, z in feet_z.items()}
    return {name: z + camera + bias - floor_z for name, z in feet_z.items()}


def flight_offset(ground: np.ndarray, camera: np.ndarray, grounded: np.ndarray, air: np.ndarray,
                  air_height: float) -> np.ndarray:
    """(T,) root height: `ground` (lowest foot on the floor) while a foot is planted or the camera
    puts the lowest foot within a quarter of air_height of the floor; in between, the camera's height
    plus its difference to `ground`, interpolated from the neighbouring frames on the floor (so
    take-off and landing join without a step). air (T,): the lowest foot's camera height above the
    floor. No foot goes below the floor."""
    on_floor = grounded | (np.nan_to_num(air, nan=0.0) < 0.25 * air_height)
    on_floor &= np.isfinite(camera) & np.isfinite(ground)
    if not on_floor.any() or on_floor.all():
        return ground.copy()
    idx = np.arange(len(ground))
    correction = np.interp(idx, idx[on_floor], (ground - camera)[on_floor])
    lifted = np.nan_to_num(camera + correction - ground, nan=0.0).clip(0)
    return ground + np.where(on_floor, 0.0, lifted)


def lock_feet(root: np.ndarray, feet: dict[str, np.ndarray], contacts: dict[str, np.ndarray],
              blend: int = BLEND_FRAMES) -> np.ndarray:
    """Horizontal root correction so planted feet stay put.

    root (T,3) root offsets; feet: name → (T,3) foot positions INCLUDING that root offset;
    contacts: name → (T,) bool. Returns the corrected root (T,3) (z untouched)."""
    T = len(root)
    weights = {}
    for name, planted in contacts.items():
        w = np.zeros(T)
        for a, b in runs(planted):
            ramp = np.ones(b - a)
            n = min(blend, (b - a) // 2)
            if n:
                ramp[:n] = np.linspace(1.0 / (n + 1), 1.0, n, endpoint=False) + 1.0 / (n + 1) - 1.0 / (n + 1)
                ramp[-n:] = ramp[:n][::-1]
            w[a:b] = ramp
        weights[name] = w
    correction = np.zeros((T, 2))
    anchors: dict[str, np.ndarray | None] = {name: None for name in feet}
    last = np.zeros(2)
    for t in range(T):
        total, acc = 0.0, np.zeros(2)
        for name, pos in feet.items():
            if contacts[name][t]:
                if anchors[name] is None:  # lands now: where it is, given the correction so far
                    anchors[name] = pos[t, :2] + last
                acc += weights[name][t] * (anchors[name] - pos[t, :2])
                total += weights[name][t]
            else:
                anchors[name] = None
        if total > 0:
            mix = min(total, 1.0)
            last = mix * (acc / total) + (1 - mix) * last
        correction[t] = last
    out = root.copy()
    out[:, :2] += correction
    return out


def foot_skate(feet: dict[str, np.ndarray], contacts: dict[str, np.ndarray]) -> float:
    """Mean horizontal slide per frame (metres) of planted feet, over consecutive planted frames."""
    slides = []
    for name, pos in feet.items():
        c = contacts[name]
        both = c[1:] & c[:-1]
        if both.any():
            slides.append(np.linalg.norm(np.diff(pos[:, :2], axis=0), axis=1)[both])
    return float(np.concatenate(slides).mean()) if slides else 0.0
