"""Offline filtering of landmark tracks: gap filling, zero-phase smoothing, One Euro, quaternions.

numpy only (it ships inside Blender); never imports bpy.

    smooth_track(track, method="zero_phase") -> (new PoseTrack, FilterReport)

1. Gaps. A sample is a *measurement* when its frame has a detected person, it is finite and its
   visibility is at least `min_visibility`. Runs of non-measurements no longer than `max_gap_s`
   with measurements on both sides are interpolated by a cubic Hermite curve whose end values and
   slopes come from a least-squares line through up to 0.1 s of measurements on each side (one
   noisy end sample would make the slopes, and so the curve, swing). Filled frames without a
   person become `detected`. Longer runs are left: frames without a person stay NaN / not detected,
   low-visibility samples keep MediaPipe's values (the solver needs all 33 landmarks of a detected
   frame). Runs touching the start or the end of the clip have nothing to interpolate towards and
   are left too. Every run is listed in the `FilterReport` (`filled`, `left`, `warnings()`).
2. Smoothing, vectorised over the (T,33,3) arrays:
   - "zero_phase" (default): a visibility-weighted local polynomial (LOESS) smoother with a
     Gaussian kernel. At every frame a quadratic in time is fitted by weighted least squares to
     the neighbouring frames, future and past alike, so nothing lags. Weights are kernel ×
     visibility (low-visibility samples pull less; interpolated samples get `FILLED_WEIGHT`), so
     the ends of the clip and of long gaps need no padding: the fit uses the data there is and
     keeps slopes and curvature there. With `robust=True` one more pass down-weights outliers
     (Tukey bisquare on the studentised residual, scale 6 × its median per landmark: Cleveland's
     robust LOWESS). Kernel sums are FFT correlations: a 10,000-frame track takes ~1 s.
     Strength: a cut-off in Hz (`strength_hz`, the frequency whose amplitude is halved, −6 dB, as
     the nominal cut-off of a forward-backward Butterworth filter; `cutoff_to_sigma` turns it into
     the kernel σ with the track's fps) or the kernel σ in frames (`strength_frames`).
     Hidden landmarks: a landmark the detector mostly does not see (its median visibility over the
     take under HIDDEN_VISIBILITY: the far arm and leg of a body seen from the side) is a guess, and
     the guess jitters while its neighbours do not, so the visibility weights cannot help (they are
     all low). Its kernel is longer: σ × (1 + 2 × (0.9 − median visibility)), at most
     `hidden_slowdown` (2: twice as long at a median visibility of 0.4 or less; in steps of 0.25).
     Measured (tools/bench_accuracy.py, default processing; limb direction ÷ raw / PA-MPJPE ÷ raw /
     jitter ÷ the truth's): the rendered walk across the view (far wrist visibility 0.35, far knee
     0.54) 0.862/0.941/1.66 → 0.858/0.935/1.38; the jump 0.743/0.870/0.99 → 0.740/0.871/0.87; cam03
     0.836/0.873/0.74 → 0.833/0.881/0.62; the other seven clips unchanged. Tried: 1 + 4 × (1 −
     visibility) up to 3× (the walk 1.20 but boxing 0.886 → 0.922 dir), a length from each landmark's
     own noise (median |second difference| against the body's: boxing 0.886 → 0.948 dir, the walk
     across unchanged).
     The torso's pace: the shoulders and hips ride the torso, which turns slower than the limbs swing,
     yet after the fusion they jittered 2-3 × the truth's (hip-centred: the torso's orientation noise;
     the rendered mannequin's shoulders 4.4 mm/frame², the truth's 1.3). Their world positions are
     smoothed TORSO_STRETCH (5/3: 5 Hz → 3 Hz) times longer, and each limb below one (elbow, wrist,
     hand points; knee, ankle, heel, toes) moves with it, so every limb's direction is the usual
     smoothing's. Measured (default processing, fused; dir ÷ raw / PA-MPJPE ÷ raw / jitter ÷ the
     truth's): the mannequin 0.665/0.838/1.45 → 0.665/0.836/1.33, cam02 0.436/0.620/1.35 →
     0.436/0.609/1.16, boxing 0.896/0.673/0.74 → 0.896/0.670/0.66, the walk toward the camera
     0.850/0.921/1.26 → 0.850/0.921/1.16; every clip's dir unchanged, PA-MPJPE within +0.000/−0.011,
     jitter 5-20 % lower. The shoulders alone: less gain, boxing PA-MPJPE 0.676 at 3 Hz, 0.678 at
     2.5 Hz; at 1.5 Hz the turn's PA-MPJPE 0.930 → 0.953 (it turns the torso fast).
   - "one_euro": the causal One Euro filter (Casiez, Roussel & Vogel, CHI 2012) per coordinate,
     for the real-time feel; it lags on fast moves by design.
   - "none": gaps only.
3. `smooth_quaternions` smooths (T,4) rotation tracks: hemispheres aligned (q ≡ −q), the same
   zero-phase smoother on the components, renormalised.

Defaults come from a sweep (scratch script, not shipped; the generator is the one in
tests/test_filters.py made richer). Truth: 33 landmarks × 3 axes, each a sum of 5 sinusoids with
log-uniform frequencies in 0.2–3 Hz, amplitude 6 cm × (f / 1 Hz)^−0.8 × lognormal(0, 0.4) (≤ 30 cm), 10 s at
30 and 60 fps, 6 seeds per cell. Corruption: white gaussian noise σ per axis 0.5/1/2/3 cm; 0.5 % of
samples get a 5–15 cm spike; visibility 0.85–1.0 with dips to 0.15–0.6 lasting 5–30 frames on 3 %
of samples (noise × 3 there); two no-person dropouts of 1–12 frames and one of 1.5 s per clip.
Score: RMS 3D error against the truth (mm) over every sample that has a value (filled ones too).

Zero-phase, local quadratic, robust — RMS mm by cut-off (raw = the input):

     fps  noise |   2 Hz   3 Hz   4 Hz   5 Hz   6 Hz   7 Hz   8 Hz  10 Hz  12 Hz |  raw
      30  0.5cm |   30.7   13.9    7.9    6.5    6.6    6.8    7.0    7.7    8.2 | 12.1
      30  1 cm  |   31.3   15.7   11.4   11.2   11.8   12.6   13.4   14.9   16.0 | 20.8
      30  2 cm  |   33.6   21.3   20.0   21.5   23.3   25.0   26.6   29.5   31.7 | 39.7
      30  3 cm  |   37.0   28.3   29.2   31.9   34.7   37.2   39.6   44.0   47.2 | 59.0
      60  0.5cm |   31.8   14.2    7.4    5.2    4.7    4.8    5.0    5.5    6.2 | 12.2
      60  1 cm  |   32.1   15.1    9.3    8.3    8.5    9.0    9.6   10.6   11.6 | 20.9
      60  2 cm  |   33.2   18.1   14.9   15.4   16.5   17.8   18.9   21.0   22.9 | 39.8
      60  3 cm  |   34.9   22.2   21.0   22.7   24.6   26.5   28.2   31.4   34.2 | 59.2

Excess over each row's best cut-off, mean / worst of the 8 rows: 4 Hz +12 % / +57 %,
5 Hz +5.1 % / +12.9 %, 6 Hz +9.6 % / +22.6 %, 7 Hz +16 % / +32 %. → DEFAULT_CUTOFF_HZ = 5.
Same ranking with AR(1)-correlated noise (ρ 0.8): 5 Hz +2.6 % / +5.6 %. Faster motion (sinusoids
up to 6 Hz) wants 7 Hz (+5.4 % / +14 %); there 5 Hz costs +20 % / +64 % and 6 Hz +8 % / +26 %:
raise `strength_hz` to 6–8 for sport or dance.

Variants at their best cut-off, mean RMS of the 8 rows (raw 33.0 mm): local quadratic robust
15.3 mm (5 Hz); the same without visibility weights 15.5; not robust 15.6; forward-backward
Butterworth written out here (2nd order each way, odd-reflection padding, gaps filled the same
way) 15.9 (5 Hz); local linear robust 16.9 (6 Hz); local constant (plain Gaussian) 18.1 (7 Hz).
With 1 % spikes the robust pass cuts the error within ±3 frames of a spike from 19.9 to 15.0 mm
(whole clip 14.9 → 14.3); on white noise alone it costs under 1 %. → DEFAULT_DEGREE = 2,
DEFAULT_ROBUST = True, visibility weights on. With six short dropouts per clip, FILLED_WEIGHT
0.01/0.05/0.2/1: 16.7/16.6/16.6/16.8 mm; gap-slope anchors 0.03/0.05/0.1/0.2 s: 17.7/17.1/16.6/16.9 mm.

Gap length: RMS error (mm) inside one no-person gap after filling and smoothing (white noise only,
1 cm: raw 3D noise 17 mm; in brackets 2 cm: raw 35 mm), Hermite | linear | holding the nearest pose:

    60 fps  0.1 s  13 | 14 | 43   (22 | 23 | 49)     30 fps  0.1 s  18 | 19 | 56   (32 | 31 | 63)
            0.2 s  25 | 36 | 75   (36 | 43 | 79)             0.2 s  30 | 42 | 84   (48 | 50 | 89)
            0.25 s 37 | 51 | 89   (48 | 57 | 92)             0.25 s 47 | 63 | 102  (65 | 69 | 106)
            0.5 s 108 |116 |156  (118 |118 |158)             0.5 s 111 |121 | 163 (128 |123 | 165)

Up to 0.2 s the filled samples stay within twice the raw measurement noise at 1 cm (at 2 cm too);
at 0.25 s they do not at 1 cm. → DEFAULT_MAX_GAP_S = 0.2. Hermite beats linear up to ~0.5 s.

One Euro: minimising error alone picks no filtering (lag costs more than noise on moving data),
so the default is the least-error setting that cuts the residual jitter (RMS of the second
difference of output − truth) to at most 1/3 of the raw one, averaged over the clips above and
over rest-and-move clips (still, with minimum-jerk moves of 10–40 cm over 0.3–1 s every 1–3 s).
Grid min_cutoff 0.1–5 Hz × beta 0–32 /(m/s), d_cutoff 1 Hz. → min_cutoff 3 Hz, beta 8: jitter
0.32 × raw, error 1.05 × raw (rest-and-move 0.27 × / 0.74 ×, continuous 0.37 × / 1.37 ×). The
zero-phase default on the same clips: jitter 0.06 ×, error 0.45 ×. Image landmarks get beta
scaled by the clip's metres per image unit.

min_visibility = 0.5 is MediaPipe's own drawing threshold, not a measurement: 0 to 0.7 changes the
synthetic score by < 0.2 %, and the real clip never drops below 0.69.

Real clip (out/demo_landmarks.npz, cam01 of the Pose2Sim demo, 100 frames at 60 fps) against the
Pose2Sim multi-view triangulation of the same motion, 15 joints, hip-centred: jitter (mean norm of
second differences) raw MediaPipe 20.9 mm/frame², zero-phase default 3.0 (3 Hz 1.8, 8 Hz 5.1),
One Euro default 9.5; the reference's raw triangulation 43.1, its Butterworth-filtered version
2.95. Position RMS after one similarity alignment 139 → 136 mm and limb direction error
16.7° → 16.3° (MediaPipe's systematic error dominates; One Euro: 144 mm, 17.1°, its lag).
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX, NAMES
from ..capture.track import PoseTrack
from .lift import CHAINS

METHODS = ("zero_phase", "one_euro", "none")

DEFAULT_CUTOFF_HZ = 5.0       # zero-phase: frequency whose amplitude is halved
DEFAULT_DEGREE = 2            # local quadratic
DEFAULT_ROBUST = True         # bisquare reweighting of outliers
DEFAULT_MAX_GAP_S = 0.2       # longer gaps are left and reported
DEFAULT_MIN_VISIBILITY = 0.5  # below: not a measurement (a gap)
DEFAULT_MIN_CUTOFF = 3.0      # One Euro, Hz
DEFAULT_BETA = 8.0            # One Euro, 1/(m/s) on world landmarks
DEFAULT_D_CUTOFF = 1.0        # One Euro, Hz

FILLED_WEIGHT = 0.05          # smoothing weight of an interpolated sample (a measurement: its visibility)
TORSO_STRETCH = 5 / 3        # the shoulders' and hips' kernel is this many times longer (5 Hz → 3 Hz): _torso_pace
# a limb's root (shoulder, hip) → every landmark of the limb below it (motion/lift.py's chains, from the roots)
_BELOW = {INDEX[parent]: [INDEX[n] for n in (child, *below)] for parent, child, _, below in CHAINS
          if parent.endswith(("_shoulder", "_hip"))}
HIDDEN_VISIBILITY = 0.9       # a landmark whose median visibility is below this is smoothed longer
DEFAULT_HIDDEN_SLOWDOWN = 2.0  # at most this × the kernel σ (module docstring, "Hidden landmarks")
MIN_WEIGHT = 0.02             # floor for measured samples kept with a low visibility
ROBUST_PASSES = 1
ANCHOR_S = 0.1                # gap ends: value and slope from a line through this much data each side
_DEGENERATE = 1e-6            # normalised determinant below which a local fit drops a degree


# ----------------------------------------------------------------------------------------------
# Report

@dataclass(frozen=True)
class Gap:
    """Rows start..stop-1 of the track. landmarks None: frames where no person was detected;
    otherwise the landmarks whose visibility was below the threshold over those rows."""
    start: int
    stop: int
    landmarks: tuple[int, ...] | None
    filled: bool
    at_edge: bool = False  # touches the start or the end of the clip: nothing to interpolate towards

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def kind(self) -> str:
        return "no_person" if self.landmarks is None else "low_visibility"


@dataclass
class FilterReport:
    """What `smooth_track` did. Row i of the track is video frame first_frame + i."""
    method: str
    fps: float
    frames: int
    first_frame: int = 0
    cutoff_hz: float | None = None       # zero-phase strength (None when set in frames)
    sigma_frames: float | None = None    # zero-phase kernel σ actually used, in frames
    max_gap_frames: int = 0
    min_visibility: float = DEFAULT_MIN_VISIBILITY
    params: dict = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    samples_filled: int = 0              # landmark samples (of 33 per frame) replaced by interpolation
    outliers: int = 0                    # samples the robust passes gave (almost) no weight

    @property
    def filled(self) -> list[Gap]:
        return [g for g in self.gaps if g.filled]

    @property
    def left(self) -> list[Gap]:
        return [g for g in self.gaps if not g.filled]

    @property
    def frames_filled(self) -> int:
        """Frames without a person that were interpolated (now detected)."""
        return sum(g.frames for g in self.filled if g.landmarks is None)

    @property
    def frames_left(self) -> int:
        """Frames without a person that are still without one."""
        return sum(g.frames for g in self.left if g.landmarks is None)

    def _span(self, gap: Gap) -> str:
        a, b = self.first_frame + gap.start, self.first_frame + gap.stop - 1
        frames = f"frame {a}" if a == b else f"frames {a}-{b}"
        return f"video {frames} ({gap.frames} frames, {gap.frames / self.fps:.2f} s)"

    def warnings(self) -> list[str]:
        """One line per gap that was left, for the caller to show."""
        limit = f"{self.max_gap_frames} frames ({self.max_gap_frames / self.fps:.2f} s)"
        out = []
        for gap in self.left:
            why = ("at the edge of the clip, nothing to interpolate towards" if gap.at_edge
                   else f"longer than the {limit} that are interpolated")
            if gap.landmarks is None:
                out.append(f"no person in {self._span(gap)}: {why}; left without landmarks")
            else:
                names = ", ".join(NAMES[i] for i in gap.landmarks)
                out.append(f"low visibility of {names} in {self._span(gap)}: {why}; kept as detected")
        return out

    def summary(self) -> str:
        strength = (f", cut-off {self.cutoff_hz:g} Hz" if self.cutoff_hz else "") + (
            f", σ {self.sigma_frames:.2f} frames" if self.sigma_frames else "")
        return (f"{self.method}{strength}: {self.frames_filled} frames without a person filled, "
                f"{self.frames_left} left; {self.samples_filled} landmark samples interpolated; "
                f"{len(self.left)} gaps left; {self.outliers} outliers down-weighted")


# ----------------------------------------------------------------------------------------------
# Zero-phase local polynomial smoother

def _equivalent_kernel(sigma: float, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and weights of the smoother in the middle of uniformly weighted data."""
    half = max(1, math.ceil(4 * sigma))
    k = np.arange(-half, half + 1, dtype=np.float64)
    kern = np.exp(-0.5 * (k / sigma) ** 2)
    X = (k / half)[:, None] ** np.arange(degree + 1)
    A = (X * kern[:, None]).T @ X
    while degree and np.linalg.det(A) <= _DEGENERATE * np.prod(np.diag(A)):  # σ ≪ 1 frame: a delta
        degree -= 1
        X, A = X[:, :degree + 1], A[:degree + 1, :degree + 1]
    h = np.linalg.solve(A, (X * kern[:, None]).T)[0]
    return k, h


