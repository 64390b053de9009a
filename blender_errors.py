"""The exceptions whose messages are meant for users (shown as they are, without a traceback)."""
from .capture.errors import CaptureError
from .capture.track import TrackError
from .retarget.rig import RigError

USER_ERRORS = (CaptureError, TrackError, RigError, OSError)
try:  # the export errors need bpy; the headless command always has it
    from .blender.export import ExportError
    USER_ERRORS = USER_ERRORS + (ExportError,)
except ImportError:  # pragma: no cover - without bpy
    pass
