"""The layout: imports only go down the stages (capture → motion → retarget → pipeline → blender → front
ends), ui/ imports no operator module, and nothing in the core imports bpy (test_core_without_bpy.py)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = {"capture": 0, "motion": 1, "retarget": 2, "pipeline": 3, "blender": 4,
          "operators": 5, "ui": 5, "properties": 5, "preferences": 5, "cli": 5, "batch": 5, "live": 5,
          "cli_command": 5}


def _stage_of(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0] in STAGES else None


def _imports(path: Path):
    """(line, target top-level module of the package) for every import of the package in `path`."""
    rel = path.relative_to(ROOT).with_suffix("").parts  # e.g. ('retarget', 'solver')
    package = list(rel[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # `from . import x` at the top level
                    for alias in node.names:
                        yield node.lineno, alias.name
                    continue
                if node.module is None:
                    for alias in node.names:
                        yield node.lineno, (target + [alias.name])[0]
                else:
                    yield node.lineno, target[0]
            elif node.module and node.module.startswith("video_mocap."):
                yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("video_mocap."):
                    yield node.lineno, alias.name.split(".")[1]


def _modules():
    for name in STAGES:
        folder = ROOT / name
        if folder.is_dir():
            yield from ((name, p) for p in folder.glob("*.py"))
        elif (ROOT / f"{name}.py").exists():
            yield name, ROOT / f"{name}.py"


def test_imports_only_go_down_the_stages():
    upward = []
    for stage, path in _modules():
        for line, target in _imports(path):
            if target in STAGES and STAGES[target] > STAGES[stage]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, upward


def test_ui_imports_no_operator_module():
    bad = [f"{p.relative_to(ROOT)}:{line}" for _, p in _modules() if p.parent.name == "ui"
           for line, target in _imports(p) if target == "operators"]
    assert not bad, bad


def test_the_check_sees_imports():
    """The parser finds the imports it should (so an empty result above means something)."""
    found = {t for _, t in _imports(ROOT / "retarget" / "solver.py")}
    assert {"capture", "motion"} <= found
    found = {t for _, t in _imports(ROOT / "blender" / "apply.py")}
    assert "pipeline" in found
