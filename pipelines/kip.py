"""Kernel Inducing Points (Nguyen, Chen, Lee: "Dataset Meta-Learning from Kernel Ridge
Regression", ICLR 2021; "Dataset Distillation with Infinitely Wide Convolutional Networks",
NeurIPS 2021).

KIP learns a small support set ``(X_s, y_s)`` (n = ipc * C images) by minimising the kernel ridge
regression loss of :mod:`krr` on target batches drawn from the real training set:

    L(X_s, y_s) = 0.5 * mean((K(X_t, X_s) K_reg(X_s)^-1 y_s - y_t)^2),

with Adam (optax). Images, labels or both are learned. The support set starts from a
class-balanced sample of real images with centred one-hot labels; each step draws a fresh
class-balanced target batch. Everything random is a pure function of ``(seed, step)``
(:func:`target_indices`), so a run is determined by its seed and can resume at any step.

In the optax style (:mod:`algorithm`), :func:`algorithm` builds the run's pair once, Adam included:

- ``init(problem, support)`` -> :class:`KipState` (step 0, learned params, fixed params, ``adam.init(learned)``);
- ``update(problem, state)``: draw step ``s``'s target batch, ``(L, g) = problem.gradients(learned, fixed,
  x_t, y_t)`` from a *gradient engine* (:func:`dense_engine` differentiates the whole loss in one process,
  the distributed engine splits the kernel into tiles: same maths), then one Adam step (:func:`apply_gradients`)
  and the divergence check;
- :func:`run` (the loop of :func:`algorithm.run`, with a progress bar and a hook every N steps).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from distilled_registry.distill_config import DistillConfig, check_value, drop_steps
from distilled_registry.errors import UserError

from . import algorithm as alg
from . import krr
from .kernels import KernelFn
from .tiling import Tiling

Engine = alg.Engine
KipState = alg.State  # the state of every algorithm: step, learned, fixed, Adam's state (what a checkpoint holds)


class KipDiverged(UserError):
    """The KIP loss or a learned value became NaN or infinite: the learning rate is too large."""


@dataclasses.dataclass(frozen=True)
class KipConfig:
    """Hyper-parameters of one KIP run: defaults and checks are :class:`DistillConfig`'s, the one home of both."""

    ipc: int
    steps: int = DistillConfig.steps
    learning_rate: float = DistillConfig.learning_rate
    target_batch: int = DistillConfig.target_batch
    reg: float = DistillConfig.reg
    learn_images: bool = True
    learn_labels: bool = DistillConfig.learn_labels
    seed: int = DistillConfig.seed
    lr_drop_at: int | tuple | None = None  # at each of these steps the rate is multiplied by lr_drop_scale
    lr_drop_scale: float | None = None

    def __post_init__(self):
        if (self.lr_drop_at is None) != (self.lr_drop_scale is None):
            raise ValueError("lr_drop_at and lr_drop_scale go together")
        for name in ("ipc", "steps", "learning_rate", "target_batch", "reg", "learn_labels", "seed", "lr_drop_at",
                     "lr_drop_scale"):
            check_value(DistillConfig, name, getattr(self, name))
        if not (self.learn_images or self.learn_labels):
            raise ValueError("KIP must learn images, labels or both")

    @classmethod
    def of(cls, config: DistillConfig) -> "KipConfig":
        """The KIP hyper-parameters of a run's ``config`` (images learned, labels too with ``learn_labels``)."""
        return cls(ipc=config.ipc, steps=config.steps, learning_rate=config.learning_rate,
                   target_batch=config.target_batch, reg=config.reg, learn_images=True,
                   learn_labels=config.learn_labels, seed=config.seed, lr_drop_at=config.lr_drop_at,
                   lr_drop_scale=config.lr_drop_scale)

    def rate_scale(self, step: int) -> float:
        """The factor of ``learning_rate`` at step ``step`` (0-based): ``lr_drop_scale ** k``, ``k`` the number
        of ``lr_drop_at`` steps at or before ``step`` (1 before the first), as
        ``optax.piecewise_constant_schedule(lr, {s: lr_drop_scale for s in lr_drop_at})`` gives it."""
        k = sum(step >= s for s in drop_steps(self.lr_drop_at))
        return self.lr_drop_scale ** k if k else 1.0


