"""Several people (issue 18) on real footage: two Pose2Sim demo cameras side by side, and one person
walking across in front of another (tools/make_two_people.py makes both, cached in .cache/fixtures/people).

- `--people 2` on the side-by-side clip: two takes, numbered left to right, each one's limb-direction
  error (against the demo's marker reference, tests/reference.py) within 1° of the same half captured
  alone; each person's identity kept across a worker boundary;
- the default (one person) on it follows one person and no frame of the other gets into the take;
- on the crossing clip no take switches people (its hips never jump);
- the command names each person's outputs `_p1`, `_p2`.
Clips are cut to 60 frames (2 shared cores)."""
import subprocess
import sys

import numpy as np
import pytest
from conftest import FULL_MODEL, ROOT, SHARED

from video_mocap.capture.parallel import capture_parallel
from video_mocap.capture.people import person_path, split_people
from video_mocap.capture.segment import identity_jumps
from video_mocap.capture.track import PoseTrack

sys.path.insert(0, str(ROOT / "tools"))
import reference as ref  # noqa: E402
from make_two_people import LEFT, RIGHT, make  # noqa: E402

pytestmark = pytest.mark.skipif(not (FULL_MODEL.is_file() and (SHARED / "cam03.mp4").is_file()),
                                reason="the full model or the Pose2Sim demo clips are missing")
STOP = 60
LIMBS = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28), (11, 23), (12, 24))


@pytest.fixture(scope="module")
def clips():
    return make()


@pytest.fixture(scope="module")
def two(clips):
    track = capture_parallel(clips["side_by_side"], "full", stop=STOP, workers=1, people=2)
    return split_people(track)


def hips_x(track):
    return 0.5 * (track.image_landmarks[:, 23, 0] + track.image_landmarks[:, 24, 0])


def limb_angles(a: PoseTrack, b: PoseTrack) -> np.ndarray:
    """Per frame seen in both, the mean angle (degrees) between the limbs' world directions."""
    both = a.detected & b.detected
    out = []
    for i, j in LIMBS:
        u = a.world_landmarks[both, j] - a.world_landmarks[both, i]
        v = b.world_landmarks[both, j] - b.world_landmarks[both, i]
        cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.mean(out, 0)


def limb_error(track: PoseTrack, camera: str) -> float:
    """Median angle (degrees) between the track's limb directions and the marker reference's, over the
    first STOP frames, all limbs (as tests/e2e/test_real_footage.py measures it)."""
    names, points = ref.load_trc(SHARED / "S00_P00_T01_BalancingTrial_0-100.trc")
    R = ref.load_calibration(SHARED / "Calib_qualisys.toml")["cam_" + camera[3:5]][2]
    expected = ref.limb_directions_camera(points[:STOP], names, R)
    detected = ref.limb_directions_mediapipe(track.world_landmarks[:STOP])
    return float(np.nanmedian(np.concatenate([ref.angle_deg(detected[k], expected[k]) for k in ref.LIMBS])))


def test_side_by_side_gives_two_takes_numbered_left_to_right_as_accurate_as_alone(clips, two):
    assert [t.extra["person"] for t in two] == [1, 2] and all(t.extra["people"] == 2 for t in two)
    left, right = two
    assert np.nanmax(hips_x(left)) < 0.5 < np.nanmin(hips_x(right))
    for take, name, camera in ((left, "left", LEFT), (right, "right", RIGHT)):
        assert take.detected.mean() > 0.95 and take.people_world is None
        alone = capture_parallel(clips[name], "full", stop=STOP, workers=1)
        assert alone.extra["people_found"] == 1 and alone.extra["people_switched"] == []  # one pose a frame: fast
        between = limb_angles(take, alone)
        err_take, err_alone = limb_error(take, camera), limb_error(alone, camera)
        print(f"{name}: limb-direction error {err_take:.2f}° (alone {err_alone:.2f}°); between the two captures "
              f"mean {between.mean():.2f}°, max {between.max():.2f}°")
        assert abs(err_take - err_alone) <= 1.0
        assert between.mean() < 5.0  # the same person, posed alike


def test_default_follows_one_person_and_never_shows_the_other(clips, two):
    from video_mocap.pipeline import capture_report

    track = capture_parallel(clips["side_by_side"], "full", stop=STOP, workers=1)
    assert track.extra["people_found"] == 2 and track.people_world is None
    x = hips_x(track)[track.detected]
    assert (x < 0.5).all() or (x > 0.5).all()  # every frame on the followed person's half
    followed = two[track.extra["person"] - 1]
    assert np.nanmax(np.abs(hips_x(track) - hips_x(followed))) < 0.01
    warnings = " ".join(capture_report(track).warnings)
    assert "2 people in view" in warnings and "--person" in warnings
    other = capture_parallel(clips["side_by_side"], "full", stop=STOP, workers=1,
                             person=3 - track.extra["person"])
    y = hips_x(other)[other.detected]
    assert ((y < 0.5).all() or (y > 0.5).all()) and np.sign(y[0] - 0.5) != np.sign(x[0] - 0.5)


def test_identities_hold_across_the_workers_segment_boundary(clips, two):
    track = capture_parallel(clips["side_by_side"], "full", stop=STOP, workers=2, people=2, overlap=8,
                             min_frames_per_worker=20)
    assert track.extra["workers"] == 2
    takes = split_people(track)
    assert len(takes) == 2
    for take, alone in zip(takes, two):
        assert identity_jumps(take) == 0
        assert np.nanmax(np.abs(hips_x(take) - hips_x(alone))) < 0.02  # the same person, all the way


def test_crossing_people_never_switch(clips):
    takes = split_people(capture_parallel(clips["crossing"], "full", stop=STOP, workers=1, people=2))
    assert len(takes) >= 2
    for take in takes:
        assert identity_jumps(take) == 0, take.extra
    default = capture_parallel(clips["crossing"], "full", stop=STOP, workers=1)
    assert identity_jumps(default) == 0 and default.extra["people_found"] >= 2


def test_the_command_names_each_persons_outputs(clips, tmp_path):
    out = tmp_path / "t.npz"
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), str(clips["side_by_side"]), "--frames", "0:20",
                           "--people", "2", "--workers", "1", "--landmarks", str(out), "--out", str(tmp_path / "a.bvh"),
                           "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()
    for k in (1, 2):
        path = person_path(out, k)
        assert path == str(tmp_path / f"t_p{k}.npz")
        take = PoseTrack.load(path)  # an ordinary landmark cache
        assert len(take) == 20 and take.detected.any()
        assert (tmp_path / f"a_p{k}.bvh").stat().st_size > 0
    assert not (tmp_path / "a.bvh").exists()
    bad = subprocess.run([sys.executable, str(ROOT / "cli.py"), str(clips["side_by_side"]), "--people", "2",
                          "--person", "1", "--quiet"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not both" in bad.stderr
