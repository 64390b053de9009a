"""The built face model (tools/build_models.py: face_landmarker.task) and capture/face.py's FaceTracker on a
real face: scikit-image's `astronaut` (NASA photograph, public domain; the PNG inside the scikit-image
0.26.0 wheel, sha256-checked, cached in .cache/fixtures/face).

- the bundle is the one tools/models.lock.json records, and loads in the Tasks API (478 landmarks);
- its landmarks match the legacy FaceMesh (mediapipe 0.10.21's solutions API, refine_landmarks=True, run in
  the build venv) to well under a pixel;
- a face too small for the short-range detector in a wide frame is found in the crop placed from the
  body's face points, and lands where the full-frame close-up puts it;
- expressions and head rotation come out of real landmarks (finite, 0..1, a frontal head).
Skips (saying why) only where the model or the image is missing.
"""
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import existing

from video_mocap.capture import face as capface
from video_mocap.motion import face as F

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "face_landmarker.task"
IMAGE = REPO / ".cache" / "fixtures" / "face" / "astronaut.png"
IMAGE_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
BUILD_PY = REPO / ".venv-build" / "bin" / "python"

LEGACY = r"""
import json, sys
import cv2, mediapipe as mp
img = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
    r = fm.process(img)
print(json.dumps([(p.x, p.y, p.z) for p in r.multi_face_landmarks[0].landmark]))
"""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def model():
    return existing(MODEL, "build it with 'make models' (tools/build_models.py)", skip=True)


@pytest.fixture(scope="module")
def astronaut():
    """RGB (512,512,3) of the astronaut image: from the cache, else extracted from the scikit-image wheel."""
    import cv2

    if not IMAGE.exists() or sha256(IMAGE) != IMAGE_SHA256:
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, "-m", "pip", "download", "scikit-image==0.26.0", "--no-deps",
                                   "--only-binary=:all:", "-q", "-d", tmp], capture_output=True, text=True)
            wheels = list(Path(tmp).glob("scikit_image-*.whl"))
            if proc.returncode or not wheels:
                pytest.skip(f"the astronaut test image is not cached in {IMAGE} and the scikit-image wheel "
                            f"could not be downloaded ({proc.stderr.strip()[-200:]})")
            with zipfile.ZipFile(wheels[0]) as zf:
                data = zf.read("skimage/data/astronaut.png")
        if hashlib.sha256(data).hexdigest() != IMAGE_SHA256:
            pytest.fail("astronaut.png from scikit-image 0.26.0 has an unexpected sha256")
        IMAGE.parent.mkdir(parents=True, exist_ok=True)
        IMAGE.write_bytes(data)
    return cv2.cvtColor(cv2.imread(str(IMAGE)), cv2.COLOR_BGR2RGB)


def test_bundle_is_the_locked_one(model):
    lock = json.loads((REPO / "tools" / "models.lock.json").read_text())
    assert sha256(model) == lock["task_sha256"]["face_landmarker.task"]
    with zipfile.ZipFile(model) as zf:
        assert set(zf.namelist()) == set(capface.FACE_BUNDLE_MEMBERS)   # no blendshape model is shipped
    assert capface.resolve_face_model(model) == model and not capface.has_blendshapes(model)


def close_up(model, image, frames=3):
    with capface.FaceTracker(model) as tracker:
        out = [tracker.detect(image, 33 * i, None) for i in range(frames)]
        assert tracker.stats["full_frame"] == frames and tracker.stats["found"] == frames
    return out


