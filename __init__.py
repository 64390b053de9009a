"""Video Mocap: markerless motion capture from video onto any armature (Blender extension).

capture/ and retarget/ are plain numpy and never import bpy; blender/, operators/ and ui/ are the
Blender layer, imported only when Blender registers the extension.

Everything Blender sees is namespaced to the extension: `Scene.video_mocap`, operators
`video_mocap.*`, classes `VIDEO_MOCAP_*`.
"""

_unregister_classes = None


def _on_load_pre(_filepath=None):
    """Opening a file: stop every running capture (its scene is about to be freed)."""
    from .blender import jobs, live

    jobs.cancel_all()
    live.end_all()


def register():
    import os

    import bpy

    from . import cli_command, operators, preferences, properties, ui
    from .ui import overlay

    global _unregister_classes
    if __package__.startswith("bl_ext."):
        # MediaPipe imports matplotlib, which caches fonts under ~/.cache: keep that in the
        # extension's own user folder, removed with the extension.
        os.environ.setdefault("MPLCONFIGDIR", bpy.utils.extension_path_user(__package__, path="matplotlib",
                                                                             create=True))
    classes = (*preferences.classes, *properties.classes, *operators.classes, *ui.classes)
    register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
    register_classes()
    properties.register_props()
    overlay.register()
    cli_command.register()  # `blender -c video_mocap …`: the headless command in a stock Blender
    bpy.app.handlers.load_pre.append(bpy.app.handlers.persistent(_on_load_pre))


def unregister():
    import bpy

    from . import cli_command, properties
    from .blender import jobs
    from .ui import overlay

    global _unregister_classes
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    jobs.cancel_all()
    from .blender import live

    live.end_all()
    from .blender import picker

    picker.free_previews()  # the people's thumbnails
    cli_command.unregister()
    overlay.unregister()
    properties.unregister_props()
    if _unregister_classes is not None:
        _unregister_classes()
        _unregister_classes = None

