"""Turning a published file into a store release: its provenance (an ``origin`` block), its pin, its files.

An imported release is an ordinary store release (``data.npz`` holding the published arrays bit for
bit, ``transform.npz`` when the source's training split was at hand, preview, parquet, Croissant,
``provenance.json``), stored as ``<family>/<config>/0.1.0`` (:data:`VERSION`): published imports sort
before the ``1.0.0`` a local ``regenerate`` writes, so a regenerated release takes precedence in
``load(NAME)`` and the import stays reachable as ``NAME:0.1.0``.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from pathlib import Path

from .. import references, source_facts
from ..errors import PublishedError, PublishedUsageError, UserError
from ..published_variants import BUCKET_URL, INDEX, VERSION, Variant, parse_file_name, variant_of
from .arrays import check_arrays, read_arrays
from .bucket import base_url, canonical_url, download, index_rows, is_download, read_index, reported, resolve_final
from .pins import _now, check_pin, record_pin

CARD_NOTE = (
    "Published by the authors (Nguyen, Novak, Xiao, Lee) in the bucket kip-datasets "
    "(https://storage.googleapis.com/kip-datasets/). The bucket publishes no checksums, so the sha256 of "
    "each file cannot be known in advance: it is recorded on the first verified download (the file parses "
    "and has the published shapes) and pinned from then on; a later copy with another sha256 is refused. "
    "The images live in the authors' preprocessed space (per-channel standardisation of the training split, "
    "then ZCA with strength 0.1 where the name says zca); an imported release's transform.npz, when present, "
    "was refitted on the training split of the copy named in its provenance.")


ZCA_REG = 0.1


PREPROCESSING_RECIPE = (
    "per-channel standardisation with the mean and standard deviation of the source's training split; "
    "with zca: each flattened image has its mean removed and is scaled to unit norm, cov = X^T X / N over the "
    "training split, lambda = 0.1 * trace(cov) / d, W = U diag((s + lambda)^-1/2) U^T, image -> normalize(image) @ W "
    "(distilled_registry.transform.Transform; pipelines.preprocess.fit_transform(x_train, zca, 0.1))")


def config_for(variant: Variant) -> str:
    """The config name the registry gives ``variant``: the catalog config whose published block is exactly
    this variant (the LS files, the re-hosted copy), else its explicit name."""
    from .. import catalog  # the catalog reads variants: this lives above both

    try:
        for e in catalog.family_entries(variant.family):
            if e.published and variant_of(e.published) == variant:
                return e.config
    except catalog.CatalogError:
        pass
    return variant.config_name()


def source_block(variant: Variant, fitted: dict | None = None) -> dict:
    """``provenance["source"]`` of an imported release: the dataset the authors distilled from.

    Its fingerprint is that of the original data, known only when ``fitted`` (the source the transform
    was fitted on here) is an exact copy; else null.
    """
    src = source_facts.get(variant.dataset)
    exact = bool(fitted and fitted.get("exact_copy"))
    return {
        "name": variant.dataset,
        "origin": "the original dataset as the authors read it (the published file does not record how)",
        "fingerprint_sha256": fitted["fingerprint_sha256"] if exact else None,
        "fingerprint_note": ("the sha256 fingerprint of the exact local copy the transform was fitted on" if exact else
                             "unknown here: no exact copy of the original was at hand (see preprocessing.fitted_on)"),
        "files_sha256": {}, "exact_copy": True,
        "image_shape": list(src.image_shape), "num_classes": src.num_classes, "class_names": list(src.class_names),
        "train_size": src.train_size, "test_size": src.test_size, "licence": src.licence, "homepage": src.homepage,
    }


def release_from_npz(src: str | os.PathLike | bytes, name: str, url: str | None = None, *,
                     variant: Variant | None = None, transform=None, fitted_on: dict | None = None,
                     reported_figures: dict | None = None, resolved_from: str | None = None,
                     overwrite: bool = False) -> Path:
    """Turn a published file into a release in the local store; returns the release folder.

    Args:
      src: the ``.npz`` (path or its bytes) or a folder with ``images.npy`` and ``labels.npy``.
      name: ``family/config`` (``kip_cifar10/ipc10``, ``kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000``);
        the version is :data:`VERSION`.
      url: where it came from (recorded; None for a local file). With bytes from a URL, the file's
        sha256 is checked against its pin, and pinned when it had none (first verified download).
      variant: what the file is; default: parsed from ``url`` or the file name, else from ``name``.
      transform: the fitted :class:`~distilled_registry.transform.Transform` of the authors' preprocessing
        (None: the recipe is recorded, to be fitted later), ``fitted_on``: what it was fitted on
        (``Source.describe()``).
      reported_figures: ``metrics.reported_by_authors`` (default: the catalog's for that config).
      resolved_from: the index a ``final`` checkpoint was resolved through (recorded).

    Only bytes fetched over http(s) count as a download (and may record a pin), whatever their
    origin says: a ``file://`` URL or a path is a local copy, checked against a pin but never pinning.
    Raises:
      PublishedError / PinError: a file that is malformed, does not match the name, or differs from
        its pin; nothing is written then.
    """
    import numpy as np

    from .. import provenance, store
    from .. import release as rel

    rn, e, variant = _resolve(src, name, url, variant)
    arrays, files_sha, sizes, what = read_arrays(src, canonical_url(url) if url else None)
    images, labels = check_arrays(arrays, variant, what)
    if isinstance(src, (bytes, bytearray)) and url:
        files_sha = {Path(urllib.parse.urlparse(url).path).name or "file.npz": next(iter(files_sha.values()))}
        sizes = {next(iter(files_sha)): len(src)}
    downloaded = isinstance(src, (bytes, bytearray)) and is_download(url)
    pin = _pin(variant, files_sha, sizes, downloaded, url)
    class_ids = np.argmax(labels, axis=1).astype(np.int64)
    files = _files(variant, images, labels, class_ids, transform)
    if reported_figures is None and e.published:
        reported_figures = e.published.get("reported")
    now = _now()
    steps = variant.checkpoint if isinstance(variant.checkpoint, int) else None
    origin = {
        "kind": "published",
        "authors": references.AUTHORS,
        "paper": references.PUBLISHED_PAPER[variant.algorithm],
        "url": canonical_url(url) if url else None,
        "original_url": _original_url(variant),
        "bucket": BUCKET_URL,
        "path": variant.bucket_path() if variant.complete and variant.checkpoint != "final" else None,
        "file": (next(iter(files_sha)) if len(files_sha) == 1
                 else (None if isinstance(src, bytes) else Path(src).name)),
        "files_sha256": files_sha,
        "files_size": sizes,
        "downloaded": downloaded,
        "variant": variant.describe(),
        **({"checkpoint_resolved_from": resolved_from} if resolved_from else {}),
        "pin": pin,
        "arrays": "data.npz holds the file's images and labels as published (float32, bit for bit); class_ids is "
                  "the argmax of the published labels (the classes the images started from are not in the file)",
        "imported": now,
        "imported_with": _imported_with(),
    }
    prov = provenance.build(
        variant.family,
        origin=origin,
        source=source_block(variant, _fitted(fitted_on)),
        preprocessing=_preprocessing(variant, transform, fitted_on),
        kernel=variant.kernel(),
        algorithm={"name": variant.algorithm, "paper": references.PUBLISHED_PAPER[variant.algorithm],
                   "support_size": int(len(images)), **({"steps_run": steps} if steps is not None else {}),
                   "labels": variant.describe()["labels"]},
        created=now,
        metrics={"reported_by_authors": reported_figures},
        release={"name": rn.name, "family": rn.family, "config": rn.config, "version": VERSION,
                 **({"catalog_published": e.published} if e.published else {})})
    dest = store.release_dir(rn, VERSION)
    if dest.exists() and not overwrite:
        raise store.StoreConflict(f"{rn.name}:{VERSION} is already in the store at {str(dest)!r}; check it with "
                               f"`distilled-registry verify {rn.name}:{VERSION}` or replace it with --overwrite")
    rel.write_release(dest, files, prov, overwrite=overwrite)
    return dest


def _resolve(src, name: str, url: str | None, variant: Variant | None):
    """``(release name, catalog entry, variant)`` of a file imported as ``name``: the variant given, else the
    one its URL or file name says, else the catalog config's; PublishedUsageError where they disagree."""
    from .. import catalog, names

    rn = names.parse(name)
    if rn.version not in (None, VERSION):
        raise PublishedUsageError(f"published imports are version {VERSION}, not {rn.version}")
    rn = names.ReleaseName(rn.family, rn.config)
    entry_variant = None
    try:
        e = catalog.entry(rn)
        entry_variant = variant_of(e.published)
    except catalog.CatalogError:
        e = None
    if variant is None:
        for text in (url, None if isinstance(src, (bytes, bytearray)) else str(src)):
            if text:
                try:
                    variant = parse_file_name(text, dataset=entry_variant.dataset if entry_variant else None)
                    break
                except PublishedError:
                    continue
    if variant is None:
        variant = entry_variant
    if variant is None:
        which = src if not isinstance(src, bytes) else url
        raise PublishedUsageError(f"cannot tell which published file {which!r} is: "
                             f"neither its name nor {rn.name!r} follows the authors' naming scheme")
    if variant.family != rn.family:
        raise PublishedUsageError(f"{variant.stem()} is a {variant.family} file, not one of {rn.family}")
    if entry_variant is not None:
        _check_compatible(variant, entry_variant, rn.name)
    if e is None:
        raise PublishedUsageError(f"{rn.name} is not a catalog config or a published variant name "
                             f"(e.g. {rn.family}/{variant.config_name()})")
    if not e.published:
        raise PublishedUsageError(f"{rn.name} is a config of this registry's own runs with no published file (the "
                                  f"authors published ConvNet and ConvNet3 sets only); import it as "
                                  f"{rn.family}/{config_for(variant)}")
    return rn, e, variant


def _pin(variant: Variant, files_sha: dict, sizes: dict, downloaded: bool, url: str | None) -> dict:
    """The file's pin (``origin.pin``): checked against the recorded one (PinError when it differs), recorded
    when the file had none and came from a verified download, else noted as unpinned."""
    key = variant.bucket_path() if variant.complete and variant.checkpoint != "final" else \
        f"{variant.dataset}_{variant.stem()}"
    pin = check_pin(key, files_sha)
    if pin["state"] == "unpinned" and downloaded and variant.complete:
        sha = next(iter(files_sha.values()))
        pin = {"key": key, "state": "pinned on this first verified download", "where": "local",
               **record_pin(key, sha, next(iter(sizes.values())), url)}
    elif pin["state"] == "unpinned":
        pin["note"] = ("a local file: checked against no pin (none is recorded for it); pins are recorded on the "
                       "first verified download")
    return pin


def _files(variant: Variant, images, labels, class_ids, transform) -> dict[str, bytes]:
    """The release's files but ``provenance.json``: ``data.npz``, ``transform.npz`` (with a transform), preview."""
    from .. import preview
    from .. import release as rel

    files = {rel.DATA_FILE: rel.data_bytes(images, labels, class_ids)}
    if transform is not None:
        files[rel.TRANSFORM_FILE] = transform.to_bytes()
    if preview.available():
        files["preview.png"] = preview.grid_png(
            [(f"{variant.algorithm.upper()} (published)", images, class_ids)],
            list(source_facts.get(variant.dataset).class_names), per_class=10, labels=[labels],
            title=f"{variant.family} {variant.stem()} (the authors' published set; rows: argmax of its labels)")
    return files


def _preprocessing(variant: Variant, transform, fitted_on: dict | None) -> dict:
    """``provenance["preprocessing"]``: the authors' recipe, and the transform fitted here (or how to fit it)."""
    from .. import release as rel

    out = {"zca": variant.zca, "zca_reg": ZCA_REG if variant.zca else None, "authors_recipe": PREPROCESSING_RECIPE}
    if transform is not None:
        out.update({"file": rel.TRANSFORM_FILE, **transform.params, "fitted_on": _fitted(fitted_on),
                    "note": "fitted here on the training split named in fitted_on; it equals the authors' "
                            "map only as far as that copy equals the data they used"})
    else:
        out["fit_later"] = ("no transform.npz: the source's training split was not at hand. Import again "
                            "with --source-dir to fit the recipe above on it")
    return out


def _imported_with() -> dict:
    import numpy as np

    from .. import __version__, environment

    return {"distilled-registry": __version__, "numpy": np.__version__, "git": environment.git_commit()}


def _original_url(v: Variant) -> str:
    """The file's URL in the authors' bucket; a template where the name leaves a part open."""
    if v.complete and v.checkpoint != "final":
        return BUCKET_URL + v.bucket_path()
    if v.complete:
        return BUCKET_URL + v.bucket_path().replace("{final}", "{K}") + " (K: the last checkpoint of the run)"
    full = dataclasses.replace(v, augmentation=False, checkpoint=0)
    return (BUCKET_URL + full.bucket_path().replace("_noaug_ckpt0", "_{aug|noaug}_ckpt{K}") +
            " (augmentation and checkpoint of this copy are not recorded)")


def _check_compatible(v: Variant, want: Variant, name: str) -> None:
    """Refuse a file whose name contradicts the config it is imported as (unrecorded parts may differ)."""
    fields = ("algorithm", "dataset", "architecture", "ssize", "zca", "learned_labels", "augmentation")
    bad = [f for f in fields
           if getattr(v, f) is not None and getattr(want, f) is not None and getattr(v, f) != getattr(want, f)]
    if isinstance(v.checkpoint, int) and isinstance(want.checkpoint, int) and v.checkpoint != want.checkpoint:
        bad.append("checkpoint")
    if bad:
        raise PublishedUsageError(f"{v.stem()} is not the file {name} names ({want.stem()}): {', '.join(bad)} differ")


def _fitted(fitted_on: dict | None) -> dict | None:
    if not fitted_on:
        return None
    keep = ("name", "origin", "fingerprint_sha256", "exact_copy", "train_size", "test_size", "files_sha256")
    d = {k: fitted_on[k] for k in keep if k in fitted_on}
    d["split"] = "train"
    if not d.get("exact_copy", True):
        d["note"] = "NOT an exact copy of the original pixels: the rebuilt transform approximates the authors'"
    return d


def download_published(name: str, base: str | None = None, get=None) -> dict:
    """Download the published file of ``name`` (a catalog config or an explicit variant name) from the bucket
    (or the mirror at ``base`` / ``$DISTILLED_REGISTRY_PUBLISHED_URL``); nothing is checked or written yet.

    ``final`` checkpoints are resolved through the authors' index (once, then pinned). Returns the keyword
    arguments of :func:`release_from_npz`: ``{"src": bytes, "name", "url", "variant", "reported_figures",
    "resolved_from"}``. ``get``: ``url -> bytes`` to download with (default
    :func:`download`; a TFDS builder can pass one reading through its download manager).
    """
    from .. import catalog, names

    rn = names.parse(name)
    e = catalog.entry(rn)
    v = variant_of(e.published)
    if v is None:
        raise PublishedUsageError(f"{e.name} has no published file (the authors published ConvNet and ConvNet3 KIP and "
                             "LS sets only); `distilled-registry regenerate` makes it from its spec")
    if not v.complete:
        raise PublishedUsageError(f"{e.name} does not record augmentation and checkpoint, so it has no bucket URL; "
                             "import a local copy with `distilled-registry import-published PATH --name NAME`")
    resolved_from = None
    rep = (e.published or {}).get("reported")
    if v.checkpoint == "final" and (e.published or {}).get("path"):  # resolved and pinned in the records
        v = parse_file_name(e.published["path"])
    if v.checkpoint == "final":
        v, rep_final = resolve_final(v, base, get)
        resolved_from = base_url(base) + INDEX["kip"]
        rep = rep or rep_final
    elif v.algorithm == "kip" and rep is None:
        rep = reported_from_index(v, base, get)
    url = base_url(base) + v.bucket_path()
    return {"src": (get or download)(url), "name": e.name, "url": url, "variant": v, "reported_figures": rep,
            "resolved_from": resolved_from}


def reported_from_index(v: Variant, base: str | None = None, get=None) -> dict | None:
    """The authors' figures for a KIP file with an explicit checkpoint, from their index; None when unreadable."""
    try:
        rows, iurl, isha = read_index("kip", base, get)
    except (UserError, OSError):
        return None  # the figures are a bonus; the file is what was asked for
    found = index_rows(v, rows)
    return reported(found[0], iurl, isha) if found else None


def fetch(name: str, base: str | None = None, *, transform=None, fitted_on: dict | None = None,
          overwrite: bool = False, get=None) -> Path:
    """Download, check, pin and import the published file of ``name``; returns its release folder in the store.

    What a builder calls when a published config is not in the store (``base``: its URL base; ``get``:
    ``url -> bytes``, e.g. through its download manager). A file whose sha256 differs from its pin
    raises :class:`PinError` and nothing is written.
    """
    kw = download_published(name, base, get)
    return release_from_npz(**kw, transform=transform, fitted_on=fitted_on, overwrite=overwrite)
