"""The release folder: what one distilled dataset version is on disk.

    <release>/
      data.npz          images (N,H,W,C) float32, labels (N,C) float32, class_ids (N,) int64
      data.parquet      the same arrays, one row per image, for Croissant readers (croissant.py)
      transform.npz     the preprocessing the images live in (distilled_registry.transform)
      preview.png       image grid per class, learned labels shown where they differ from one-hot
      croissant.json    Croissant 1.1 JSON-LD with PROV-O provenance (croissant.py)
      provenance.json   how it was made, metrics, and sha256 + size of every other file
                        (schema: provenance.py; checked on every write and read)

Writes are atomic: everything goes into a hidden temporary folder beside the destination, which
is renamed into place only when complete, so a failed run leaves no release (and no debris).
Reads check: ``provenance.json`` against its schema, and the sha256 and size of every file it
lists (:func:`verify`); a file that does not match is named in the error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import atomic
from . import provenance as prov_schema
from .errors import UserError
from .npz import npz_bytes

DATA_FILE = "data.npz"
PROVENANCE_FILE = "provenance.json"
TRANSFORM_FILE = "transform.npz"
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


def digest(b: bytes) -> dict:
    """``{"sha256", "size"}`` of ``b``, as ``provenance["files"]`` records it."""
    return {"sha256": sha256_bytes(b), "size": len(b)}


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
                  overwrite: bool = False, croissant: bool = True) -> Path:
    """Write ``files`` (name -> bytes) and ``provenance.json`` into ``out_dir`` atomically.

    With ``croissant`` (the default), ``data.parquet`` and ``croissant.json`` are made from
    ``data.npz`` and the provenance (any given ones are replaced). ``provenance["files"]`` is set to
    ``{name: {"sha256", "size"}}`` of every file written, then the provenance is checked against
    its schema before anything is written.

    Raises:
      ReleaseError: ``out_dir`` exists and ``overwrite`` is False; a bad file name.
      ProvenanceError: the provenance does not follow its schema (nothing is written).
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise ReleaseError(f"{str(out)!r} already exists; choose another --out or remove it first")
    for name in files:
        if "/" in name or "\\" in name or name.startswith(".") or name == PROVENANCE_FILE:
            raise ReleaseError(f"bad release file name {name!r}")
    files = dict(files)
    if croissant and DATA_FILE in files:
        from . import croissant as cr

        provenance = dict(provenance)
        provenance["files"] = {n: digest(b) for n, b in sorted(files.items())}  # for the schema check
        prov_schema.validate(provenance, "the provenance to write")
        files.update(cr.release_files(files, provenance, digest))
    provenance = dict(provenance)
    provenance["files"] = {n: digest(b) for n, b in sorted(files.items())}
    prov_schema.validate(provenance, f"the provenance to write to {str(out)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if overwrite:
        check_replaceable(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a release is for reading
        for name, b in files.items():
            (tmp / name).write_bytes(b)
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out, replace=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_replaceable(out: Path) -> None:
    """Refuse to replace ``out`` unless it is absent or a release folder (nothing else is ours to delete).

    A release folder holds ``provenance.json`` and only plain files; anything else at ``out`` (the
    store's root, a family folder, a user's folder, a file, a symlink) raises ReleaseError.
    """
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise ReleaseError(f"{str(out)!r} is not a release folder (a file or a symlink); refusing to replace it")
    entries = list(out.iterdir())
    if not (out / PROVENANCE_FILE).is_file() or any(e.is_dir() or e.is_symlink() for e in entries):
        raise ReleaseError(f"{str(out)!r} is not a release folder (no provenance.json, or it holds folders or "
                           "links); refusing to replace it: choose another destination")


def move_into_place(tmp: Path, out: Path, replace: bool = False) -> None:
    """Make the finished folder ``tmp`` appear at ``out`` in one step (:func:`atomic.publish_dir`).

    Without ``replace`` an existing ``out`` (made meanwhile by another process too) raises
    ReleaseError and ``tmp`` stays for the caller to remove. With ``replace`` the old ``out`` is
    swapped out atomically and then removed: a reader sees the old folder or the new one, whole.
    """
    try:
        old = atomic.publish_dir(tmp, out, replace=replace)
    except FileExistsError:
        raise ReleaseError(f"{str(out)!r} already exists (another process may have written it meanwhile); "
                           "choose another destination, or replace it with --overwrite") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_files(path: str | os.PathLike) -> dict[str, bytes]:
    """Every file of the release at ``path`` that its provenance lists, verified, name -> bytes."""
    path = Path(path)
    prov = verified(path)
    return {n: (path / n).read_bytes() for n in prov["files"]}


def read_data(path: str | os.PathLike, check: bool = False) -> dict[str, np.ndarray]:
    """The arrays of ``data.npz`` in release folder ``path``.

    With ``check``, the provenance is validated and ``data.npz`` must match its recorded sha256
    and size first (a mismatch raises ReleaseError naming the file).
    """
    path = Path(path)
    f = path / DATA_FILE
    if check:
        prov = read_provenance(path)
        bad = _check_file(path, DATA_FILE, prov["files"].get(DATA_FILE))
        if bad:
            raise ReleaseError(f"{str(f)!r}: {bad}; the release is damaged: run `distilled-registry verify "
                               f"{path}` and fetch or regenerate it")
    try:
        with np.load(f, allow_pickle=False) as z:
            missing = [k for k in DATA_KEYS if k not in z]
            if missing:
                raise ReleaseError(f"{str(f)!r} lacks arrays {missing}")
            return {k: z[k] for k in DATA_KEYS}
    except ReleaseError:
        raise
    except Exception as e:  # zipfile.BadZipFile, OSError, ValueError, EOFError: a damaged or truncated file
        raise ReleaseError(f"cannot read {str(f)!r}: {type(e).__name__}: {e}") from e


def read_provenance(path: str | os.PathLike) -> dict:
    """``provenance.json`` of the release at ``path``, checked against its schema."""
    f = Path(path) / PROVENANCE_FILE
    if not Path(path).is_dir():
        raise ReleaseError(f"no release folder at {str(path)!r}")
    try:
        prov = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise ReleaseError(f"cannot read {str(f)!r}: {e}") from e
    return prov_schema.validate(prov, repr(str(f)))


@dataclasses.dataclass
class FileCheck:
    """One file of a release as :func:`verify` found it: ``problem`` is None when it matches."""

    name: str
    problem: str | None
    sha256: str | None = None
    size: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _check_file(path: Path, name: str, recorded: dict | None) -> str | None:
    f = path / name
    if recorded is None:
        return "not listed in provenance.json"
    if not f.is_file():
        return "missing"
    size = f.stat().st_size
    if size != recorded["size"]:
        return f"size {size} bytes, provenance.json records {recorded['size']} (truncated or replaced)"
    sha = sha256_file(f)
    if sha != recorded["sha256"]:
        return f"sha256 {sha}, provenance.json records {recorded['sha256']}"
    return None


def verify(path: str | os.PathLike) -> list[FileCheck]:
    """Recompute the sha256 and size of every file of the release at ``path``.

    Returns one :class:`FileCheck` per file (those ``provenance.json`` lists, then unlisted files
    found in the folder, which are problems too). A provenance that cannot be read or fails its
    schema raises (ReleaseError / ProvenanceError): nothing else can be checked without it.
    """
    path = Path(path)
    prov = read_provenance(path)
    out = []
    for name, rec in sorted(prov["files"].items()):
        problem = _check_file(path, name, rec)
        out.append(FileCheck(name, problem, rec["sha256"], rec["size"]))
    listed = set(prov["files"]) | {PROVENANCE_FILE}
    for f in sorted(path.iterdir()):
        if f.name not in listed:
            out.append(FileCheck(f.name, "not listed in provenance.json (an extra file in the release folder)"))
    if all(c.ok for c in out):
        try:  # checksums match: the arrays must also load and agree with the provenance
            data = read_data(path)
            n = prov["algorithm"]["support_size"]
            if len(data["images"]) != n:
                out = [dataclasses.replace(c, problem=f"holds {len(data['images'])} images, provenance says {n}")
                       if c.name == DATA_FILE else c for c in out]
        except ReleaseError as e:
            out = [dataclasses.replace(c, problem=str(e)) if c.name == DATA_FILE else c for c in out]
    return out


def verified(path: str | os.PathLike) -> dict:
    """The provenance of the release at ``path`` after :func:`verify`; ReleaseError naming each bad file."""
    checks = verify(path)
    bad = [c for c in checks if not c.ok]
    if bad:
        raise ReleaseError(f"release {str(path)!r} failed verification: " +
                           "; ".join(f"{c.name}: {c.problem}" for c in bad) +
                           ". Fetch or regenerate it (`distilled-registry regenerate NAME --overwrite`)")
    return read_provenance(path)
