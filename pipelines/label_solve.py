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

As an :class:`algorithm.Algorithm` (:func:`algorithm`): ``init`` keeps the real images and their centred
one-hot labels, and its one ``update`` is the solve above, the kernel reached through ``problem.rows``
(in-process blocks, or tiles on a worker pool): no training steps.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from distilled_registry.distill_config import DistillConfig

from . import algorithm as alg
from . import krr
from .kernels import KernelFn, kernel_matrix
from .tiling import Tiling, block_size

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


def target_indices(labels: np.ndarray, num_classes: int, targets: int | None, seed: int) -> np.ndarray | None:
    """The training rows Label Solve solves against: None for the whole split, else a class-balanced sample of
    ``targets // C`` per class (:func:`kip.class_balanced_indices`), a function of ``seed`` alone."""
    if targets is None:
        return None
    from .kip import class_balanced_indices

    return class_balanced_indices(np.asarray(labels), max(1, targets // num_classes),
                                  np.random.default_rng([seed, 0x15, 0x7A]))


def algorithm(reg: float = krr.DEFAULT_REG, ls_reg: float = DEFAULT_LS_REG, block: int = 1000,
              targets: int | None = None, seed: int = 0) -> alg.Algorithm:
    """Label Solve as an :class:`algorithm.Algorithm` of one update and no training steps.

    ``init(problem, support)``: the support images fixed, their labels the ones to solve for.
    ``update(problem, state)``: against the whole training split ``(X_t, y_t)``, or with ``targets`` its
    class-balanced sample of ``targets // C`` per class (:func:`target_indices`, drawn with ``seed``)
    (m targets, ``block`` rows at a time, ``K = problem.rows``)

        G = sum_b K_bs^T K_bs,   B = sum_b K_bs^T y_b,   y_s* = K_reg @ solve(G + ls_reg tr(G)/n I, B),

    with ``K_reg = K_ss + reg tr(K_ss)/n I``; the loss it returns is None (nothing iterated).
    """

    def init(problem: alg.Problem, support: dict) -> alg.State:
        return alg.State(0, {"labels": support["labels"]}, {"images": support["images"]}, None)

    def update(problem: alg.Problem, state: alg.State) -> tuple[alg.State, None]:
        x_s, x_t, y_t = state.fixed["images"], problem.x_train, problem.targets
        idx = target_indices(problem.y_train, problem.num_classes, targets, seed)
        if idx is not None:
            x_t, y_t = x_t[idx], y_t[idx]
        if len(y_t) < len(x_s):
            raise ValueError(f"label solve needs at least as many targets as support images, got {len(y_t)} < "
                             f"{len(x_s)}; give --ls-targets of at least {len(x_s)}")
        g, b = accumulate(lambda i, j: problem.rows(x_t[i:j], x_s), y_t, len(y_t), block, problem.progress)
        labels = solve(problem.rows(x_s, x_s), g, b, reg, ls_reg)
        return alg.State(state.step + 1, {"labels": labels}, state.fixed, None), None

    def kernel_calls(n: int, m: int, tile: int) -> list[tuple]:
        return pass_calls(n, m, tile, block)

    return alg.Algorithm("ls", "Label Solve", 1, has_steps=False, learns_images=False, init=init, update=update,
                         targets=lambda num_classes, train_size: solved_rows(num_classes, train_size, targets),
                         kernel_calls=kernel_calls,
                         other_costs=lambda n, m, c: [("LS normal equations and solve", solve_seconds(
                             n, m, c, reg, ls_reg, block), f"G += K^T K over {math.ceil(m / block):,} blocks, then "
                             "the solve")])


def finish(problem: alg.Problem, images: np.ndarray, labels: np.ndarray, reg: float = krr.DEFAULT_REG,
           ls_reg: float = DEFAULT_LS_REG, block: int = 1000, targets: int | None = None,
           seed: int = 0) -> np.ndarray:
    """KIP's ``--ls-finish``: the labels (n, C) that Label Solve gives the learned ``images`` (n, H, W, C).

    The same solve as :func:`algorithm`'s update (the support images fixed, ``labels`` only their shape's
    placeholder), over the whole training split or ``targets`` of it: for fixed images it is the exact
    minimiser of KIP's own loss summed over those targets, where the Adam-learned labels minimise it over
    sampled batches.
    """
    state = alg.State(0, {"labels": np.asarray(labels)}, {"images": np.asarray(images)}, None)
    return algorithm(reg, ls_reg, block, targets, seed).update(problem, state)[0].labels


def solved_rows(num_classes: int, train_size: int, targets: int | None) -> int:
    """The target rows one solve covers (the plan's ``m``): the split, or ``targets // C`` per class (at most the
    split; a class smaller than that gives all it has, which the plan does not see)."""
    from .kip import balanced_count

    return train_size if targets is None else balanced_count(num_classes, train_size, targets)


def make(config) -> alg.Algorithm:
    """The run's Label Solve from its :class:`distill.DistillConfig` (the registry's constructor)."""
    return algorithm(config.reg, config.ls_reg, config.eval_block, config.ls_targets, config.seed)


def pass_calls(n: int, m: int, tile: int, block: int) -> list[tuple]:
    """The kernel calls of the solve (:class:`plan.Call` fields): ``K_ts`` in blocks of ``block`` targets and
    ``K_ss``, as tiles on workers (``tile`` > 0, :func:`distributed.kernel_rows`) or as
    :func:`kernels.kernel_matrix`'s padded blocks in this process (``tile`` 0)."""
    calls = []
    if tile:
        for rows, count in ((block, m // block), (m % block, 1)):
            if rows and count:
                t = Tiling.for_tile(n, rows, tile)
                calls.append(("LS tiles", "forward", t.target_block, t.block,
                              count * t.target_blocks * t.support_blocks, "worker", False))
        b = block_size(n, tile)
        return calls + [("LS tiles", "forward", b, b, math.ceil(n / b) ** 2, "worker", False)]
    b = min(block, n)
    col_blocks = math.ceil(n / b)
    calls.append(("LS kernel", "forward", b, b, col_blocks ** 2, "driver", False))
    full, last = divmod(m, block)
    if full:
        calls.append(("LS kernel", "forward", min(block, m), b, full * col_blocks, "driver", False))
    if last:
        calls.append(("LS kernel", "forward", last, b, col_blocks, "driver", False))
    return calls


def solve_seconds(n: int, m: int, c: int, reg: float, ls_reg: float, block: int = 1000) -> float:
    """The normal equations and the solve without the kernel (:func:`accumulate` per block, then :func:`solve`),
    timed on one random block of ``block`` rows and scaled to ``m`` rows."""
    rng = np.random.default_rng(0)
    k = rng.standard_normal((min(block, m), n)).astype(np.float32)
    y = rng.standard_normal((len(k), c)).astype(np.float32)
    t = time.perf_counter()
    g, b = accumulate(lambda i, j: k[i:j], y, len(k), block)
    per_block = time.perf_counter() - t
    k_ss = k[:n].T @ k[:n] + np.eye(n, dtype=np.float32) if len(k) >= n else np.eye(n, dtype=np.float32)
    t = time.perf_counter()
    solve(k_ss, g, b, reg, ls_reg)
    return per_block * math.ceil(m / block) + time.perf_counter() - t
