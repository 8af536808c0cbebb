"""Evaluating any release again: KRR with its kernel, and finite-network transfer (:mod:`transfer`).

What ``distilled-registry evaluate NAME|PATH`` runs. Works on every release folder that has a
provenance with a kernel spec and a source, and a ``transform.npz`` (including releases imported
from published files): the source's test split is loaded with ``sources.load_source``, checked
against the release's source fingerprint, and mapped into the release's space by its transform.

Results are recorded in the release's ``provenance.json`` (``metrics["transfer"]`` and
``metrics["krr_evaluation"]``, each with its whole recipe) by :func:`transfer.record`: only
``provenance.json`` changes, atomically; the release's other files and their sha256 stay.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from . import krr, transfer
from .kernels import KernelSpec, make_kernel_fn


def krr_release(path: str | os.PathLike, source_dir: str | None = None, natural: bool = True,
                allow_other_source: bool = False, block: int = 1000) -> dict:
    """KRR test accuracy of the release at ``path`` with its own kernel and ridge (and of its natural support).

    The ridge is ``provenance["config"]["reg"]`` when recorded, else :data:`krr.DEFAULT_REG`.
    """
    from distilled_registry import release as rel

    path = Path(path)
    prov = rel.verified(path)
    spec = KernelSpec.from_dict(prov["kernel"])
    reg = float(prov.get("config", {}).get("reg", krr.DEFAULT_REG))
    data = rel.read_data(path)
    x_test, y_test, src, same = transfer.load_test_split(prov, path, source_dir, allow_other_source)
    t0 = time.perf_counter()
    kernel_fn = make_kernel_fn(spec)
    d = krr.evaluate(kernel_fn, data["images"], data["labels"], x_test, y_test, reg=reg, block=block)
    out = {
        "accuracy": d["accuracy"], "mse": d["mse"],
        "recipe": {"what": "kernel ridge regression with the release's kernel on the source's whole test split "
                           "(mapped by the release's transform.npz)",
                   "kernel": spec.to_dict(), "reg": reg, "ridge": "K_ss + reg * trace(K_ss)/n * I",
                   "test_split": "test", "test_size": d["test_size"],
                   "natural": "the class-balanced real images the run started from (kip.support_indices with the "
                              "release's ipc and seed), centred one-hot labels"},
    }
    if natural and "ipc" in prov.get("config", {}):
        xn, yn = transfer.natural_support(prov, src, rel.member(path, prov["preprocessing"].get("file", rel.TRANSFORM_FILE),
                                                                  prov["files"]))
        n = krr.evaluate(kernel_fn, xn, yn, x_test, y_test, reg=reg, block=block)
        out["natural_accuracy"], out["natural_mse"] = n["accuracy"], n["mse"]
    out["source"] = {"name": src.name, "origin": src.origin, "fingerprint_sha256": src.fingerprint,
                     "matches_release": same, "exact_copy": src.exact}
    out["data_sha256"] = prov["files"][rel.DATA_FILE]["sha256"]
    out["wall_seconds"] = round(time.perf_counter() - t0, 3)
    out["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return out


def summary(result: dict, what: str) -> str:
    """One line per figure of a ``krr_release`` (what='krr') or ``transfer.evaluate_release`` result."""
    note = "" if result["source"]["exact_copy"] else f" [{result['source']['name']}: not an exact copy of the source]"
    if not result["source"]["matches_release"]:
        note += " [source fingerprint differs from the release's]"
    if what == "krr":
        s = f"KRR test accuracy {result['accuracy']:.4f}"
        if "natural_accuracy" in result:
            s += f" (natural {result['natural_accuracy']:.4f})"
        return s + f" on {result['recipe']['test_size']} test images{note}"
    r = result["recipe"]
    s = (f"transfer test accuracy {result['accuracy_mean']:.4f} +- {result['accuracy_std']:.4f} over seeds "
         f"{result['seeds']} ({r['kernel']['architecture']} width {r['width']}, {r['steps']} steps, lr "
         f"{result['learning_rate']:.4g})")
    if "natural" in result:
        n = result["natural"]
        s += f"; natural {n['accuracy_mean']:.4f} +- {n['accuracy_std']:.4f}"
    return s + note


ACCURACY_TOL = 0.005  # verify --accuracy: half a percentage point, absolute


def check_accuracy(path: str | os.PathLike, source_dir: str | None = None, tolerance: float = ACCURACY_TOL) -> dict:
    """Recompute a release's KRR test accuracy and hold it against the figure its provenance states.

    The figure: ``metrics.krr_test_accuracy`` for a release this package made (recomputed with its
    recorded kernel and ridge on the source's whole test split, mapped by its ``transform.npz``);
    for an imported published file, ``metrics.reported_by_authors.test_accuracy`` (the authors'
    figure on the original data, so a copy that is not exact may differ by more than rounding).

    Returns ``{"claimed", "claimed_by", "recomputed", "diff", "tolerance", "within", "source", ...}``;
    ``within`` is ``|recomputed - claimed| <= tolerance``. A wrongly published file (another
    config's images, labels shuffled, a file swapped for a bad checkpoint) fails it.
    Raises:
      TransferError: the release states no figure to check, or the source cannot be read.
    """
    from distilled_registry import release as rel

    path = Path(path)
    prov = rel.verified(path)
    metrics = prov.get("metrics") or {}
    claimed, by = metrics.get("krr_test_accuracy"), "metrics.krr_test_accuracy (measured when it was made)"
    if claimed is None:
        claimed = (metrics.get("reported_by_authors") or {}).get("test_accuracy")
        by = "metrics.reported_by_authors.test_accuracy (the authors' figure on the original data)"
    if claimed is None:
        raise transfer.TransferError(f"{str(path)!r} states no KRR test accuracy to check (no krr_test_accuracy and "
                                     "no figure reported by the authors); `distilled-registry evaluate` measures one")
    imported = "config" not in prov
    got = krr_release(path, source_dir, natural=False, allow_other_source=imported)
    diff = got["accuracy"] - float(claimed)
    return {"claimed": float(claimed), "claimed_by": by, "recomputed": got["accuracy"], "diff": diff,
            "tolerance": tolerance, "within": bool(abs(diff) <= tolerance), "test_size": got["recipe"]["test_size"],
            "kernel": got["recipe"]["kernel"], "reg": got["recipe"]["reg"], "source": got["source"],
            "wall_seconds": got["wall_seconds"]}
