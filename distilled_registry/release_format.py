"""What a release folder must hold, checked on every write and every read (release.py, release_read.py).

- :func:`shape_problem`: the shapes and dtypes of ``data.npz``'s arrays against each other and the
  provenance (run on the ``.npy`` headers before any array is allocated, and on the arrays);
- :func:`check_arrays`: the same plus every value finite and class ids in ``[0, C)``;
- :func:`check_metrics`: every recorded figure finite, accuracies in ``[0, 1]``;
- :func:`check_transform`: the transform file loads, is finite and fits the images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import release_columns as columns
from .errors import UserError
from .provenance import Provenance, typed

DATA_FILE = "data.npz"
PROVENANCE_FILE = "provenance.json"
TRANSFORM_FILE = "transform.npz"
DATA_KEYS = tuple(col.npz_key for col in columns.NPZ)  # ("images", "labels", "class_ids")
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # provenance.schema.json $defs.file_name


def shape_problem(shapes: dict[str, tuple], dtypes: dict[str, np.dtype],
                  prov: Provenance | dict | None = None) -> str | None:
    """What is wrong with the shapes and dtypes of the release arrays (None when nothing is).

    images (N,H,W,C) and labels (N,C) of a float dtype, class_ids (N,) of an integer dtype; with the
    provenance ``prov``, also ``N == algorithm.support_size``, ``(H,W,C) == source.image_shape`` and
    ``C == source.num_classes``.
    """
    images, labels, ids = shapes["images"], shapes["labels"], shapes["class_ids"]
    if len(images) != 4 or dtypes["images"].kind != "f":
        return f"images must be (N, H, W, C) floats, got shape {images} dtype {dtypes['images']}"
    n = images[0]
    if len(labels) != 2 or labels[0] != n or dtypes["labels"].kind != "f":
        return f"labels must be (N, C) floats for N={n} images, got shape {labels} dtype {dtypes['labels']}"
    if ids != (n,) or dtypes["class_ids"].kind not in "iu":
        return f"class_ids must be (N,) integers for N={n} images, got shape {ids} dtype {dtypes['class_ids']}"
    if prov is not None:
        p = typed(prov)
        src, want_n = p.source, p.algorithm.support_size
        if n != want_n:
            return f"holds {n} images; provenance.json says algorithm.support_size {want_n}"
        if tuple(images[1:]) != src.image_shape:
            return (f"images are {tuple(images[1:])} each; provenance.json says source.image_shape "
                    f"{list(src.image_shape)}")
        if labels[1] != src.num_classes:
            return (f"labels have shape {labels}; provenance.json says {want_n} images of "
                    f"{src.num_classes} classes (source.num_classes)")
    return None


def check_arrays(data: dict[str, np.ndarray], prov: Provenance | dict | None = None) -> str | None:
    """What is wrong with the release arrays ``data`` (None when nothing is).

    Always: :func:`shape_problem`; every image and label value finite; class ids in ``[0, C)``.
    With the release's provenance ``prov``, also the shapes it gives.
    """
    problem = shape_problem({k: tuple(data[k].shape) for k in DATA_KEYS}, {k: data[k].dtype for k in DATA_KEYS}, prov)
    if problem:
        return problem
    images, labels, ids = data["images"], data["labels"], data["class_ids"]
    c = labels.shape[1]
    for key, a in (("images", images), ("labels", labels)):
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            what = "NaN" if np.isnan(a[first]) else "infinite"
            return (f"{key} hold {int(bad.sum())} non-finite value(s), the first {what} at index {first}; "
                    "a release holds finite numbers only")
    out = (ids < 0) | (ids >= c)
    if out.any():
        return f"class_ids hold {int(ids[out][0])}, outside [0, {c}) for {c} classes"
    return None


def check_metrics(prov: Provenance | dict) -> str | None:
    """What is wrong with the recorded figures: every number finite, every accuracy in [0, 1]."""
    problems = []

    def walk(x, where: str, accuracy: bool) -> None:
        if isinstance(x, Mapping):
            for k, v in x.items():
                walk(v, f"{where}.{k}", accuracy or "accurac" in str(k))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]", accuracy)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            if not np.isfinite(x):
                problems.append(f"{where} is {x!r}; a recorded figure must be a finite number")
            elif accuracy and not 0 <= x <= 1:
                problems.append(f"{where} is {x!r}, outside [0, 1] (an accuracy)")

    p = typed(prov)
    walk(p.metrics.raw, "metrics", False)
    loss = p.algorithm.final_loss
    if isinstance(loss, float) and not np.isfinite(loss):
        problems.append(f"algorithm.final_loss is {loss!r}; a finished run's loss is finite")
    return "; ".join(problems) or None


def check_transform(path: Path, prov: Provenance | dict, content: bytes) -> str | None:
    """What is wrong with the release's transform file: unreadable, non-finite, or not for its images.

    ``content``: the file's bytes, read by :func:`distilled_registry.bounded_read.read_file`; its
    members' headers are held against the image shape (:func:`bounded_read.transform_schema`)
    before :meth:`Transform.load` allocates anything.
    """
    from . import bounded_read
    from .transform import Transform

    p = typed(prov)
    name = p.transform_file
    if not name or name not in p.files:
        return None
    try:
        bounded_read.check_npz(content, str(path / name), bounded_read.transform_schema(p),
                               ("mean", "std", "meta_json"), bounded_read.size_limit(name, p))
        t = Transform.load(path / name, content)
        t.check_image_shape(p.source.image_shape)
    except UserError as e:
        return str(e)
    return None
