"""Several people in Blender: the People / Follow Person settings, a take per person, Apply All People
(copies of the chosen armature or new metarigs, each with its own action, placed where the people stood).

The two people are fabricated: the human metarig's rest landmarks, swaying a little, seen by a pinhole
camera (60° across the longer side) with person 1's hips 4 m in front of it and person 2 one metre to
the camera's right of them (and 0.5 m further back), so where the armatures go is known.
"""
from dataclasses import fields
from types import SimpleNamespace

import numpy as np
import pytest

from video_mocap.capture.track import PoseTrack

bpy = pytest.importorskip("bpy")

FRAMES, SIZE, FOV = 16, (1280, 720), 60.0
PERSON1 = np.array([0.0, 0.0, 4.0])   # camera space of the hips (MediaPipe axes: x right, y down, z away)
APART = np.array([1.0, 0.0, 0.5])     # person 2 = person 1 + this (1 m to the right, 0.5 m further away)


def rest_points() -> np.ndarray:
    """The human metarig's rest pose as 33 landmarks (Blender axes, metres), from a throwaway metarig."""
    from video_mocap.blender.armature import add_metarig, read_rest_pose
    from video_mocap.retarget.body import rest_landmarks
    from video_mocap.retarget.bonemaps import detect_preset

    rig = add_metarig(bpy.context, "measure")
    _, bone_map = detect_preset([b.name for b in rig.data.bones])
    P = rest_landmarks(read_rest_pose(rig), bone_map)
    bpy.data.objects.remove(rig)
    return P


def person_track(P: np.ndarray, hips_camera: np.ndarray, person: int, people: int) -> PoseTrack:
    """A take of the rest pose swaying side to side, its image landmarks the pinhole projection of the
    world landmarks placed with their hip centre at hips_camera."""
    from video_mocap.capture.landmarks import INDEX as I

    hip = (P[I["left_hip"]] + P[I["right_hip"]]) / 2
    world = np.stack([P[..., 0], -P[..., 2], P[..., 1]], -1) - np.array([hip[0], -hip[2], hip[1]])  # → MediaPipe
    world = np.nan_to_num(world)
    t = np.arange(FRAMES)[:, None, None]
    world = world[None] + 0.01 * np.sin(t / 3.0) * np.array([1.0, 0.0, 0.0])  # a little sway
    cam = world + hips_camera
    w, h = SIZE
    f = max(SIZE) / 2 / np.tan(np.radians(FOV) / 2)
    image = np.stack([(f * cam[..., 0] / cam[..., 2] + w / 2) / w, (f * cam[..., 1] / cam[..., 2] + h / 2) / h,
                      world[..., 2]], -1)
    track = PoseTrack.empty(FRAMES, 30.0, SIZE, "two.mp4", "full")
    track.world_landmarks[:] = world
    track.image_landmarks[:] = image
    track.visibility[:] = 1.0
    track.presence[:] = 1.0
    track.detected[:] = True
    track.extra.update(person=person, people=people)
    return track


@pytest.fixture
def two_people(scene, tmp_path):
    """Two person takes in the takes list, as a two-people capture leaves them (the capture operator's
    completion driven with a status holding `tracks`)."""
    P = rest_points()
    tracks = [person_track(P, PERSON1, 1, 2), person_track(P, PERSON1 + APART, 2, 2)]
    driver = FinishDriver(str(tmp_path / "two_full_2people_abc.npz"), people=2)
    status = SimpleNamespace(error=None, track=tracks[0], tracks=tracks)
    assert driver._finish(scene, status) == {"FINISHED"}
    return tracks, driver


class FinishDriver:
    """VIDEO_MOCAP_OT_capture's completion, bound to a stand-in (as tests/blender/test_ui.py drives it)."""

    def __init__(self, cache_file, people=1):
        op = bpy.types.VIDEO_MOCAP_OT_capture
        self.reports, self.cache_file, self.started, self.people = [], cache_file, 0.0, people
        self._finish, self._finish_people = (getattr(op, n).__get__(self) for n in ("_finish", "_finish_people"))

    def report(self, kind, message):
        self.reports.append((kind, message))


def test_people_settings_map_into_options(scene):
    from video_mocap import pipeline
    from video_mocap.blender.scene import options
    from video_mocap.operators.capture import people_options

    settings = scene.video_mocap
    assert (settings.people, settings.person) == (1, 0)  # one person, the most prominent
    settings.people, settings.person = 3, 2
    assert settings.people == 3
    settings.people = 9
    assert settings.people == 4  # clamped to 1-4
    names = {f.name for f in fields(pipeline.Options)}
    if not {"people", "person"} <= names:
        pytest.skip("pipeline.Options has no people/person options yet (several-people capture)")
    opts = options(bpy.context, **people_options(settings))
    assert (opts.people, opts.person) == (4, 2)
    settings.person = 0
    assert options(bpy.context, **people_options(settings)).person is None  # 0: the most prominent


