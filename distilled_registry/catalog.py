"""The catalog: every known release family and config, read from ``catalog.json`` (data, not code).

For each ``<family>/<config>`` the catalog holds

- ``version``: the release version its spec produces (``MAJOR.MINOR.PATCH``);
- ``spec``: what to run to regenerate it, a ``DistillConfig`` as a dict (source, algorithm, kernel,
  images per class, steps, target batch, labels learned or not, ZCA, seed);
- ``settings``: where those settings come from, and which ones are this registry's choice;
- ``paper``: the paper's KRR test accuracy (a fraction) and its reference, or null with a note
  saying why (not reported, or not sourced);
- ``releases``: by version, once a release exists: where it is (``store:<family>/<config>/<version>``
  relative to the local store, or a URL), the sha256 of its ``data.npz`` and ``provenance.json``,
  and its measured metrics (:func:`record_release` writes these);
- ``published`` (KIP ConvNet and LS configs): the authors' published file it points at, its URL, the
  sha256 once pinned, and the authors' reported figures (:mod:`published`). Every other published KIP
  file is reachable by an explicit config name (``ipc10-convnet3-nozca-nol-aug-ckpt1000``): :func:`entry`
  makes its entry from the name (``spec`` None: nothing to regenerate), :func:`entries` does not list them.

``sources`` gives each source's image shape, class count and split sizes (what ``plan`` needs
without loading the data). The catalog file is ``catalog.json`` beside this module, or the file
named by ``$DISTILLED_REGISTRY_CATALOG``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import tempfile
from pathlib import Path

from . import names
from .errors import UsageError

FORMAT = "distilled_registry.catalog/1"
CATALOG_ENV = "DISTILLED_REGISTRY_CATALOG"
DEFAULT_PATH = Path(__file__).with_name("catalog.json")


class CatalogError(UsageError):
    """An unknown release name, or a catalog file that cannot be read."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ``<family>/<config>`` of the catalog."""

    family: str
    config: str
    version: str
    algorithm: str
    source: str
    description: str
    spec: dict
    settings: str
    paper: dict
    releases: dict
    source_info: dict
    published: dict | None = None  # the authors' published file (published.py); spec is None for a published-only variant

    @property
    def name(self) -> str:
        return f"{self.family}/{self.config}"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {"name": self.name, **d}


def path() -> Path:
    """The catalog file in use: ``$DISTILLED_REGISTRY_CATALOG`` or the packaged ``catalog.json``."""
    env = os.environ.get(CATALOG_ENV)
    return Path(env) if env else DEFAULT_PATH


