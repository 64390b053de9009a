"""Operators: translate between Blender data and the core; report errors; never crash."""
from . import apply, capture, export, reference, rig

_modules = (capture, apply, rig, export, reference)


def register():
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
