"""Several people: who is who across frames. No bpy, no MediaPipe: numpy on the detections
(`follow_person` / `split_people`: a capture's every-pose arrays → the people's tracks).

A capture that may see several people keeps, per frame, every pose MediaPipe returned (up to K, in
MediaPipe's order, which is not an identity). `assign_identities` links them into people:

- per frame, a cost between every known person and every detection: the mean image distance of the
  landmarks both see well, after moving the person by their recent velocity, in units of the person's
  size (so near and far people are judged alike), plus a bounding-box term (1 − IoU);
- detections and people are matched with the Hungarian method (scipy-free: small K, exhaustive over
  permutations up to 6); a match costing more than `GATE` is no match;
- a person not matched is "lost"; a lost person is found again (re-identification after occlusion) by
  the same cost with the gate widened with the time lost, plus how much the body's proportions differ
  (bone-length ratios from the world landmarks: a signature that does not depend on where they are);
- an unmatched detection starts a new person.

People are numbered in order of first appearance, left to right when they appear together.
`prominent_person` picks the default performer: the largest person over the first second of their
appearance among those seen in the first second of the clip.
"""
from __future__ import annotations

import itertools

import numpy as np

from .landmarks import INDEX as I

GATE = 0.6            # person sizes (mean landmark distance) + (1 − IoU): beyond this, not the same person
LOST_GROWTH = 0.5     # the gate grows by this much per second a person was out of sight
MAX_LOST_S = 5.0      # after this long out of sight a person is not looked for any more
MIN_VIS = 0.5
SIGNATURE = ((I["left_shoulder"], I["right_shoulder"]), (I["left_hip"], I["right_hip"]),
             (I["left_shoulder"], I["left_elbow"]), (I["right_shoulder"], I["right_elbow"]),
             (I["left_hip"], I["left_knee"]), (I["right_hip"], I["right_knee"]),
             (I["left_knee"], I["left_ankle"]), (I["right_knee"], I["right_ankle"]))
BODY = list(range(11, 33))


def boxes(image: np.ndarray, vis: np.ndarray | None = None) -> np.ndarray:
    """(…,33,3) normalised image landmarks → (…,4) x0, y0, x1, y1 of the well-seen body landmarks."""
    pts = image[..., BODY, :2].astype(np.float64)
    ok = np.isfinite(pts).all(-1)
    if vis is not None:
        ok &= np.nan_to_num(vis[..., BODY], nan=0.0) >= MIN_VIS
    ok = np.where(ok.sum(-1, keepdims=True) >= 4, ok, np.isfinite(pts).all(-1))
    lo = np.where(ok[..., None], pts, np.inf).min(-2)
    hi = np.where(ok[..., None], pts, -np.inf).max(-2)
    return np.concatenate([lo, hi], -1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def signature(world: np.ndarray) -> np.ndarray:
    """Bone-length ratios (to the mean of them) of one pose's world landmarks: who, not where."""
    d = np.array([np.linalg.norm(world[a] - world[b]) for a, b in SIGNATURE])
    return d / np.nanmean(d) if np.isfinite(d).any() and np.nanmean(d) > 0 else d


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1], 1e-3))


