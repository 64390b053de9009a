"""Expressions and head rotation from face landmarks (motion/face.py) on synthetic faces with known truth:
MediaPipe's canonical face with eyelids closed, jaw opened and mouth corners pulled by a known amount,
rotated and seen through a pinhole camera (tests/synthetic_face.py)."""
import numpy as np
import pytest
import synthetic_face as S

from video_mocap.motion import face as F

SIZE = (640, 480)
KEYS = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight")


def clip(seed=0, neutral_frames=20, max_angles=(30, 20, 15)):
    """(landmarks (T,478,3), truth (T,5) in KEYS order, head rotations (T,3,3) expected)."""
    rng = np.random.default_rng(seed)
    faces, truth, rots = [], [], []
    for _ in range(neutral_frames):
        faces.append(S.face())
        truth.append((0, 0, 0, 0, 0))
        rots.append(S.rotation(*rng.uniform(-5, 5, 3)))
    for amount in (0.25, 0.5, 0.75, 1.0):
        for kind in ("blinkL", "blinkR", "jaw", "smile", "smileL", "all"):
            b, j, s = [0.0, 0.0], 0.0, [0.0, 0.0]
            if kind == "blinkL":
                b = [amount, 0.0]
            elif kind == "blinkR":
                b = [0.0, amount]
            elif kind == "jaw":
                j = amount
            elif kind == "smile":
                s = [amount, amount]
            elif kind == "smileL":
                s = [amount, 0.0]
            else:
                b, j, s = [amount, amount], amount, [amount, 0.0]
            faces.append(S.face(tuple(b), j, tuple(s)))
            truth.append((b[0], b[1], j, s[0], s[1]))
            rots.append(S.rotation(*(rng.uniform(-1, 1, 3) * max_angles)))
    landmarks = np.array([S.project(v, r) for v, r in zip(faces, rots)])
    return landmarks, np.array(truth, float), np.array([S.head_matrix(r) for r in rots])


