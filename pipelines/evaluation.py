"""Evaluating any release again, one interface for both methods: :func:`evaluate`.

What ``distilled-registry evaluate NAME|PATH`` and ``verify --accuracy`` run. Works on every release
folder that has a provenance with a kernel spec and a source, and a ``transform.npz`` (including
releases imported from published files): the source's test split is loaded with
``sources.load_source``, checked against the release's source fingerprint, and mapped into the
release's space by its transform (:func:`load_test_split`). Two methods, one signature:

- ``"krr"``: kernel ridge regression with the release's own kernel and ridge (:func:`krr.evaluate`),
  and of its natural support (the real images it started from);
- ``"transfer"``: the kernel's finite-width network trained on the release (:mod:`transfer`).

Each result is recorded in the release's ``provenance.json`` under ``metrics[KEYS[method]]``
(``krr_evaluation``, ``transfer``), with its whole recipe, by
:func:`distilled_registry.release.record_metrics`: only ``provenance.json`` changes, atomically; the
release's other files and their sha256 stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np

from . import krr, transfer
from .kernels import KernelSpec, shared_kernel_fn
from .transfer import TransferConfig, TransferError

KEYS = {"krr": "krr_evaluation", "transfer": "transfer"}  # method -> the metrics key it is recorded under


@dataclasses.dataclass
class Target:
    """A release being evaluated: its folder, provenance, kernel, arrays and the mapped test split."""

    path: Path
    prov: dict
    spec: KernelSpec
    data: dict
    x_test: np.ndarray
    y_test: np.ndarray
    source: object  # pipelines.sources.Source
    same_source: bool


def evaluate(path: str | os.PathLike, method: str, source_dir: str | None = None, *, natural: bool = False,
             config: TransferConfig | None = None, allow_other_source: bool = False, progress: bool = False,
             record: bool = False) -> dict:
    """Evaluate the release at ``path`` (verified first) by ``method``, ``"krr"`` or ``"transfer"``.

    Args:
      source_dir: the source's local files (None: the loader's default).
      natural: also evaluate the natural support (the real images the run started from).
      config: the transfer recipe (default :class:`TransferConfig`); ignored by ``"krr"``.
      allow_other_source: evaluate on a source whose fingerprint differs from the release's (recorded).
      record: write the result into the release's provenance (``metrics[KEYS[method]]``).
    Returns:
      The result as provenance records it: the figures, their ``recipe``, the ``source`` used, the
      ``data_sha256`` evaluated, ``wall_seconds`` and ``created``.
    """
    from distilled_registry import user_values

    if method not in KEYS:
        raise user_values.BadValue(f"unknown evaluation method {method!r}; use one of {sorted(KEYS)}")
    path = user_values.path(path, "path")  # rule E: checked where it enters, before any work
    if source_dir is not None:
        source_dir = str(user_values.path(source_dir, "--source-dir"))
    if config is not None and not isinstance(config, TransferConfig):
        raise user_values.BadValue(f"config must be a TransferConfig, got {type(config).__name__}")
    target = load(path, source_dir, allow_other_source)
    t0 = time.perf_counter()
    if method == "krr":
        out = _krr(target, natural)
    else:
        out = _transfer(target, config or TransferConfig(), natural, progress)
    src = target.source
    from distilled_registry import release as rel

    out["source"] = {"name": src.name, "origin": src.origin, "fingerprint_sha256": src.fingerprint,
                     "matches_release": target.same_source, "exact_copy": src.exact}
    out["data_sha256"] = target.prov["files"][rel.DATA_FILE]["sha256"]
    out["wall_seconds"] = round(time.perf_counter() - t0, 3)
    out["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if record:
        rel.record_metrics(target.path, KEYS[method], out)
    return out


def load(path: str | os.PathLike, source_dir: str | None = None, allow_other_source: bool = False) -> Target:
    """The release at ``path``, verified, with its source's test split mapped into its space."""
    from distilled_registry import release as rel

    path = Path(path)
    read = rel.read_release(path)  # one checked read of one version of the folder
    prov = read.record
    x_test, y_test, src, same = load_test_split(prov, path, source_dir, allow_other_source)
    return Target(path, prov, KernelSpec.from_dict(prov["kernel"]), read.arrays, x_test, y_test, src, same)


def _krr(t: Target, natural: bool, block: int = 1000) -> dict:
    """KRR test accuracy with the release's own kernel and ridge (``config.reg`` when recorded, else
    :data:`krr.DEFAULT_REG`), and of its natural support when ``natural`` and its config says which."""
    from distilled_registry import release as rel

    reg = float(t.prov.get("config", {}).get("reg", krr.DEFAULT_REG))
    kernel_fn = shared_kernel_fn(t.spec)
    d = krr.evaluate(kernel_fn, t.data["images"], t.data["labels"], t.x_test, t.y_test, reg=reg, block=block)
    out = {
        "accuracy": d["accuracy"], "mse": d["mse"],
        "recipe": {"what": "kernel ridge regression with the release's kernel on the source's whole test split "
                           "(mapped by the release's transform.npz)",
                   "kernel": t.spec.to_dict(), "reg": reg, "ridge": "K_ss + reg * trace(K_ss)/n * I",
                   "test_split": "test", "test_size": d["test_size"],
                   "natural": "the class-balanced real images the run started from (kip.support_indices with the "
                              "release's ipc and seed), centred one-hot labels"},
    }
    if natural and "ipc" in t.prov.get("config", {}):
        xn, yn = natural_support(t.prov, t.source, rel.transform_path(t.path, t.prov))
        n = krr.evaluate(kernel_fn, xn, yn, t.x_test, t.y_test, reg=reg, block=block)
        out["natural_accuracy"], out["natural_mse"] = n["accuracy"], n["mse"]
    return out


