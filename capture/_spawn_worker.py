"""Entry point of a capture worker process; run by `runpy.run_path` in a process started with
multiprocessing's 'spawn' method (see capture/parallel.py).

The parent may know this package as `video_mocap.capture` (tests, the headless command) or as
`bl_ext.user_default.video_mocap.capture` (inside Blender), names a fresh interpreter cannot import.
So the child never unpickles anything of ours: its target is the standard library's runpy.run_path
on this file, which registers the capture folder by path under a private name and imports only it
(numpy, OpenCV, MediaPipe; never bpy, never the extension's Blender modules).
"""
import importlib
import importlib.util
import sys
import types
from pathlib import Path

PACKAGE = "_video_mocap_capture"
# MediaPipe's package imports its drawing utilities, and they matplotlib.pyplot: ~0.5 s of a worker's
# start-up for a module that never draws here. The worker imports MediaPipe with empty stand-ins for
# them (and the normal way if that fails: another MediaPipe version may use them at import time).
STAND_INS = ("matplotlib", "matplotlib.pyplot")


def import_mediapipe_lean() -> None:
    if "mediapipe" in sys.modules or any(name in sys.modules for name in STAND_INS):
        return
    for name in STAND_INS:
        sys.modules[name] = types.ModuleType(name)
    try:
        import mediapipe.tasks.python.vision  # noqa: F401
    except Exception:
        for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
            del sys.modules[name]
    finally:
        for name in STAND_INS:
            del sys.modules[name]


def capture_package():
    if PACKAGE not in sys.modules:
        here = Path(__file__).resolve().parent
        spec = importlib.util.spec_from_file_location(PACKAGE, here / "__init__.py",
                                                      submodule_search_locations=[str(here)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return sys.modules[PACKAGE]


if __name__ == "__mocap_worker__":  # run_path(..., run_name="__mocap_worker__", init_globals=JOB, CONN, CANCEL)
    import_mediapipe_lean()
    import cv2

    cv2.setNumThreads(1)  # one process per core: OpenCV's own thread pool would only compete
    capture_package()
    importlib.import_module(PACKAGE + ".parallel").worker_main(JOB, CONN, CANCEL)  # noqa: F821
