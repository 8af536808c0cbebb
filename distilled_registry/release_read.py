"""Reading a release folder: every read checks the folder before it trusts a byte of it.

Every file goes through :func:`distilled_registry.bounded_read.read_file` (a regular file, no link,
no FIFO, at most the size its shapes allow, exactly the size the provenance lists); the provenance
is bounded JSON (:func:`bounded_read.read_json`) checked against its schema and against what its
config and the catalog say it is (:func:`distilled_registry.conformance.check`) before any other
file is read; ``data.npz``'s member headers are held against the provenance before an array is
allocated (:func:`bounded_read.npz_arrays`). Then: sha256 and size of every listed file, no
unlisted file, finite arrays of the recorded shapes, a transform that fits, finite metrics.

:func:`read_release` is the one reader of a release folder: loading (``api.load_path``), the store,
the TFDS source, the Hugging Face export and the evaluation all read through it and get a
:class:`ReleaseContents` (the typed provenance, the checked bytes, the arrays), all from one
version of the folder. :func:`verify` is the same check made into a per-file report.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from pathlib import Path

import numpy as np

from . import bounded_read, conformance
from . import provenance as prov_schema
from .errors import ReleaseError, UserError
from .provenance import Provenance
from .release_format import (
    DATA_FILE,
    DATA_KEYS,
    PLAIN_NAME,
    PROVENANCE_FILE,
    TRANSFORM_FILE,
    check_arrays,
    check_metrics,
    check_transform,
    shape_problem,
)


def sha256_bytes(b: bytes) -> str:
    import hashlib

    return hashlib.sha256(b).hexdigest()


def _provenance_at(folder: str | os.PathLike | int, where: str) -> dict:
    """The schema-checked provenance of the folder (a path or a handle), read as bounded JSON."""
    return prov_schema.validate(bounded_read.read_json(folder, PROVENANCE_FILE), repr(where))


def read_provenance(path: str | os.PathLike) -> dict:
    """``provenance.json`` of the release at ``path``: bounded JSON (:func:`bounded_read.read_json`),
    checked against its schema."""
    if not Path(path).is_dir():
        raise ReleaseError(f"no release folder at {str(path)!r}")
    try:
        return _provenance_at(path, str(Path(path) / PROVENANCE_FILE))
    except FileNotFoundError:
        raise ReleaseError(f"cannot read {str(Path(path) / PROVENANCE_FILE)!r}: it is missing") from None


def read_listed(folder: str | os.PathLike | int, name: str, prov: Provenance | dict, check_sha: bool = True) -> bytes:
    """The bytes of file ``name`` the provenance ``prov`` lists, read bounded (:func:`bounded_read.read_file`:
    exactly its listed size, at most what its shapes allow), and matching its sha256 (``check_sha``)."""
    prov = prov_schema.typed(prov)
    rec = prov.files.get(name)
    if rec is None:
        raise ReleaseError(f"{name}: not listed in provenance.json (so no sha256 covers it)")
    limit = bounded_read.size_limit(name, prov)
    if rec.size > limit:
        raise ReleaseError(f"{name}: provenance.json records {rec.size} bytes, more than the {limit} bytes a file "
                           "of this release can be (its shapes bound it): the provenance is damaged or forged")
    b = bounded_read.read_file(folder, name, limit, size=rec.size)
    if check_sha:
        sha = sha256_bytes(b)
        if sha != rec.sha256:
            raise ReleaseError(f"{name}: sha256 {sha}, provenance.json records {rec.sha256}")
    return b


def data_arrays(content: bytes, where: str, prov: Provenance | dict) -> dict[str, np.ndarray]:
    """The arrays of ``data.npz`` bytes, their headers held against the provenance first (nothing allocated
    for an array of another shape or dtype, nor for a member that inflates past its declared size)."""
    prov = prov_schema.typed(prov)
    return bounded_read.npz_arrays(content, where, bounded_read.data_schema(prov), DATA_KEYS,
                                   bounded_read.size_limit(DATA_FILE, prov),
                                   check=lambda shapes, dtypes: shape_problem(shapes, dtypes, prov))


SWAP_PATIENCE_S = 30.0
"""How long a read keeps starting again on a folder that ``--overwrite`` keeps replacing."""


def read_snapshot(path: str | os.PathLike, patience_s: float = SWAP_PATIENCE_S,
                  only: tuple[str, ...] | None = None) -> tuple[dict, dict[str, bytes]]:
    """``(provenance, {name: bytes})`` of every file the release at ``path`` lists (or the listed files
    ``only`` names), all from one version.

    A release may be replaced while it is read (``--overwrite`` swaps the folder atomically): the
    files are read through one open handle of the folder, and when a file is missing or does not
    match its recorded sha256 *because the folder was swapped meanwhile*, the read starts again on
    the new folder. It starts again only on a swap it saw (the path names another folder than the
    handle), so a damaged release is never retried; a folder swapped under every read for
    ``patience_s`` seconds (a writer replacing it in a loop) raises ReleaseError. A count of tries
    would not do: a reader starved of CPU on a loaded machine can lose five in a row to one writer.
    The provenance must pass :func:`conformance.check` before any other file is read. The bytes
    returned match the provenance's sha256 and size; a release that is damaged (not swapped) raises
    ReleaseError naming the file.
    """
    record, _, files = _snapshot(Path(path), patience_s, only)
    return record, files


def _snapshot(path: Path, patience_s: float,
              only: tuple[str, ...] | None) -> tuple[dict, Provenance, dict[str, bytes]]:
    """:func:`read_snapshot`, with the typed provenance too."""
    give_up_at, tries = time.monotonic() + patience_s, 0
    while tries == 0 or time.monotonic() < give_up_at:
        tries += 1
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
                record = _provenance_at(fd, str(path / PROVENANCE_FILE))
            except FileNotFoundError:
                if swapped():
                    continue
                raise ReleaseError(f"{str(path)!r}: provenance.json is missing; fetch or regenerate "
                                   "the release") from None
            except UserError:
                if swapped():
                    continue
                raise
            prov = Provenance.from_valid(record)
            conformance.check(prov, where=str(path))
            files, bad = {}, []
            for n in prov.files if only is None else [n for n in only if n in prov.files]:
                try:
                    files[n] = read_listed(fd, n, prov)
                except FileNotFoundError:
                    bad.append(f"{n} is missing; the release is incomplete")
                except ReleaseError as e:
                    bad.append(str(e) if str(e).startswith(n) else f"{n}: {e}")
            if bad and swapped():
                continue
            if bad:
                raise ReleaseError(f"release {str(path)!r} failed verification: {'; '.join(bad)}. Fetch or regenerate "
                                   "it (`distilled-registry regenerate NAME --overwrite`)")
            return record, prov, files
        finally:
            os.close(fd)
    raise ReleaseError(f"{str(path)!r} was replaced under each of {tries} reads in {patience_s:g} s (something "
                       "is rewriting it in a loop); try again when it stops")


@dataclasses.dataclass(frozen=True)
class ReleaseContents:
    """A release folder as :func:`read_release` read it, all from one version of the folder.

    Attributes:
      path: the folder.
      provenance: the typed, schema-checked provenance (:class:`distilled_registry.provenance.Provenance`).
      record: the same ``provenance.json`` as a plain dict, as on disk.
      files: ``{name: bytes}`` of the files read, each matching its recorded sha256 and size.
      arrays: ``data.npz``: images (N, H, W, C) float32, labels (N, K) float32, class_ids (N,) int64.
    """

    path: Path
    provenance: Provenance
    record: dict
    files: dict[str, bytes]
    arrays: dict[str, np.ndarray]


def read_release(path: str | os.PathLike, only: tuple[str, ...] | None = None) -> ReleaseContents:
    """The release at ``path``, read bounded and checked as :func:`verify` checks it: the one reader.

    A reader never sees half of one release and half of another, nor no release at all, while
    ``--overwrite`` replaces the folder (:func:`read_snapshot`). ReleaseError names what is wrong: a
    provenance that is not what its config says (:func:`conformance.check`, before any other file
    is read), a file whose sha256 or size differs, a file not listed, arrays that are not finite or
    not of the recorded shapes, a transform that does not fit, a recorded figure that is not finite.

    Args:
      path: the release folder.
      only: read just these listed files (e.g. ``("data.npz",)``: the arrays); then files the
        folder holds beyond them are not looked at, and the transform is checked only if named.
    """
    path = Path(path)
    record, prov, files = _snapshot(path, SWAP_PATIENCE_S, only)
    where = f"release {str(path)!r} failed verification"
    extra = sorted(set(os.listdir(path)) - set(prov.files) - {PROVENANCE_FILE}) if only is None else []
    if extra:
        raise ReleaseError(f"{where}: {', '.join(extra)} not listed in provenance.json. Fetch or regenerate it")
    if DATA_FILE not in files:
        raise ReleaseError(f"{where}: provenance.json lists no {DATA_FILE}. Fetch or regenerate it")
    data = data_arrays(files[DATA_FILE], str(path / DATA_FILE), prov)
    t_name = prov.transform_file
    problem = (check_arrays(data, prov) or check_metrics(prov) or
               (check_transform(path, prov, files[t_name]) if t_name in files else None))
    if problem:
        raise ReleaseError(f"{where}: {problem}. Fetch or regenerate it "
                           "(`distilled-registry regenerate NAME --overwrite`)")
    return ReleaseContents(path, prov, record, files, data)


def read_data(path: str | os.PathLike, check: bool = False) -> dict[str, np.ndarray]:
    """The arrays of ``data.npz`` in release folder ``path``, read bounded by its provenance's shapes.

    With ``check``: :func:`read_release` of ``data.npz`` (the provenance passes
    :func:`conformance.check`, ``data.npz`` matches its recorded sha256 and size, the arrays are
    finite and of the recorded shapes; a problem raises ReleaseError naming the file). Without, the
    bounded read alone, for a folder this process has just written.
    """
    if check:
        return read_release(path, only=(DATA_FILE,)).arrays
    path = Path(path)
    f = path / DATA_FILE
    prov = Provenance.from_valid(read_provenance(path))
    if DATA_FILE not in prov.files:
        raise ReleaseError(f"{str(path)!r}: provenance.json lists no {DATA_FILE}; fetch or regenerate it")
    try:
        content = bounded_read.read_file(path, DATA_FILE, bounded_read.size_limit(DATA_FILE, prov))
    except FileNotFoundError:
        raise ReleaseError(f"cannot read {str(f)!r}: it is missing; fetch or regenerate the release") from None
    return data_arrays(content, str(f), prov)


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


def _file_problem(fd: int, name: str, prov: Provenance, keep: dict[str, bytes]) -> str | None:
    """What is wrong with listed file ``name`` (None: it matches); its bytes go into ``keep`` when wanted."""
    try:
        b = read_listed(fd, name, prov)
    except FileNotFoundError:
        return "missing"
    except ReleaseError as e:
        text = str(e)
        for head in (f"{name}: ", f"{name} is "):
            if text.startswith(head):
                return text[len(head):]
        return text
    if name in (DATA_FILE, prov.transform_file):
        keep[name] = b
    return None


def verify(path: str | os.PathLike) -> list[FileCheck]:
    """Read every file of the release at ``path`` bounded, recompute its sha256 and size, then check its content.

    Returns one :class:`FileCheck` per file (those ``provenance.json`` lists, then unlisted files
    found in the folder, which are problems too). A provenance that is not what its config and the
    catalog say (:func:`conformance.check`) is a problem of ``provenance.json``, and then no array is
    read. When every checksum matches, ``data.npz`` must also hold finite arrays of the shapes its
    provenance gives, the transform file must load, be finite and fit those images, and the
    recorded metrics must be finite with accuracies in [0, 1]. A provenance that cannot be read or
    fails its schema raises (ReleaseError / ProvenanceError): nothing else can be checked without it.
    """
    path = Path(path)
    prov = Provenance.from_valid(read_provenance(path))
    out, keep = [], {}
    try:
        conformance.check(prov, where=str(path))
        conform = None
    except ReleaseError as e:
        conform = str(e)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if conform is None:
            for name, rec in sorted(prov.files.items()):
                out.append(FileCheck(name, _file_problem(fd, name, prov, keep), rec.sha256, rec.size))
        listed = set(prov.files) | {PROVENANCE_FILE}
        for e in sorted(os.scandir(fd), key=lambda e: e.name):
            if e.name not in listed:
                st = e.stat(follow_symlinks=False)
                what = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                        else "an extra file")
                out.append(FileCheck(e.name, f"not listed in provenance.json ({what} in the release folder)"))
    finally:
        os.close(fd)
    if conform is not None:
        return [FileCheck(PROVENANCE_FILE, conform)] + out
    if all(c.ok for c in out):
        try:
            problem = check_arrays(data_arrays(keep[DATA_FILE], str(path / DATA_FILE), prov), prov)
        except ReleaseError as e:
            problem = str(e)
        t_name = prov.transform_file
        t_problem = check_transform(path, prov, keep[t_name]) if t_name in keep else None
        out = [dataclasses.replace(c, problem=problem) if c.name == DATA_FILE and problem else
               dataclasses.replace(c, problem=t_problem) if c.name == t_name and t_problem else c for c in out]
        m_problem = check_metrics(prov)
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


def transform_path(path: str | os.PathLike, prov: Provenance | dict, missing_ok: bool = False) -> Path | None:
    """The release's transform file, ``provenance.preprocessing.file`` (default ``transform.npz``).

    Checked as every file name read from a provenance is (:func:`member`). A release with none (an
    imported published file whose source was not at hand) raises ReleaseError saying why, or gives
    None with ``missing_ok``; a forged name is refused either way.
    """
    prov = prov_schema.typed(prov)
    name = prov.transform_file or TRANSFORM_FILE
    if (prov.transform_file is None and prov.fit_later) or (missing_ok and name not in prov.files):
        if missing_ok and PLAIN_NAME.match(str(name)):
            return None
        raise ReleaseError(f"{str(path)!r}: {prov.fit_later or f'{name!r} is not one of its files'}")
    return member(path, name, prov.files)


def member(path: str | os.PathLike, name: str, listed=None) -> Path:
    """``path / name`` for a file of the release at ``path``, when that is safe to open; else ReleaseError.

    Every file name read from a provenance goes through here before it becomes a path. ``name`` must
    be a plain file name (provenance.schema.json ``file_name``: letters, digits, ``_ - .``, no leading
    ``.``, no ``/`` or ``\\``, at most 128 characters), be ``provenance.json`` or listed in ``listed``
    (the provenance's ``files``; default: those of ``path``'s own ``provenance.json``), and name a
    regular file directly inside ``path``: not a symbolic link (which could point anywhere), not a folder.
    """
    path = Path(path)
    if not isinstance(name, str) or not PLAIN_NAME.match(name):
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


def read_member(path: str | os.PathLike, name: str, prov: Provenance | dict) -> bytes:
    """The bytes of listed file ``name`` of the release at ``path`` (:func:`member`: a plain name, no link),
    read bounded and matching its recorded sha256 and size (:func:`read_listed`)."""
    prov = prov_schema.typed(prov)
    member(path, name, prov.files)
    try:
        if name == PROVENANCE_FILE:  # not listed (it holds the list): bounded as JSON, and it must still parse
            b = bounded_read.read_file(path, name, bounded_read.MAX_JSON_BYTES)
            bounded_read.parse_json(b, str(Path(path) / name))
            return b
        return read_listed(path, name, prov)
    except FileNotFoundError:
        raise ReleaseError(f"{str(Path(path) / name)!r} is missing; fetch or regenerate the release") from None
