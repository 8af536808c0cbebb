"""Bounded reads: the one place a file of a release (or a store, or a kept download) is read.

Every read of a release file goes through :func:`read_file`, which checks before it reads:

- the name is a plain file name (no ``/``, no leading ``.``), opened relative to the folder's
  handle with ``O_NOFOLLOW | O_NONBLOCK``: a symbolic link is refused (it may point anywhere), and
  opening a FIFO never waits for a writer;
- ``fstat`` of the open handle says a regular file (no FIFO, device, socket or folder);
- its size is at most ``limit`` (:func:`size_limit`: derived from the provenance's shapes) and,
  when the provenance lists one, exactly ``size``; the read takes that many bytes and no more.

On top of it: :func:`read_json` bounds a JSON file's size and nesting depth before parsing, and
:func:`npz_arrays` reads an ``.npz`` held in memory only after every member's ``.npy`` header
(shape, dtype) was read from the zip without allocating the array and held against what the
provenance says, and every member's declared uncompressed size is exactly what that header
implies (``zipfile`` never inflates past the declared size), so a member that inflates to
gigabytes is refused before one byte of it is inflated.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import stat
import zipfile
from pathlib import Path

import numpy as np

from .errors import ReleaseError
from .provenance import Provenance

MAX_JSON_BYTES = 1 << 20  # a provenance.json or croissant.json is a few kB
MAX_JSON_DEPTH = 64  # a provenance nests about 5 deep
MAX_OTHER_BYTES = 64 << 20  # a preview or loss-curve PNG: well under a MiB
MAX_NPZ_MEMBERS = 8
NPY_HEADER_MAX = 4096  # bytes of one .npy header (numpy writes 64 or 128)
_ZIP_SLACK = 64 << 10  # zip local headers and the central directory, per file
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # provenance.schema.json $defs.file_name
_KIND = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def read_file(folder: str | os.PathLike | int, name: str, limit: int, size: int | None = None) -> bytes:
    """The bytes of the regular file ``name`` directly inside ``folder`` (a path or an open folder handle).

    Refused with ReleaseError, before a byte is read: a name that is not plain, a symbolic link, a
    FIFO, device, socket or folder, a file larger than ``limit`` bytes, or (``size`` given) a file of
    another size than ``size`` (truncated, or replaced). A file that is missing raises
    FileNotFoundError (a folder swapped meanwhile is told apart by the caller).
    """
    where = name if isinstance(folder, int) else repr(str(Path(folder) / name))
    if not isinstance(name, str) or not _PLAIN_NAME.match(name):
        raise ReleaseError(f"{name!r} is not a plain file name of a release (no paths, no leading '.'); the "
                           "provenance is damaged or forged: do not use this release")
    dir_fd = folder if isinstance(folder, int) else None
    path = name if dir_fd is not None else os.path.join(folder, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ReleaseError(f"{where} is a symbolic link; a release holds plain files only (a link may point "
                               "outside it): do not use this release") from None
        if isinstance(e, FileNotFoundError):
            raise
        raise ReleaseError(f"cannot open {where}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = _KIND.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise ReleaseError(f"{where} is {what}, not a plain file; a release holds plain files only: do not use "
                               "this release")
        if size is not None and st.st_size != size:
            raise ReleaseError(f"{where}: size {st.st_size} bytes, provenance.json records {size} (truncated or "
                               "replaced)")
        if st.st_size > limit:
            raise ReleaseError(f"{where} is {st.st_size} bytes, more than the {limit} bytes a file of this release "
                               "can be (its shapes in provenance.json bound it): do not use this release")
        want = st.st_size
        chunks, got = [], 0
        while got <= want:
            b = os.read(fd, min(want + 1 - got, 1 << 24))
            if not b:
                break
            chunks.append(b)
            got += len(b)
        if got != want:
            raise ReleaseError(f"{where} changed size while it was read ({want} bytes, then {got}); try again")
        return b"".join(chunks)
    except OSError as e:
        raise ReleaseError(f"cannot read {where}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_json(folder: str | os.PathLike | int, name: str, limit: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH) -> object:
    """``name`` in ``folder`` parsed as JSON, read by :func:`read_file` (at most ``limit`` bytes), nesting at
    most ``max_depth`` deep (checked before parsing); ReleaseError otherwise."""
    where = name if isinstance(folder, int) else str(Path(folder) / name)
    return parse_json(read_file(folder, name, limit), where, max_depth)


def parse_json(b: bytes, where: str, max_depth: int = MAX_JSON_DEPTH) -> object:
    """``b`` parsed as JSON when its nesting is at most ``max_depth``; ReleaseError naming ``where`` otherwise."""
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReleaseError(f"cannot read {where}: not UTF-8 text ({e})") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise ReleaseError(f"cannot read {where}: JSON nested {depth} deep, more than {max_depth}; the file is "
                           "damaged or forged")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ReleaseError(f"cannot read {where}: {e}") from None


def json_depth(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest (brackets inside strings not counted)."""
    brackets = re.sub(r"[^\[\]{}]", "", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))
    depth = top = 0
    for ch in brackets:
        depth += 1 if ch in "[{" else -1
        top = max(top, depth)
    return top


