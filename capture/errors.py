"""The one family of errors a user can act on. Each message says what went wrong and what to do.

Every error the product raises on purpose derives from `MocapError`: the headless command prints it as
one `error: …` line (exit 1), the operators report it with `self.report({'ERROR'}, …)` and return
`{'CANCELLED'}` (operators/common.py `reports_errors`). Nothing else is caught broadly. The base lives
in capture/, the lowest stage, so every later stage (and the capture worker processes, which import only
this folder) can derive from it.
"""


class MocapError(Exception):
    """Base class: the message is shown to the user as it is."""


class CaptureError(MocapError):
    """Capturing a video failed (video, model, people, cancel)."""


class VideoError(CaptureError):
    pass


class ModelError(CaptureError):
    pass


class NoPersonError(CaptureError):
    pass


class Cancelled(CaptureError):
    pass


class TrackError(MocapError, ValueError):
    """A landmark cache that cannot be read as a PoseTrack, or a range outside it."""


class RigError(MocapError, ValueError):
    """A target armature or bone map that cannot be used."""


class ExportError(MocapError):
    """An output file that cannot be written."""


class MotionError(MocapError, ValueError):
    """A track that cannot be cleaned or solved (e.g. nobody detected in the chosen frames)."""
