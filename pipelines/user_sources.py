"""Sources a user already has: an image folder, a Keras-layout ``.npz``, a prepared TFDS dataset, a Hub dataset.

A user source is named by a *source spec*, the string ``DistillConfig.source`` holds and the
provenance records as ``source.name`` (so ``rerun`` and ``verify --accuracy`` read it again):

- ``folder:<absolute path>``: one subfolder per class, PNG or JPEG files inside (the layout of
  torchvision's ``ImageFolder`` and Keras' ``image_dataset_from_directory``): either ``train/<class>/``
  and ``test/<class>/``, or ``<class>/`` alone with ``test_fraction`` (a stratified split, ``split_seed``);
- ``npz:<absolute path>``: ``x_train`` (N, H, W[, C]), ``y_train`` (N,), (N, 1) or one-hot (N, C),
  ``x_test``, ``y_test`` the same, optional ``class_names`` (C,) strings (the Keras datasets layout),
  read with ``np.load(allow_pickle=False)``;
- ``tfds:NAME[:VERSION]``: a TFDS image classification dataset already prepared in TFDS's data_dir
  (``$TFDS_DATA_DIR``); features ``image`` and ``label`` (ClassLabel); splits ``train``, ``test``;
- ``hf:REPO_ID``: a Hugging Face dataset (the ``datasets`` cache, a local dataset folder, or the Hub
  when online); columns ``image`` (Image) and ``label`` (ClassLabel); splits ``train``, ``test``.

``canonical(text)`` turns what was typed after ``--source`` (a path, or a spec) into the spec.
:func:`load` reads it into a :class:`pipelines.source_record.Source`: ``x (N, H, W, C)`` float32 in
``[0, 1]`` (8-bit pixels / 255), labels int64, the class names, and a fingerprint: for a folder the
sha256 over the ordered list of ``split/class/file`` names and each file's sha256; for an ``.npz`` the
file's sha256; for TFDS and the Hub the sha256 of the decoded pixels and labels
(:func:`source_record.fingerprint_arrays`), their version and split fingerprints recorded beside it.

Everything is checked before any work, and a failure is one line naming the file (exit 2,
:class:`SourceUsageError`): not the layout, images of mixed sizes or channel counts without
``image_size``, unreadable or truncated images (the first few named), one class only, labels that are
not in the class list, an empty split. Nothing is sent anywhere: the files are only read.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from distilled_registry.limits import MAX_SIDE  # pixels: a larger image (or --image-size) is refused before decoding
from distilled_registry.source_specs import KINDS, is_user_source, short_name  # noqa: F401 - re-exported

from .source_errors import SourceUsageError
from .source_record import Source, fingerprint_arrays

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_NPZ_BYTES = 8 << 30  # uncompressed size of an .npz's arrays read at most
SHOWN = 3                # unreadable files named in one message
UNKNOWN = "unknown"


def canonical(text: str) -> str:
    """The source spec of what was typed after ``--source``: a folder or ``.npz`` path becomes
    ``folder:``/``npz:`` with its absolute path; ``tfds:``/``hf:`` specs are kept. Else SourceUsageError."""
    kind, sep, rest = text.partition(":")
    if sep and kind in ("tfds", "hf"):
        if not rest or not re.fullmatch(r"[\w.\-/:]+", rest):
            raise SourceUsageError(f"--source {text!r}: expected tfds:NAME[:VERSION] or hf:REPO_ID")
        return text
    path = Path(rest if sep and kind in ("folder", "npz") else text).expanduser()
    if path.is_dir() and kind != "npz":
        return f"folder:{path.resolve()}"
    if path.suffix == ".npz" and kind != "folder":
        if not path.is_file():
            raise SourceUsageError(f"--source {text!r}: no .npz file there")
        return f"npz:{path.resolve()}"
    raise SourceUsageError(f"unknown source {text!r}: known sources are digits, mnist, fashion_mnist, cifar10, "
                           "cifar100, svhn_cropped; your own is an existing image folder, an .npz file, tfds:NAME "
                           "or hf:REPO_ID")


def options_of(config: dict | None) -> dict:
    """The reading options a run's config holds (``image_size``, ``test_fraction``, ``split_seed``)."""
    config = config or {}
    out = {k: config[k] for k in ("image_size", "test_fraction", "split_seed") if config.get(k) is not None}
    if "image_size" in out:
        out["image_size"] = tuple(out["image_size"])
    return out


