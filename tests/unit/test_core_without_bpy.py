"""The core (capture → motion → retarget → pipeline) imports and runs in an interpreter without bpy."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import runpy, sys
runpy.run_path(sys.argv[1] + "/cli.py")["load_package"]()
import importlib, pkgutil
import video_mocap
names = ["video_mocap.pipeline"]
for sub in ("capture", "motion", "retarget"):
    pkg = importlib.import_module(f"video_mocap.{sub}")
    names += [f"video_mocap.{sub}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
for name in names:
    importlib.import_module(name)
assert "bpy" not in sys.modules, "bpy was imported"
import numpy as np
from video_mocap.pipeline import Options, clean
from video_mocap.capture.track import PoseTrack
print(len(names))
"""


def test_core_imports_without_bpy():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": "", "PATH": "/usr/bin:/bin", "BPY_BLOCKED": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) >= 20  # every module of the three core stages, and the pipeline


def test_bpy_is_not_reachable_from_the_core_sources():
    """No core module names bpy at all (not even lazily inside a function)."""
    offenders = []
    for folder in ("capture", "motion", "retarget"):
        for path in (ROOT / folder).glob("*.py"):
            text = path.read_text()
            if "import bpy" in text or "from bpy" in text or "mathutils" in text:
                offenders.append(path.name)
    text = (ROOT / "pipeline.py").read_text()
    if "import bpy" in text or "from bpy" in text:
        offenders.append("pipeline.py")
    assert not offenders
