"""Build the installable extension zips: one per platform, bundled wheels and models, offline install.

    .venv/bin/python tools/build_dist.py [--out dist] [--cache .cache] [--force] [--update-lock]

What it does (idempotent; cached in .cache/, which git ignores):
1. Checks which distributions `import mediapipe; from mediapipe.tasks.python import BaseOptions,
   vision; import cv2` really imports in this interpreter (the .venv): they must be exactly the
   bundled ones plus the ones Blender itself ships (numpy, certifi). A new import fails the build.
2. Gets every locked wheel (tools/wheels.lock.json) into .cache/wheels with `pip download
   --only-binary=:all: --no-deps --platform ... --python-version ...` from the package index,
   unmodified, and checks its sha256 and size against the lock. `--update-lock` resolves the
   pinned versions below anew for every platform and Python version and rewrites the lock.
3. Stages the extension's runtime files in .cache/dist/stage/video_mocap: __init__.py, the top-level
   modules (cli.py and batch.py too: `blender -c video_mocap` runs them), every top-level Python
   package but tests/ and tools/, the built models (three pose, one hand, one face; sha256-checked against
   tools/models.lock.json) and wheels/. The staged blender_manifest.toml is the source manifest
   plus `platforms` and `wheels` (forward slashes); the source manifest is not touched. Every
   absolute import in the staged code must be the standard library, Blender's, or a bundled wheel's.
4. Runs Blender's own extension tools (the `bl_pkg` extension command inside the bpy module):
   `validate` on the staged folder, `build --split-platforms`, then `validate` on every zip,
   tags included. Prints each zip's size. Inputs unchanged since the last build: nothing is
   rebuilt (the zips are only validated again); `--force` rebuilds.

Wheels: numpy is Blender's own (every Blender ships it) and so is certifi (Blender ships requests,
which needs it); they are not bundled. One zip serves Blender 4.2 LTS - 5.0 (Python 3.11) and
5.1+ (Python 3.13): Blender installs only the wheels that match its platform and Python version.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "tools" / "wheels.lock.json"
MODELS_LOCK = ROOT / "tools" / "models.lock.json"
PACKAGE = "video_mocap"
INDEX_URL = os.environ.get("DIST_INDEX_URL", "https://pypi.org/simple")

# Python version of the Blender releases served by one zip.
PYTHONS = {"3.11": "Blender 4.2 LTS - 5.0", "3.13": "Blender 5.1+"}

# Blender platform -> wheel platform tags pip may pick, newest first. Official Blender 4.2 - 5.x builds
# need glibc 2.28 (so nothing newer than manylinux_2_28) and macOS 11.2 on Apple Silicon (pip also
# accepts older macOS and universal2 wheels for macosx_11_0_arm64).
# Not built: macos-x64 (Intel Macs), because mediapipe 1.2.2 has no macOS x86_64 wheel. mediapipe also has
# manylinux_2_28_aarch64 and win_arm64 wheels; add "linux-arm64"/"windows-arm64" here (and check that
# every other requirement has wheels there: --update-lock reports the gaps) to build those.
PLATFORMS = {
    "linux-x64": [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64"],
    "macos-arm64": ["macosx_11_0_arm64"],
    "windows-x64": ["win_amd64"],
}

# The runtime dependencies of the pose path, pinned (the .venv has the same versions; see
# requirements.txt). kind: "platform" = one wheel per platform for every Python (mediapipe is
# py3-none-<platform> and loads its native library with ctypes; OpenCV is abi3), "cpython" = one wheel
# per platform and Python version, "pure" = one py3-none-any wheel everywhere (fontTools' compiled
# modules are optional speed-ups: the pure wheel is 1.2 MB instead of ~5 MB per platform and Python).
# Not bundled, because the pose path never imports them: absl-py, flatbuffers (metadata writers only),
# sounddevice (audio tasks), contourpy (matplotlib contour plots), six, tzdata (dateutil, on demand).
REQUIREMENTS = [
    {"name": "mediapipe", "version": "1.2.2", "kind": "platform"},
    # opencv-python-headless 4.11.0.86 has only a macosx_13_0_arm64 wheel (macOS 13+); Blender runs on
    # macOS 11.2+, so macOS gets 4.10.0.84 (macosx_11_0_arm64), the newest with a macOS 11 wheel.
    {"name": "opencv-python-headless", "version": "4.11.0.86", "kind": "platform",
     "overrides": {"macos-arm64": "4.10.0.84"},
     "note": "macos-arm64 gets opencv-python-headless 4.10.0.84: 4.11.0.86 has no wheel for macOS 11 "
             "(only macosx_13_0_arm64), and Blender runs on macOS 11.2+"},
    {"name": "matplotlib", "version": "3.11.2", "kind": "cpython"},  # mediapipe's vision imports pyplot
    {"name": "pillow", "version": "13.0.0", "kind": "cpython"},
    {"name": "kiwisolver", "version": "1.5.1", "kind": "cpython"},
    {"name": "fonttools", "version": "4.68.0", "kind": "pure"},
    {"name": "cycler", "version": "0.12.1", "kind": "pure"},
    {"name": "pyparsing", "version": "3.3.3", "kind": "pure"},
    {"name": "python-dateutil", "version": "4.0.0", "kind": "pure"},
    {"name": "packaging", "version": "26.3", "kind": "pure"},
]
BLENDER_PROVIDES = {"numpy", "certifi"}  # in every Blender (bpy's requirements: numpy, requests -> certifi)
# Modules the extension's own code may import besides the standard library and the bundled wheels.
BLENDER_MODULES = {"bpy", "bpy_extras", "bpy_types", "mathutils", "bmesh", "bl_math", "blf", "gpu", "gpu_extras",
                   "aud", "idprop", "imbuf", "addon_utils", "rna_prop_ui", "bl_ui", "bl_operators", "freestyle",
                   "numpy", "certifi", "requests",
                   "io_scene_fbx"}  # Blender's core FBX add-on (batch workers import its exporter ahead)

# The extension's runtime files: every top-level Python package except these, every top-level module
# except these, the models.
NOT_RUNTIME_PACKAGES = {"tests", "tools"}
NOT_RUNTIME_MODULES: set[str] = set()  # cli.py ships: `blender -c video_mocap` runs it
MODEL_FILES = ("pose_landmarker_lite.task", "pose_landmarker_full.task", "pose_landmarker_heavy.task",
               "hand_landmarker.task", "face_landmarker.task")
FIXED_MTIME = 1704067200  # 2024-01-01, for every staged file: equal inputs give zips with equal members
# (only the manifest Blender's builder rewrites per platform carries the build time)

IMPORT_PROBE = r"""
import json, sys, importlib.metadata as md
before = {m.partition('.')[0] for m in sys.modules}
import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
import cv2
dists = md.packages_distributions()
found = {}
for top in sorted({m.partition('.')[0] for m in sys.modules} - before):
    for dist in dists.get(top, []):
        found.setdefault(md.metadata(dist)['Name'].lower(), []).append(top)
