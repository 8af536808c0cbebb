"""A release is what its config says: the one check, on every read path, before any array is read.

A provenance is written by whoever made the folder, so it cannot vouch for itself: a forgery
rewrites it to match forged arrays and recomputes every checksum. :func:`check` holds it against
what this package knows independently:

- the source's facts (:mod:`distilled_registry.source_facts`): a known source's image shape, class
  count and class names;
- a run's own config: ``config.source`` is the source, and ``algorithm.support_size`` is
  ``config.ipc x C`` (images per class times classes);
- the catalog's entry for the release's name (the given name, else the provenance's ``release``
  block): its source; at the catalog version of a config with a spec, ``spec.ipc x C`` images; at
  the published version of a config with an authors' file, that file's ``ssize``; a ``data.npz``
  sha256 recorded in the catalog (records.json) for that version;
- the release version: a canonical ASCII semantic version (:func:`names.check_version`);
- an imported authors' file: its sha256 against the pin (records, then the store's pins file).

``verify``, ``load``, ``list``/``info`` (through ``store.check_identity``), the TFDS builder and
the Hugging Face export all reach it through ``release_read`` or ``store``.
"""

from __future__ import annotations

from . import names, source_facts
from .errors import ReleaseError, UserError
from .provenance import Provenance, typed


def check(prov: Provenance | dict, name: str | names.ReleaseName | None = None, where: str = "") -> None:
    """ReleaseError naming every way the schema-checked provenance ``prov`` is not what its config says.

    Args:
      prov: the release's provenance (typed, or a dict already checked against its schema).
      name: the name it is read as (a store read); default: the provenance's ``release`` block.
      where: the folder, for the message.
    """
    problems = _problems(typed(prov), name)
    if problems:
        head = f"release {where!r} is not what its config says" if where else "the release is not what its config says"
        raise ReleaseError(f"{head}: {'; '.join(problems)}; the release is damaged or forged: do not use it, "
                           "fetch or regenerate it")


def _problems(prov: Provenance, name) -> list[str]:
    out: list[str] = []
    src, n = prov.source, prov.algorithm.support_size
    c = src.num_classes
    facts = source_facts.SOURCES.get(src.name)
    if facts is not None:
        if list(src.image_shape) != list(facts.image_shape):
            out.append(f"source.image_shape {list(src.image_shape)}, but {src.name} images are "
                       f"{list(facts.image_shape)}")
        if c != facts.num_classes:
            out.append(f"source.num_classes {c}, but {src.name} has {facts.num_classes} classes")
        elif list(src.class_names) != list(facts.class_names):
            out.append(f"source.class_names are not the class list of {src.name}")
    cfg = prov.config
    if cfg is not None:
        if cfg.source != src.name:
            out.append(f"config.source {cfg.source!r}, but source.name {src.name!r}")
        if n != cfg.ipc * c:
            out.append(f"algorithm.support_size {n}, but config.ipc {cfg.ipc} x {c} classes is {cfg.ipc * c}")
    version = prov.release.version if prov.release else None
    if version is not None:
        try:
            names.check_version(version)
        except UserError as e:
            out.append(f"release.version: {e}")
            version = None
    if isinstance(name, names.ReleaseName):
        rn = name
    else:
        try:
            rn = names.parse(name or (prov.release.name if prov.release else ""), need_config=True)
        except UserError:
            rn = None
    if rn is not None:
        out += _catalog_problems(prov, rn, rn.version or version)
    if prov.origin is not None and prov.origin.kind == "published":
        from . import pin_check

        pin = pin_check.pin_status(prov.as_dict())
        if pin is not None and not pin["ok"]:
            out.append(pin["problem"])
    return out


def _catalog_problems(prov: Provenance, rn: names.ReleaseName, version: str | None) -> list[str]:
    """Where ``prov`` differs from the catalog entry of ``rn`` (none when the catalog does not know it)."""
    from . import catalog

    try:
        e = catalog.entry(rn)
    except (catalog.CatalogError, UserError):
        return []
    src, n = prov.source, prov.algorithm.support_size
    out = []
    if src.name != e.source:
        out.append(f"source {src.name!r}, but {rn.name} is made from {e.source!r}")
        return out
    c = source_facts.get(e.source).num_classes
    if e.spec and version == e.version and n != e.spec["ipc"] * c:
        out.append(f"{n} images, but {rn.name}:{version} is {e.spec['ipc']} per class x {c} classes = "
                   f"{e.spec['ipc'] * c} (its catalog spec)")
    pub = e.published or {}
    if pub.get("variant") and version == pub.get("version") and n != pub["variant"]["ssize"]:
        out.append(f"{n} images, but {rn.name}:{version} is the authors' file of {pub['variant']['ssize']} images")
    recorded = (e.releases.get(version) or {}).get("data_sha256") if version else None
    got = prov.files["data.npz"].sha256 if "data.npz" in prov.files else None
    if recorded and got != recorded:
        out.append(f"data.npz sha256 differs from the catalog's record for {rn.name}:{version} ({got}; recorded "
                   f"{recorded})")
    return out
