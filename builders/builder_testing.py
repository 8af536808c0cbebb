"""Small dummy releases and the builder check that the per-family builder tests run.

A dummy release follows the release format exactly (``provenance.json`` passes its schema, every
file is checksummed) but holds random arrays: ``per_class`` images per class of the catalog
source's shape. The builder tests beside each family folder
(``builders/<family>/<family>_dataset_builder_test.py``) put one into a temporary store per
config and check that the family's TFDS builder returns exactly its arrays.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from distilled_registry import catalog, provenance, store
from distilled_registry import release as rel
from distilled_registry.distill_config import DistillConfig, KernelSpec
from distilled_registry.transform import Transform

SHA0 = "0" * 64


def dummy_arrays(entry: catalog.Entry, per_class: int | None = None, seed: int = 0,
                 images: int | None = None) -> dict[str, np.ndarray]:
    """``{"images", "labels", "class_ids"}`` of the entry's source shape: ``per_class`` per class (default:
    what the entry is, its spec's ``ipc`` or its published file's size per class), or ``images`` in all
    (class ids ``0, 1, ...`` cycling through the classes)."""
    src = entry.source_info
    c = int(src["num_classes"])
    if per_class is None:
        per_class = int(entry.spec["ipc"]) if entry.spec else max(1, int(entry.published["variant"]["ssize"]) // c)
    n = per_class * c if images is None else images
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(c), per_class) if images is None else np.arange(n) % c
    return {"images": rng.standard_normal((n, *src["image_shape"])).astype(np.float32),
            "labels": rng.standard_normal((n, c)).astype(np.float32),
            "class_ids": ids.astype(np.int64)}


def dummy_provenance(entry: catalog.Entry, data: dict[str, np.ndarray], seed: int = 0) -> dict:
    """A provenance that follows the schema for the dummy arrays of ``entry`` (metrics are made up)."""
    src = entry.source_info
    n, c = data["labels"].shape
    spec = entry.spec or _variant_spec(entry)
    kernel = dict(spec["kernel"])
    names = [str(x) for x in src.get("class_names") or range(c)]
    return provenance.build(
        entry.family,
        # the spec itself: a store release of a catalog name must have run its spec (store.check_identity)
        config=dict(spec) if entry.spec else {**spec, "ipc": max(1, n // c), "seed": seed},
        source={"name": entry.source, "origin": "dummy", "fingerprint_sha256": SHA0, "files_sha256": {},
                "exact_copy": False, "image_shape": list(src["image_shape"]), "num_classes": c,
                "class_names": names, "train_size": int(src["train_size"]), "test_size": int(src["test_size"]),
                "licence": src.get("licence", "unknown"), "homepage": src.get("homepage")},
        preprocessing={"file": rel.TRANSFORM_FILE, "zca": bool(spec.get("zca"))},
        kernel=kernel,
        algorithm={"name": entry.algorithm, "paper": "dummy data for a builder test", "steps_run": 0,
                   "final_loss": None, "support_size": n},
        seed=seed,
        backend={"name": "local", "workers": 1},
        # fixed, not this machine's: the committed dummy_data/ is the same bytes wherever it is written
        environment={"python": "3", "distilled-registry": "0.1.0", "jax": "none", "jaxlib": "none",
                     "neural-tangents": "none", "optax": "none", "numpy": "none", "git": {"commit": None}},
        timing={"wall_seconds": 0.0},
        created="2025-01-01T00:00:00+00:00",
        metrics={"krr_test_accuracy": 0.5, "krr_test_mse": 0.05, "natural_krr_test_accuracy": 0.4,
                 "natural_krr_test_mse": 0.06, "recipe": {"what": "dummy: not measured", "test_size": 1}})


def _variant_spec(entry: catalog.Entry) -> dict:
    """A stand-in spec for an entry with none (an explicit published variant): a ConvNet KIP run."""
    kernel = KernelSpec(architecture="convnet", depth=3, get="ntk", impl="nt")
    return DistillConfig(source=entry.source, algorithm=entry.algorithm, kernel=kernel, ipc=1, steps=0,
                         learn_labels=True).to_spec()  # the other hyper-parameters: the one config's defaults


def write_dummy_release(name: str, home: str | os.PathLike, per_class: int | None = None, seed: int = 0,
                        overwrite: bool = False, version: str | None = None,
                        images: int | None = None) -> tuple[Path, dict[str, np.ndarray]]:
    """Put a dummy release of catalog entry ``name`` into the store at ``home`` (default: its catalog version):
    ``per_class`` random images per class, or ``images`` in all.

    Returns ``(release folder, arrays)``. ``$DISTILLED_REGISTRY_HOME`` is set to ``home`` while writing.
    """
    e = catalog.entry(name)
    data = dummy_arrays(e, per_class, seed, images)
    c = data["images"].shape[-1]
    files = {rel.DATA_FILE: rel.data_bytes(**data),
             rel.TRANSFORM_FILE: Transform(np.zeros(c, np.float32), np.ones(c, np.float32)).to_bytes()}
    old = os.environ.get(store.HOME_ENV)
    os.environ[store.HOME_ENV] = str(home)
    try:
        with tempfile.TemporaryDirectory(prefix="distilled-registry-dummy-") as tmp:
            staging = Path(tmp) / "release"
            rel.write_release(staging, files, dummy_provenance(e, data, seed))
            info = {"catalog_spec": e.spec} if e.spec else {}
            path = store.add(staging, e.name, version or e.version, info, overwrite=overwrite)
    finally:
        if old is None:
            os.environ.pop(store.HOME_ENV, None)
        else:
            os.environ[store.HOME_ENV] = old
    return path, data


def read_data_source(name: str, data_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """``tfds.data_source(name, split="train")`` stacked into arrays (needs no TensorFlow)."""
    import tensorflow_datasets as tfds

    src = tfds.data_source(name, split="train", data_dir=str(data_dir))
    rows = [src[i] for i in range(len(src))]
    return stack(rows)


def stack(rows: list[dict]) -> dict[str, np.ndarray]:
    """Examples (dicts of features) into ``images, labels, class_ids, label, index`` arrays."""
    return {"images": np.stack([np.asarray(r["image"]) for r in rows]),
            "labels": np.stack([np.asarray(r["label_vector"]) for r in rows]),
            "class_ids": np.asarray([r["class_id"] for r in rows], np.int64),
            "label": np.asarray([r["label"] for r in rows], np.int64),
            "index": np.asarray([r["index"] for r in rows], np.int64)}


def assert_same_arrays(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """The builder's examples are exactly the release's arrays, in order (bitwise float32)."""
    for k in ("images", "labels", "class_ids"):
        assert got[k].dtype == want[k].dtype, (k, got[k].dtype, want[k].dtype)
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    np.testing.assert_array_equal(got["label"], want["class_ids"])  # the class, not argmax(label vector)
    np.testing.assert_array_equal(got["index"], np.arange(len(want["images"])))
