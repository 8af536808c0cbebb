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
lists (:func:`verify`); a file that does not match is named in the error. Matching checksums are
not enough (anyone can recompute them): ``data.npz`` must hold finite arrays of the shapes the
provenance gives (``source.image_shape``, ``source.num_classes``, ``algorithm.support_size``;
:func:`check_arrays`), the transform must load and fit those images, and the recorded metrics must
be finite, accuracies in [0, 1]. Writes refuse the same (nothing non-finite is ever written).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path

import numpy as np

from . import atomic, output_folder
from . import provenance as prov_schema
from .errors import UserError
from .npz import npz_bytes

DATA_FILE = "data.npz"
PROVENANCE_FILE = "provenance.json"
TRANSFORM_FILE = "transform.npz"
DATA_KEYS = ("images", "labels", "class_ids")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # provenance.schema.json $defs.file_name


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


def check_arrays(data: dict[str, np.ndarray], prov: dict | None = None) -> str | None:
    """What is wrong with the release arrays ``data`` (None when nothing is).

    Always: images (N,H,W,C) and labels (N,C) of a float dtype, class_ids (N,) of an integer
    dtype; every image and label value finite; class ids in ``[0, C)``. With the release's
    provenance ``prov``, also: ``N == algorithm.support_size``, ``(H,W,C) == source.image_shape``
    and ``C == source.num_classes``.
    """
    images, labels, ids = data["images"], data["labels"], data["class_ids"]
    if images.ndim != 4 or images.dtype.kind != "f":
        return f"images must be (N, H, W, C) floats, got shape {images.shape} dtype {images.dtype}"
    n = len(images)
    if labels.ndim != 2 or len(labels) != n or labels.dtype.kind != "f":
        return f"labels must be (N, C) floats for N={n} images, got shape {labels.shape} dtype {labels.dtype}"
    if ids.shape != (n,) or ids.dtype.kind not in "iu":
        return f"class_ids must be (N,) integers for N={n} images, got shape {ids.shape} dtype {ids.dtype}"
    c = labels.shape[1]
    if prov is not None:
        src, want_n = prov["source"], prov["algorithm"]["support_size"]
        if n != want_n:
            return f"holds {n} images; provenance.json says algorithm.support_size {want_n}"
        if list(images.shape[1:]) != list(src["image_shape"]):
            return (f"images are {tuple(images.shape[1:])} each; provenance.json says source.image_shape "
                    f"{list(src['image_shape'])}")
        if c != src["num_classes"]:
            return (f"labels have shape {labels.shape}; provenance.json says {want_n} images of "
                    f"{src['num_classes']} classes (source.num_classes)")
    for key, a in (("images", images), ("labels", labels)):
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            what = "NaN" if np.isnan(a[first]) else "infinite"
            return (f"{key} hold {int(bad.sum())} non-finite value(s), the first {what} at index {first}; "
                    "a release holds finite numbers only")
    out = (ids < 0) | (ids >= c)
    if out.any():
        return f"class_ids hold {int(ids[out][0])}, outside [0, {c}) for {c} classes"
    return None


def _check_content(files: dict[str, bytes], prov: dict, out: Path) -> None:
    """Before a release is written: ReleaseError unless its arrays and metrics pass what :func:`verify` checks."""
    try:
        data = _arrays(files[DATA_FILE], DATA_FILE)
    except (KeyError, ReleaseError) as e:
        raise ReleaseError(f"refusing to write {str(out)!r}: its data.npz is not readable ({e})") from e
    problem = check_arrays(data, prov) or _check_metrics(prov)
    if problem:
        raise ReleaseError(f"refusing to write {str(out)!r}: {problem}")


def _check_metrics(prov: dict) -> str | None:
    """What is wrong with the recorded figures: every number finite, every accuracy in [0, 1]."""
    problems = []

    def walk(x, where: str, accuracy: bool) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{where}.{k}", accuracy or "accurac" in str(k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]", accuracy)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            if not np.isfinite(x):
                problems.append(f"{where} is {x!r}; a recorded figure must be a finite number")
            elif accuracy and not 0 <= x <= 1:
                problems.append(f"{where} is {x!r}, outside [0, 1] (an accuracy)")

    walk(prov.get("metrics", {}), "metrics", False)
    loss = prov.get("algorithm", {}).get("final_loss")
    if isinstance(loss, float) and not np.isfinite(loss):
        problems.append(f"algorithm.final_loss is {loss!r}; a finished run's loss is finite")
    return "; ".join(problems) or None


