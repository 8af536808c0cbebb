"""The release pictures: the grid puts every shown image, contrast-stretched, in its class's row."""

import io

import numpy as np
import pytest

from distilled_registry import preview

pytest.importorskip("matplotlib")


def _stretched(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, np.float64)
    out = (img - img.min()) / (img.max() - img.min())
    return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out


@pytest.mark.parametrize("channels", [1, 3])
def test_grid_layout_places_each_image_in_its_class_row_and_its_panel(channels):
    rng = np.random.default_rng(0)
    n_classes, per_class = 3, 2
    a = rng.normal(size=(7, 5, 4, channels))
    ids_a = np.array([0, 1, 2, 0, 1, 0, 2])  # class 0 has three: the third is not shown
    b = rng.normal(size=(3, 5, 4, channels)) * 10 + 3
    ids_b = np.array([2, 1, 0])
    mosaic, where = preview.grid_layout([("a", a, ids_a), ("b", b, ids_b)], n_classes, per_class)
    assert mosaic.dtype == np.float32 and mosaic.shape[-1] == 3
    assert 0 <= mosaic.min() and mosaic.max() <= 1
    assert sorted(i for i, *_ in where[0]) == [0, 1, 2, 3, 4, 6]  # image 5, the third of class 0, left out
    assert sorted(i for i, *_ in where[1]) == [0, 1, 2]
    for images, ids, placed in ((a, ids_a, where[0]), (b, ids_b, where[1])):
        for i, c, top, left in placed:
            assert c == ids[i]
            np.testing.assert_allclose(mosaic[top:top + 5, left:left + 4], _stretched(images[i]), atol=1e-6)
    tops = {c: {top for _, cc, top, _ in where[0] + where[1] if cc == c} for c in range(n_classes)}
    assert all(len(t) == 1 for t in tops.values())  # one row a class, across both panels
    assert tops[0].pop() < tops[1].pop() < tops[2].pop()
    assert max(left for *_, left in where[0]) < min(left for *_, left in where[1])  # panel b right of panel a
    covered = np.zeros(mosaic.shape[:2], bool)
    for placed in where:
        for _, _, top, left in placed:
            covered[top:top + 5, left:left + 4] = True
    assert np.all(mosaic[~covered] == 1.0)  # everything else is white


def test_a_constant_image_is_black_not_nan():
    mosaic, where = preview.grid_layout([("a", np.full((1, 3, 3, 1), 7.0), np.array([0]))], 1)
    _, _, top, left = where[0][0]
    assert np.all(mosaic[top:top + 3, left:left + 3] == 0) and np.isfinite(mosaic).all()


def test_grid_png_is_a_png_of_the_layout_with_the_label_notes():
    matplotlib_image = pytest.importorskip("matplotlib.image")
    rng = np.random.default_rng(1)
    images, ids = rng.normal(size=(4, 6, 6, 1)), np.array([0, 1, 0, 1])
    labels = np.array([[0.5, -0.5], [-0.5, 0.5], [-0.4, 0.9], [0.5, -0.5]])  # image 2: "->b 0.90" in red
    assert preview.label_note(labels[2], 0, ["a", "b"]) == ("->b 0.90", "red")
    png = preview.grid_png([("x", images, ids)], ["a", "b"], labels=[labels], title="t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib_image.imread(io.BytesIO(png))
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    red = (pixels[..., 0] > 0.8) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red.any()  # the note of the image whose label points to another class
    assert preview.grid_png([("x", images, ids)], ["a", "b"], labels=[labels], title="t") == png  # same bytes
