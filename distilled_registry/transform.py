"""The preprocessing a release's images live in, as numbers a user can apply to new images.

Released images are in the preprocessed space, so every release carries ``transform.npz``;
``Transform.load(path).apply(x)`` maps raw test images (NHWC, scaled to [0, 1] like the source
loader scales them) into that space. numpy only: reading a release never needs JAX.

The map, for an image ``x`` of shape (H, W, C) (Nguyen et al. 2021, as the KIP reference code does it):

1. per-channel standardisation: ``x = (x - mean[c]) / std[c]``;
2. ZCA (optional): flatten to ``d = H*W*C``, remove the image's own mean and divide by its norm
   (``x = (x - mean(x)) / ||x - mean(x)||``), then ``x = x @ W`` with the whitening matrix
   ``W = U diag((s + lambda)^-1/2) U^T`` fitted on the training split (``pipelines.preprocess``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from .npz import npz_bytes

FORMAT = "distilled_registry.transform/1"


@dataclasses.dataclass
class Transform:
    """Per-channel standardisation, then optional ZCA whitening.

    Attributes:
      mean, std: (C,) float32 per-channel statistics of the training split.
      zca: (d, d) float32 whitening matrix, or None when ZCA is off.
      params: how it was fitted (e.g. ``{"zca_reg": 0.1, "fitted_on": <source fingerprint>}``).
    """

    mean: np.ndarray
    std: np.ndarray
    zca: np.ndarray | None = None
    params: dict = dataclasses.field(default_factory=dict)

    def apply(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Map (N, H, W, C) images into the release's space; returns float32 of the same shape."""
        x = np.asarray(x, np.float32)
        if x.ndim != 4 or x.shape[-1] != len(self.mean):
            raise ValueError(f"expected (N, H, W, {len(self.mean)}) images, got shape {x.shape}")
        x = (x - self.mean) / self.std
        if self.zca is None:
            return x.astype(np.float32)
        d = int(np.prod(x.shape[1:]))
        if d != self.zca.shape[0]:
            raise ValueError(f"images have {d} values but the ZCA matrix is {self.zca.shape}")
        out = np.empty_like(x)
        for i in range(0, len(x), batch):
            out[i:i + batch] = (normalize_rows(x[i:i + batch].reshape(-1, d)) @ self.zca).reshape(
                x[i:i + batch].shape)
        return out

    def to_bytes(self) -> bytes:
        arrays = {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32)}
        if self.zca is not None:
            arrays["zca"] = self.zca.astype(np.float32)
        meta = {"format": FORMAT, "params": self.params}
        arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        return npz_bytes(arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Transform":
        with np.load(Path(path), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta_json"]).decode())
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
            return cls(mean=z["mean"], std=z["std"], zca=z["zca"] if "zca" in z else None,
                       params=meta.get("params", {}))


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Remove each row's mean and divide by its norm: ``(x - mean) / ||x - mean||`` (rows of zeros stay 0)."""
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)