def _check_transform(path: Path, prov: dict, content: bytes | None = None) -> str | None:
    """What is wrong with the release's transform file: unreadable, non-finite, or not for its images.

    ``content``: the file's bytes when already read (one snapshot); else it is read from ``path``.
    """
    from .transform import Transform

    name = prov["preprocessing"].get("file")
    if not name or name not in prov["files"]:
        return None
    try:
        t = Transform.load(path / name, content)
        t.check_image_shape(tuple(prov["source"]["image_shape"]))
    except UserError as e:
        return str(e)
    return None


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


def read_snapshot(path: str | os.PathLike, attempts: int = 5) -> tuple[dict, dict[str, bytes]]:
    """``(provenance, {name: bytes})`` of every file the release at ``path`` lists, all from one version.

    A release may be replaced while it is read (``--overwrite`` swaps the folder atomically): the
    files are read through one open handle of the folder, and when a file is missing or does not
    match its recorded sha256 *because the folder was swapped meanwhile*, the read starts again on
    the new folder. The bytes returned match the provenance's sha256 and size; a release that is
    damaged (not swapped) raises ReleaseError naming the file.
    """
    path = Path(path)
    for _ in range(attempts):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise ReleaseError(f"no release folder at {str(path)!r}") from None
        try:
            def swapped() -> bool:
                try:
                    now = os.stat(path)
                except FileNotFoundError:
                    return True
                was = os.fstat(fd)
                return (now.st_ino, now.st_dev) != (was.st_ino, was.st_dev)

            try:
                raw = _read_at(fd, PROVENANCE_FILE)
                prov = prov_schema.validate(json.loads(raw), repr(str(path / PROVENANCE_FILE)))
                files = {n: _read_at(fd, n) for n in prov["files"]}
            except FileNotFoundError as e:
                if swapped():
                    continue
                raise ReleaseError(f"{str(path)!r}: {e.filename or e} is missing; the release is incomplete: fetch or "
                                   "regenerate it") from None
            except ValueError as e:
                if swapped():
                    continue
                if isinstance(e, UserError):
                    raise
                raise ReleaseError(f"cannot read {str(path / PROVENANCE_FILE)!r}: {e}") from None
            bad = [f"{n}: {problem}" for n, b in files.items() if (problem := _content_problem(b, prov["files"][n]))]
            if bad and swapped():
                continue
            if bad:
                raise ReleaseError(f"release {str(path)!r} failed verification: {'; '.join(bad)}. Fetch or regenerate "
                                   "it (`distilled-registry regenerate NAME --overwrite`)")
            return prov, files
        finally:
            os.close(fd)
    raise ReleaseError(f"{str(path)!r} was replaced {attempts} times while being read; try again")


def _content_problem(b: bytes, recorded: dict) -> str | None:
    """What is wrong with a file's bytes ``b`` against its provenance record (``{"sha256", "size"}``)."""
    if len(b) != recorded["size"]:
        return f"size {len(b)} bytes, provenance.json records {recorded['size']} (truncated or replaced)"
    sha = sha256_bytes(b)
    if sha != recorded["sha256"]:
        return f"sha256 {sha}, provenance.json records {recorded['sha256']}"
    return None


def _read_at(dir_fd: int, name: str) -> bytes:
    """The bytes of the plain file ``name`` in the folder open as ``dir_fd`` (no links followed)."""
    if not _PLAIN_NAME.match(name) and name != PROVENANCE_FILE:
        raise ReleaseError(f"{name!r} is not a plain file name of a release (no paths, no leading '.'); the "
                           "provenance is damaged or forged: do not use this release")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ReleaseError(f"{name} is a symbolic link; a release holds plain files only (a link may point "
                               "outside it): do not use this release") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ReleaseError(f"{name} is not a plain file; a release holds plain files only: do not use this release")
        return f.read()


