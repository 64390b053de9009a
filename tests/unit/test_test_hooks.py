"""The test suite's own rule (issue 19 #12): the real-footage tests may skip only when the Pose2Sim demo
data is absent; then the run says so in one line."""
from pathlib import Path
from types import SimpleNamespace

import conftest
import pytest


def _report(nodeid="tests/e2e/test_real_footage.py::test_x", skipped=True, wasxfail=False):
    report = SimpleNamespace(skipped=skipped, outcome="skipped" if skipped else "passed",
                             longrepr=("file.py", 1, "Skipped: Pose2Sim demo data not found"))
    if wasxfail:
        report.wasxfail = "known"
    item = SimpleNamespace(path=Path(nodeid.split("::")[0]), nodeid=nodeid)
    hook = conftest.pytest_runtest_makereport(item, None)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(SimpleNamespace(get_result=lambda: report))
    return report


def test_a_real_footage_skip_fails_when_the_data_is_present(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    report = _report()
    assert report.outcome == "failed" and f"skipped although {tmp_path} is present" in report.longrepr
    assert "Pose2Sim demo data not found" in report.longrepr
    assert _report(wasxfail=True).outcome == "skipped"  # an expected failure stays one
    assert _report("tests/e2e/test_other.py::test_x").outcome == "skipped"  # other files may skip
    assert _report(skipped=False).outcome == "passed"


def test_a_real_footage_skip_without_the_data_is_counted_and_told_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.setattr(conftest, "_real_footage_skips", [])
    assert _report().outcome == "skipped" and _report().outcome == "skipped"
    lines = []
    conftest.pytest_terminal_summary(SimpleNamespace(write_line=lambda text, **kw: lines.append(text)))
    assert len(lines) == 1 and lines[0].startswith("real-footage tests: 2 skipped") and "absent" in lines[0]