def load(catalog_path: str | os.PathLike | None = None) -> dict:
    """The parsed catalog (checked: format, family and config names, versions)."""
    p = Path(catalog_path) if catalog_path is not None else path()
    try:
        stat = p.stat()
    except OSError as e:
        raise CatalogError(f"cannot read the catalog {str(p)!r}: {e}; unset ${CATALOG_ENV} to use the packaged one") from e
    return _load(str(p), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load(p: str, _mtime: int, _size: int) -> dict:
    try:
        cat = json.loads(Path(p).read_text())
    except (OSError, ValueError) as e:
        raise CatalogError(f"cannot read the catalog {p!r}: {e}") from e
    if not isinstance(cat, dict) or cat.get("format") != FORMAT:
        raise CatalogError(f"{p!r} is not a {FORMAT} catalog (format {cat.get('format') if isinstance(cat, dict) else None!r})")
    for fam, f in cat.get("families", {}).items():
        for cfg, c in f.get("configs", {}).items():
            try:
                names.parse(f"{fam}/{cfg}")
                names.check_version(c["version"])
            except (names.BadNameError, KeyError) as e:
                raise CatalogError(f"catalog {p!r}, entry {fam}/{cfg}: {e}") from e
            if f.get("source") not in cat.get("sources", {}):
                raise CatalogError(f"catalog {p!r}: family {fam} names source {f.get('source')!r}, "
                                   "which its 'sources' table lacks")
    return cat


def entries(catalog_path: str | os.PathLike | None = None) -> list[Entry]:
    """Every catalog entry, families and configs in catalog order."""
    cat = load(catalog_path)
    out = []
    for fam, f in cat["families"].items():
        for cfg, c in f["configs"].items():
            out.append(Entry(family=fam, config=cfg, version=c["version"], algorithm=f["algorithm"],
                             source=f["source"], description=c.get("description", ""), spec=c["spec"],
                             settings=c.get("settings", ""), paper=c.get("paper", {}),
                             releases=c.get("releases", {}), source_info=cat["sources"][f["source"]],
                             published=c.get("published")))
    return out


def entry(name: str | names.ReleaseName, catalog_path: str | os.PathLike | None = None) -> Entry:
    """The entry ``family/config``; CatalogError (with the nearest known names) when unknown."""
    rn = names.parse(name) if isinstance(name, str) else name
    all_entries = entries(catalog_path)
    for e in all_entries:
        if e.family == rn.family and e.config == rn.config:
            return e
    variant = _published_variant(rn, all_entries)
    if variant is not None:
        from . import published

        cat = load(catalog_path)
        return Entry(family=rn.family, config=rn.config, version=published.VERSION, algorithm=variant.algorithm,
                     source=variant.dataset, description=f"the authors' published file {variant.stem()}.npz",
                     spec=None, settings="published by the authors; not regenerable from a spec here", paper={},
                     releases={}, source_info=cat["sources"][variant.dataset], published=published.block(variant))
    raise CatalogError(unknown_message(rn.name, [e.name for e in all_entries]))


def _published_variant(rn: names.ReleaseName, all_entries: list[Entry]):
    """The published variant an explicit config name denotes in a catalog family (None when it denotes none)."""
    if rn.config is None or not any(e.family == rn.family for e in all_entries):
        return None
    from . import published

    try:
        return published.parse_config(rn.family, rn.config)
    except published.PublishedError as e:
        raise CatalogError(f"{rn.name}: {e}") from e


def family_entries(family: str, catalog_path: str | os.PathLike | None = None) -> list[Entry]:
    """The entries of one family; CatalogError when there are none."""
    all_entries = entries(catalog_path)
    out = [e for e in all_entries if e.family == family]
    if not out:
        raise CatalogError(unknown_message(family, sorted({e.family for e in all_entries}), what="family"))
    return out


def unknown_message(name: str, known: list[str], what: str = "release") -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint} (`distilled-registry list` shows every known release)"


def dumps(cat: dict) -> str:
    """The catalog as ``catalog.json`` text: indented, short lists of numbers on one line."""
    import re

    text = json.dumps(cat, indent=1)
    return re.sub(r"\[\s+([-\d.,\s]+?)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"


def record_release(name: str, release_path: str | os.PathLike, location: str | None = None,
                   catalog_path: str | os.PathLike | None = None) -> dict:
    """Record an existing release in the catalog file: where it is, its sha256 and its metrics.

    The release at ``release_path`` is verified first; its version and metrics come from its
    provenance. ``location`` defaults to ``store:<family>/<config>/<version>``. The catalog file is
    rewritten atomically. Returns the record written.
    """
    from . import release as rel  # numpy; only when recording

    e = entry(name, catalog_path)
    prov = rel.verified(release_path)
    r = prov.get("release") or {}
    if r.get("name") not in (None, e.name):
        raise CatalogError(f"the release at {str(release_path)!r} is {r.get('name')!r}, not {e.name!r}")
    version = r.get("version") or e.version
    record = {
        "location": location or f"store:{e.name}/{version}",
        "data_sha256": prov["files"][rel.DATA_FILE]["sha256"],
        "provenance_sha256": rel.sha256_file(Path(release_path) / rel.PROVENANCE_FILE),
        "created": prov["created"],
        "metrics": {k: v for k, v in prov["metrics"].items() if k != "recipe"},
    }
    p = Path(catalog_path) if catalog_path is not None else path()
    cat = json.loads(p.read_text())
    cat["families"][e.family]["configs"][e.config].setdefault("releases", {})[version] = record
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(dumps(cat))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return record
