"""The columns of a release, defined once: every reader's features and the parquet writer derive from here.

A release is N rows; each row has these columns (``H, W, C`` the source's image shape, ``K`` its
number of classes):

=================  =======  ==============  ====================================================
``image``          float32  ``(H, W, C)``   the distilled image, in the release's preprocessed space
``label``          int64    ``()``          the class the image was distilled for: ``class_id``,
                                            never the argmax of the label vector (a class label)
``label_vector``   float32  ``(K,)``        centred one-hot or learned: the target KRR fits
``class_id``       int64    ``()``          the class the image was initialised from (a class label)
``index``          int64    ``()``          the row in ``data.npz`` (TFDS and the Hub only)
=================  =======  ==============  ====================================================

:data:`RECORDS` are the columns of ``data.parquet`` and Croissant's record set; :data:`EXAMPLE`
those of a TFDS example and a Hugging Face row (the Hub adds a ``preview`` PNG for its viewer);
:data:`NPZ` the columns ``data.npz`` stores (``images``, ``labels``, ``class_ids``), whose member
shapes and dtypes every read holds the file to (:func:`bounded_read.data_schema`).
:func:`rows` makes the columns from ``data.npz``'s arrays, :func:`shape` a column's shape.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its name, element dtype, shape in symbols (``H W C`` image, ``K`` classes), whether its
    values are class indices, the ``data.npz`` array it comes from (None: the row number) and its meaning."""

    name: str
    dtype: str
    dims: tuple[str, ...]
    class_label: bool
    npz_key: str | None
    doc: str


IMAGE = Column("image", "float32", ("H", "W", "C"), False, "images",
               "distilled image, float32, in the release's preprocessed space")
LABEL = Column("label", "int64", (), True, "class_ids",
               "the class the image was distilled for (class_id)")
LABEL_VECTOR = Column("label_vector", "float32", ("K",), False, "labels",
                      "the release's label vector (centred one-hot or learned): the target kernel ridge "
                      "regression fits")
CLASS_ID = Column("class_id", "int64", (), True, "class_ids", "the class the image was initialised from")
INDEX = Column("index", "int64", (), False, None, "row of the image in the release's data.npz")

RECORDS: tuple[Column, ...] = (IMAGE, LABEL, LABEL_VECTOR, CLASS_ID)
EXAMPLE: tuple[Column, ...] = RECORDS + (INDEX,)
NPZ: tuple[Column, ...] = (IMAGE, LABEL_VECTOR, CLASS_ID)  # data.npz's arrays: images, labels, class_ids


def shape(col: Column, image_shape: tuple[int, int, int], num_classes: int) -> tuple[int, ...]:
    """The shape of one value of ``col``: ``(H, W, C)`` for the image, ``(K,)`` for the label vector, ``()``."""
    h, w, c = (int(v) for v in image_shape)
    sizes = {"H": h, "W": w, "C": c, "K": int(num_classes)}
    return tuple(sizes[d] for d in col.dims)


def rows(images: np.ndarray, labels: np.ndarray, class_ids: np.ndarray,
         columns: tuple[Column, ...] = EXAMPLE) -> dict[str, np.ndarray]:
    """``{column name: (N, *shape) array of its dtype}`` from ``data.npz``'s arrays (images (N,H,W,C),
    labels (N,K), class_ids (N,)); ``label`` is ``class_ids``, ``index`` is ``arange(N)``."""
    arrays = {"images": images, "labels": labels, "class_ids": class_ids}
    n = len(class_ids)
    return {col.name: (np.arange(n, dtype=col.dtype) if col.npz_key is None
                       else np.ascontiguousarray(arrays[col.npz_key], dtype=col.dtype)) for col in columns}


def row(columns: dict[str, np.ndarray], i: int) -> dict:
    """Row ``i`` of :func:`rows`' columns: arrays for shaped columns, Python ints for scalars."""
    return {k: (v[i] if v.ndim > 1 else v[i].item()) for k, v in columns.items()}


__all__ = ["CLASS_ID", "EXAMPLE", "IMAGE", "INDEX", "LABEL", "LABEL_VECTOR", "NPZ", "RECORDS", "Column", "row", "rows",
           "shape"]
