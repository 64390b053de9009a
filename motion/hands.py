"""Smoothing of hand landmarks (T,2,21,3), with the body's filters (motion/filters.py). numpy only.

Hand world landmarks are centred on the hand, so the smoothing takes the jitter out of the finger
shape and the palm's orientation, not out of the hand's travel (the body's wrist carries that).
Frames without a hand (NaN, or presence below `min_presence`) are gaps: the zero-phase smoother
never reaches across them (each stretch is smoothed on its own, so a hand reappearing somewhere
else is not dragged from where it was), and the One Euro filter restarts after them. The solver
eases unseen stretches (retarget/hands.py), so gaps are not filled here.
"""
from __future__ import annotations

import numpy as np

from .filters import DEFAULT_BETA, DEFAULT_CUTOFF_HZ, DEFAULT_D_CUTOFF, DEFAULT_MIN_CUTOFF, METHODS, one_euro, smooth

MIN_PRESENCE = 0.5


def smooth_hands(hand_world: np.ndarray, presence: np.ndarray | None, fps: float, method: str = "zero_phase",
                 strength_hz: float | None = DEFAULT_CUTOFF_HZ, *, min_presence: float = MIN_PRESENCE,
                 robust: bool = True, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF) -> np.ndarray:
    """Smoothed copy of hand landmarks (T,2,21,3) (world or image), NaN where no hand.

    method: "zero_phase" (offline, no lag: strength_hz is the cut-off where the amplitude is halved,
    as for the body), "one_euro" (causal: min_cutoff Hz, beta 1/(m/s), d_cutoff Hz), "none".
    presence (T,2): a hand's samples are weighted by it; below min_presence the frame is a gap."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}': choose one of {', '.join(METHODS)}")
    x = np.array(hand_world, dtype=np.float64, copy=True)
    if x.ndim != 4 or x.shape[1:] != (2, 21, 3):
        raise ValueError(f"hand landmarks must be (T,2,21,3), got {x.shape}")
    seen = np.isfinite(x).all(axis=(-1, -2))
    weight = np.ones(x.shape[:2])
    if presence is not None:
        p = np.nan_to_num(np.asarray(presence, dtype=np.float64), nan=0.0)
        seen &= p >= min_presence
        weight = np.clip(p, 1e-3, 1.0)
    x[~seen] = np.nan
    if method == "none" or len(x) < 2:
        return x
    out = np.full_like(x, np.nan)
    for h in range(2):  # one hand at a time: a stretch of one hand never splits at the other's gaps
        if not seen[:, h].any():
            continue
        w = np.where(seen[:, h], weight[:, h], 0.0)[:, None].repeat(21, axis=1)
        if method == "zero_phase":
            if not strength_hz:
                out[:, h] = x[:, h]
                continue
            out[:, h] = smooth(x[:, h], fps, cutoff_hz=strength_hz, weights=w, robust=robust)
        else:
            out[:, h] = one_euro(x[:, h], fps, min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff, weights=w)
    out[~seen] = np.nan
    return out
