"""``distilled-registry import-published``: the authors' published KIP / LS files into the local store.

    distilled-registry import-published kip_cifar10/ipc10                  # download from the bucket, pin, import
    distilled-registry import-published https://storage.googleapis.com/kip-datasets/ls/cifar10/ConvNet_ssize100_zca.npz
    distilled-registry import-published ConvNet_ssize100_zca_l_noaug_ckpt1000.npz --dataset cifar10
    distilled-registry import-published DIR/cifar10_ConvNet_ssize100_zca_l --source-dir CIFAR10_DIR

With ``--source-dir`` (the source's local files) the authors' preprocessing is fitted on its training
split and saved as the release's ``transform.npz``; this is the one part that uses
``distilled_registry.pipelines`` (source readers and the ZCA fit), imported inside the handler.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from . import names, published


def add_import_parser(sub) -> None:
    p = sub.add_parser("import-published",
                       help="turn the authors' published KIP / LS file (.npz, images.npy + labels.npy folder, URL, or "
                            "a catalog NAME to download) into a release in the local store")
    p.add_argument("target", metavar="FILE|FOLDER|URL|NAME",
                   help="a published .npz (file or URL), a folder of them, or a catalog name whose published file "
                        "to fetch")
    p.add_argument("--name", default=None,
                   help="FAMILY/CONFIG to store it as (default: from the file name, e.g. "
                        "kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000, or the LS catalog config)")
    p.add_argument("--dataset", default=None, choices=sorted(published.DATASETS),
                   help="the dataset, when the file name does not say (a bare bucket file name)")
    p.add_argument("--source-dir", default=os.environ.get("DISTILLED_REGISTRY_SOURCE_DIR"),
                   help="the source's local files: fit the authors' preprocessing on its training split into "
                        "transform.npz (default: $DISTILLED_REGISTRY_SOURCE_DIR; without it the recipe is recorded, "
                        "to fit later)")
    p.add_argument("--base-url", default=None,
                   help=f"bucket URL base for NAME (default ${published.URL_ENV}, else {published.BUCKET_URL})")
    p.add_argument("--overwrite", action="store_true", help="replace the release if it is already in the store")
    p.add_argument("--record", action="store_true",
                   help="maintainers: also pin the file's sha256 in the catalog file (after a verified download)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_import_published)


def _looks_like_url(text: str) -> bool:
    return bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", text))


def plan(a: argparse.Namespace) -> dict:
    """What to import, before anything heavy: keyword arguments of ``published.release_from_npz``."""
    t = a.target
    if _looks_like_url(t) and urllib.parse.urlparse(t).scheme == "file":
        # a file:// URL names a local copy: imported as that file (never a download, never pinned)
        t = urllib.request.url2pathname(urllib.parse.urlparse(t).path)
        if not Path(t).exists():
            raise published.PublishedUsageError(f"no file or folder at {a.target!r}")
    if _looks_like_url(t):
        v = published.parse_file_name(t, dataset=a.dataset)
        name = a.name or f"{v.family}/{published.config_for(v)}"
        kw = {"src": published.download(t), "name": name, "url": t, "variant": v if a.name is None else None,
              "downloaded": True}
        if v.algorithm == "kip" and isinstance(v.checkpoint, int):
            base = t[: -len(v.bucket_path())] if t.endswith(v.bucket_path()) else None
            kw["reported_figures"] = published.reported_from_index(v, base) if base else None
        return kw
    if Path(t).expanduser().exists():
        path = Path(t).expanduser()
        if a.name is None:
            v = published.parse_file_name(str(path), dataset=a.dataset)
            name = f"{v.family}/{published.config_for(v)}"
        else:
            name, v = a.name, None
        return {"src": path, "name": name, "url": None}
    if t.startswith(("/", ".", "~")) or t.endswith((".npz", ".npy")):
        raise published.PublishedUsageError(f"no file or folder at {t!r}")
    if a.name:
        raise published.PublishedUsageError("--name goes with a FILE or URL; a NAME is stored under itself")
    return published.download_published(t, a.base_url)


def cmd_import_published(a: argparse.Namespace) -> int:
    kw = plan(a)
    from . import catalog

    variant = kw.get("variant") or published.variant_of(catalog.entry(names.parse(kw["name"])).published)
    transform = fitted_on = None
    if a.source_dir and variant is not None:
        from .pipelines import preprocess, sources

        src = sources.load_source(variant.dataset, a.source_dir)
        transform = preprocess.fit_transform(src.x_train, variant.zca, published.ZCA_REG, fitted_on=src.fingerprint)
        fitted_on = src.describe()
    path = published.release_from_npz(**kw, transform=transform, fitted_on=fitted_on, overwrite=a.overwrite)
    from . import release as rel

    prov = rel.read_provenance(path)
    o = prov["origin"]
    recorded = published.record_in_catalog(path) if a.record else None
    if a.json:
        print(json.dumps({"path": str(path), "release": f"{prov['release']['name']}:{prov['release']['version']}",
                          "origin": o, "preprocessing": prov["preprocessing"], "recorded": recorded}, indent=2))
        return 0
    fit = prov["preprocessing"].get("fitted_on")
    print(f"imported {prov['release']['name']}:{prov['release']['version']} into {path}")
    print(f"  from {o['url'] or o['file']}: {prov['algorithm']['support_size']} images; "
          + ", ".join(f"{n} sha256 {s}" for n, s in o["files_sha256"].items()))
    print(f"  pin: {o['pin']['state']}")
    if fit:
        print(f"  transform.npz: the authors' preprocessing ({'ZCA' if prov['preprocessing']['zca'] else 'standardisation'}) "
              f"fitted on the training split of {fit['name']} from {fit['origin']}"
              + ("" if fit.get("exact_copy", True) else " (NOT an exact copy of the original: an approximation)"))
    else:
        print(f"  transform: not fitted (no --source-dir); recipe recorded: {prov['preprocessing']['authors_recipe'][:80]}...")
    rep = prov["metrics"].get("reported_by_authors") or {}
    if rep.get("test_accuracy") is not None:
        print(f"  reported by the authors: test accuracy {rep['test_accuracy']:.4f}")
    if recorded:
        print(f"  pinned in the catalog: {recorded['path']} sha256 {recorded['sha256']}")
    return 0
