"""Issue 17 #3, #4, #6 in Blender: the face onto a character (shape keys by ARKit / VRM names or a map,
Rigify jaw and lids), the head from the face, a NEW action per mesh's shape keys, the FBX round trip."""
import numpy as np
import pytest
import synthetic_face as SF

from video_mocap.capture.track import PoseTrack
from video_mocap.motion.face import EXPRESSION_NAMES, VRM_NAMES, vrm_expressions
from video_mocap.retarget.rotations import rotation_angle
from video_mocap.retarget.solver import MEDIAPIPE_TO_BLENDER

bpy = pytest.importorskip("bpy")

from video_mocap.blender.action import action_fcurves  # noqa: E402
from video_mocap.blender.face import add_face_test_mesh, apply_face, match_shape_keys, normalise  # noqa: E402

T, FPS, SIZE = 24, 30.0, (640, 480)
STRENGTH = 0.8
NO_FACE = (10, 11)
YAW = 30.0


def _expressions():
    """Known ARKit weights: each a different smooth curve in 0..1."""
    t = np.arange(T)[:, None]
    k = np.arange(len(EXPRESSION_NAMES))[None]
    return (0.5 + 0.45 * np.sin(0.3 * t + k)).astype(np.float32)


def _track(rest_points):
    """A still body (the metarig at rest) with a face turned by YAW and known expressions."""
    mp = np.stack([rest_points[..., 0], -rest_points[..., 2], rest_points[..., 1]], axis=-1)
    track = PoseTrack.empty(T, FPS, SIZE, source="face_take.mp4", model="full", face=True)
    track.world_landmarks[:] = mp
    track.image_landmarks[:] = 0.5
    track.visibility[:] = track.presence[:] = 1.0
    track.detected[:] = True
    track.timestamps_ms[:] = np.round(np.arange(T) * 1000 / FPS)
    verts = SF.face()
    for t in range(T):
        if t not in NO_FACE:
            track.face_landmarks[t] = SF.project(verts, SF.rotation(YAW, 0, 0), SIZE)
            track.face_presence[t] = 1.0
    weights = _expressions()
    weights[list(NO_FACE)] = np.nan
    track.face_expressions, track.face_expression_names = weights, EXPRESSION_NAMES
    return track.validate()


SPELLINGS = {  # shape key on the second mesh → the ARKit name it must match
    "EyeBlink_L": "eyeBlinkLeft", "eye_blink_right": "eyeBlinkRight", "blendShape1.jawOpen": "jawOpen",
    "BS_mouthSmileLeft": "mouthSmileLeft", "A_browInnerUp": "browInnerUp", "MOUTH_SMILE.R": "mouthSmileRight",
}
VRM_KEYS = {"Blink": "blink", "Blink_L": "blinkLeft", "A": "aa", "Fcl_MTH_I": "ih", "Joy": "happy"}
MAPPED = {"MouthOpen": "jawOpen", "Lashes_Blink": "blink"}


def _mesh(name, keys, parent):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = parent
    obj.shape_key_add(name="Basis")
    for key in keys:
        obj.shape_key_add(name=key, from_mix=False)
    return obj


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    from video_mocap.blender.apply import apply_track, choose_bone_map
    from video_mocap.blender.armature import add_metarig, read_rest_pose
    from video_mocap.retarget.body import rest_landmarks

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = add_metarig(bpy.context)
    head = add_face_test_mesh(bpy.context, rig)
    spelled = _mesh("spelled", list(SPELLINGS), rig)
    vrm = _mesh("vrm_avatar", list(VRM_KEYS), rig)
    mapped = _mesh("mapped", list(MAPPED) + ["Unrelated"], rig)
    # The user's own shape-key animation must survive.
    key = head.data.shape_keys
    key.key_blocks["jawOpen"].value = 0.3
    key.key_blocks["jawOpen"].keyframe_insert("value", frame=3)
    user_action = key.animation_data.action
    user_keys = [tuple(k.co) for fc in action_fcurves(user_action, key) for k in fc.keyframe_points]
    _, bone_map = choose_bone_map(rig, "auto")
    track = _track(rest_landmarks(read_rest_pose(rig), bone_map))
    shape_key_map = tmp_path_factory.mktemp("map") / "map.json"
    shape_key_map.write_text('{"shape_keys": {"JawOpen": "MouthOpen", "blink": ["Lashes_Blink"]}}')
    result = apply_track(bpy.context, rig, track, frame_start=1, level=False, root_mode="in_place",
                         fusion=False, fix_sides=False)
    assert result.face is not None
    # the map: through apply_face directly (the lead wires Options.face_map)
    mapped_result = apply_face(bpy.context, rig, track, 1, strength=STRENGTH, shape_key_map=str(shape_key_map),
                               action=result.action)
    return dict(rig=rig, head=head, spelled=spelled, vrm=vrm, mapped=mapped, track=track, result=result,
                mapped_result=mapped_result, user_action=user_action, user_keys=user_keys, bone_map=bone_map)


