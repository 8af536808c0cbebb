"""The import rules of docs/design.md, checked by import-linter (contracts in pyproject.toml).

The pipelines and builders install under ``distilled_registry`` from their own folders, so
lint-imports runs on a copy of the three folders laid out as installed (``distilled_registry/``,
``.../pipelines/``, ``.../builders/``; the python files only). A module added to that copy that
imports upward, or two that import each other, makes it fail: the contracts can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _python_only(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or Path(folder, n).is_dir())]


def _installed_layout(root: Path) -> Path:
    pkg = root / "distilled_registry"
    shutil.copytree(REPO / "distilled_registry", pkg, ignore=_python_only)
    for room in ("pipelines", "builders"):
        shutil.copytree(REPO / room, pkg / room, ignore=_python_only)
    return pkg


def _lint_imports(root: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy, before the editable install's finder
    command = [sys.executable, "-c", LINT, str(REPO / "pyproject.toml"), "--no-cache", "--no-logo", *options]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold(tmp_path):
    pkg = _installed_layout(tmp_path)
    r = _lint_imports(tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout
    analyzed = int(r.stdout.split("Analyzed ")[1].split(" files")[0])
    assert analyzed >= len(list(pkg.rglob("__init__.py"))) + 60  # the pipelines and builders were seen


@pytest.mark.parametrize("contract, files", [
    ("core", {"distilled_registry/upward.py": "from distilled_registry.pipelines import sources\n"}),
    ("core", {"distilled_registry/upward.py": "def f():\n    from distilled_registry.cli import main\n"}),
    ("rooms", {"distilled_registry/pipelines/upward.py": "from distilled_registry import cli\n"}),
    ("rooms", {"distilled_registry/pipelines/sideways.py": "def f():\n    from ..builders import release_builder\n"}),
    ("acyclic", {"distilled_registry/loop_a.py": "from . import loop_b\n",
                 "distilled_registry/loop_b.py": "from . import loop_a\n"}),
    ("acyclic", {"distilled_registry/pipelines/loop.py": "from . import sources\n",
                 "distilled_registry/pipelines/sources.py": "from . import loop\n"}),
])
def test_an_upward_import_or_a_circle_breaks_a_contract(tmp_path, contract, files):
    """Each contract, alone, fails on a module that breaks it (an import inside a function counts too)."""
    _installed_layout(tmp_path)
    for rel, text in files.items():
        with open(tmp_path / rel, "a") as f:
            f.write(text)
    r = _lint_imports(tmp_path, "--contract", contract)
    assert r.returncode == 1, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 kept, 1 broken" in r.stdout, r.stdout[-4000:]
