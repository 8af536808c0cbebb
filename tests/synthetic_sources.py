"""Source files made up for tests: MNIST's four IDX ``.gz`` files with random pixels."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(arr, dims=None) -> bytes:
    """An IDX file (unsigned bytes) of ``arr``, gzip-compressed; ``dims`` overrides its header."""
    arr = np.asarray(arr)
    dims = arr.shape if dims is None else dims
    head = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    return gzip.compress(head + arr.astype(np.uint8).tobytes())


def write_mnist(d: Path, n_train: int = 30, n_test: int = 10, seed: int = 0, **override) -> dict:
    """MNIST's four files in ``d``: random 28x28 images, labels ``0..9`` in turn; returns the arrays."""
    from distilled_registry.pipelines import sources

    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)),
              "train_labels": np.arange(n_train) % 10,
              "test_images": rng.integers(0, 256, (n_test, 28, 28)),
              "test_labels": np.arange(n_test) % 10}
    arrays.update(override)
    for key, fname in sources.IDX_FILES.items():
        (Path(d) / fname).write_bytes(idx_bytes(arrays[key]))
    return arrays
