"""Helpers shared by the operators: the one error path, reporting a pipeline Report, redraws."""
from __future__ import annotations

import functools

from ..capture.errors import MocapError


def reports_errors(method):
    """Wrap an operator's execute/invoke/modal: a `MocapError` (the product's own errors, each worded for
    the user) is reported as an ERROR and the operator returns {'CANCELLED'}. Nothing else is caught:
    a bug shows its traceback. (Blender checks the argument count, so the wrapper keeps the method's.)"""

    def call(self, *args):
        try:
            return method(self, *args)
        except MocapError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    if method.__code__.co_argcount == 3:  # invoke(self, context, event), modal(self, context, event)
        def wrapper(self, context, event):
            return call(self, context, event)
    else:  # execute(self, context)
        def wrapper(self, context):
            return call(self, context)
    return functools.update_wrapper(wrapper, method, updated=())


def report_messages(operator, report, summary: str) -> None:
    """Every WARNING of a pipeline Report as its own warning, then one INFO summary that also carries
    the report's INFO lines: the same words the headless command prints."""
    for message in report.messages:
        if message.severity == "WARNING":
            operator.report({"WARNING"}, message.text)
    infos = [m.text for m in report.messages if m.severity != "WARNING"]
    operator.report({"INFO"}, "; ".join([summary] + infos))


def redraw_view3d(context) -> None:
    for area in context.screen.areas if context.screen else ():
        if area.type == "VIEW_3D":
            area.tag_redraw()
