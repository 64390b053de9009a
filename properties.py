"""Scene settings of the Mocap panel (scene.video_mocap): source video, takes, target, bone map, motion.

Only the user's choices live here (they are saved with the .blend). The state of a running capture
(progress, status line) is Python memory: blender/jobs.py. Files saved before the rename to
`video_mocap` keep their settings: `migrate_settings` copies the old `mocap` group on load.
"""
import os

import bpy

from .blender import jobs
from .capture.models import DEFAULT_VARIANT, HINTS, VARIANTS
from .pipeline import RANGES
from .retarget.bonemaps import GENERIC, PRESETS
from .retarget.rig import ROLES
from .retarget.solver import ROOT_MODE_HELP, ROOT_MODES

ROOT_MODE_TEXT = {m: (m.replace("_", " ").title(), ROOT_MODE_HELP[m].capitalize()) for m in ROOT_MODES}


def _video_changed(self, context):
    """Read the chosen video's size, fps and length (shown in the panel); never raises."""
    from .capture.errors import VideoError
    from .capture.video import probe

    self.video_error = ""
    self.video_frames = 0
    addon = context.preferences.addons.get(__package__) if context else None
    if addon is not None and not self.is_property_set("model"):
        self.model = addon.preferences.default_model
    path = os.path.abspath(bpy.path.abspath(self.video_path)) if self.video_path else ""
    if not path:
        return
    try:
        info = probe(path)
    except VideoError as exc:
        self.video_error = str(exc)
        return
    self.video_width, self.video_height = info.width, info.height
    self.video_fps, self.video_frames = info.fps, info.frame_count
    if not self.use_frame_range:
        self.frame_first, self.frame_last = 0, max(info.frame_count, 1)


def _is_armature(self, obj):
    return obj.type == "ARMATURE"


class VIDEO_MOCAP_PG_take(bpy.types.PropertyGroup):
    """One captured landmark track (its cache file), reusable without detecting again."""
    path: bpy.props.StringProperty(name="Landmarks", subtype="FILE_PATH")
    source: bpy.props.StringProperty(name="Video")
    model: bpy.props.StringProperty(name="Model")
    frames: bpy.props.IntProperty(name="Frames")
    first_frame: bpy.props.IntProperty(name="First Video Frame")
    detected: bpy.props.FloatProperty(name="Detected", subtype="FACTOR", min=0, max=1)
    partial: bpy.props.BoolProperty(name="Partial")
    person: bpy.props.IntProperty(name="Person", default=0, min=0,
                                  description="The person of a several-people capture (1-based; 0: a one-person take)")
    people: bpy.props.IntProperty(name="People", default=0, min=0,
                                  description="How many people the capture this take belongs to has (0: one)")


class VIDEO_MOCAP_PG_found_person(bpy.types.PropertyGroup):
    """A person Find People saw in one frame (name = "Person N")."""
    number: bpy.props.IntProperty(name="Person", min=1, description="The person's number, as a capture numbers them")
    box: bpy.props.FloatVectorProperty(name="Box", size=4,
                                       description="x0, y0, x1, y1 in the video frame (0-1, y down)")
    thumbnail: bpy.props.StringProperty(name="Thumbnail", subtype="FILE_PATH")


def _found_index_changed(self, context):
    """Choosing a row of the people found follows that person."""
    if 0 <= self.found_people_index < len(self.found_people):
        number = self.found_people[self.found_people_index].number
        top = self.bl_rna.properties["person"].hard_max
        if self.person != number and number <= top:  # beyond Follow Person's range: not followed (no clamping)
            self.person = number


def _person_changed(self, context):
    from .blender.picker import sync_found_index

    sync_found_index(self)


class VIDEO_MOCAP_PG_bone_map_item(bpy.types.PropertyGroup):
    """role → bone of the target armature (name = role)."""
    bone: bpy.props.StringProperty(name="Bone", description="Bone of the target armature playing this role")


