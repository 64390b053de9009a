"""capture/people.py: identities across frames for several people (no MediaPipe: synthetic detections)."""
import numpy as np

from video_mocap.capture.landmarks import INDEX as I
from video_mocap.capture.people import assign_identities, person_tracks, prominent_person


def body(height: float, shoulders: float, legs: float) -> np.ndarray:
    """33 landmarks of a standing person (normalised image units, y down), feet at y = 0, centred at x = 0."""
    P = np.zeros((33, 3))
    hip_y = -legs * height
    sh_y = hip_y - 0.3 * height
    for s, sign in (("left", 1), ("right", -1)):
        P[I[f"{s}_shoulder"]] = (sign * shoulders / 2, sh_y, 0)
        P[I[f"{s}_elbow"]] = (sign * shoulders / 2 * 1.3, sh_y + 0.15 * height, 0)
        P[I[f"{s}_wrist"]] = (sign * shoulders / 2 * 1.4, sh_y + 0.3 * height, 0)
        for n in ("pinky", "index", "thumb"):
            P[I[f"{s}_{n}"]] = P[I[f"{s}_wrist"]] + (0, 0.03 * height, 0)
        P[I[f"{s}_hip"]] = (sign * shoulders / 3, hip_y, 0)
        P[I[f"{s}_knee"]] = (sign * shoulders / 3, hip_y / 2, 0)
        P[I[f"{s}_ankle"]] = (sign * shoulders / 3, -0.02, 0)
        P[I[f"{s}_heel"]] = (sign * shoulders / 3, -0.01, 0)
        P[I[f"{s}_foot_index"]] = (sign * shoulders / 3 * 1.2, 0.0, 0)
    for j in range(11):
        P[j] = (0.0, sh_y - 0.1 * height, 0)
    return P


def scene(T=150, hide=(70, 85), seed=0):
    """Person A (tall, broad) walks left→right, B (small) right→left; they cross mid-clip, A in front:
    B is hidden during `hide`. Detections come in a random order each frame (MediaPipe's order is no id)."""
    rng = np.random.default_rng(seed)
    a, b = body(0.5, 0.12, 0.5), body(0.38, 0.08, 0.45)
    xa = np.linspace(0.15, 0.85, T)
    xb = np.linspace(0.8, 0.2, T)
    image = np.full((T, 3, 33, 3), np.nan)
    world = np.full((T, 3, 33, 3), np.nan)
    truth = np.full((T, 3), -1)
    for t in range(T):
        dets = [(0, a + (xa[t], 0.95, 0))]
        if not (hide[0] <= t < hide[1]):
            dets.append((1, b + (xb[t], 0.9, 0)))
        order = rng.permutation(len(dets))
        for slot, o in enumerate(order):
            pid, pts = dets[o]
            image[t, slot] = pts + rng.normal(0, 0.003, pts.shape)
            world[t, slot] = (pts - pts[[23, 24]].mean(0)) * (3.4 if pid == 0 else 4.2)
            truth[t, slot] = pid
    return image, world, truth


def test_two_people_crossing_keep_their_identities_through_an_occlusion():
    image, world, truth = scene()
    ids = assign_identities(image, world, fps=30.0)
    assert (ids >= 0).sum() == (truth >= 0).sum()
    # one fixed mapping from found ids to true people, on every frame
    pairs = {(int(i), int(t)) for i, t in zip(ids.ravel(), truth.ravel()) if t >= 0}
    assert len(pairs) == 2 and len({i for i, _ in pairs}) == 2, pairs


def test_people_are_numbered_left_to_right_when_they_appear_together():
    image, world, truth = scene()
    ids = assign_identities(image, world, fps=30.0)
    first = ids[0][ids[0] >= 0]
    x = image[0, ids[0] >= 0, 23, 0]
    assert list(first[np.argsort(x)]) == [0, 1]


def test_a_person_entering_later_gets_the_next_number_and_tracks_split_with_gaps():
    image, world, truth = scene(hide=(0, 40))  # B only from frame 40
    ids = assign_identities(image, world, fps=30.0)
    people, tracks = person_tracks(ids, image)
    assert people == [0, 1]
    b = tracks[1][0]
    assert np.isnan(b[:40]).all() and np.isfinite(b[40:, 23]).all()


def test_the_default_performer_is_the_most_prominent_at_the_start():
    image, world, truth = scene()
    ids = assign_identities(image, world, fps=30.0)
    pid = prominent_person(ids, image, 30.0)
    t, k = np.nonzero(ids == pid)
    assert (truth[t, k] == 0).all()  # the tall person in front


# --- a capture's every-pose arrays → the people's tracks (capture/people.py follow_person / split_people)