def _transfer(t: Target, config: TransferConfig, natural: bool, progress: bool) -> dict:
    """The finite network trained on the release (:func:`transfer.evaluate`), learning rate and weight
    decay chosen on a validation set from the training split, and of its natural support when ``natural``."""
    from distilled_registry import environment
    from distilled_registry import release as rel
    from distilled_registry.transform import Transform

    prov, src = t.prov, t.source
    if progress:
        print(f"transfer: {prov['name']} ({len(t.data['images'])} images) -> {t.spec.architecture} width "
              f"{config.width}, {config.steps} steps, seeds {list(config.seeds)}", flush=True)
    tpath = rel.transform_path(t.path, prov)
    validation = None
    if len(config.candidates()) > 1:
        vidx = transfer.validation_indices(src.y_train, config.validation_size, natural_indices(prov, src.y_train))
        validation = (Transform.load(tpath).apply(src.x_train[vidx]), src.y_train[vidx])
    out = {"recipe": transfer.recipe(t.spec, config),
           **transfer.evaluate(t.spec, t.data["images"], t.data["labels"], t.x_test, t.y_test, config, progress,
                               validation)}
    if natural:
        xn, yn = natural_support(prov, src, tpath)
        if progress:
            print("transfer: natural baseline (the real images the run started from, one-hot labels)", flush=True)
        out["natural"] = transfer.evaluate(t.spec, xn, yn, t.x_test, t.y_test, config, progress, validation)
    out["environment"] = {**environment.library_versions(), "device": environment.device()}
    return out


def load_test_split(prov: dict, path: Path, source_dir: str | None, allow_other_source: bool = False):
    """The source's test split mapped into the release's space, and the source; checks the fingerprint.

    Returns ``(x_test, y_test, source, fingerprint_matches)``.
    """
    from distilled_registry.transform import Transform

    from . import sources, user_sources

    name = prov["source"]["name"]  # a user source's spec names its files (user_sources.py)
    src = sources.load_source(name, source_dir, **(user_sources.options_of(prov.get("config"))
                                                   if user_sources.is_user_source(name) else {}))
    want = prov["source"].get("fingerprint_sha256")
    same = src.fingerprint == want
    if not same and not allow_other_source:
        raise TransferError(
            f"the {name} source read from {src.origin} has fingerprint {src.fingerprint}, but the release "
            f"at {str(path)!r} was distilled from fingerprint {want}: its test split would not be the one the "
            "release was made for. Point --source-dir at the data the release was made from, or pass "
            "--allow-other-source to evaluate on this copy anyway (recorded as such)")
    from distilled_registry import release as rel

    try:
        tfile = rel.transform_path(path, prov)
    except rel.ReleaseError as e:
        raise TransferError(f"{e}: without the release's transform the test split cannot be mapped into the space "
                            "of its images") from None
    t = Transform.load(tfile)
    return t.apply(src.x_test), src.y_test, src, same


def natural_indices(prov: dict, y_train: np.ndarray) -> np.ndarray | None:
    """Indices of the real images the release's run started from (None when its config does not say)."""
    from .kip import support_indices

    cfg = prov.get("config", {})
    if "ipc" not in cfg or "seed" not in cfg:
        return None
    return support_indices(y_train, int(cfg["ipc"]), int(cfg["seed"]))


def natural_support(prov: dict, source, transform_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The release's natural baseline: the class-balanced real images the run started from, centred one-hot.

    Same selection as ``distill`` (``kip.support_indices`` with the release's ipc and seed).
    """
    from distilled_registry.transform import Transform

    from . import krr

    idx = natural_indices(prov, source.y_train)
    if idx is None:
        raise TransferError("the release records no ipc and seed in its config: its natural baseline "
                            "(the real images it started from) is unknown; drop --natural")
    x = Transform.load(transform_path).apply(source.x_train[idx])
    return x, krr.centered_one_hot(source.y_train[idx], source.num_classes)


def summary(result: dict, what: str) -> str:
    """One line per figure of an :func:`evaluate` result (``what``: its method, ``krr`` or ``transfer``)."""
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
    from distilled_registry import user_values

    tolerance = user_values.real(tolerance, "--tolerance", 0, 1)  # rule E, before any work
    path = user_values.path(path, "path")
    prov = rel.verified(path)
    metrics = prov.get("metrics") or {}
    claimed, by = metrics.get("krr_test_accuracy"), "metrics.krr_test_accuracy (measured when it was made)"
    if claimed is None:
        claimed = (metrics.get("reported_by_authors") or {}).get("test_accuracy")
        by = "metrics.reported_by_authors.test_accuracy (the authors' figure on the original data)"
    if claimed is None:
        raise TransferError(f"{str(path)!r} states no KRR test accuracy to check (no krr_test_accuracy and "
                                     "no figure reported by the authors); `distilled-registry evaluate` measures one")
    imported = "config" not in prov
    got = evaluate(path, "krr", source_dir, natural=False, allow_other_source=imported)
    diff = got["accuracy"] - float(claimed)
    return {"claimed": float(claimed), "claimed_by": by, "recomputed": got["accuracy"], "diff": diff,
            "tolerance": tolerance, "within": bool(abs(diff) <= tolerance), "test_size": got["recipe"]["test_size"],
            "kernel": got["recipe"]["kernel"], "reg": got["recipe"]["reg"], "source": got["source"],
            "wall_seconds": got["wall_seconds"]}
