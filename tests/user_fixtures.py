"""Small sources of one's own, made in the test from scikit-learn's digits: an image folder of PNGs, a
Keras-layout ``.npz``, a TFDS dataset prepared in a temporary data_dir, a Hub-layout dataset folder.

Every kind holds the same images: the first ``train`` + ``test`` digits of each of ``classes``
classes, pixels ``round(v * 255 / 16)`` (8-bit), in digits order within each class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("ant", "bee", "cat")  # sorted, as a folder's class folders are


def digits_arrays(train: int = 6, test: int = 3, classes: int = 3) -> dict:
    """``{"train": (x (N, 8, 8) uint8, y (N,)), "test": ...}`` in class-major order."""
    from sklearn.datasets import load_digits

    d = load_digits()
    out = {"train": ([], []), "test": ([], [])}
    for c in range(classes):
        idx = np.flatnonzero(d.target == c)
        for split, sel in (("train", idx[:train]), ("test", idx[train:train + test])):
            out[split][0].extend((d.images[j] * 255 / 16).round().astype(np.uint8) for j in sel)
            out[split][1].extend([c] * len(sel))
    return {s: (np.stack(x), np.asarray(y, np.int64)) for s, (x, y) in out.items() if x}


def write_folder(root: Path, arrays: dict | None = None, names=CLASSES) -> Path:
    """``root/{train,test}/<class>/<NNNNN>.png`` of ``arrays`` (default :func:`digits_arrays`)."""
    from PIL import Image

    arrays = arrays or digits_arrays()
    for split, (x, y) in arrays.items():
        for i, (img, c) in enumerate(zip(x, y)):
            d = root / split / names[c]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i:05d}.png")
    return root


def write_npz(path: Path, arrays: dict | None = None, one_hot: bool = False, names=CLASSES) -> Path:
    arrays = arrays or digits_arrays()
    out = {}
    for split, (x, y) in arrays.items():
        out[f"x_{split}"] = x
        out[f"y_{split}"] = np.eye(len(names), dtype=np.uint8)[y] if one_hot else y
    np.savez(path, **out, class_names=np.array(names))
    return path


def write_tfds(data_dir: Path, name: str = "owndata_tiny_digits") -> str:
    """Prepare a TFDS dataset ``name`` (image, label) of the digits arrays in ``data_dir``; returns ``name``."""
    import tensorflow_datasets as tfds
    from etils import epath

    arrays = digits_arrays()
    data_dir.mkdir(parents=True, exist_ok=True)

    class Tiny(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")
        pkg_dir_path = epath.Path(data_dir)

        def _info(self):
            return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 1)), "label": tfds.features.ClassLabel(names=list(CLASSES))}),
                disable_shuffling=True)  # the digits order, as in the other kinds (TFDS shuffles by key otherwise)

        def _split_generators(self, dl_manager):
            return {s: self._generate_examples(s) for s in ("train", "test")}

        def _generate_examples(self, split):
            x, y = arrays[split]
            for i in range(len(x)):
                yield i, {"image": x[i][..., None], "label": int(y[i])}

    Tiny.name = name
    Tiny(data_dir=str(data_dir)).download_and_prepare()
    return name


def write_hf(folder: Path) -> Path:
    """A Hub-layout dataset folder (``data/{train,test}-00000-of-00001.parquet``, Image and ClassLabel features)."""
    import datasets
    from PIL import Image

    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(CLASSES))})
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, (x, y) in digits_arrays().items():
        ds = datasets.Dataset.from_dict({"image": [Image.fromarray(a) for a in x], "label": y.tolist()},
                                        features=feats)
        ds.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder
