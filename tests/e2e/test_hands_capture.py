"""Hands (issue 14): the hand bundle builds reproducibly and matches the lock; hands captured with the
body land on the person's own side; a close-up with no body takes the sides from the model, mirrored
video swaps them; the parallel capture stitches the hand arrays."""
import hashlib
import json
import subprocess
import zipfile

import cv2
import numpy as np
import pytest
from conftest import ROOT, SHARED

from video_mocap.capture.errors import ModelError
from video_mocap.capture.models import HAND_MODEL, resolve_hand_model
from video_mocap.capture.parallel import capture_parallel
from video_mocap.capture.segment import capture_video

HAND_TASK = ROOT / "models" / HAND_MODEL
CLIP = SHARED / "cam02.mp4"  # Pose2Sim demo: both hands in view, at about 60 px
BUILD_PYTHON = ROOT / ".venv-build" / "bin" / "python"

pytestmark = pytest.mark.skipif(not HAND_TASK.is_file(), reason=f"{HAND_TASK} missing: run 'make models'")
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason=f"Pose2Sim demo clip not found: {CLIP}")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skipif(not BUILD_PYTHON.is_file(), reason="the build venv (make models) is missing")
def test_hand_bundle_builds_reproducibly_and_matches_the_lock(tmp_path):
    lock = json.loads((ROOT / "tools" / "models.lock.json").read_text())
    for out in (tmp_path / "a", tmp_path / "b"):
        subprocess.run([str(BUILD_PYTHON), str(ROOT / "tools" / "build_models.py"), "--out", str(out),
                        "--cache", str(ROOT / ".cache")], check=True, capture_output=True, timeout=600)
    a, b = tmp_path / "a" / HAND_MODEL, tmp_path / "b" / HAND_MODEL
    assert a.read_bytes() == b.read_bytes()
    assert sha256(a) == lock["task_sha256"][HAND_MODEL] == sha256(HAND_TASK)
    with zipfile.ZipFile(a) as zf:
        assert sorted(zf.namelist()) == ["hand_detector.tflite", "hand_landmarks_detector.tflite"]
        for name, source in (("hand_detector.tflite", "palm_detection_full.tflite"),
                             ("hand_landmarks_detector.tflite", "hand_landmark_full.tflite")):
            digest = next(v for k, v in lock["hand"]["tflite_sha256"].items() if k.endswith(source))
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest  # byte for byte the wheel's file


def test_a_user_chosen_hand_model_wins_and_bad_ones_are_named(tmp_path):
    assert resolve_hand_model() == HAND_TASK
    mine = tmp_path / "mine.task"
    mine.write_bytes(HAND_TASK.read_bytes())
    assert resolve_hand_model(mine) == mine
    with pytest.raises(ModelError, match="pose.task"):
        resolve_hand_model(_copy(ROOT / "models" / "pose_landmarker_lite.task", tmp_path / "pose.task"))
    with pytest.raises(ModelError, match="missing.task"):
        resolve_hand_model(tmp_path / "missing.task")


def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def sides_right(track):
    """(hands on their own side, hands checked): a hand's wrist must be nearer the body's wrist of its
    side than the other (image distance), on every frame where a body wrist and a hand were found."""
    ok = checked = 0
    for t in np.flatnonzero(track.detected):
        wrists = track.image_landmarks[t, [15, 16], :2]
        for side in (0, 1):
            if np.isfinite(track.hand_presence[t, side]) and np.isfinite(wrists).all():
                d = np.linalg.norm(wrists - track.hand_image_landmarks[t, side, 0, :2], axis=1)
                checked += 1
                ok += d[side] < d[1 - side]
    return ok, checked


@pytest.fixture(scope="module")
def hand_track():
    return capture_video(CLIP, "full", start=0, stop=40, hands=True, people_check_every=0)


@needs_clip
def test_hands_are_captured_on_the_persons_own_side(hand_track):
    t = hand_track
    assert t.has_hands and t.hand_world_landmarks.shape == (40, 2, 21, 3)
    found = np.isfinite(t.hand_presence)
    assert found.any(axis=0).all()  # each hand at least once
    assert found.mean() > 0.5, found.mean(axis=0)
    ok, checked = sides_right(t)
    assert checked >= 40 and ok == checked
    # NaN exactly where no hand; world landmarks in metres about the hand's centre; image inside the frame
    assert np.isnan(t.hand_world_landmarks[~found]).all() and np.isfinite(t.hand_world_landmarks[found]).all()
    span = np.ptp(t.hand_world_landmarks[found], axis=1).max(axis=1)
    assert (span > 0.05).all() and (span < 0.35).all()
    assert ((t.hand_image_landmarks[found][..., :2] > -0.1) & (t.hand_image_landmarks[found][..., :2] < 1.1)).all()
    assert ((t.hand_presence[found] >= 0) & (t.hand_presence[found] <= 1)).all()
    assert t.extra["hands"]["found"] == found.sum() and t.extra["hands"]["full_frame"] == 0