def _curve_values(mesh, name, result=None):
    """The keyed values of a shape key at the take's frames, in `result`'s action (default: the current)."""
    key = mesh.data.shape_keys
    path = f'key_blocks["{name}"].value'
    action = result["actions"][mesh.name] if result is not None else key.animation_data.action
    curves = [fc for fc in action_fcurves(action, key) if fc.data_path == path]
    assert len(curves) == 1, (mesh.name, name)
    return np.array([curves[0].evaluate(f) for f in range(1, T + 1)])


def test_names_are_matched_in_several_spellings():
    for spelt, arkit in SPELLINGS.items():
        assert normalise(spelt) == normalise(arkit), spelt
    assert match_shape_keys(list(SPELLINGS)) == SPELLINGS
    assert match_shape_keys(list(VRM_KEYS)) == VRM_KEYS
    assert match_shape_keys(["Fcl_EYE_Close_L", "Fcl_EYE_Close", "Sorrow"]) == {
        "Fcl_EYE_Close_L": "blinkLeft", "Fcl_EYE_Close": "blink", "Sorrow": "sad"}
    # a mesh with ARKit keys takes no VRM shapes on top; an explicit map wins, auto can be switched off
    assert match_shape_keys(["jawOpen", "A", "Blink"]) == {"jawOpen": "jawOpen"}
    assert match_shape_keys(["MouthOpen", "jawOpen"], explicit={"jawOpen": ["MouthOpen"]}) == {
        "MouthOpen": "jawOpen", "jawOpen": "jawOpen"}
    assert match_shape_keys(["MouthOpen", "jawOpen"], explicit={"jawOpen": ["MouthOpen"]}, auto=False) == {
        "MouthOpen": "jawOpen"}


def test_shape_keys_take_the_expression_values(applied):
    weights = _expressions()
    seen = [t for t in range(T) if t not in NO_FACE]
    head, result = applied["head"], applied["result"]
    assert set(result.face["shape_keys"]["face_test_head"]) == set(EXPRESSION_NAMES)
    for i, name in enumerate(EXPRESSION_NAMES):
        np.testing.assert_allclose(_curve_values(head, name, result.face)[seen], weights[seen, i], atol=1e-5,
                                   err_msg=name)
    for spelt, arkit in SPELLINGS.items():
        values = _curve_values(applied["spelled"], spelt, result.face)
        np.testing.assert_allclose(values[seen], weights[seen, EXPRESSION_NAMES.index(arkit)], atol=1e-5)
    vrm, names = vrm_expressions(weights)
    for key, preset in VRM_KEYS.items():
        np.testing.assert_allclose(_curve_values(applied["vrm"], key, result.face)[seen],
                                   vrm[seen, VRM_NAMES.index(preset)], atol=1e-5)
    # frames without a face: held from the neighbours, easing toward neutral; never NaN
    values = _curve_values(head, "jawOpen", result.face)
    assert np.isfinite(values).all() and values[NO_FACE[0]] <= values[NO_FACE[0] - 1] + 1e-6


def test_the_map_and_strength(applied):
    weights = _expressions()
    seen = [t for t in range(T) if t not in NO_FACE]
    mapped = applied["mapped_result"]["shape_keys"]["mapped"]
    assert mapped == {"MouthOpen": "jawOpen", "Lashes_Blink": "blink"}
    assert "mapped" not in applied["result"].face["shape_keys"]  # no ARKit / VRM names there: only by the map
    np.testing.assert_allclose(_curve_values(applied["mapped"], "MouthOpen")[seen],
                               STRENGTH * weights[seen, EXPRESSION_NAMES.index("jawOpen")], atol=1e-5)
    vrm, _ = vrm_expressions(weights)
    np.testing.assert_allclose(_curve_values(applied["mapped"], "Lashes_Blink")[seen],
                               STRENGTH * vrm[seen, VRM_NAMES.index("blink")], atol=1e-5)
    key = applied["mapped"].data.shape_keys
    assert not any("Unrelated" in fc.data_path for fc in action_fcurves(key.animation_data.action, key))


