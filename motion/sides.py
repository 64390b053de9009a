"""Left/right flips: frames where the landmarker swapped the person's left and right.

BlazePose sometimes labels the person's left limbs as the right ones (it takes a body seen from the
front for one seen from the back, or loses which leg is which), for a few frames or for most of a
take. Two kinds of evidence tell, and a Viterbi pass over each run of frames with a person weighs
them together, deciding the whole body at once (seven states per frame: as detected; legs, arms and
face, or everything exchanged; and each of those three as a front/back confusion, see below):

- Continuity (image landmarks): a flip shows as the left and right points trading places from one
  frame to the next, which real motion does not do in a frame's time: legs that cross, or a person
  turning round, move their points continuously through each other. Cost: the mean distance the
  points of each half move between frames (torso lengths), plus a small cost per exchanged half.
- Handedness (world landmarks, per frame, independent of the neighbouring frames): a body is not its
  own mirror image. With the torso's up (hips → shoulders) and the person's left (right → left
  shoulder, or hip), left × up is the person's front; the face (nose, eyes, mouth in front of the
  ears) and the feet (heel → toe) point that way too, and the shoulder and hip lines agree. Labels
  exchanged on one half, or on the whole body but not the face, break this; the cost per frame grows
  with how clearly each cue says so (a dead zone absorbs the detector's noise).

What handedness cannot see: a front/back confusion, where the detector takes a person facing the
camera for one facing away (or the reverse) and labels and depths alike are mirrored, keeps a
consistent body (or half body: the face goes with the arms, the feet with the legs). Such frames are
told only by continuity (their states carry the handedness of the detected labelling within each half),
so a front/back confusion of most of a run cannot be decided: the run's majority is kept, and the
frames exchanged that way are listed in `SideFix.backwards` / `uncertain` with a message. The world
landmarks, image landmarks, visibility and presence of exchanged frames are exchanged alike; depths
are not changed (mirroring them on cam02's confused frames did not bring its limbs nearer the reference).

Measured (tests/unit/test_sides.py, tests/e2e/test_real_footage.py): label swaps of the whole body or
the legs on 20-94 % of a synthetic run with 1 cm landmark noise (3 cm in depth), facing the camera, at
40° or from behind, come back to 0 % swapped frames and the clean clip's limb error (continuity alone
exchanged the correct minority: 100 % swapped). No clean frame is exchanged up to 3 cm noise (9 cm in
depth); at 5 cm, profile views get a few. The Pose2Sim cam02 footage, a front/back confusion on its
frames ~35-75, comes back to its own sides (98 % / 100 % of frames for the left / right limbs, from
70 % / 73 %); the other cameras are untouched.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..capture.landmarks import INDEX, NAMES
from ..capture.track import PoseTrack

PAIRS = tuple((i, INDEX["right_" + name[len("left_"):]]) for i, name in enumerate(NAMES) if name.startswith("left_"))
HALVES = {"upper": tuple(p for p in PAIRS if p[0] < INDEX["left_hip"]),
          "lower": tuple(p for p in PAIRS if p[0] >= INDEX["left_hip"])}
FLIP_COST = 0.01      # torso lengths per exchanged half and frame (a flip's jump costs ~0.5-1 at each end)
EVIDENCE_WEIGHT = 0.2  # torso lengths per unit of handedness evidence against a labelling, per frame (0.05-0.3
                       # all repair cam02; 0.5 lets noisy evidence override continuity there)
DEAD_ZONE = 0.25       # cosines below this against a labelling are noise, not evidence
# States: (upper exchanged, lower exchanged, front/back confusion: the exchanged halves were read from the
# wrong side, their depths mirrored with their labels, so that each half keeps its own handedness)
STATES = ((0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1), (0, 1, 1))
_ARRAYS = ("world_landmarks", "image_landmarks", "visibility", "presence")
_FACE = ("nose", "left_eye", "right_eye", "mouth_left", "mouth_right")


@dataclass
class SideFix:
    """Frames whose labels were exchanged, per body half (track rows), and what stays unsure.

    flipped: {'upper': rows, 'lower': rows}; backwards: rows exchanged as a front/back confusion (told
    by continuity alone); uncertain: rows whose labelling no evidence decides or which go against the
    handedness evidence; messages: sentences for the user about those."""
    flipped: dict = field(default_factory=dict)
    backwards: list = field(default_factory=list)
    uncertain: list = field(default_factory=list)
    messages: list = field(default_factory=list)

    @property
    def frames(self) -> int:
        """Frames with at least one half exchanged."""
        rows = [np.asarray(r, int) for r in self.flipped.values()]
        return len(np.unique(np.concatenate(rows))) if rows else 0

    def summary(self) -> str:
        if not self.frames:
            return ""
        return (f"left/right flips fixed on {self.frames} frames (upper body {len(self.flipped.get('upper', []))}, "
                f"lower body {len(self.flipped.get('lower', []))})")


def _runs(ok: np.ndarray):
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    return zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])


def _spans(rows) -> str:
    rows = np.asarray(sorted(rows), int)
    if not len(rows):
        return ""
    cuts = np.nonzero(np.diff(rows) > 1)[0]
    starts, stops = np.r_[rows[0], rows[cuts + 1]], np.r_[rows[cuts], rows[-1]]
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, stops))


def handedness(world: np.ndarray) -> dict:
    """world (T, 33, 3) → per frame cosines (T,), positive where the detected labels make a proper body:
    'face' face forward vs the shoulders' front, 'feet' heel → toe vs the hips' front, 'torso' the
    shoulders' front vs the hips' front, 'face_hips' the face vs the hips' front. Each is label-invariant
    on one side (face, feet, torso up) and changes sign when the other side's labels are exchanged."""
    W = np.asarray(world, np.float64)
    p = {name: W[:, INDEX[name]] for name in NAMES}
    up = (p["left_shoulder"] + p["right_shoulder"]) / 2 - (p["left_hip"] + p["right_hip"]) / 2
    ears = (p["left_ear"] + p["right_ear"]) / 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without a face: NaN
        front_face = np.nanmean(np.stack([p[n] for n in _FACE]), axis=0) - ears
    line_sh = p["left_shoulder"] - p["right_shoulder"]
    line_hip = p["left_hip"] - p["right_hip"]
    # left × up, scaled by the sine between them: a degenerate torso gives no evidence
    def front(line):
        c = np.cross(line, up)
        n = np.linalg.norm(line, axis=-1) * np.linalg.norm(up, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return c / n[:, None]
    f_sh, f_hip = front(line_sh), front(line_hip)
    feet = (p["left_foot_index"] - p["left_heel"]) + (p["right_foot_index"] - p["right_heel"])

    def dot(a, unit_b):  # cosine of a against b, times b's sine factor
        na = np.linalg.norm(a, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.sum(a * unit_b, axis=-1) / na
        return np.where(np.isfinite(c), np.clip(c, -1, 1), 0.0)
    return {"face": dot(front_face, f_sh), "feet": dot(feet, f_hip), "face_hips": dot(front_face, f_hip),
            "torso": np.clip(np.nan_to_num(np.sum(f_sh * f_hip, -1)), -1, 1)}


# Per cue: which halves' exchange flips its sign (upper, lower) when only labels were swapped, when the
# halves were read from the wrong side (the face with the upper half, the feet with the lower), and its weight.
_CUES = {"face": ((1, 0), (0, 0), 1.0), "feet": ((0, 1), (0, 0), 0.5),
         "face_hips": ((0, 1), (1, 1), 0.5), "torso": ((1, 1), (1, 1), 1.0)}


def evidence_costs(cues: dict, weight: float = EVIDENCE_WEIGHT, dead_zone: float = DEAD_ZONE) -> np.ndarray:
    """cues (handedness) → (T, len(STATES)) cost of each labelling per frame: how clearly the
    handedness says it is wrong. The front/back state reads the detection's own handedness."""
    T = len(next(iter(cues.values())))
    cost = np.zeros((T, len(STATES)))
    for k, (up, low, back) in enumerate(STATES):
        for name, (labels, sides, w) in _CUES.items():
            du, dl = sides if back else labels
            sign = (-1.0) ** (up * du + low * dl)
            cost[:, k] += w * np.maximum(0.0, -sign * cues[name] - dead_zone) / (1 - dead_zone)
    return weight * cost


def _steps(points: np.ndarray, a: int, b: int, pairs, scale: float) -> np.ndarray:
    """(n-1, 2, 2) step[t, s_now, s_before]: mean image distance (torso lengths) a half's points move from
    frame a+t to a+t+1 with them as detected (0) or exchanged (1)."""
    left = np.array([p for p, _ in pairs])
    right = np.array([q for _, q in pairs])
    seg = points[a:b]
    labelled = np.stack([seg[:, np.concatenate([left, right])], seg[:, np.concatenate([right, left])]], axis=1)
    dist = np.linalg.norm(labelled[1:, :, None] - labelled[:-1, None, :], axis=-1)  # missing points: NaN
    seen = np.isfinite(dist).sum(-1)
    return np.where(seen > 0, np.nansum(dist, -1) / np.maximum(seen, 1), 0.0) / scale


def label_states(points: np.ndarray, ok: np.ndarray, emission: np.ndarray | None = None,
                 flip_cost: float = FLIP_COST) -> np.ndarray:
    """points (T, 33, 2) image positions in pixels; ok (T,) frames to use; emission (T, len(STATES))
    evidence costs or None → (T,) index into STATES per frame (0 where not ok)."""
    shoulders = (points[:, INDEX["left_shoulder"]] + points[:, INDEX["right_shoulder"]]) / 2
    hips = (points[:, INDEX["left_hip"]] + points[:, INDEX["right_hip"]]) / 2
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    states = np.zeros(len(points), int)
    S = np.array(STATES)
    prior = flip_cost * (S[:, 0] + S[:, 1] + S[:, 2])  # a front/back reading costs a little more
    for a, b in _runs(ok):
        if b - a < 2:
            continue
        scale = float(np.nanmedian(torso[a:b]))
        if not np.isfinite(scale) or scale <= 0:
            continue
        up = _steps(points, a, b, HALVES["upper"], scale)
        lo = _steps(points, a, b, HALVES["lower"], scale)
        # trans[t, k_now, k_before]
        trans = up[:, S[:, 0]][:, :, S[:, 0]] + lo[:, S[:, 1]][:, :, S[:, 1]]
        n = b - a
        emit = prior[None] + (emission[a:b] if emission is not None else np.zeros((n, 1)))
        cost = emit[0].copy()
        back = np.zeros((n, len(STATES)), np.int8)
        for t in range(1, n):
            total = cost[None, :] + trans[t - 1]
            back[t] = np.argmin(total, axis=1)
            cost = total[np.arange(len(STATES)), back[t]] + emit[t]
        s = int(np.argmin(cost))
        for t in range(n - 1, -1, -1):
            states[a + t] = s
            s = int(back[t][s])
    return states


def flip_states(points: np.ndarray, ok: np.ndarray, pairs, flip_cost: float = FLIP_COST) -> np.ndarray:
    """Continuity alone, one half: points (T, 33, 2), ok (T,) → (T,) bool, frames whose `pairs` should be
    exchanged (kept for callers of the earlier interface)."""
    half = 0 if tuple(pairs) == HALVES["upper"] else 1
    return np.array(STATES)[label_states(points, ok, None, flip_cost), half].astype(bool)


def fix_side_flips(track: PoseTrack, flip_cost: float = FLIP_COST, evidence: bool = True,
                   evidence_weight: float = EVIDENCE_WEIGHT) -> tuple[PoseTrack, SideFix]:
    """A copy of the track with left/right flips undone (see the module's docstring), and what was done."""
    width, height = track.frame_size
    points = track.image_landmarks[..., :2].astype(np.float64) * (float(width), float(height))
    core = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    ok = track.detected.astype(bool) & np.isfinite(points[:, core]).all(axis=(1, 2))
    cues = handedness(track.world_landmarks)
    emission = evidence_costs(cues, evidence_weight) if evidence else None
    states = label_states(points, ok, emission, flip_cost)
    S = np.array(STATES)[states]
    out = track.sliced(0, len(track))
    out.extra = dict(track.extra)
    arrays = {key: getattr(track, key).copy() for key in _ARRAYS}
    fix = SideFix()
    for col, (half, pairs) in enumerate(HALVES.items()):
        rows = S[:, col].astype(bool) & ok
        fix.flipped[half] = np.nonzero(rows)[0].tolist()
        if not rows.any():
            continue
        order = [a for a, _ in pairs] + [b for _, b in pairs]
        swapped = [b for _, b in pairs] + [a for a, _ in pairs]
        for arr in arrays.values():
            block = arr[rows]
            block[:, order] = block[:, swapped]
            arr[rows] = block
    for key, arr in arrays.items():
        setattr(out, key, arr)
    upper = np.zeros(len(track), bool)
    upper[fix.flipped.get("upper", [])] = True
    if track.has_hands and upper.any():  # hands were given sides from the body's wrists: follow them
        for key, arr in track.hand_arrays().items():
            arr = arr.copy()
            arr[upper] = arr[upper][:, ::-1]
            setattr(out, key, arr)
    _explain(fix, states, ok, emission, evidence_weight)
    return out, fix


def _explain(fix: SideFix, states: np.ndarray, ok: np.ndarray, emission, weight: float) -> None:
    """Fill `backwards`, `uncertain` and `messages`."""
    back = np.array(STATES)[states, 2].astype(bool) & ok
    fix.backwards = np.nonzero(back)[0].tolist()
    against = np.zeros(len(states), bool)
    if emission is not None:
        chosen = emission[np.arange(len(states)), states]
        against = ok & (chosen > emission.min(axis=1) + weight * 0.5)
    fix.uncertain = sorted(set(fix.backwards) | set(np.nonzero(against)[0].tolist()))
    if fix.backwards:
        fix.messages.append(f"left/right: frames {_spans(fix.backwards)} look like a front/back confusion of the "
                            f"detector (the person taken as facing the other way); nothing but continuity tells "
                            f"which reading is right, the run's majority was kept: check those frames")
    if against.sum() >= max(3, 0.02 * ok.sum()):  # a stray noisy frame is not worth a warning
        fix.messages.append(f"left/right: on frames {_spans(np.nonzero(against)[0])} the labels kept go against "
                            f"the body's handedness; the sides there are unsure")
