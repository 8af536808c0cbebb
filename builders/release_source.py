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
  ``data_sha256`` when recorded). A file that does not match raises :class:`ReleaseChecksumError`
  naming the URL, both digests and what to do; the bad download is removed from the cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from distilled_registry import catalog, names, store
from distilled_registry import provenance as prov_schema
from distilled_registry import release as rel
from distilled_registry.errors import UserError

URL_BASE_ENV = "DISTILLED_REGISTRY_URL_BASE"
DOWNLOADED_FILES = (rel.PROVENANCE_FILE, rel.DATA_FILE)


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
      provenance: the parsed, schema-checked ``provenance.json``.
      origin: where it was read: ``store:<folder>`` or the release URL.
    """

    name: str
    version: str
    images: np.ndarray
    labels: np.ndarray
    class_ids: np.ndarray
    provenance: dict
    origin: str

    @property
    def data_sha256(self) -> str:
        return self.provenance["files"][rel.DATA_FILE]["sha256"]


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

    A stored release whose ``data.npz`` does not match its provenance raises ReleaseError (it is
    never silently replaced by a download).
    """
    version = version or entry.version
    rn = names.ReleaseName(entry.family, entry.config, version)
    if version not in store.versions(rn):
        return None
    _, path = store.resolve(rn)
    data = rel.read_data(path, check=True)
    prov = rel.read_provenance(path)
    return ReleaseData(entry.name, version, data["images"], data["labels"], data["class_ids"], prov,
                       f"store:{path}")


def from_url(entry: catalog.Entry, url: str, download: Callable[[str], os.PathLike],
             version: str | None = None) -> ReleaseData:
    """Download ``provenance.json`` and ``data.npz`` from the release folder at ``url`` and check them.

    Args:
      entry: the catalog entry (its record for ``version`` pins the provenance's sha256, if any).
      url: the release folder URL, ending in ``/``.
      download: ``url -> local path`` (a TFDS ``DownloadManager.download``).
    Raises:
      ReleaseDownloadError: a URL could not be fetched; ReleaseChecksumError: a file does not match.
    """
    version = version or entry.version
    record = entry.releases.get(version) or {}
    prov_url = url + rel.PROVENANCE_FILE
    prov_path = _fetch(download, prov_url)
    want = record.get("provenance_sha256")
    got = rel.sha256_file(prov_path)
    if want and got != want:
        _discard(prov_path)
        raise ReleaseChecksumError(
            f"{prov_url} has sha256 {got}, but the catalog records {want} for {entry.name}:{version}: the "
            "published copy differs from the recorded release; do not use it. Make the release locally with "
            f"`distilled-registry regenerate {entry.name}`, or point ${URL_BASE_ENV} at a faithful copy")
    try:
        prov = prov_schema.validate(json.loads(Path(prov_path).read_text()), prov_url)
    except (ValueError, UserError) as e:
        _discard(prov_path)
        raise ReleaseChecksumError(f"{prov_url} is not a valid provenance.json: {e}") from e
    listed = prov["files"][rel.DATA_FILE]
    if record.get("data_sha256") and listed["sha256"] != record["data_sha256"]:
        raise ReleaseChecksumError(
            f"{prov_url} lists data.npz sha256 {listed['sha256']}, but the catalog records "
            f"{record['data_sha256']} for {entry.name}:{version}")
    data_url = url + rel.DATA_FILE
    data_path = _fetch(download, data_url)
    got_sha, got_size = rel.sha256_file(data_path), Path(data_path).stat().st_size
    if (got_sha, got_size) != (listed["sha256"], listed["size"]):
        _discard(data_path)
        raise ReleaseChecksumError(
            f"{data_url} has sha256 {got_sha} ({got_size} bytes), but its provenance.json lists {listed['sha256']} "
            f"({listed['size']} bytes): the published copy is damaged or altered; do not use it. The download was "
            f"removed from the cache. Fetch it from a faithful copy, or make the release locally with "
            f"`distilled-registry regenerate {entry.name}`")
    with tempfile.TemporaryDirectory(prefix="distilled-registry-download-") as tmp:
        shutil.copyfile(prov_path, Path(tmp) / rel.PROVENANCE_FILE)
        shutil.copyfile(data_path, Path(tmp) / rel.DATA_FILE)
        try:
            data = rel.read_data(tmp, check=True)  # the core's own check, and a readable npz
        except rel.ReleaseError as e:
            _discard(data_path)
            raise ReleaseChecksumError(f"{data_url}: {e}") from e
    return ReleaseData(entry.name, version, data["images"], data["labels"], data["class_ids"], prov, url)


def from_published(entry: catalog.Entry, download: Callable[[str], os.PathLike],
                   base: str | None = None) -> ReleaseData | None:
    """The authors' published file of ``entry`` as a release, or None when the entry has none.

    Looks in the store for the imported copy (version ``published.VERSION``) first; otherwise
    downloads the file through ``download`` (the TFDS download manager) from the bucket, or from the
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
    path = published.fetch(entry.name, base, get=lambda url: Path(download(url)).read_bytes())
    arrays = rel.read_data(path, check=True)
    prov = rel.read_provenance(path)
    return ReleaseData(entry.name, published.VERSION, arrays["images"], arrays["labels"], arrays["class_ids"],
                       prov, prov["origin"].get("url") or f"store:{path}")


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


def _fetch(download: Callable[[str], os.PathLike], url: str) -> Path:
    try:
        return Path(download(url))
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - network and download-manager errors, said plainly
        name = type(e).__name__
        if name == "NonMatchingChecksumError":
            raise ReleaseChecksumError(f"{url}: {e}") from e
        raise ReleaseDownloadError(f"cannot download {url}: {name}: {e}") from e


def _discard(path: os.PathLike) -> None:
    """Remove a bad download (and TFDS's ``.INFO`` beside it) so that the next try fetches it again."""
    p = Path(path)
    for f in (p, p.with_name(p.name + ".INFO")):
        try:
            f.unlink()
        except OSError:
            pass