@needs_clip
def test_the_hands_found_in_their_thread_are_those_found_in_line(hand_track):
    """The capture finds the hands of frame t (a thread a side) while it finds the body of t + 1:
    a HandTracker run in line over the same frames and the same body landmarks gives the same arrays."""
    from video_mocap.capture.hands import HandTracker
    from video_mocap.capture.prefetch import open_video
    from video_mocap.capture.video import to_rgb

    t = hand_track
    got = np.full_like(t.hand_image_landmarks, np.nan)
    with open_video(CLIP) as video, HandTracker(HAND_TASK) as tracker:
        for index, frame in video.frames(0, len(t)):
            body = ((t.world_landmarks[index], t.image_landmarks[index], t.visibility[index], t.presence[index])
                    if t.detected[index] else None)
            got[index] = tracker.detect(to_rgb(frame), int(t.timestamps_ms[index]), body)[1]
    assert np.isfinite(got).any()
    assert np.array_equal(got, t.hand_image_landmarks, equal_nan=True)


@needs_clip
def test_the_cache_keeps_the_hands(hand_track, tmp_path):
    from video_mocap.capture.track import PoseTrack

    back = PoseTrack.load(hand_track.save(tmp_path / "hands.npz"))
    assert np.array_equal(back.hand_image_landmarks, hand_track.hand_image_landmarks, equal_nan=True)


@needs_clip
def test_parallel_capture_stitches_the_hands(hand_track):
    t = capture_parallel(CLIP, "full", start=0, stop=40, workers=2, min_frames_per_worker=15, hands=True,
                         people_check_every=0)
    assert t.extra["workers"] == 2 and t.has_hands
    found = np.isfinite(t.hand_presence)
    ok, checked = sides_right(t)
    assert ok == checked and checked >= 40
    # the same hands as one worker where both found them (tracking restarts at the boundary: not all frames)
    both = found & np.isfinite(hand_track.hand_presence)
    assert both.sum() >= 0.7 * np.isfinite(hand_track.hand_presence).sum()
    diff = np.abs(t.hand_image_landmarks[both] - hand_track.hand_image_landmarks[both])[..., :2]
    assert np.median(diff) < 0.01


def closeup(frame_bgr, points_px, size=480):
    """A square close-up of one hand (its 21 image points in pixels), `size` pixels a side."""
    lo, hi = points_px.min(axis=0), points_px.max(axis=0)
    side = 2.2 * (hi - lo).max()
    x0, y0 = (lo + hi) / 2 - side / 2
    s = size / side
    return cv2.warpAffine(frame_bgr, np.array([[s, 0, -x0 * s], [0, s, -y0 * s]]), (size, size))


def write_clip(path, image, frames=12):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, image.shape[1::-1])
    for _ in range(frames):
        out.write(np.ascontiguousarray(image))
    out.release()
    return path


@needs_clip
def test_a_closeup_without_body_takes_the_sides_from_the_model_and_mirroring_swaps_them(hand_track, tmp_path):
    t = hand_track
    # the surest hand of the clip, and its true side (from the body)
    t_best, side = np.unravel_index(np.nanargmax(t.hand_presence), t.hand_presence.shape)
    cap = cv2.VideoCapture(str(CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(t_best))
    ok, frame = cap.read()
    cap.release()
    assert ok
    image = closeup(frame, t.hand_image_landmarks[t_best, side, :, :2] * t.frame_size)
    for mirrored, expected in ((False, side), (True, 1 - side)):
        clip = write_clip(tmp_path / f"closeup_{int(mirrored)}.mp4", image[:, ::-1] if mirrored else image)
        got = capture_video(clip, "full", hands=True, require_person=False, people_check_every=0)
        found = np.isfinite(got.hand_presence)
        assert got.extra["hands"]["crops"] == 0 and got.extra["hands"]["full_frame"] == len(got)  # no body used
        assert found[:, expected].mean() >= 0.75, (mirrored, found.mean(axis=0))
        assert found[:, 1 - expected].mean() <= 0.25, (mirrored, found.mean(axis=0))
