"""Fixtures with two people (issue 18), made from the Pose2Sim demo clips (one person each):

- `side_by_side.mp4`: two cameras' clips, each scaled to the same height, next to each other
  (hstack), with `left.mp4` and `right.mp4`: each half alone, the same pixels (their truths: a
  capture of each alone);
- `crossing.mp4`: as wide as the side-by-side clip: the right clip's person stays on the right; the
  left clip's person (cut out with MediaPipe's segmentation mask; their own half blurred beyond
  recognition behind them) walks from the left across to the right edge, in front: when they cross,
  the moving person hides the other one.

    .venv/bin/python tools/make_two_people.py [--data ../shared/data/pose2sim_demo] [--out .cache/fixtures/people]
                                              [--frames 100] [--height 960]

OpenCV writes them (mp4v). Used by tests/e2e/test_people_capture.py (which calls `make`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "pose2sim_demo"
OUT = REPO / ".cache" / "fixtures" / "people"
LEFT, RIGHT = "cam03.mp4", "cam04.mp4"   # one person each, nobody else in view
SHIFT = (0.0, 0.62)    # the moving person's shift across the clip (fractions of the frame's width)


def _frames(path: Path, height: int, count: int):
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        width = int(round(w * height / h)) // 2 * 2
        out.append(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    cap.release()
    return out, fps


def _person_masks(frames) -> list:
    """Per frame (H,W) float 0-1: the person (MediaPipe's pose landmarker's segmentation mask)."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(REPO / "models" / "pose_landmarker_full.task")),
        running_mode=vision.RunningMode.VIDEO, num_poses=1, output_segmentation_masks=True)
    masks = []
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, frame in enumerate(frames):
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i * 17)
            mask = (result.segmentation_masks[0].numpy_view().squeeze().astype(np.float32)
                    if result.segmentation_masks else np.zeros(frame.shape[:2], np.float32))
            masks.append(cv2.resize(mask, (frame.shape[1], frame.shape[0])))
    return masks


def _shifted(image: np.ndarray, dx: int, width: int) -> np.ndarray:
    """`image` moved right by dx pixels on a canvas `width` wide (zeros where nothing is)."""
    out = np.zeros((image.shape[0], width, *image.shape[2:]), image.dtype)
    src0, dst0 = max(0, -dx), max(0, dx)
    n = min(image.shape[1] - src0, width - dst0)
    if n > 0:
        out[:, dst0:dst0 + n] = image[:, src0:src0 + n]
    return out


def _write(path: Path, frames, fps: float) -> Path:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def make(out: Path = OUT, data: Path = DATA, frames: int = 100, height: int = 960) -> dict[str, Path]:
    """Write the fixtures (when missing) → {'side_by_side', 'left', 'right', 'crossing': path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.mp4" for name in ("side_by_side", "left", "right", "crossing")}
    if all(p.exists() and p.stat().st_size > 0 for p in paths.values()):
        return paths
    left, fps = _frames(Path(data) / LEFT, height, frames)
    right, _ = _frames(Path(data) / RIGHT, height, frames)
    n = min(len(left), len(right))
    left, right = left[:n], right[:n]
    _write(paths["left"], left, fps)
    _write(paths["right"], right, fps)
    _write(paths["side_by_side"], [np.hstack([a, b]) for a, b in zip(left, right)], fps)
    # Crossing: the side-by-side frame with its left half blurred beyond recognition (the background),
    # the right clip's person standing on the right; the left clip's person (cut out with MediaPipe's
    # segmentation mask) moves from the left half across to the right, in front of the other person.
    import cv2

    masks = _person_masks(left)
    w = left[0].shape[1] + right[0].shape[1]
    crossing = []
    for t in range(n):
        frame = np.hstack([cv2.GaussianBlur(left[t], (0, 0), 25), right[t]])
        shift = int(round(w * (SHIFT[0] + (SHIFT[1] - SHIFT[0]) * t / max(1, n - 1))))
        fg, mask = _shifted(left[t], shift, w), _shifted(masks[t], shift, w)
        crossing.append(np.where(mask[..., None] > 0.5, fg, frame).astype(np.uint8))
    _write(paths["crossing"], crossing, fps)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--height", type=int, default=960)
    args = ap.parse_args()
    for name, path in make(Path(args.out), Path(args.data), args.frames, args.height).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
