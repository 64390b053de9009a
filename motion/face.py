"""Facial expressions and head rotation from MediaPipe's face landmarks (numpy only, no blendshape model).

Input: face landmarks (T, 478, 3) or (T, 468, 3) in normalised image coordinates (MediaPipe's: x, y in
[0, 1] of the frame, z relative depth at x's scale, larger = farther), NaN where no face, and the frame
size in pixels (the coordinates are made isotropic with it).

1. Head pose per frame: a weighted similarity Procrustes fit of MediaPipe's canonical face model
   (motion/canonical_face.py) to the landmarks, on points that expressions barely move (nose, eye corners,
   cheekbones, forehead; MediaPipe's own procrustes weights without the jaw). `head_rotation` returns it.
2. The landmarks mapped into the head's own frame (canonical axes, centimetres: the fit's inverse), so the
   measurements below do not change with head rotation, distance or image aspect.
3. Geometric measurements (`measure`): eyelid apertures, iris offsets, brow heights, lip gap, mouth width,
   mouth corner heights, lip protrusion, mouth shift, cheek height, chin drop.
4. Normalised per performer against a neutral reference: by default the most neutral stretch of the clip
   (`neutral_reference`: the half second whose measurements are closest to the clip's typical face with
   the mouth closed and eyes open), or a frame the user picks.
5. ARKit blendshape weights 0..1 (`EXPRESSION_NAMES`: eyeBlinkLeft, jawOpen, mouthSmileLeft, ...), and
   VRM expressions derived from them (`vrm_expressions`).

Left / Right always mean the PERSON's left / right (ARKit's convention): eyeBlinkLeft is the person's
left eye, which is on the image's right in an unmirrored frontal view (landmarks 263, 362, 386, 374).
Gaze needs the 10 iris landmarks (478-point input); with 468 points the eyeLook* weights are 0.
"""
from __future__ import annotations

import numpy as np

from .canonical_face import vertices as canonical_vertices

# -- landmark indices (MediaPipe face mesh) ---------------------------------------------------------------
# The person's right eye is MediaPipe's "left eye" (image left): 33 outer corner, 133 inner corner.
EYES = {  # side → (outer corner, inner corner, lid pairs (upper, lower), iris centre)
    "Right": (33, 133, ((159, 145), (158, 153), (160, 144)), 468),
    "Left": (263, 362, ((386, 374), (385, 380), (387, 373)), 473),
}
BROWS = {"Right": {"inner": (107, 55), "outer": (70, 46)}, "Left": {"inner": (336, 285), "outer": (300, 276)}}
MOUTH_CORNER = {"Right": 61, "Left": 291}
CHEEK = {"Right": 205, "Left": 425}
LIP_INNER_UPPER, LIP_INNER_LOWER = 13, 14
LIP_OUTER_UPPER, LIP_OUTER_LOWER = 0, 17
CHIN, NOSE_TIP, NOSE_BRIDGE = 152, 1, 168
PROCRUSTES_WEIGHTS = {  # MediaPipe's geometry_pipeline_metadata_landmarks (jaw points 136, 365 left out)
    4: 0.0709, 6: 0.0321, 10: 0.0084, 33: 0.0587, 54: 0.0077, 67: 0.0091, 117: 0.0098, 119: 0.0146,
    121: 0.0186, 127: 0.0052, 129: 0.1206, 132: 0.0056, 133: 0.0533, 143: 0.0148, 147: 0.0143, 198: 0.0255,
    205: 0.0473, 263: 0.0587, 284: 0.0077, 297: 0.0091, 346: 0.0098, 348: 0.0146, 350: 0.0186, 356: 0.0052,
    358: 0.1206, 361: 0.0056, 362: 0.0533, 372: 0.0148, 376: 0.0143, 420: 0.0255, 425: 0.0473,
}
_FIT_IDS = np.array(sorted(PROCRUSTES_WEIGHTS))
_FIT_W = np.array([PROCRUSTES_WEIGHTS[i] for i in _FIT_IDS])

