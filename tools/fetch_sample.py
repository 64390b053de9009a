"""Fetch the demo clip: cam01.mp4 of Demo_SinglePerson from the PyPI package pose2sim (BSD-3-Clause).

`pip download pose2sim==VERSION --no-deps` into .cache/, sha256-verify the wheel and the clip,
extract the clip to samples/. Idempotent.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "0.10.49"
WHEEL = f"pose2sim-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"
MEMBER = "Pose2Sim/Demo_SinglePerson/videos/cam01.mp4"
CLIP_SHA256 = "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(dest: Path = ROOT / "samples" / "cam01.mp4", cache: Path = ROOT / ".cache") -> Path:
    if dest.exists() and sha256(dest) == CLIP_SHA256:
        return dest
    wheel = cache / WHEEL
    if not wheel.exists() or sha256(wheel) != WHEEL_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(cache),
                        f"pose2sim=={VERSION}"], check=True)
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"sha256 mismatch for {wheel}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(MEMBER)
    if hashlib.sha256(data).hexdigest() != CLIP_SHA256:
        raise SystemExit(f"sha256 mismatch for {MEMBER} in {wheel}")
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


if __name__ == "__main__":
    print(fetch())
