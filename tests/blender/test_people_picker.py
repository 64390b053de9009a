"""The person picker in Blender (issue 18): Find People on the two-person side-by-side clip lists two
people with thumbnails, numbered as the capture numbers them (1 on the left, 2 on the right); choosing
one in the list or picking one at a point of the reference video sets Follow Person, and a capture then
follows that person. The modal click is driven with a stand-in event (headless Blender has no mouse).

The clip is tools/make_two_people.py's (cached in .cache/fixtures/people); captures are cut to 8 frames."""
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import FULL_MODEL, ROOT, SHARED

import video_mocap
from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")
sys.path.insert(0, str(ROOT / "tools"))
from make_two_people import OUT, make  # noqa: E402

CLIP = OUT / "side_by_side.mp4"
pytestmark = pytest.mark.skipif(not FULL_MODEL.is_file() or not (CLIP.is_file() or (SHARED / "cam03.mp4").is_file()),
                                reason="the full model or the two-person fixture (Pose2Sim demo clips) is missing")


@pytest.fixture
def scene(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    video_mocap.register()
    settings = bpy.context.scene.video_mocap
    settings.video_path = str(make()["side_by_side"])
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 8
    yield bpy.context.scene
    video_mocap.unregister()


class Reports:
    def __init__(self):
        self.reports = []

    def report(self, kind, message):
        self.reports.append((next(iter(kind)), message))


def hips_x(track: PoseTrack) -> np.ndarray:
    return 0.5 * (track.image_landmarks[track.detected, 23, 0] + track.image_landmarks[track.detected, 24, 0])


def test_find_people_lists_both_with_thumbnails(scene):
    from video_mocap.blender.picker import preview_of

    settings = scene.video_mocap
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"}
    people = list(settings.found_people)
    assert [p.number for p in people] == [1, 2] and [p.name for p in people] == ["Person 1", "Person 2"]
    assert settings.found_frame == 0 and tuple(settings.found_size) == (1088, 960)
    left, right = (np.array(p.box) for p in people)
    assert left[2] < 0.5 < right[0]           # person 1 on the left half, person 2 on the right
    assert 0.0 <= left[0] < left[2] and 0.0 <= left[1] < left[3] <= 1.0 and right[2] <= 1.0
    for p in people:
        assert os.path.isfile(p.thumbnail) and p.thumbnail.endswith(f"_f0_p{p.number}.png")
        assert tuple(preview_of(p.thumbnail).image_size) == (128, 128)
    assert settings.found_people_index == -1 and settings.person == 0  # nobody chosen yet: the most prominent


def test_choosing_in_the_list_or_picking_sets_follow_person(scene):
    settings = scene.video_mocap
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"}
    settings.found_people_index = 1
    assert settings.person == 2
    settings.person = 1  # the number field: the list's row follows
    assert settings.found_people_index == 0
    settings.person = 0
    assert settings.found_people_index == -1
    boxes = {p.number: np.array(p.box) for p in settings.found_people}
    for number in (2, 1):
        x0, y0, x1, y1 = boxes[number]
        assert bpy.ops.video_mocap.pick_person(x=(x0 + x1) / 2, y=(y0 + y1) / 2) == {"FINISHED"}
        assert settings.person == number and settings.found_people_index == number - 1
    assert bpy.ops.video_mocap.pick_person(x=0.5, y=0.02) == {"CANCELLED"}  # on nobody: unchanged
    assert settings.person == 1
    far = settings.found_people.add()  # a number beyond Follow Person's range (1-4) is not clamped to 4
    far.number, far.name = 6, "Person 6"
    settings.found_people_index = 2
    assert settings.person == 1


def test_a_capture_follows_the_person_picked(scene):
    """The default follows the most prominent person (here person 2, on the right); picking person 1
    makes the capture follow the left one, on every frame."""
    settings = scene.video_mocap
    assert bpy.ops.video_mocap.pick_person(x=0.28, y=0.5) == {"FINISHED"}  # finds the people first
    assert settings.person == 1 and len(settings.found_people) == 2
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    take = PoseTrack.load(settings.active_take().path)
    assert take.detected.sum() >= 7 and (hips_x(take) < 0.5).all()
    settings.found_people_index = 1  # person 2, chosen in the list
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    take = PoseTrack.load(settings.active_take().path)
    assert take.detected.sum() >= 7 and (hips_x(take) > 0.5).all()


def test_the_frame_the_reference_video_shows_is_the_one_looked_at(scene):
    from video_mocap.blender.picker import shown_video_frame
    from video_mocap.blender.reference import show_reference

    settings = scene.video_mocap
    track = PoseTrack.empty(8, 60.0, (1088, 960), os.path.abspath(settings.video_path), "full", first_frame=0)
    show_reference(scene, track, frame_start=1)
    scene.frame_set(6)  # scene frame 1 shows video frame 0
    assert shown_video_frame(scene, settings.video_path) == 5
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"}
    assert settings.found_frame == 5 and [p.number for p in settings.found_people] == [1, 2]
    assert settings.found_people[0].box[2] < 0.5 < settings.found_people[1].box[0]
    assert settings.found_people[0].thumbnail.endswith("_f5_p1.png")
    from video_mocap.ui import overlay

    assert overlay._draw_people() is None  # reads the settings; no 3D view here, so nothing is drawn
    scene.frame_set(40)  # beyond the capture's range (0-8): its last frame
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"} and settings.found_frame == 7


def test_the_modal_pick_translates_a_click(scene, monkeypatch):
    """A left click on the camera view → the point of the video under it → that person; Esc cancels."""
    from video_mocap.operators import picker as op

    settings = scene.video_mocap
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"}
    # A 3D view whose camera frame is 544×480 px at (100, 50) (region pixels, y up): the video's shape.
    corners = [(100, 530), (644, 530), (100, 50)]
    monkeypatch.setattr(op, "_clicked", lambda context, x, y: ("region", "rv3d", (x, y)))
    monkeypatch.setattr(op, "camera_frame_corners", lambda scene, region, rv3d: corners)
    scene.render.resolution_x, scene.render.resolution_y = 1088, 960
    stand_in = Reports()
    pick = op.VIDEO_MOCAP_OT_pick_person
    step = pick.step.__get__(stand_in)
    stand_in.pick = pick.pick.__get__(stand_in)
    x0, y0, x1, y1 = settings.found_people[1].box   # person 2: click their box's centre
    click = (100 + 544 * (x0 + x1) / 2, 530 - 480 * (y0 + y1) / 2)
    event = SimpleNamespace(type="LEFTMOUSE", value="PRESS", mouse_x=click[0], mouse_y=click[1])
    assert step(bpy.context, event) == {"FINISHED"} and settings.person == 2
    assert stand_in.reports[-1] == ("INFO", "Following person 2")
    off = SimpleNamespace(type="LEFTMOUSE", value="PRESS", mouse_x=20, mouse_y=300)  # left of the video
    assert step(bpy.context, off) == {"RUNNING_MODAL"} and stand_in.reports[-1][0] == "WARNING"
    assert step(bpy.context, SimpleNamespace(type="MOUSEMOVE", value="NOTHING")) == {"RUNNING_MODAL"}
    assert step(bpy.context, SimpleNamespace(type="ESC", value="PRESS")) == {"CANCELLED"}
    assert step(bpy.context, SimpleNamespace(type="RIGHTMOUSE", value="PRESS")) == {"CANCELLED"}
    assert settings.person == 2


def test_a_missing_video_or_nobody_in_view_is_said_clearly(scene, tmp_path):
    import cv2

    from video_mocap.capture.errors import NoPersonError, VideoError
    from video_mocap.operators.picker import find

    settings = scene.video_mocap
    settings.video_path = str(tmp_path / "gone.mp4")
    with pytest.raises(VideoError, match="gone.mp4 is missing"):
        find(bpy.context)
    with pytest.raises(RuntimeError, match="gone.mp4 is missing. Choose it again"):  # the operator's ERROR report
        bpy.ops.video_mocap.find_people()
    empty = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for _ in range(3):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    settings.video_path = str(empty)
    with pytest.raises(NoPersonError, match="Nobody was found at video frame 0 of empty_room.mp4"):
        find(bpy.context)


def test_panel_shows_the_picker(scene, monkeypatch):
    from test_ui import Recorder, draw_all

    from video_mocap.ui.panel import VIDEO_MOCAP_UL_people

    monkeypatch.setattr(Recorder, "template_icon", lambda self, **kw: self.log.append(("icon", kw)), raising=False)
    source = draw_all(bpy.context)["VIDEO_MOCAP_PT_source"]
    assert source.has("operator", "video_mocap.find_people") and source.has("operator", "video_mocap.pick_person")
    assert not source.has("list", "VIDEO_MOCAP_UL_people")  # nothing found yet
    assert bpy.ops.video_mocap.find_people() == {"FINISHED"}
    scene.video_mocap.person = 2
    source = draw_all(bpy.context)["VIDEO_MOCAP_PT_source"]
    assert source.has("list", "VIDEO_MOCAP_UL_people") and source.has("label", "People at video frame 0")
    row = Recorder()
    settings = scene.video_mocap
    VIDEO_MOCAP_UL_people.draw_item(None, bpy.context, row, settings, settings.found_people[1], 0, settings,
                                    "found_people_index")
    assert row.has("label", "Person 2") and row.has("label", "Following")
