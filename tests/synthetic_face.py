"""Synthetic faces with known expressions and head rotations: MediaPipe's canonical face (478 points)
deformed — eyelids closed, jaw opened, mouth corners pulled into a smile — by an amount 0..1 that means
weight 1 under motion/face.py's calibration, then rotated, placed in front of a pinhole camera and
projected to MediaPipe's normalised image coordinates (x, y in [0, 1], z relative depth at x's scale)."""
import numpy as np

from video_mocap.motion import face as F
from video_mocap.motion.canonical_face import vertices

UPPER_LID = {"Right": (246, 161, 160, 159, 158, 157, 173), "Left": (466, 388, 387, 386, 385, 384, 398)}
UPPER_HALO = {"Right": (247, 30, 29, 27, 28, 56, 190), "Left": (467, 260, 259, 257, 258, 286, 414)}
LOWER_LID = {"Right": (33, 7, 163, 144, 145, 153, 154, 155, 133), "Left": (263, 249, 390, 373, 374, 380, 381, 382, 362)}
IRIS = {"Right": range(468, 473), "Left": range(473, 478)}
LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324,
             77, 90, 180, 85, 16, 315, 404, 320, 307, 96, 89, 179, 86, 15, 316, 403, 319, 325)
CORNERS = (61, 291, 78, 308, 76, 306, 62, 292)
UPPER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415,
             184, 74, 73, 72, 11, 302, 303, 304, 408, 183, 42, 41, 38, 12, 268, 271, 272, 407)
HINGE = np.array([0.0, -1.0, -6.0])  # y, z of the jaw hinge (along x; the condyles, behind the mesh), cm


def close_eye(v, side, amount):
    lower = v[list(LOWER_LID[side])]
    order = np.argsort(lower[:, 0])
    for idx, share in ((UPPER_LID[side], 1.0), (UPPER_HALO[side], 0.5)):
        for i in idx:
            y_low = np.interp(v[i, 0], lower[order, 0], lower[order, 1])
            v[i, 1] -= share * amount * (1 - F.CLOSED_EYE) * (v[i, 1] - y_low)
    return v


def jaw_weights(v):
    w = np.clip((v[61, 1] - v[:, 1]) / 2.0, 0.0, 1.0) * np.clip((7.0 - np.abs(v[:, 0])) / 2.0, 0.0, 1.0)
    w[list(LOWER_LIP)] = 1.0
    w[list(CORNERS)] = 0.5
    w[list(UPPER_LIP)] = 0.0
    return w


def rotate_jaw(v, angle):
    w = jaw_weights(v)
    out = v.copy()
    for i in np.nonzero(w)[0]:
        a = angle * w[i]
        y, z = v[i, 1] - HINGE[1], v[i, 2] - HINGE[2]
        out[i, 1] = HINGE[1] + np.cos(a) * y - np.sin(a) * z  # opening: the chin goes down and back
        out[i, 2] = HINGE[2] + np.sin(a) * y + np.cos(a) * z
    return out


def jaw_angle_for_full_open():
    """The hinge angle whose chin drop (nose bridge to chin) is motion/face.py's JAW_OPEN."""
    v = vertices()
    base = v[F.NOSE_BRIDGE, 1] - v[F.CHIN, 1]
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        moved = rotate_jaw(v, mid)
        drop = (moved[F.NOSE_BRIDGE, 1] - moved[F.CHIN, 1]) - base
        lo, hi = (mid, hi) if drop < F.JAW_OPEN else (lo, mid)
    return 0.5 * (lo + hi)


def open_jaw(v, amount):
    """Chin drop grows linearly enough with the angle for amount ≈ angle fraction (checked by the test)."""
    return rotate_jaw(v, amount * jaw_angle_for_full_open())


def smile(v, side, amount):
    corner = v[F.MOUTH_CORNER[side]].copy()
    out_dir = 1.0 if side == "Left" else -1.0
    d = np.linalg.norm(v - corner, axis=1)
    w = np.exp(-0.5 * (d / 0.8) ** 2)
    v[:, 0] += out_dir * amount * F.SMILE_WIDEN * w
    v[:, 1] += amount * F.SMILE_RAISE * w
    return v


def face(blink=(0.0, 0.0), jaw=0.0, smiles=(0.0, 0.0)):
    """Canonical vertices (cm) with blink (Left, Right), jaw, smile (Left, Right) amounts."""
    v = vertices()
    for side, a in zip(("Left", "Right"), blink):
        if a:
            v = close_eye(v, side, a)
    for side, a in zip(("Left", "Right"), smiles):
        if a:
            v = smile(v, side, a)
    if jaw:
        v = open_jaw(v, jaw)
    return v


def rotation(yaw, pitch, roll):
    """Rotation (canonical axes → camera-facing canonical axes) from degrees: yaw about y, pitch about x,
    roll about z."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(v, rot, size=(640, 480), distance=60.0, fov_deg=60.0, offset=(3.0, 2.0)):
    """Canonical vertices (cm) rotated by rot (canonical axes: x right, y up, z toward the camera), the head
    `distance` cm in front of a pinhole camera (`fov_deg` across the longer side, principal point at the
    image centre), shifted by `offset` cm (right, up) → MediaPipe normalised landmarks (N,3)."""
    w, h = size
    focal = 0.5 * max(w, h) / np.tan(np.radians(fov_deg) / 2)
    cam = v @ rot.T + [offset[0], offset[1], 0.0]     # x right, y up, z toward the camera
    depth = distance - cam[:, 2]                      # along the viewing ray
    px = w / 2 + focal * cam[:, 0] / depth
    py = h / 2 - focal * cam[:, 1] / depth
    pz = focal * (-cam[:, 2]) / distance              # relative depth, larger = farther
    return np.stack([px / w, py / h, pz / w], axis=1)


def head_matrix(rot):
    """The expected head_rotation for a rotation used in `project` (MediaPipe axes)."""
    flip = np.diag([1.0, -1.0, -1.0])
    return flip @ rot
