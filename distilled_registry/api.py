"""The Python API: ``load``, ``list_releases``, ``info``.

    >>> import distilled_registry as dr
    >>> r = dr.load("kip_digits/ipc10")          # newest version in the local store
    >>> r.images.shape, r.labels.shape, r.provenance["metrics"]["krr_test_accuracy"]
    >>> x_test = r.transform().apply(raw_test_images)   # into the space the images live in

Every load checks the release first: ``provenance.json`` against its schema, and the sha256 and
size of every file it lists; a damaged release raises ReleaseError naming the bad file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from . import catalog, names, source_facts, store
from . import release as rel
from .errors import UserError
from .provenance import Provenance
from .transform import Transform


@dataclasses.dataclass
class Release:
    """A loaded release: its arrays, provenance and where it is.

    Attributes:
      name: ``family/config`` (None for a folder outside the store that carries no release name).
      version: e.g. ``1.0.0`` (None likewise).
      path: the release folder.
      images: (N, H, W, C) float32, in the preprocessed space (see :meth:`transform`).
      labels: (N, C) float32, centred one-hot or learned.
      class_ids: (N,) int64, the class each image was initialised from.
      provenance: the parsed, schema-checked ``provenance.json``.
      meta: the same provenance in typed blocks (:class:`distilled_registry.provenance.Provenance`).
    """

    name: str | None
    version: str | None
    path: Path
    images: np.ndarray
    labels: np.ndarray
    class_ids: np.ndarray
    provenance: dict
    meta: Provenance | None = None

    def __post_init__(self) -> None:
        if self.meta is None:
            self.meta = Provenance.from_valid(self.provenance)

    @property
    def metrics(self) -> dict:
        return self.provenance["metrics"]

    def transform(self) -> Transform:
        """The preprocessing the images live in: ``transform().apply(raw_images)`` maps new images into it."""
        p = rel.transform_path(self.path, self.provenance)
        return Transform.load(p, rel.read_member(self.path, p.name, self.provenance))

    @property
    def class_names(self) -> list[str]:
        """The ``C`` class names: the provenance's, else the source's (:func:`source_facts.class_names`)."""
        c = self.labels.shape[1]
        got = self.meta.source.class_names
        if len(got) == c:
            return list(got)
        return source_facts.class_names(self.meta.source.name, c)

    def __repr__(self) -> str:
        label = f"{self.name}:{self.version}" if self.name else str(self.path)
        acc = self.meta.metrics.krr_test_accuracy
        if acc is None:  # an imported published file: the authors' figure, if any
            acc = self.meta.metrics.reported_test_accuracy
            acc_text = "reported by the authors " + ("-" if acc is None else f"{acc:.4f}")
        else:
            acc_text = f"{acc:.4f}"
        return (f"Release({label}, images {tuple(self.images.shape)}, labels {tuple(self.labels.shape)}, "
                f"krr_test_accuracy {acc_text})")


def load(name: str, version: str | None = None) -> Release:
    """Load ``family/config`` (e.g. ``kip_cifar10/ipc10``) from the local store.

    Args:
      name: ``family/config``, optionally ``family/config:version``.
      version: a version (``1.0.0``); default: the newest present in the store.
    Raises:
      BadNameError: a malformed name (paths, ``..``); StoreError: not in the store;
      ReleaseError / ProvenanceError: a damaged release (the message names the file).
    """
    rn, path = locate(name, version)
    r = load_path(path)
    r.name, r.version = rn.name, rn.version
    return r


def locate(name: str, version: str | None = None) -> tuple[names.ReleaseName, Path]:
    """``(name:version, folder)`` of a release in the local store (the newest version by default).

    An unknown name raises CatalogError naming the nearest known ones; a known one that is not
    stored raises StoreError saying how to make it.
    """
    rn = names.parse(name, version)
    if not store.versions(rn):
        e = catalog.entry(rn)  # unknown: say so, rather than "not in the store"
        if e.published:
            how = f"`distilled-registry regenerate {rn.name}` or " if e.spec else ""
            raise store.StoreError(f"{rn.name} is not in the local store {str(store.home())!r}; make it with {how}"
                                   f"`distilled-registry import-published {rn.name}` (downloads the authors' "
                                   "published file, checks and pins its sha256)")
    return store.resolve(rn)


def load_path(path: str | os.PathLike) -> Release:
    """Load the release folder at ``path`` (anywhere: a store folder or a ``distill --out`` folder)."""
    path = Path(path)
    read = rel.read_release(path)  # one consistent version, even while --overwrite replaces it
    r, data = read.provenance.release, read.arrays
    return Release(r and r.name, r and r.version, path, data["images"], data["labels"], data["class_ids"],
                   read.record, read.provenance)


def list_releases() -> list[dict]:
    """Every catalog entry, with what the local store holds of it.

    Each item: ``name``, ``family``, ``config``, ``version`` (the catalog's), ``algorithm``, ``source``,
    ``description``, ``spec``, ``settings``, ``paper``, ``releases`` (recorded in the catalog) and
    ``local`` (versions present in the store, oldest first). Releases in the store that the catalog
    does not know are listed too, with ``catalog: False``. A stored version that is not the release
    its folder names (:func:`store.check_identity`) or whose provenance cannot be read is listed in
    ``problems`` (version -> message), present only when there is one.
    """
    out, known = [], set()
    problems: dict[str, dict[str, str]] = {}
    extra: dict[str, list[str]] = {}
    for rn, path in store.local_releases():
        try:  # one bad release (a FIFO, a forgery, a link out of the store) is listed as bad; the others go on
            store.read_identity(rn, path)
        except (UserError, OSError) as err:
            problems.setdefault(rn.name, {})[rn.version] = str(err)
    for e in catalog.entries():
        d = e.to_dict()
        d.pop("source_info")
        d["local"] = store.versions(e.name)
        d["catalog"] = True
        if e.name in problems:
            d["problems"] = problems[e.name]
        out.append(d)
        known.add(e.name)
    for rn, _ in store.local_releases():
        if rn.name not in known:
            extra.setdefault(rn.name, []).append(rn.version)
    for n, vs in extra.items():
        fam, cfg = n.split("/")
        bad = {"problems": problems[n]} if n in problems else {}
        try:  # an explicit published variant name (published.py): its entry comes from the name
            d = catalog.entry(n).to_dict()
            d.pop("source_info")
            out.append({**d, "local": vs, "catalog": "published variant", **bad})
            continue
        except (catalog.CatalogError, names.BadNameError):
            pass
        out.append({"name": n, "family": fam, "config": cfg, "local": vs, "catalog": False, **bad})
    return out


def info(name: str) -> dict:
    """What is known about ``family/config`` (or a whole ``family``).

    For a config: the catalog entry (spec, paper figure, recorded releases) and, per version in the
    local store, its folder, created time and metrics (from its provenance, checked against its
    schema and against the name (:func:`store.check_identity`), a mismatch shown as ``problem``,
    but not checksummed: ``verify`` does that). For a family: ``{"family", "configs": [...]}``.
    """
    rn = names.parse(name, need_config=False)
    if rn.config is None:
        try:
            cfgs = [e.name for e in catalog.family_entries(rn.family)]
        except catalog.CatalogError:  # a family of your own (distill --name) is known by its store folders
            cfgs = sorted({r.name for r, _ in store.local_releases() if r.family == rn.family})
            if not cfgs:
                raise
        return {"family": rn.family, "configs": [info(n) for n in cfgs]}
    try:
        d = catalog.entry(rn).to_dict()
        d["catalog"] = True
    except catalog.CatalogError:
        if not store.versions(rn):
            raise
        d = {"name": rn.name, "family": rn.family, "config": rn.config, "catalog": False}
    local = []
    for v in store.versions(rn):
        path = store.home() / rn.family / rn.config / v
        entry = {"version": v, "path": str(path)}
        try:  # one bad version is shown as bad (one line); the others go on
            p = Provenance.from_valid(store.read_identity(names.ReleaseName(rn.family, rn.config, v), path))
            entry.update(created=p.created, metrics=p.metrics.figures())
        except (UserError, OSError) as e:
            entry["problem"] = str(e)
        local.append(entry)
    d["local"] = local
    return d
