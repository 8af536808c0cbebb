"""The benchmark scripts run rarely (some only on a GPU machine), so a name they take from the package that the
package no longer has would go unseen until the one run that matters: ``benchmarks/kip_step.py`` imported
``plan.target_size`` for weeks after ``plan`` dropped it, and ``benchmarks/gpu_run.py``'s first step calls it.
Here every ``from distilled_registry... import NAME`` in ``benchmarks/*.py`` must resolve, and so must every
``MODULE.NAME`` read from a package module such an import binds; and every call of a package function or class so
reached must bind to its signature (``inspect.Signature.bind``: the number of positional arguments and the keyword
names), which is how ``transfer.record(path, key, value)`` broke when recording moved to ``evaluate(record=True)``."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))


def package_names(tree: ast.AST) -> tuple[list[tuple[int, str, str]], dict[str, str]]:
    """``[(line, module, name)]`` of every import from the package, and ``{alias: module}`` of the names that
    such imports bind to modules of the package (``from distilled_registry.pipelines import plan``,
    ``import distilled_registry.pipelines.plan as plan``)."""
    wanted, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("distilled_registry"):
            for a in node.names:
                wanted.append((node.lineno, node.module, a.name))
                try:
                    importlib.import_module(f"{node.module}.{a.name}")
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
                except ImportError:
                    pass
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("distilled_registry.") and a.asname:
                    modules[a.asname] = a.name
    return wanted, modules


def resolves(module: str, name: str) -> bool:
    if hasattr(importlib.import_module(module), name):
        return True
    try:
        importlib.import_module(f"{module}.{name}")
        return True
    except ImportError:
        return False


def callee(node: ast.Call, wanted: list, modules: dict):
    """The package object a call names (``f(...)`` after ``from M import f``, ``mod.f(...)`` after a module import),
    or None."""
    f = node.func
    if isinstance(f, ast.Name):
        for _, m, n in wanted:
            if n == f.id and f.id not in modules and resolves(m, n):
                return getattr(importlib.import_module(m), n)
    elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in modules:
        return getattr(importlib.import_module(modules[f.value.id]), f.attr, None)
    return None


def call_problem(node: ast.Call, target) -> str | None:
    """Why the call ``node`` cannot bind to ``target``'s signature (None when it can, or when it cannot be told:
    ``*args``/``**kwargs`` at the call, or no signature)."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*([None] * len(node.args)), **{k.arg: None for k in node.keywords})
    except TypeError as e:
        return str(e)
    return None


def problems(tree: ast.AST) -> list[str]:
    wanted, modules = package_names(tree)
    out = [f"line {line}: from {m} import {n}" for line, m, n in wanted if not resolves(m, n)]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and not resolves(modules[node.value.id], node.attr)):
            out.append(f"line {node.lineno}: {node.value.id}.{node.attr} ({modules[node.value.id]})")
        if isinstance(node, ast.Call) and callable(target := callee(node, wanted, modules)):
            why = call_problem(node, target)
            if why:
                out.append(f"line {node.lineno}: {ast.unparse(node.func)}(...): {why}")
    return out


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_every_name_a_benchmark_takes_from_the_package_exists_and_its_calls_bind(script):
    found = problems(ast.parse(script.read_text(), str(script)))
    assert not found, f"{script.name} uses the package in ways it no longer allows: {found}"


def test_the_check_sees_a_missing_name(tmp_path):
    """The rule above fails on the very break it was written for."""
    tree = ast.parse("from distilled_registry.pipelines.plan import target_size\n"
                     "from distilled_registry.pipelines import kip\nkip.no_such_function(1)\n")
    wanted, modules = package_names(tree)
    assert [n for _, m, n in wanted if not resolves(m, n)] == ["target_size"]
    assert modules == {"kip": "distilled_registry.pipelines.kip"} and not resolves(modules["kip"], "no_such_function")
    calls = ast.parse("from distilled_registry.pipelines import kip\n"
                      "from distilled_registry.pipelines.kip import balanced_count\n"
                      "kip.balanced_count(10, 60000, 300)\nbalanced_count(10, 60000, total=300)\n"
                      "kip.balanced_count(10, 60000)\nbalanced_count(10, 60000, 300, size=1)\n")
    assert [p.split(":")[0] for p in problems(calls)] == ["line 5", "line 6"]