# -- calibration: the change from neutral (head frame, centimetres unless said) that means weight 1 ----
CLOSED_EYE = 0.1      # fraction of the neutral lid aperture left when the eye is fully closed (the mesh keeps a gap)
WIDE_EYE = 0.5        # aperture +50 % = eyeWide 1
GAZE_X, GAZE_Y = 0.2, 0.12  # iris offset (fraction of the eye's width) for a full eyeLook weight
BROW_UP = 1.0         # cm of brow raise = 1
BROW_DOWN = 0.6       # cm of inner brow lowering = 1
JAW_OPEN = 2.6        # cm of chin drop (nose bridge to chin) = jawOpen 1
LIP_GAP = 3.4         # cm the inner lips part (beyond neutral) with the jaw fully open and lips relaxed (mouthClose)
SMILE_WIDEN = 0.6     # cm outward per corner = smile 1 (weighted 0.6; the raise below 0.4: jaw opening moves
#                       the corners down a little, never sideways)
SMILE_RAISE = 0.6     # cm up per corner, relative to the lips' midline
FROWN_DROP = 0.5      # cm down per corner, relative to the lips' midline = frown 1
NARROW = 0.25         # fraction of the neutral mouth width lost = pucker/funnel 1
PROTRUDE = 0.6        # cm of lips forward (with narrowing) for pucker/funnel
MOUTH_SHIFT = 0.8     # cm sideways = mouthLeft/Right 1
CHEEK_UP = 0.5        # cm of cheek raise = cheekSquint 1

EXPRESSION_NAMES = (
    "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthLeft", "mouthRight", "cheekSquintLeft", "cheekSquintRight",
)
VRM_NAMES = ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad",
             "surprised", "lookUp", "lookDown", "lookLeft", "lookRight")
MEASURE_NAMES = (
    "apertureLeft", "apertureRight", "irisXLeft", "irisXRight", "irisYLeft", "irisYRight",
    "browInnerLeft", "browInnerRight", "browOuterLeft", "browOuterRight",
    "chinDrop", "lipGap", "mouthWidth", "cornerXLeft", "cornerXRight", "cornerYLeft", "cornerYRight",
    "lipForward", "mouthShift", "cheekLeft", "cheekRight",
)
_M = {name: i for i, name in enumerate(MEASURE_NAMES)}


def _isotropic(landmarks: np.ndarray, frame_size) -> np.ndarray:
    """Normalised image landmarks (T,N,3) → pixels in the canonical model's axes (x right, y up, z toward
    the camera): MediaPipe's y grows downward and z away from the camera."""
    width, height = (float(v) for v in frame_size)
    pts = np.asarray(landmarks, np.float64)
    return np.stack([pts[..., 0] * width, -pts[..., 1] * height, -pts[..., 2] * width], axis=-1)


def _similarity(x: np.ndarray, canon: np.ndarray, w: np.ndarray):
    """Weighted similarity Procrustes, x (t,n,3) ≈ k R canon + shift → R (t,3,3), k (t,), shift (t,3)."""
    c_mean = w @ canon
    x_mean = np.einsum("n,tnk->tk", w, x)
    a = canon - c_mean
    cov = np.einsum("n,tni,nj->tij", w, x - x_mean[:, None], a)          # Σ w b aᵀ
    u, s, vt = np.linalg.svd(cov)
    fix = np.ones((len(x), 3))
    fix[:, 2] = np.sign(np.linalg.det(u @ vt))
    r = np.einsum("tij,tj,tjk->tik", u, fix, vt)
    k = (s * fix).sum(axis=1) / float(w @ (a ** 2).sum(axis=1))
    return r, k, x_mean - k[:, None] * np.einsum("tij,j->ti", r, c_mean)


def _unproject(pts: np.ndarray, k: np.ndarray, shift: np.ndarray, focal: float, centre: np.ndarray) -> np.ndarray:
    """Undo the perspective of the image x, y: a point nearer the camera than the face's centre looks
    bigger by D / (D - dz) (D = focal / k centimetres to the face, dz its depth toward the camera from
    MediaPipe's relative z). The result is an orthographic view of the face at its centre's scale."""
    dist = focal / k                                                    # cm
    dz = (pts[..., 2] - shift[:, None, 2]) / k[:, None]                 # cm toward the camera
    factor = 1.0 - dz / dist[:, None]
    out = pts.copy()
    out[..., :2] = centre + (pts[..., :2] - centre) * factor[..., None]
    return out


