"""KIP checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the step, the learned and fixed parameters and the Adam state (all float
arrays, saved bit for bit) and the run's config. The random state needs no saving: target
batches are a pure function of ``(seed, step)`` (:func:`kip.target_indices`). Files are written
to a temporary name and renamed, so a run killed at any moment leaves either the previous
checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np

from distilled_registry.npz import npz_bytes

from .kip import KipState

FILE = "kip_state.npz"
FORMAT = "distilled_registry.kip_checkpoint/1"


def save(directory: str | os.PathLike, state: KipState, config: dict) -> Path:
    """Write ``state`` (and ``config``, to refuse resuming a different run) atomically."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree_util.tree_leaves((state.learned, state.fixed, state.opt_state))
    arrays = {f"leaf{i:04d}": np.asarray(x) for i, x in enumerate(leaves)}
    meta = {"format": FORMAT, "step": int(state.step), "config": config, "leaves": len(leaves)}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    tmp = d / f".{FILE}.tmp-{os.getpid()}"
    tmp.write_bytes(npz_bytes(arrays))
    os.replace(tmp, d / FILE)
    return d / FILE


def load(directory: str | os.PathLike, template: KipState, config: dict) -> KipState | None:
    """The saved state, shaped like ``template`` (a fresh :func:`kip.init`); None if there is none.

    Raises ValueError when the checkpoint belongs to a run with another config.
    """
    f = Path(directory) / FILE
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta_json"]).decode())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{f}: not a KIP checkpoint ({meta.get('format')!r})")
        if meta["config"] != config:
            diff = sorted(k for k in set(meta["config"]) | set(config) if meta["config"].get(k) != config.get(k))
            raise ValueError(f"{f} belongs to a run with a different config (differs in {diff}); "
                             "resume with the same arguments, or remove the checkpoint folder")
        leaves = [z[f"leaf{i:04d}"] for i in range(meta["leaves"])]
    treedef = jax.tree_util.tree_structure((template.learned, template.fixed, template.opt_state))
    learned, fixed, opt_state = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
    return KipState(meta["step"], learned, fixed, opt_state)
