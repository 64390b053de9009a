"""Video → `PoseTrack`. Plain Python + numpy + OpenCV + MediaPipe Tasks; never imports bpy."""
from .track import PoseTrack, TrackError  # noqa: F401
