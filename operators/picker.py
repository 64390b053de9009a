"""The person picker: Find People (who is in the frame, with thumbnails) and Pick Person (click one in
the reference video). Both set Follow Person, which the capture follows (Options.person). The finding
and the geometry are capture/picker.py; the scene side is blender/picker.py; these only translate."""
from __future__ import annotations

import os

import bpy

from ..blender import jobs
from ..blender.picker import camera_frame_corners, capture_start, found_people, shown_video_frame, store_found
from ..blender.scene import model_override, settings_of, video_abspath
from ..capture.errors import CaptureError, MocapError, VideoError
from ..capture.picker import click_to_image, find_people, person_at
from .common import reports_errors

FOLLOW_MAX = 4  # Follow Person's largest value


def _shown_frame(context) -> int | None:
    settings = settings_of(context)
    return shown_video_frame(context.scene, video_abspath(settings))


def find(context, frame: int | None = None):
    """Find the people at `frame` (None: the frame the reference video shows, else the capture's first)
    and store them (with thumbnails) on the settings. → capture.picker.Found."""
    settings = settings_of(context)
    video = video_abspath(settings)
    if not video:
        raise VideoError("Choose a video first (Source ▸ Video).")
    if not os.path.isfile(video):
        raise VideoError(f"The video {video} is missing. Choose it again.")
    start, stop = capture_start(settings)
    if frame is None:
        frame = _shown_frame(context)
    found = find_people(video, frame, start, stop, poses=max(2, settings.people), model=settings.model,
                        model_path=model_override(context, settings.model))
    store_found(context, video, found)
    return found


def _fresh(context) -> bool:
    """The people found are those of the video and of the frame shown now (as Find People would clamp it
    into the capture's range)."""
    settings = settings_of(context)
    if not settings.found_people or settings.found_video != video_abspath(settings):
        return False
    shown = _shown_frame(context)
    if shown is None:
        return True
    start, stop = capture_start(settings)
    last = min(x for x in (stop, settings.video_frames or None) if x) - 1 if (stop or settings.video_frames) else None
    target = max(start, shown if last is None else min(shown, last))
    return target == settings.found_frame


def follow(operator, settings, number: int) -> bool:
    """Follow Person = number; the report says who is followed (and when the setting cannot hold it)."""
    if number > FOLLOW_MAX:
        operator.report({"ERROR"}, f"Person {number} cannot be followed: Follow Person goes up to {FOLLOW_MAX}. "
                                   f"Find the people at the capture's first frame, or capture several people.")
        return False
    settings.person = number
    note = "" if settings.people == 1 else f" (when People is 1; with People {settings.people} each gets a take)"
    operator.report({"INFO"}, f"Following person {number}{note}")
    return True


class VIDEO_MOCAP_OT_find_people(bpy.types.Operator):
    """Find the people in the video frame the reference video shows (else the capture's first frame),
    numbered as the capture numbers them, with a thumbnail each: choose whom to follow in the list"""

    bl_idname = "video_mocap.find_people"
    bl_label = "Find People"
    bl_options = {"REGISTER", "UNDO"}

    frame: bpy.props.IntProperty(name="Video Frame", default=-1, min=-1, options={"SKIP_SAVE"},
                                 description="Video frame to look at (-1: the one the reference video shows, "
                                             "else the capture's first)")

    @classmethod
    def poll(cls, context):
        if not settings_of(context).video_path:
            cls.poll_message_set("Choose a video first")
            return False
        if jobs.running(context.scene) is not None:
            cls.poll_message_set("A capture is running")
            return False
        return True

    @reports_errors
    def execute(self, context):
        found = find(context, None if self.frame < 0 else self.frame)
        n = len(found.people)
        how = "" if found.frame == found.start else \
            f", numbered following them from frame {found.start} ({found.detections} frames looked at)"
        self.report({"INFO"}, f"Found {n} {'person' if n == 1 else 'people'} at video frame {found.frame}{how}: "
                              f"choose one in the list, or Pick Person and click one in the reference video")
        return {"FINISHED"}


