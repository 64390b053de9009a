"""`blender -c video_mocap …`: the headless command as a Blender extension command (Blender 4.2+).

With the extension installed, a stock Blender runs the same command as `cli.py` with no virtual
environment (Blender's own Python and the wheels bundled in the extension):

    blender -b -c video_mocap VIDEO --out take.fbx [options]                 # one video
    blender -b -c video_mocap batch INPUT... --out-dir DIR [options]       # many (batch.py)

The arguments after `-c video_mocap` are exactly those of `cli.py`; the exit code is the command's
(0 ok, 1 failed, 2 bad arguments). Inside Blender a batch runs its videos one after another in this
process (Blender's Python has no `bpy` module to start worker processes with); each video's capture
still uses --workers processes, and `--scheduler` hands the videos to a Dask cluster.

`register()` / `unregister()` are called from the extension's own register()/unregister().
"""
from __future__ import annotations

COMMAND = "video_mocap"
_handle = None


def execute(argv) -> int:
    """The command's handler: Blender passes the arguments after `-c video_mocap`."""
    from . import cli

    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse: --help (0), bad arguments (2)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        code = 130
    return int(code or 0)


def register() -> None:
    global _handle
    import bpy

    register_cli_command = getattr(bpy.utils, "register_cli_command", None)
    if register_cli_command is None or _handle is not None:  # before Blender 4.2, or already registered
        return
    _handle = register_cli_command(COMMAND, execute)


def unregister() -> None:
    global _handle
    import bpy

    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