def transform_path(path: str | os.PathLike, prov: dict, missing_ok: bool = False) -> Path | None:
    """The release's transform file, ``provenance.preprocessing.file`` (default ``transform.npz``).

    Checked as every file name read from a provenance is (:func:`member`). A release with none (an
    imported published file whose source was not at hand) raises ReleaseError saying why, or gives
    None with ``missing_ok``; a forged name is refused either way.
    """
    pre = prov["preprocessing"]
    name = pre.get("file", TRANSFORM_FILE)
    if ("file" not in pre and pre.get("fit_later")) or (missing_ok and name not in prov["files"]):
        if missing_ok and _PLAIN_NAME.match(str(name)):
            return None
        raise ReleaseError(f"{str(path)!r}: {pre.get('fit_later') or f'{name!r} is not one of its files'}")
    return member(path, name, prov["files"])


def member(path: str | os.PathLike, name: str, listed=None) -> Path:
    """``path / name`` for a file of the release at ``path``, when that is safe to open; else ReleaseError.

    Every file name read from a provenance goes through here before it becomes a path. ``name`` must
    be a plain file name (provenance.schema.json ``file_name``: letters, digits, ``_ - .``, no leading
    ``.``, no ``/`` or ``\\``, at most 128 characters), be ``provenance.json`` or listed in ``listed``
    (the provenance's ``files``; default: those of ``path``'s own ``provenance.json``), and name a
    regular file directly inside ``path``: not a symbolic link (which could point anywhere), not a folder.
    """
    path = Path(path)
    if not isinstance(name, str) or not _PLAIN_NAME.match(name):
        raise ReleaseError(f"{str(path)!r}: {name!r} is not a plain file name of a release (no paths, no leading "
                           "'.'); the provenance is damaged or forged: do not use this release")
    if listed is None:
        listed = read_provenance(path)["files"]
    if name != PROVENANCE_FILE and name not in listed:
        raise ReleaseError(f"{str(path / name)!r} is not listed in the release's provenance.json (so no sha256 "
                           "covers it); fetch or regenerate the release")
    p = path / name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        raise ReleaseError(f"{str(p)!r} is missing; the release is incomplete: fetch or regenerate it") from None
    if stat.S_ISLNK(st.st_mode):
        raise ReleaseError(f"{str(p)!r} is a symbolic link; a release holds plain files only (a link may point "
                           "outside it): do not use this release")
    if not stat.S_ISREG(st.st_mode) or os.path.realpath(p) != os.path.join(os.path.realpath(path), name):
        raise ReleaseError(f"{str(p)!r} is not a plain file inside the release folder; do not use this release")
    return p


def read_checked(path: str | os.PathLike) -> tuple[dict, dict[str, bytes], dict[str, np.ndarray]]:
    """``(provenance, {name: bytes}, arrays of data.npz)`` of the release at ``path``, checked as
    :func:`verify` checks it, all from one version of the folder (:func:`read_snapshot`).

    A reader never sees half of one release and half of another, nor no release at all, while
    ``--overwrite`` replaces the folder. ReleaseError names what is wrong: a file whose sha256 or
    size differs, a file not listed, arrays that are not finite or not of the recorded shapes, a
    transform that does not fit, a recorded figure that is not finite.
    """
    path = Path(path)
    if (path / PROVENANCE_FILE).is_symlink():
        raise ReleaseError(f"{str(path / PROVENANCE_FILE)!r} is a symbolic link; a release holds plain files only: "
                           "do not use this release, fetch or regenerate it")
    prov, files = read_snapshot(path)
    where = f"release {str(path)!r} failed verification"
    extra = sorted(set(os.listdir(path)) - set(prov["files"]) - {PROVENANCE_FILE})
    if extra:
        raise ReleaseError(f"{where}: {', '.join(extra)} not listed in provenance.json. Fetch or regenerate it")
    if DATA_FILE not in files:
        raise ReleaseError(f"{where}: provenance.json lists no {DATA_FILE}. Fetch or regenerate it")
    data = _arrays(files[DATA_FILE], str(path / DATA_FILE))
    t_name = prov["preprocessing"].get("file")
    problem = (check_arrays(data, prov) or _check_metrics(prov) or
               _check_transform(path, prov, files.get(t_name) if t_name else None))
    if problem:
        raise ReleaseError(f"{where}: {problem}. Fetch or regenerate it "
                           "(`distilled-registry regenerate NAME --overwrite`)")
    return prov, files, data


