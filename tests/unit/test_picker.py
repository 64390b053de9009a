"""capture/picker.py: the person picker's numbering (the capture's), the choice of a person at a point,
the thumbnails, and a click on the camera view → a point of the video (no bpy, no MediaPipe)."""
import numpy as np
import pytest
from test_people import capture_like, scene

from video_mocap.capture import picker
from video_mocap.capture.people import follow_person
from video_mocap.capture.picker import Seen, box_segments, click_to_image, crop_box, fitted_frame, person_at

number_people, pose_box, region_to_image = picker.number_people, picker.pose_box, picker.region_to_image
sample_frames, thumbnail, image_to_region = picker.sample_frames, picker.thumbnail, picker.image_to_region


def test_sampled_frames_start_at_the_capture_start_and_end_at_the_frame():
    assert sample_frames(10, 10) == [10] and sample_frames(10, 3) == [10]
    s = sample_frames(0, 99, max_steps=12)
    assert s[0] == 0 and s[-1] == 99 and len(s) <= 13 and np.all(np.diff(s) > 0)
    assert sample_frames(5, 8, max_steps=12) == [5, 6, 7, 8]


@pytest.fixture(scope="module")
def followed():
    """The two-person capture (people crossing, one hidden a while) and what --person 1 / 2 follow."""
    track, _ = capture_like()
    return track, {n: follow_person(capture_like()[0], n) for n in (1, 2)}


