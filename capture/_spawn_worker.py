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
from pathlib import Path

PACKAGE = "_video_mocap_capture"


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
    capture_package()
    importlib.import_module(PACKAGE + ".segment").worker_main(JOB, CONN, CANCEL)  # noqa: F821