def fit_head(landmarks: np.ndarray, frame_size, fov_deg: float | None = 60.0,
             iterations: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted similarity Procrustes of the canonical face onto each frame's landmarks, with the
    perspective of a pinhole camera of `fov_deg` across the frame's longer side (the pipeline's --fov;
    None: weak perspective) undone from the fit's own distance.
    → rotation (T,3,3) (canonical axes → the isotropic image axes of `_isotropic`), scale (T,) pixels per
    centimetre, translation (T,3), and the perspective-corrected points (T,N,3); NaN where no face."""
    pts = _isotropic(landmarks, frame_size)
    t = len(pts)
    canon = canonical_vertices()[_FIT_IDS]
    w = _FIT_W / _FIT_W.sum()
    rot = np.full((t, 3, 3), np.nan)
    scale = np.full(t, np.nan)
    shift = np.full((t, 3), np.nan)
    flat = np.full(pts.shape, np.nan)
    ok = np.isfinite(pts[:, _FIT_IDS]).all(axis=(1, 2))
    if not ok.any():
        return rot, scale, shift, flat
    x = pts[ok]
    r, k, sh = _similarity(x[:, _FIT_IDS], canon, w)
    if fov_deg:
        width, height = (float(v) for v in frame_size)
        focal = 0.5 * max(width, height) / np.tan(np.radians(fov_deg) / 2)
        centre = np.array([width / 2, -height / 2])                      # the principal point, isotropic axes
        for _ in range(iterations):
            y = _unproject(x, k, sh, focal, centre)
            r, k, sh = _similarity(y[:, _FIT_IDS], canon, w)
        x = _unproject(x, k, sh, focal, centre)
    rot[ok], scale[ok], shift[ok], flat[ok] = r, k, sh, x
    return rot, scale, shift, flat


def head_rotation(landmarks: np.ndarray, frame_size, fov_deg: float | None = 60.0) -> np.ndarray:
    """(T,3,3) head orientation in the body's world / camera axes (MediaPipe's: x right, y down, z away
    from the camera). Columns: the head's own axes — the person's left (ear to ear), up (chin to
    forehead), forward (out of the face) — so a face looking straight into the camera gives
    diag(1, -1, -1). NaN where no face. fov_deg: the camera's field of view across the longer side."""
    rot, _, _, _ = fit_head(landmarks, frame_size, fov_deg)
    flip = np.diag([1.0, -1.0, -1.0])                         # canonical axes ↔ MediaPipe axes
    return np.einsum("ij,tjk->tik", flip, rot)


def head_frame_points(landmarks: np.ndarray, frame_size, fov_deg: float | None = 60.0) -> np.ndarray:
    """The landmarks in the head's own frame (canonical axes, centimetres), NaN where no face."""
    rot, scale, shift, pts = fit_head(landmarks, frame_size, fov_deg)
    return np.einsum("tji,tnj->tni", rot, pts - shift[:, None]) / scale[:, None, None]