def test_close_up_matches_legacy_face_mesh(model, astronaut):
    (pts, presence, blend), *_ = close_up(model, astronaut, 1)
    assert pts.shape == (478, 3) and presence == 1.0 and blend is None
    h, w = astronaut.shape[:2]
    assert np.isfinite(pts).all()
    x, y = pts[:, 0] * w, pts[:, 1] * h
    assert 150 < x.mean() < 260 and 50 < y.mean() < 160        # the astronaut's face, upper left of centre
    if not BUILD_PY.exists():
        pytest.skip(f"the legacy FaceMesh comparison runs mediapipe 0.10.21 in {BUILD_PY} (make models creates it)")
    proc = subprocess.run([str(BUILD_PY), "-c", LEGACY, str(IMAGE)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    legacy = np.array(json.loads(proc.stdout.strip().splitlines()[-1]))
    diff = np.linalg.norm((pts[:, :2] - legacy[:, :2]) * [w, h], axis=1)
    assert diff.max() < 0.1, f"max {diff.max():.3f} px"                  # measured: 0.003 px
    assert np.abs(pts[:, 2] - legacy[:, 2]).max() < 1e-3


def test_small_face_in_a_wide_frame_is_found_in_the_body_crop(model, astronaut):
    import cv2

    small = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)   # face ~50 px wide
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[400:560, 900:1060] = small
    (ref, _, _), = close_up(model, astronaut, 1)
    expected = np.column_stack([(900 + ref[:, 0] * 160) / 1280, (400 + ref[:, 1] * 160) / 720])
    # the body's face points where BlazePose would put them: from the close-up's landmarks
    body = np.full((33, 3), np.nan)
    for i, j in {0: 1, 2: 468, 5: 473, 7: 234, 8: 454, 9: 61, 10: 291}.items():
        body[i, :2] = expected[j]
    for i, (a, b) in {1: (0, 2), 3: (2, 7), 4: (0, 5), 6: (5, 8)}.items():
        body[i, :2] = 0.5 * (body[a, :2] + body[b, :2])
    with capface.FaceTracker(model) as tracker:
        full = tracker.detect(frame, 0, None)
        crops = [tracker.detect(frame, 33 * (i + 1), body) for i in range(3)]
    assert np.isnan(full[1])                                             # the short-range detector misses it
    for pts, presence, _ in crops:
        assert presence == 1.0
        err = np.linalg.norm((pts[:, :2] - expected) * [1280, 720], axis=1)
        assert np.median(err) < 1.5, np.median(err)
    assert tracker.stats["crops"] == 3 and tracker.stats["found"] == 3


def test_expressions_and_head_rotation_from_real_landmarks(model, astronaut):
    pts = np.array([p for p, _, _ in close_up(model, astronaut, 3)])
    weights, names = F.expressions(pts, astronaut.shape[1::-1])
    assert np.isfinite(weights).all() and weights.min() >= 0 and weights.max() <= 1
    rot = F.head_rotation(pts, astronaut.shape[1::-1])
    # the astronaut looks at the camera, head turned a little: forward axis toward the camera (-z)
    assert rot[0][2, 2] < -0.8
    assert np.allclose(rot[0] @ rot[0].T, np.eye(3), atol=1e-6)


# --- the face in the frame loop (capture/segment.py run_segment: face_task), one worker and two

@pytest.fixture(scope="module")
def face_clip(astronaut, tmp_path_factory):
    """24 frames of the astronaut drifting a little to the right (mp4v), 30 fps."""
    import cv2

    path = tmp_path_factory.mktemp("face") / "astronaut.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 512))
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    for i in range(24):
        frame = np.full((512, 640, 3), 90, np.uint8)
        frame[:, 2 * i:2 * i + 512] = bgr
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def face_track(model, face_clip):
    from video_mocap.capture.segment import capture_video

    return capture_video(face_clip, "full", face=True, require_person=False, people_check_every=0)


def test_the_frame_loop_captures_the_face(face_track):
    t = face_track
    assert t.has_face and t.face_landmarks.shape == (24, 478, 3) and t.face_expressions is None  # no blendshapes
    found = np.isfinite(t.face_presence)
    assert found.mean() > 0.9 and t.extra["face"]["found"] == found.sum()
    assert t.extra["face"]["blendshapes"] is False and "face_landmarker" in t.extra["face"]["model"]
    x = np.nanmean(t.face_landmarks[found, :, 0], axis=1) * 640
    assert np.all(np.diff(x) > -1.5) and x[-1] - x[0] > 30  # follows the face as it drifts right (46 px)


def test_two_workers_stitch_the_face_arrays(face_clip, face_track):
    from video_mocap.capture.parallel import capture_parallel

    two = capture_parallel(face_clip, "full", workers=2, min_frames_per_worker=8, overlap=4, face=True,
                           require_person=False, people_check_every=0)
    assert two.extra["workers"] == 2 and two.face_landmarks.shape == face_track.face_landmarks.shape
    both = np.isfinite(two.face_presence) & np.isfinite(face_track.face_presence)
    assert both.mean() > 0.9
    diff = np.abs(two.face_landmarks[both, :, :2] - face_track.face_landmarks[both, :, :2]) * 640
    assert np.median(diff) < 2.0, np.median(diff)
    assert two.extra["face"]["found"] >= both.sum()


def test_pipeline_capture_adds_expressions_before_the_cache_is_saved(face_clip, tmp_path):
    from video_mocap import pipeline
    from video_mocap.capture.track import PoseTrack

    cache = tmp_path / "face.npz"
    options = pipeline.Options(face=True, workers=1, frames=(0, 12))
    track, _ = pipeline.capture(str(face_clip), options, cache_path=str(cache))
    assert track.face_expressions is not None and track.face_expressions.shape[0] == 12
    saved = PoseTrack.load(cache)
    assert saved.face_expression_names == F.EXPRESSION_NAMES
    np.testing.assert_allclose(saved.face_expressions, track.face_expressions, equal_nan=True)
    saved.face_expressions = saved.face_expression_names = None  # an older cache: landmarks only
    saved.save(cache)
    loaded, _ = pipeline.load_take(str(cache), options)
    assert loaded.face_expressions is not None and loaded.face_expression_names == F.EXPRESSION_NAMES