def angle_deg(a, b):
    cos = (np.einsum("tij,tij->t", a, b) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_blink_jaw_smile_within_0_1_of_truth_without_crosstalk():
    landmarks, truth, _ = clip()
    weights, names = F.expressions(landmarks, SIZE, fps=30)
    assert names == F.EXPRESSION_NAMES and weights.shape == (len(landmarks), len(names))
    got = weights[:, [names.index(k) for k in KEYS]]
    err = np.abs(got - truth)
    assert err.max() <= 0.1, dict(zip(KEYS, err.max(axis=0).round(3)))
    # crosstalk: where a key's truth is 0 its value stays under 0.1 (checked above by the same bound), and
    # the other channels stay small on pure blinks, jaw and symmetric smiles
    assert np.nanmin(weights) >= 0 and np.nanmax(weights) <= 1


def test_head_rotation_within_2_degrees():
    landmarks, _, expected = clip(seed=3, max_angles=(40, 25, 20))
    got = F.head_rotation(landmarks, SIZE)
    assert np.allclose(np.einsum("tij,tkj->tik", got, got), np.eye(3), atol=1e-6)
    assert np.allclose(np.linalg.det(got), 1.0)
    assert angle_deg(got, expected).max() < 2.0
    # a frontal face looking into the camera: the head's left, up and forward in MediaPipe's axes
    front = F.head_rotation(S.project(S.face(), np.eye(3))[None], SIZE)[0]
    assert np.allclose(front, np.diag([1.0, -1.0, -1.0]), atol=0.02)


def test_head_rotation_with_a_wrong_field_of_view_or_weak_perspective_is_still_close():
    landmarks, _, expected = clip(seed=4)
    for fov in (45.0, 75.0, None):
        assert angle_deg(F.head_rotation(landmarks, SIZE, fov_deg=fov), expected).max() < 4.0


def test_gaze_from_the_irises_and_none_without_them():
    rng = np.random.default_rng(5)
    v0 = S.face()
    frames = [v0] * 10
    looking = v0.copy()
    looking[468:478, 0] += 0.2 * 2.6     # both irises toward the person's left, 0.2 eye widths (~2.6 cm wide)
    frames += [looking] * 3
    rots = [S.rotation(*rng.uniform(-10, 10, 3)) for _ in frames]
    landmarks = np.array([S.project(v, r) for v, r in zip(frames, rots)])
    weights, names = F.expressions(landmarks, SIZE)
    col = {n: weights[:, i] for i, n in enumerate(names)}
    assert np.all(col["eyeLookOutLeft"][10:] > 0.8) and np.all(col["eyeLookInRight"][10:] > 0.8)
    assert np.all(col["eyeLookInLeft"] < 0.05) and np.all(col["eyeLookOutRight"] < 0.05)
    assert np.all(col["eyeLookOutLeft"][:10] < 0.05)
    vrm, vnames = F.vrm_expressions(weights, names)
    assert np.all(vrm[10:, vnames.index("lookLeft")] > 0.8) and np.all(vrm[:, vnames.index("lookRight")] < 0.05)
    # 468 points (no irises): gaze weights are 0, the rest still works
    w468, _ = F.expressions(landmarks[:, :468], SIZE)
    gaze = [i for i, n in enumerate(names) if n.startswith("eyeLook")]
    assert np.all(w468[:, gaze] == 0)


def test_468_point_input_gives_the_same_blink_jaw_smile():
    landmarks, truth, _ = clip(seed=1)
    weights, names = F.expressions(landmarks[:, :468], SIZE)
    got = weights[:, [names.index(k) for k in KEYS]]
    assert np.abs(got - truth).max() <= 0.1


def test_neutral_is_found_anywhere_in_the_clip_or_picked_by_the_user():
    landmarks, truth, _ = clip(seed=2)
    # the neutral stretch at the end instead of the start
    order = np.r_[20:len(landmarks), 0:20]
    weights, names = F.expressions(landmarks[order], SIZE)
    got = weights[:, [names.index(k) for k in KEYS]]
    assert np.abs(got - truth[order]).max() <= 0.1
    # the user's neutral frame: a frame with the jaw half open → jaw relative to it
    half_open = int(np.nonzero((truth[:, 2] == 0.5) & (truth[:, 0] == 0))[0][0])
    w2, _ = F.expressions(landmarks, SIZE, neutral_frame=half_open)
    assert w2[half_open, names.index("jawOpen")] == 0.0
    assert w2[0, names.index("jawOpen")] == 0.0  # closed is "more closed than neutral": clipped at 0
    with pytest.raises(ValueError):
        F.expressions(np.full_like(landmarks, np.nan), SIZE, neutral_frame=0)


def test_no_face_rows_are_nan_and_other_rows_unchanged():
    landmarks, truth, _ = clip(seed=6)
    holed = landmarks.copy()
    holed[[3, 25, 40]] = np.nan
    weights, names = F.expressions(holed, SIZE)
    assert np.isnan(weights[[3, 25, 40]]).all()
    keep = np.setdiff1d(np.arange(len(landmarks)), [3, 25, 40])
    got = weights[keep][:, [names.index(k) for k in KEYS]]
    assert np.abs(got - truth[keep]).max() <= 0.1
    vrm, vnames = F.vrm_expressions(weights, names)
    assert vnames == F.VRM_NAMES and np.isnan(vrm[[3, 25, 40]]).all()
    assert np.isfinite(vrm[keep]).all() and vrm[keep].min() >= 0 and vrm[keep].max() <= 1


def test_vrm_expressions_follow_the_arkit_weights():
    names = F.EXPRESSION_NAMES
    w = np.zeros((4, len(names)), np.float32)
    w[0, names.index("jawOpen")] = 1.0                                            # aa
    w[1, [names.index("eyeBlinkLeft"), names.index("eyeBlinkRight")]] = (1.0, 0.4)  # blink .4 + blinkLeft .6
    w[2, [names.index("mouthSmileLeft"), names.index("mouthSmileRight")]] = 1.0    # happy, ee
    w[3, names.index("mouthPucker")] = 1.0                                        # ou
    v, vn = F.vrm_expressions(w)
    col = {n: v[:, i] for i, n in enumerate(vn)}
    assert col["aa"][0] == 1 and col["ou"][0] == 0
    assert col["blink"][1] == pytest.approx(0.4) and col["blinkLeft"][1] == pytest.approx(0.6)
    assert col["blinkRight"][1] == 0
    assert col["happy"][2] == 1 and col["ee"][2] == 1 and col["angry"][2] == 0
    assert col["ou"][3] == 1 and col["aa"][3] == 0


def test_canonical_face_is_the_mediapipe_model():
    from video_mocap.motion.canonical_face import vertices

    v = vertices()
    assert v.shape == (478, 3)
    assert np.allclose(v[1], [0.0, -1.126865, 7.475604]) and np.allclose(v[33, 0], -v[263, 0])
