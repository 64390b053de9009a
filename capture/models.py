"""Which `.task` file a capture uses: a user-chosen file wins, else the bundled/built one for the variant."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .errors import ModelError

VARIANTS = ("lite", "full", "heavy")
DEFAULT_VARIANT = "full"
HINTS = {
    "lite": "fastest, least accurate",
    "full": "balanced speed and accuracy (default)",
    "heavy": "most accurate, about 3x slower than full",
}
BUNDLE_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
HAND_MODEL = "hand_landmarker.task"
HAND_BUNDLE_MEMBERS = ("hand_detector.tflite", "hand_landmarks_detector.tflite")
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def model_filename(variant: str) -> str:
    return f"pose_landmarker_{variant}.task"


def search_dirs() -> list[Path]:
    """Folders searched for built models: $MOCAP_MODEL_DIR, then the package's own models/ folder."""
    dirs = []
    if os.environ.get("MOCAP_MODEL_DIR"):
        dirs.append(Path(os.environ["MOCAP_MODEL_DIR"]))
    dirs.append(PACKAGE_DIR / "models")
    return dirs


def check_task_file(path: Path, members=BUNDLE_MEMBERS, kind: str = "pose_landmarker") -> Path:
    if not path.is_file():
        raise ModelError(f"Model file not found: {path}. Choose an existing .task file or run 'make models'.")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"Model file {path} is not a MediaPipe .task bundle ({exc}). "
                         f"Choose a {kind} .task file or rebuild with 'make models'.") from None
    missing = [m for m in members if m not in names]
    if missing:
        raise ModelError(f"Model file {path} is not a {kind.replace('_', ' ')} bundle (missing {', '.join(missing)}). "
                         f"Choose a {kind} .task file.")
    return path


def resolve_model(variant: str = DEFAULT_VARIANT, override: str | os.PathLike | None = None) -> Path:
    """The `.task` path to load. Raises ModelError with the file name when it is missing or corrupt."""
    if override:
        return check_task_file(Path(override).expanduser())
    if variant not in VARIANTS:
        raise ModelError(f"Unknown model '{variant}'. Choose one of: {', '.join(VARIANTS)}.")
    for folder in search_dirs():
        candidate = folder / model_filename(variant)
        if candidate.exists():
            return check_task_file(candidate)
    where = ", ".join(str(d) for d in search_dirs())
    raise ModelError(f"Model file {model_filename(variant)} not found (looked in {where}). "
                     f"Run 'make models' or choose a .task file.")


def resolve_hand_model(override: str | os.PathLike | None = None) -> Path:
    """The hand landmarker `.task` to load: a user-chosen file wins, else the bundled/built one."""
    if override:
        return check_task_file(Path(override).expanduser(), HAND_BUNDLE_MEMBERS, "hand_landmarker")
    for folder in search_dirs():
        candidate = folder / HAND_MODEL
        if candidate.exists():
            return check_task_file(candidate, HAND_BUNDLE_MEMBERS, "hand_landmarker")
    where = ", ".join(str(d) for d in search_dirs())
    raise ModelError(f"Model file {HAND_MODEL} not found (looked in {where}). "
                     f"Run 'make models' or choose a hand_landmarker .task file.")