def measure(local: np.ndarray) -> np.ndarray:
    """Head-frame points (T,N,3) → measurements (T, len(MEASURE_NAMES)) in centimetres (apertures and
    iris offsets: fractions of the eye's width)."""
    p = local
    t = len(p)
    out = np.full((t, len(MEASURE_NAMES)), np.nan)
    has_iris = p.shape[1] >= 478
    for side, (outer, inner, lids, iris) in EYES.items():
        width = np.linalg.norm(p[:, outer, :2] - p[:, inner, :2], axis=-1)
        gap = np.mean([p[:, up, 1] - p[:, lo, 1] for up, lo in lids], axis=0)
        out[:, _M[f"aperture{side}"]] = gap / width
        if has_iris:
            centre = 0.5 * (p[:, outer, :2] + p[:, inner, :2])   # the corners stay put when the lids move
            out[:, _M[f"irisX{side}"]] = (p[:, iris, 0] - centre[:, 0]) / width
            out[:, _M[f"irisY{side}"]] = (p[:, iris, 1] - centre[:, 1]) / width
        else:
            out[:, _M[f"irisX{side}"]] = 0.0
            out[:, _M[f"irisY{side}"]] = 0.0
        eye_line = 0.5 * (p[:, outer, 1] + p[:, inner, 1])
        for part in ("inner", "outer"):
            out[:, _M[f"brow{part.capitalize()}{side}"]] = p[:, list(BROWS[side][part]), 1].mean(axis=1) - eye_line
        out[:, _M[f"cheek{side}"]] = p[:, CHEEK[side], 1]
    out[:, _M["chinDrop"]] = p[:, NOSE_BRIDGE, 1] - p[:, CHIN, 1]
    out[:, _M["lipGap"]] = np.linalg.norm(p[:, LIP_INNER_UPPER] - p[:, LIP_INNER_LOWER], axis=-1)
    right, left = p[:, MOUTH_CORNER["Right"]], p[:, MOUTH_CORNER["Left"]]
    out[:, _M["mouthWidth"]] = np.linalg.norm(left - right, axis=-1)
    mid_y = 0.5 * (p[:, LIP_INNER_UPPER, 1] + p[:, LIP_INNER_LOWER, 1])
    out[:, _M["cornerXLeft"]] = left[:, 0]
    out[:, _M["cornerXRight"]] = -right[:, 0]
    out[:, _M["cornerYLeft"]] = left[:, 1] - mid_y
    out[:, _M["cornerYRight"]] = right[:, 1] - mid_y
    out[:, _M["lipForward"]] = 0.5 * (p[:, LIP_OUTER_UPPER, 2] + p[:, LIP_OUTER_LOWER, 2])
    out[:, _M["mouthShift"]] = 0.25 * (left[:, 0] + right[:, 0] + p[:, LIP_OUTER_UPPER, 0] + p[:, LIP_OUTER_LOWER, 0])
    return out


def neutral_reference(measures: np.ndarray, fps: float = 30.0, frame: int | None = None,
                      window_s: float = 0.5) -> np.ndarray:
    """The neutral measurements (len(MEASURE_NAMES),). frame: the user's neutral frame (its measurements);
    else the most neutral stretch of the clip: of every `window_s` window of frames with a face, the one
    whose frames are nearest (robustly scaled) the clip's median face with the mouth closed and the eyes
    open, and steadiest; its median."""
    m = np.asarray(measures, np.float64)
    valid = np.isfinite(m).all(axis=1)
    if frame is not None:
        if not (0 <= frame < len(m)) or not valid[frame]:
            raise ValueError(f"no face in the chosen neutral frame {frame}")
        return m[frame].copy()
    if not valid.any():
        return np.full(m.shape[1], np.nan)
    rows = m[valid]
    centre = np.median(rows, axis=0)
    spread = np.median(np.abs(rows - centre), axis=0) * 1.4826 + 1e-6
    # a neutral face has its mouth closed and eyes open: aim at the low lip gap / chin drop and open lids
    target = centre.copy()
    for name in ("lipGap", "chinDrop"):
        target[_M[name]] = np.percentile(rows[:, _M[name]], 20)
    for name in ("apertureLeft", "apertureRight"):
        target[_M[name]] = np.percentile(rows[:, _M[name]], 60)
    dist = np.sqrt((((m - target) / spread) ** 2).mean(axis=1))
    dist[~valid] = np.inf
    n = max(1, min(int(round(window_s * fps)), int(valid.sum())))
    if n == 1:
        return m[int(np.argmin(dist))].copy()
    kernel = np.ones(n) / n
    score = np.convolve(dist, kernel, mode="valid")              # inf where a window holds a frame without face
    diffs = np.r_[0.0, np.sqrt((((np.diff(m, axis=0)) / spread) ** 2).mean(axis=1))]
    diffs[~np.isfinite(diffs)] = np.inf
    score = score + np.convolve(diffs, kernel, mode="valid")
    if not np.isfinite(score).any():
        return m[int(np.argmin(dist))].copy()
    start = int(np.argmin(score))
    return np.median(m[start:start + n], axis=0)


