"""The camera's lens from a walk: when nobody says what lens shot the video, a person walking toward or
away from the camera tells it. numpy only.

Why it is needed: through a level camera, a scene whose depths are all stretched by k looks the same
through a lens k× as long. The person's size fixes how far away they are only up to that k (distance =
focal length × metres per pixel), so with a guessed lens every distance toward the camera, and every
step toward it, is scaled by guess ÷ truth: a walk toward a camera shot at 30° comes out at less than
half its length under the 60° guess (motion.root.DEFAULT_FOV_DEG). The detector's own depth cannot tell
either (its legs swinging toward the camera are compressed to about a quarter).

What does tell: people walk with a step length proportional to their cadence (the "walk ratio": step
length ÷ steps per minute, nearly constant across walking speeds for a given person; about 0.0064 m per
step/min in adults of 1.75 m, i.e. `WALK_RATIO` = 0.0078 leg lengths, hip joint to ankle). The cadence
is seen in the image (the ankles' alternation) and the leg length is metric (the detector's), so the
walking speed is known in metres per second; the lens is the one whose hip path (perspective-n-point,
motion.root.world_trajectory) walks at that speed. Only the path's depth part depends on the lens (its
sideways part does not), so the estimate is made only when the person walks mostly in depth, steadily,
in a straight line, for at least two seconds and `MIN_STRIDES` strides (read over the take's longest
walking stretch: standing before or after it is left out); otherwise the guess stands and the reason is
given. A walker whose step length is off the usual ratio by a factor s gives a focal length off by about
1/s (the rendered fixture's slow walk, 0.0049 m per step/min, comes out 1.3× long: 22° for its 30°; still
far nearer than the 60° guess, and the root path 0.30 → 0.04 leg lengths).

    lens_from_walk(track, fov_deg=None) -> WalkLens(focal_px | None, fov_deg | None, cadence, speed, reason)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..capture.landmarks import INDEX as I
from .feet import runs
from .proportions import segment_lengths
from .root import intrinsics, world_trajectory

WALK_RATIO = 0.0078          # step length ÷ (leg length × steps per minute)
CADENCE = (60.0, 140.0)      # steps per minute that are walking (running is faster, shuffling slower)
MIN_STRIDES = 1.5            # strides (two steps each) the clip must hold
MIN_RHYTHM = 0.8             # share of the ankles' alternation one steady rhythm explains
MIN_STRAIGHT = 0.9           # share of the hips' horizontal spread a steady straight walk explains
MAX_SIDEWAYS = 0.5           # the sideways speed at most this share of the walking speed
FOCAL_RANGE = (0.25, 4.0)    # the estimate at most this far from the guess (× its focal length)
ITERATIONS = 3               # the levelling depends a little on the lens: re-solve with the estimate
WALKING = 0.4                # a frame is walking while the hips move at this share of the clip's brisk pace
PACE_S = 1.0                 # over this window (about a stride), the pace's smoothing


@dataclass(frozen=True)
class WalkLens:
    """focal_px: the estimated focal length in pixels, None when the clip does not tell (see reason);
    cadence: steps per minute (NaN when no rhythm was found); speed: the walking speed the steps imply,
    m/s; frame_size to express the lens as a field of view."""
    focal_px: float | None
    cadence: float
    speed: float
    reason: str
    frame_size: tuple[int, int]

    @property
    def fov_deg(self) -> float | None:
        """The estimate as a field of view across the frame's longer side, degrees."""
        if self.focal_px is None:
            return None
        return float(np.degrees(2 * np.arctan(max(self.frame_size) / 2 / self.focal_px)))

    @property
    def camera(self) -> dict | None:
        """As the camera dict fusion and solver take (focal_px), None without an estimate."""
        return None if self.focal_px is None else {"focal_px": float(self.focal_px)}


def rhythm(signal: np.ndarray, seconds: np.ndarray, band=(CADENCE[0] / 120, CADENCE[1] / 120),
           step_hz: float = 0.005) -> tuple[float, float]:
    """The steadiest rhythm of a 1D signal sampled at `seconds`: (frequency Hz, share of the detrended
    signal's variance one sinusoid at that frequency explains), searched over `band`."""
    t = seconds - seconds.mean()
    base = np.stack([np.ones_like(t), t], 1)
    coef, *_ = np.linalg.lstsq(base, signal, rcond=None)
    rest = signal - base @ coef
    total = float(rest @ rest)
    if total <= 0:
        return float("nan"), 0.0
    freqs = np.arange(band[0], band[1] + step_hz / 2, step_hz)
    best = (float("nan"), 0.0)
    for f in freqs:
        A = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t), np.ones_like(t), t], 1)
        c, *_ = np.linalg.lstsq(A, signal, rcond=None)
        r = signal - A @ c
        share = 1.0 - float(r @ r) / total
        if share > best[1]:
            best = (float(f), share)
    return best


