"""Operators: translate between Blender data and the core; report errors; never crash."""
from . import apply, capture, export, live, picker, reference, rig

classes = (*capture.classes, *apply.classes, *rig.classes, *export.classes, *reference.classes, *live.classes,
           *picker.classes)
