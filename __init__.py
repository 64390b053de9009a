"""Video Mocap: markerless motion capture from video onto any armature (Blender extension).

capture/ and retarget/ are plain numpy and never import bpy; blender/, operators/ and ui/ are the
Blender layer, imported only when Blender registers the extension.
"""

_modules = []


def register():
    from . import operators, preferences, properties, ui

    _modules[:] = [preferences, properties, operators, ui]
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
    _modules.clear()
