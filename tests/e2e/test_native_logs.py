"""MediaPipe's C++ log lines (W0000 … landmark_projection_calculator …) stay off the terminal unless
verbose (issue 19 #11), in the capturing process and in parallel capture workers."""
import os
import subprocess
import sys

import pytest
from conftest import ROOT

NATIVE = ("W0000", "landmark_projection_calculator", "inference_feedback_manager", "TensorFlow Lite",
          "InitGoogle")


def _capture(sample_video, verbose: bool, workers: int = 1) -> str:
    script = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import conftest\n"
              "from video_mocap.capture.segment import capture_video\n"
              "from video_mocap.capture.parallel import capture_parallel\n"
              f"run = capture_parallel if {workers} > 1 else capture_video\n"
              f"kw = dict(workers={workers}, min_frames_per_worker=1) if {workers} > 1 else {{}}\n"
              f"track = run({str(sample_video)!r}, 'full', start=0, stop=6, **kw)\n"
              "print('python line on stderr', file=sys.stderr)\n"
              "print('frames', len(track), 'workers', track.extra.get('workers', 1))\n")
    env = {k: v for k, v in os.environ.items() if k != "MOCAP_VERBOSE"}
    if verbose:
        env["MOCAP_VERBOSE"] = "1"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0 and f"frames 6 workers {workers}" in proc.stdout, (proc.stdout, proc.stderr[-3000:])
    assert "python line on stderr" in proc.stderr
    return proc.stderr


def test_native_log_lines_are_hidden_by_default(sample_video, full_model):
    err = _capture(sample_video, verbose=False)
    assert not [word for word in NATIVE if word in err], err[-3000:]


def test_native_log_lines_are_shown_when_verbose(sample_video, full_model):
    err = _capture(sample_video, verbose=True)
    assert "W0000" in err and "TensorFlow Lite" in err, err[-3000:]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for 2 workers")
def test_native_log_lines_are_hidden_in_capture_workers(sample_video, full_model):
    err = _capture(sample_video, verbose=False, workers=2)
    assert not [word for word in NATIVE if word in err], err[-3000:]
