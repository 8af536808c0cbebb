"""Small release folders made without JAX: random arrays and a provenance that follows the schema.

For tests of the registry core (release format, store, load, verify, Croissant) that need a
release but not a distillation run.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from distilled_registry import provenance as prov_builder
from distilled_registry import release as rel
from distilled_registry.transform import Transform

SHA = "0" * 64


def arrays(n_per_class: int = 10, num_classes: int = 10, shape=(8, 8, 1), seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = n_per_class * num_classes
    return {"images": rng.standard_normal((n, *shape)).astype(np.float32),
            "labels": rng.standard_normal((n, num_classes)).astype(np.float32),
            "class_ids": np.repeat(np.arange(num_classes), n_per_class).astype(np.int64)}


def provenance(data: dict, seed: int = 0, family: str = "kip_digits") -> dict:
    """A schema-valid provenance for ``data``; ``seed`` is the top-level seed (the arrays' seed).

    ``config`` is the catalog spec of ``kip_digits/ipc10`` with the arrays' images per class, so the
    default release (10 per class of 10 classes, 8x8x1: what ``kip_digits/ipc10`` is) may be put into
    a store under that name; other shapes or class counts name the source ``synthetic`` (not digits,
    whose facts they would contradict). ``family`` is the provenance's ``name``.
    """
    n, num_classes = data["labels"].shape
    shape = list(data["images"].shape[1:])
    source = "digits" if (shape, num_classes) == ([8, 8, 1], 10) else "synthetic"
    kernel = {"architecture": "fc", "depth": 1, "W_std": 2 ** 0.5, "b_std": 0.1, "get": "ntk", "impl": "nt"}
    return copy.deepcopy(prov_builder.build(
        family,
        config={"source": source, "algorithm": "kip", "kernel": kernel, "ipc": n // num_classes, "steps": 300,
                "learning_rate": 0.04, "target_batch": 5000, "learn_labels": True, "reg": 1e-6, "ls_reg": 1e-10,
                "zca": False, "zca_reg": 0.1, "seed": 0, "eval_block": 1000},
        source={"name": source, "origin": "synthetic", "fingerprint_sha256": SHA, "files_sha256": {},
                "exact_copy": True, "image_shape": shape, "num_classes": num_classes,
                "class_names": [str(i) for i in range(num_classes)], "train_size": 100, "test_size": 50,
                "licence": "BSD-3-Clause", "homepage": "https://archive.ics.uci.edu/dataset/80"},
        preprocessing={"file": "transform.npz", "zca": False},
        kernel=kernel,
        algorithm={"name": "kip", "paper": "Nguyen, Chen, Lee. ICLR 2021", "steps_run": 3, "final_loss": 0.1,
                   "support_size": n},
        seed=seed,
        backend={"name": "local", "workers": 1},
        environment={"python": "3", "distilled-registry": "0.1.0", "jax": "0.5.3", "jaxlib": "0.5.3",
                     "neural-tangents": "0.6.5", "optax": "0.2.4", "numpy": "2", "git": {"commit": None}},
        timing={"wall_seconds": 1.5},
        created="2025-01-02T03:04:05+00:00",
        metrics={"krr_test_accuracy": 0.5, "krr_test_mse": 0.04, "natural_krr_test_accuracy": 0.4,
                 "natural_krr_test_mse": 0.05, "recipe": {"what": "synthetic", "test_size": 50}}))


def files(data: dict) -> dict[str, bytes]:
    """The files of a synthetic release: ``data.npz`` and an identity ``transform.npz`` (the provenance names it)."""
    c = data["images"].shape[-1]
    return {rel.DATA_FILE: rel.data_bytes(**data),
            rel.TRANSFORM_FILE: Transform(np.zeros(c, np.float32), np.ones(c, np.float32)).to_bytes()}


def write(path, seed: int = 0, family: str = "kip_digits", **kw) -> tuple[Path, dict]:
    """Write a synthetic release at ``path``; returns ``(path, arrays)`` (``kw``: :func:`arrays`'s)."""
    data = arrays(seed=seed, **kw)
    return rel.write_release(path, files(data), provenance(data, seed, family)), data