def load(spec: str, image_size: tuple[int, int] | None = None, test_fraction: float | None = None,
         split_seed: int = 0, licence: str | None = None, citation: str | None = None) -> Source:
    """The user source ``spec`` as a checked :class:`Source` (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    reader = {"folder": _folder, "npz": _npz, "tfds": _tfds, "hf": _hf}.get(kind)
    if reader is None:
        raise SourceUsageError(f"unknown source kind in {spec!r}; expected one of {', '.join(KINDS)}")
    if image_size is not None and not all(1 <= int(v) <= MAX_SIDE for v in image_size):
        raise SourceUsageError(f"--image-size {image_size}: each side must be 1..{MAX_SIDE} pixels")
    splits, class_names, fp, extra = reader(rest, image_size, test_fraction, split_seed)
    return _finish(spec, splits, class_names, fp, extra, image_size, licence, citation)


# --------------------------------------------------------------------------------------------
# decoding and checks


def _decode(path: Path, image_size):
    """``(array (H, W, C) uint8, None)`` of one PNG/JPEG, resized to ``image_size`` (H, W); ``(None, why)``."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if max(img.size) > MAX_SIDE:
                return None, f"{img.size[0]}x{img.size[1]} pixels, more than {MAX_SIDE} a side"
            img.load()
            return _to_array(img, image_size), None
    except Exception as e:  # noqa: BLE001 - any decoder failure is an unreadable file
        return None, f"{type(e).__name__}: {e}"


