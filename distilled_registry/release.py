"""The release folder: what one distilled dataset version is on disk.

    <release>/
      data.npz          images (N,H,W,C) float32, labels (N,C) float32, class_ids (N,) int64
      transform.npz     the preprocessing the images live in (distilled_registry.transform)
      preview.png       image grid per class
      provenance.json   how it was made, metrics, and sha256 + size of every other file

Writes are atomic: everything goes into a hidden temporary folder beside the destination, which
is renamed into place only when complete, so a failed run leaves no release (and no debris).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError
from .npz import npz_bytes

DATA_FILE = "data.npz"
PROVENANCE_FILE = "provenance.json"
DATA_KEYS = ("images", "labels", "class_ids")


class ReleaseError(UserError):
    """A release folder is missing, malformed, or does not match its checksums."""


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_bytes(images: np.ndarray, labels: np.ndarray, class_ids: np.ndarray) -> bytes:
    """``data.npz`` bytes, checked for shape and dtype agreement."""
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.float32)
    class_ids = np.asarray(class_ids, np.int64)
    if images.ndim != 4:
        raise ReleaseError(f"images must be NHWC, got shape {images.shape}")
    if labels.ndim != 2 or len(labels) != len(images) or class_ids.shape != (len(images),):
        raise ReleaseError(f"need labels (N, C) and class_ids (N,) for N={len(images)} images, got "
                           f"{labels.shape} and {class_ids.shape}")
    return npz_bytes({"images": images, "labels": labels, "class_ids": class_ids})


def write_release(out_dir: str | os.PathLike, files: dict[str, bytes], provenance: dict,
                  overwrite: bool = False) -> Path:
    """Write ``files`` (name -> bytes) and ``provenance.json`` into ``out_dir`` atomically.

    ``provenance["files"]`` is set to ``{name: {"sha256", "size"}}`` of every file written.

    Raises:
      ReleaseError: ``out_dir`` exists and ``overwrite`` is False.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise ReleaseError(f"{str(out)!r} already exists; choose another --out or remove it first")
    for name in files:
        if "/" in name or name.startswith(".") or name == PROVENANCE_FILE:
            raise ReleaseError(f"bad release file name {name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    provenance = dict(provenance)
    provenance["files"] = {n: {"sha256": sha256_bytes(b), "size": len(b)} for n, b in sorted(files.items())}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for name, b in files.items():
            (tmp / name).write_bytes(b)
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_data(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of ``data.npz`` in release folder ``path``."""
    f = Path(path) / DATA_FILE
    try:
        with np.load(f, allow_pickle=False) as z:
            missing = [k for k in DATA_KEYS if k not in z]
            if missing:
                raise ReleaseError(f"{str(f)!r} lacks arrays {missing}")
            return {k: z[k] for k in DATA_KEYS}
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, ReleaseError):
            raise
        raise ReleaseError(f"cannot read {str(f)!r}: {e}") from e


def read_provenance(path: str | os.PathLike) -> dict:
    f = Path(path) / PROVENANCE_FILE
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise ReleaseError(f"cannot read {str(f)!r}: {e}") from e
