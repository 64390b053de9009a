"""Small linear algebra on one thread: numpy's OpenBLAS made to run single-threaded for a while. No bpy.

    with one_blas_thread():
        ...   # many small LAPACK calls (the fusion's per-frame 75×75 inverses)

numpy's wheels bundle OpenBLAS, which splits even a 75×75 inverse over every core and then keeps its
helper threads spinning for a while after each call. On the fusion's batches of small systems that buys
nothing: measured on this 2-core machine (tools/bench_accuracy.py clips), the fusion took 1.0–2.0 ms of
wall time per frame either way, but 2.1–4.0 ms of CPU with the helper thread against 1.1–1.7 ms without
it, CPU another capture worker or Blender could have used. The library is found next to numpy (the
wheels' numpy.libs / .libs / .dylibs folders) and its own thread-count functions are called through
ctypes, as threadpoolctl does; where none is found (another BLAS, another layout), nothing changes.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

_API: tuple | None = None
_SEARCHED = False


def _find() -> tuple | None:
    """(set_num_threads, get_num_threads) of the OpenBLAS numpy loaded, or None."""
    import numpy

    root = os.path.dirname(numpy.__file__)
    folders = [os.path.join(root, ".libs"), os.path.join(root, ".dylibs"),
               os.path.join(os.path.dirname(root), "numpy.libs")]
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            try:
                lib = ctypes.CDLL(path)  # already loaded by numpy: the same instance
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", "_64_", ""):
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    if setter is not None and getter is not None:
                        setter.argtypes, setter.restype = [ctypes.c_int], None
                        getter.argtypes, getter.restype = [], ctypes.c_int
                        return setter, getter
    return None


def openblas_threads() -> tuple | None:
    """The OpenBLAS thread-count functions numpy uses (found once), or None."""
    global _API, _SEARCHED
    if not _SEARCHED:
        _SEARCHED = True
        try:
            _API = _find()
        except Exception:  # noqa: BLE001 — an unusual numpy build: leave its threads alone
            _API = None
    return _API


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with numpy's OpenBLAS on one thread; the previous count is restored after."""
    api = openblas_threads()
    if api is None:
        yield
        return
    setter, getter = api
    before = int(getter())
    setter(1)
    try:
        yield
    finally:
        setter(before)
