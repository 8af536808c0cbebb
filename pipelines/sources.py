"""Source datasets: train and test arrays, read from sklearn, local files or TFDS.

``load_source(name, source_dir=None)`` returns a :class:`Source`: ``x_train (N, H, W, C)``
float32 in [0, 1], ``y_train (N,)`` int64, the same for the test split, the class names and a
fingerprint. The fingerprint is the sha256 of the decoded integer pixels and labels (see
:func:`fingerprint_arrays`), so it does not depend on the container the data came in (a
re-compressed ``.gz``, TFDS's TFRecords or the original archive all give the same value for the
same images), and it identifies exactly what a release was distilled from.

Where the data come from:
- ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images), shipped inside scikit-learn,
  split with a fixed, seeded, stratified 75/25 split (:data:`DIGITS_SPLIT`).
- ``mnist``, ``fashion_mnist``: IDX ``.gz`` files in ``source_dir`` (the four files of the
  original distribution), else ``tfds.load``.
- ``cifar10``: in ``source_dir``, the python batches (``cifar-10-batches-py/`` or the
  ``cifar-10-python.tar.gz`` archive), the binary batches (``cifar-10-batches-bin/`` or
  ``cifar-10-binary.tar.gz``), or a JPEG tree ``jpg/{train,test}/<class>/<NNNN>.jpg`` (a folder, or
  ``cifar10-jpg.tar.gz``); else ``tfds.load``.
- ``cifar100``: ``cifar-100-python/``, ``cifar-100-binary/`` or either's ``.tar.gz`` (fine labels); else TFDS.
  The binary batches are read with numpy; the python ones by a whitelisting unpickler (:mod:`.cifar_batches`).
- ``svhn_cropped``: ``train_32x32.mat`` and ``test_32x32.mat``; else TFDS.

Whatever the reader, the decoded arrays are checked before any work (:func:`check_split`): both
splits non-empty, the source's image shape, pixels that are uint8 values (finite whole numbers in
``[0, pixel max]`` when a file holds floats), labels in ``[0, C)`` and every class present in each
split. An IDX header is checked against the file's size before anything is allocated.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np

from distilled_registry import source_facts
from distilled_registry.extras import require

from . import cifar_batches
from .source_errors import SourceError, SourceUsageError  # noqa: F401 - re-exported: sources.SourceError

# Source facts (shapes, classes, licence, homepage, TFDS name, pixel max): distilled_registry.source_facts.
FACTS = source_facts.SOURCES
MNIST_CLASSES = list(FACTS["mnist"].class_names)
FASHION_CLASSES = list(FACTS["fashion_mnist"].class_names)
CIFAR10_CLASSES = list(FACTS["cifar10"].class_names)

from .source_record import DIGITS_SPLIT, Source, fingerprint_arrays  # noqa: E402,F401 - re-exported


def load_source(name: str, source_dir: str | os.PathLike | None = None, **options) -> Source:
    """Train and test arrays of source ``name``, from ``source_dir`` when given, else TFDS.

    A user source spec (``folder:``, ``npz:``, ``tfds:``, ``hf:``) is read by :mod:`.user_sources` with
    ``options`` (``image_size``, ``test_fraction``, ``split_seed``, ``licence``, ``citation``); it names
    its own files, so ``source_dir`` is not used.

    Raises:
      SourceError: unknown name, missing or malformed files (naming the file and the layout).
    """
    from . import user_sources

    if user_sources.is_user_source(name):
        return user_sources.load(name, **options)
    if name not in FACTS:
        raise SourceUsageError(f"unknown source {name!r}; known sources: {', '.join(FACTS)}")
    if name == "digits":
        if source_dir is not None:
            raise SourceUsageError("the digits source ships inside scikit-learn; drop --source-dir")
        return _digits()
    if source_dir is not None:
        d = Path(source_dir)
        if not d.is_dir():
            raise SourceUsageError(f"--source-dir {str(d)!r} is not a directory")
        reader = {"mnist": _idx_source, "fashion_mnist": _idx_source, "cifar10": _cifar10_local,
                  "cifar100": _cifar100_local, "svhn_cropped": _svhn_local}[name]
        return reader(name, d)
    return _tfds_source(name)


def _finish(name, xtr_u8, ytr, xte_u8, yte, class_names, origin, files=None, exact=True,
            where: dict[str, str] | None = None) -> Source:
    """Check the decoded data (:func:`check_split`), fingerprint the integers, then scale to float32 [0, 1].

    ``where`` names what each split was read from (``{"train": ..., "test": ...}``) for the
    messages; default: the origin.
    """
    where = where or {}
    xtr_u8, ytr = check_split(name, "train", xtr_u8, ytr, class_names, where.get("train", origin))
    xte_u8, yte = check_split(name, "test", xte_u8, yte, class_names, where.get("test", origin))
    fp = fingerprint_arrays({"x_train": xtr_u8, "y_train": ytr, "x_test": xte_u8, "y_test": yte})
    scale = np.float32(FACTS[name].pixel_max)
    return Source(name=name, x_train=xtr_u8.astype(np.float32) / scale, y_train=ytr,
                  x_test=xte_u8.astype(np.float32) / scale, y_test=yte, class_names=list(class_names),
                  fingerprint=fp, origin=origin, files=files or {}, exact=exact)


def check_split(name: str, split: str, x, y, class_names: list, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels uint8 (N, H, W, C), labels int64 (N,))`` of one split, after checking them; else SourceError.

    Checked, before any work: the split is not empty; images have the source's shape
    (:mod:`distilled_registry.source_facts`); pixels are integers in ``[0, pixel max]``, or floats that are finite
    whole numbers in that range (an SVHN ``.mat`` may hold floats); labels are integers (or whole
    floats) in ``[0, C)``, one per image; every one of the ``C`` classes has at least one image.
    Each message names the source, the file or origin, the split, the value and what is expected.
    """
    top = FACTS[name].pixel_max
    at = f"{name} ({where}) {split} split"
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or len(x) == 0:
        raise SourceError(f"{at} is empty: no images; a source needs images in both its train and test splits")
    shape = tuple(int(v) for v in x.shape[1:])
    if shape != FACTS[name].image_shape:
        raise SourceError(f"{at}: images are {shape}; {name} images are {FACTS[name].image_shape} (H, W, C)")
    if x.dtype.kind == "f":
        from distilled_registry.transform import non_finite

        bad = non_finite(x)
        if bad:
            raise SourceError(f"{at}: pixels hold {bad}; expected whole numbers in [0, {top}]")
    elif x.dtype.kind not in "iu":
        raise SourceError(f"{at}: pixels have dtype {x.dtype}; expected integers in [0, {top}]")
    lo, hi = x.min(), x.max()
    if lo < 0 or hi > top:
        raise SourceError(f"{at}: pixels range over [{lo:g}, {hi:g}], outside [0, {top}]; the file is damaged or "
                          "of another format")
    if x.dtype.kind == "f":
        frac = x != np.floor(x)
        if frac.any():
            raise SourceError(f"{at}: pixel {x[frac][0]:g} is not a whole number; expected whole numbers in "
                              f"[0, {top}] (uint8 values)")
    if y.ndim != 1 or len(y) != len(x):
        raise SourceError(f"{at}: {len(x)} images but labels of shape {y.shape}; expected one label per image")
    c = len(class_names)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.floor(np.where(np.isfinite(y), y, 0)))
        if bad.any():
            raise SourceError(f"{at}: label {y[bad][0]!r} is not a whole number; expected class ids in [0, {c})")
    elif y.dtype.kind not in "iu":
        raise SourceError(f"{at}: labels have dtype {y.dtype}; expected integer class ids in [0, {c})")
    out = (y < 0) | (y >= c)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise SourceError(f"{at}: label {y[i]:g} (at index {i}) is outside [0, {c}) for the {c} classes")
    y = y.astype(np.int64)
    absent = np.flatnonzero(np.bincount(y, minlength=c) == 0)
    if len(absent):
        k = int(absent[0])
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise SourceError(f"{at}: class {k} ({class_names[k]!r}){more} is absent: no image has that label; every "
                          f"one of the {c} classes must be present, or a release would silently lack it")
    return x.astype(np.uint8), y


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# digits


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images ``(1797, 8, 8)`` float 0..16 and targets ``(1797,)``, as
    ``sklearn.datasets.load_digits`` gives them.

    Read from the file ``load_digits`` reads (``sklearn/datasets/data/digits.csv.gz``, 64 pixels and
    the target a row), found without importing scikit-learn, whose import costs about 2 s a process;
    ``load_digits`` itself where that file is not found.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec else []
    path = Path(roots[0], "datasets", "data", "digits.csv.gz") if roots else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images, d.target
    with gzip.open(path) as f:
        rows = np.loadtxt(f, delimiter=",")
    return rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].astype(int)


