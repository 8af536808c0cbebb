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
        xn, yn = transfer.natural_support(prov, src, path / prov.get("preprocessing", {}).get("file", "transform.npz"))
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