def test_panel_shows_people_and_apply_all_people(scene, two_people):
    from test_ui import draw_all

    p = draw_all(bpy.context)
    assert p["VIDEO_MOCAP_PT_source"].has("prop", "'people'") and p["VIDEO_MOCAP_PT_source"].has("prop", "'person'")
    assert p["VIDEO_MOCAP_PT_apply"].has("operator", "video_mocap.apply_people")
    scene.video_mocap.takes.add()  # a one-person take selected: no Apply All People
    scene.video_mocap.take_index = len(scene.video_mocap.takes) - 1
    assert not draw_all(bpy.context)["VIDEO_MOCAP_PT_apply"].has("operator", "video_mocap.apply_people")
    assert not bpy.ops.video_mocap.apply_people.poll()


def test_a_take_per_person(scene, two_people, tmp_path):
    from video_mocap.blender.people import capture_base, person_cache_path

    tracks, driver = two_people
    settings = scene.video_mocap
    assert [t.name for t in settings.takes] == [f"two.mp4 · full · 0-{FRAMES - 1} · person 1",
                                                f"two.mp4 · full · 0-{FRAMES - 1} · person 2"]
    assert [(t.person, t.people) for t in settings.takes] == [(1, 2), (2, 2)]
    base = str(tmp_path / "two_full_2people_abc.npz")
    assert [t.path for t in settings.takes] == [str(tmp_path / "two_full_2people_abc_p1.npz"),
                                                str(tmp_path / "two_full_2people_abc_p2.npz")]
    assert person_cache_path(base, 2) == settings.takes[1].path and capture_base(settings.takes[1].path) == base
    assert settings.take_index == 0 and settings.track_path == settings.takes[0].path  # the first person active
    for take, track in zip(settings.takes, tracks):
        np.testing.assert_allclose(PoseTrack.load(take.path).image_landmarks, track.image_landmarks)
    assert any("Captured 2 people" in m for _, m in driver.reports)
    assert "2 people" in settings.status
    # Captured again: the takes are replaced, not added twice.
    driver._finish(scene, SimpleNamespace(error=None, track=tracks[0], tracks=tracks))
    assert len(settings.takes) == 2
    # A one-person capture whose status also lists its track: an ordinary take.
    one = person_track(rest_points(), PERSON1, 1, 1)
    FinishDriver(str(tmp_path / "one.npz"))._finish(scene, SimpleNamespace(error=None, track=one, tracks=[one]))
    assert settings.takes[-1].name == f"two.mp4 · full · 0-{FRAMES - 1}" and settings.takes[-1].person == 0


def test_capture_operator_with_people(scene, sample_video, full_model):
    """The real capture with People 2 on the one-person sample: the person found gets a person take, saved
    beside the capture's cache as `_p1`; Apply All People then works on it."""
    import os

    settings = scene.video_mocap
    settings.video_path = str(sample_video)
    settings.use_frame_range, settings.frame_first, settings.frame_last = True, 0, 6
    settings.people = 2
    assert bpy.ops.video_mocap.capture() == {"FINISHED"}
    take = settings.active_take()
    assert take.person == 1 and take.name.endswith(" · person 1") and take.path.endswith("_p1.npz")
    assert "_2people" in os.path.basename(take.path) and os.path.isfile(take.path)
    assert bpy.ops.video_mocap.apply_people.poll()


def _placement(objs):
    return [np.array(o.matrix_world.translation) for o in objs]


def test_apply_all_people_onto_copies_of_the_selected_armature(scene, two_people):
    from video_mocap.blender.armature import add_metarig

    rig = add_metarig(bpy.context, "hero")
    rig.location = (2.0, 3.0, 0.0)
    scene.video_mocap.target = rig
    bpy.context.view_layer.update()
    assert bpy.ops.video_mocap.apply_people() == {"FINISHED"}
    copy = bpy.data.objects["hero_p2"]
    assert copy.type == "ARMATURE" and copy.data is not rig.data and copy.data.name == "hero_p2"
    assert len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 2  # the original + one copy
    a1, a2 = rig.animation_data.action, copy.animation_data.action
    assert a1 is not None and a2 is not None and a1 is not a2
    assert (a1.name, a2.name) == ("two_full_p1", "two_full_p2") and (a1["mocap_person"], a2["mocap_person"]) == (1, 2)
    p1, p2 = _placement([rig, copy])
    np.testing.assert_allclose(p1, (2.0, 3.0, 0.0), atol=1e-6)  # person 1 stays where the armature was
    apart = p2 - p1
    # Person 2 stood 1 m to the camera's right (+X) and 0.5 m further away (+Y); same rig, same person
    # proportions: scale 1.
    np.testing.assert_allclose(apart, (APART[0], APART[2], 0.0), atol=0.01)  # measured: 1e-5, 2e-4
    assert scene.frame_end == FRAMES
    # Applied again (say, other motion settings), with the copy selected: the same two armatures, new actions.
    scene.video_mocap.target = copy
    assert bpy.ops.video_mocap.apply_people() == {"FINISHED"}
    assert sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE") == ["hero", "hero_p2"]
    assert rig.animation_data.action not in (a1, a2) and copy.animation_data.action not in (a1, a2)
    np.testing.assert_allclose(_placement([copy])[0], p2, atol=1e-5)


