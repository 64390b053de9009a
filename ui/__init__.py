from . import overlay, panel


def register():
    panel.register()
    overlay.register()


def unregister():
    overlay.unregister()
    panel.unregister()
