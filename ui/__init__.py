"""The sidebar panel and the reference-video overlay. Imports no operator module."""
from . import overlay, panel

__all__ = ["overlay", "panel", "classes"]

classes = panel.classes
