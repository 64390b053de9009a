"""Vectorised rotation maths on stacks of 3x3 matrices and (w, x, y, z) quaternions. numpy only."""
from __future__ import annotations

import numpy as np

EPS = 1e-9


def normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, EPS)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross for (…,3) vectors (the same arithmetic), without its generic set-up: the solver calls
    it on single frames, where that set-up is most of the time."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a1 * b2 - a2 * b1
    out[..., 1] = a2 * b0 - a0 * b2
    out[..., 2] = a0 * b1 - a1 * b0
    return out


def reject(v: np.ndarray, axis_unit: np.ndarray) -> np.ndarray:
    """The part of v perpendicular to the unit vector axis_unit (not normalised)."""
    return v - np.sum(v * axis_unit, axis=-1, keepdims=True) * axis_unit


def frame(primary: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Orthonormal right-handed frame (…,3,3) with columns (x, y, z): y along `primary`,
    x along the part of `reference` perpendicular to it, z = x × y."""
    y = normalize(primary)
    x = normalize(reject(reference, y))
    out = np.empty(np.broadcast_shapes(x.shape, y.shape) + (3,))
    out[..., 0], out[..., 1] = x, y
    out[..., 2] = cross(x, y)
    return out


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (…,3,3) → unit quaternions (…,4) as (w, x, y, z), w >= 0.

    Shepperd's method without branches: the symmetric 4×4 matrix K below has, in row k, 4·q_k·q
    (row 0 from w, 1 from x, …); the row with the largest diagonal (the largest |q_k|) is taken, for
    numerical stability, and divided by 4·|q_k| = 2·sqrt(K_kk)."""
    m = np.asarray(m, dtype=np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    a, b, c = m21 - m12, m02 - m20, m10 - m01
    d, e, f = m01 + m10, m02 + m20, m12 + m21
    t0, t1, t2, t3 = 1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22
    K = np.stack([np.stack([t0, a, b, c], -1), np.stack([a, t1, d, e], -1),
                  np.stack([b, d, t2, f], -1), np.stack([c, e, f, t3], -1)], -2)
    best = np.argmax(np.stack([t0, t1, t2, t3], -1), axis=-1)
    row = np.take_along_axis(K, best[..., None, None], -2)[..., 0, :]
    q = row / (2 * np.sqrt(np.maximum(np.take_along_axis(row, best[..., None], -1), EPS)))
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    q = normalize(np.asarray(q, dtype=np.float64))
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)
    m[..., 2, 0], m[..., 2, 1], m[..., 2, 2] = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    return m


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (frames) so consecutive quaternions lie in the same hemisphere:
    interpolating between keys then never takes the long way round."""
    q = np.array(q, dtype=np.float64, copy=True)
    if len(q) < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumsum(dots < 0, axis=0) % 2 == 1
    q[1:][flips] *= -1
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    q0 = normalize(q0)
    q1 = normalize(q1)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    small = sin < 1e-6
    a = np.where(small, 1 - t, np.sin((1 - t) * theta) / np.where(small, 1, sin))
    b = np.where(small, t, np.sin(t * theta) / np.where(small, 1, sin))
    return normalize(a * q0 + b * q1)


def slerp_matrices(m0: np.ndarray, m1: np.ndarray, t: float) -> np.ndarray:
    return quaternion_to_matrix(slerp(matrix_to_quaternion(m0), matrix_to_quaternion(m1), t))


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors (…,3)."""
    cos = np.sum(normalize(a) * normalize(b), axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def rotation_angle(m: np.ndarray) -> np.ndarray:
    """Angle in degrees of rotation matrices (…,3,3)."""
    tr = np.trace(m, axis1=-2, axis2=-1)
    return np.degrees(np.arccos(np.clip((tr - 1) / 2, -1.0, 1.0)))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(…,3,3) smallest rotations taking directions a to b (…,3), a proper rotation for every input.

    Built as the unit quaternion (1 + a·b, a × b), accurate for small and large angles. For opposite
    directions (within 1e-8 rad, where a × b is rounding noise) the smallest rotation is a half turn
    about any axis perpendicular to a; one is picked deterministically (a crossed with the basis axis
    least aligned with it). A zero-length a or b gives the identity."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    a, b = normalize(a), normalize(b)
    q = np.concatenate([1.0 + np.sum(a * b, axis=-1, keepdims=True), cross(a, b)], axis=-1)
    zero = (np.linalg.norm(a, axis=-1) < 0.5) | (np.linalg.norm(b, axis=-1) < 0.5)
    # |q| = 2 cos(θ/2) ≈ π - θ near a half turn; below 1e-8 the fallback's error (π - θ) is smaller
    # than the rounding error of a × b relative to its size (~1e-16 / |q|).
    opposite = (np.linalg.norm(q, axis=-1) < 1e-8) & ~zero
    if opposite.any():
        ao = a[opposite]
        basis = np.eye(3)[np.argmin(np.abs(ao), axis=-1)]
        q[opposite] = np.concatenate([np.zeros(ao.shape[:-1] + (1,)), normalize(cross(ao, basis))], axis=-1)
    q[zero] = (1.0, 0.0, 0.0, 0.0)
    return quaternion_to_matrix(q)
