"""Downloads from the authors' bucket (or a mirror) and their index of files and figures.

Every download goes through :func:`distilled_registry.download.fetch` with a size cap and an overall
deadline; the index is parsed before it is kept, and kept per URL (:func:`index_cache`). ``final``
checkpoints are resolved through the index once, then pinned (:func:`resolve_final`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from .. import atomic
from .. import download as dl
from ..errors import PublishedError
from ..published_variants import ARCH_FILE, BUCKET_URL, INDEX, Variant
from .pins import _now, _pins_lock, _write_pins, read_pins

URL_ENV = "DISTILLED_REGISTRY_PUBLISHED_URL"


# the columns read from each index: a body without them (an HTML page, an error page) is not the index
INDEX_COLUMNS = {"kip": ("architecture", "dataset", "ssize", "zca", "l", "aug", "ckpt", "test_acc"),
                 "ls": ("architecture", "dataset", "ssize", "zca", "test_acc")}


MAX_BYTES = 64 << 20  # the largest published file is ~12 MB (cifar100, 1000 images); refuse anything absurd


INDEX_MAX_BYTES = 16 << 20  # kip/kip.csv (12,736 rows) is a few MB


DEADLINE_S = 600.0  # a whole download (distilled_registry.download.fetch); read at call time


TIMEOUT_S = 60.0  # one read without data


def base_url(base: str | None = None) -> str:
    """The bucket's URL base: ``base``, else ``$DISTILLED_REGISTRY_PUBLISHED_URL``, else :data:`BUCKET_URL`."""
    b = base or os.environ.get(URL_ENV) or BUCKET_URL
    return b if b.endswith("/") else b + "/"


def canonical_url(url: str) -> str:
    """The index's ``storage.cloud.google.com`` URLs (a browser sign-in) as ``storage.googleapis.com`` ones."""
    return re.sub(r"^https?://storage\.cloud\.google\.com/", "https://storage.googleapis.com/", url)


def is_download(url: str | None) -> bool:
    """Whether bytes from ``url`` count as a download (http or https): only a download may record a pin.

    A ``file://`` URL names a local copy, whoever made it: it is checked against a pin but never pins.
    """
    return bool(url) and urllib.parse.urlparse(url).scheme in ("http", "https")


def download(url: str, max_bytes: int | None = None, deadline_s: float | None = None,
             read_timeout_s: float | None = None) -> bytes:
    """The bytes at ``url``: http(s) through :func:`distilled_registry.download.fetch`, a file:// URL read locally.

    Caps: ``max_bytes`` (default :data:`MAX_BYTES`), the whole download within ``deadline_s`` (default
    :data:`DEADLINE_S`), ``read_timeout_s`` per read (default :data:`TIMEOUT_S`). A ``file://`` URL is
    read as the local file it names (a local copy, not a download: see :func:`is_download`).
    Raises DownloadError / PublishedError naming the URL and what failed.
    """
    url = canonical_url(url)
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        p = Path(urllib.request.url2pathname(parsed.path))
        if not p.is_file():
            raise PublishedError(f"no file at {url} ({str(p)!r})")
        if p.stat().st_size > max_bytes:
            raise PublishedError(f"{url} is {p.stat().st_size} bytes, more than the {max_bytes} accepted for it")
        return p.read_bytes()
    try:
        return dl.fetch(url, max_bytes, DEADLINE_S if deadline_s is None else deadline_s,
                        TIMEOUT_S if read_timeout_s is None else read_timeout_s)
    except dl.DownloadError as e:
        if e.status == 404:
            hint = "; that file may not be published (not every variant has every checkpoint)"
        elif e.status is None and "only http" not in str(e):
            hint = f"; set ${URL_ENV} to a mirror, or import a local copy"
        else:
            hint = ""
        raise dl.DownloadError(f"{e}{hint}", e.url, e.status) from None


def parse_index(b: bytes, algorithm: str, url: str) -> list[dict]:
    """The rows of an index body; PublishedError naming ``url`` unless it is a CSV with :data:`INDEX_COLUMNS`."""
    what = f"{url} is not the authors' index {INDEX[algorithm]}"
    try:
        reader = csv.DictReader(io.StringIO(b.decode("utf-8-sig")))
        rows = list(reader)
        columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as e:
        raise PublishedError(f"{what} (not a UTF-8 CSV: {e}); check the URL or use another mirror") from None
    missing = [c for c in INDEX_COLUMNS[algorithm] if c not in columns]
    if missing:
        raise PublishedError(f"{what}: it lacks the columns {missing} (it starts {b[:40]!r}: an HTML or error page?); "
                             "nothing was kept. Check the URL or use another mirror")
    return rows


