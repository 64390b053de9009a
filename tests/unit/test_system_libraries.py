"""Without libGLESv2 / libEGL MediaPipe cannot load: the error names the library and how to install it,
not the model (issue 19 #14). The failure is simulated where MediaPipe loads its native library."""
import ctypes
import ctypes.util

import pytest

from video_mocap.capture.errors import CaptureError
from video_mocap.capture.landmarker import Landmarker, missing_library_error

LOADER_ERROR = "libGLESv2.so.2: cannot open shared object file: No such file or directory"


@pytest.fixture
def no_native_library(monkeypatch):
    """MediaPipe's loader (ctypes.CDLL of libmediapipe.so) fails as it does without libGLESv2."""
    bindings = pytest.importorskip("mediapipe.tasks.python.core.mediapipe_c_bindings")
    monkeypatch.setattr(bindings, "_shared_lib", None)

    def cdll(path, *args, **kwargs):
        raise OSError(LOADER_ERROR)

    monkeypatch.setattr(ctypes, "CDLL", cdll)


def test_missing_gles_is_named_with_the_install_command(no_native_library, tmp_path):
    with pytest.raises(CaptureError) as info:
        Landmarker(tmp_path / "pose_landmarker_full.task")
    message = str(info.value)
    assert "libGLESv2" in message and "apt install libgles2 libegl1" in message
    assert "mesa-libGLES mesa-libEGL" in message
    assert "Choose a valid pose_landmarker" not in message and "model" not in message.lower()


def test_an_unnamed_loader_failure_checks_which_library_is_missing(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name == "EGL" else f"lib{name}.so")
    error = missing_library_error(OSError("libmediapipe.so: cannot open shared object file: No such file"))
    assert error is not None and "libEGL" in str(error) and "libGLESv2" not in str(error).split("(")[0]


def test_other_errors_are_not_blamed_on_system_libraries():
    assert missing_library_error(RuntimeError("Unable to open file at /x/model.task")) is None
    assert missing_library_error(ValueError("bad model")) is None