def capture_like(hide=(70, 85), hide_a=None):
    """A PoseTrack as the frame loop leaves it: every pose in people_*, the row's own pose (and the
    hands' and face's) the first slot's."""
    from video_mocap.capture.track import PoseTrack

    image, world, truth = scene(hide=hide)
    if hide_a is not None:  # person A (truth 0) out of view for these frames
        for t in range(*hide_a):
            for k in range(3):
                if truth[t, k] == 0:
                    image[t, k], world[t, k], truth[t, k] = np.nan, np.nan, -1
            order = np.argsort(truth[t] < 0, kind="stable")  # detections first
            image[t], world[t], truth[t] = image[t, order], world[t, order], truth[t, order]
    T = len(image)
    track = PoseTrack.empty(T, 30.0, (640, 480), hands=True, face=True, people=3)
    track.people_image[:] = image
    track.people_world[:] = world
    seen = np.isfinite(image[..., 0])
    track.people_visibility[:] = np.where(seen, 0.9, np.nan)
    track.people_presence[:] = np.where(seen, 0.9, np.nan)
    track.detected[:] = np.isfinite(image[:, 0, 23, 0])
    for key, src in (("image_landmarks", track.people_image), ("world_landmarks", track.people_world),
                     ("visibility", track.people_visibility), ("presence", track.people_presence)):
        getattr(track, key)[:] = src[:, 0]
    fed = truth[:, 0]  # whose hands / face the loop followed
    track.hand_presence[:] = np.where(fed >= 0, fed + 1.0, np.nan)[:, None]
    track.face_presence[:] = np.where(fed >= 0, fed + 1.0, np.nan)
    return track, truth


def test_the_default_follows_the_prominent_person_and_never_shows_the_other():
    from video_mocap.capture.people import follow_person

    track, truth = capture_like(hide_a=(100, 110))
    out = follow_person(track)
    assert out.people_world is None and out.extra["people_found"] == 2 and out.extra["person"] == 1
    a_seen = (truth == 0).any(1)
    assert (out.detected == a_seen).all() and out.extra["person_hidden"] == 10
    rows = np.nonzero(out.detected)[0]
    k = np.argmax(truth[rows] == 0, axis=1)
    assert np.array_equal(out.image_landmarks[rows], track.people_image[rows, k])  # only A's pose, ever
    # hands and face only where the loop followed A
    assert np.nanmax(out.hand_presence) == 1.0 and np.nanmax(out.face_presence) == 1.0
    b = follow_person(capture_like(hide_a=(100, 110))[0], person=2)
    assert b.extra["person"] == 2 and b.detected.sum() == (truth == 1).any(1).sum()
    assert np.nanmin(b.face_presence) == 2.0


def test_asking_for_a_person_not_there_says_how_many_there_are():
    import pytest

    from video_mocap.capture.errors import CaptureError
    from video_mocap.capture.people import follow_person

    with pytest.raises(CaptureError, match="2 people were found"):
        follow_person(capture_like()[0], person=3)


def test_one_person_alone_is_left_as_captured():
    from video_mocap.capture.people import follow_person
    from video_mocap.capture.track import PoseTrack

    track = PoseTrack.empty(20, 30.0, (640, 480), people=2)
    pose = body(0.5, 0.12, 0.5) + (0.5, 0.9, 0)
    track.people_image[:, 0] = track.image_landmarks[:] = pose
    track.people_world[:, 0] = track.world_landmarks[:] = pose
    track.detected[:] = True
    track.detected[5:8] = False  # gaps stay gaps, nothing else changes
    out = follow_person(track)
    assert out is track and out.people_world is None and out.extra["people_found"] == 1


def test_split_people_gives_one_ordinary_track_each_in_order():
    from video_mocap.capture.people import person_path, split_people

    track, truth = capture_like()
    takes = split_people(track)
    assert [t.extra["person"] for t in takes] == [1, 2] and all(t.extra["people"] == 2 for t in takes)
    for number, take in enumerate(takes):
        assert take.people_world is None and take.validate() is take
        assert take.detected.sum() == (truth == number).any(1).sum()
        assert take.extra["identity_jumps"] == 0
        assert set(np.unique(take.face_presence[np.isfinite(take.face_presence)])) <= {number + 1.0}
    assert person_path("out/t.npz", 2) == "out/t_p2.npz" and person_path("a.bvh", 1) == "a_p1.bvh"


def test_rows_carry_any_track_array_by_name():
    from video_mocap.capture.segment import Rows, place_rows
    from video_mocap.capture.track import PoseTrack

    track = PoseTrack.empty(4, 30.0, (64, 64), face=True, people=2)
    rows = Rows()
    rows.clear(1)
    found = tuple(np.ones(s, np.float32) for s in ((33, 3), (33, 3), 33, 33))
    every = {"people_world": np.full((2, 33, 3), 0.5, np.float32), "people_image": np.full((2, 33, 3), 0.25),
             "people_visibility": np.ones((2, 33)), "people_presence": np.ones((2, 33))}
    rows.add(found, 10, {"face_landmarks": np.full((478, 3), 0.3, np.float32), "face_presence": np.float32(1.0),
                         **every, "not_a_track_array": np.zeros(3)})
    rows.add(None, 20, {"face_landmarks": np.full((478, 3), np.nan, np.float32), "face_presence": np.float32(np.nan),
                        **every})
    msg = rows.message()
    assert len(msg) == 9 and set(msg[8]) >= {"face_landmarks", "face_presence", "people_world"}
    assert place_rows(track, msg, 0) == 2
    assert (track.face_landmarks[1] == np.float32(0.3)).all() and np.isnan(track.face_landmarks[[0, 2, 3]]).all()
    assert track.face_presence[1] == 1.0 and np.isnan(track.face_presence[2])
    assert (track.people_world[1:3] == 0.5).all() and np.isnan(track.people_world[[0, 3]]).all()
    assert track.detected.tolist() == [False, True, False, False]