def _ramp(value, full):
    return np.clip(value / full, 0.0, 1.0)


def expressions_from_measures(m: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Measurements (T,D) and the neutral (D,) → ARKit weights (T, len(EXPRESSION_NAMES)) in 0..1."""
    d = m - neutral
    w = {}
    for side in ("Left", "Right"):
        ap0 = neutral[_M[f"aperture{side}"]]
        ap = m[:, _M[f"aperture{side}"]]
        w[f"eyeBlink{side}"] = _ramp(ap0 - ap, ap0 * (1.0 - CLOSED_EYE))
        w[f"eyeWide{side}"] = _ramp(ap - ap0, ap0 * WIDE_EYE)
        gx, gy = d[:, _M[f"irisX{side}"]], d[:, _M[f"irisY{side}"]]
        outward = gx if side == "Left" else -gx            # the person's left is +x in the head frame
        w[f"eyeLookUp{side}"] = _ramp(gy, GAZE_Y)
        w[f"eyeLookDown{side}"] = _ramp(-gy, GAZE_Y)
        w[f"eyeLookOut{side}"] = _ramp(outward, GAZE_X)
        w[f"eyeLookIn{side}"] = _ramp(-outward, GAZE_X)
        w[f"browDown{side}"] = _ramp(-d[:, _M[f"browInner{side}"]], BROW_DOWN)
        w[f"browOuterUp{side}"] = _ramp(d[:, _M[f"browOuter{side}"]], BROW_UP)
        widen, raise_ = d[:, _M[f"cornerX{side}"]], d[:, _M[f"cornerY{side}"]]
        w[f"mouthSmile{side}"] = np.clip(0.6 * widen / SMILE_WIDEN + 0.4 * raise_ / SMILE_RAISE, 0.0, 1.0)
        w[f"mouthFrown{side}"] = _ramp(-raise_ - np.maximum(widen, 0.0), FROWN_DROP)
        w[f"cheekSquint{side}"] = _ramp(d[:, _M[f"cheek{side}"]], CHEEK_UP)
    w["browInnerUp"] = _ramp(0.5 * (d[:, _M["browInnerLeft"]] + d[:, _M["browInnerRight"]]), BROW_UP)
    jaw = _ramp(d[:, _M["chinDrop"]], JAW_OPEN)
    lips = _ramp(d[:, _M["lipGap"]], LIP_GAP)
    w["jawOpen"] = jaw
    w["mouthClose"] = np.clip(jaw - lips, 0.0, 1.0)       # jaw open, lips held together
    narrow = _ramp(-d[:, _M["mouthWidth"]], NARROW * neutral[_M["mouthWidth"]])
    forward = _ramp(d[:, _M["lipForward"]], PROTRUDE)
    rounded = np.minimum(narrow, np.maximum(forward, narrow))
    opening = np.clip(lips / 0.35, 0.0, 1.0)               # funnel: lips apart; pucker: lips together
    w["mouthFunnel"] = rounded * opening
    w["mouthPucker"] = rounded * (1.0 - opening)
    shift = d[:, _M["mouthShift"]]
    w["mouthLeft"] = _ramp(shift, MOUTH_SHIFT)
    w["mouthRight"] = _ramp(-shift, MOUTH_SHIFT)
    out = np.stack([w[name] for name in EXPRESSION_NAMES], axis=1).astype(np.float32)
    out[~np.isfinite(m).all(axis=1)] = np.nan
    return out


def expressions(landmarks: np.ndarray, frame_size, fps: float = 30.0, neutral_frame: int | None = None,
                fov_deg: float | None = 60.0) -> tuple[np.ndarray, tuple[str, ...]]:
    """Face landmarks (T,N,3) normalised image coordinates (NaN where no face) → ARKit weights
    (T, K) float32 in 0..1 (NaN where no face) and their names (EXPRESSION_NAMES).
    neutral_frame: the row to use as the performer's neutral face (default: found in the clip).
    fov_deg: the camera's field of view across the longer side (perspective undone), None: weak perspective."""
    local = head_frame_points(landmarks, frame_size, fov_deg)
    m = measure(local)
    neutral = neutral_reference(m, fps, neutral_frame)
    return expressions_from_measures(m, neutral), EXPRESSION_NAMES


def vrm_expressions(weights: np.ndarray, names=EXPRESSION_NAMES) -> tuple[np.ndarray, tuple[str, ...]]:
    """ARKit weights (T,K) → VRM 1.0 preset expressions (T, len(VRM_NAMES)) in 0..1, NaN where no face.
    blink = both eyes closed together (the smaller blink), blinkLeft/Right = what one eye closes beyond
    that (so blink + blinkLeft never closes an eye twice). lookLeft = the person's (the avatar's) left."""
    a = {name: np.asarray(weights)[:, i].astype(np.float64) for i, name in enumerate(names)}
    mean = lambda *keys: np.mean([a[k] for k in keys], axis=0)  # noqa: E731
    jaw, pucker, funnel = a["jawOpen"], a["mouthPucker"], a["mouthFunnel"]
    smile = mean("mouthSmileLeft", "mouthSmileRight")
    rounded = np.maximum(pucker, funnel)
    v = {}
    v["aa"] = jaw * (1.0 - rounded)
    v["oh"] = np.minimum(1.0, funnel * (0.5 + jaw))
    v["ou"] = pucker * (1.0 - jaw)
    v["ee"] = np.clip(smile * (1.0 - jaw) * (1.0 - rounded), 0.0, 1.0)
    v["ih"] = np.clip(0.5 * smile + 0.5 * np.minimum(jaw, 0.3) / 0.3, 0.0, 1.0) * (1.0 - rounded) * (jaw < 0.5)
    both = np.minimum(a["eyeBlinkLeft"], a["eyeBlinkRight"])
    v["blink"] = both
    v["blinkLeft"] = a["eyeBlinkLeft"] - both
    v["blinkRight"] = a["eyeBlinkRight"] - both
    v["happy"] = np.clip(smile + 0.3 * mean("cheekSquintLeft", "cheekSquintRight"), 0.0, 1.0)
    v["angry"] = mean("browDownLeft", "browDownRight") * (1.0 - smile)
    v["sad"] = np.clip(0.6 * mean("mouthFrownLeft", "mouthFrownRight") + 0.4 * a["browInnerUp"], 0.0, 1.0) \
        * (1.0 - smile)
    brows_up = mean("browInnerUp", "browOuterUpLeft", "browOuterUpRight")
    v["surprised"] = np.clip(0.6 * brows_up + 0.4 * mean("eyeWideLeft", "eyeWideRight"), 0.0, 1.0)
    v["lookUp"] = mean("eyeLookUpLeft", "eyeLookUpRight")
    v["lookDown"] = mean("eyeLookDownLeft", "eyeLookDownRight")
    v["lookLeft"] = mean("eyeLookOutLeft", "eyeLookInRight")
    v["lookRight"] = mean("eyeLookInLeft", "eyeLookOutRight")
    out = np.stack([v[name] for name in VRM_NAMES], axis=1).astype(np.float32)
    out[~np.isfinite(np.asarray(weights, np.float64)).all(axis=1)] = np.nan
    return out, VRM_NAMES


def add_expressions(track, neutral_frame: int | None = None, fov_deg: float | None = 60.0, force: bool = False):
    """Fill a PoseTrack's face_expressions / face_expression_names from its face landmarks (in place;
    returns the track). Expressions already there (the bundle's blendshape model's, from the capture)
    are kept unless force. neutral_frame: a row of the track (default: the most neutral stretch)."""
    if not track.has_face or (track.face_expressions is not None and not force):
        return track
    weights, names = expressions(track.face_landmarks, track.frame_size, track.fps, neutral_frame, fov_deg)
    track.face_expressions, track.face_expression_names = weights, tuple(names)
    return track
