"""MediaPipe's native log lines are hidden by default and shown when verbose (issue 19 #11), without
touching anything else written to stderr."""
import subprocess
import sys

from conftest import ROOT

from video_mocap.capture.native_log import is_native_log_line

SCRIPT = f"""
import os, sys
sys.path.insert(0, {str(ROOT / "tests")!r})
import conftest
from video_mocap.capture.native_log import quiet_native_logs
print("before", file=sys.stderr, flush=True)
with quiet_native_logs():
    with quiet_native_logs():  # nested: the filter stays until the outer one ends
        os.write(2, b"W0000 00:00:1796048237.947691   11693 landmark_projection_calculator.cc:81] Using NORM_RECT\\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n"
             b"WARNING: Logging before InitGoogle() is written to STDERR\\n")
    os.write(2, b"I0000 00:00:1796048237.9 11693 gl_context.cc:357] GL version: 3.2")  # no newline: a partial line
    os.write(2, b" (OpenGL ES 3.2)\\n")
    os.write(2, b"E0000 00:00:1796048237.947691   11693 calculator_graph.cc:12] a real error\\n")
    print("python says hello", file=sys.stderr, flush=True)
print("after", file=sys.stderr, flush=True)
os.write(2, b"W0000 00:00:1.0 1 outside.cc:1] not filtered outside\\n")
"""


def _run(env_verbose=None):
    import os

    env = dict(os.environ)
    env.pop("MOCAP_VERBOSE", None)
    if env_verbose is not None:
        env["MOCAP_VERBOSE"] = env_verbose
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stderr.decode()


def test_native_log_lines_are_recognised():
    assert is_native_log_line(b"W0000 00:00:1796048238.408860   11693 landmark_projection_calculator.cc:81] x")
    assert is_native_log_line(b"I1203 12:01:02.123456 42 gl_context.cc:357] GL version")
    assert is_native_log_line(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert not is_native_log_line(b"E0000 00:00:1796048238.408860   11693 graph.cc:81] an error")
    assert not is_native_log_line(b"warning: no person in 3 of 40 frames")
    assert not is_native_log_line(b"Traceback (most recent call last):")


def test_quiet_by_default_keeps_everything_else_in_order():
    err = _run()
    lines = err.splitlines()
    assert "landmark_projection" not in err and "TensorFlow Lite" not in err and "InitGoogle" not in err
    assert "GL version" not in err
    assert lines == ["before", "E0000 00:00:1796048237.947691   11693 calculator_graph.cc:12] a real error",
                     "python says hello", "after", "W0000 00:00:1.0 1 outside.cc:1] not filtered outside"], lines


def test_verbose_shows_the_native_lines():
    for value in ("1", "true"):
        err = _run(value)
        assert "landmark_projection_calculator.cc:81]" in err and "TensorFlow Lite" in err
        assert "GL version: 3.2 (OpenGL ES 3.2)" in err