def test_apply_all_people_respects_the_armatures_axes(scene, two_people):
    """A turned, scaled armature: the people's offset is in its own axes, like its root motion."""
    from video_mocap.blender.armature import add_metarig
    from video_mocap.blender.people import apply_people

    rig = add_metarig(bpy.context, "turned")
    rig.rotation_euler = (0.0, 0.0, np.pi / 2)
    rig.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    result = apply_people(bpy.context, two_people[0], rig)  # the function the operator calls
    assert [a.name for a in result.armatures] == ["turned", "turned_p2"] and result.persons == [1, 2]
    lines = result.report.lines()
    assert any(line.startswith("person 2: keyed") and "'two_full_p2'" in line for line in lines), lines
    assert lines[-1].startswith("placed person 2 at +1.00, +0.50 from person 1")
    p1, p2 = _placement(result.armatures)
    # Armature +X is world +Y, +Y is world −X; ×2.
    np.testing.assert_allclose(p2 - p1, (-2 * APART[2], 2 * APART[0], 0.0), atol=0.02)


def test_apply_all_people_without_an_armature_adds_a_metarig_each(scene, two_people):
    assert all(o.type != "ARMATURE" for o in bpy.data.objects)
    assert bpy.ops.video_mocap.apply_people() == {"FINISHED"}
    rigs = [bpy.data.objects.get("metarig_p1"), bpy.data.objects.get("metarig_p2")]
    assert all(r is not None and r.type == "ARMATURE" for r in rigs)
    assert rigs[0].data is not rigs[1].data
    assert rigs[0].animation_data.action is not rigs[1].animation_data.action
    p1, p2 = _placement(rigs)
    # Metarigs built to each person's proportions (the metarig's own): scale ≈ 1.
    np.testing.assert_allclose(p2 - p1, (APART[0], APART[2], 0.0), atol=0.01)


def test_a_person_never_seen_fails_before_anything_is_made(scene, two_people):
    from video_mocap.blender.armature import add_metarig
    from video_mocap.blender.people import apply_people
    from video_mocap.capture.errors import MotionError

    tracks = two_people[0]
    tracks[1].detected[:] = False
    rig = add_metarig(bpy.context, "hero")
    with pytest.raises(MotionError, match="Person 2 was not found"):
        apply_people(bpy.context, tracks, rig)
    assert [o.name for o in bpy.data.objects if o.type == "ARMATURE"] == ["hero"]
    assert rig.animation_data is None or rig.animation_data.action is None


def test_duplicate_carries_the_character(scene):
    """A full copy: the skinned mesh comes along, with its own data, deformed by the copy."""
    from video_mocap.blender.armature import add_metarig
    from video_mocap.blender.people import duplicate_armature

    rig = add_metarig(bpy.context, "char")
    bpy.ops.mesh.primitive_cube_add()
    body = bpy.context.active_object
    body.name = "body"
    body.shape_key_add(name="Basis")
    body.shape_key_add(name="jawOpen")
    body.parent = rig
    body.modifiers.new("Armature", "ARMATURE").object = rig
    copy = duplicate_armature(bpy.context, rig, "char_p2")
    body2 = bpy.data.objects["body_p2"]
    assert copy.name == "char_p2" and body2.parent is copy and body2.modifiers["Armature"].object is copy
    assert body2.data is not body.data and body2.data.shape_keys is not body.data.shape_keys
    assert body.parent is rig and body.modifiers["Armature"].object is rig  # the original untouched
    assert set(copy.users_collection) == set(rig.users_collection)


def test_apply_a_single_persons_take_with_the_normal_apply(scene, two_people):
    from video_mocap.blender.armature import add_metarig

    rig = add_metarig(bpy.context, "solo")
    scene.video_mocap.target = rig
    scene.video_mocap.take_index = 1  # person 2
    assert bpy.ops.video_mocap.apply() == {"FINISHED"}
    assert rig.animation_data.action is not None
    assert [o.name for o in bpy.data.objects if o.type == "ARMATURE"] == ["solo"]  # no copies