def read_files(path: str | os.PathLike) -> dict[str, bytes]:
    """Every file of the release at ``path`` that its provenance lists, checked, name -> bytes
    (one consistent version: :func:`read_checked`)."""
    return read_checked(path)[1]


def _arrays(content: bytes, where: str) -> dict[str, np.ndarray]:
    """The arrays :data:`DATA_KEYS` of a ``data.npz`` given as bytes (no pickles); ReleaseError naming ``where``."""
    import io

    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as z:
            missing = [k for k in DATA_KEYS if k not in z]
            if missing:
                raise ReleaseError(f"{where!r} lacks arrays {missing}")
            return {k: z[k] for k in DATA_KEYS}
    except ReleaseError:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, ValueError, EOFError: damaged or truncated
        raise ReleaseError(f"cannot read {where!r}: {type(e).__name__}: {e}") from e


def read_data(path: str | os.PathLike, check: bool = False) -> dict[str, np.ndarray]:
    """The arrays of ``data.npz`` in release folder ``path``.

    With ``check``, the provenance is validated and ``data.npz`` must match its recorded sha256
    and size first (a mismatch raises ReleaseError naming the file).
    """
    path = Path(path)
    f = path / DATA_FILE
    prov = None
    if check:
        prov = read_provenance(path)
        bad = _check_file(path, DATA_FILE, prov["files"].get(DATA_FILE))
        if bad:
            raise ReleaseError(f"{str(f)!r}: {bad}; the release is damaged: run `distilled-registry verify "
                               f"{path}` and fetch or regenerate it")
    try:
        content = f.read_bytes()
    except OSError as e:
        raise ReleaseError(f"cannot read {str(f)!r}: {type(e).__name__}: {e}") from e
    data = _arrays(content, str(f))
    if check:
        problem = check_arrays(data, prov)
        if problem:
            raise ReleaseError(f"{str(f)!r}: {problem}; the release is damaged or forged: do not use it, "
                               "fetch or regenerate it")
    return data


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
    if f.is_symlink():
        return "a symbolic link (a release holds plain files only: a link may point outside the release)"
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
    """Recompute the sha256 and size of every file of the release at ``path``, then check its content.

    Returns one :class:`FileCheck` per file (those ``provenance.json`` lists, then unlisted files
    found in the folder, which are problems too). When every checksum matches, ``data.npz`` must
    also hold finite arrays of the shapes its provenance gives (:func:`check_arrays`), the
    transform file must load, be finite and fit those images, and the recorded metrics must be
    finite with accuracies in [0, 1] (a problem there is reported as ``provenance.json``). A
    provenance that cannot be read or fails its schema raises (ReleaseError / ProvenanceError):
    nothing else can be checked without it.
    """
    path = Path(path)
    if (path / PROVENANCE_FILE).is_symlink():
        raise ReleaseError(f"{str(path / PROVENANCE_FILE)!r} is a symbolic link; a release holds plain files only: "
                           "do not use this release, fetch or regenerate it")
    prov = read_provenance(path)
    out = []
    for name, rec in sorted(prov["files"].items()):
        problem = _check_file(path, name, rec)
        out.append(FileCheck(name, problem, rec["sha256"], rec["size"]))
    listed = set(prov["files"]) | {PROVENANCE_FILE}
    for f in sorted(path.iterdir()):
        if f.name not in listed:
            what = "a symbolic link" if f.is_symlink() else "a folder" if f.is_dir() else "an extra file"
            out.append(FileCheck(f.name, f"not listed in provenance.json ({what} in the release folder)"))
    if all(c.ok for c in out):
        # checksums match: the arrays must also load, be finite and agree with the provenance; the
        # transform must load and fit the images; the recorded figures must be finite
        try:
            problem = check_arrays(read_data(path), prov)
        except ReleaseError as e:
            problem = str(e)
        t_name, t_problem = prov["preprocessing"].get("file"), _check_transform(path, prov)
        out = [dataclasses.replace(c, problem=problem) if c.name == DATA_FILE and problem else
               dataclasses.replace(c, problem=t_problem) if c.name == t_name and t_problem else c for c in out]
        m_problem = _check_metrics(prov)
        if m_problem:
            out.append(FileCheck(PROVENANCE_FILE, m_problem))
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