def cadence(track) -> tuple[float, float, float]:
    """(steps per minute, rhythm share, strides in the clip) from the ankles' alternation: the
    left-minus-right ankle (hip-centred world landmarks) along its main direction swings once per stride."""
    W = track.world_landmarks.astype(np.float64)
    apart = W[:, I["left_ankle"]] - W[:, I["right_ankle"]]
    ok = np.isfinite(apart).all(1) & track.detected.astype(bool)
    if ok.sum() < 2 * track.fps:  # under two seconds of walking: nothing to read
        return float("nan"), 0.0, 0.0
    seconds = np.flatnonzero(ok) / track.fps
    centred = apart[ok] - apart[ok].mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    freq, share = rhythm(centred @ vt[0], seconds)
    if not np.isfinite(freq):
        return float("nan"), 0.0, 0.0
    return 120.0 * freq, share, freq * (seconds[-1] - seconds[0])


def leg_length(track) -> float:
    """The detector's hip-joint-to-ankle length (metres): thigh + shin, each motion.proportions'
    robust, visibility-weighted median over the frames and sides."""
    seen = track.detected.astype(bool)
    lengths = segment_lengths(track.world_landmarks[seen].astype(np.float64), track.visibility[seen],
                              segments=("thigh", "shin"))
    return float(lengths["thigh"] + lengths["shin"])


def _walk_velocity(track, focal_px: float) -> tuple[np.ndarray, float]:
    """The hips' horizontal velocity (sideways, depth) m/s under a lens, from a straight-line fit over the
    clip, and the share of the path's spread that straight steady walk explains."""
    _, hips, _ = world_trajectory(track, focal_px=focal_px)
    ok = np.isfinite(hips).all(1)
    seconds = np.flatnonzero(ok) / track.fps
    A = np.stack([seconds - seconds.mean(), np.ones_like(seconds)], 1)
    coef, *_ = np.linalg.lstsq(A, hips[ok, :2], rcond=None)
    spread = hips[ok, :2] - hips[ok, :2].mean(0)
    total = float((spread ** 2).sum())
    straight = 1.0 - float(((hips[ok, :2] - A @ coef) ** 2).sum()) / total if total > 0 else 0.0
    return coef[0], straight


def walking_stretch(track, focal_px: float) -> tuple[int, int]:
    """The longest run of frames [start, stop) where the hips travel (under a lens: only the speed's scale
    depends on it) at WALKING × the clip's brisk pace (its 90th percentile), over PACE_S windows: a take
    that stands before or after its walk is read over the walk."""
    _, hips, _ = world_trajectory(track, focal_px=focal_px)
    ok = np.isfinite(hips).all(1)
    T = len(hips)
    if ok.sum() < 2:
        return 0, T
    frames = np.arange(T)
    filled = np.stack([np.interp(frames, frames[ok], hips[ok, k]) for k in range(2)], 1)
    half = max(1, int(round(PACE_S * track.fps / 2)))
    ahead, behind = np.minimum(frames + half, T - 1), np.maximum(frames - half, 0)
    pace = np.linalg.norm(filled[ahead] - filled[behind], axis=1) / np.maximum(ahead - behind, 1)
    walking = pace >= WALKING * np.percentile(pace, 90)
    best = (0, T)
    length = 0
    for a, b in runs(walking):
        if b - a > length:
            best, length = (a, b), b - a
    return best


def lens_from_walk(track, fov_deg: float | None = None) -> WalkLens:
    """The lens a walk toward (or away from) the camera implies, starting from the guess `fov_deg`
    (None: motion.root's default), read over the take's longest walking stretch (`walking_stretch`). See
    the module docstring; never raises on a clip that does not walk, it says why in `reason`."""
    guess = float(intrinsics(track.frame_size, fov_deg)[0, 0])
    start, stop = walking_stretch(track, guess)
    track = track.sliced(start, stop)
    steps, share, strides = cadence(track)

    def none(reason, speed=float("nan")):
        return WalkLens(None, steps, speed, reason, tuple(track.frame_size))

    if not np.isfinite(steps):
        return none("no walk: under two seconds of the person travelling")
    if share < MIN_RHYTHM or not CADENCE[0] <= steps <= CADENCE[1]:
        return none("no walk: no steady stepping rhythm")
    if strides < MIN_STRIDES:
        return none(f"no walk: {strides:.1f} strides, fewer than {MIN_STRIDES}")
    speed = WALK_RATIO * leg_length(track) * steps * steps / 60.0  # m/s: step length × steps per second
    if not speed > 0:  # no leg measured
        return none("no walk: the legs were not measured")
    focal = guess
    for _ in range(ITERATIONS):
        (sideways, depth), straight = _walk_velocity(track, focal)
        if straight < MIN_STRAIGHT:
            return none("no walk: the hips do not travel in a steady straight line", speed)
        if abs(sideways) > MAX_SIDEWAYS * speed:
            return none("the walk goes across the view (the lens hardly matters)", speed)
        if abs(depth) < 1e-6:
            return none("no walk: the hips do not travel", speed)
        focal *= np.sqrt(speed ** 2 - sideways ** 2) / abs(depth)
        if not FOCAL_RANGE[0] <= focal / guess <= FOCAL_RANGE[1]:
            return none("the walk's speed implies an implausible lens", speed)
    return WalkLens(float(focal), steps, speed, "", tuple(track.frame_size))
