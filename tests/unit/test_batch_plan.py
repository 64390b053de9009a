"""The batch command's plan (batch.py), without bpy or models: inputs → videos and output names,
formats, temporary names, the options' fingerprint, and when finished outputs are up to date."""
import json
import os
import time

import pytest

from video_mocap import batch
from video_mocap.batch import UsageError, expand_inputs


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "clips"
    for rel in ("a.mp4", "b.MOV", "day1/c.mp4", "day1/deep/d.mkv", "day1/notes.txt", "day1/.hidden.mp4"):
        touch(root / rel)
    return root


def rels(items):
    return [i.rel for i in items]


def test_folder_is_searched_recursively_for_videos(tree):
    items = expand_inputs([str(tree)])
    assert rels(items) == ["a", "b", "day1/c", "day1/deep/d"]
    assert all(os.path.isabs(i.video) and i.error is None for i in items)


def test_file_glob_and_list(tree, tmp_path):
    assert rels(expand_inputs([str(tree / "day1" / "c.mp4")])) == ["c"]
    assert rels(expand_inputs([str(tree / "**" / "*.mp4")])) == ["a", "day1/c"]  # relative to the glob's base
    lst = touch(tmp_path / "list.txt", b"# my takes\nclips/a.mp4\n\nclips/day1\nmissing.mp4\n")
    items = expand_inputs([str(lst)])
    assert rels(items) == ["a", "day1/c", "day1/deep/d", "missing"]
    assert items[-1].error.startswith("Video not found") and items[0].error is None


def test_relative_inputs_follow_the_working_folder(tree):
    assert rels(expand_inputs(["day1"], cwd=str(tree))) == ["c", "deep/d"]


def test_base_names_outputs_relative_to_it(tree):
    items = expand_inputs([str(tree / "day1" / "c.mp4"), str(tree / "a.mp4")], base=str(tree))
    assert rels(items) == ["day1/c", "a"]
    with pytest.raises(UsageError, match="not inside --base"):
        expand_inputs([str(tree / "a.mp4")], base=str(tree / "day1"))


