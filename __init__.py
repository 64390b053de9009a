"""Video Mocap: markerless motion capture from video onto any armature (Blender extension).

capture/ and retarget/ are plain numpy and never import bpy; blender/, operators/ and ui/ are the
Blender layer, imported only when Blender registers the extension.
"""

_modules = []


def register():
    import os

    import bpy

    from . import operators, preferences, properties, ui

    if __package__.startswith("bl_ext."):
        # MediaPipe imports matplotlib, which caches fonts under ~/.cache: keep that in the
        # extension's own user folder, removed with the extension.
        os.environ.setdefault("MPLCONFIGDIR", bpy.utils.extension_path_user(__package__, path="matplotlib",
                                                                             create=True))

    _modules[:] = [preferences, properties, operators, ui]
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
    _modules.clear()
