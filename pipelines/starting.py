"""What ``--init-from`` reads: the release a KIP run starts from instead of real images (:func:`start_release`),
checked before any work, and its images and labels as the run's first state (:func:`start_support`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from distilled_registry import release as rel
from distilled_registry import user_values
from distilled_registry.distill_config import ConfigError, DistillConfig
from distilled_registry.release_read import ReleaseContents

from . import algorithms

# config fields a --init-from run shares with the release it starts from: what puts its images in this run's space
# and picks its start images and class ids
START_SAME = ("source", "kernel", "ipc", "seed", "zca", "zca_reg", "image_size", "test_fraction", "split_seed")


def run_release(path: Path, flag: str, instead: str) -> tuple[ReleaseContents, dict]:
    """The release at ``path`` (read and verified: :func:`distilled_registry.release.read_release`) and its
    provenance, for ``flag``; ConfigError, ending with ``instead``, unless it records the config of a run of
    this package (the release a run starts from or finishes must be one)."""
    release = rel.read_release(path)
    if "config" not in release.record:
        raise ConfigError(f"{flag} {str(path)!r} is not a release of a run of this package (it has no config); "
                          f"{instead}")
    return release, release.record


def start_release(config: DistillConfig, path: str | Path | None) -> tuple[DistillConfig, object | None]:
    """``(config, start)``: the release at ``path`` (read and verified: :func:`distilled_registry.release.read_release`)
    that ``--init-from`` starts from, and ``config`` with ``init_from`` its data.npz's sha256; ``(config, None)``
    without ``path``. Checked before any work: the run's algorithm learns the images; the release is a run of this
    package (KIP or LS) whose config equals ``config`` in :data:`START_SAME`, and whose data.npz is
    ``config.init_from`` when that is given; a config naming a start needs ``path``."""
    if path is None:
        if config.init_from is not None:
            raise ConfigError(f"this config starts from the release whose data.npz has sha256 {config.init_from}: "
                              "give --init-from FOLDER of that release")
        return config, None
    path = user_values.path(path, "--init-from")
    algo = algorithms.make(config)
    if not algo.learns_images:
        raise ConfigError(f"--init-from is for an algorithm that learns the images (kip); {algo.title} keeps the "
                          "real images")
    start, prov = run_release(path, "--init-from", "give a release that `distilled-registry distill` wrote")
    diff = config_difference(config.to_dict(), prov["config"], START_SAME)
    if diff:
        raise ConfigError(f"--init-from {str(path)!r} was made in another space ({diff}); give the flags it was made "
                          "with for these")
    sha = prov["files"][rel.DATA_FILE]["sha256"]
    if config.init_from is not None and config.init_from != sha:
        raise ConfigError(f"--init-from {str(path)!r}: its data.npz has sha256 {sha}, not the {config.init_from} this "
                          "config starts from; give the release it names")
    return dataclasses.replace(config, init_from=sha), start


def config_difference(mine: dict, theirs: dict, keys) -> str:
    """``"key: release X, this run Y, ..."`` for each of ``keys`` whose values differ (``""`` when none does):
    how a refusal names a release's config against this run's."""
    return ", ".join(f"{k}: release {theirs.get(k)!r}, this run {mine.get(k)!r}"
                     for k in keys if mine.get(k) != theirs.get(k))


def start_support(start, support: dict, class_ids: np.ndarray) -> dict:
    """``--init-from``: the start release's images (n, H, W, C) and labels (n, C) in place of ``support``'s real
    ones, checked to have their shapes and this config's class ids."""
    arrays, where = start.arrays, f"--init-from {str(start.path)!r}"
    if not np.array_equal(arrays["class_ids"], class_ids):
        raise ConfigError(f"{where}: its class ids are not those of this config's start images; it was not made "
                          "with this --ipc and --seed")
    for key in ("images", "labels"):
        if arrays[key].shape != support[key].shape:
            raise ConfigError(f"{where}: its {key} have shape {arrays[key].shape}, this run's "
                              f"{support[key].shape}")
    return {"images": np.asarray(arrays["images"], np.float32), "labels": np.asarray(arrays["labels"], np.float32)}
