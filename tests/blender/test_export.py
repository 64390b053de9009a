"""Export errors and side effects (issue 19 #2, #8): checking a path creates nothing, folders are made
only when writing, and a failing Blender exporter is an ExportError naming the file."""
import os

import pytest
from preset_rigs import plain_armature

from video_mocap.capture.errors import ExportError

bpy = pytest.importorskip("bpy")

from video_mocap.blender.export import check_writable, export_bvh, export_fbx  # noqa: E402


@pytest.fixture(scope="module")
def rig():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = plain_armature("exp", [("root", None, (0, 0, 0), (0, 0, 1)), ("child", "root", (0, 0, 1), (0, 0, 2))])
    for frame, w in ((1, 1.0), (5, 0.7)):
        obj.pose.bones["child"].rotation_quaternion = (w, (1 - w * w) ** 0.5, 0, 0)
        obj.pose.bones["child"].keyframe_insert("rotation_quaternion", frame=frame)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 5
    return obj


def test_check_writable_creates_nothing(tmp_path):
    target = tmp_path / "a" / "b" / "take.fbx"
    check_writable(str(target))
    assert not (tmp_path / "a").exists()  # the check only looks
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        check_writable(str(tmp_path / "file" / "sub" / "take.fbx"))
    assert (tmp_path / "file").read_text() == "x"
    with pytest.raises(ExportError, match="it is a folder"):
        check_writable(str(tmp_path))


@pytest.mark.parametrize("kind", ["fbx", "bvh"])
def test_export_makes_missing_folders_when_writing(rig, tmp_path, kind):
    path = tmp_path / "new" / "deeper" / f"take.{kind}"
    if kind == "fbx":
        assert export_fbx(bpy.context, rig, str(path)) == str(path)
    else:
        assert export_bvh(bpy.context, rig, str(path), 1, 5) == str(path)
    assert path.stat().st_size > 0


def test_unwritable_folder_is_an_export_error_and_nothing_is_created(rig, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="Cannot write"):
        export_fbx(bpy.context, rig, str(tmp_path / "file" / "out" / "take.fbx"))
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.parametrize("kind", ["fbx", "bvh"])
def test_a_too_long_file_name_is_one_clear_message(rig, tmp_path, kind):
    # A name longer than the file system allows: refused before any writing, with the path.
    path = str(tmp_path / ("x" * 300 + f".{kind}"))
    with pytest.raises(ExportError, match=f"Cannot write .*{'x' * 50}.*File name too long") as info:
        if kind == "fbx":
            export_fbx(bpy.context, rig, path)
        else:
            export_bvh(bpy.context, rig, path, 1, 5)
    assert "Traceback" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == []  # nothing half-written, no staging folder left


@pytest.mark.parametrize("kind", ["fbx", "bvh"])
def test_a_failing_blender_exporter_is_an_export_error_with_the_path(rig, tmp_path, kind):
    """Blender's exporter itself raising RuntimeError (its Python traceback as text): one ExportError
    naming the path and the cause, and no file at the target."""
    from video_mocap.blender import export

    def failing(**kwargs):
        raise RuntimeError("Error: Python: Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                           "OSError: [Errno 28] No space left on device\n")

    path = tmp_path / f"take.{kind}"
    with pytest.raises(ExportError, match=f"{kind.upper()} export to .*take.{kind}.* failed") as info:
        export._run_exporter(kind.upper(), str(path), failing)
    assert "Traceback" not in str(info.value) and "No space left on device" in str(info.value)
    assert not path.exists() and sorted(os.listdir(tmp_path)) == []