def test_users_shape_key_action_is_untouched(applied):
    head = applied["head"]
    key = head.data.shape_keys
    user_action = applied["user_action"]
    ours = applied["result"].face["actions"]["face_test_head"]
    assert ours is not user_action and key.animation_data.action is not user_action
    assert ours["video_mocap_previous_action"] == user_action
    assert [tuple(k.co) for fc in action_fcurves(user_action, key) for k in fc.keyframe_points] \
        == applied["user_keys"]
    assert user_action.name in bpy.data.actions


def test_jaw_and_lids_and_head_follow_the_face(applied):
    rig, result = applied["rig"], applied["result"]
    assert {"jaw", "lid.T.L", "lid.T.R"} <= set(result.face["bones"])
    scene = bpy.context.scene
    weights = _expressions()
    t = int(np.argmax(weights[:, EXPRESSION_NAMES.index("jawOpen")] * ~np.isin(np.arange(T), NO_FACE)))
    scene.frame_set(1 + t)
    bpy.context.view_layer.update()
    jaw = rig.pose.bones["jaw"]
    rest_tail = np.array(rig.data.bones["jaw"].tail_local)
    assert jaw.tail.z < rest_tail[2] - 0.005  # the mouth opens: the chin goes down
    # the head turned like the face (yaw about the vertical, in Blender axes)
    head = applied["bone_map"]["head"]
    posed = np.array(rig.pose.bones[head].matrix)[:3, :3]
    rest = np.array(rig.data.bones[head].matrix_local)[:3, :3]
    flip = np.diag([1.0, -1.0, -1.0])
    turn = MEDIAPIPE_TO_BLENDER @ flip @ SF.rotation(YAW, 0, 0) @ flip @ MEDIAPIPE_TO_BLENDER.T
    assert rotation_angle(posed @ rest.T @ turn.T) < 3.0


def test_fbx_round_trip_carries_the_shape_key_animation(applied, tmp_path):
    from video_mocap.blender.export import export_fbx

    path = tmp_path / "face.fbx"
    export_fbx(bpy.context, applied["rig"], str(path), preset="blender")
    expected = _curve_values(applied["head"], "jawOpen")
    before = set(bpy.data.objects)
    bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)
    imported = [o for o in set(bpy.data.objects) - before if o.type == "MESH" and o.data.shape_keys]
    head = next(o for o in imported if "face_test_head" in o.name)
    key = head.data.shape_keys
    assert key.animation_data is not None and key.animation_data.action is not None
    curves = {fc.data_path: fc for fc in action_fcurves(key.animation_data.action, key)}
    assert {f'key_blocks["{n}"].value' for n in EXPRESSION_NAMES} <= set(curves)
    back = np.array([curves['key_blocks["jawOpen"].value'].evaluate(f) for f in range(1, T + 1)])
    np.testing.assert_allclose(back, expected, atol=0.01)


def test_contact_sheet_draws_the_face(applied):
    from video_mocap.blender.contact_sheet import _draw_face

    img = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    assert _draw_face(img, applied["track"], 0) and img.any()
    blank = np.zeros_like(img)
    assert not _draw_face(blank, applied["track"], NO_FACE[0]) and not blank.any()


def test_contact_sheet_draws_the_hands_on_their_sides():
    """Hands in the take are drawn in the contact sheet, the person's left in the left colour."""
    from video_mocap.blender.contact_sheet import LEFT, RIGHT, _draw_hands
    from video_mocap.capture.track import PoseTrack

    track = PoseTrack.empty(2, 30, (200, 100), hands=True)
    hand = np.zeros((21, 3), np.float32)
    hand[:, 0] = np.linspace(0.1, 0.3, 21)
    hand[:, 1] = 0.5
    track.hand_image_landmarks[0, 0] = hand
    track.hand_image_landmarks[0, 1] = hand + (0.5, 0, 0)
    img = np.zeros((100, 200, 3), np.uint8)
    assert _draw_hands(img, track, 0) == 2 and _draw_hands(img, track, 1) == 0
    left, right = img[:, :100].reshape(-1, 3), img[:, 100:].reshape(-1, 3)
    assert (left == LEFT).all(1).any() and (right == RIGHT).all(1).any()
    assert not (left == RIGHT).all(1).any()