def _digits() -> Source:
    require("sklearn", what="the digits source")
    images, target = digits_arrays()
    x = images.astype(np.uint8)[..., None]  # (1797, 8, 8, 1), values 0..16
    y = target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT["seed"])
    test_idx = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        k = int(round(len(idx) * DIGITS_SPLIT["test_fraction"]))
        test_idx.append(rng.choice(idx, size=k, replace=False))
    test = np.zeros(len(y), bool)
    test[np.concatenate(test_idx)] = True
    return _finish("digits", x[~test], y[~test], x[test], y[test], [str(i) for i in range(10)],
                   origin="sklearn.datasets.load_digits")


# --------------------------------------------------------------------------------------------
# MNIST family (IDX)

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


IDX_MAX_NDIM = 4        # labels 1, images 3 (a channel axis: 4)
GZIP_MAX_RATIO = 1100   # deflate expands at most ~1032x: what a .gz of a given size can hold


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic ``0x0000 08 <ndim>``, big-endian uint32 dims, uint8 data.

    The header is checked before the data is read: ``ndim`` in 1..:data:`IDX_MAX_NDIM`, and the
    product of the dims (exact, no overflow) at most what the file can hold (its size after the
    header; :data:`GZIP_MAX_RATIO` times its size when gzipped). Then exactly that many bytes must follow.
    """
    gz = path.suffix == ".gz"
    where = repr(str(path))
    try:
        size = path.stat().st_size
        with (gzip.open if gz else open)(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:3] != b"\0\0\x08":
                raise SourceError(f"{where} is not an IDX file of unsigned bytes (bad magic {magic!r})")
            ndim = magic[3]
            if not 1 <= ndim <= IDX_MAX_NDIM:
                raise SourceError(f"{where}: its IDX header gives {ndim} dimensions; image and label files have 1 to "
                                  f"{IDX_MAX_NDIM} (MNIST: 3 for images, 1 for labels): a damaged header")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise SourceError(f"{where} is truncated inside its IDX header ({ndim} dimensions)")
            dims = struct.unpack(">" + "I" * ndim, raw_dims)
            n = math.prod(dims)
            if gz and n > GZIP_MAX_RATIO * size:
                raise SourceError(f"{where}: its IDX header says {dims} = {n:,} bytes of data, more than a gzip file "
                                  f"of {size:,} bytes can hold: a damaged header")
            if not gz and n != size - 4 - 4 * ndim:
                raise SourceError(f"{where}: its IDX header says {dims} = {n:,} bytes of data, but the file holds "
                                  f"{size - 4 - 4 * ndim:,} bytes after the header: truncated, or a damaged header")
            raw = f.read(n + 1)
    except SourceError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise SourceError(f"cannot read IDX file {where}: {e}") from e
    if len(raw) != n:
        raise SourceError(f"{where} is truncated: header says {dims} = {n:,} bytes, found "
                          f"{len(raw) if len(raw) < n else 'more'}")
    return np.frombuffer(raw, np.uint8).reshape(dims)


def _idx_source(name: str, d: Path) -> Source:
    missing = [f for f in IDX_FILES.values() if not (d / f).is_file()]
    if missing:
        raise SourceError(
            f"{name}: missing {', '.join(missing)} in {str(d)!r}; expected the four IDX files "
            f"{', '.join(IDX_FILES.values())}")
    arr = {k: read_idx(d / f) for k, f in IDX_FILES.items()}
    for split in ("train", "test"):
        if len(arr[f"{split}_images"]) != len(arr[f"{split}_labels"]):
            raise SourceError(f"{name}: {split} images and labels differ in length in {str(d)!r}")
        if arr[f"{split}_images"].ndim != 3:
            raise SourceError(f"{name}: {str(d / IDX_FILES[f'{split}_images'])!r} holds an array of shape "
                              f"{arr[f'{split}_images'].shape}; expected images (N, 28, 28)")
    files = {f: _sha256_file(d / f) for f in IDX_FILES.values()}
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    return _finish(name, arr["train_images"][..., None], arr["train_labels"],
                   arr["test_images"][..., None], arr["test_labels"], classes, origin="local:idx",
                   files=files, where={s: str(d / f"{IDX_FILES[s + '_images']}, {IDX_FILES[s + '_labels']}")
                                       for s in ("train", "test")})


# --------------------------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100


class _Members:
    """Files of a folder or a tar archive, by relative path."""

    def __init__(self, root: Path):
        self.root = root
        self._tar = None
        if root.is_file():
            try:
                self._tar = tarfile.open(root)
            except tarfile.TarError as e:
                raise SourceError(f"{str(root)!r} is not a readable tar archive: {e}") from e
            self._names = {m.name.lstrip("./"): m for m in self._tar.getmembers() if m.isfile()}

    def names(self) -> list[str]:
        if self._tar is not None:
            return sorted(self._names)
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    def read(self, rel: str) -> bytes:
        if self._tar is not None:
            if rel not in self._names:
                raise SourceError(f"{rel!r} is missing from {str(self.root)!r}")
            return self._tar.extractfile(self._names[rel]).read()
        p = self.root / rel
        if not p.is_file():
            raise SourceError(f"{str(p)!r} is missing")
        return p.read_bytes()


def _cifar_rows_to_nhwc(data: np.ndarray, where: str = "CIFAR data") -> np.ndarray:
    """Rows of 3072 channel-major pixels -> (N, 32, 32, 3), dtype kept (``_finish`` checks the values)."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise SourceError(f"{where}: pixel rows of shape {data.shape}; expected (N, 3072), one 32x32 RGB image a row")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _get(d: dict, key: str):
    return d.get(key.encode(), d.get(key))


