"""Finite-width transfer: train the release kernel's finite network on the distilled set.

How well a distilled set trains an ordinary neural network, not only a kernel machine (Nguyen et
al., ICLR 2021 section 4, NeurIPS 2021 section 5; the authors' ``kip/nn_training.ipynb``).

The recipe (:class:`TransferConfig` holds every number of it):

- Network: the finite network of the release's kernel spec, ``kernels.stax_network(spec,
  width, out_dim=C)`` (neural-tangents ``stax``, NTK parameterisation, the spec's ``W_std`` and
  ``b_std``), built from the layer list of :func:`architectures.network`, the one the kernel is
  computed from; :func:`architectures.describe` writes it into the recipe (e.g. FC = Flatten,
  depth x [Dense(width), ReLU], Dense(C)). The default width is 1024 (the notebook's); ConvNets
  on a CPU use a smaller stated width.
- Parameters drawn by ``init_fn(PRNGKey(seed))``; one training run per seed.
- Training data: the release's images (already in the preprocessed space) and its labels as they
  are (centred one-hot ``one_hot - 1/C``, or learned ones); ``label_scale`` multiplies them (1 by
  default, i.e. no scaling). Full batch: every step sees the whole distilled set.
- Loss: ``0.5 * mean((f(x) - y)^2)`` over all n*C entries (the notebook's ``mse_loss``, the KRR
  loss of :mod:`krr`), plus L2 ``0.5 * weight_decay * ||params||^2``, implemented as
  ``optax.add_decayed_weights(weight_decay)`` ahead of the optimiser (the same gradient).
- Optimiser: SGD with heavy-ball momentum 0.9 (``optax.sgd(schedule, momentum=0.9)``), learning
  rate on a cosine decay from ``lr`` to 0 over ``steps`` (``optax.cosine_decay_schedule``, the
  notebook's ``cosine_schedule``), 1000 steps by default.
- Learning rate: ``lr = lr_factor * max_lr`` unless ``learning_rate`` is given, where ``max_lr =
  2 * n * C / lambda_max(K_ss)`` is the largest stable rate of full-batch gradient descent on this
  loss for the infinite-width network (``neural_tangents.predict.max_learning_rate`` with
  momentum 0, as the notebook estimates it), ``K_ss`` the analytic NTK of the spec on the n
  training images. Under NTK parameterisation it does not depend on the width.
- Choosing ``lr_factor`` and ``weight_decay`` (the notebook: "max_lr_factor and l2_regularization
  is found through grid search"): each pair of ``lr_factors x weight_decays`` (default
  {0.1, 0.25, 0.5} x {1e-5, 1e-4, 3e-4}) trains the network of the first seed, and the pair with the
  best accuracy on a validation set is used for every seed. The validation set is
  ``validation_size`` (5000) class-balanced images of the source's *training* split other than the
  real images the release started from; the test split is never used to choose. Why a choice at
  all: the finite network's random initial function is as large as the labels, and how much weight
  decay it takes to damp it without underfitting depends on the set. Measured on KIP-FC MNIST (10
  per class, learned labels; mean of two seeds, test accuracy): no weight decay 57% (lr_factor 1),
  1e-5 67-81%, 1e-4 76-92%, 3e-4 82-91% over lr_factor 0.1-1; on 1 per class the pair fixed on the
  10 per class set (0.5, 1e-4) gave 40%, the validated choice 55% (three seeds).
- Evaluation: test accuracy (argmax of the C outputs against the integer label) on the whole test
  split of the source, mapped into the release's space by its ``transform.npz``, ``eval_batch``
  images at a time. Over seeds: mean and sample standard deviation (ddof=1).

Everything here is a pure function of its inputs (and the seed): the same seed gives the same
accuracy on the same machine.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from distilled_registry import user_values
from distilled_registry.errors import UserError

from . import architectures
from .kernels import KernelSpec, kernel_matrix, make_kernel_fn, stax_network
from .limits import MAX_EVAL_SUBSET, MAX_SEED, MAX_STEPS, MAX_TRANSFER_SEEDS, MAX_WIDTH
from .tiling import pad_rows

RECIPE_VERSION = "distilled_registry.transfer/1"


class TransferError(UserError):
    """A transfer evaluation that cannot run: says what is missing or does not match."""


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """Every number of the transfer recipe (see the module docstring).

    Attributes:
      width: hidden units (FC) or channels (ConvNet) of every hidden layer.
      steps: full-batch SGD steps.
      lr_factors: candidate learning rates as multiples of the estimated ``max_lr``.
      weight_decays: candidate L2 coefficients (the loss gains ``0.5 * weight_decay * ||params||^2``).
        With more than one candidate pair, the pair is chosen by validation accuracy (module docstring).
      learning_rate: an absolute peak learning rate instead of ``lr_factors`` (None: ``lr_factor * max_lr``).
      momentum: heavy-ball momentum.
      label_scale: the release labels are multiplied by this before training (1: as released).
      seeds: one run per seed (the seed of ``init_fn``); the first one also trains the selection runs.
      validation_size: images of the validation set the pair is chosen on (class-balanced, drawn from
        the training split, never the test split).
      eval_batch: test images per forward pass.
    """

    width: int = 1024
    steps: int = 1000
    lr_factors: tuple[float, ...] = (0.1, 0.25, 0.5)
    weight_decays: tuple[float, ...] = (1e-5, 1e-4, 3e-4)
    learning_rate: float | None = None
    momentum: float = 0.9
    label_scale: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    validation_size: int = 5000
    eval_batch: int = 1000

    def __post_init__(self):
        for name in ("seeds", "lr_factors", "weight_decays"):
            v = getattr(self, name)
            v = (v,) if isinstance(v, (int, float)) else v
            object.__setattr__(self, name, tuple(v))  # checked below, then made ints / floats
        # rule E: every number through user_values (BadValue names the field and its range)
        user_values.count(self.width, "width", 1, MAX_WIDTH)
        user_values.count(self.steps, "steps", 1, MAX_STEPS)
        if not self.lr_factors or not self.weight_decays or not self.seeds:
            raise TransferError("lr_factors, weight_decays and seeds each need at least one value")
        for f in self.lr_factors:
            user_values.real(f, "lr_factors", above=0)
        if self.learning_rate is not None:
            user_values.real(self.learning_rate, "learning_rate", above=0)
        user_values.real(self.momentum, "momentum", low=0, high=1)
        if self.momentum == 1:
            raise TransferError("momentum must be in [0, 1), got 1.0")
        for w in self.weight_decays:
            user_values.real(w, "weight_decays", low=0)
        user_values.real(self.label_scale, "label_scale", above=0)
        if len(self.seeds) > MAX_TRANSFER_SEEDS:
            raise TransferError(f"seeds: {len(self.seeds)} runs, more than {MAX_TRANSFER_SEEDS}")
        for seed in self.seeds:
            user_values.count(seed, "seeds", 0, MAX_SEED)
        user_values.count(self.validation_size, "validation_size", 1, MAX_EVAL_SUBSET)
        user_values.count(self.eval_batch, "eval_batch", 1, MAX_EVAL_SUBSET)
        for name in ("seeds", "lr_factors", "weight_decays"):
            object.__setattr__(self, name, tuple((int if name == "seeds" else float)(x) for x in getattr(self, name)))

    def candidates(self) -> list[tuple[float | None, float]]:
        """``(lr_factor, weight_decay)`` pairs to choose from (lr_factor None with ``learning_rate``)."""
        lrs = [None] if self.learning_rate is not None else list(self.lr_factors)
        return [(f, w) for f in lrs for w in self.weight_decays]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("seeds", "lr_factors", "weight_decays"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TransferConfig":
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}})


def recipe(spec: KernelSpec, config: TransferConfig) -> dict:
    """The whole recipe as provenance records it: numbers and the words that go with them."""
    arch = spec.architecture
    net = architectures.describe(arch, spec.depth, config.width)
    return {
        "format": RECIPE_VERSION,
        "what": "train the finite network of the release's kernel on the release's images and labels, "
                "then classify the source's whole test split (mapped by the release's transform.npz)",
        "network": f"{arch} (neural-tangents stax, NTK parameterisation, W_std={spec.W_std:g}, "
                   f"b_std={spec.b_std:g}): {net}",
        "kernel": spec.to_dict(),
        **config.to_dict(),
        "init": "init_fn(jax.random.PRNGKey(seed)) of kernels.stax_network(spec, width, out_dim=C)",
        "batch": "full batch (the whole distilled set every step)",
        "loss": "0.5 * mean((f(x) - label_scale * y)^2) over n*C entries + 0.5 * weight_decay * ||params||^2",
        "optimizer": "optax.chain(add_decayed_weights(weight_decay), sgd(cosine_decay_schedule(lr, steps), "
                     "momentum))",
        "learning_rate_rule": ("learning_rate as given" if config.learning_rate is not None else
                               "lr = lr_factor * max_lr, max_lr = 2 * n * C / lambda_max(K_ss), K_ss the "
                               "analytic NTK of the spec on the training images (neural_tangents "
                               "predict.max_learning_rate, momentum 0)"),
        "selection": "when several (lr_factor, weight_decay) pairs are given: each trains the network of the first "
                     "seed; the pair with the highest accuracy on the validation set (validation_size class-balanced "
                     "images of the source's training split, not the real images the release started from, mapped "
                     "by transform.npz; ties: the first) is used for every seed. The test split is never used to "
                     "choose",
        "metric": "test accuracy: argmax of the C outputs equals the integer label",
        "spread": "mean and sample standard deviation (ddof=1) over seeds",
    }


# ------------------------------------------------------------------------------------ pure pieces


def network(spec: KernelSpec, width: int, num_classes: int) -> tuple[Callable, Callable]:
    """``(init_fn, apply_fn)`` of the finite network of ``spec`` with ``num_classes`` outputs."""
    init_fn, apply_fn, _ = stax_network(spec, width=width, out_dim=num_classes)
    return init_fn, apply_fn


def max_learning_rate(spec: KernelSpec, images: np.ndarray, num_classes: int) -> float:
    """``2 * n * C / lambda_max(K_ss)``: largest stable full-batch GD rate for the infinite network.

    ``K_ss`` is the spec's analytic NTK on ``images`` (n of them); the loss is
    ``0.5 * mean((f - y)^2)`` over n*C outputs, so gradient descent on the outputs contracts when
    ``lr * lambda_max / (n * C) < 2``.
    """
    k = kernel_matrix(make_kernel_fn(dataclasses.replace(spec, get="ntk")), images, images)
    lam = float(np.linalg.eigvalsh(np.asarray(k, np.float64))[-1])
    return 2.0 * len(images) * num_classes / max(lam, 1e-12)


def optimizer(steps: int, lr, weight_decay, momentum: float = 0.9) -> optax.GradientTransformation:
    """L2 (as decayed weights) then SGD with momentum on a cosine decay from ``lr`` to 0 over ``steps``.

    ``lr`` and ``weight_decay`` may be traced JAX scalars (one compiled training loop serves every pair).
    """
    schedule = optax.cosine_decay_schedule(lr, steps)
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(schedule, momentum=momentum))


def mse(apply_fn: Callable, params: Any, x, y) -> jax.Array:
    """``0.5 * mean((apply_fn(params, x) - y)^2)``."""
    return 0.5 * jnp.mean((apply_fn(params, x) - y) ** 2)


def make_train(apply_fn: Callable, steps: int, momentum: float = 0.9) -> Callable:
    """A jitted ``train(params, x, y, lr, weight_decay) -> (params, loss per step)``.

    ``steps`` full-batch steps of :func:`optimizer` on :func:`mse`, inside one ``lax.scan``; the
    recorded loss is the MSE before each step (without the L2 term).
    """

    @jax.jit
    def train(params, x, y, lr, weight_decay):
        opt = optimizer(steps, lr, weight_decay, momentum)

        def step(carry, _):
            p, s = carry
            loss, g = jax.value_and_grad(mse, argnums=1)(apply_fn, p, x, y)
            updates, s = opt.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (p, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return p, losses

    return train


def make_accuracy(apply_fn: Callable, batch: int = 1000) -> Callable:
    """``accuracy(params, x, labels)``: fraction whose argmax output equals ``labels``, ``batch`` per pass."""
    predict = jax.jit(lambda p, xb: jnp.argmax(apply_fn(p, xb), axis=1))

    def accuracy(params, x: np.ndarray, labels: np.ndarray) -> float:
        correct = 0
        b = min(batch, len(x))
        for i in range(0, len(x), b):
            xb = x[i:i + b]
            k = len(xb)
            xb = pad_rows(xb, b)  # one shape: one compilation
            correct += int(np.sum(np.asarray(predict(params, xb))[:k] == labels[i:i + k]))
        return correct / len(x)

    return accuracy


def evaluate(spec: KernelSpec, images: np.ndarray, labels: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             config: TransferConfig = TransferConfig(), progress: bool = False,
             validation: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Train the finite network of ``spec`` on ``(images, labels)`` once per seed; test accuracy of each.

    Args:
      images: (n, H, W, C) training images in the space ``x_test`` is in.
      labels: (n, num_classes) training targets (used as given, times ``config.label_scale``).
      x_test, y_test: test images and integer labels.
      validation: ``(x_val, y_val)`` to choose the (lr_factor, weight_decay) pair on; needed when
        ``config`` gives more than one pair.
    Returns:
      ``{"accuracy_mean", "accuracy_std", "accuracies", "seeds", "learning_rate", "lr_factor",
      "weight_decay", "max_lr", "selection", "final_train_mse", "train_size", "test_size", "seconds"}``.
    """
    t0 = time.perf_counter()
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.float32) * np.float32(config.label_scale)
    x_test = np.asarray(x_test, np.float32)
    y_test = np.asarray(y_test)
    num_classes = labels.shape[1]
    spec.check_images(images.shape)
    pairs = config.candidates()
    if len(pairs) > 1 and validation is None:
        raise TransferError(f"{len(pairs)} (lr_factor, weight_decay) pairs to choose from but no validation set; "
                            "give one, or a single lr_factor and weight_decay")
    max_lr = None if config.learning_rate is not None else max_learning_rate(spec, images, num_classes)

    def lr_of(f):
        return config.learning_rate if f is None else f * max_lr

    init_fn, apply_fn = network(spec, config.width, num_classes)
    train = make_train(apply_fn, config.steps, config.momentum)
    accuracy = make_accuracy(apply_fn, config.eval_batch)
    x, y = jnp.asarray(images), jnp.asarray(labels)

    def fit(seed, f, wd):
        _, params = init_fn(jax.random.PRNGKey(seed), (-1, *images.shape[1:]))
        params, losses = train(params, x, y, jnp.float32(lr_of(f)), jnp.float32(wd))
        ok = bool(np.all(np.isfinite(np.asarray(losses))))
        return params, ok

    selection = None
    f, wd = pairs[0]
    if len(pairs) > 1:
        x_val, y_val = np.asarray(validation[0], np.float32), np.asarray(validation[1])
        selection = []
        for pf, pwd in pairs:
            params, ok = fit(config.seeds[0], pf, pwd)
            acc = accuracy(params, x_val, y_val) if ok else None
            selection.append({"lr_factor": pf, "weight_decay": pwd, "learning_rate": float(lr_of(pf)),
                              "validation_accuracy": acc})
            if progress:
                print(f"  select lr_factor {pf} weight_decay {pwd:g}: validation accuracy "
                      f"{'diverged' if acc is None else f'{acc:.4f}'}", flush=True)
        best = max((s for s in selection if s["validation_accuracy"] is not None),
                   key=lambda s: s["validation_accuracy"], default=None)
        if best is None:
            raise TransferError("training diverged (non-finite loss) for every (lr_factor, weight_decay) pair; "
                                "give smaller lr_factors")
        f, wd = best["lr_factor"], best["weight_decay"]
    accs, final = [], []
    for seed in config.seeds:
        params, ok = fit(seed, f, wd)
        if not ok:
            raise TransferError(f"training diverged (non-finite loss) with learning rate {lr_of(f):.4g}; "
                                "lower lr_factor or give a smaller learning_rate")
        final.append(float(mse(apply_fn, params, x, y)))
        accs.append(accuracy(params, x_test, y_test))
        if progress:
            print(f"  transfer seed {seed}: test accuracy {accs[-1]:.4f} (train MSE {final[-1]:.3g})", flush=True)
    return {
        "accuracy_mean": float(np.mean(accs)),
        "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
        "accuracies": [float(a) for a in accs],
        "seeds": list(config.seeds),
        "learning_rate": float(lr_of(f)),
        "lr_factor": f,
        "weight_decay": wd,
        "max_lr": None if max_lr is None else float(max_lr),
        "selection": selection,
        "validation_size": None if selection is None else int(len(validation[0])),
        "final_train_mse": final,
        "train_size": int(len(images)),
        "test_size": int(len(x_test)),
        "seconds": round(time.perf_counter() - t0, 3),
    }


# ------------------------------------------------------------------------------------ on releases


def validation_indices(y_train: np.ndarray, size: int, exclude: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """``size // C`` training indices per class (fewer where a class runs out), not in ``exclude``, seeded."""
    from .kip import class_balanced_indices

    keep = np.ones(len(y_train), bool)
    if exclude is not None:
        keep[exclude] = False
    pool = np.flatnonzero(keep)
    c = int(y_train.max()) + 1
    sub = class_balanced_indices(y_train[pool], max(1, size // c), np.random.default_rng([seed, 0x5E1EC7]))
    return pool[sub]