def test_bad_inputs_are_usage_errors(tree, tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        expand_inputs([str(tmp_path / "nope.mp4")])
    with pytest.raises(UsageError, match="no video matches"):
        expand_inputs([str(tree / "*.avi")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no video files"):
        expand_inputs([str(empty)])
    with pytest.raises(UsageError, match="names no videos"):
        expand_inputs([str(touch(tmp_path / "l.txt", b"# nothing\n"))])


def test_duplicates_are_dropped_and_collisions_refused(tree):
    items = expand_inputs([str(tree), str(tree / "a.mp4")])
    assert rels(items).count("a") == 1
    touch(tree / "a.mov")
    with pytest.raises(UsageError, match="would both write a"):
        expand_inputs([str(tree)])


def test_formats():
    assert batch.parse_formats("fbx,npz") == ["fbx", "npz"]
    assert batch.parse_formats(" BVH, .png ,bvh") == ["bvh", "png"]
    for bad in ("fbx,obj", "", ","):
        with pytest.raises(UsageError):
            batch.parse_formats(bad)


def test_output_and_temporary_names(tmp_path):
    outs = batch.output_paths(str(tmp_path), "day1/c", ["fbx", "npz"])
    assert outs == {"fbx": str(tmp_path / "day1" / "c.fbx"), "npz": str(tmp_path / "day1" / "c.npz")}
    tmp = batch.temp_path(outs["npz"], "host-1-abc")
    assert os.path.dirname(tmp) == str(tmp_path / "day1") and tmp.endswith(".npz")  # numpy keeps the name
    assert os.path.basename(tmp).startswith(".c.npz.")
    touch(tmp_path / "day1" / os.path.basename(tmp))
    touch(tmp_path / "day1" / (os.path.basename(batch.temp_path(outs["fbx"], "t")) + "@"))
    touch(tmp_path / "day1" / "c.fbx")  # a finished output is never a leftover
    assert [os.path.basename(p) for p in batch.stale_temps(outs["npz"])] == [os.path.basename(tmp)]
    assert len(batch.stale_temps(outs["fbx"])) == 1


def test_fingerprint_covers_what_changes_the_outputs(tmp_path):
    base = dict(model="full", model_file=None, root="hips", smooth="zero_phase", smooth_hz=5.0, frames=None,
                bone_map=None, armature=None, workers=2, quiet=False)
    _, h = batch.options_fingerprint(base)
    assert batch.options_fingerprint({**base, "workers": 1, "quiet": True})[1] == h  # how, not what
    assert batch.options_fingerprint({**base, "smooth_hz": 6.0})[1] != h
    assert batch.options_fingerprint({**base, "frames": "0:10"})[1] != h
    bone_map = touch(tmp_path / "map.json", b"{}")
    _, h1 = batch.options_fingerprint({**base, "bone_map": str(bone_map)})
    os.utime(bone_map, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert batch.options_fingerprint({**base, "bone_map": str(bone_map)})[1] != h1  # the file changed
    blend = touch(tmp_path / "rig.blend", b"BLENDER")
    record, h2 = batch.options_fingerprint({**base, "armature": f"{blend}:Armature"})
    assert record["armature_stamp"]["size"] == 7
    assert batch.options_fingerprint({**base, "hands": True})[1] != h   # an option added later counts too


def make_finished(tmp_path, formats=("fbx", "npz"), options_hash="h1"):
    video = touch(tmp_path / "in" / "v.mp4", b"video")
    out = tmp_path / "out"
    stamps = {}
    for fmt in formats:
        stamps[fmt] = batch.file_stamp(str(touch(out / f"v.{fmt}", b"data-" + fmt.encode())))
    made = {"video_stamp": batch.file_stamp(str(video)), "options_hash": options_hash, "outputs": stamps}
    (out / ("v" + batch.SIDECAR)).write_text(json.dumps(made))
    return str(video), str(out)


def test_up_to_date_only_when_everything_matches(tmp_path):
    video, out = make_finished(tmp_path)
    assert batch.up_to_date(video, out, "v", ["fbx", "npz"], "h1")
    assert batch.up_to_date(video, out, "v", ["npz"], "h1")                  # a subset
    assert not batch.up_to_date(video, out, "v", ["fbx", "bvh"], "h1")       # a format not made
    assert not batch.up_to_date(video, out, "v", ["fbx"], "h2")              # other options
    with open(os.path.join(out, "v.fbx"), "ab") as fh:                      # an output changed
        fh.write(b"more")
    assert not batch.up_to_date(video, out, "v", ["fbx"], "h1")
    assert batch.up_to_date(video, out, "v", ["npz"], "h1")
    os.utime(video, ns=(time.time_ns(), time.time_ns() + 10**9))             # the video changed
    assert not batch.up_to_date(video, out, "v", ["npz"], "h1")
    assert not batch.up_to_date(video, str(tmp_path / "elsewhere"), "v", ["npz"], "h1")


def test_one_line_messages():
    assert batch.one_line("a\n  b\n") == "a b"
    assert batch.one_line("Traceback (most recent call last):\n  File x\nValueError: bad") == "ValueError: bad"


def test_batch_module_loads_without_bpy_or_mediapipe():
    import subprocess
    import sys

    from conftest import ROOT

    cli = str(ROOT / "cli.py")
    code = (f"import runpy, sys; runpy.run_path({cli!r})['load_package'](); import video_mocap.batch; "
            "print(sorted(m for m in ('bpy', 'mediapipe', 'cv2', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_single_video_option_is_passed_on():
    from video_mocap import cli

    names = batch.shared_options(cli)
    assert {"model", "armature", "rig", "bone_map", "root", "smooth", "frames", "workers"} <= set(names)
    assert not {"out_dir", "format", "inputs", "video", "out", "help"} & set(names)


def test_longest_videos_go_first(tmp_path):
    """run_batch's order: the biggest files first (a stat, no decoding); a missing file last."""
    jobs = [{"video": str(touch(tmp_path / f"{name}.mp4", b"x" * size))} for name, size in
            (("short", 10), ("long", 1000), ("middle", 100))] + [{"video": str(tmp_path / "gone.mp4")}]
    jobs.sort(key=batch._expected_work, reverse=True)
    assert [os.path.basename(j["video"]) for j in jobs] == ["long.mp4", "middle.mp4", "short.mp4", "gone.mp4"]


def test_dask_worker_process_runs_without_the_nannys_malloc_setting(monkeypatch):
    """The Dask nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its worker; the worker process a Dask worker
    starts for the videos drops it (and keeps the rest of the environment, and a value set otherwise)."""
    pytest.importorskip("distributed")
    import dask

    value = dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(value))
    monkeypatch.setenv("VIDEO_MOCAP_TEST_KEEP", "1")
    env = batch._child_env()
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["VIDEO_MOCAP_TEST_KEEP"] == "1"
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "12345")  # not the nanny's: someone chose it
    assert batch._child_env()["MALLOC_TRIM_THRESHOLD_"] == "12345"