class VIDEO_MOCAP_OT_pick_person(bpy.types.Operator):
    """Click a person in the reference video (camera view) to follow them. Esc or right-click cancels"""

    bl_idname = "video_mocap.pick_person"
    bl_label = "Pick Person"
    bl_options = {"REGISTER", "UNDO"}

    x: bpy.props.FloatProperty(name="X", default=-1.0, options={"SKIP_SAVE"},
                               description="Point in the video frame (0 left, 1 right); -1: click it")
    y: bpy.props.FloatProperty(name="Y", default=-1.0, options={"SKIP_SAVE"},
                               description="Point in the video frame (0 top, 1 bottom); -1: click it")

    @classmethod
    def poll(cls, context):
        return VIDEO_MOCAP_OT_find_people.poll(context)

    def pick(self, context, point) -> set:
        """The person at a normalised image point (the people found again when they are not those of the
        frame shown) becomes Follow Person."""
        settings = settings_of(context)
        if not _fresh(context):
            find(context)
        person = person_at(found_people(settings), point)
        if person is None:
            numbers = ", ".join(str(p.number) for p in found_people(settings))
            self.report({"WARNING"}, f"Nobody at ({point[0]:.2f}, {point[1]:.2f}) of video frame "
                                     f"{settings.found_frame}: click on a person (found: {numbers})")
            return {"CANCELLED"}
        return {"FINISHED"} if follow(self, settings, person.number) else {"CANCELLED"}

    @reports_errors
    def execute(self, context):  # scripts and tests: the point given
        if not (0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise CaptureError("Give the point to pick (x and y between 0 and 1), or click it in the viewport.")
        return self.pick(context, (self.x, self.y))

    @reports_errors
    def invoke(self, context, event):
        if 0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0:
            return self.execute(context)
        if not any(_camera_view(a) for a in _view3d_areas(context)):
            raise CaptureError("Look through the reference camera to pick (Reference Video ▸ Show Reference "
                               "Video, or Numpad 0), then click a person.")
        if not _fresh(context):
            find(context)  # now, so that the click answers at once
        context.window.cursor_modal_set("EYEDROPPER")
        context.workspace.status_text_set("Click a person in the reference video · Esc / right-click: cancel")
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _end(self, context):
        context.window.cursor_modal_restore()
        context.workspace.status_text_set(None)

    def modal(self, context, event):
        try:
            result = self.step(context, event)
        except MocapError as exc:
            self.report({"ERROR"}, str(exc))
            result = {"CANCELLED"}
        if not result & {"RUNNING_MODAL", "PASS_THROUGH"}:
            self._end(context)
        return result

    def step(self, context, event) -> set:
        """One event: Esc / right-click cancel; a left click on the reference video picks."""
        if event.type in {"ESC", "RIGHTMOUSE"} and event.value == "PRESS":
            return {"CANCELLED"}
        if event.type != "LEFTMOUSE" or event.value != "PRESS":
            return {"RUNNING_MODAL"} if event.type == "MOUSEMOVE" else {"PASS_THROUGH"}
        hit = _clicked(context, event.mouse_x, event.mouse_y)
        if hit is None:
            self.report({"WARNING"}, "Click on the reference video in a 3D view looking through the reference camera")
            return {"RUNNING_MODAL"}
        region, rv3d, mouse = hit
        settings, scene = settings_of(context), context.scene
        corners = camera_frame_corners(scene, region, rv3d)
        point = None
        if corners is not None and settings.found_size[0] > 0:
            point = click_to_image(mouse, corners, tuple(settings.found_size),
                                   (scene.render.resolution_x, scene.render.resolution_y))
        if point is None:
            self.report({"WARNING"}, "Click inside the video frame")
            return {"RUNNING_MODAL"}
        result = self.pick(context, point)
        return result if "FINISHED" in result else {"RUNNING_MODAL"}


def _view3d_areas(context):
    screen = context.window.screen if context.window else context.screen
    return [a for a in (screen.areas if screen else ()) if a.type == "VIEW_3D"]


def _camera_view(area) -> bool:
    rv3d = area.spaces.active.region_3d
    return rv3d is not None and rv3d.view_perspective == "CAMERA"


def _clicked(context, mouse_x: int, mouse_y: int):
    """The 3D view's main region under the mouse (window pixels) that looks through the camera →
    (region, region_3d, mouse in region pixels), or None."""
    for area in _view3d_areas(context):
        if not _camera_view(area):
            continue
        for region in area.regions:
            if region.type == "WINDOW" and region.x <= mouse_x < region.x + region.width \
                    and region.y <= mouse_y < region.y + region.height:
                return region, area.spaces.active.region_3d, (mouse_x - region.x, mouse_y - region.y)
    return None


classes = (VIDEO_MOCAP_OT_find_people, VIDEO_MOCAP_OT_pick_person)