def _cifar_batch(members: _Members, rel: str, name: str, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 32, 32, 3), labels int64 (N,))`` of the python batch ``name``: ``data`` and ``label_key``."""
    where = f"{rel}/{name.rpartition('/')[2]}"
    batch = cifar_batches.read_batch(members.read(name), where)
    data, y = _get(batch, "data"), _get(batch, label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (3072,):
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise SourceError(f"{where}: 'data' is {what}; a CIFAR batch holds uint8 rows of 3072 pixels (N, 3072)")
    y = np.asarray(y) if isinstance(y, (list, np.ndarray)) else np.zeros(0, object)
    if y.dtype.kind not in "ui" or y.shape != (len(data),):
        raise SourceError(f"{where}: {label_key!r} must be a list of {len(data)} integer labels, one per row of 'data'")
    return _cifar_rows_to_nhwc(data), y  # label values: check_split


CIFAR10_LAYOUT = (
    "expected one of: cifar-10-batches-py/ (or cifar-10-python.tar.gz) with data_batch_1..5 and "
    "test_batch; cifar-10-batches-bin/ (or cifar-10-binary.tar.gz) with data_batch_1..5.bin and "
    "test_batch.bin; or a JPEG tree jpg/{train,test}/<class name>/<NNNN>.jpg (a folder, or "
    "cifar10-jpg.tar.gz)")


def _cifar10_local(name: str, d: Path) -> Source:
    candidates = [
        ("cifar-10-batches-py", _cifar10_py), ("cifar-10-python.tar.gz", _cifar10_py),
        ("cifar-10-batches-bin", _cifar10_bin), ("cifar-10-binary.tar.gz", _cifar10_bin),
        ("jpg", _cifar10_jpg), ("cifar10-jpg.tar.gz", _cifar10_jpg),
    ]
    for rel, reader in candidates:
        p = d / rel
        if p.exists():
            src = reader(_Members(p), rel)
            if p.is_file():
                src.files = {rel: _sha256_file(p)}
            return src
    raise SourceError(f"cifar10: nothing readable in {str(d)!r}; {CIFAR10_LAYOUT}")


def _prefix(members: _Members, marker: str) -> str:
    """The folder prefix inside an archive under which ``marker`` lives ('' for a plain folder)."""
    for n in members.names():
        if n.endswith(marker):
            return n[: -len(marker)]
    raise SourceError(f"{marker!r} not found in {str(members.root)!r}; {CIFAR10_LAYOUT}")


def _cifar10_py(members: _Members, rel: str) -> Source:
    pre = _prefix(members, "test_batch") if members._tar is not None else ""
    parts = [_cifar_batch(members, rel, f"{pre}data_batch_{i}") for i in range(1, 6)]
    return _finish("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   *_cifar_batch(members, rel, f"{pre}test_batch"), CIFAR10_CLASSES, origin="local:cifar10-python")


def _cifar_bin(members: _Members, rel: str, names: list[str], label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3), labels (N,) of binary batches (:func:`.cifar_batches.read_binary`): last label byte."""
    parts = [cifar_batches.read_binary(members.read(n), f"{rel}/{n.rpartition('/')[2]}", label_bytes) for n in names]
    return _cifar_rows_to_nhwc(np.concatenate([p[0] for p in parts])), np.concatenate([p[1][:, -1] for p in parts])