def _to_array(img, image_size) -> np.ndarray:
    """A PIL image as (H, W, 1) for grey modes, (H, W, 3) for colour ones, resized (bilinear) when asked."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "F"):
        raise ValueError(f"{img.mode} pixels (16-bit or float); convert the image to 8-bit grey or RGB")
    img = img.convert("L" if img.mode in ("1", "L", "LA") else "RGB")
    if image_size is not None and img.size != (image_size[1], image_size[0]):
        img = img.resize((int(image_size[1]), int(image_size[0])), Image.Resampling.BILINEAR)
    a = np.asarray(img, np.uint8)
    return a[..., None] if a.ndim == 2 else a


def _uniform(decoded: dict, image_size, where: str) -> dict:
    """``{split: (x (N, H, W, C) uint8, y)}`` from ``{split: ([(file, array)], y)}``, one shape across splits.

    With ``image_size`` every image is already that size, and grey ones become RGB when any image is
    colour; without it, mixed sizes or channel counts are refused, naming two files that differ.
    """
    everything = [it for items, _ in decoded.values() for it in items]
    shapes = {}
    for name, a in everything:
        shapes.setdefault(a.shape, name)
    rgb = False
    if len(shapes) > 1:
        (s1, n1), (s2, n2) = list(shapes.items())[:2]
        if image_size is None:
            raise SourceUsageError(f"{where}: images differ in size or channels: {n1!r} is {_hwc(s1)}, {n2!r} is "
                                   f"{_hwc(s2)}; give --image-size HxW to resize them all (grey ones become RGB)")
        rgb = True
    out = {}
    for split, (items, y) in decoded.items():
        arrays = [np.repeat(a, 3, axis=2) if rgb and a.shape[2] == 1 else a for _, a in items]
        out[split] = (np.stack(arrays) if arrays else np.zeros((0, 1, 1, 1), np.uint8), y)
    return out


def _hwc(shape) -> str:
    return f"{shape[0]}x{shape[1]} with {shape[2]} channel(s)"


def _check_labels(split: str, y: np.ndarray, class_names: list[str], where: str) -> np.ndarray:
    """Labels ``(N,)`` int64 in ``[0, C)``: integers, ``(N, 1)``, or one-hot rows; else SourceUsageError."""
    c = len(class_names)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] != c or y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all() or (y.sum(1) != 1).any():
            raise SourceUsageError(f"{where}: y_{split} has shape {y.shape}; one-hot labels are (N, {c}) rows of "
                                   f"0s with one 1, for the {c} classes")
        y = y.argmax(1)
    fractional = y.dtype.kind == "f" and (~np.isfinite(y) | (y != np.round(y))).any()
    if y.ndim != 1 or y.dtype.kind not in "iuf" or fractional:
        raise SourceUsageError(f"{where}: y_{split} ({y.dtype}, shape {y.shape}) must be integer class ids (N,), "
                               "(N, 1) or one-hot (N, C)")
    bad = (y < 0) | (y >= c)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceUsageError(f"{where}: y_{split}[{i}] is {y[i]:g}, not a class of the class list ({c} classes: "
                               f"{_names(class_names)}); labels must be 0..{c - 1}")
    return y.astype(np.int64)


def _names(class_names: list[str]) -> str:
    return ", ".join(map(repr, class_names[:5])) + (", ..." if len(class_names) > 5 else "")


def _finish(spec: str, splits: dict, class_names: list[str], fp: str, extra: dict, image_size, licence,
            citation) -> Source:
    """Check what every kind shares, then the Source: two classes or more, no empty split, every class
    in the training split, one image shape; pixels uint8 (/255) or floats in [0, 1]."""
    where = spec.partition(":")[2]
    c = len(class_names)
    if c < 2:
        raise SourceUsageError(f"{where}: only one class ({_names(class_names)}); distillation needs two classes "
                               "or more")
    if len(set(class_names)) != c:
        raise SourceUsageError(f"{where}: class names repeat ({_names(class_names)}); each class needs its own name")
    shapes = {}
    for split in ("train", "test"):
        x, y = splits[split]
        if len(x) == 0:
            raise SourceUsageError(f"{where}: the {split} split is empty; a source needs images in both its train "
                                   "and test splits (give test images, or --test-fraction)")
        shapes[split] = tuple(int(v) for v in x.shape[1:])
    if shapes["train"] != shapes["test"]:
        raise SourceUsageError(f"{where}: train images are {_hwc(shapes['train'])}, "
                               f"test images {_hwc(shapes['test'])}; "
                               "give --image-size HxW to bring them to one size")
    if shapes["train"][2] not in (1, 3):
        raise SourceUsageError(f"{where}: images have {shapes['train'][2]} channels; expected 1 (grey) or 3 (RGB)")
    counts = {}
    for split in ("train", "test"):
        n = np.bincount(splits[split][1], minlength=c)
        counts[split] = {name: int(k) for name, k in zip(class_names, n)}
    empty = [name for name, k in counts["train"].items() if k == 0]
    if empty:
        raise SourceUsageError(f"{where}: class {empty[0]!r} has no training image; every class of the class list "
                               f"({_names(class_names)}) needs training images")
    out = {}
    for split in ("train", "test"):
        x, y = splits[split]
        if x.dtype.kind == "f":
            if not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
                raise SourceUsageError(f"{where}: x_{split} holds float pixels outside [0, 1] (or not finite); "
                                       "give uint8 pixels 0..255 or floats in [0, 1]")
            out[split] = (x.astype(np.float32), y)
        elif x.dtype.kind in "iu" and (x.size == 0 or (x.min() >= 0 and x.max() <= 255)):
            out[split] = (x.astype(np.float32) / np.float32(255), y)
        else:
            raise SourceUsageError(f"{where}: x_{split} has pixels of dtype {x.dtype} outside 0..255; give uint8 "
                                   "pixels or floats in [0, 1]")
    files = extra.pop("files", {})
    facts = {"licence": licence or UNKNOWN, "citation": citation or UNKNOWN, "homepage": None,
             "kind": spec.partition(":")[0], "counts_per_class": counts,
             "image_size": list(shapes["train"][:2]), "resized_to": list(image_size) if image_size else None,
             **extra}
    return Source(name=spec, x_train=out["train"][0], y_train=out["train"][1], x_test=out["test"][0],
                  y_test=out["test"][1], class_names=list(class_names), fingerprint=fp,
                  origin=f"user:{spec}", files=files, exact=True, facts=facts)


def _split_by_fraction(y: np.ndarray, test_fraction: float, seed: int, where: str) -> np.ndarray:
    """A boolean test mask: round(n * test_fraction) images of each class (at least 1, at most n - 1), seeded."""
    if not 0 < test_fraction < 1:
        raise SourceUsageError(f"--test-fraction {test_fraction!r} must be between 0 and 1")
    rng = np.random.default_rng([seed, 0x5E1])
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < 2:
            raise SourceUsageError(f"{where}: class {int(c)} has {len(idx)} image(s): too few to split into train "
                                   "and test; give it more images")
        k = min(len(idx) - 1, max(1, int(round(len(idx) * test_fraction))))
        test[rng.choice(idx, size=k, replace=False)] = True
    return test


# --------------------------------------------------------------------------------------------
# folder


def _folder(rest: str, image_size, test_fraction, split_seed):
    root = Path(rest)
    if not root.is_dir():
        raise SourceUsageError(f"{rest!r} is not a folder (an image folder has one subfolder per class)")
    layout = ("expected train/<class>/ and test/<class>/ folders of PNG/JPEG images, or <class>/ folders alone "
              "with --test-fraction")
    top = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    stray = [p for p in top if not p.is_dir()]
    if stray:
        raise SourceUsageError(f"{str(stray[0])!r} is a file beside the class folders; {layout}")
    has_splits = {p.name for p in top} >= {"train", "test"}
    if has_splits:
        if len(top) != 2:
            other = next(p for p in top if p.name not in ("train", "test"))
            raise SourceUsageError(f"{str(other)!r} is beside train/ and test/; {layout}")
        if test_fraction is not None:
            raise SourceUsageError(f"{rest!r} has train/ and test/ already; drop --test-fraction")
        files = {s: _class_files(root / s, root, layout) for s in ("train", "test")}
        class_names = sorted(files["train"])
        unknown = sorted(set(files["test"]) - set(class_names))
        if unknown:
            raise SourceUsageError(f"{str(root / 'test' / unknown[0])!r}: class {unknown[0]!r} is not among the "
                                   f"training classes ({_names(class_names)}); labels must match the class list")
    else:
        if any(p.name in ("train", "test") for p in top):
            raise SourceUsageError(f"{rest!r} has a train/ or test/ folder but not both; {layout}")
        if test_fraction is None:
            raise SourceUsageError(f"{rest!r} has class folders but no train/ and test/; give --test-fraction "
                                   "(e.g. 0.2) to split them, or make train/ and test/")
        files = {"all": _class_files(root, root, layout)}
        class_names = sorted(files["all"])
    decoded, bad = {}, []
    for split, by_class in files.items():
        items, labels = [], []
        for c, name in enumerate(class_names):
            for p in by_class.get(name, []):
                a, why = _decode(p, image_size)
                if a is None:
                    bad.append(f"{str(p.relative_to(root))!r} ({why})")
                    continue
                items.append((str(p.relative_to(root)), a))
                labels.append(c)
        decoded[split] = (items, np.asarray(labels, np.int64))
    if bad:
        raise SourceUsageError(f"{rest!r}: {len(bad)} image(s) cannot be read: {'; '.join(bad[:SHOWN])}"
                               + (f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""))
    splits = _uniform(decoded, image_size, rest)
    extra = {"layout": "train/ and test/ class folders" if has_splits else "class folders, split by --test-fraction"}
    if not has_splits:
        x, y = splits.pop("all")
        test = (_split_by_fraction(y, test_fraction, split_seed, rest) if len(class_names) > 1
                else np.zeros(len(y), bool))
        splits = {"train": (x[~test], y[~test]), "test": (x[test], y[test])}
        extra["split"] = {"test_fraction": test_fraction, "seed": split_seed, "stratified": True}
    h = hashlib.sha256()
    listing = {}
    for split, by_class in files.items():
        for name in class_names:
            for p in by_class.get(name, []):
                rel_name = p.relative_to(root).as_posix()
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                h.update(f"{rel_name}\0{digest}\n".encode())
                listing[rel_name] = digest
    extra.update(files_count=len(listing), location=str(root),
                 fingerprint_recipe="sha256 over the lines '<split>/<class>/<file>\\0<sha256 of the file>\\n', in "
                                    "split, class and file-name order")
    return splits, class_names, h.hexdigest(), extra


def _class_files(d: Path, root: Path, layout: str) -> dict[str, list[Path]]:
    """``{class name: [image files, sorted by name]}`` of the class folders in ``d``; refuses anything else."""
    out = {}
    for c in sorted(p for p in d.iterdir() if not p.name.startswith(".")):
        if not c.is_dir():
            raise SourceUsageError(f"{str(c)!r} is a file where class folders are expected; {layout}")
        found = []
        for p in sorted(c.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir():
                raise SourceUsageError(f"{str(p)!r} is a folder inside the class folder {c.name!r}; {layout}")
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                raise SourceUsageError(f"{str(p)!r} is not a PNG or JPEG file (by its name); {layout}")
            resolved = p.resolve()
            if root.resolve() not in resolved.parents:
                raise SourceUsageError(f"{str(p)!r} leads outside {str(root)!r} (a link); copy the file in instead")
            found.append(p)
        if not found:
            raise SourceUsageError(f"{str(c)!r} holds no PNG or JPEG image; remove it or add images")
        out[c.name] = found
    if not out:
        raise SourceUsageError(f"{str(d)!r} holds no class folder; {layout}")
    return out


# --------------------------------------------------------------------------------------------
# npz


def _npz(rest: str, image_size, test_fraction, split_seed):
    path = Path(rest)
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(i.file_size for i in z.infolist())
        if size > MAX_NPZ_BYTES:
            raise SourceUsageError(f"{rest!r} holds {size:,} bytes of arrays, more than {MAX_NPZ_BYTES:,}")
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise SourceUsageError(f"{rest!r} lacks {', '.join(missing)}; an .npz source holds x_train, y_train, "
                                       f"x_test, y_test (and optionally class_names); it holds {', '.join(f.files)}")
            arrays = {k: f[k] for k in keys}
            names_arr = f["class_names"] if "class_names" in f.files else None
    except SourceUsageError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise SourceUsageError(f"cannot read {rest!r} as an .npz of arrays (no pickles): {e}") from e
    if test_fraction is not None:
        raise SourceUsageError(f"{rest!r} has its own test split (x_test, y_test); drop --test-fraction")
    for s in ("train", "test"):
        x = arrays[f"x_{s}"]
        if x.ndim == 3:
            arrays[f"x_{s}"] = x = x[..., None]
        if x.ndim != 4:
            raise SourceUsageError(f"{rest!r}: x_{s} has shape {x.shape}; expected (N, H, W) or (N, H, W, C)")
        if len(arrays[f"y_{s}"]) != len(x):
            raise SourceUsageError(f"{rest!r}: {len(x)} images in x_{s} but {len(arrays[f'y_{s}'])} labels in y_{s}")
    if names_arr is not None:
        if names_arr.ndim != 1 or names_arr.dtype.kind not in "US":
            raise SourceUsageError(f"{rest!r}: class_names must be a 1-D array of strings, got {names_arr.dtype} "
                                   f"{names_arr.shape}")
        class_names = [v.decode() if isinstance(v, bytes) else str(v) for v in names_arr.tolist()]
    else:
        y = arrays["y_train"]
        if y.ndim == 2 and y.shape[1] > 1:
            c = y.shape[1]
        elif y.size and y.dtype.kind in "iuf" and np.isfinite(y).all():
            c = int(np.max(y)) + 1
        else:
            c = 0
        class_names = [str(i) for i in range(max(c, 0))]
    splits = {}
    for s in ("train", "test"):
        y = _check_labels(s, arrays[f"y_{s}"], class_names, rest)
        x = arrays[f"x_{s}"]
        if image_size is not None:
            x = _resize_array(x, image_size)
        splits[s] = (x, y)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return splits, class_names, digest, {"location": str(path), "files": {path.name: digest},
                                         "fingerprint_recipe": "sha256 of the .npz file"}


def _resize_array(x: np.ndarray, image_size) -> np.ndarray:
    """Images (N, H, W, C) uint8 resized one by one with Pillow (bilinear); floats go through 0..255."""
    from PIL import Image

    if tuple(x.shape[1:3]) == tuple(image_size):
        return x
    u8 = x if x.dtype == np.uint8 else np.clip(np.round(np.asarray(x, np.float64) * 255), 0, 255).astype(np.uint8)
    out = [_to_array(Image.fromarray(a[..., 0] if a.shape[2] == 1 else a), image_size) for a in u8]
    return np.stack(out) if out else u8


# --------------------------------------------------------------------------------------------
# TFDS and the Hub


def _from_examples(examples, where: str, split: str, image_size) -> tuple[list, np.ndarray]:
    """``([(what, (H, W, C) uint8)], labels)`` from ``(image array or PIL image, label)`` pairs."""
    from PIL import Image

    items, labels = [], []
    for i, (img, label) in enumerate(examples):
        if not isinstance(img, Image.Image):
            a = np.asarray(img)
            if a.dtype != np.uint8 or a.ndim not in (2, 3):
                raise SourceUsageError(f"{where}: {split} example {i}: image of dtype {a.dtype} and shape {a.shape}; "
                                       "expected uint8 (H, W[, C])")
            img = Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)
        try:
            items.append((f"{split} example {i}", _to_array(img, image_size)))
        except (ValueError, OSError) as e:
            raise SourceUsageError(f"{where}: {split} example {i}: {e}") from e
        labels.append(int(label))
    return items, np.asarray(labels, np.int64)


def _split_pair(raw: dict, where: str, test_fraction, split_seed) -> tuple[dict, dict]:
    """``{"train": (x, y), "test": (x, y)}``: the source's own test split, or one cut from train."""
    extra = {}
    if "test" in raw and test_fraction is not None:
        raise SourceUsageError(f"{where} has a test split; drop --test-fraction")
    if "test" not in raw:
        if test_fraction is None:
            raise SourceUsageError(f"{where} has no test split; give --test-fraction to cut one from train")
        x, y = raw["train"]
        test = _split_by_fraction(y, test_fraction, split_seed, where)
        raw = {"train": (x[~test], y[~test]), "test": (x[test], y[test])}
        extra["split"] = {"test_fraction": test_fraction, "seed": split_seed, "stratified": True}
    return raw, extra