@pytest.mark.parametrize("frame", [0, 30, 75, 120, 149])
@pytest.mark.parametrize("step", [1, 5, 10])
def test_numbers_are_the_ones_a_capture_follows(followed, frame, step):
    """Person N of the picker at a frame is the person a capture with --person N follows on that frame,
    whether the frames up to it are looked at one by one or sampled."""
    track, takes = followed
    rows = sample_frames(0, frame, max_steps=max(1, frame // step))
    gap = rows[1] - rows[0] if len(rows) > 2 else max(1, frame)
    numbers = number_people(track.people_image[rows], track.people_world[rows], track.people_visibility[rows],
                            track.fps, gap)
    visible = np.isfinite(track.people_image[frame, :, 23, 0]).sum()
    assert len(numbers) == visible and sorted(numbers.values()) == sorted(set(numbers.values()))
    for slot, number in numbers.items():
        take = takes[number]
        np.testing.assert_array_equal(take.image_landmarks[frame], track.people_image[frame, slot])


def test_at_the_start_people_are_numbered_left_to_right():
    image, world, _ = scene()
    numbers = number_people(image[:1], world[:1], None, 30.0)
    left_to_right = np.argsort(image[0, list(numbers), 23, 0])
    assert [numbers[list(numbers)[i]] for i in left_to_right] == [1, 2]


def test_a_person_entering_later_gets_the_next_number():
    image, world, truth = scene(hide=(0, 40))  # B only from frame 40 (A is 1 from the start)
    for rows, step in ((list(range(0, 61)), 1), (list(range(0, 61, 6)), 6)):
        numbers = number_people(image[rows], world[rows], None, 30.0, step)
        assert {truth[60, k]: n for k, n in numbers.items()} == {0: 1, 1: 2}


def test_pose_box_is_the_well_seen_landmarks_clipped_to_the_frame():
    pts = np.zeros((33, 3))
    pts[:, 0] = np.linspace(0.2, 1.3, 33)  # runs off the right edge
    pts[:, 1] = np.linspace(0.1, 0.6, 33)
    vis = np.ones(33)
    vis[:5] = 0.1  # the first landmarks are not seen
    x0, y0, x1, y1 = pose_box(pts, vis)
    assert x0 == pytest.approx(pts[5, 0]) and y0 == pytest.approx(pts[5, 1]) and x1 == 1.0
    assert y1 == pytest.approx(0.6)


def test_a_point_picks_the_person_whose_box_holds_it():
    people = [Seen(1, (0.1, 0.2, 0.4, 0.9)), Seen(2, (0.3, 0.1, 0.7, 0.9)), Seen(3, (0.8, 0.3, 0.95, 0.8))]
    assert person_at(people, (0.15, 0.5)).number == 1
    assert person_at(people, (0.6, 0.5)).number == 2
    assert person_at(people, (0.37, 0.5)).number == 2   # in both boxes: the nearer centre (0.5 vs 0.25)
    assert person_at(people, (0.32, 0.5)).number == 1   # in both, nearer 1's centre
    assert person_at(people, (0.96, 0.5)).number == 3   # just outside: within the margin
    assert person_at(people, (0.75, 0.05)) is None       # on nobody
    assert person_at([], (0.5, 0.5)) is None


def test_thumbnail_is_a_square_crop_around_the_box():
    rgb = np.zeros((200, 400, 3), np.uint8)
    rgb[50:150, 300:340] = (255, 0, 0)  # the person: red
    box = (300 / 400, 50 / 200, 340 / 400, 150 / 200)
    x0, y0, x1, y1 = crop_box(box, (400, 200))
    assert x1 - x0 == y1 - y0 == 130 and x0 < 300 and x1 > 340 and y0 < 50 and y1 > 150
    thumb = thumbnail(rgb, box, side=64)
    assert thumb.shape == (64, 64, 3) and thumb.dtype == np.uint8
    assert tuple(thumb[32, 32]) == (255, 0, 0) and tuple(thumb[32, 2]) == (0, 0, 0)
    # Near the edge: what lies beyond the frame is black, the person still in the middle.
    edge = thumbnail(rgb, (0.9, 0.25, 1.0, 0.75), side=64)
    assert tuple(edge[32, 63]) == (0, 0, 0)


def test_a_click_maps_to_the_video_point_under_it():
    """A camera frame 400×200 px with its top-left at (50, 300) in region pixels (y up), a landscape
    video of the frame's shape: the click goes straight through."""
    corners = [(50, 300), (450, 300), (50, 100)]  # top-left, top-right, bottom-left
    assert click_to_image((250, 200), corners, (1920, 960), (1920, 960)) == pytest.approx((0.5, 0.5))
    assert click_to_image((150, 250), corners, (1920, 960), (1920, 960)) == pytest.approx((0.25, 0.25))
    assert click_to_image((449, 101), corners, (1920, 960), (1920, 960)) == pytest.approx((0.9975, 0.995))
    assert click_to_image((40, 200), corners, (1920, 960), (1920, 960)) is None  # left of the frame


def test_a_click_on_a_video_fitted_with_bars():
    """A portrait video (1080×1920) fitted into a landscape render frame (1920×1080): bars left and
    right; a click on a bar is off the video; points map back where image_to_region puts them."""
    corners = np.array([(0, 540), (960, 540), (0, 0)], float)  # the frame: 960×540 px
    frame = fitted_frame(corners, (1080, 1920), (1920, 1080))
    width = 540 * 1080 / 1920
    assert np.allclose(frame[0], (480 - width / 2, 540)) and np.allclose(frame[1], (480 + width / 2, 540))
    assert click_to_image((100, 270), corners, (1080, 1920), (1920, 1080)) is None   # on the left bar
    assert click_to_image((480, 270), corners, (1080, 1920), (1920, 1080)) == pytest.approx((0.5, 0.5))
    points = np.array([[0.1, 0.2], [0.7, 0.9], [0.0, 1.0]])
    for p in points:
        back = click_to_image(image_to_region(p, frame), corners, (1080, 1920), (1920, 1080))
        assert back == pytest.approx(tuple(p))
    assert np.allclose(region_to_image(image_to_region(points, frame)[1], frame), points[1])


def test_box_outlines_for_the_overlay():
    segs = box_segments([(0.1, 0.2, 0.4, 0.9), (0.5, 0.5, 0.6, 0.7)])
    assert segs.shape == (8, 2, 2)
    assert np.allclose(segs[0], [(0.1, 0.2), (0.4, 0.2)]) and np.allclose(segs[2], [(0.4, 0.9), (0.1, 0.9)])
    assert np.allclose(segs[:4, 1], np.roll(segs[:4, 0], -1, axis=0))  # a closed outline
    assert box_segments([]).shape == (0, 2, 2)
