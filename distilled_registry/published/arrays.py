"""Reading a published file's arrays without trusting it: magic bytes first, no pickles, shapes and values checked."""

from __future__ import annotations

import io
import os
from pathlib import Path

from .. import source_facts
from ..errors import PublishedError, PublishedUsageError
from ..published_variants import Variant

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip (.npz) with members, an empty zip


_NPY_MAGIC = b"\x93NUMPY"


def _not_numpy(b: bytes, want: str, what: str) -> PublishedError:
    """The one-line error for a body that is not the numpy file expected (HTML, an error page, anything)."""
    head = b[:64].lstrip()
    looks = ("an HTML page" if head[:1] == b"<" else "an .npy array" if b.startswith(_NPY_MAGIC) else
             "an .npz" if b.startswith(_ZIP_MAGIC) else "empty" if not b else f"{b[:16]!r}")
    return PublishedError(f"cannot read {what}: it is not an {want} file (it starts like {looks}: a wrong URL, a "
                          "server's error page, or another file); check the URL or path and try again")


def read_arrays(src: str | os.PathLike | bytes, what: str | None = None
                ) -> tuple[dict, dict[str, str], dict[str, int], str]:
    """``(arrays {"images", "labels"}, {file: sha256}, {file: size}, what)`` of a published ``.npz``
    (path or bytes) or of a folder holding ``images.npy`` and ``labels.npy``.

    ``what`` names bytes in messages (their URL). The content is checked before numpy reads it: an
    ``.npz`` must be a zip, an ``.npy`` must start with numpy's magic; anything else (an HTML page) is
    one clear PublishedError, as is a truncated or damaged file. Nothing is ever unpickled.
    """
    import numpy as np

    from .. import release as rel

    if isinstance(src, (bytes, bytearray)):
        raw = {"file.npz": bytes(src)}
        what = what or "the downloaded file"
    else:
        p = Path(src)
        if p.is_dir():
            missing = [n for n in ("images.npy", "labels.npy") if not (p / n).is_file()]
            if missing:
                raise PublishedError(f"{str(p)!r} lacks {' and '.join(missing)}: a published set is an .npz with "
                                     "images and labels, or a folder with images.npy and labels.npy")
            raw = {n: (p / n).read_bytes() for n in ("images.npy", "labels.npy")}
        elif p.is_file():
            raw = {p.name: p.read_bytes()}
        else:
            raise PublishedUsageError(f"no file or folder at {str(p)!r}")
        what = repr(str(p))
    arrays = {}
    if len(raw) == 2:
        for n, b in raw.items():
            if not b.startswith(_NPY_MAGIC):
                raise _not_numpy(b, ".npy", repr(str(Path(src) / n)))
    else:
        b = next(iter(raw.values()))
        if b.startswith(_NPY_MAGIC):
            raise PublishedError(f"{what} is a single array, not an .npz with images and labels")
        if not b.startswith(_ZIP_MAGIC):
            raise _not_numpy(b, ".npz", what)
        _check_inflated_size(b, what)
    try:
        if len(raw) == 2:
            for n, b in raw.items():
                arrays[n[:-4]] = np.load(io.BytesIO(b), allow_pickle=False)
        else:
            z = np.load(io.BytesIO(next(iter(raw.values()))), allow_pickle=False)
            if not hasattr(z, "files"):
                raise PublishedError(f"{what} is a single array, not an .npz with images and labels")
            with z:
                missing = [k for k in ("images", "labels") if k not in z.files]
                if missing:
                    raise PublishedError(f"{what} lacks {missing} (it holds {z.files}); published files have "
                                         "images and labels")
                arrays = {k: z[k] for k in ("images", "labels")}
    except PublishedError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, zlib and format errors: a damaged or cut-off file
        raise PublishedError(f"cannot read {what}: it is damaged or truncated (an incomplete numpy file: "
                             f"{type(e).__name__}: {e}); download or copy it again") from None
    return (arrays, {n: rel.sha256_bytes(b) for n, b in raw.items()}, {n: len(b) for n, b in raw.items()}, what)


MAX_INFLATED_BYTES = 1 << 30  # the largest published set (CIFAR-100, 5000 images) is about 0.1 GB of float64


def _check_inflated_size(b: bytes, what: str) -> None:
    """PublishedError when the ``.npz`` bytes ``b`` declare members that inflate to more than
    :data:`MAX_INFLATED_BYTES` in all (zipfile never inflates a member past its declared size), so a
    downloaded zip bomb is refused before anything is inflated (trust rule B)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(b)) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise PublishedError(f"cannot read {what}: it is damaged or truncated ({type(e).__name__}: {e}); download "
                             "or copy it again") from None
    if total > MAX_INFLATED_BYTES:
        raise PublishedError(f"{what} declares {total} bytes of arrays once inflated, more than the "
                             f"{MAX_INFLATED_BYTES} any published set holds: refusing to read it")


def check_arrays(arrays: dict, variant: Variant, what: str):
    """The published arrays as float32, checked against the variant; PublishedError naming the problem."""
    import numpy as np

    x, y = arrays["images"], arrays["labels"]
    src = source_facts.get(variant.dataset)
    c, shape = src.num_classes, src.image_shape
    if not (np.issubdtype(x.dtype, np.floating) and np.issubdtype(y.dtype, np.floating)):
        raise PublishedError(f"{what}: images and labels must be floating point, got {x.dtype} and {y.dtype}")
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        raise PublishedError(f"{what}: images have shape {x.shape}; {variant.dataset} sets are "
                             f"(N, {', '.join(map(str, shape))})")
    if y.ndim != 2 or len(y) != len(x):
        raise PublishedError(f"{what}: labels have shape {y.shape}; expected ({len(x)}, {c}), one row per image")
    if y.shape[1] != c:
        raise PublishedError(f"{what}: labels have {y.shape[1]} classes; {variant.dataset} has {c}")
    if len(x) != variant.ssize:
        raise PublishedError(f"{what}: {len(x)} images, but the name says ssize {variant.ssize}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise PublishedError(f"{what}: images or labels hold NaN or infinite values")
    return x.astype(np.float32, copy=False), y.astype(np.float32, copy=False)
