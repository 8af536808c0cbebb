"""Label Solve (Nguyen, Novak, Xiao, Lee: "Dataset Distillation with Infinitely Wide Convolutional
Networks", NeurIPS 2021, sec. 3).

For fixed support images ``X_s`` (n), the labels that make kernel ridge regression fit the whole
target set ``(X_t, y_t)`` (m >= n) best solve a least-squares problem:

    y_s* = argmin_y || K_ts K_reg^-1 y - y_t ||^2,      K_reg = K_ss + reg * trace(K_ss)/n * I.

Writing ``z = K_reg^-1 y`` it is ordinary least squares in ``z`` with design ``K_ts``, so

    G = K_st K_ts  (n, n),   B = K_st y_t  (n, C),
    y_s* = K_reg @ solve(G + r I, B),   r = ls_reg * trace(G) / n.

G and B are sums over blocks of target rows, so the target set streams through the kernel
``block`` rows at a time and ``K_ts`` (m x n) is never held whole. G and B are accumulated and
solved in float64.

Deviation from the reference code, kept on purpose: the reference multiplies by
``K_ss + (reg/n) I`` and regularises the normal equations with an absolute ``reg/n``. Here the
multiplier is the same trace-scaled ``K_reg`` the KRR evaluation uses, so the solved labels are
exactly optimal for the predictor that is evaluated, and the normal-equation ridge is
trace-scaled (``ls_reg``, default 1e-10), so it does not depend on the kernel's scale.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from distilled_registry.distill_config import DistillConfig

from . import krr
from .kernels import KernelFn, kernel_matrix

DEFAULT_LS_REG = DistillConfig.ls_reg  # the one default (distilled_registry.distill_config)

# A block producer: given (start, stop) target indices, returns K_ts rows (stop-start, n).
BlockFn = Callable[[int, int], np.ndarray]


def accumulate(block_rows: BlockFn, y_t: np.ndarray, m: int, block: int, progress: bool = False):
    """``G = sum_b K_bs^T K_bs`` and ``B = sum_b K_bs^T y_b`` over target blocks, float64."""
    g = b = None
    starts = range(0, m, block)
    if progress:
        from .progress import bar

        starts = bar(starts, desc="LS target blocks", unit="block")
    for i in starts:
        k = np.asarray(block_rows(i, min(i + block, m)), np.float64)
        if g is None:
            g = np.zeros((k.shape[1], k.shape[1]))
            b = np.zeros((k.shape[1], y_t.shape[1]))
        g += k.T @ k
        b += k.T @ np.asarray(y_t[i:i + block], np.float64)
    return g, b


def solve(k_ss: np.ndarray, g: np.ndarray, b: np.ndarray, reg: float = krr.DEFAULT_REG,
          ls_reg: float = DEFAULT_LS_REG) -> np.ndarray:
    """``y_s* = K_reg @ solve(G + ls_reg * trace(G)/n * I, B)``, float32 (n, C)."""
    n = k_ss.shape[0]
    k_ss = np.asarray(k_ss, np.float64)
    k_reg = k_ss + reg * np.trace(k_ss) / n * np.eye(n)
    z = np.linalg.solve(g + ls_reg * np.trace(g) / n * np.eye(n), b)
    return (k_reg @ z).astype(np.float32)


def label_solve(kernel_fn: KernelFn, x_s: np.ndarray, x_t: np.ndarray, y_t: np.ndarray,
                reg: float = krr.DEFAULT_REG, ls_reg: float = DEFAULT_LS_REG, block: int = 1000,
                progress: bool = False) -> np.ndarray:
    """Solved support labels (n, C) for images ``x_s`` against the whole target set ``(x_t, y_t)``.

    Raises ValueError when there are fewer targets than support points (the problem is then
    under-determined: any labels fit).
    """
    n, m = len(x_s), len(x_t)
    if m < n:
        raise ValueError(f"label solve needs at least as many targets as support images, got m={m} < n={n}")
    if reg < 0 or ls_reg < 0:
        raise ValueError(f"regularisers must be >= 0, got reg={reg}, ls_reg={ls_reg}")
    g, b = accumulate(lambda i, j: kernel_matrix(kernel_fn, x_t[i:j], x_s, block=block), y_t, m, block,
                      progress)
    k_ss = kernel_matrix(kernel_fn, x_s, x_s, block=block)
    return solve(k_ss, g, b, reg, ls_reg)
