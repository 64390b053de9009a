"""Output files: checked before any work, written atomically. No bpy."""
from __future__ import annotations

import os

from .errors import ExportError


def check_writable(path: str) -> None:
    """Fail early, with the path in the message, when a file cannot be written there. Creates nothing:
    the nearest existing folder above the path must be a writable folder (missing ones are made when
    the file is written)."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise ExportError(f"Cannot write {path}: it is a folder. Choose a file name.")
    folder = os.path.dirname(target)
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if not os.path.isdir(folder):
        raise ExportError(f"Cannot write {path}: {folder} is a file, not a folder. Choose another folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"Cannot write {path}: the folder {folder} is not writable. Choose another folder.")
