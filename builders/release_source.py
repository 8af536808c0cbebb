"""Where a builder gets a release's arrays: the local store, else the release's URL, else an error.

Everything here goes through the registry core (catalog, store, release format): no pipelines,
no kernel code.

Order, for the catalog entry ``<family>/<config>`` at the catalog config's version ``V``:

1. the local store (``$DISTILLED_REGISTRY_HOME``): ``<family>/<config>/<V>/``; its ``data.npz`` is
   checked against the sha256 and size in its ``provenance.json`` before it is read;
2. the release's URL (:func:`release_url`): ``<base>/<family>/<config>/<V>/`` with ``base`` the
   builder's ``url_base`` argument or ``$DISTILLED_REGISTRY_URL_BASE``; else the catalog record
   ``releases[V]["location"]`` when that is an ``http(s)://`` URL of the release folder;
3. neither: :class:`ReleaseUnavailableError`, naming the ``distilled-registry regenerate`` command.

Published layout: a release is published as the files of its folder side by side under its URL
(no tarball): ``<url>provenance.json``, ``<url>data.npz``, and the others. A builder downloads
``provenance.json`` and ``data.npz`` only. Checks, in order:

- ``provenance.json`` must have the sha256 the catalog records for that version
  (``provenance_sha256``), when the catalog has a record; it must follow the provenance schema;
- ``data.npz`` must have the sha256 and size ``provenance.json`` lists (and the catalog's
  ``data_sha256`` when recorded);
- either file, when its URL is in the family's ``checksums.tsv`` (as TFDS parses it: the builder's
  ``url_infos``), must have the size and sha256 listed there, and is fetched with that size as cap.

A file that does not match raises :class:`ReleaseChecksumError` naming the URL, both digests and
what to do; nothing that failed is kept.

Every download has a size cap and an overall deadline (:func:`distilled_registry.download.fetch`):
``provenance.json`` at most 1 MB, ``data.npz`` exactly the size its provenance lists; verified files
are kept in the builder's download folder for the next prepare.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from distilled_registry import atomic, catalog, names, store
from distilled_registry import download as dl
from distilled_registry import provenance as prov_schema
from distilled_registry import release as rel
from distilled_registry.errors import UserError
from distilled_registry.provenance import Provenance

URL_BASE_ENV = "DISTILLED_REGISTRY_URL_BASE"
DOWNLOADED_FILES = (rel.PROVENANCE_FILE, rel.DATA_FILE)
PROVENANCE_MAX_BYTES = 1 << 20  # a provenance.json is a few kB
DEADLINE_S = 600.0  # one file, connecting included; read at call time (tests set ~1 s)
READ_TIMEOUT_S = 60.0  # one read without data


class ReleaseUnavailableError(UserError):
    """The release is neither in the local store nor downloadable."""


class ReleaseChecksumError(UserError):
    """A downloaded release file does not have the sha256 (or size) it should have."""


class ReleaseDownloadError(UserError):
    """A release URL could not be fetched."""


class ReleaseShapeError(UserError):
    """A release whose arrays do not have the shapes its catalog source gives (the builder's features)."""


@dataclasses.dataclass
class ReleaseData:
    """A release's arrays and provenance as a builder uses them.

    Attributes:
      name: ``family/config``; version: the release version.
      images (N,H,W,C) float32, labels (N,C) float32, class_ids (N,) int64: ``data.npz``.
      provenance: the parsed, schema-checked ``provenance.json`` (as on disk; :attr:`meta` in typed blocks).
      origin: where it was read: ``store:<folder>`` or the release URL.
    """

    name: str
    version: str
    images: np.ndarray
    labels: np.ndarray
    class_ids: np.ndarray
    provenance: dict
    origin: str

    @functools.cached_property
    def meta(self) -> Provenance:
        """The provenance in typed blocks (:class:`distilled_registry.provenance.Provenance`)."""
        return Provenance.from_valid(self.provenance)

    @property
    def data_sha256(self) -> str:
        return self.meta.files[rel.DATA_FILE].sha256


def release_url(entry: catalog.Entry, version: str | None = None, url_base: str | None = None) -> str | None:
    """The URL of the release folder of ``entry`` (ending in ``/``), or None when there is none.

    ``url_base`` (else ``$DISTILLED_REGISTRY_URL_BASE``) gives ``<base>/<family>/<config>/<version>/``;
    without one, the catalog record's ``location`` when it is an http(s) URL.
    """
    version = version or entry.version
    base = url_base or os.environ.get(URL_BASE_ENV)
    if base:
        if not base.startswith(("http://", "https://")):
            raise ReleaseDownloadError(f"bad release URL base {base!r}: expected http(s)://HOST/PATH "
                                       f"(from the builder's url_base or ${URL_BASE_ENV})")
        return f"{base.rstrip('/')}/{entry.family}/{entry.config}/{version}/"
    location = (entry.releases.get(version) or {}).get("location", "")
    if isinstance(location, str) and location.startswith(("http://", "https://")):
        return location if location.endswith("/") else location + "/"
    return None


def from_store(entry: catalog.Entry, version: str | None = None) -> ReleaseData | None:
    """The release from the local store, or None when the store lacks that version.

    The stored release goes through the same checks as ``distilled_registry.load``: it must be the
    release its folder names (``store.resolve`` -> ``store.check_identity``) and pass the full
    ``release.verify`` (every file's sha256 and size, finite arrays of the shapes its provenance
    gives, finite metrics). A release that fails raises ReleaseError (it is never silently
    replaced by a download).
    """
    version = version or entry.version
    rn = names.ReleaseName(entry.family, entry.config, version)
    if version not in store.versions(rn):
        return None
    _, path = store.resolve(rn)
    return _release_data(entry, version, rel.read_release(path), f"store:{path}")


def _release_data(entry: catalog.Entry, version: str, read: rel.ReleaseContents, origin: str) -> ReleaseData:
    """The builder's view of a release read (and checked) by :func:`distilled_registry.release.read_release`."""
    a = read.arrays
    return ReleaseData(entry.name, version, a["images"], a["labels"], a["class_ids"], read.record, origin)


def from_url(entry: catalog.Entry, url: str, cache_dir: str | os.PathLike | None = None,
             version: str | None = None, checksums: dict[str, tuple[int, str]] | None = None) -> ReleaseData:
    """Download ``provenance.json`` and ``data.npz`` from the release folder at ``url`` and check them.

    Each file goes through :func:`distilled_registry.download.fetch` with a size cap and an overall
    deadline (:data:`DEADLINE_S`, :data:`READ_TIMEOUT_S`): ``provenance.json`` at most
    :data:`PROVENANCE_MAX_BYTES`, ``data.npz`` exactly the size ``provenance.json`` lists. Only files
    that pass every check are kept, in ``<cache_dir>/distilled_registry/<sha256(url)[:16]>/`` (the
    builder's download folder), so a second prepare reads them from there; a kept file is checked
    again on every read (a damaged one is fetched anew).

    Args:
      entry: the catalog entry (its record for ``version`` pins the provenance's sha256, if any).
      url: the release folder URL, ending in ``/``.
      cache_dir: where verified downloads are kept (None: nowhere).
      checksums: ``{url: (size, sha256)}`` from the family's ``checksums.tsv`` (TFDS's ``url_infos``);
        a file listed there must match it.
    Raises:
      ReleaseDownloadError: a URL could not be fetched (named, with why); ReleaseChecksumError: a file
        does not match. Nothing that failed is kept.
    """
    version = version or entry.version
    record = entry.releases.get(version) or {}
    cache = (Path(cache_dir) / "distilled_registry" / hashlib.sha256(url.encode()).hexdigest()[:16]
             if cache_dir is not None else None)
    prov_url = url + rel.PROVENANCE_FILE
    prov_b = _cached(cache, rel.PROVENANCE_FILE)
    prov = None
    if prov_b is not None:
        try:
            prov = _check_provenance(prov_b, prov_url, entry, version, record)
        except UserError:
            prov = None  # a kept copy that no longer passes: fetch it again
    if prov is None:
        prov_b = _get(prov_url, _cap(checksums, prov_url, PROVENANCE_MAX_BYTES), entry)
        _check_listed(checksums, prov_url, prov_b, entry)
        prov = _check_provenance(prov_b, prov_url, entry, version, record)
    listed = prov["files"][rel.DATA_FILE]
    if record.get("data_sha256") and listed["sha256"] != record["data_sha256"]:
        raise ReleaseChecksumError(
            f"{prov_url} lists data.npz sha256 {listed['sha256']}, but the catalog records "
            f"{record['data_sha256']} for {entry.name}:{version}")
    data_url = url + rel.DATA_FILE
    data_b = _cached(cache, rel.DATA_FILE)
    if data_b is None or rel.digest(data_b) != {"sha256": listed["sha256"], "size": listed["size"]}:
        data_b = _get(data_url, _cap(checksums, data_url, int(listed["size"])), entry)
    _check_listed(checksums, data_url, data_b, entry)
    got = rel.digest(data_b)
    if (got["sha256"], got["size"]) != (listed["sha256"], listed["size"]):
        raise ReleaseChecksumError(
            f"{data_url} has sha256 {got['sha256']} ({got['size']} bytes), but its provenance.json lists "
            f"{listed['sha256']} ({listed['size']} bytes): the published copy is damaged or altered; do not use it. "
            f"Nothing was kept. Fetch it from a faithful copy, or make the release locally with "
            f"`distilled-registry regenerate {entry.name}`")
    with tempfile.TemporaryDirectory(prefix="distilled-registry-download-") as tmp:
        (Path(tmp) / rel.PROVENANCE_FILE).write_bytes(prov_b)
        (Path(tmp) / rel.DATA_FILE).write_bytes(data_b)
        try:
            data = rel.read_data(tmp, check=True)  # the core's own check, and a readable npz
        except rel.ReleaseError as e:
            raise ReleaseChecksumError(f"{data_url}: {e}") from e
    _keep(cache, rel.PROVENANCE_FILE, prov_b)  # both verified: kept for the next prepare
    _keep(cache, rel.DATA_FILE, data_b)
    return ReleaseData(entry.name, version, data["images"], data["labels"], data["class_ids"], prov, url)


def _cap(checksums: dict[str, tuple[int, str]] | None, url: str, default: int) -> int:
    """The size cap of a download: the size ``checksums.tsv`` lists for ``url``, else ``default``."""
    listed = (checksums or {}).get(url)
    return min(int(listed[0]), default) if listed else default


def _check_listed(checksums: dict[str, tuple[int, str]] | None, url: str, b: bytes, entry: catalog.Entry) -> None:
    """ReleaseChecksumError unless ``b`` has the size and sha256 ``checksums.tsv`` lists for ``url`` (if it does)."""
    listed = (checksums or {}).get(url)
    if not listed:
        return
    got = rel.digest(b)
    if (got["size"], got["sha256"]) != (int(listed[0]), listed[1]):
        raise ReleaseChecksumError(
            f"{url} has sha256 {got['sha256']} ({got['size']} bytes), but the {entry.family} builder's checksums.tsv "
            f"lists {listed[1]} ({listed[0]} bytes): the published copy is not the recorded release; do not use it. "
            f"Nothing was kept. Make the release locally with `distilled-registry regenerate {entry.name}`")


def _check_provenance(b: bytes, prov_url: str, entry: catalog.Entry, version: str, record: dict) -> dict:
    """The parsed ``provenance.json`` at ``prov_url``: the catalog's sha256 (when recorded) and the schema."""
    want = record.get("provenance_sha256")
    got = rel.sha256_bytes(b)
    if want and got != want:
        raise ReleaseChecksumError(
            f"{prov_url} has sha256 {got}, but the catalog records {want} for {entry.name}:{version}: the "
            "published copy differs from the recorded release; do not use it. Make the release locally with "
            f"`distilled-registry regenerate {entry.name}`, or point ${URL_BASE_ENV} at a faithful copy")
    try:
        return prov_schema.validate(json.loads(b), prov_url)
    except (ValueError, UserError) as e:
        raise ReleaseChecksumError(f"{prov_url} is not a valid provenance.json: {e}") from None


def from_published(entry: catalog.Entry, base: str | None = None) -> ReleaseData | None:
    """The authors' published file of ``entry`` as a release, or None when the entry has none.

    Looks in the store for the imported copy (version ``published.VERSION``) first; otherwise
    downloads the file (``published.download``: size cap, overall deadline) from the bucket, or from the
    mirror at ``base`` / ``$DISTILLED_REGISTRY_PUBLISHED_URL``, checks it against its pin (a file
    with no pin yet is pinned on this first verified download; a file that differs from its pin
    raises :class:`distilled_registry.published.PinError`) and imports it into the store.
    """
    if not getattr(entry, "published", None):
        return None
    from distilled_registry import published

    data = from_store(entry, published.VERSION)
    if data is not None:
        return data
    path = published.fetch(entry.name, base)  # imported into the store: the next prepare reads it there
    read = rel.read_release(path)
    return _release_data(entry, published.VERSION, read, read.provenance.origin.url or f"store:{path}")


def unavailable_message(entry: catalog.Entry, version: str | None = None) -> str:
    """What to say when a release is neither stored nor downloadable."""
    version = version or entry.version
    published = getattr(entry, "published", None)
    ways = []
    if entry.spec and version == entry.version:
        ways.append(f"`distilled-registry regenerate {entry.name}`")
    if published and version == published.get("version", version):
        ways.append(f"`distilled-registry import-published {entry.name}` (the authors' published file)")
    how = " or ".join(ways) or f"`distilled-registry regenerate {entry.name}`"
    return (f"{entry.name}:{version} is not in the local store {str(store.home())!r} and has no download URL "
            f"(none recorded in the catalog; set ${URL_BASE_ENV} or pass builder_kwargs={{'url_base': ...}} to "
            f"download a published copy). Make it with {how} (set ${store.HOME_ENV} to use another store)")


def _get(url: str, max_bytes: int, entry: catalog.Entry) -> bytes:
    """The body of ``url`` (at most ``max_bytes``, within :data:`DEADLINE_S`); ReleaseDownloadError naming it."""
    try:
        return dl.fetch(url, max_bytes, DEADLINE_S, READ_TIMEOUT_S)
    except dl.DownloadError as e:
        raise ReleaseDownloadError(f"{e}; make the release locally with `distilled-registry regenerate "
                                   f"{entry.name}`, or point ${URL_BASE_ENV} at a faithful copy") from None


def _cached(cache: Path | None, name: str) -> bytes | None:
    """A kept download (checked again by the caller), or None."""
    if cache is None:
        return None
    f = cache / name
    try:
        return f.read_bytes() if f.is_file() and not f.is_symlink() else None
    except OSError:
        return None


def _keep(cache: Path | None, name: str, b: bytes) -> None:
    """Keep a verified download for the next prepare (atomically: a reader never sees half a file)."""
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(cache / name, b)
