"""Algorithms are values, not branches: no algorithm-name test in the pipelines, a third algorithm registered
as one module runs through the loop (steps, checkpoints, resume), Adam is built once per run, and both
backends are one context-managed ``Workers`` protocol."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import pipelines
from distilled_registry.pipelines import algorithms, backends, checkpoint, krr
from distilled_registry.pipelines import distill as D
from distilled_registry.pipelines.algorithm import Algorithm, State

NAMES = {"kip", "ls"}


def name_branches(source: str) -> list[int]:
    """Lines of ``source`` that compare something with an algorithm's name (``==``, ``!=``, ``in``, ``match``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                items = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                if any(isinstance(x, ast.Constant) and x.value in NAMES for x in items):
                    found.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant) and node.value.value in NAMES:
            found.append(node.lineno)
    return sorted(found)


def test_the_scan_finds_the_branches_it_forbids():
    assert name_branches('if config.algorithm == "kip":\n    pass\n') == [1]
    assert name_branches('x = 1 if "ls" != a else 2\ny = a in ("kip", "ls")\n') == [1, 2]
    assert name_branches('match a:\n    case "ls":\n        pass\n') == [2]
    assert name_branches('REGISTRY = {"kip": 1}\nfor a in ("kip", "ls"):\n    pass\n') == []


def test_the_pipelines_hold_no_algorithm_name_branch():
    folder = Path(pipelines.__file__).parent
    hits = {p.name: name_branches(p.read_text()) for p in sorted(folder.glob("*.py"))}
    assert len(hits) > 20 and {k: v for k, v in hits.items() if v} == {}


def _decay(config) -> Algorithm:
    """A third algorithm in one module: halve the images each step, loss = the step's index."""

    def init(problem, support):
        return State(0, {"images": np.asarray(support["images"])}, {"labels": support["labels"]}, ())

    def update(problem, state):
        return State(state.step + 1, {"images": state.learned["images"] * np.float32(0.5)}, state.fixed, ()), \
            float(state.step)

    return Algorithm("decay", "Decay", config.steps, has_steps=True, learns_images=True, init=init, update=update,
                     targets=lambda c, n: n, kernel_calls=lambda n, m, tile: [])


@pytest.fixture(scope="module")
def digits_prepared():
    return D.prepare(D.DistillConfig(source="digits", ipc=1))


def _run_decay(data, tmp_path, steps: int, every: int, resume: bool):
    cfg = dataclasses.replace(D.DistillConfig(source="digits", ipc=1, steps=steps, tile=0), algorithm="decay")
    algo = algorithms.make(cfg)
    assert algo.name == "decay"  # the registry's lookup found it
    return cfg, D._distil(cfg, algo, data, None, None, False, D.Checkpointing(every, tmp_path / "ck", resume))


def test_a_third_algorithm_registered_as_one_module_runs_through_the_loop(monkeypatch, tmp_path, digits_prepared):
    monkeypatch.setitem(algorithms.REGISTRY, "decay", _decay)
    cfg, d = _run_decay(digits_prepared, tmp_path, steps=4, every=2, resume=False)
    np.testing.assert_array_equal(d.images, d.x0 * np.float32(0.5) ** 4)
    np.testing.assert_array_equal(d.labels, krr.centered_one_hot(d.class_ids, 10))
    assert d.losses == [0.0, 1.0, 2.0, 3.0] and d.resumed_from == 0 and len(d.x0) == 10
    # its checkpoint is the loop's: saved at step 4 with its losses; a run stopped at 2 resumes to the same bytes
    template = _decay(cfg).init(None, {"images": d.x0, "labels": d.labels})
    state, losses = checkpoint.load(tmp_path / "ck", template, cfg.to_dict())
    assert state.step == 4 and losses == d.losses
    checkpoint.remove(tmp_path / "ck")
    _run_decay(digits_prepared, tmp_path, steps=2, every=2, resume=False)
    _, resumed = _run_decay(digits_prepared, tmp_path, steps=4, every=2, resume=True)
    assert resumed.resumed_from == 2 and resumed.losses == d.losses
    assert resumed.images.tobytes() == d.images.tobytes()


def test_adam_is_built_once_per_run(monkeypatch, tmp_path):
    import optax

    built = []
    real = optax.adam
    monkeypatch.setattr(optax, "adam", lambda *a, **k: built.append(a) or real(*a, **k))
    prov = D.distill(D.DistillConfig(source="digits", ipc=1, steps=3, target_batch=50), tmp_path / "r", progress=False)
    assert prov["algorithm"]["steps_run"] == 3 and len(built) == 1


def test_both_backends_are_one_workers_protocol():
    assert backends.Workers in backends.LocalWorkers.__mro__ and backends.Workers in backends.RayWorkers.__mro__
    pool = backends.make_workers(D.DistillConfig().kernel.to_dict(), "local", 1)
    assert isinstance(pool, backends.Workers)
    with pool as same:
        assert same is pool


def test_the_pool_is_closed_when_a_run_fails(monkeypatch, tmp_path):
    closed = []
    monkeypatch.setattr(backends.LocalWorkers, "close", lambda self: closed.append(self))

    def fail(*a, **k):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(D, "_evaluate", fail)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        D.distill(D.DistillConfig(source="digits", algorithm="ls", ipc=1), tmp_path / "r", progress=False)
    assert len(closed) == 1 and not (tmp_path / "r").exists()
