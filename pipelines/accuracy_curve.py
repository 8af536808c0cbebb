"""KRR test accuracy measured during a KIP run, every N steps, on a fixed test subset.

The subset is class-balanced and a function of the run's seed alone
(``kip.class_balanced_indices(y_test, size // C, default_rng([seed, 0xE7A1]))``), so every point of
the curve, before and after a resume, is measured on the same images. Each point is

    acc(step) = mean_i [ argmax_c (K(x_i, X_s) K_reg(X_s)^-1 y_s)_c == label_i ],  i in the subset,

with ``(X_s, y_s)`` the support set after ``step`` Adam steps (step 0: the real images the run
started from). The points, the subset's size, seed and the sha256 of its indices go into the
release's provenance (``metrics.test_subset_curve``) and its ``accuracy_curve.png``.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from . import krr

SUBSET_SALT = 0xE7A1


def subset_indices(y_test: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size // C`` test images of every class (all of a smaller class), fixed by ``seed``; sorted by class."""
    from .kip import class_balanced_indices

    num_classes = int(np.max(y_test)) + 1
    if size >= len(y_test):
        return np.arange(len(y_test))
    return class_balanced_indices(np.asarray(y_test), max(1, size // num_classes),
                                  np.random.default_rng([seed, SUBSET_SALT]))


def indices_sha256(indices: np.ndarray) -> str:
    """The sha256 of a subset's indices as int64 bytes (``metrics.test_subset_curve.subset_indices_sha256``)."""
    return hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()


@dataclasses.dataclass
class Curve:
    """Points ``(step, accuracy)`` measured every ``every`` steps on ``x_test[indices]``."""

    every: int
    indices: np.ndarray
    seed: int
    points: list[tuple[int, float]] = dataclasses.field(default_factory=list)

    def measure(self, kernel_fn, step: int, images, labels, x_test: np.ndarray, y_test: np.ndarray,
                reg: float, block: int) -> float:
        """Evaluate the support set ``(images (n,H,W,C), labels (n,C))`` at ``step`` and keep the point."""
        acc = krr.evaluate(kernel_fn, np.asarray(images), np.asarray(labels), x_test[self.indices],
                           y_test[self.indices], reg=reg, block=block)["accuracy"]
        self.points = [p for p in self.points if p[0] != step] + [(int(step), float(acc))]
        self.points.sort()
        return acc

    def record(self) -> dict:
        """The provenance block ``metrics.test_subset_curve``."""
        return {"every": self.every, "subset_size": int(len(self.indices)), "subset_seed": self.seed,
                "subset": "class-balanced sample of the test split, kip.class_balanced_indices(y_test, size // C, "
                          f"default_rng([seed, {SUBSET_SALT:#x}]))",
                "subset_indices_sha256": indices_sha256(self.indices),
                "steps": [p[0] for p in self.points], "accuracy": [p[1] for p in self.points]}
