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
Reads (:mod:`distilled_registry.release_read`, re-exported here) are bounded
(:mod:`distilled_registry.bounded_read`) and check ``provenance.json`` against its schema and
against what its config and the catalog say (:func:`distilled_registry.conformance.check`), and
the sha256 and size of every file it lists (:func:`verify`); a file that does not match is named
in the error. Matching checksums are not enough (anyone can recompute them): ``data.npz`` must hold
finite arrays of the shapes the provenance gives (:func:`check_arrays`), the transform must load
and fit those images, and the recorded metrics must be finite, accuracies in [0, 1]. Writes refuse
the same (nothing non-finite is ever written).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from . import atomic, output_folder
from . import provenance as prov_schema
from .errors import ReleaseError
from .npz import npz_bytes
from .release_format import (  # noqa: F401
    DATA_FILE,
    DATA_KEYS,
    PROVENANCE_FILE,
    TRANSFORM_FILE,
    check_arrays,
    check_metrics,
    check_transform,
    shape_problem,
)
from .release_read import (  # noqa: F401
    FileCheck,
    ReleaseContents,
    data_arrays,
    member,
    read_data,
    read_listed,
    read_member,
    read_provenance,
    read_release,
    read_snapshot,
    sha256_bytes,
    transform_path,
    verified,
    verify,
)


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
    """``data.npz`` bytes of images (N,H,W,C) float32, labels (N,C) float32, class_ids (N,) int64.

    Checked first (:func:`check_arrays`): shapes that agree, every value finite, class ids in
    ``[0, C)``. A bad array raises ReleaseError, so nothing non-finite is ever written.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.float32)
    class_ids = np.asarray(class_ids, np.int64)
    arrays = {"images": images, "labels": labels, "class_ids": class_ids}
    problem = check_arrays(arrays)
    if problem:
        raise ReleaseError(f"refusing to write data.npz: {problem}")
    return npz_bytes(arrays)


def _check_content(files: dict[str, bytes], prov: dict, out: Path) -> None:
    """Before a release is written: ReleaseError unless its arrays and metrics pass what :func:`verify` checks."""
    try:
        data = data_arrays(files[DATA_FILE], DATA_FILE, prov)
    except KeyError as e:
        raise ReleaseError(f"refusing to write {str(out)!r}: it has no data.npz") from e
    except ReleaseError as e:
        raise ReleaseError(f"refusing to write {str(out)!r}: {e}") from e
    problem = check_arrays(data, prov) or check_metrics(prov)
    if problem:
        raise ReleaseError(f"refusing to write {str(out)!r}: {problem}")


def write_release(out_dir: str | os.PathLike, files: dict[str, bytes], provenance: dict,
                  overwrite: bool = False, croissant: bool = True) -> Path:
    """Write ``files`` (name -> bytes) and ``provenance.json`` into ``out_dir`` atomically.

    With ``croissant`` (the default), ``data.parquet`` and ``croissant.json`` are made from
    ``data.npz`` and the provenance (any given ones are replaced). ``provenance["files"]`` is set to
    ``{name: {"sha256", "size"}}`` of every file written, then the provenance is checked against
    its schema before anything is written.

    Raises:
      FolderRefused: ``out_dir`` exists and ``overwrite`` is False, or it is not a release folder
        (:func:`output_folder.claim`: nothing but a release this package wrote is replaced).
      ReleaseError: a bad file name.
      ProvenanceError: the provenance does not follow its schema (nothing is written).
    """
    out = Path(out_dir)
    output_folder.claim(out, output_folder.RELEASE, replace=overwrite, option=None)  # rule A, before any work
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
    _check_content(files, provenance, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.staged_dir(out) as tmp:
        for name, b in files.items():
            (tmp / name).write_bytes(b)
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out, replace=overwrite)
    return out


def check_replaceable(out: Path) -> None:
    """Refuse to replace ``out`` unless it is absent or a release folder (:func:`output_folder.check`: a folder
    of plain files, each listed in its ``provenance.json``); FolderRefused otherwise."""
    output_folder.check(out, output_folder.RELEASE)


def move_into_place(tmp: Path, out: Path, replace: bool = False, check=None) -> None:
    """Make the finished folder ``tmp`` appear at ``out`` in one step (:func:`atomic.publish_dir`).

    Without ``replace`` an existing ``out`` (made meanwhile by another process too) raises
    ReleaseError and ``tmp`` stays for the caller to remove. With ``replace`` the old ``out`` is
    swapped out atomically and then removed: a reader sees the old folder or the new one, whole.
    ``check(out)`` (default :func:`check_replaceable`) runs again under the lock, just before the
    swap, so a folder put at ``out`` after the caller's first check is refused, never removed.
    """
    try:
        if replace:  # the lock a metrics record (record_metrics) holds: never swap under it
            with atomic.lock(out.parent / f".{out.name}.lock", what=str(out)):
                if os.path.lexists(out):
                    (check or check_replaceable)(out)
                old = atomic.publish_dir(tmp, out, replace=True)
        else:
            old = atomic.publish_dir(tmp, out)
    except FileExistsError:
        raise ReleaseError(f"{str(out)!r} already exists (another process may have written it meanwhile); "
                           "choose another destination, or replace it with --overwrite") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def record_metrics(path: str | os.PathLike, key: str, value: dict) -> dict:
    """Set ``provenance["metrics"][key] = value`` in the release at ``path``; returns the new provenance.

    Under an exclusive lock (``.<folder>.lock`` beside the release folder, so concurrent records do not
    lose each other's figures), the release is verified again and must still hold the ``data.npz`` the
    figures were measured on (``value["data_sha256"]``: a release replaced meanwhile is refused). Only
    ``provenance.json`` changes (the other files stay byte for byte, so their sha256 still hold); it is
    checked against the schema and written atomically, its temporary file made beside the release
    folder, not in it, so a killed ``evaluate`` leaves the release exactly as it was.
    """
    path = Path(path)
    with atomic.lock(path.parent / f".{path.name}.lock", what=str(path)):
        prov = verified(path)
        measured_on = value.get("data_sha256")
        if measured_on and measured_on != prov["files"][DATA_FILE]["sha256"]:
            raise ReleaseError(f"{str(path)!r} was replaced while it was being evaluated (data.npz sha256 "
                                   f"{prov['files'][DATA_FILE]['sha256']}, evaluated {measured_on}); "
                                   "nothing recorded: evaluate it again")
        prov = json.loads(json.dumps(prov))
        prov["metrics"][key] = value
        prov_schema.validate(prov, f"the provenance to write to {str(path / PROVENANCE_FILE)!r}")
        atomic.write_text(path / PROVENANCE_FILE, json.dumps(prov, indent=2, sort_keys=True) + "\n",
                          tmp_dir=path.parent)
    return prov