class VIDEO_MOCAP_PG_settings(bpy.types.PropertyGroup):
    # Source
    video_path: bpy.props.StringProperty(name="Video", subtype="FILE_PATH", description="Video of the performers",
                                         update=_video_changed)
    video_width: bpy.props.IntProperty(options={"SKIP_SAVE"})
    video_height: bpy.props.IntProperty(options={"SKIP_SAVE"})
    video_fps: bpy.props.FloatProperty(options={"SKIP_SAVE"})
    video_frames: bpy.props.IntProperty(options={"SKIP_SAVE"})
    video_error: bpy.props.StringProperty(options={"SKIP_SAVE"})
    model: bpy.props.EnumProperty(
        name="Model", default=DEFAULT_VARIANT,
        items=[(v, v.title(), f"BlazePose GHUM {v}: {HINTS[v]}") for v in VARIANTS])
    people: bpy.props.IntProperty(name="People", default=1, min=1, max=4,
                                  description="How many people to capture: each gets a take of their own (Apply All "
                                              "People puts each on an armature, placed where they stood)")
    person: bpy.props.IntProperty(name="Follow Person", default=0, min=0, max=4,
                                  description="With one person captured: whom to follow. 0: the most prominent at the "
                                              "start; N: person N, as a capture of several people numbers them "
                                              "(Find People lists them; Pick Person: click one in the reference "
                                              "video)", update=_person_changed)
    # The person picker (Find People / Pick Person): the people seen in one video frame
    found_people: bpy.props.CollectionProperty(type=VIDEO_MOCAP_PG_found_person)
    found_people_index: bpy.props.IntProperty(name="Person Found", default=-1, update=_found_index_changed)
    found_video: bpy.props.StringProperty(subtype="FILE_PATH", description="The video the people were found in")
    found_frame: bpy.props.IntProperty(default=-1, description="The video frame the people were found at")
    found_size: bpy.props.IntVectorProperty(size=2, description="That video's frame size")
    use_frame_range: bpy.props.BoolProperty(name="Frame Range", default=False,
                                            description="Capture only part of the video")
    frame_first: bpy.props.IntProperty(name="First", default=0, min=0, description="First video frame (0-based)")
    frame_last: bpy.props.IntProperty(name="Last", default=100, min=1,
                                      description="Video frame after the last one captured")
    keep_partial: bpy.props.BoolProperty(name="Keep Partial Take", default=False,
                                         description="When a capture is cancelled, keep what was captured")
    # Takes
    takes: bpy.props.CollectionProperty(type=VIDEO_MOCAP_PG_take)
    take_index: bpy.props.IntProperty(name="Take", default=0)
    track_path: bpy.props.StringProperty(name="Landmarks", subtype="FILE_PATH",
                                         description="Landmark cache (.npz) to apply")
    # Target
    target: bpy.props.PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                                      description="Armature to animate (empty: the active armature)")
    rig_preset: bpy.props.EnumProperty(
        name="Bone Names", default="AUTO",
        items=[("AUTO", "Auto-detect", "Recognise the preset from the armature's bone names"),
               ("CUSTOM", "Custom Map", "Use the bone map below (edit it, save or load it as JSON)"),
               ("JSON", "Bone Map File", "Use the bone map JSON file below")]
        + [(p, p.title(), f"{p} bone names") for p in PRESETS]
        + [(GENERIC, "Guess From Names", "Guess each bone's role from the words of its name and the hierarchy "
                                         "(Daz, Character Creator, Biped, MakeHuman, Thigh_L, L_UpperArm, …)")])
    bone_map_path: bpy.props.StringProperty(name="Bone Map", subtype="FILE_PATH",
                                            description="Bone map JSON (role → bone name)")
    bone_map: bpy.props.CollectionProperty(type=VIDEO_MOCAP_PG_bone_map_item)
    bone_map_index: bpy.props.IntProperty(default=0)
    detected_preset: bpy.props.StringProperty(options={"SKIP_SAVE"})
    # Motion
    root_mode: bpy.props.EnumProperty(name="Root", default="hips",
                                      items=[(m, *ROOT_MODE_TEXT[m]) for m in ROOT_MODES])
    smoothing: bpy.props.EnumProperty(
        name="Smoothing", default="zero_phase",
        items=[("zero_phase", "Offline (no lag)", "Zero-phase smoothing using past and future frames"),
               ("one_euro", "One Euro", "Causal filter with a real-time feel (some lag)"),
               ("none", "None", "Raw landmarks (short gaps still filled)")])
    smooth_hz: bpy.props.FloatProperty(name="Strength (Hz)", default=5.0,
                                       min=RANGES["smooth_hz"][0], max=RANGES["smooth_hz"][1],
                                       description="Motion faster than this is damped; 6-8 Hz for fast sport or dance")
    hands: bpy.props.BoolProperty(name="Hands", default=False,
                                  description="Capture both hands too and key the fingers (about two thirds of the "
                                              "body-only capture speed, over twice its CPU)")
    face: bpy.props.BoolProperty(name="Face", default=False,
                                 description="Capture the face too: expressions keyed on the character's shape keys "
                                             "(ARKit or VRM names) and Rigify face bones; the head turns with the face")
    face_strength: bpy.props.FloatProperty(name="Expression Strength", default=1.0, soft_max=1.5,
                                           min=RANGES["face_strength"][0], max=RANGES["face_strength"][1],
                                           description="Expression weights are multiplied by this (0: not keyed)")
    face_neutral_frame: bpy.props.IntProperty(name="Neutral Face Frame", default=-1, min=-1,
                                              description="Video frame where the performer's face is relaxed "
                                                          "(-1: found in the clip)")
    face_map: bpy.props.StringProperty(name="Shape Key Map", default="", subtype="FILE_PATH",
                                       description='Optional JSON naming shape keys: {"shape_keys": {"jawOpen": '
                                                   '"MouthOpen"}}')
    fusion: bpy.props.BoolProperty(name="Image-Plane Fusion", default=True,
                                   description="Place the joints on the camera rays through the detected 2D "
                                               "points, with the model's depth and constant bone lengths "
                                               "(steadier, truer to the video)")
    fix_sides: bpy.props.BoolProperty(name="Fix Left/Right Flips", default=True,
                                      description="Undo frames where the detector swapped the person's left and "
                                                  "right (seen as limbs jumping across the body)")
    foot_lock: bpy.props.BoolProperty(name="Foot Locking", default=True,
                                      description="Keep planted feet from sliding (with root motion)")
    lens_known: bpy.props.BoolProperty(name="Known Lens", default=False,
                                       description="Use the Camera FOV below. Off: the lens is read from a walk "
                                                   "toward or away from the camera when the take has one, else "
                                                   "60° is assumed (the report says which)")
    fov_deg: bpy.props.FloatProperty(name="Camera FOV", default=60.0,
                                     min=RANGES["fov_deg"][0], max=RANGES["fov_deg"][1],
                                     description="The video camera's field of view across the longer side "
                                                 "(for root motion); phones are about 55-70°")
    # Live (issue 16): a camera, a stream or a file played in real time; the running session is
    # Python memory (blender/live.py)
    live_source: bpy.props.StringProperty(
        name="Live Source", default="0",
        description="Camera number (0 = the first camera) or /dev/videoN, a stream address (http://… MJPEG, "
                    "rtsp://…), or a video file played at its real-time rate (rehearsal)")
    live_loop: bpy.props.BoolProperty(name="Loop File", default=False,
                                      description="Play a video file source again from the start when it ends")
    live_filter: bpy.props.BoolProperty(name="One Euro Filter", default=True,
                                        description="Steady the live pose with a low-lag One Euro filter")
    live_min_cutoff: bpy.props.FloatProperty(name="Min Cutoff (Hz)", default=3.0, min=0.1, max=30.0,
                                             description="One Euro: lower is steadier when still, with more lag")
    live_beta: bpy.props.FloatProperty(name="Speed Response", default=8.0, min=0.0, max=100.0,
                                       description="One Euro beta: higher follows fast motion with less lag")
    # Reference video
    reference_take: bpy.props.StringProperty(subtype="FILE_PATH", description="Take shown as reference video")
    reference_frame_start: bpy.props.IntProperty(default=1)
    show_skeleton: bpy.props.BoolProperty(name="2D Skeleton", default=True,
                                          description="Draw the detected skeleton over the reference video")

    # The running capture (blender/jobs.py), read-only: nothing of it is stored in the scene.
    @property
    def is_capturing(self) -> bool:
        return jobs.peek(self.id_data).is_capturing

    @property
    def progress(self) -> float:
        return jobs.peek(self.id_data).progress

    @property
    def status(self) -> str:
        return jobs.peek(self.id_data).status

    def active_take(self):
        if 0 <= self.take_index < len(self.takes):
            return self.takes[self.take_index]
        return None

    def custom_map(self) -> dict:
        return {item.name: item.bone for item in self.bone_map if item.bone}

    def fill_bone_map(self, bone_map: dict) -> None:
        self.bone_map.clear()
        for role in ROLES:
            item = self.bone_map.add()
            item.name = role
            item.bone = bone_map.get(role, "")


