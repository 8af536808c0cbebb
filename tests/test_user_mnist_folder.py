"""KIP on an image folder of MNIST PNGs makes the release ``--source mnist`` makes from the same images
and seed (issue 25): 20 train + 10 test images per class of the real MNIST, written as PNGs
(``train/<digit>/<original index>.png``) and as MNIST's four IDX files in their original order."""

import json

import numpy as np
from synthetic_sources import idx_bytes

from distilled_registry import cli
from distilled_registry.pipelines import sources

RUN = ["--algorithm", "kip", "--kernel", "fc", "--ipc", "2", "--steps", "3", "--target-batch", "40", "--seed", "5",
       "--quiet"]


def test_mnist_pngs_give_the_mnist_release(real_data, tmp_path, home):
    from PIL import Image

    full = sources.load_source("mnist", real_data / "mnist")
    subset = tmp_path / "mnist_subset"
    subset.mkdir()
    folder = tmp_path / "mnist_png"
    parts = {}
    for split, x, y, per in (("train", full.x_train, full.y_train, 20), ("test", full.x_test, full.y_test, 10)):
        keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:per] for c in range(10)]))  # MNIST's own order
        u8 = np.round(x[keep, ..., 0] * 255).astype(np.uint8)
        parts[split] = (u8, y[keep])
        for i, img in zip(keep, u8):
            d = folder / split / str(int(y[i]))
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{int(i):05d}.png")
    for key, fname in sources.IDX_FILES.items():
        split, what = key.split("_")
        (subset / fname).write_bytes(idx_bytes(parts[split][0] if what == "images" else parts[split][1]))

    a, b = tmp_path / "from_idx", tmp_path / "from_png"
    assert cli.main(["distill", "--source", "mnist", "--source-dir", str(subset), *RUN, "--out", str(a)]) == 0
    assert cli.main(["distill", "--source", str(folder), *RUN, "--out", str(b)]) == 0
    pa, pb = (json.loads((p / "provenance.json").read_text()) for p in (a, b))
    assert pa["files"]["data.npz"] == pb["files"]["data.npz"]  # the images and labels: the same bytes
    ta, tb = (np.load(p / "transform.npz") for p in (a, b))  # the same preprocessing; only the fingerprint
    assert sorted(ta.files) == sorted(tb.files)               # it records (of another container) differs
    for k in ta.files:
        if k != "meta_json":  # the parameters as JSON, fitted_on_sha256 among them
            np.testing.assert_array_equal(ta[k], tb[k])
    assert pa["source"]["fingerprint_sha256"] != pb["source"]["fingerprint_sha256"]
    assert pa["metrics"]["krr_test_accuracy"] == pb["metrics"]["krr_test_accuracy"]
    assert pb["source"]["class_names"] == [str(i) for i in range(10)]