def frequency_response(freqs_hz, fps: float, sigma_frames: float, degree: int = DEFAULT_DEGREE) -> np.ndarray:
    """Amplitude gain of the zero-phase smoother (interior, uniform weights) at the given frequencies."""
    k, h = _equivalent_kernel(float(sigma_frames), int(degree))
    f = np.asarray(freqs_hz, dtype=np.float64)[..., None] / float(fps)
    return np.cos(2 * np.pi * f * k) @ h


@functools.lru_cache(maxsize=256)
def cutoff_to_sigma(cutoff_hz: float, fps: float, degree: int = DEFAULT_DEGREE) -> float:
    """Kernel σ in frames that halves the amplitude (−6 dB) at cutoff_hz. 0 (no smoothing) at or
    above the Nyquist frequency."""
    if not (cutoff_hz > 0 and fps > 0):
        raise ValueError(f"cut-off ({cutoff_hz}) and fps ({fps}) must be positive")
    f = cutoff_hz / fps
    if f >= 0.5:
        return 0.0

    def gain(sigma):
        return float(frequency_response(f, 1.0, sigma, degree))

    lo, hi = 0.05, 1.0 / f
    while gain(hi) > 0.5:
        lo, hi = hi, hi * 2
    if gain(lo) <= 0.5:
        return lo
    for _ in range(50):
        mid = math.sqrt(lo * hi)
        if gain(mid) > 0.5:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-6:
            break
    return math.sqrt(lo * hi)


