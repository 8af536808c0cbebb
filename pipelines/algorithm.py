"""What a distillation algorithm is, and the one loop that runs any of them.

An algorithm is a value, not a branch: an :class:`Algorithm` is an optax-style pair of pure functions
built once per run from the run's config (hyper-parameters in, the optimiser built there and only
there), in the spirit of ``optax.GradientTransformation``:

- ``init(problem, support) -> State``: the state at step 0 from the support set a run starts from,
  ``support = {"images": X_s (n, H, W, C), "labels": y_s (n, C)}`` (real images of a class-balanced
  sample, centred one-hot labels);
- ``update(problem, state) -> (state, loss)``: one step; ``loss`` is a float, or None for a step
  that minimises nothing iteratively (Label Solve's closed form).

:func:`run` calls ``update`` from ``state.step`` until ``algorithm.steps`` with a progress bar and a
hook, whatever the algorithm: the loop holds no algorithm name. The algorithms a run may name are in
:mod:`algorithms` (name -> constructor); :mod:`kip` and :mod:`label_solve` are two of them, and a new
method is one module that returns an :class:`Algorithm`.

A :class:`Problem` is what every update sees: the preprocessed training split and two ways to the
kernel, built once per run for its backend (in-process, or tiles on a worker pool): ``rows(a, b)``
gives ``K(a, b)`` and ``gradients(learned, fixed, x_t, y_t)`` gives ``(L, dL/dlearned)`` of the KRR
loss ``L = 1/2 mean((K_ts K_reg^-1 y_s - y_t)^2)`` (:func:`krr.loss`).

This module imports no algorithm, and jax only inside :func:`problem`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

# (learned, fixed, x_t (m, H, W, C), y_t (m, C)) -> (loss, {name: dL/dname}): kip.dense_engine, distributed.TiledEngine
Engine = Callable[[dict, dict, np.ndarray, np.ndarray], tuple[Any, dict]]
# (a (r, H, W, C), b (n, H, W, C)) -> K(a, b) (r, n)
Rows = Callable[[np.ndarray, np.ndarray], np.ndarray]


class State(NamedTuple):
    """Everything a run needs to continue: ``step`` done so far, parameters, optimiser state.

    A checkpoint (:mod:`checkpoint`) saves ``(learned, fixed, opt_state)`` leaf by leaf and ``step``.
    """

    step: int
    learned: dict  # subset of {"images": (n,H,W,C), "labels": (n,C)} the algorithm changes
    fixed: dict    # the rest
    opt_state: Any

    @property
    def images(self) -> np.ndarray:
        return np.asarray({**self.fixed, **self.learned}["images"])

    @property
    def labels(self) -> np.ndarray:
        return np.asarray({**self.fixed, **self.learned}["labels"])


class Problem(NamedTuple):
    """What a run distils from and how it reaches the kernel (built once per run, :func:`problem`)."""

    x_train: np.ndarray   # (N, H, W, C) preprocessed training images
    y_train: np.ndarray   # (N,) class ids
    targets: np.ndarray   # (N, C) centred one-hot labels of the training split (krr.centered_one_hot)
    num_classes: int
    kernel_fn: Any        # kernels.KernelFn (None where only the engines are used)
    rows: Optional[Rows] = None
    gradients: Optional[Engine] = None
    progress: bool = False  # algorithms with a bar of their own (Label Solve's target blocks) show it


def problem(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, kernel_fn=None, *,
            rows: Rows | None = None, gradients: Engine | None = None, progress: bool = False) -> Problem:
    """A :class:`Problem`; ``targets`` = :func:`krr.centered_one_hot` of ``y_train``."""
    from .krr import centered_one_hot

    targets = centered_one_hot(y_train, num_classes)
    return Problem(x_train, y_train, targets, num_classes, kernel_fn, rows, gradients, progress)


class Algorithm(NamedTuple):
    """A distillation method, built once per run (see the module's docstring for the pair's contract).

    Besides the pair, what the pipelines ask of it instead of testing its name:

    - ``has_steps``: its updates are training steps (losses recorded, checkpoints, ``--eval-every``,
      the plan's per-step costs); False for a method whose single update is a closed form;
    - ``learns_images``: the released images differ from the real ones it started from;
    - ``targets(classes, train_size)``: the target rows one update covers;
    - ``kernel_calls(n, m, tile)``: the kernel calls of one run, as ``(part, mode, rows, cols, count, fn,
      per_step)`` (:class:`plan.Call`), ``mode`` ``vjp`` or ``forward``, ``fn`` ``worker`` (tiles) or ``driver``;
    - ``other_costs(n, m, classes)``: parts of its time beyond the kernel and its steps, timed here:
      ``[(name, seconds, detail)]``.
    """

    name: str
    title: str                 # for messages: "Kernel Inducing Points", "Label Solve"
    steps: int                 # updates a whole run makes
    has_steps: bool
    learns_images: bool
    init: Callable[[Problem, dict], State]
    update: Callable[[Problem, State], tuple[State, Optional[float]]]
    targets: Callable[[int, int], int]
    kernel_calls: Callable[[int, int, int], list]
    other_costs: Callable[[int, int, int], list] = lambda n, m, c: []


def run(algorithm: Algorithm, problem: Problem, state: State, *,
        hook: Callable[[State, list[float]], None] | None = None, hook_every: int = 0, progress: bool = True,
        losses: list[float] | None = None) -> tuple[State, list[float]]:
    """``algorithm.update`` from ``state.step`` until ``algorithm.steps``.

    Args:
      hook: called as ``hook(state, losses)`` after every ``hook_every`` steps (0: never), with the
        losses of every step so far.
      progress: a bar over the steps (algorithms with steps), the last loss and the engine's figures.
      losses: the losses of the steps before ``state.step`` (a resumed run's history).
    Returns:
      ``(final_state, losses)``: the losses of every step 0..steps-1 that has one, in order.
    """
    losses = list(losses or [])
    bar = None
    if progress and algorithm.has_steps:
        from .progress import bar as progress_bar

        bar = progress_bar(total=algorithm.steps, initial=state.step, desc=algorithm.name.upper(), unit="step")
    try:
        for _ in range(state.step, algorithm.steps):
            state, loss = algorithm.update(problem, state)
            if loss is not None:
                losses.append(float(loss))
            if bar is not None:
                bar.update(1)
                extra = problem.gradients.progress() if hasattr(problem.gradients, "progress") else {}
                bar.set_postfix(**({"loss": f"{losses[-1]:.5f}"} if losses else {}), **extra, refresh=False)
            if hook is not None and hook_every and state.step % hook_every == 0:
                hook(state, losses)
    finally:
        if bar is not None:
            bar.close()
    return state, losses