classes = (VIDEO_MOCAP_PG_take, VIDEO_MOCAP_PG_found_person, VIDEO_MOCAP_PG_bone_map_item, VIDEO_MOCAP_PG_settings)

OLD_NAME = "mocap"  # the Scene property before it was namespaced (files saved by version ≤ 0.x)
RUNTIME_KEYS = ("is_capturing", "progress", "status", "cancel_requested")  # never carried over


def _assign(struct, values: dict) -> None:
    """Set RNA properties of `struct` from an ID-property dict (enums stored as numbers, collections as
    lists of dicts); unknown keys and values that no longer fit are skipped."""
    props = struct.bl_rna.properties
    for key, value in values.items():
        prop = props.get(key)
        if prop is None or prop.is_readonly and prop.type != "COLLECTION":
            continue
        try:
            if prop.type == "COLLECTION":
                collection = getattr(struct, key)
                collection.clear()
                for item in value:
                    _assign(collection.add(), dict(item))
            elif prop.type == "ENUM" and isinstance(value, int):
                ident = next((e.identifier for e in prop.enum_items if e.value == value), None)
                if ident is not None:
                    setattr(struct, key, ident)
            else:
                setattr(struct, key, value)
        except (TypeError, ValueError, AttributeError):
            continue


def migrate_settings(scene) -> bool:
    """Settings saved under the old name `mocap` (a plain ID-property group once its class is gone) →
    `scene.video_mocap`, through RNA; the old group is removed. Runtime keys of the old version
    (is_capturing, progress, status, cancel_requested) are dropped. True when something was copied."""
    old = scene.get(OLD_NAME)
    if old is None or not hasattr(old, "to_dict"):
        return False
    values = {k: v for k, v in old.to_dict().items() if k not in RUNTIME_KEYS}
    settings = scene.video_mocap
    # Keys the setters would recompute (video info) are skipped by SKIP_SAVE already; the video path
    # goes last so its update reads the video with the other settings in place.
    video = values.pop("video_path", None)
    _assign(settings, values)
    if video:
        settings.video_path = video
    del scene[OLD_NAME]
    return True


@bpy.app.handlers.persistent
def _migrate_on_load(_filepath=None):
    for scene in bpy.data.scenes:
        migrate_settings(scene)


def register_props():
    bpy.types.Scene.video_mocap = bpy.props.PointerProperty(type=VIDEO_MOCAP_PG_settings)
    bpy.app.handlers.load_post.append(_migrate_on_load)


def unregister_props():
    if _migrate_on_load in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_migrate_on_load)
    del bpy.types.Scene.video_mocap