def _cifar10_bin(members: _Members, rel: str) -> Source:
    pre = _prefix(members, "test_batch.bin") if members._tar is not None else ""
    train = _cifar_bin(members, rel, [f"{pre}data_batch_{i}.bin" for i in range(1, 6)], 1)
    return _finish("cifar10", *train, *_cifar_bin(members, rel, [f"{pre}test_batch.bin"], 1), CIFAR10_CLASSES,
                   origin="local:cifar10-binary")


_JPG = re.compile(r"(?:^|.*/)jpg/(train|test)/([^/]+)/(\d+)\.jpg$")


def _cifar10_jpg(members: _Members, rel: str) -> Source:
    require("PIL", what="the CIFAR-10 JPEG copy")
    from PIL import Image

    entries = {"train": [], "test": []}
    for n in members.names():
        m = _JPG.match(n if n.startswith("jpg/") or "/jpg/" in n else "jpg/" + n)
        if m:
            split, cls, num = m.groups()
            if cls not in CIFAR10_CLASSES:
                raise SourceError(f"{rel}: unknown class folder {cls!r} in {n!r}; expected {CIFAR10_CLASSES}")
            entries[split].append((CIFAR10_CLASSES.index(cls), int(num), n))
    if not entries["train"] or not entries["test"]:
        raise SourceError(f"{rel}: no jpg/train/<class>/<NNNN>.jpg and jpg/test/... images found; {CIFAR10_LAYOUT}")
    out = {}
    for split, items in entries.items():
        items.sort()  # by class, then by number: the original order within each class
        x = np.empty((len(items), 32, 32, 3), np.uint8)
        for i, (_, _, n) in enumerate(items):
            try:
                img = Image.open(io.BytesIO(members.read(n))).convert("RGB")
            except Exception as e:  # noqa: BLE001 - any decoder failure is a malformed file
                raise SourceError(f"{rel}: cannot decode {n!r}: {e}") from e
            if img.size != (32, 32):
                raise SourceError(f"{rel}: {n!r} is {img.size[0]}x{img.size[1]}, expected 32x32")
            x[i] = np.asarray(img)
        out[split] = (x, np.array([c for c, _, _ in items]))
    return _finish("cifar10", *out["train"], *out["test"], CIFAR10_CLASSES, origin="local:cifar10-jpeg",
                   exact=False)