print(json.dumps({"dists": found, "versions": {d: md.version(d) for d in found}}))
"""

# Blender's `extension` command (bl_pkg inside the bpy module), several runs in one child process.
BLENDER_EXT = r"""
import json, sys, bpy
from bl_pkg.bl_extension_cli import cli_extension_handler
for args in json.loads(sys.argv[1]):
    print("\x1e", flush=True)
    try:
        code = cli_extension_handler(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    print(f"\x1f{code}", flush=True)
"""


def log(msg: str = "") -> None:
    print(msg, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def config() -> dict:
    """What the lock was resolved from: a lock made from another configuration is stale."""
    requirements = [{k: v for k, v in r.items() if k != "note"} for r in REQUIREMENTS]
    return {"pythons": list(PYTHONS), "platforms": PLATFORMS, "requirements": requirements}


def version_for(req: dict, platform: str) -> str:
    return req.get("overrides", {}).get(platform, req["version"])


# ---------------------------------------------------------------------------------------------------
# 1. What the pose path imports

def check_runtime_imports() -> None:
    """The pose path's imports (measured here, in the .venv) must be exactly bundled + Blender's own."""
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=True, capture_output=True, text=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    imported = set(probe["dists"])
    bundled = {normalise(r["name"]) for r in REQUIREMENTS}
    extra = imported - bundled - BLENDER_PROVIDES
    unused = bundled - imported
    log("Runtime imports of the pose path (import mediapipe, mediapipe.tasks.python.vision, cv2):")
    for dist in sorted(imported):
        where = "Blender's own" if dist in BLENDER_PROVIDES else "bundled"
        log(f"  {dist} {probe['versions'][dist]} ({', '.join(sorted(set(probe['dists'][dist])))}): {where}")
    if extra or unused:
        raise SystemExit(f"error: the bundled wheels do not match the pose path's imports: imported but not "
                         f"bundled {sorted(extra)}, bundled but not imported {sorted(unused)}. "
                         f"Update REQUIREMENTS in {Path(__file__).name} and run it with --update-lock.")
    for req in REQUIREMENTS:
        have = probe["versions"].get(normalise(req["name"]))
        if have and have != req["version"]:
            log(f"  warning: the .venv has {req['name']} {have}, the zips bundle {req['version']}")
    closure = blender_closure()
    if closure is not None and not BLENDER_PROVIDES <= closure:
        raise SystemExit(f"error: {sorted(BLENDER_PROVIDES - closure)} are not among bpy's dependencies "
                         f"({sorted(closure)}): bundle them")


def blender_closure() -> set[str] | None:
    """Distributions that come with Blender: bpy's requirements, recursively (the bpy module mirrors them)."""
    import importlib.metadata as md
    import re
    try:
        todo, seen = ["bpy"], set()
        while todo:
            name = todo.pop()
            for req in md.requires(name) or []:
                if ";" in req:
                    continue
                dep = normalise(re.split(r"[ <>=!~\[(]", req, maxsplit=1)[0])
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen
    except md.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------------
# 2. Wheels: lock, download, verify

def pip_download(specs: list[str], dest: Path, platform: str | None, python: str, kind: str,
                 hashes: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`pip download` from the package index only (--isolated: no local mirrors or find-links)."""
    cmd = [sys.executable, "-m", "pip", "download", "--isolated", "--disable-pip-version-check", "--quiet",
           "--progress-bar", "off", "--no-deps", "--only-binary=:all:", "--index-url", INDEX_URL,
           "--dest", str(dest), "--python-version", python]
    if os.environ.get("PIP_CERT"):
        cmd += ["--cert", os.environ["PIP_CERT"]]
    if kind == "pure":
        cmd += ["--platform", "any", "--implementation", "py", "--abi", "none"]
    else:
        for tag in PLATFORMS[platform]:
            cmd += ["--platform", tag]
        cmd += ["--implementation", "cp"]
    if hashes:
        req_file = dest / "requirements.txt"
        req_file.write_text("".join(f"{spec} --hash=sha256:{hashes[spec]}\n" for spec in specs))
        cmd += ["--require-hashes", "-r", str(req_file)]
    else:
        cmd += specs
    return subprocess.run(cmd, capture_output=True, text=True)


def update_lock(cache: Path) -> dict:
    """Resolve every requirement for every platform and Python version; write the lock."""
    wheels_dir = cache / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    wheels: dict[str, dict] = {}
    sets: dict[str, dict[str, list[str]]] = {p: {py: [] for py in PYTHONS} for p in PLATFORMS}
    missing = []
    for platform in PLATFORMS:
        for python in PYTHONS:
            for req in REQUIREMENTS:
                version = version_for(req, platform)
                spec = f"{req['name']}=={version}"
                with tempfile.TemporaryDirectory(dir=cache) as tmp:
                    res = pip_download([spec], Path(tmp), platform, python, req["kind"])
                    got = sorted(Path(tmp).glob("*.whl"))
                    if res.returncode != 0 or len(got) != 1:
                        reason = (res.stderr.strip().splitlines() or ["no wheel"])[-1]
                        missing.append({"platform": platform, "python": python, "name": req["name"],
                                        "version": version, "reason": reason})
                        log(f"  NO WHEEL: {spec} for {platform} / Python {python}: {reason}")
                        continue
                    wheel = got[0]
                    entry_name = wheel.name
                    entry = {"name": req["name"], "version": version, "kind": req["kind"],
                             "sha256": sha256_file(wheel), "size": wheel.stat().st_size,
                             "download": {"platform": None if req["kind"] == "pure" else platform,
                                          "python": python}}
                    old = wheels.get(wheel.name)
                    if old is not None and old["sha256"] != entry["sha256"]:
                        raise SystemExit(f"error: two different files named {wheel.name}")
                    wheels.setdefault(wheel.name, entry)
                    target = wheels_dir / wheel.name
                    if not target.exists() or sha256_file(target) != entry["sha256"]:
                        shutil.move(str(wheel), target)
                sets[platform][python].append(entry_name)
                log(f"  {platform} / {python}: {entry_name}")
    lock = {
        "comment": "Written by tools/build_dist.py --update-lock: the exact wheels bundled in each platform's "
                   "extension zip, per Python version (3.11: Blender 4.2 LTS - 5.0, 3.13: Blender 5.1+), "
                   "as downloaded unmodified from the package index. 'missing' lists the combinations "
                   "that have no wheel.",
        "config": config(),
        "wheels": dict(sorted(wheels.items())),
        "sets": sets,
        "missing": missing,
    }
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    LOCK.write_text(json.dumps(lock, indent=2) + "\n")
    log(f"Wrote {shown(LOCK)}: {len(wheels)} wheels")
    return lock


def load_lock() -> dict:
    if not LOCK.exists():
        raise SystemExit(f"error: {LOCK} missing: run {Path(__file__).name} --update-lock")
    lock = json.loads(LOCK.read_text())
    if lock.get("config") != json.loads(json.dumps(config())):
        raise SystemExit(f"error: {LOCK.relative_to(ROOT)} was made for other requirements/platforms than "
                         f"{Path(__file__).name} declares: run it with --update-lock")
    return lock


def fetch_wheels(lock: dict, cache: Path) -> Path:
    """Every locked wheel in .cache/wheels, sha256- and size-checked; downloads only what is missing."""
    wheels_dir = cache / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    todo = {}
    for name, entry in lock["wheels"].items():
        path = wheels_dir / name
        if path.exists() and path.stat().st_size == entry["size"] and sha256_file(path) == entry["sha256"]:
            continue
        key = (entry["download"]["platform"], entry["download"]["python"], entry["kind"])
        todo.setdefault(key, []).append(name)
    for (platform, python, kind), names in todo.items():
        entries = [lock["wheels"][n] for n in names]
        specs = [f"{e['name']}=={e['version']}" for e in entries]
        log(f"Downloading {', '.join(specs)} ({platform or 'any platform'}, Python {python})")
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            res = pip_download(specs, Path(tmp), platform, python, kind,
                               hashes={s: e["sha256"] for s, e in zip(specs, entries)})
            if res.returncode != 0:
                raise SystemExit(f"error: pip download failed:\n{res.stderr}")
            for name in names:
                got = Path(tmp) / name
                if not got.exists():
                    raise SystemExit(f"error: pip did not fetch {name} (the index now offers another file?): "
                                     f"run {Path(__file__).name} --update-lock")
                shutil.move(str(got), wheels_dir / name)
    for name, entry in lock["wheels"].items():
        path = wheels_dir / name
        digest = sha256_file(path)
        if digest != entry["sha256"] or path.stat().st_size != entry["size"]:
            raise SystemExit(f"error: sha256 mismatch for {path}: {digest}, locked {entry['sha256']}")
    return wheels_dir


# ---------------------------------------------------------------------------------------------------
# 3. Stage

def runtime_files() -> dict[str, Path]:
    """relative path in the package -> source file: the extension's runtime files (no wheels)."""
    files: dict[str, Path] = {}
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith(".") or entry.name.startswith("__pycache__"):
            continue
        if entry.is_file() and entry.suffix == ".py" and entry.name not in NOT_RUNTIME_MODULES:
            files[entry.name] = entry
        elif entry.is_dir() and (entry / "__init__.py").exists() and entry.name not in NOT_RUNTIME_PACKAGES:
            for path in sorted(entry.rglob("*")):
                rel = path.relative_to(ROOT)
                if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in {".pyc", ".pyo"}:
                    files[rel.as_posix()] = path
    if "__init__.py" not in files:
        raise SystemExit("error: no __init__.py at the repository root")
    models_lock = json.loads(MODELS_LOCK.read_text())["task_sha256"]
    for name in MODEL_FILES:
        path = ROOT / "models" / name
        if not path.exists():
            raise SystemExit(f"error: {path} missing: run 'make models'")
        if sha256_file(path) != models_lock[name]:
            raise SystemExit(f"error: {path} does not match tools/models.lock.json: run 'make models'")
        files[f"models/{name}"] = path
    return files


# The package's own fixed name (cli.load_package loads the extension's folder under it, for the command
# and batch.py), and imports that only an optional feature makes, with a clear message when missing:
# Dask's `distributed` (and its `dask`), for `batch --scheduler` (exit 2: "needs Dask's 'distributed' package").
OWN_AND_OPTIONAL = {"video_mocap", "distributed", "dask"}


def check_code_imports(files: dict[str, Path], wheels: dict[str, Path]) -> None:
    """Every absolute import in the extension's code is the standard library, Blender's, or bundled."""
    import ast
    import zipfile

    bundled = set()
    for path in wheels.values():
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                top = member.split("/")[0]
                if not top.endswith((".dist-info", ".data")):
                    bundled.add(top.removesuffix(".py").split(".")[0])
    allowed = set(sys.stdlib_module_names) | BLENDER_MODULES | bundled | OWN_AND_OPTIONAL
    problems = []
    for rel, path in files.items():
        if not rel.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in allowed and not top.startswith("bl_") and top != "__future__":
                    problems.append(f"{rel}:{node.lineno} imports {name}")
    if problems:
        raise SystemExit("error: the extension imports modules that neither Blender nor the bundled wheels "
                         "provide:\n  " + "\n  ".join(problems))


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        if len(value) > 3:
            return "[\n" + "".join(f"  {toml_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def staged_manifest(wheel_paths: list[str]) -> str:
    """The source manifest plus `platforms` and `wheels` (after `tags`), written out again as TOML."""
    source = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    for key in ("platforms", "wheels"):
        if key in source:
            raise SystemExit(f"error: blender_manifest.toml already declares '{key}': the build writes it")
    manifest: dict = {}
    for key, value in source.items():
        if key in ("permissions", "build"):
            continue
        manifest[key] = value
        if key == "tags":
            manifest["platforms"] = list(PLATFORMS)
            manifest["wheels"] = wheel_paths
    manifest.setdefault("platforms", list(PLATFORMS))
    manifest.setdefault("wheels", wheel_paths)
    lines = ["# Generated by tools/build_dist.py from blender_manifest.toml: platforms and wheels added.", ""]
    tables = {}
    for key, value in manifest.items():
        if isinstance(value, dict):
            tables[key] = value
        else:
            lines.append(f"{key} = {toml_value(value)}")
    for name in ("permissions", "build"):
        if name in source:
            tables[name] = source[name]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    text = "\n".join(lines) + "\n"
    expected = dict(source, platforms=list(PLATFORMS), wheels=wheel_paths)
    if tomllib.loads(text) != expected:
        raise SystemExit("error: the staged manifest does not read back as written")
    return text


def sync_stage(stage: Path, files: dict[str, Path], wheels: dict[str, Path], manifest: str) -> None:
    """Make `stage` hold exactly these files (copied; wheels hard-linked from the cache where possible)."""
    wanted = {rel: src for rel, src in files.items()}
    wanted.update({f"wheels/{name}": path for name, path in wheels.items()})
    stage.mkdir(parents=True, exist_ok=True)
    for path in sorted(stage.rglob("*"), reverse=True):
        rel = path.relative_to(stage).as_posix()
        if path.is_file() and rel not in wanted and rel != "blender_manifest.toml":
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel, src in wanted.items():
        dest = stage / rel
        if dest.exists() and dest.stat().st_size == src.stat().st_size and (
                dest.samefile(src) or sha256_file(dest) == sha256_file(src)):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.unlink()
        if rel.startswith("wheels/"):
            try:
                os.link(src, dest)
                continue
            except OSError:
                pass
        shutil.copyfile(src, dest)
    manifest_path = stage / "blender_manifest.toml"
    if not manifest_path.exists() or manifest_path.read_text() != manifest:
        manifest_path.write_text(manifest)
    for path in stage.rglob("*"):
        if path.is_file():
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def stage_digest(stage: Path, lock: dict) -> str:
    h = hashlib.sha256()
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            rel = path.relative_to(stage).as_posix()
            digest = (lock["wheels"][path.name]["sha256"] if rel.startswith("wheels/")
                      else sha256_file(path))
            h.update(f"{rel}\0{digest}\n".encode())
    h.update(f"builder bpy {bpy_version()}\n".encode())
    return h.hexdigest()


def bpy_version() -> str:
    import importlib.metadata as md
    try:
        return md.version("bpy")
    except md.PackageNotFoundError:
        raise SystemExit("error: bpy is not installed in this Python: run this with .venv/bin/python") from None


# ---------------------------------------------------------------------------------------------------
# 4. Blender's builder and validator

def blender_ext(*commands: list[str], user_dir: Path) -> list[tuple[int, str]]:
    """Run Blender's `extension` command once per argument list; -> [(exit code, output)]."""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user_dir), NO_COLOR="1")
    res = subprocess.run([sys.executable, "-c", BLENDER_EXT, json.dumps(commands)], capture_output=True,
                         text=True, env=env)
    results = []
    for chunk in res.stdout.split("\x1e\n")[1:]:
        text, _, code = chunk.rpartition("\x1f")
        results.append((int(code.strip() or 1), text.strip()))
    if len(results) != len(commands) or res.returncode != 0:
        raise SystemExit(f"error: Blender's extension command failed:\n{res.stdout}\n{res.stderr}")
    return results


def zip_name(manifest: dict, platform: str) -> str:
    return f"{manifest['id']}-{manifest['version']}-{platform.replace('-', '_')}.zip"


def build(out: Path, cache: Path, force: bool) -> dict[str, Path]:
    t0 = time.perf_counter()
    check_runtime_imports()
    lock = load_lock()
    for req in REQUIREMENTS:
        if req.get("note"):
            log(f"  note: {req['note']}")
    for gap in lock["missing"]:
        log(f"  warning: no wheel of {gap['name']} {gap['version']} for {gap['platform']} / Python "
            f"{gap['python']}: capture will not work there ({gap['reason']})")
    wheels_dir = fetch_wheels(lock, cache)
    wheels = {name: wheels_dir / name for name in lock["wheels"]}
    files = runtime_files()
    check_code_imports(files, wheels)
    manifest_text = staged_manifest([f"./wheels/{name}" for name in sorted(wheels)])
    manifest = tomllib.loads(manifest_text)
    stage_root = cache / "dist" / "stage"
    stage = stage_root / PACKAGE
    sync_stage(stage, files, wheels, manifest_text)
    digest = stage_digest(stage, lock)
    user_dir = cache / "blender-user"
    zips = {p: out / zip_name(manifest, p) for p in PLATFORMS}
    stamp_path = out / ".build-stamp.json"
    stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    up_to_date = (not force and stamp.get("digest") == digest and all(
        z.exists() and stamp.get("zips", {}).get(z.name) == sha256_file(z) for z in zips.values()))

    log(f"\nStaged {len(files)} files + {len(wheels)} wheels in {shown(stage)}")
    ((code, text),) = blender_ext(["validate", str(stage)], user_dir=user_dir)
    log(f"validate {shown(stage)}: {text}")
    if code != 0:
        raise SystemExit("error: Blender's validator rejected the staged manifest")
    if up_to_date:
        log("Zips are up to date (same inputs as the last build): not rebuilt")
    else:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as tmp:
            ((code, text),) = blender_ext(["build", "--source-dir", str(stage), "--output-dir", tmp,
                                           "--split-platforms"], user_dir=user_dir)
            log(text)
            if code != 0:
                raise SystemExit("error: Blender's builder failed")
            for platform, target in zips.items():  # noqa: B007 (platform: read again below)
                built = Path(tmp) / target.name
                if not built.exists():
                    raise SystemExit(f"error: the builder did not write {target.name}")
                built.replace(target)
        stamp = {"digest": digest, "zips": {z.name: sha256_file(z) for z in zips.values()}}
        stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    for stale in out.glob(f"{manifest['id']}-*.zip"):
        if stale not in zips.values():
            stale.unlink()
            log(f"removed stale {stale.name}")

    log("")
    checks = blender_ext(*(["validate", str(path)] for path in zips.values()), user_dir=user_dir)
    for path, (code, text) in zip(zips.values(), checks):
        log(f"validate {path.name}: {text}")
        if code != 0:
            raise SystemExit(f"error: Blender's validator rejected {path.name}")
    log("")
    models = sum(files[f"models/{m}"].stat().st_size for m in MODEL_FILES)
    for platform, path in zips.items():
        size = path.stat().st_size
        log(f"{platform}: {shown(path)}  {mb(size)} ({size} bytes)")
        used: dict[str, list[str]] = {}
        for python in PYTHONS:
            for name in lock["sets"][platform][python]:
                used.setdefault(name, []).append(python)
        for name, pythons in used.items():
            log(f"  {mb(lock['wheels'][name]['size']):>8}  {name}  (Python {', '.join(pythons)})")
        totals = ", ".join(f"Python {py} ({PYTHONS[py]}) {mb(sum(lock['wheels'][n]['size'] for n in lock['sets'][platform][py]))}"
                           for py in PYTHONS)
        log(f"  wheels installed: {totals}; models {mb(models)}")
    log(f"\nbuild_dist: {time.perf_counter() - t0:.1f} s")
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder for the zips (default: dist)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="download and staging cache")
    parser.add_argument("--force", action="store_true", help="rebuild the zips even when the inputs are unchanged")
    parser.add_argument("--update-lock", action="store_true",
                        help="resolve the pinned wheels anew for every platform and Python; rewrite the lock")
    args = parser.parse_args(argv)
    out, cache = args.out.resolve(), args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(cache / "blender-user"))
    if args.update_lock:
        update_lock(cache)
    build(out, cache, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