class _Person:
    def __init__(self, pid: int, t: int, image, box, sig):
        self.id, self.first, self.last = pid, t, t
        self.image, self.box, self.velocity = image, box, np.zeros(2)
        self.sigs = [sig]
        self.area = [(box[2] - box[0]) * (box[3] - box[1])]

    def shift(self, t: int, fps: float) -> np.ndarray:
        """Constant velocity, for at most one second."""
        return self.velocity * min(t - self.last, fps)

    def predicted(self, t: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
        d = self.shift(t, fps)
        return self.image[:, :2] + d, self.box + np.concatenate([d, d])

    def update(self, t: int, image, box, sig):
        dt = max(1, t - self.last)
        centre_new = np.nanmean(image[BODY, :2], 0)
        centre_old = np.nanmean(self.image[BODY, :2], 0)
        v = (centre_new - centre_old) / dt
        self.velocity = 0.5 * self.velocity + 0.5 * np.nan_to_num(v)
        self.image, self.box, self.last = image, box, t
        if len(self.sigs) < 60:
            self.sigs.append(sig)
        if len(self.area) < 60:
            self.area.append((box[2] - box[0]) * (box[3] - box[1]))

    def signature(self) -> np.ndarray:
        return np.nanmedian(np.stack(self.sigs), 0)


def _cost(person: _Person, t: int, image, vis, box, sig, fps: float) -> float:
    pred, pred_box = person.predicted(t, fps)
    ok = np.isfinite(pred).all(-1) & np.isfinite(image[:, :2]).all(-1)
    if vis is not None:
        ok &= np.nan_to_num(vis, nan=0.0) >= MIN_VIS
    ok[:11] = False  # the face is small: the body decides
    if ok.sum() < 3:
        ok = np.isfinite(pred).all(-1) & np.isfinite(image[:, :2]).all(-1)
    if not ok.any():
        return np.inf
    dist = np.linalg.norm(pred[ok] - image[ok, :2], axis=-1).mean() / _size(person.box)
    cost = dist + (1.0 - iou(pred_box, box))
    gone = (t - person.last) / fps
    if gone > 1.0 / fps + 1e-9:  # re-identification: proportions count, the gate widens with time
        diff = np.nanmean(np.abs(person.signature() - sig)) if np.isfinite(sig).any() else 0.0
        cost = cost / (1.0 + LOST_GROWTH * gone) + 2.0 * diff
    return float(cost)


def _match(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost matching of rows (people) to columns (detections), gated."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    best, best_pairs = np.inf, []
    if max(n, m) <= 6:
        if n <= m:
            for cols in itertools.permutations(range(m), n):
                pairs = [(r, c) for r, c in enumerate(cols) if cost[r, c] <= GATE]
                total = sum(cost[r, c] for r, c in pairs) + GATE * (n - len(pairs))
                if total < best:
                    best, best_pairs = total, pairs
        else:
            for rows in itertools.permutations(range(n), m):
                pairs = [(r, c) for c, r in enumerate(rows) if cost[r, c] <= GATE]
                total = sum(cost[r, c] for r, c in pairs) + GATE * (m - len(pairs))
                if total < best:
                    best, best_pairs = total, pairs
        return best_pairs
    pairs, used_r, used_c = [], set(), set()  # greedy for crowds
    for flat in np.argsort(cost, axis=None):
        r, c = divmod(int(flat), m)
        if r in used_r or c in used_c or cost[r, c] > GATE:
            continue
        pairs.append((r, c))
        used_r.add(r)
        used_c.add(c)
    return pairs


def assign_identities(image: np.ndarray, world: np.ndarray, vis: np.ndarray | None = None,
                      fps: float = 30.0) -> np.ndarray:
    """image, world (T,K,33,3), vis (T,K,33): every detection of every frame (NaN rows where fewer than K)
    → ids (T,K): the person number of each detection (0, 1, … in order of first appearance, left to
    right when together), −1 for no detection."""
    T, K = image.shape[:2]
    ids = np.full((T, K), -1, int)
    people: list[_Person] = []
    raw_ids = np.full((T, K), -1, int)
    for t in range(T):
        dets = [k for k in range(K) if np.isfinite(image[t, k, BODY, :2]).any()]
        if not dets:
            continue
        bx = {k: boxes(image[t, k], None if vis is None else vis[t, k]) for k in dets}
        sg = {k: signature(world[t, k]) for k in dets}
        alive = [p for p in people if (t - p.last) / fps <= MAX_LOST_S]
        cost = np.array([[_cost(p, t, image[t, k], None if vis is None else vis[t, k], bx[k], sg[k], fps)
                          for k in dets] for p in alive]).reshape(len(alive), len(dets))
        matched = _match(cost)
        for r, c in matched:
            k = dets[c]
            alive[r].update(t, image[t, k], bx[k], sg[k])
            raw_ids[t, k] = alive[r].id
        taken = {c for _, c in matched}
        new = sorted((c for c in range(len(dets)) if c not in taken), key=lambda c: bx[dets[c]][0])
        for c in new:  # left to right
            k = dets[c]
            people.append(_Person(len(people), t, image[t, k], bx[k], sg[k]))
            raw_ids[t, k] = people[-1].id
    ids[:] = raw_ids
    return ids


def person_tracks(ids: np.ndarray, *arrays: np.ndarray) -> tuple[list[int], list[tuple[np.ndarray, ...]]]:
    """Split (T,K,…) arrays into one (T,…) array per person (NaN / False where the person is not seen).
    → (person numbers in order, [(array per person) …])."""
    people = sorted(set(ids[ids >= 0].tolist()))
    out = []
    for pid in people:
        rows = []
        for arr in arrays:
            fill = False if arr.dtype == bool else np.nan
            one = np.full(arr.shape[:1] + arr.shape[2:], fill, dtype=arr.dtype)
            t, k = np.nonzero(ids == pid)
            one[t] = arr[t, k]
            rows.append(one)
        out.append(tuple(rows))
    return people, out


def prominent_person(ids: np.ndarray, image: np.ndarray, fps: float, window_s: float = 1.0) -> int:
    """The default performer: among the people seen in the clip's first `window_s` seconds (else the
    first to appear), the one whose body box is largest on average over their first second."""
    seen_first = set(ids[: max(1, int(round(window_s * fps)))].ravel().tolist()) - {-1}
    candidates = sorted(seen_first) or sorted(set(ids.ravel().tolist()) - {-1})[:1]
    if not candidates:
        return -1
    best, best_area = candidates[0], -1.0
    for pid in candidates:
        t, k = np.nonzero(ids == pid)
        keep = t < t.min() + max(1, int(round(fps))) if len(t) else t
        b = boxes(image[t[keep], k[keep]])
        area = float(np.mean((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))) if len(b) else 0.0
        if area > best_area:
            best, best_area = pid, area
    return best


# ----------------------------------------------------------------------------------------------
# A capture's every-pose arrays (PoseTrack.people_*) → the people's tracks

MIN_SEEN_S = 0.1  # a person seen on fewer frames than this (and 3) is a stray detection, not a person


def person_path(path, number: int) -> str:
    """`t.npz` → `t_p1.npz`: the file of person `number` (1-based) among several."""
    from pathlib import Path

    p = Path(path)
    return str(p.with_name(f"{p.stem}_p{int(number)}{p.suffix}"))


def _identities(track) -> tuple[np.ndarray, list[int]]:
    """ids (T,K) of every pose of the track's every-pose arrays, and the people worth a take (seen on
    enough frames), in their order (first appearance, left to right when together)."""
    ids = assign_identities(track.people_image, track.people_world, track.people_visibility, track.fps)
    counts = np.bincount(ids[ids >= 0], minlength=1) if (ids >= 0).any() else np.zeros(0, int)
    least = max(3, int(round(MIN_SEEN_S * track.fps)))
    return ids, [pid for pid in range(len(counts)) if counts[pid] >= least]


def _followed_slot(track) -> np.ndarray:
    """(T,) the slot of the every-pose arrays whose pose is the row's own (the one the hands and face
    followed in the frame loop), −1 where none."""
    same = np.all(track.people_image[..., :2] == track.image_landmarks[:, None, :, :2], axis=(2, 3))
    same &= track.detected[:, None]
    return np.where(same.any(1), np.argmax(same, 1), -1)


def _person_take(track, ids: np.ndarray, pid: int, fed: np.ndarray, people: list[int]):
    """A copy of the track whose pose rows are person `pid`'s (no person where they are not seen) and
    whose hands / face are kept except where they were placed from the body of another of `people`
    (the people worth a take: a stray detection, or hands / face found in the full frame, take nothing
    away); no every-pose arrays."""
    t_idx, k_idx = np.nonzero(ids == pid)
    out = track.sliced(0, len(track))
    for key in ("people_world", "people_image", "people_visibility", "people_presence"):
        setattr(out, key, None)
    out.world_landmarks = np.full_like(track.world_landmarks, np.nan)
    out.image_landmarks = np.full_like(track.image_landmarks, np.nan)
    out.visibility = np.full_like(track.visibility, np.nan)
    out.presence = np.full_like(track.presence, np.nan)
    out.detected = np.zeros(len(track), bool)
    out.world_landmarks[t_idx] = track.people_world[t_idx, k_idx]
    out.image_landmarks[t_idx] = track.people_image[t_idx, k_idx]
    out.visibility[t_idx] = track.people_visibility[t_idx, k_idx]
    out.presence[t_idx] = track.people_presence[t_idx, k_idx]
    out.detected[t_idx] = True
    rows = np.arange(len(track))
    whose = np.where(fed >= 0, ids[rows, np.maximum(fed, 0)], -1)
    others = np.nonzero(np.isin(whose, [p for p in people if p != pid]))[0]
    # On those rows the hands / face went with another person's body: dropped where they were placed
    # from it (crops around its hands / face), kept where they were searched in the full frame.
    from .face import face_crop
    from .hands import body_sides

    width, height = track.frame_size
    hands_theirs = np.ones(len(track), bool)
    face_theirs = np.ones(len(track), bool)
    for t in others:
        image, presence = track.people_image[t, fed[t]], track.people_presence[t, fed[t]]
        hands_theirs[t] = not body_sides((None, image, None, presence))
        face_theirs[t] = face_crop(image, width, height, presence) is None
    for key, keep in (("hand_world_landmarks", hands_theirs), ("hand_image_landmarks", hands_theirs),
                      ("hand_presence", hands_theirs), ("face_landmarks", face_theirs),
                      ("face_presence", face_theirs), ("face_expressions", face_theirs)):
        array = getattr(out, key)
        if array is not None:
            array = array.copy()
            array[~keep] = np.nan
            setattr(out, key, array)
    out.extra = dict(track.extra)
    return out


def _drop_people(track):
    for key in ("people_world", "people_image", "people_visibility", "people_presence"):
        setattr(track, key, None)
    return track


def follow_person(track, person: int | None = None):
    """One person's take from a capture's every-pose arrays (people = 1): the most prominent at the start
    (`prominent_person`), or `person` (1-based, in the numbering of `split_people`); frames where they are
    not seen are no-person frames, never another's pose. When the capture never saw two people at once
    nor a body jumping across the image, the track is the one person's as it is.
    track.extra: people_found, person (1-based), person_hidden (frames without them), people_ids."""
    from .errors import CaptureError

    if not track.has_people:
        return track
    poses = np.isfinite(track.people_image[..., BODY, 0]).any(-1).sum(1)
    centre = 0.5 * (track.image_landmarks[:, 23, :2] + track.image_landmarks[:, 24, :2])
    ok = track.detected & np.isfinite(centre).all(1)
    jumps = ok[1:] & ok[:-1] & (np.linalg.norm(np.diff(centre, axis=0), axis=1) > 0.15)
    several = int(poses.max(initial=0)) >= 2 or bool(jumps.any()) or bool(track.extra.get("people_switched"))
    if not several:
        if person not in (None, 1):
            raise CaptureError(f"Person {person} was asked for, but only one person was found in the video.")
        track.extra.update(people_found=1 if track.detected.any() else 0, person=1, person_hidden=0)
        return _drop_people(track)
    ids, found = _identities(track)
    if not found:
        track.extra.update(people_found=0, person=1, person_hidden=0)
        return _drop_people(track)
    if person is None:
        chosen = prominent_person(np.where(np.isin(ids, found), ids, -1), track.people_image, track.fps)
        chosen = chosen if chosen in found else found[0]
    elif not 1 <= int(person) <= len(found):
        raise CaptureError(f"Person {person} was asked for, but {len(found)} "
                           f"{'person was' if len(found) == 1 else 'people were'} found in the video "
                           f"(choose 1 to {len(found)}).")
    else:
        chosen = found[int(person) - 1]
    out = _person_take(track, ids, chosen, _followed_slot(track), found)
    out.extra.update(people_found=len(found), person=found.index(chosen) + 1,
                     person_hidden=int(len(out) - out.detected.sum()),
                     people_max=max(int(track.extra.get("people_max", 1)), int(poses.max(initial=0))))
    return out


def split_people(track) -> list:
    """A capture's every-pose arrays (people > 1) → one ordinary track per person found, in their order
    (first appearance, left to right when together): track.extra['person'] = 1, 2, …, extra['people'] =
    how many. A track without every-pose arrays is one person: [track]."""
    if not track.has_people:
        track.extra.setdefault("person", 1)
        track.extra.setdefault("people", 1)
        return [track]
    ids, found = _identities(track)
    if not found:
        return [_drop_people(track)]
    fed = _followed_slot(track)
    poses = np.isfinite(track.people_image[..., BODY, 0]).any(-1).sum(1)
    takes = []
    for number, pid in enumerate(found, 1):
        take = _person_take(track, ids, pid, fed, found)
        take.extra.update(person=number, people=len(found), person_hidden=int(len(take) - take.detected.sum()),
                          people_max=max(int(track.extra.get("people_max", 1)), int(poses.max(initial=0))))
        from .segment import identity_jumps

        take.extra["identity_jumps"] = identity_jumps(take)
        takes.append(take)
    return takes