def _cifar100_local(name: str, d: Path) -> Source:
    """``cifar-100-python`` (pickles, class names from ``meta``) or ``cifar-100-binary`` (coarse, fine label bytes)."""
    for rel in ("cifar-100-python", "cifar-100-python.tar.gz", "cifar-100-binary", "cifar-100-binary.tar.gz"):
        p = d / rel
        if not p.exists():
            continue
        members, binary = _Members(p), "binary" in rel
        pre = _prefix(members, "test.bin" if binary else "test") if members._tar is not None else ""
        if binary:
            splits = [_cifar_bin(members, rel, [f"{pre}{s}.bin"], 2) for s in ("train", "test")]
            classes = list(FACTS["cifar100"].class_names)
        else:
            splits = [_cifar_batch(members, rel, pre + s, "fine_labels") for s in ("train", "test")]
            names = _get(cifar_batches.read_batch(members.read(pre + "meta"), f"{rel}/meta"), "fine_label_names")
            if not isinstance(names, list) or len(names) != 100 or not all(isinstance(c, (bytes, str)) for c in names):
                raise SourceError(f"{rel}/meta: 'fine_label_names' must be a list of the 100 class names")
            classes = [c.decode("latin-1") if isinstance(c, bytes) else c for c in names]
        src = _finish("cifar100", *splits[0], *splits[1], classes,
                      origin="local:cifar100-" + ("binary" if binary else "python"))
        if p.is_file():
            src.files = {rel: _sha256_file(p)}
        return src
    raise SourceError(f"cifar100: nothing readable in {str(d)!r}; expected cifar-100-python/ (train, test, meta), "
                      "cifar-100-binary/ (train.bin, test.bin) or either as its .tar.gz")