def _as_series(x: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray, tuple]:
    """x (T, *S, *C) with weights (T, *S) → x (T, M, C), w (T, M)."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    if weights is None:
        w = np.ones(x.shape[:1] if x.ndim == 1 else x.shape[:-1])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != x.shape[:w.ndim] or w.ndim < 1:
            raise ValueError(f"weights of shape {w.shape} do not match samples of shape {x.shape}")
    M = int(np.prod(w.shape[1:], dtype=np.int64))
    C = int(np.prod(x.shape[w.ndim:], dtype=np.int64))
    return x.reshape(T, M, C), w.reshape(T, M), x.shape


def _fast_length(n: int) -> int:
    """Smallest 2^a·3^b·5^c ≥ n (quick FFT sizes)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _local_fit(x, w, sigma, degree):
    """Weighted local polynomial fit at every row of one stretch. x (T,M,C) finite, w (T,M) ≥ 0.
    → fit (T,M,C) (NaN where the window holds no weight) and the leverage (T,M) of each sample on
    its own fit. The kernel sums are correlations along time, done with real FFTs."""
    T, M, C = x.shape
    half = max(1, math.ceil(4 * sigma))
    span = int(min(half, T - 1))
    k = np.arange(-span, span + 1, dtype=np.float64)
    kern = np.exp(-0.5 * (k / sigma) ** 2)
    u = k / span
    nm = 2 * degree + 1
    n = _fast_length(T + 2 * span)
    # out[t] = sum_k g(k) a[t+k]: a convolution with the reversed kernel, read from row t + span.
    G = np.fft.rfft(np.stack([(kern * u ** j)[::-1] for j in range(nm)]), n, axis=1)  # (nm, nf)
    # Time as the last (contiguous) axis for the FFTs: rows of w, then rows of w·x.
    F = np.fft.rfft(np.concatenate([w.T, (w[..., None] * x).reshape(T, M * C).T]), n, axis=1)
    Fw, Fx = F[:M], F[M:]
    conv = np.fft.irfft(np.concatenate([(Fw[None] * G[:, None]).reshape(nm * M, -1),
                                        (Fx[None] * G[:degree + 1, None]).reshape((degree + 1) * M * C, -1)]),
                        n, axis=1)[:, span:span + T]
    mom = list(conv[:nm * M].reshape(nm, M, T).transpose(0, 2, 1))
    rhs = list(conv[nm * M:].reshape(degree + 1, M, C, T).transpose(0, 3, 1, 2))
    m0 = mom[0]
    empty = m0 <= 1e-9 * kern.sum() * max(float(w.max(initial=0.0)), 1e-300)
    m0s = np.where(empty, 1.0, m0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # Each degree's solution; a window whose samples cannot support a degree (one or two samples,
        # or all at one end) falls back to the next lower one: the normalised determinant tells.
        fit = rhs[0] / m0s[..., None]
        inv00 = 1.0 / m0s
        if degree >= 1:
            b, d = mom[1], mom[2]
            det1 = m0s * d - b * b
            ok1 = det1 > _DEGENERATE * m0s * d
            fit = np.where(ok1[..., None], (d[..., None] * rhs[0] - b[..., None] * rhs[1]) / det1[..., None], fit)
            inv00 = np.where(ok1, d / det1, inv00)
        if degree >= 2:
            c, e, f = mom[2], mom[3], mom[4]
            c00, c01, c02 = d * f - e * e, c * e - b * f, b * e - c * d  # first row of the adjugate
            det2 = m0s * c00 + b * c01 + c * c02
            ok2 = ok1 & (det2 > _DEGENERATE * m0s * d * f)
            fit2 = (c00[..., None] * rhs[0] + c01[..., None] * rhs[1] + c02[..., None] * rhs[2]) / det2[..., None]
            fit = np.where(ok2[..., None], fit2, fit)
            inv00 = np.where(ok2, c00 / det2, inv00)
    fit[empty] = np.nan
    leverage = np.where(empty, np.nan, w * inv00)  # own sample: kernel 1 at u = 0, constant term only
    return fit, leverage


def _fit_stretches(x, w, rows_ok, sigma, degree):
    """_local_fit on each stretch of rows that hold some data; rows with none stay NaN."""
    fit = np.full(x.shape, np.nan)
    leverage = np.full(w.shape, np.nan)
    for a, b in _runs(rows_ok):
        if b - a == 1:
            fit[a], leverage[a] = x[a], np.where(w[a] > 0, 1.0, np.nan)
            fit[a][w[a] <= 0] = np.nan
            continue
        fit[a:b], leverage[a:b] = _local_fit(x[a:b], w[a:b], sigma, degree)
    return fit, leverage


def smooth(x, fps: float | None = None, *, cutoff_hz: float | None = DEFAULT_CUTOFF_HZ,
           sigma_frames: float | None = None, weights=None, degree: int = DEFAULT_DEGREE,
           robust: bool = DEFAULT_ROBUST, stats: dict | None = None) -> np.ndarray:
    """Zero-phase smoothing of samples along axis 0 (time).

    x: (T, *S, *C), e.g. (T,33,3) landmarks; weights (T, *S), e.g. (T,33) visibility, shared by the
    C components of a sample (default 1). The strength is `sigma_frames` (Gaussian kernel σ in frames)
    if given, else `cutoff_hz` converted with `fps`. Samples with a NaN get no weight and stay NaN;
    rows where every sample is NaN split the track into stretches smoothed independently (the
    smoother never reaches across a gap in the data). Returns a new float64 array shaped like x.
    """
    xs, w, shape = _as_series(x, weights)
    if sigma_frames is None:
        if cutoff_hz is None or fps is None:
            raise ValueError("give sigma_frames, or cutoff_hz and fps")
        sigma_frames = cutoff_to_sigma(float(cutoff_hz), float(fps), int(degree))
    if degree not in (0, 1, 2):
        raise ValueError(f"degree must be 0, 1 or 2, got {degree}")
    out = xs.copy()
    T = xs.shape[0]
    if T < 2 or not sigma_frames or sigma_frames <= 0:
        return out.reshape(shape)
    bad = ~np.isfinite(xs).all(axis=-1) | ~np.isfinite(w)
    w = np.where(bad, 0.0, np.clip(w, 0.0, None))
    rows_ok = ~bad.all(axis=1)
    xf = np.where(bad[..., None], 0.0, xs)
    tiny = 1e-7 * float(np.abs(xf).max(initial=0.0))  # residuals below: rounding, never outliers
    sigma_frames, degree = float(sigma_frames), int(degree)
    fit, leverage = _fit_stretches(xf, w, rows_ok, sigma_frames, degree)
    outliers = np.zeros_like(bad)
    for _ in range(ROBUST_PASSES if robust else 0):
        with np.errstate(invalid="ignore", divide="ignore"):
            # studentised: residual / sqrt(1 - leverage), so the clip's edges are not over-flagged
            resid = np.linalg.norm(xf - fit, axis=-1) / np.sqrt(np.clip(1.0 - leverage, 1e-3, None))
        use = (w > 0) & np.isfinite(resid)
        resid = np.where(use, resid, np.nan)
        if not use.any():
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nanmedian(resid, axis=0)  # per series
        scale = np.where(np.isfinite(scale), scale, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(use, resid / (6.0 * np.maximum(scale, tiny)), 0.0)
        ratio = np.where(resid <= tiny, 0.0, ratio)  # exact fits (constant, quadratic data) are not outliers
        bisq = np.clip(1.0 - ratio ** 2, 0.0, 1.0) ** 2
        outliers = use & (bisq < 0.1)
        fit, leverage = _fit_stretches(xf, w * bisq, rows_ok, sigma_frames, degree)
    if stats is not None:
        stats["outliers"] = int(outliers.sum())
    out = np.where(bad[..., None], np.nan, np.where(np.isnan(fit), xs, fit))  # no weight around: as given
    return out.reshape(shape)


# ----------------------------------------------------------------------------------------------
# One Euro (causal)

def _alpha(cutoff, dt):
    r = 2 * np.pi * cutoff * dt
    return r / (r + 1)


def one_euro(x, fps: float, *, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
             d_cutoff: float = DEFAULT_D_CUTOFF, weights=None) -> np.ndarray:
    """The One Euro filter (Casiez et al. 2012) along axis 0, one filter per scalar channel.

    x (T, ...), weights broadcastable over x's leading axes (a low weight shrinks the sample's update,
    0 ignores it). NaN samples give NaN and restart the channel's filter at the next sample.
    Causal: output t uses samples ≤ t only.
    """
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    out = np.full_like(x, np.nan)
    if T == 0:
        return out
    if weights is None:
        wt = np.ones_like(x)
    else:
        wt = np.asarray(weights, dtype=np.float64)
        wt = np.broadcast_to(wt.reshape(wt.shape + (1,) * (x.ndim - wt.ndim)), x.shape)
        wt = np.clip(np.nan_to_num(wt, nan=1.0), 0.0, 1.0)
    dt = 1.0 / float(fps)
    a_d = _alpha(d_cutoff, dt)
    prev = np.full(x.shape[1:], np.nan)
    dprev = np.zeros(x.shape[1:])
    for t in range(T):
        xt = x[t]
        ok = np.isfinite(xt)
        start = ok & ~np.isfinite(prev)
        dx = np.where(start | ~ok, 0.0, (xt - prev) / dt)
        dhat = np.where(start, 0.0, dprev + a_d * wt[t] * (dx - dprev))
        a = _alpha(min_cutoff + beta * np.abs(dhat), dt) * wt[t]
        xhat = np.where(start, xt, prev + a * (xt - prev))
        prev = np.where(ok, xhat, np.nan)
        dprev = np.where(ok, dhat, 0.0)
        out[t] = prev
    return out


# ----------------------------------------------------------------------------------------------
# Quaternions

def align_hemispheres(q) -> np.ndarray:
    """Flip signs along axis 0 so each quaternion lies in the hemisphere of the previous finite one
    (per trailing track for (T,...,4)). NaN rows stay NaN."""
    q = np.array(q, dtype=np.float64, copy=True)
    if q.shape[0] < 2:
        return q
    flat = q.reshape(q.shape[0], -1, 4)
    T, N, _ = flat.shape
    ok = np.isfinite(flat).all(axis=-1)
    idx = np.where(ok, np.arange(T)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)  # last finite row ≤ t
    prev = np.vstack([np.full((1, N), -1), last[:-1]])
    has_prev = ok & (prev >= 0)
    partner = flat[np.clip(prev, 0, None), np.arange(N)]
    dots = np.where(has_prev, np.sum(flat * np.nan_to_num(partner), axis=-1), 1.0)
    flips = np.cumsum(dots < 0, axis=0) % 2 == 1
    flat[flips] *= -1
    return flat.reshape(q.shape)


def smooth_quaternions(q, fps: float | None = None, *, cutoff_hz: float | None = DEFAULT_CUTOFF_HZ,
                       sigma_frames: float | None = None, weights=None, degree: int = DEFAULT_DEGREE,
                       robust: bool = DEFAULT_ROBUST) -> np.ndarray:
    """Zero-phase smoothing of unit quaternion tracks (T,4) or (T,...,4), (w, x, y, z) or any order.

    Hemispheres are aligned first (q and −q are one rotation), the components are smoothed with
    `smooth` (weights (T,...) optional) and renormalised. Output: unit quaternions, sign-continuous
    along time; NaN rows stay NaN.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions must have 4 components, got shape {q.shape}")
    aligned = align_hemispheres(q)
    if weights is None:
        weights = np.ones(q.shape[:-1])
    s = smooth(aligned, fps, cutoff_hz=cutoff_hz, sigma_frames=sigma_frames, weights=weights,
               degree=degree, robust=robust)
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 1e-12, s / n, aligned / np.linalg.norm(aligned, axis=-1, keepdims=True))
    return out


# ----------------------------------------------------------------------------------------------
# Gaps

def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of the runs of True in a 1-D bool array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[::2].tolist(), d[1::2].tolist()))


def _edge_estimate(times: np.ndarray, values: np.ndarray, at: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Value and slope (per frame) at `at` of a least-squares line through values (n,C) at times."""
    if len(times) < 2:
        return values[0], None
    tt = times - at
    A = np.stack([np.ones_like(tt, dtype=np.float64), tt.astype(np.float64)], axis=1)
    coef, *_ = np.linalg.lstsq(A, values, rcond=None)
    return coef[0], coef[1]


def interpolate_gaps(x, missing, max_gap: int, *, anchor_frames: int = 6, kind: str = "hermite"):
    """Fill runs of `missing` (T,) rows of one series x (T,C), of at most max_gap rows and with
    non-missing rows on both sides. End values and slopes come from a line fitted through up to
    `anchor_frames` non-missing rows on each side ("hermite"), or the two end samples ("linear").
    → (new x, filled (T,) bool, runs [(start, stop, filled)])."""
    x = np.array(x, dtype=np.float64, copy=True)
    missing = np.asarray(missing, bool)
    T = len(missing)
    filled = np.zeros(T, bool)
    runs = []
    for a, b in _runs(missing):
        ok = a > 0 and b < T and (b - a) <= max_gap
        runs.append((a, b, ok))
        if not ok:
            continue
        n = b - a + 1  # interval from row a-1 to row b
        if kind == "linear":
            p0, p1, m0, m1 = x[a - 1], x[b], None, None
        else:
            lo = a - 1
            while lo - 1 >= 0 and a - 1 - (lo - 1) < anchor_frames and not missing[lo - 1]:
                lo -= 1
            hi = b
            while hi + 1 < T and hi + 1 - b < anchor_frames and not missing[hi + 1]:
                hi += 1
            p0, m0 = _edge_estimate(np.arange(lo, a), x[lo:a], a - 1)
            p1, m1 = _edge_estimate(np.arange(b, hi + 1), x[b:hi + 1], b)
        chord = (p1 - p0)
        m0 = chord if m0 is None else m0 * n  # slopes per unit of the [0, 1] parameter
        m1 = chord if m1 is None else m1 * n
        s = (np.arange(a, b) - (a - 1)) / n
        s = s[:, None]
        if kind == "linear":
            x[a:b] = p0 + s * chord
        else:
            h00 = 2 * s ** 3 - 3 * s ** 2 + 1
            h10 = s ** 3 - 2 * s ** 2 + s
            h01 = -2 * s ** 3 + 3 * s ** 2
            h11 = s ** 3 - s ** 2
            x[a:b] = h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1
        filled[a:b] = True
    return x, filled, runs


# ----------------------------------------------------------------------------------------------
# PoseTrack

def _metres_per_image_unit(track: PoseTrack) -> float:
    """Torso length in world metres over the same in image units: scales One Euro's beta."""
    sh = [INDEX["left_shoulder"], INDEX["right_shoulder"]]
    hp = [INDEX["left_hip"], INDEX["right_hip"]]

    def torso(p, dims):
        d = p[:, sh, :dims].mean(axis=1) - p[:, hp, :dims].mean(axis=1)
        return np.linalg.norm(d, axis=-1)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio = np.nanmedian(torso(track.world_landmarks.astype(np.float64), 3)) / np.nanmedian(
            torso(track.image_landmarks.astype(np.float64), 2))
    return float(ratio) if np.isfinite(ratio) and ratio > 0 else 1.0


def _torso_pace(world: np.ndarray, smoothed: np.ndarray, weight: np.ndarray, stretch: np.ndarray, sigma: float,
                degree: int, robust: bool, torso_stretch: float = TORSO_STRETCH) -> None:
    """The shoulders and hips ride the torso, which turns slower than the limbs swing: their world positions (world:
    the unsmoothed (T,33,3)) are smoothed torso_stretch times longer than the rest, and the limb below each one
    moves with it, its directions unchanged. Changes `smoothed` (the world landmarks smoothed as usual) in place."""
    for j, below in _BELOW.items():
        longer = max(float(stretch[j]), torso_stretch)
        if longer <= stretch[j]:  # already smoothed as long (a hidden landmark)
            continue
        calm = smooth(world[:, [j]], sigma_frames=sigma * longer, weights=weight[:, [j]], degree=degree,
                      robust=robust)
        shift = calm - smoothed[:, [j]]
        smoothed[:, [j, *below]] += np.where(np.isfinite(shift), shift, 0.0)


def hidden_stretch(visibility: np.ndarray, most: float = DEFAULT_HIDDEN_SLOWDOWN) -> np.ndarray:
    """Per landmark, how many times longer its smoothing kernel is: 1 + 2 × (HIDDEN_VISIBILITY − its median
    visibility over the frames that have one), between 1 and `most`, in steps of 0.25. visibility (T, n), NaN
    where a frame has none (a landmark with none at all: 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no visibility, no stretch
        median = np.nanmedian(np.asarray(visibility, np.float64), axis=0)
    stretch = np.clip(1.0 + 2.0 * (HIDDEN_VISIBILITY - np.nan_to_num(median, nan=1.0)), 1.0, max(1.0, most))
    return np.round(stretch * 4) / 4


def smooth_track(track: PoseTrack, method: str = "zero_phase", *, strength_hz: float | None = DEFAULT_CUTOFF_HZ,
                 strength_frames: float | None = None, max_gap_s: float | None = DEFAULT_MAX_GAP_S,
                 max_gap_frames: int | None = None, min_visibility: float = DEFAULT_MIN_VISIBILITY,
                 degree: int = DEFAULT_DEGREE, robust: bool = DEFAULT_ROBUST, visibility_weights: bool = True,
                 min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF, interpolation: str = "hermite",
                 hidden_slowdown: float = DEFAULT_HIDDEN_SLOWDOWN,
                 torso_stretch: float = TORSO_STRETCH) -> tuple[PoseTrack, FilterReport]:
    """Fill short gaps and smooth the landmarks of a track. Returns (new PoseTrack, FilterReport);
    the input track is not modified.

    method: "zero_phase" (offline, no lag), "one_euro" (causal) or "none" (gap filling only).
    strength_hz: zero-phase cut-off (amplitude halved at this frequency); strength_frames (kernel σ
      in frames) overrides it.
    max_gap_s / max_gap_frames (overrides): longest run of missing samples that is interpolated;
      0 turns filling off.
    min_visibility: samples below it are not measurements (gaps); above it they are weighted by
      their visibility (visibility_weights=True).
    degree, robust: zero-phase local polynomial degree (0-2) and outlier reweighting.
    hidden_slowdown: zero-phase: the longest kernel (× σ) of a landmark the detector mostly does not see
      (module docstring); 1 smooths every landmark alike.
    torso_stretch: zero-phase: the shoulders' and hips' kernel × this, the limbs below them moving with them
      (`_torso_pace`); 1 smooths them like the rest.
    min_cutoff (Hz), beta (1/(m/s), world landmarks), d_cutoff (Hz): One Euro parameters.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}': choose one of {', '.join(METHODS)}")
    if interpolation not in ("hermite", "linear"):
        raise ValueError(f"unknown interpolation '{interpolation}': hermite or linear")
    fps = float(track.fps)
    T = len(track)
    if max_gap_frames is None:
        max_gap_frames = 0 if not max_gap_s else int(math.floor(max_gap_s * fps + 1e-9))
    max_gap_frames = max(0, int(max_gap_frames))
    sigma = None
    if method == "zero_phase":
        if strength_frames is not None:
            sigma, strength_hz = float(strength_frames), None
        elif strength_hz is not None:
            sigma = cutoff_to_sigma(float(strength_hz), fps, int(degree))
    report = FilterReport(method, fps, T, track.first_frame, strength_hz if method == "zero_phase" else None,
                          sigma, max_gap_frames, float(min_visibility))
    if method == "zero_phase":
        report.params = {"degree": int(degree), "robust": bool(robust), "visibility_weights": visibility_weights}
    elif method == "one_euro":
        report.params = {"min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff,
                         "visibility_weights": visibility_weights}

    world = track.world_landmarks.astype(np.float64)          # copies: the input is never touched
    image = track.image_landmarks.astype(np.float64)
    vis = track.visibility.astype(np.float64)
    pres = track.presence.astype(np.float64)
    detected = np.asarray(track.detected, bool).copy()
    finite = np.isfinite(world).all(-1) & np.isfinite(image).all(-1) & detected[:, None]
    vis_known = np.where(np.isnan(vis), 1.0, vis)
    measured = finite & (vis_known >= min_visibility)
    filled = np.zeros_like(measured)

    # Frames without a person: a frame is filled when its run is short and bounded.
    frame_runs = _runs(~detected)
    fill_frames = np.zeros(T, bool)
    for a, b in frame_runs:
        ok = a > 0 and b < T and (b - a) <= max_gap_frames
        report.gaps.append(Gap(a, b, None, ok, at_edge=(a == 0 or b == T)))
        fill_frames[a:b] = ok

    # Per landmark: runs of non-measured samples (low visibility and/or no person), from measurements.
    anchors = max(2, round(ANCHOR_S * fps))
    low_runs: dict[tuple[int, int, bool, bool], list[int]] = {}
    for j in range(world.shape[1]):
        xs = np.concatenate([world[:, j], image[:, j]], axis=1)
        new, done, runs = interpolate_gaps(xs, ~measured[:, j], max_gap_frames, anchor_frames=anchors,
                                           kind=interpolation)
        done &= detected | fill_frames  # long no-person runs are never filled per landmark
        if fill_frames.any():  # no-person frames whose landmark run was too long: from the detections
            rest = fill_frames & ~done
            if rest.any():
                new2, done2, _ = interpolate_gaps(np.where(done[:, None], new, xs), ~detected, max_gap_frames,
                                                  anchor_frames=anchors, kind=interpolation)
                new = np.where((rest & done2)[:, None], new2, new)
                done |= rest & done2
        world[done, j], image[done, j] = new[done, :3], new[done, 3:]
        filled[:, j] = done
        for a, b, _ok in runs:  # report the low-visibility stretches inside detected frames
            for c, d in _runs(detected[a:b]):
                key = (a + c, a + d, bool(filled[a + c:a + d, j].all()), a == 0 or b == T)
                low_runs.setdefault(key, []).append(j)
    for (a, b, ok, edge), lms in sorted(low_runs.items()):
        report.gaps.append(Gap(a, b, tuple(lms), ok, at_edge=edge and not ok))
    report.gaps.sort(key=lambda g: (g.start, g.landmarks is not None, g.stop))
    report.samples_filled = int(filled[detected].sum() + 33 * fill_frames.sum())

    # Filled frames: visibility and presence interpolated linearly between the neighbouring detections.
    if fill_frames.any():
        for arr in (vis, pres):
            v, _, _ = interpolate_gaps(arr, ~detected, max_gap_frames, kind="linear")
            arr[fill_frames] = v[fill_frames]
        detected |= fill_frames

    # Smoothing weights: visibility for measurements (floored), small for interpolated samples.
    usable = detected[:, None] & np.isfinite(world).all(-1) & np.isfinite(image).all(-1)
    if visibility_weights:
        weight = np.clip(np.nan_to_num(track.visibility.astype(np.float64), nan=1.0), MIN_WEIGHT, 1.0)
    else:
        weight = np.ones((T, world.shape[1]))
    weight = np.where(filled, FILLED_WEIGHT if visibility_weights else 1.0, weight)
    weight = np.where(usable, weight, 0.0)
    world = np.where(usable[..., None], world, np.nan)
    image = np.where(usable[..., None], image, np.nan)

    if method == "zero_phase" and sigma:
        stats: dict = {}
        stretch = hidden_stretch(np.where(usable, vis_known, np.nan), hidden_slowdown)
        smoothed = [np.empty_like(world), np.empty_like(image)]
        outliers = 0
        for f in np.unique(stretch):  # landmarks sharing a kernel length, together
            sel = stretch == f
            smoothed[0][:, sel] = smooth(world[:, sel], sigma_frames=sigma * f, weights=weight[:, sel],
                                         degree=degree, robust=robust, stats=stats)
            outliers += stats.get("outliers", 0)
            smoothed[1][:, sel] = smooth(image[:, sel], sigma_frames=sigma * f, weights=weight[:, sel],
                                         degree=degree, robust=robust, stats=stats)
        _torso_pace(world, smoothed[0], weight, stretch, sigma, degree, robust, torso_stretch)
        world, image = smoothed
        report.outliers = int(outliers)
    elif method == "one_euro":  # interpolated samples are full weight here: a causal filter would stall on them
        w1 = np.where(filled, 1.0, weight) if visibility_weights else None
        world = one_euro(world, fps, min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff, weights=w1)
        image = one_euro(image, fps, min_cutoff=min_cutoff, beta=beta * _metres_per_image_unit(track),
                         d_cutoff=d_cutoff, weights=w1)

    out = PoseTrack(world.astype(track.world_landmarks.dtype), image.astype(track.image_landmarks.dtype),
                    vis.astype(track.visibility.dtype), pres.astype(track.presence.dtype), detected,
                    np.array(track.timestamps_ms, copy=True), track.fps, tuple(track.frame_size), track.source,
                    track.model, track.first_frame, dict(track.extra, filter_report=report), **track.hand_arrays(),
                    **track._face_rows(0, len(track)))
    return out, report