def class_balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class drawn without replacement, grouped by class (class 0 first).

    A class with fewer than ``per_class`` examples contributes all of them.
    """
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out.append(np.sort(rng.choice(idx, size=min(per_class, len(idx)), replace=False)))
    return np.concatenate(out)


def balanced_count(num_classes: int, train_size: int, total: int) -> int:
    """Rows a class-balanced sample of ``total`` draws (``total // C`` per class, at least 1), at most the split
    (a class smaller than its share gives all it has, which this count does not see)."""
    return min(num_classes * max(1, total // num_classes), train_size)


def support_indices(labels: np.ndarray, ipc: int, seed: int) -> np.ndarray:
    """The real images a run with ``seed`` starts from (also the natural baseline's support set)."""
    counts = np.bincount(labels)
    if ipc > counts.min():
        raise ValueError(f"ipc={ipc} but the smallest class has only {counts.min()} training images")
    return class_balanced_indices(labels, ipc, np.random.default_rng([seed, 0xC1A55]))


def target_indices(labels: np.ndarray, batch: int, seed: int, step: int) -> np.ndarray:
    """Class-balanced target batch of step ``step``: ``batch // C`` per class, a function of (seed, step)."""
    num_classes = int(labels.max()) + 1
    return class_balanced_indices(labels, max(1, batch // num_classes),
                                  np.random.default_rng([seed, 0x7A, step]))


def kip_loss(kernel_fn: KernelFn, images, labels, x_t, y_t, reg: float):
    """The KIP objective on one target batch: krr.loss(K_ss, K_ts, y_s, y_t)."""
    k_ss = kernel_fn(images, images)
    k_ts = kernel_fn(x_t, images)
    return krr.loss(k_ss, k_ts, labels, y_t, reg)


def dense_engine(kernel_fn: KernelFn, reg: float) -> Engine:
    """Single-process gradient engine: ``jax.value_and_grad`` of :func:`kip_loss`, jitted."""

    @jax.jit
    def value_and_grad(learned, fixed, x_t, y_t):
        def f(learned):
            p = {**fixed, **learned}
            return kip_loss(kernel_fn, p["images"], p["labels"], x_t, y_t, reg)

        return jax.value_and_grad(f)(learned)

    return value_and_grad


def optimizer(config: KipConfig) -> optax.GradientTransformation:
    """Adam at ``config.learning_rate`` (built once per run, by :func:`algorithm`)."""
    return optax.adam(config.learning_rate)


def algorithm(config: KipConfig) -> alg.Algorithm:
    """KIP as an :class:`algorithm.Algorithm`, Adam built here once.

    ``init(problem, support)``: ``support`` split into the learned (images, and labels with
    ``learn_labels``) and fixed parameters, ``opt_state = adam.init(learned)``.

    ``update(problem, state)``, step ``s = state.step``: the target batch ``t = target_indices(y_train,
    target_batch, seed, s)``, then with ``K_reg = K_ss + reg * tr(K_ss)/n * I`` (n support images)

        L = 1/2 mean_{t, c} (y_t - K_ts K_reg^-1 y_s)^2,     (loss, g) = problem.gradients(...)
        (u, opt_state) = adam.update(g, opt_state),         learned <- learned + gamma_s * u,

    Adam's ``u = -lr * m_hat / (sqrt(v_hat) + eps)`` from the bias-corrected first and second moments of
    ``g`` (``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``, optax's defaults), and ``gamma_s`` the step's rate
    factor (:meth:`KipConfig.rate_scale`: ``lr_drop_scale ** k`` after ``k`` of the ``lr_drop_at`` steps,
    else 1). The factor multiplies the update, not Adam's moments, so Adam's state (and a checkpoint's leaves)
    is the same with or without a drop, and a run may add drops when resumed at or before their steps. A
    non-finite loss or learned value raises :class:`KipDiverged`.
    """
    opt = optimizer(config)

    def init(problem: alg.Problem, support: dict) -> KipState:
        learn = {"images": config.learn_images, "labels": config.learn_labels}
        params = {k: jnp.asarray(v) for k, v in support.items()}
        learned = {k: v for k, v in params.items() if learn[k]}
        fixed = {k: v for k, v in params.items() if not learn[k]}
        return KipState(0, learned, fixed, opt.init(learned))

    def update(problem: alg.Problem, state: KipState) -> tuple[KipState, float]:
        idx = target_indices(problem.y_train, config.target_batch, config.seed, state.step)
        loss, grads = problem.gradients(state.learned, state.fixed, problem.x_train[idx], problem.targets[idx])
        state = apply_gradients(opt, state, grads, config.rate_scale(state.step))
        loss = float(loss)
        if not (np.isfinite(loss) and all(bool(jnp.isfinite(v).all()) for v in state.learned.values())):
            raise KipDiverged(f"KIP diverged at step {state.step} of {config.steps}: the loss is {loss:g} or a "
                              f"learned value is not finite; use a smaller --lr (now {config.learning_rate:g}). "
                              "Nothing was written")
        return state, loss

    def targets(num_classes: int, train_size: int) -> int:
        return balanced_count(num_classes, train_size, config.target_batch)

    return alg.Algorithm("kip", "Kernel Inducing Points", config.steps, has_steps=True, learns_images=True,
                         init=init, update=update, targets=targets, kernel_calls=kernel_calls)


def make(config) -> alg.Algorithm:
    """The run's KIP from its :class:`distill.DistillConfig` (the registry's constructor, :mod:`algorithms`)."""
    return algorithm(KipConfig.of(config))


def kernel_calls(n: int, m: int, tile: int) -> list[tuple]:
    """One KIP step's kernel tiles, forward with ``jax.vjp`` and backward: ``K_ss``'s upper triangle and ``K_ts``,
    as :meth:`Tiling.for_tile` cuts them (``tile`` 0: one dense step, one tile each)."""
    t = Tiling.for_tile(n, m, tile) if tile else Tiling(n, m, n, m)
    sb, tb = t.support_blocks, t.target_blocks
    return [("KIP tiles", "vjp", t.block, t.block, sb * (sb + 1) // 2, "worker", True),
            ("KIP tiles", "vjp", t.target_block, t.block, tb * sb, "worker", True)]


def start(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, ipc: int, seed: int) -> tuple[dict, np.ndarray]:
    """``(support, class_ids)``: where every run starts, the real images of :func:`support_indices` (n, H, W, C)
    with centred one-hot labels (n, C)."""
    idx = support_indices(y_train, ipc, seed)
    return {"images": x_train[idx], "labels": krr.centered_one_hot(y_train[idx], num_classes)}, y_train[idx]


def init(config: KipConfig, x_train: np.ndarray, y_train: np.ndarray, num_classes: int) -> tuple[KipState, np.ndarray]:
    """Initial state from a class-balanced real sample; returns ``(state, class_ids)``."""
    support, class_ids = start(x_train, y_train, num_classes, config.ipc, config.seed)
    return algorithm(config).init(alg.problem(x_train, y_train, num_classes), support), class_ids


def apply_gradients(opt: optax.GradientTransformation, state: KipState, grads: dict, scale: float = 1.0) -> KipState:
    """One step of ``opt`` (Adam, :func:`optimizer`) on the learned parameters, its update times ``scale``
    (the step's learning-rate factor; 1 leaves the update's bytes as Adam gives them)."""
    updates, opt_state = opt.update(grads, state.opt_state, state.learned)
    if scale != 1.0:
        updates = jax.tree_util.tree_map(lambda u: u * jnp.asarray(scale, u.dtype), updates)
    return KipState(state.step + 1, optax.apply_updates(state.learned, updates), state.fixed, opt_state)


def run(config: KipConfig, kernel_fn: KernelFn, x_train: np.ndarray, y_train: np.ndarray,
        num_classes: int, *, engine: Engine | None = None, state: KipState | None = None,
        hook: Callable[[KipState, list[float]], None] | None = None, hook_every: int = 0,
        progress: bool = True, losses: list[float] | None = None) -> tuple[KipState, list[float]]:
    """Run KIP from ``state`` (default: :func:`init`) until ``config.steps`` (:func:`algorithm.run`).

    Args:
      engine: gradient engine (default :func:`dense_engine`).
      hook: called as ``hook(state, losses)`` after every ``hook_every`` steps (0: never), with the
        losses of every step so far.
      losses: the losses of the steps before ``state.step`` (a resumed run's history).
    Returns:
      ``(final_state, losses)``: the losses of every step 0..steps-1, in order.
    Raises:
      KipDiverged: a loss or a learned parameter is NaN or infinite (the learning rate is too large).
    """
    algo = algorithm(config)  # Adam built once for the run
    problem = alg.problem(x_train, y_train, num_classes, kernel_fn,
                          gradients=engine or dense_engine(kernel_fn, config.reg))
    if state is None:
        state = algo.init(problem, start(x_train, y_train, num_classes, config.ipc, config.seed)[0])
    return alg.run(algo, problem, state, hook=hook, hook_every=hook_every, progress=progress, losses=losses)
