"""Pictures of a release: image grids of distilled (and real) images, per class.

Released images are in a preprocessed space (standardised, maybe ZCA-whitened), so each image
is shown with its own min-max contrast stretch; that is for looking, not for measuring.
"""

from __future__ import annotations

import io

import numpy as np

MISSING = ("matplotlib is not installed: the release has no preview.png or loss_curve.png (they are "
           "pictures only; pip install matplotlib to have them)")


def available() -> bool:
    """Whether matplotlib, which draws the pictures, is installed (they are optional files)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _display(img: np.ndarray) -> np.ndarray:
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img[..., 0] if img.shape[-1] == 1 else img


def label_note(label: np.ndarray, class_id: int, class_names: list[str], atol: float = 1e-3) -> tuple[str, str] | None:
    """How a learned label differs from its class's centred one-hot vector, or None when it does not.

    ``("->cat 0.41", "red")`` when its largest entry is another class (that class and its value),
    else ``("0.73", "black")``: the value of its own class (one-hot would give ``1 - 1/C``).
    """
    label = np.asarray(label, np.float64)
    c = len(label)
    one_hot = np.full(c, -1.0 / c)
    one_hot[class_id] += 1.0
    if np.allclose(label, one_hot, atol=atol):
        return None
    top = int(np.argmax(label))
    if top != class_id:
        return f"->{class_names[top]} {label[top]:.2f}", "red"
    return f"{label[class_id]:.2f}", "black"


def grid_png(panels: list[tuple[str, np.ndarray, np.ndarray]], class_names: list[str],
             per_class: int = 10, labels: list[np.ndarray | None] | None = None, title: str = "") -> bytes:
    """PNG bytes of image grids side by side.

    Args:
      panels: ``(panel title, images (N,H,W,C), class_ids (N,))`` each; a row per class, up to
        ``per_class`` images of that class in a panel.
      labels: per panel, label vectors (N, C) or None; where an image's label differs from its
        class's centred one-hot vector, the label is summarised above the image (:func:`label_note`).
    """
    n_classes = len(class_names)
    cols = [min(per_class, max(int(np.sum(ids == c)) for c in range(n_classes))) for _, _, ids in panels]
    total_cols = sum(cols) + len(panels) - 1
    fig = _figure((0.75 * total_cols + 1.2, 0.8 * n_classes + 0.6))
    axes = fig.subplots(n_classes, total_cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    col0 = 0
    for p, (name, images, ids) in enumerate(panels):
        lab = labels[p] if labels else None
        for c in range(n_classes):
            where = np.flatnonzero(ids == c)[: cols[p]]
            for j, i in enumerate(where):
                ax = axes[c, col0 + j]
                ax.imshow(_display(images[i]), cmap="gray", interpolation="nearest")
                if lab is not None:
                    note = label_note(lab[i], c, class_names)
                    if note:
                        ax.set_title(note[0], fontsize=5, color=note[1], pad=1)
            if p == 0:
                axes[c, 0].text(-0.15, 0.5, class_names[c], fontsize=7, ha="right", va="center",
                                   transform=axes[c, 0].transAxes)
        axes[0, col0 + cols[p] // 2].set_title(name, fontsize=9)
        col0 += cols[p] + 1
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig)


def loss_png(losses: list[float], title: str) -> bytes:
    """PNG bytes of a KIP loss curve (log scale) against the step."""
    ax = (fig := _figure((5, 3))).subplots()
    ax.semilogy(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("KIP loss (target batch)")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def curve_png(steps: list[int], accuracy: list[float], title: str, final: float | None = None) -> bytes:
    """PNG bytes of KRR test accuracy (%) against the KIP step; ``final``: the full test split's figure."""
    ax = (fig := _figure((5, 3))).subplots()
    ax.plot(steps, 100 * np.asarray(accuracy), marker="o", markersize=3, label="test subset")
    if final is not None:
        ax.axhline(100 * final, color="grey", linestyle="--", linewidth=1, label=f"full test split: {100 * final:.2f}%")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("step")
    ax.set_ylabel("KRR test accuracy (%)")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def _figure(size: tuple[float, float]):
    """A matplotlib ``Figure`` of ``size`` inches, outside pyplot: no display needed, the caller's pyplot
    backend and figure list untouched, and pyplot's import (about 1 s) not paid."""
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _png(fig) -> bytes:
    """PNG bytes of ``fig`` (tight layout, 90 dpi, no software tag: the same bytes on every run)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()
