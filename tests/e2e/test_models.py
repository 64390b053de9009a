"""Model files: reproducible build record, resolution order, clear errors, real inference."""
import hashlib
import json
import zipfile

import numpy as np
import pytest
from conftest import ROOT

from video_mocap.capture.errors import ModelError
from video_mocap.capture.landmarker import Landmarker
from video_mocap.capture.models import VARIANTS, resolve_model


def test_built_models_match_the_recorded_sha256():
    lock = json.loads((ROOT / "tools" / "models.lock.json").read_text())
    for variant in VARIANTS:
        name = f"pose_landmarker_{variant}.task"
        data = (ROOT / "models" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == lock["task_sha256"][name]
        with zipfile.ZipFile(ROOT / "models" / name) as zf:
            assert sorted(zf.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]


def test_resolution_prefers_the_user_file(tmp_path):
    assert resolve_model("heavy").name == "pose_landmarker_heavy.task"
    mine = tmp_path / "mine.task"
    mine.write_bytes((ROOT / "models" / "pose_landmarker_lite.task").read_bytes())
    assert resolve_model("full", mine) == mine


def test_model_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="Unknown model 'huge'"):
        resolve_model("huge")
    with pytest.raises(ModelError, match="missing.task"):
        resolve_model("full", tmp_path / "missing.task")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(ModelError, match="junk.task"):
        resolve_model("full", junk)
    wrong = tmp_path / "wrong.task"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("something.tflite", b"x")
    with pytest.raises(ModelError, match="wrong.task"):
        resolve_model("full", wrong)


def test_corrupt_model_inside_a_valid_bundle(tmp_path):
    bad = tmp_path / "bad.task"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("pose_detector.tflite", b"garbage")
        zf.writestr("pose_landmarks_detector.tflite", b"garbage")
    with pytest.raises(ModelError, match="bad.task"):
        Landmarker(resolve_model("full", bad))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_detects_the_person(variant, sample_video):
    from video_mocap.capture.video import VideoSource

    with VideoSource(sample_video) as video, Landmarker(resolve_model(variant)) as landmarker:
        found = [landmarker.detect(frame, i * 17) for i, frame in video.frames(0, 3)]
    assert all(f is not None for f in found)
    world, image, vis, pres = found[-1]
    assert world.shape == (33, 3) and image.shape == (33, 3)
    assert np.abs(world).max() < 2.0  # metres around the hips
    assert 0.2 < image[0, 0] < 0.8 and vis[0] > 0.5
