"""Build the three BlazePose GHUM `.task` bundles (lite, full, heavy) and the hand landmarker bundle
for the MediaPipe Tasks API.

Reproducible and offline after the first fetch:
1. `npm pack @mediapipe/pose@<exact version>` (Apache-2.0) into the cache, sha256-verified.
2. Every tflite taken from it is sha256-verified.
3. Image-input normalisation metadata is added to each landmark model (RGB, mean 0, std 255) and to
   the pose detector (mean 127.5, std 127.5, as in Google's own bundle) with
   mediapipe 0.10.21's `metadata_writers` (mediapipe 1.x ships them without their native part), so this
   script runs in the build venv (`make models` creates it).
4. Landmark model + pose detector are bundled into `pose_landmarker_<variant>.task`, a 4-byte-aligned
   stored zip with fixed timestamps, so the bytes are identical on every build.
5. Each built bundle is checked against the sha256 recorded in `tools/models.lock.json`.
6. `hand_landmarker.task` (hand_detector.tflite + hand_landmarks_detector.tflite, the member names
   MediaPipe's HandLandmarker reads): palm_detection_full.tflite and hand_landmark_full.tflite
   (Apache-2.0) from PyPI `mediapipe==0.10.21`, the wheel the build venv installs anyway, each
   sha256-verified. Both already carry the image-input metadata the Tasks API reads (RGB, mean 0,
   std 255; checked here), so they are bundled byte for byte, in the same aligned zip.
7. `face_landmarker.task` (face_detector.tflite + face_landmarks_detector.tflite, the member names of
   MediaPipe's FaceLandmarker; no face_blendshapes.tflite: no such model is published under a licence
   we can ship): face_detection_short_range.tflite (bundled byte for byte, its metadata says mean 127.5,
   std 127.5) and face_landmark_with_attention.tflite (Apache-2.0, PyPI `mediapipe==0.10.21`, each
   sha256-verified). The latter is the legacy FaceMesh model with iris refinement: three MediaPipe custom
   ops and seven outputs, which the Tasks runtime cannot load. tools/face_model.py rewrites the custom
   ops with standard TFLite ops and appends the legacy graph's landmark refinement, giving the single
   478-point output (plus the face flag) the Tasks face graph reads; its image metadata (mean 0, std 255)
   is then added again. Its landmarks match legacy FaceMesh(refine_landmarks=True) to < 0.01 px.

Usage: python tools/build_models.py [--out models] [--cache .cache] [--record]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path(__file__).with_name("models.lock.json")
VARIANTS = ("lite", "full", "heavy")
DETECTOR_MEMBER = "package/pose_solution_packed_assets.data"  # the pose_detection.tflite, byte for byte
HAND_TASK = "hand_landmarker.task"
HAND_MEMBERS = {  # bundle member ← file of the mediapipe wheel
    "hand_detector.tflite": "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "hand_landmarks_detector.tflite": "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
}
FACE_TASK = "face_landmarker.task"
FACE_DETECTOR = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
FACE_LANDMARKS = "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_npm_package(lock: dict, cache: Path) -> bytes:
    name, version = lock["npm_package"], lock["npm_version"]
    tgz = cache / f"{name.strip('@').replace('/', '-')}-{version}.tgz"
    if not tgz.exists() or sha256(tgz.read_bytes()) != lock["npm_tgz_sha256"]:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", tmp],
                           check=True, stdout=subprocess.DEVNULL)
            (packed,) = Path(tmp).glob("*.tgz")
            shutil.move(str(packed), tgz)
    data = tgz.read_bytes()
    if sha256(data) != lock["npm_tgz_sha256"]:
        raise SystemExit(f"sha256 mismatch for {tgz}: got {sha256(data)}, expected {lock['npm_tgz_sha256']}")
    return data


def read_members(tgz: bytes, lock: dict) -> dict[str, bytes]:
    wanted = dict(lock["tflite_sha256"])
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        for member, digest in wanted.items():
            data = tar.extractfile(member).read()
            if sha256(data) != digest:
                raise SystemExit(f"sha256 mismatch for {member}")
            out[member] = data
    return out


def read_wheel_files(lock: dict, part: str = "hand") -> dict[str, bytes]:
    """The hand (or face) tflites from the installed mediapipe wheel (the build venv's), version and
    sha256 checked."""
    from importlib import metadata

    hand = lock[part]
    version = metadata.version("mediapipe")
    if version != hand["pypi_version"]:
        raise SystemExit(f"the {part} models come from mediapipe=={hand['pypi_version']}, this Python has {version} "
                         f"(run this script with the build venv: make models)")
    dist = metadata.distribution("mediapipe")
    out = {}
    for member, digest in hand["tflite_sha256"].items():
        data = Path(dist.locate_file(member)).read_bytes()
        if sha256(data) != digest:
            raise SystemExit(f"sha256 mismatch for {member} of mediapipe {version}")
        out[member] = data
    return out


def check_image_metadata(model: bytes, name: str) -> None:
    """The model's own input metadata must be what the Tasks API needs: RGB, [0, 1] (mean 0, std 255)."""
    from mediapipe.tasks.python.metadata import metadata

    info = json.loads(metadata.MetadataDisplayer.with_model_buffer(model).get_metadata_json())
    (image,) = info["subgraph_metadata"][0]["input_tensor_metadata"]
    norm = next(u["options"] for u in image["process_units"] if u["options_type"] == "NormalizationOptions")
    if image["content"]["content_properties"].get("color_space") != "RGB" or set(norm["mean"]) != {0.0} \
            or set(norm["std"]) != {255.0}:
        raise SystemExit(f"{name}: unexpected input metadata {image}")


def build_hands(lock: dict) -> bytes:
    files = read_wheel_files(lock)
    members = {}
    for member, source in HAND_MEMBERS.items():
        check_image_metadata(files[source], source)
        members[member] = files[source]
    return bundle(members)


def build_face(lock: dict) -> bytes:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import face_model

    files = read_wheel_files(lock, "face")
    landmarks = add_image_metadata(face_model.convert(files[FACE_LANDMARKS]), 0.0, 255.0)  # [0, 1], as the original
    check_image_metadata(landmarks, "face landmarks")
    return bundle({"face_detector.tflite": files[FACE_DETECTOR], "face_landmarks_detector.tflite": landmarks})


def add_image_metadata(model: bytes, mean: float, std: float) -> bytes:
    """Attach RGB image-input metadata with the normalisation the graph expects (what the Tasks API reads)."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    writer = metadata_writer.MetadataWriter.create(model)
    writer.add_image_input(norm_mean=[mean], norm_std=[std],
                           color_space_type=metadata_info._metadata_fb.ColorSpaceType.RGB)
    model, _ = writer.populate()
    return model


def bundle(files: dict[str, bytes]) -> bytes:
    """MediaPipe's aligned stored zip (members 4-byte aligned for memory mapping), fixed timestamps."""
    from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import AlignZipFile

    buf = io.BytesIO()
    with AlignZipFile(buf, mode="w", alignment=4) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_checked(task: bytes, target: Path, lock: dict, record: bool) -> str:
    """Check a built bundle against the lock (unless recording), write it if it changed; its sha256."""
    digest, name = sha256(task), target.name
    expected = lock.get("task_sha256", {}).get(name)
    if not record and expected != digest:
        raise SystemExit(f"built {name} has sha256 {digest}, lock file records {expected}")
    if not target.exists() or sha256(target.read_bytes()) != digest:
        tmp = target.with_suffix(".task.tmp")
        tmp.write_bytes(task)
        os.replace(tmp, target)
    print(f"{name}: {len(task) / 1e6:.1f} MB sha256 {digest}", file=sys.stderr)
    return digest


def build(out: Path, cache: Path, record: bool = False) -> dict[str, str]:
    lock = json.loads(LOCK.read_text())
    members = read_members(fetch_npm_package(lock, cache), lock)
    detector = add_image_metadata(members[DETECTOR_MEMBER], 127.5, 127.5)  # input in [-1, 1]
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for variant in VARIANTS:
        landmark = add_image_metadata(members[f"package/pose_landmark_{variant}.tflite"], 0.0, 255.0)  # [0, 1]
        task = bundle({"pose_detector.tflite": detector, "pose_landmarks_detector.tflite": landmark})
        name = f"pose_landmarker_{variant}.task"
        built[name] = write_checked(task, out / name, lock, record)
    built[HAND_TASK] = write_checked(build_hands(lock), out / HAND_TASK, lock, record)
    built[FACE_TASK] = write_checked(build_face(lock), out / FACE_TASK, lock, record)
    if record:
        lock["task_sha256"] = built
        LOCK.write_text(json.dumps(lock, indent=2) + "\n")
    return built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache")
    ap.add_argument("--record", action="store_true", help="write the built sha256s into the lock file")
    args = ap.parse_args()
    build(args.out, args.cache, args.record)


if __name__ == "__main__":
    main()
