"""Small test videos made on the fly (OpenCV's mp4v writer; ffmpeg from imageio-ffmpeg to remux)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def write_video(path: Path, frames: int = 10, size=(160, 120), fps: float = 25.0, pattern: str = "gradient") -> Path:
    import cv2

    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for i in range(frames):
        if pattern == "gradient":  # top-left bright corner: orientation is visible
            img = np.zeros((h, w, 3), np.uint8)
            img[: h // 3, : w // 3] = 255
            img[..., 1] = (i * 20) % 255
        else:
            img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8) // 4 + 100
        writer.write(img)
    writer.release()
    return path


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def with_rotation(src: Path, dst: Path, degrees_ccw: int) -> Path:
    """Remux (no re-encode) with a display-rotation flag, as phones write it."""
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-display_rotation", str(degrees_ccw), "-i", str(src),
                    "-c", "copy", str(dst)], check=True)
    return dst
