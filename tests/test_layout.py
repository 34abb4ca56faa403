"""The suite's own shape: test modules share code only through tests/support (never by importing
one another), support modules stand on their own, and bench scripts never edit sys.path."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported(path: Path) -> set[str]:
    """Every module `path` imports by name (absolute imports only; the suite uses no others)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _outside_support(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.startswith("tests.") and not n.startswith("tests.support"))


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.name} imports {name}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        for name in _outside_support(imported(path))
    ]
    assert offenders == [], "share helpers through tests/support instead"


def test_support_modules_import_only_support() -> None:
    offenders = [
        f"support/{path.name} imports {name}"
        for path in sorted((ROOT / "tests" / "support").glob("*.py"))
        for name in _outside_support(imported(path))
    ]
    assert offenders == []


def test_bench_scripts_leave_sys_path_alone() -> None:
    offenders = [
        path.name
        for path in sorted((ROOT / "bench").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    ]
    assert offenders == [], "run benches as python3 -m bench.NAME from the repository root"
