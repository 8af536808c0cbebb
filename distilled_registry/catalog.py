"""The catalog: every known release family and config, assembled from intent and records.

For each ``<family>/<config>`` an :class:`Entry` holds

- from the hand-written config files (:mod:`distilled_registry.configs`): ``version`` (the release
  version its spec produces), ``spec`` (what to run to regenerate it, a ``DistillConfig`` as a
  dict), ``settings`` (where those settings come from), ``paper`` (the paper's KRR test accuracy as
  a fraction and its reference key, :data:`distilled_registry.references.REFERENCES`, or null with a
  note saying why), and ``published`` (KIP ConvNet and LS configs: the authors' published file,
  computed from its variant by :func:`distilled_registry.published.block`, with its pin once recorded);
- from the machine-written records (:mod:`distilled_registry.records`): ``releases``, by version,
  once a release exists (where it is, its sha256s, its metrics);
- from :mod:`distilled_registry.source_facts`: ``source_info`` (image shape, classes, split sizes).

Every other published KIP file is reachable by an explicit config name
(``ipc10-convnet3-nozca-nol-aug-ckpt1000``): :func:`entry` makes its entry from the name (``spec``
None: nothing to regenerate); :func:`entries` does not list them.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools

from . import names, records, source_facts
from .errors import PublishedError, UsageError


class CatalogError(UsageError):
    """An unknown release name."""


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
    # the authors' published file (published_variants.py); spec is None for a published-only variant
    published: dict | None = None

    @property
    def name(self) -> str:
        return f"{self.family}/{self.config}"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {"name": self.name, **d}


def published_block(name: str, variant, reported: dict | None, pins: dict[str, dict]) -> dict:
    """The ``published`` block of config ``name``: :func:`published.block`, with its recorded pin.

    A pin recorded for the block's bucket path, or for ``name`` (a ``final`` checkpoint resolved and
    pinned by ``import-published --record``, which also fixes the path), gives ``sha256`` and ``size``.
    """
    from . import published_variants as published

    block = published.block(variant, reported)
    path = block.get("path") or next((k for k, p in pins.items() if p.get("config") == name and p.get("sha256")), None)
    pin = pins.get(path or "")
    if pin and pin.get("sha256"):
        block.update(path=path, url=published.BUCKET_URL + path, sha256=pin["sha256"], size=pin.get("size"))
    return block


def entries() -> list[Entry]:
    """Every catalog entry, families and configs in catalog order (made again when the records change)."""
    p = records.path()
    try:
        st = p.stat()
        key = (str(p), st.st_mtime_ns, st.st_size)
    except OSError:
        key = (str(p), None, None)
    return list(_entries(key))


@functools.lru_cache(maxsize=4)
def _entries(_records_key: tuple) -> tuple[Entry, ...]:
    from . import configs

    recs, pins = records.load()["releases"], records.pins()
    out = []
    for fam, f in configs.families().items():
        info = source_facts.get(f.source).to_dict()
        for cfg, c in f.configs.items():
            out.append(Entry(family=fam, config=cfg, version=c.version, algorithm=f.algorithm, source=f.source,
                             description=c.description, spec=c.spec.to_spec(), settings=c.settings, paper=c.paper,
                             releases=dict(recs.get(f"{fam}/{cfg}", {})), source_info=info,
                             published=published_block(f"{fam}/{cfg}", *c.published, pins) if c.published else None))
    return tuple(out)


def family_description(family: str) -> str:
    """``"Kernel Inducing Points distilled cifar10"``; CatalogError for an unknown family."""
    from . import configs

    fams = configs.families()
    if family not in fams:
        raise CatalogError(unknown_message(family, list(fams), what="family"))
    return fams[family].description


def entry(name: str | names.ReleaseName) -> Entry:
    """The entry ``family/config``; CatalogError (with the nearest known names) when unknown."""
    rn = names.parse(name) if isinstance(name, str) else name
    all_entries = entries()
    for e in all_entries:
        if e.family == rn.family and e.config == rn.config:
            return e
    variant = _published_variant(rn, all_entries)
    if variant is not None:
        from . import published_variants as published

        return Entry(family=rn.family, config=rn.config, version=published.VERSION, algorithm=variant.algorithm,
                     source=variant.dataset, description=f"the authors' published file {variant.stem()}.npz",
                     spec=None, settings="published by the authors; not regenerable from a spec here", paper={},
                     releases={}, source_info=source_facts.get(variant.dataset).to_dict(),
                     published=published_block(rn.name, variant, None, records.pins()))
    raise CatalogError(unknown_message(rn.name, [e.name for e in all_entries]))


def _published_variant(rn: names.ReleaseName, all_entries: list[Entry]):
    """The published variant an explicit config name denotes in a catalog family (None when it denotes none)."""
    if rn.config is None or not any(e.family == rn.family for e in all_entries):
        return None
    from . import published_variants as published

    try:
        return published.parse_config(rn.family, rn.config)
    except PublishedError as e:
        raise CatalogError(f"{rn.name}: {e}") from e


def family_entries(family: str) -> list[Entry]:
    """The entries of one family; CatalogError when there are none."""
    all_entries = entries()
    out = [e for e in all_entries if e.family == family]
    if not out:
        raise CatalogError(unknown_message(family, sorted({e.family for e in all_entries}), what="family"))
    return out


def unknown_message(name: str, known: list[str], what: str = "release") -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint} (`distilled-registry list` shows every known release)"
