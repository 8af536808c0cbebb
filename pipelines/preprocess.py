"""Fitting the preprocessing of a release: per-channel standardisation and ZCA whitening.

The fitted :class:`distilled_registry.transform.Transform` is saved with the release so users can
map test data into the space of the distilled images.

ZCA as in the KIP reference code (Nguyen et al. 2021): on standardised training images flattened
to ``X (N, d)``, each row has its mean removed and is scaled to unit norm, then

    cov = X^T X / N,    lambda = zca_reg * trace(cov) / d,
    cov = U diag(s) U^T,    W = U diag((s + lambda)^-1/2) U^T,

and a whitened image is ``normalize(x) @ W``.
"""

from __future__ import annotations

import numpy as np

from distilled_registry.transform import Transform, normalize_rows


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of (N, H, W, C) images, float32 (C,) each.

    A constant channel gets std 1 so standardising it cannot divide by zero.
    """
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=(0, 1, 2))
    std = x.std(axis=(0, 1, 2))
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def zca_matrix(x: np.ndarray, zca_reg: float = 0.1) -> np.ndarray:
    """ZCA whitening matrix ``W = U diag((s + lambda)^-1/2) U^T`` of rows of ``x (N, d)``.

    Rows are mean-removed and unit-normed first; ``cov = X^T X / N``;
    ``lambda = zca_reg * trace(cov) / d``. Returns float32 (d, d). Computed in float64.
    """
    if not zca_reg > 0:
        raise ValueError(f"zca_reg must be > 0 (mean-removed rows make the covariance singular), got {zca_reg}")
    x = normalize_rows(np.asarray(x, np.float64).reshape(len(x), -1))
    cov = x.T @ x / len(x)
    lam = zca_reg * np.trace(cov) / cov.shape[0]
    s, u = np.linalg.eigh(cov)
    s = np.clip(s, 0.0, None)  # eigh of a PSD matrix can return tiny negatives
    return ((u * (s + lam) ** -0.5) @ u.T).astype(np.float32)


def fit_transform(x_train: np.ndarray, zca: bool, zca_reg: float = 0.1, fitted_on: str = "") -> Transform:
    """Fit standardisation (and ZCA when ``zca``) on training images (N, H, W, C)."""
    mean, std = channel_stats(x_train)
    params = {"standardize": "per-channel mean/std of the training split", "zca": bool(zca),
              "fitted_on_sha256": fitted_on}
    w = None
    if zca:
        params["zca_reg"] = float(zca_reg)
        params["zca_recipe"] = ("rows mean-removed and unit-normed; cov = X^T X / N; "
                                "W = U diag((s + zca_reg*trace(cov)/d)^-1/2) U^T")
        w = zca_matrix((x_train - mean) / std, zca_reg)
    return Transform(mean=mean, std=std, zca=w, params=params, image_shape=tuple(int(v) for v in x_train.shape[1:]))
