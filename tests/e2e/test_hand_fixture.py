"""Our own rendered hand with known finger motion (tools/render_hand.py, issue 14 item 7), captured with
HandTracker's close-up path (no body: the full frame, sides from the model's handedness).

The fixture: the MIT-licensed skinned right hand of @webxr-input-profiles/assets (generic-hand, 25
joints), curling its fingers open → fist → point → pinch → spread over 50 frames, seen from the palm at
0.4 m, 320x320, Cycles 12 samples, unmirrored. Rendered once into <repo>/.cache/fixtures/hand_right in a
child process (about 1 min on the shared 2-core machine, ~1.2 s a frame) and reused while the script is
unchanged; afterwards the module takes a few seconds.

Truth: the 21 MediaPipe points from the rig's joints (truth.npz points_world) and their joint angles
(retarget/hands.finger_angles, the retargeting's own measure). The detection's world landmarks go
through the same finger_angles (Blender axes, hands_in_blender); flexion error per joint = |detected -
true| flexion, over the 15 joints (thumb CMC/MCP/IP, fingers MCP/PIP/DIP) and detected frames.
PA-MPJPE: mean joint distance after a per-frame similarity (Procrustes) alignment of the detected world
landmarks onto the truth, in mm.

Measured (hand_landmarker.task, 50 frames; printed by the test):

    found 100 % of frames; the right side on 100 % of them
    flexion error (deg, 15 joints): mean 19.3, median 14.8, p90 41.3 (fingers' MCP/PIP/DIP alone 21.0)
      per finger: thumb 12.5, index 23.5, middle 22.8, ring 15.0, pinky 22.7
      per gesture (flexion deg / PA-MPJPE mm): open 16.0/11.8, fist 24.3/15.2, point 21.9/13.9,
      pinch 18.7/13.9, spread 13.3/9.5
    PA-MPJPE: mean 13.1 mm, median 14.0, max 18.6
    image landmarks vs the projected truth: median 5 px (at 320x320), the wrist 20 px (~17 mm)

Where the error comes from: the camera looks at the palm, so the curls happen in depth, and the
detected world landmarks bend a flat open hand (index DIP ~50 deg, middle PIP ~33 deg where the truth
is ~0); and the rig's wrist joint sits ~17 mm further down the forearm than MediaPipe's wrist point,
which tilts the palm axis the MCP flexion is measured from (MCP bias about -25 deg on index, middle and
pinky). Both are measurement facts of this fixture, not of the retargeting.
"""

import cv2
import numpy as np
import pytest
from conftest import ROOT, load_tool, procrustes_error

from video_mocap.capture.hands import LEFT, RIGHT, HandTracker
from video_mocap.capture.models import HAND_MODEL
from video_mocap.retarget.hands import finger_angles, hands_in_blender
from video_mocap.retarget.rig import FINGERS

HAND_TASK = ROOT / "models" / HAND_MODEL
FIXTURE = ROOT / ".cache" / "fixtures" / "hand_right"

# Bounds from the measurements (module docstring), with margin.
MIN_FOUND_RATE = 0.80
MIN_SIDE_RATE = 1.0
FLEXION_MEAN_MAX_DEG = 25.0   # measured 19.3
PA_MPJPE_MEAN_MAX_MM = 20.0   # measured 13.1

pytestmark = pytest.mark.skipif(not HAND_TASK.is_file(), reason=f"{HAND_TASK} missing: run 'make models'")


def _tool():
    return load_tool('render_hand')


@pytest.fixture(scope="module")
def captured():
    out = _tool().render(FIXTURE, side="right")
    truth = dict(np.load(out / "truth.npz"))
    cap = cv2.VideoCapture(str(out / "hand.mp4"))
    fps = float(truth["fps"])
    world, presence = [], []
    with HandTracker(HAND_TASK) as tracker:
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            w, _, p = tracker.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), int(round(i * 1000 / fps)), None)
            world.append(w)
            presence.append(p)
            i += 1
    cap.release()
    return truth, np.array(world), np.array(presence)


def test_the_rendered_hand_is_found_on_its_own_side_with_its_finger_curls(captured):
    truth, world, presence = captured
    T = len(truth["points_world"])
    assert len(world) == T
    found = np.isfinite(presence).any(axis=1)
    right_only = np.isfinite(presence[:, RIGHT]) & ~np.isfinite(presence[:, LEFT])
    found_rate = found.mean()
    side_rate = right_only[found].mean() if found.any() else 0.0

    true_pts = truth["points_world"]
    det = hands_in_blender(world[:, RIGHT])  # (T,21,3), NaN where not found
    seen = np.isfinite(det).all(axis=(1, 2))
    true_ang = finger_angles(true_pts, -1.0)
    det_ang = finger_angles(det[seen], -1.0)
    flex_err = np.stack([np.abs(det_ang[f][..., 0] - true_ang[f][seen][..., 0]) for f in FINGERS], axis=1)  # (N,5,3)
    pa = np.array([procrustes_error(det[t], true_pts[t]).mean() * 1000 for t in np.flatnonzero(seen)])

    per_finger = {f: round(float(flex_err[:, k].mean()), 1) for k, f in enumerate(FINGERS)}
    by_gesture = {}
    for g in ("open", "fist", "point", "pinch", "spread"):
        m = truth["gesture"][seen] == g
        if m.any():
            by_gesture[g] = (round(float(flex_err[m].mean()), 1), round(float(pa[m].mean()), 1))
    print(f"\nhand fixture: {T} frames; found {found_rate:.0%}; right side on {side_rate:.0%} of found frames")
    print(f"flexion error (deg, 15 joints): mean {flex_err.mean():.1f}, median {np.median(flex_err):.1f}, "
          f"p90 {np.percentile(flex_err, 90):.1f}; fingers only (MCP/PIP/DIP) mean {flex_err[:, 1:].mean():.1f}")
    print(f"per finger mean: {per_finger}")
    print(f"per gesture (flexion mean deg, PA-MPJPE mm): {by_gesture}")
    print(f"PA-MPJPE (mm): mean {pa.mean():.1f}, median {np.median(pa):.1f}, max {pa.max():.1f}")

    assert found_rate >= MIN_FOUND_RATE
    assert side_rate >= MIN_SIDE_RATE
    assert flex_err.mean() < FLEXION_MEAN_MAX_DEG
    assert pa.mean() < PA_MPJPE_MEAN_MAX_MM


def test_the_truth_angles_follow_the_commanded_curls(captured):
    """The fixture's own check: the truth's finger_angles (stored in truth.npz) rise with the commanded
    curls (fist vs open), so the rig really curls its fingers the way the script says."""
    truth, _, _ = captured
    ang = truth.get("finger_angles")
    if ang is None:
        ang = np.stack([finger_angles(truth["points_world"], -1.0)[f] for f in FINGERS], axis=1)
    g = truth["gesture"]
    fist, open_ = ang[g == "fist"].mean(0), ang[g == "open"].mean(0)
    # fingers (index..pinky), MCP/PIP/DIP flexion: at least 40 deg more in the fist
    assert (fist[1:, :, 0] - open_[1:, :, 0] > 40).all(), fist[1:, :, 0] - open_[1:, :, 0]
    cmd = truth["commanded"]  # (T,5,4)
    # commanded MCP/PIP/DIP of the four fingers vs measured flexion: same within a few degrees
    # (the measured angle is of the joint-to-joint segments, the commanded one the bone's rotation)
    diff = ang[:, 1:, :, 0] - ang[:1, 1:, :, 0] - cmd[:, 1:, :3]
    assert np.abs(diff).max() < 15.0, np.abs(diff).max()
