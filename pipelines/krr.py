"""Kernel ridge regression as KIP and LS use it (Nguyen et al., ICLR 2021, eq. 2).

Support set ``(X_s, y_s)`` of ``n`` points, targets ``(X_t, y_t)`` of ``m`` points,
``C`` classes, labels centred (``one_hot - 1/C``):

    K_reg = K_ss + reg * trace(K_ss) / n * I                       (n, n)
    pred  = K_ts @ solve(K_reg, y_s)                               (m, C)
    loss  = 0.5 * mean((pred - y_t)^2)                             scalar

``solve`` is a Cholesky solve (K_reg is positive definite). Functions here are pure JAX and
differentiable; :func:`evaluate` streams a test set through the kernel in batches so a large
test split never needs one huge matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from distilled_registry.distill_config import DistillConfig

from .kernels import KernelFn, kernel_matrix

DEFAULT_REG = DistillConfig.reg  # the one default (distilled_registry.distill_config)


def centered_one_hot(labels, num_classes: int) -> np.ndarray:
    """``one_hot(labels) - 1/C``, float32 (N, C)."""
    y = np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]
    return y - np.float32(1.0 / num_classes)


def regularize(k_ss: jax.Array, reg: float) -> jax.Array:
    """``K_ss + reg * trace(K_ss) / n * I``."""
    n = k_ss.shape[0]
    return k_ss + reg * jnp.trace(k_ss) / n * jnp.eye(n, dtype=k_ss.dtype)


def fit(k_ss: jax.Array, y_s: jax.Array, reg: float = DEFAULT_REG) -> jax.Array:
    """Dual coefficients ``alpha = K_reg^-1 y_s`` (n, C), by Cholesky."""
    c = jsl.cho_factor(regularize(k_ss, reg), lower=True)
    return jsl.cho_solve(c, y_s)


def predict(k_ss: jax.Array, k_ts: jax.Array, y_s: jax.Array, reg: float = DEFAULT_REG) -> jax.Array:
    """``K_ts @ K_reg^-1 y_s`` (m, C)."""
    return k_ts @ fit(k_ss, y_s, reg)


def loss(k_ss: jax.Array, k_ts: jax.Array, y_s: jax.Array, y_t: jax.Array,
         reg: float = DEFAULT_REG) -> jax.Array:
    """``0.5 * mean((K_ts K_reg^-1 y_s - y_t)^2)`` over all m*C entries."""
    return 0.5 * jnp.mean((predict(k_ss, k_ts, y_s, reg) - y_t) ** 2)


def accuracy(pred, labels) -> float:
    """Fraction of rows whose argmax equals the integer label."""
    return float(np.mean(np.argmax(np.asarray(pred), axis=1) == np.asarray(labels)))


def evaluate(kernel_fn: KernelFn, x_s: np.ndarray, y_s: np.ndarray, x_test: np.ndarray,
             labels_test: np.ndarray, reg: float = DEFAULT_REG, block: int = 1000,
             progress: str | None = None) -> dict:
    """KRR test accuracy and MSE of support ``(x_s, y_s)`` on a labelled test set.

    Test images go through the kernel ``block`` at a time: memory is O(block * n), not O(m * n).

    Returns ``{"accuracy": float, "mse": float, "test_size": m}`` where mse is
    ``0.5 * mean((pred - centred_one_hot)^2)`` like the training loss.
    """
    return evaluate_labels(kernel_fn, x_s, [y_s], x_test, labels_test, reg, block, progress)[0]


def evaluate_labels(kernel_fn: KernelFn, x_s: np.ndarray, label_sets: list[np.ndarray], x_test: np.ndarray,
                    labels_test: np.ndarray, reg: float = DEFAULT_REG, block: int = 1000,
                    progress: str | None = None) -> list[dict]:
    """:func:`evaluate` of one support set ``x_s`` (n, ...) under several label matrices (each (n, C)).

    ``K_ss`` and ``K(x_test, x_s)``, the whole cost, are computed once; each label set gets its own
    ``alpha = (K_ss + reg * tr(K_ss)/n * I)^-1 Y``. Label Solve keeps the real images, so its
    release and the natural baseline share every kernel entry: one pass instead of two. Each result
    equals :func:`evaluate` of that label set alone.
    """
    k_ss = kernel_matrix(kernel_fn, x_s, x_s, block=block)
    alphas = [np.asarray(fit(jnp.asarray(k_ss), jnp.asarray(y), reg)) for y in label_sets]
    num_classes = label_sets[0].shape[1]
    correct, sq = [0] * len(alphas), [0.0] * len(alphas)
    starts = range(0, len(x_test), block)
    if progress:
        from .progress import bar

        starts = bar(starts, desc=progress, unit="block", leave=False)
    for i in starts:
        xb = x_test[i:i + block]
        k_bs = kernel_matrix(kernel_fn, xb, x_s, block=block)
        yb = centered_one_hot(labels_test[i:i + block], num_classes)
        for j, alpha in enumerate(alphas):
            pred = k_bs @ alpha
            correct[j] += int(np.sum(np.argmax(pred, 1) == labels_test[i:i + block]))
            sq[j] += float(np.sum((pred - yb) ** 2))
    m = len(x_test)
    return [{"accuracy": c / m, "mse": 0.5 * e / (m * num_classes), "test_size": m} for c, e in zip(correct, sq)]
