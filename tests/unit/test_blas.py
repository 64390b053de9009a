"""motion/blas.py: numpy's OpenBLAS runs on one thread inside one_blas_thread() and gets its thread count
back after; without a bundled OpenBLAS the block just runs."""
import numpy as np
import pytest

from video_mocap.motion import blas


def test_one_thread_inside_and_the_count_restored_after():
    api = blas.openblas_threads()
    if api is None:
        pytest.skip("this numpy has no bundled OpenBLAS next to it")
    setter, getter = api
    before = getter()
    a = np.random.default_rng(0).random((8, 20, 20)) + 20 * np.eye(20)
    with blas.one_blas_thread():
        assert getter() == 1
        inv = np.linalg.inv(a)
    assert getter() == before
    np.testing.assert_allclose(inv @ a, np.broadcast_to(np.eye(20), a.shape), atol=1e-10)


def test_the_count_is_restored_when_the_block_fails():
    api = blas.openblas_threads()
    if api is None:
        pytest.skip("this numpy has no bundled OpenBLAS next to it")
    before = api[1]()
    with pytest.raises(ValueError), blas.one_blas_thread():
        raise ValueError("boom")
    assert api[1]() == before


def test_without_openblas_the_block_runs(monkeypatch):
    monkeypatch.setattr(blas, "_SEARCHED", True)
    monkeypatch.setattr(blas, "_API", None)
    ran = []
    with blas.one_blas_thread():
        ran.append(np.linalg.inv(np.eye(3) * 2)[0, 0])
    assert ran == [0.5]