def _svhn_local(name: str, d: Path) -> Source:
    from scipy.io import loadmat

    arrays = []
    for f in ("train_32x32.mat", "test_32x32.mat"):
        p = d / f
        if not p.is_file():
            raise SourceError(f"svhn_cropped: missing {f} in {str(d)!r}; expected train_32x32.mat "
                              "and test_32x32.mat (the cropped-digits format)")
        try:
            m = loadmat(p)
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"svhn_cropped: cannot read {str(p)!r} as a MATLAB file: {e}") from e
        x, y = m.get("X"), m.get("y")
        if not isinstance(x, np.ndarray) or x.ndim != 4 or not isinstance(y, np.ndarray) or y.size != x.shape[-1]:
            raise SourceError(f"svhn_cropped: {str(p)!r} must hold X (32, 32, 3, N) and y (N, 1); got X "
                              f"{getattr(x, 'shape', None)} and y {getattr(y, 'shape', None)}")
        y = y.reshape(-1)
        if y.dtype.kind in "iuf" and np.isfinite(y).all() and ((y >= 1) & (y <= 10)).all():
            y = y % 10  # SVHN stores digit 0 as label 10; any other value is left for _finish to refuse
        arrays += [np.transpose(x, (3, 0, 1, 2)), y]  # values and dtype kept: _finish checks them
    files = {f: _sha256_file(d / f) for f in ("train_32x32.mat", "test_32x32.mat")}
    return _finish("svhn_cropped", *arrays, [str(i) for i in range(10)], origin="local:svhn-mat",
                   files=files, where={"train": str(d / "train_32x32.mat"), "test": str(d / "test_32x32.mat")})


# --------------------------------------------------------------------------------------------
# TFDS


def _tfds_source(name: str) -> Source:
    """Read ``name`` through ``tfds.load`` (downloads on first use; needs network)."""
    require("tensorflow_datasets", what=f"reading {name} without --source-dir (a TFDS download)")
    import tensorflow_datasets as tfds

    tfds_name = FACTS[name].tfds_name
    try:
        builder = tfds.builder(tfds_name)
        builder.download_and_prepare()
        splits = {}
        for s in ("train", "test"):
            batches = list(tfds.as_numpy(builder.as_dataset(split=s).batch(4096)))
            splits[s] = {k: np.concatenate([b[k] for b in batches]) for k in ("image", "label")}
    except Exception as e:  # noqa: BLE001 - network and TFDS errors surface here
        raise SourceError(
            f"{name}: tfds could not load {tfds_name!r} ({type(e).__name__}: {e}). Without network, pass "
            f"--source-dir with local files") from e
    classes = list(FACTS[name].class_names)
    return _finish(name, splits["train"]["image"], splits["train"]["label"],
                   splits["test"]["image"], splits["test"]["label"], classes,
                   origin=f"tfds:{tfds_name}:{builder.info.version}")
