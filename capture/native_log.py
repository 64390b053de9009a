"""MediaPipe's native log lines (`W0000 … landmark_projection_calculator.cc:81] …`, `INFO: Created
TensorFlow Lite XNNPACK delegate for CPU.`), silenced by default, shown when verbose.

MediaPipe's C++ side logs through absl before any `InitializeLog()`, which writes every message to the
process's stderr (file descriptor 2); no environment variable (GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL)
and no call of its C API turns that off. So while a landmarker exists, fd 2 is a pipe read by a thread
that forwards every line to the real stderr except these informational/warning lines (errors and
fatal messages still pass). Nothing else changes: Python's own stderr output passes through in order.

Verbose (everything shown): `set_verbose(True)` or the environment variable MOCAP_VERBOSE=1 (which
`set_verbose` also sets, so capture worker processes follow).
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager

ENV = "MOCAP_VERBOSE"
# absl/glog: severity letter, MMDD, time, thread id, file:line]. I and W only: E and F stay visible.
_NATIVE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s:\]]+:\d+\] "
                     rb"|INFO: Created TensorFlow Lite "
                     rb"|WARNING: Logging before InitGoogle\(\) "
                     rb"|WARNING: All log messages before absl::InitializeLog\(\) )")


def set_verbose(verbose: bool = True) -> None:
    """Show MediaPipe's native log lines (True) or hide them (False, the default)."""
    if verbose:
        os.environ[ENV] = "1"
    else:
        os.environ.pop(ENV, None)


def is_verbose() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def is_native_log_line(line: bytes) -> bool:
    return bool(_NATIVE.match(line))


class _Filter:
    """fd 2 → pipe → a thread forwarding the lines that are not native log lines to the saved fd 2."""

    def __init__(self):
        self.saved = os.dup(2)
        read, write = os.pipe()
        self.read = read
        os.dup2(write, 2)
        os.close(write)
        self.thread = threading.Thread(target=self._forward, name="mocap-native-log-filter", daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        while data:
            try:
                data = data[os.write(self.saved, data):]
            except InterruptedError:
                continue
            except OSError:
                return

    def _forward(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self.read, 65536)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not is_native_log_line(line))
            if out:
                self._write(out)
        if pending and not is_native_log_line(pending):
            self._write(pending)
        os.close(self.read)

    def close(self) -> None:
        import sys

        for stream in (sys.stderr, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # a closed or replaced stream: nothing to flush
                pass
        os.dup2(self.saved, 2)  # closes the pipe's last write end: the thread drains it and stops
        self.thread.join(timeout=5)
        os.close(self.saved)


_lock = threading.Lock()
_users = 0
_filter: _Filter | None = None


@contextmanager
def quiet_native_logs():
    """While inside (nestable, thread-safe), MediaPipe's native I/W log lines are dropped from stderr,
    unless verbose."""
    global _users, _filter
    if is_verbose():
        yield
        return
    with _lock:
        if _users == 0:
            try:
                _filter = _Filter()
            except OSError:  # no fd 2 (a detached process): nothing to filter
                _filter = None
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _filter is not None:
                _filter.close()
                _filter = None
