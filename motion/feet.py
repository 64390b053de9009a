"""Foot contact and foot locking: planted feet do not slide. numpy only.

Contacts come from each foot's height above the floor and its horizontal speed (with hysteresis and
a minimum duration). Locking moves the body's root so that a planted foot stays where it landed,
blending in and out over a few frames; the correction is carried between contacts so the root
never jumps.
"""
from __future__ import annotations

import numpy as np

HEIGHT_M = 0.06          # a foot point this close to the floor may be planted (scaled to the rig)
SPEED_M_S = 0.35         # and moving slower than this horizontally
MIN_CONTACT_S = 0.1
BLEND_FRAMES = 3


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(edges[0::2], edges[1::2]))


def detect_contacts(foot: np.ndarray, fps: float, floor_z: float = 0.0, scale: float = 1.0,
                    height: float = HEIGHT_M, speed: float = SPEED_M_S, min_s: float = MIN_CONTACT_S) -> np.ndarray:
    """foot (T,3): lowest point of one foot per frame → (T,) bool planted."""
    h = foot[:, 2] - floor_z
    v = np.zeros(len(foot))
    if len(foot) > 1:
        step = np.linalg.norm(np.diff(foot[:, :2], axis=0), axis=1) * fps
        v[1:] = step
        v[0] = step[0]
        v[1:-1] = np.minimum(step[:-1], step[1:])  # a planted frame is slow on at least one side
    planted = (h < height * scale) & (v < speed * scale)
    # Hysteresis: a planted foot stays planted while it is still low and fairly slow.
    loose = (h < 1.5 * height * scale) & (v < 1.5 * speed * scale)
    for a, b in _runs(planted):
        while a > 0 and loose[a - 1] and not planted[a - 1]:
            a -= 1
            planted[a] = True
        while b < len(planted) and loose[b] and not planted[b]:
            planted[b] = True
            b += 1
    for a, b in _runs(planted):
        if (b - a) < max(1, int(round(min_s * fps))):
            planted[a:b] = False
    return planted


def lock_feet(root: np.ndarray, feet: dict[str, np.ndarray], contacts: dict[str, np.ndarray],
              blend: int = BLEND_FRAMES) -> np.ndarray:
    """Horizontal root correction so planted feet stay put.

    root (T,3) root offsets; feet: name → (T,3) foot positions INCLUDING that root offset;
    contacts: name → (T,) bool. Returns the corrected root (T,3) (z untouched)."""
    T = len(root)
    weights, wanted = {}, {}
    for name, planted in contacts.items():
        w = np.zeros(T)
        for a, b in _runs(planted):
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
