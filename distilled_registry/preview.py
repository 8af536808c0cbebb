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


# Grid geometry, in units of one image's height (rows) or width (columns): the white gap left of each
# image, the gap above each image (where its label note goes), and the band above the first row (the
# panels' titles).
_GAP_X, _GAP_Y, _TITLE_BAND = 0.2, 0.45, 0.7


def grid_layout(panels: list[tuple[str, np.ndarray, np.ndarray]], n_classes: int,
                per_class: int = 10) -> tuple[np.ndarray, list[list[tuple[int, int, int, int]]]]:
    """The picture of :func:`grid_png` as one RGB array, and where each image lies in it.

    Image ``i`` of panel ``p`` whose class is ``c`` goes to row ``c`` (the first ``per_class`` of its
    class, in order), its panel's columns left to right; panels are separated by one empty column.
    Every image is contrast-stretched on its own (min -> 0, max -> 1); gaps are white (1.0).

    Returns:
      ``mosaic`` (H_total, W_total, 3) float32 in [0, 1], and per panel a list of
      ``(image index, class, top, left)`` pixel positions: ``mosaic[top:top+h, left:left+w]`` is the
      stretched image (grey images repeated over the 3 channels), with ``(h, w)`` the largest image
      size of all panels (smaller images sit at the cell's top-left corner).
    """
    h = max(int(images.shape[1]) for _, images, _ in panels)
    w = max(int(images.shape[2]) for _, images, _ in panels)
    gx, gy, band = max(1, round(_GAP_X * w)), max(1, round(_GAP_Y * h)), round(_TITLE_BAND * h)
    cols = [min(per_class, max(int(np.sum(ids == c)) for c in range(n_classes))) for _, _, ids in panels]
    total_cols = sum(cols) + len(panels) - 1
    mosaic = np.ones((band + n_classes * (gy + h), gx + total_cols * (w + gx), 3), np.float32)
    where_all, col0 = [], 0
    for p, (_, images, ids) in enumerate(panels):
        where_p = []
        for c in range(n_classes):
            for j, i in enumerate(np.flatnonzero(ids == c)[: cols[p]]):
                top, left = band + c * (gy + h) + gy, gx + (col0 + j) * (w + gx)
                img = _display(np.asarray(images[i], np.float64))
                ih, iw = img.shape[:2]
                mosaic[top:top + ih, left:left + iw] = img[..., None] if img.ndim == 2 else img[..., :3]
                where_p.append((int(i), c, top, left))
        where_all.append(where_p)
        col0 += cols[p] + 1
    return mosaic, where_all


def grid_png(panels: list[tuple[str, np.ndarray, np.ndarray]], class_names: list[str],
             per_class: int = 10, labels: list[np.ndarray | None] | None = None, title: str = "") -> bytes:
    """PNG bytes of image grids side by side: :func:`grid_layout`'s picture, drawn as one image.

    Args:
      panels: ``(panel title, images (N,H,W,C), class_ids (N,))`` each; a row per class, up to
        ``per_class`` images of that class in a panel.
      labels: per panel, label vectors (N, C) or None; where an image's label differs from its
        class's centred one-hot vector, the label is summarised above the image (:func:`label_note`).
    """
    n_classes = len(class_names)
    mosaic, where = grid_layout(panels, n_classes, per_class)
    h = max(int(images.shape[1]) for _, images, _ in panels)
    w = max(int(images.shape[2]) for _, images, _ in panels)
    gy = max(1, round(_GAP_Y * h))
    # one axes and one image (not an axes per image): the same picture in a fraction of the time
    total_cols = (mosaic.shape[1] - max(1, round(_GAP_X * w))) // (w + max(1, round(_GAP_X * w)))
    width = 0.75 * total_cols  # inches of picture; the figure adds room for the class names and the title
    fig = _figure((width + 0.6, width * mosaic.shape[0] / mosaic.shape[1] + (0.5 if title else 0.2)))
    ax = fig.subplots()
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    for c, name in enumerate(class_names):
        top = round(_TITLE_BAND * h) + c * (gy + h) + gy
        ax.text(-0.3 * w, top + h / 2, name, fontsize=7, ha="right", va="center")
    for p, (name, _, _) in enumerate(panels):
        if where[p]:
            lefts = [left for _, _, _, left in where[p]]
            ax.text((min(lefts) + max(lefts) + w) / 2, round(_TITLE_BAND * h) / 2, name, fontsize=9,
                    ha="center", va="center")
        lab = labels[p] if labels else None
        if lab is None:
            continue
        for i, c, top, left in where[p]:
            note = label_note(lab[i], c, class_names)
            if note:
                ax.text(left + w / 2, top - 0.5, note[0], fontsize=5, color=note[1], ha="center", va="bottom")
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