def index_cache(url: str) -> Path:
    """Where the index downloaded from ``url`` is kept: ``<store>/published_index/<sha256(url)[:16]>-<name>``.

    Keyed by the URL it came from, so a mirror's copy never stands in for another's.
    """
    from .. import store

    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return store.home() / "published_index" / f"{key}-{Path(urllib.parse.urlparse(url).path).name}"


def read_index(algorithm: str, base: str | None = None, get=None) -> tuple[list[dict], str, str]:
    """Rows of the authors' index ``kip/kip.csv`` or ``ls/ls.csv``: ``(rows, url, sha256)``.

    Downloaded (with ``get``, default :func:`download` capped at :data:`INDEX_MAX_BYTES`) and parsed;
    only a body that parses with the index's columns is kept, in :func:`index_cache` of its URL (remove
    the file to read the bucket's again). A ``file://`` index is read each time, not kept.
    """
    from .. import release as rel

    url = base_url(base) + INDEX[algorithm]
    cache = index_cache(url)
    if cache.is_file():
        b = cache.read_bytes()
        try:
            return parse_index(b, algorithm, url), url, rel.sha256_bytes(b)
        except PublishedError:
            pass  # a damaged cached copy: read the index again (and replace it)
    b = (get or (lambda u: download(u, max_bytes=INDEX_MAX_BYTES)))(url)
    rows = parse_index(b, algorithm, url)  # before keeping anything
    if is_download(url):
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(cache, b)
    return rows, url, rel.sha256_bytes(b)


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def index_rows(variant: Variant, rows: list[dict]) -> list[dict]:
    """The index rows of ``variant`` (every checkpoint when it names none, or ``final``)."""
    out = []
    for r in rows:
        try:
            same = (r["architecture"].strip() == ARCH_FILE[variant.architecture]
                    and r["dataset"].strip() == variant.dataset
                    and int(float(r["ssize"])) == variant.ssize and _truthy(r["zca"]) == variant.zca)
            if variant.algorithm == "kip":
                same = same and _truthy(r["l"]) == variant.learned_labels and (
                    variant.augmentation is None or _truthy(r.get("aug")) == variant.augmentation)
                if isinstance(variant.checkpoint, int):
                    same = same and int(float(r["ckpt"])) == variant.checkpoint
        except (KeyError, ValueError, AttributeError):
            continue
        if same:
            out.append(r)
    return out


def reported(row: dict | None, index_url: str, index_sha256: str | None = None) -> dict | None:
    """``metrics.reported_by_authors`` from an index row: test accuracy and MSE as the authors' index gives them."""
    if row is None:
        return None
    out = {"by": "the authors' index", "index": index_url}
    for k_out, k_in in (("test_accuracy", "test_acc"), ("test_mse", "test_mse")):
        try:
            out[k_out] = float(row[k_in])
        except (KeyError, TypeError, ValueError):
            out[k_out] = None
    if index_sha256:
        out["index_sha256"] = index_sha256
    out["note"] = ("reported by the authors (their KRR evaluation on the full test split of the original dataset); "
                   "not measured by this package")
    return out


def resolve_final(variant: Variant, base: str | None = None, get=None) -> tuple[Variant, dict | None]:
    """``final`` -> the largest checkpoint the authors' index lists for the run; pinned on first resolution.

    Returns ``(resolved variant, reported figures of that row or None)``.
    """
    if variant.checkpoint != "final":
        return variant, None
    key = variant.bucket_path()
    pins = read_pins()
    if key in pins["final"]:
        r = pins["final"][key]
        return variant.resolved(int(r["checkpoint"])), r.get("reported")
    rows, url, sha = read_index("kip", base, get)
    found = [r for r in index_rows(variant, rows) if str(r.get("ckpt", "")).strip().lstrip("-").isdigit()]
    if not found:
        raise PublishedError(f"the authors' index {url} lists no checkpoint of {key.replace('_ckpt{final}.npz', '')}; "
                             "that variant may not be published")
    row = max(found, key=lambda r: int(r["ckpt"]))
    v = variant.resolved(int(row["ckpt"]))
    rep = reported(row, url, sha)
    if not is_download(url):  # a local index (file://) resolves the name but pins nothing
        return v, rep
    with _pins_lock():  # read-modify-write under the lock; a resolution pinned meanwhile wins
        pins = read_pins()
        r = pins["final"].setdefault(key, {"checkpoint": v.checkpoint, "path": v.bucket_path(), "index_sha256": sha,
                                           "reported": rep, "resolved": _now()})
        _write_pins(pins)
    return variant.resolved(int(r["checkpoint"])), r.get("reported")
