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
