from . import panel


def register():
    panel.register()


def unregister():
    panel.unregister()
