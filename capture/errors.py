"""Errors a user can act on. Each message says what went wrong and what to do."""


class CaptureError(Exception):
    """Base class: the message is shown to the user as it is."""


class VideoError(CaptureError):
    pass


class ModelError(CaptureError):
    pass


class NoPersonError(CaptureError):
    pass


class Cancelled(CaptureError):
    pass