def _tfds(rest: str, image_size, test_fraction, split_seed):
    from distilled_registry.extras import require

    require("tensorflow_datasets", what=f"the source tfds:{rest}")
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(rest, data_dir=os.environ.get("TFDS_DATA_DIR") or None)  # read now, not at import
    except Exception as e:  # noqa: BLE001 - TFDS says why (unknown name, not prepared, bad version)
        raise SourceUsageError(f"tfds:{rest}: TFDS cannot open it ({type(e).__name__}: {str(e).splitlines()[0]}); "
                               "prepare it first (`tfds build NAME`) in TFDS's data_dir ($TFDS_DATA_DIR)") from e
    if not builder.is_prepared():
        raise SourceUsageError(f"tfds:{rest} is not prepared in {builder.data_dir!r}; prepare it first "
                               f"(`tfds build {rest.split(':')[0]}`), nothing is downloaded here")
    feats = builder.info.features
    if "image" not in feats or "label" not in feats or not hasattr(feats["label"], "names"):
        raise SourceUsageError(f"tfds:{rest}: features {sorted(feats.keys())}; an image classification source has "
                               "'image' and 'label' (a ClassLabel)")
    class_names = list(feats["label"].names)
    raw = {}
    for split in ("train", "test"):
        if split in builder.info.splits:
            ds = builder.as_dataset(split=split, shuffle_files=False)
            raw[split] = _from_examples(((e["image"], e["label"]) for e in tfds.as_numpy(ds)),
                                        f"tfds:{rest}", split, image_size)
    if "train" not in raw:
        raise SourceUsageError(f"tfds:{rest} has no train split (splits: {', '.join(builder.info.splits)})")
    raw = _uniform(raw, image_size, f"tfds:{rest}")
    raw, extra = _split_pair(raw, f"tfds:{rest}", test_fraction, split_seed)
    for s in ("train", "test"):
        raw[s] = (raw[s][0], _check_labels(s, raw[s][1], class_names, f"tfds:{rest}"))
    extra["tfds"] = {"name": builder.name, "version": str(builder.info.version), "full_name": builder.info.full_name,
                     "split_examples": {s: int(builder.info.splits[s].num_examples)
                                        for s in ("train", "test") if s in builder.info.splits}}
    return raw, class_names, _content_fp(raw), {**extra, "fingerprint_recipe": _CONTENT_RECIPE}


