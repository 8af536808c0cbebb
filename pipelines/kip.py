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

In the optax style, the pieces are small pure functions:

- :func:`init` -> :class:`KipState` (step, learned params, fixed params, optimiser state);
- a *gradient engine* ``engine(learned, fixed, x_t, y_t) -> (loss, grads)``; :func:`dense_engine`
  differentiates the whole loss in one process, the distributed engine splits the kernel into
  tiles (same maths);
- :func:`apply_gradients` -> the next :class:`KipState`;
- :func:`run` the loop, with a progress bar and a hook every N steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from distilled_registry.distill_config import DistillConfig, check_value
from distilled_registry.errors import UserError

from . import krr
from .kernels import KernelFn

Engine = Callable[[dict, dict, np.ndarray, np.ndarray], tuple[Any, dict]]


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

    def __post_init__(self):
        for name in ("ipc", "steps", "learning_rate", "target_batch", "reg", "learn_labels", "seed"):
            check_value(DistillConfig, name, getattr(self, name))
        if not (self.learn_images or self.learn_labels):
            raise ValueError("KIP must learn images, labels or both")

    @classmethod
    def of(cls, config: DistillConfig) -> "KipConfig":
        """The KIP hyper-parameters of a run's ``config`` (images learned, labels too with ``learn_labels``)."""
        return cls(ipc=config.ipc, steps=config.steps, learning_rate=config.learning_rate,
                   target_batch=config.target_batch, reg=config.reg, learn_images=True,
                   learn_labels=config.learn_labels, seed=config.seed)


class KipState(NamedTuple):
    """Everything a run needs to continue: ``step`` done so far, parameters, Adam state."""

    step: int
    learned: dict  # subset of {"images": (n,H,W,C), "labels": (n,C)} that Adam updates
    fixed: dict    # the rest
    opt_state: Any

    @property
    def images(self) -> np.ndarray:
        return np.asarray({**self.fixed, **self.learned}["images"])

    @property
    def labels(self) -> np.ndarray:
        return np.asarray({**self.fixed, **self.learned}["labels"])


def class_balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class drawn without replacement, grouped by class (class 0 first).

    A class with fewer than ``per_class`` examples contributes all of them.
    """
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out.append(np.sort(rng.choice(idx, size=min(per_class, len(idx)), replace=False)))
    return np.concatenate(out)


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
    return optax.adam(config.learning_rate)


def init(config: KipConfig, x_train: np.ndarray, y_train: np.ndarray, num_classes: int) -> tuple[KipState, np.ndarray]:
    """Initial state from a class-balanced real sample; returns ``(state, class_ids)``."""
    idx = support_indices(y_train, config.ipc, config.seed)
    params = {"images": jnp.asarray(x_train[idx]),
              "labels": jnp.asarray(krr.centered_one_hot(y_train[idx], num_classes))}
    learn = {"images": config.learn_images, "labels": config.learn_labels}
    learned = {k: v for k, v in params.items() if learn[k]}
    fixed = {k: v for k, v in params.items() if not learn[k]}
    return KipState(0, learned, fixed, optimizer(config).init(learned)), y_train[idx]


def apply_gradients(config: KipConfig, state: KipState, grads: dict) -> KipState:
    """One Adam step on the learned parameters."""
    updates, opt_state = optimizer(config).update(grads, state.opt_state, state.learned)
    return KipState(state.step + 1, optax.apply_updates(state.learned, updates), state.fixed, opt_state)


def run(config: KipConfig, kernel_fn: KernelFn, x_train: np.ndarray, y_train: np.ndarray,
        num_classes: int, *, engine: Engine | None = None, state: KipState | None = None,
        hook: Callable[[KipState, list[float]], None] | None = None, hook_every: int = 0,
        progress: bool = True, losses: list[float] | None = None) -> tuple[KipState, list[float]]:
    """Run KIP from ``state`` (default: :func:`init`) until ``config.steps``.

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
    if state is None:
        state, _ = init(config, x_train, y_train, num_classes)
    engine = engine or dense_engine(kernel_fn, config.reg)
    y_all = krr.centered_one_hot(y_train, num_classes)
    losses = list(losses or [])
    steps = range(state.step, config.steps)
    bar = None
    if progress:
        from .progress import bar as progress_bar

        bar = progress_bar(total=config.steps, initial=state.step, desc="KIP", unit="step")
    for step in steps:
        idx = target_indices(y_train, config.target_batch, config.seed, step)
        loss, grads = engine(state.learned, state.fixed, x_train[idx], y_all[idx])
        state = apply_gradients(config, state, grads)
        losses.append(float(loss))
        if not (np.isfinite(losses[-1]) and all(bool(jnp.isfinite(v).all()) for v in state.learned.values())):
            if bar is not None:
                bar.close()
            raise KipDiverged(f"KIP diverged at step {step + 1} of {config.steps}: the loss is {losses[-1]:g} or a "
                              f"learned value is not finite; use a smaller --lr (now {config.learning_rate:g}). "
                              "Nothing was written")
        if bar is not None:
            bar.update(1)
            extra = engine.progress() if hasattr(engine, "progress") else {}
            bar.set_postfix(loss=f"{losses[-1]:.5f}", **extra, refresh=False)
        if hook is not None and hook_every and state.step % hook_every == 0:
            hook(state, losses)
    if bar is not None:
        bar.close()
    return state, losses