def size_limit(name: str, prov: Provenance) -> int:
    """The most bytes file ``name`` of the release described by ``prov`` can hold.

    ``data.npz``: the arrays its shapes give (``N`` images ``(H, W, C)`` float32, labels ``(N, K)``
    float32, class ids int64) plus zip and header overhead; ``data.parquet`` twice that (one more
    column) plus 1 MiB; ``transform.npz``: mean, std and a ``D x D`` whitening matrix; JSON files
    :data:`MAX_JSON_BYTES`; anything else :data:`MAX_OTHER_BYTES`.
    """
    n, k = prov.algorithm.support_size, prov.source.num_classes
    h, w, c = prov.source.image_shape
    data = 4 * n * h * w * c + 4 * n * k + 8 * n
    if name == "data.npz":
        return data + _ZIP_SLACK
    if name == "data.parquet":
        return 2 * data + (1 << 20)
    if name == (prov.transform_file or "transform.npz"):
        return 4 * (2 * c + (h * w * c) ** 2) + 2 * _ZIP_SLACK
    if name.endswith(".json"):
        return MAX_JSON_BYTES
    return MAX_OTHER_BYTES


def data_schema(prov: Provenance) -> dict[str, tuple[tuple | None, str]]:
    """The members of ``data.npz`` the provenance ``prov`` implies: ``{name: (shape, dtype)}``, from the
    release's columns (:data:`release_columns.NPZ`): images (N, H, W, C) and labels (N, K) little-endian
    float32, class_ids (N,) int64."""
    from . import release_columns as columns

    n = prov.algorithm.support_size
    return {col.npz_key: ((n, *columns.shape(col, prov.source.image_shape, prov.source.num_classes)),
                          np.dtype(col.dtype).newbyteorder("<").str) for col in columns.NPZ}


def transform_schema(prov: Provenance) -> dict[str, tuple[tuple | None, str]]:
    """The members a ``transform.npz`` for images ``source.image_shape`` may hold (``zca`` only with ZCA)."""
    h, w, c = prov.source.image_shape
    return {"mean": ((c,), "<f4"), "std": ((c,), "<f4"), "zca": ((h * w * c, h * w * c), "<f4"),
            "meta_json": (None, "|u1")}


def npz_headers(content: bytes, where: str) -> dict[str, tuple[tuple, np.dtype, int]]:
    """``{array: (shape, dtype, declared uncompressed size)}`` of the ``.npz`` bytes ``content``, read from
    each member's ``.npy`` header without inflating or allocating its data; ReleaseError when it is not an npz."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ReleaseError(f"cannot read {where!r}: {type(e).__name__}: {e}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise ReleaseError(f"cannot read {where!r}: {len(infos)} members, more than an npz of a release holds")
        out = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise ReleaseError(f"cannot read {where!r}: member {info.filename!r} is not an .npy array")
            try:
                with zf.open(info) as f:
                    head = f.read(NPY_HEADER_MAX)  # at most this much is inflated
                bio = io.BytesIO(head)
                version = np.lib.format.read_magic(bio)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(bio)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(bio)
                else:
                    raise ValueError(f"npy format version {version}")
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as e:
                raise ReleaseError(f"cannot read {where!r}: member {info.filename!r}: "
                                   f"{type(e).__name__}: {e}") from None
            if dtype.hasobject or fortran:
                raise ReleaseError(f"cannot read {where!r}: member {info.filename!r} holds {dtype} "
                                   f"{'(Fortran order) ' if fortran else ''}arrays; a release holds plain numbers only")
            payload = math.prod(shape) * dtype.itemsize
            if info.file_size != bio.tell() + payload:
                raise ReleaseError(f"cannot read {where!r}: member {info.filename!r} declares {info.file_size} bytes "
                                   f"but its header says {shape} {dtype} ({bio.tell() + payload} bytes); the file is "
                                   "damaged or forged")
            out[info.filename[:-4]] = (tuple(shape), dtype, info.file_size)
        return out


def check_npz(content: bytes, where: str, schema: dict[str, tuple[tuple | None, str]],
              required: tuple[str, ...], limit: int, check=None) -> dict[str, tuple]:
    """The headers (:func:`npz_headers`) of the ``.npz`` bytes ``content`` when they pass; else ReleaseError.

    ``schema``: ``{array: (shape or None, dtype)}`` the file may hold (another member is refused);
    ``required``: those it must hold; ``limit``: the most bytes one member may inflate to.
    ``check(shapes, dtypes)`` may return a problem (a message), checked before the schema's shapes.
    """
    heads = npz_headers(content, where)
    missing = [k for k in required if k not in heads]
    if missing:
        raise ReleaseError(f"{where!r} lacks arrays {missing}")
    for k, (shape, dtype, nbytes) in heads.items():
        if k not in schema:
            raise ReleaseError(f"{where!r} holds an array {k!r} that no file of its kind holds; do not use it")
        if nbytes > limit:
            raise ReleaseError(f"{where!r}: array {k!r} inflates to {nbytes} bytes, more than the {limit} its release "
                               "can hold: do not use it")
    if check is not None:
        problem = check({k: h[0] for k, h in heads.items()}, {k: h[1] for k, h in heads.items()})
        if problem:
            raise ReleaseError(f"{where!r}: {problem}")
    for k, (shape, dtype, _) in heads.items():
        want_shape, want_dtype = schema[k]
        if dtype != np.dtype(want_dtype) or (want_shape is not None and shape != tuple(want_shape)):
            raise ReleaseError(f"{where!r}: {k} is {shape} {dtype}; its provenance says "
                               f"{'any length' if want_shape is None else tuple(want_shape)} {np.dtype(want_dtype)}")
    return heads


def npz_arrays(content: bytes, where: str, schema: dict[str, tuple[tuple | None, str]],
               required: tuple[str, ...], limit: int, check=None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` bytes ``content``, read only after :func:`check_npz` passed."""
    heads = check_npz(content, where, schema, required, limit, check)
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as z:
            return {k: z[k] for k in heads}
    except Exception as e:  # noqa: BLE001 - BadZipFile (CRC), ValueError, EOFError: damaged after its headers
        raise ReleaseError(f"cannot read {where!r}: {type(e).__name__}: {e}") from None
