"""The house rules on size (issue 24): no module over 600 lines and no function over 100 lines in
the three packages (``distilled_registry/``, ``pipelines/``, ``builders/``)."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("distilled_registry", "pipelines", "builders")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def modules() -> list[pathlib.Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def long_functions(path: pathlib.Path, limit: int) -> list[str]:
    """``name (N lines)`` for every function or method of ``path`` longer than ``limit`` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > limit]


def test_the_scan_sees_the_packages():
    assert len(modules()) > 50


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_600_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {n} lines (the house rule is {MAX_MODULE_LINES})"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_over_100_lines(path):
    assert long_functions(path, MAX_FUNCTION_LINES) == []


def test_the_function_scan_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    f = tmp_path / "long.py"
    f.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert long_functions(f, MAX_FUNCTION_LINES) == [f"long ({MAX_FUNCTION_LINES + 1} lines)"]