def _hf(rest: str, image_size, test_fraction, split_seed):
    from distilled_registry.extras import require

    require("datasets", what=f"the source hf:{rest}")
    import datasets

    try:
        dd = datasets.load_dataset(rest)
    except Exception as e:  # noqa: BLE001 - not cached and offline, unknown repository, ...
        raise SourceUsageError(f"hf:{rest}: the datasets library cannot load it ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''}); it must be in the datasets cache, a "
                               "local dataset folder, or on the Hub while online") from e
    if "train" not in dd:
        raise SourceUsageError(f"hf:{rest} has no train split (splits: {', '.join(dd)})")
    feats = dd["train"].features
    if "image" not in feats or "label" not in feats or not isinstance(feats["label"], datasets.ClassLabel):
        raise SourceUsageError(f"hf:{rest}: columns {sorted(feats)}; an image classification source has 'image' "
                               "(Image) and 'label' (ClassLabel)")
    class_names = list(feats["label"].names)
    raw = {s: _from_examples(((r["image"], r["label"]) for r in dd[s]), f"hf:{rest}", s, image_size)
           for s in ("train", "test") if s in dd}
    raw = _uniform(raw, image_size, f"hf:{rest}")
    raw, extra = _split_pair(raw, f"hf:{rest}", test_fraction, split_seed)
    for s in ("train", "test"):
        raw[s] = (raw[s][0], _check_labels(s, raw[s][1], class_names, f"hf:{rest}"))
    extra["hf"] = {"repo_id": rest, "split_fingerprints": {s: dd[s]._fingerprint for s in dd},
                   "split_rows": {s: int(dd[s].num_rows) for s in dd}}
    return raw, class_names, _content_fp(raw), {**extra, "fingerprint_recipe": _CONTENT_RECIPE}


_CONTENT_RECIPE = ("sha256 over (name, dtype, shape, bytes) of the decoded uint8 images and int64 labels of "
                   "train then test")


def _content_fp(raw: dict) -> str:
    return fingerprint_arrays({"x_train": raw["train"][0], "y_train": raw["train"][1],
                               "x_test": raw["test"][0], "y_test": raw["test"][1]})


def check_family(family: str, config: str) -> None:
    """SourceUsageError unless ``family/config`` may name a user release: a family the catalog does not have
    and that is not a source's name (a TFDS dataset of that name exists), a lower-case config."""
    from distilled_registry import configs, source_facts

    if family in configs.families():
        raise SourceUsageError(f"--name {family}/{config}: {family!r} is a catalog family; give your family "
                               "another name (e.g. my_" + family + ")")
    if family in source_facts.SOURCES or family in KINDS:
        raise SourceUsageError(f"--name {family}/{config}: {family!r} is a source's name (TFDS has a dataset of "
                               "that name); give your family another name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", config):
        raise SourceUsageError(f"--name {family}/{config}: configs of your releases are lower-case letters, digits, "
                               "'_', '-' and '.', starting with a letter or digit, e.g. ipc10")
