"""The commands that publish: ``import-published``, ``export-hf``, ``push``, ``builders``.

- ``import-published TARGET``: the authors' published KIP / LS file (a NAME to download from their
  bucket, a URL, an ``.npz``, a folder of ``images.npy`` and ``labels.npy``) into the local store;
  with ``--source-dir`` their preprocessing is fitted on the source's training split into
  ``transform.npz`` (the one part that uses the pipelines: source readers and the ZCA fit).
- ``export-hf FAMILY --out DIR``: the Hugging Face repository layout of a family (parquet per config,
  dataset card), from the releases in the local store; no network.
- ``push FAMILY --repo-id ORG/NAME``: export and upload with ``huggingface_hub`` (the token comes
  from ``$HF_TOKEN`` or ``hf auth login``; it is never printed or written).
- ``builders``: write each family's TFDS dataset folder (``builders/<family>/``) from the catalog;
  ``--check`` lists the files that differ and fails.

They import ``distilled_registry.builders`` (and, for ``--source-dir``, the pipelines) inside their
handlers only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from .. import names, published, records
from .arguments import add_json, add_source_dir
from .option_types import option


def add(sub) -> None:
    """Add import-published, export-hf, push and builders to the CLI's subparsers."""
    p = sub.add_parser("import-published",
                       help="turn the authors' published KIP / LS file (.npz, images.npy + labels.npy folder, URL, or "
                            "a catalog NAME to download) into a release in the local store")
    p.add_argument("target", metavar="FILE|FOLDER|URL|NAME",
                   help="a published .npz (file or URL), a folder of them, or a catalog name whose published file "
                        "to fetch")
    p.add_argument("--name", default=None,
                   help="FAMILY/CONFIG to store it as (default: from the file name, e.g. "
                        "kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000, or the LS catalog config)")
    p.add_argument("--dataset", default=None, choices=sorted(published.SUPPORT_SIZES),
                   help="the dataset, when the file name does not say (a bare bucket file name)")
    add_source_dir(p, "fit the authors' preprocessing on its training split into transform.npz (without it the "
                      "recipe is recorded, to fit later)", from_env=True)
    p.add_argument("--base-url", default=None,
                   help=f"bucket URL base for NAME (default ${published.URL_ENV}, else {published.BUCKET_URL})")
    p.add_argument("--overwrite", action="store_true", help="replace the release if it is already in the store")
    p.add_argument("--record", action="store_true",
                   help="maintainers: also pin the file's sha256 for everyone in the records file (after a verified "
                        "download)")
    add_json(p)
    p.set_defaults(func=cmd_import_published)

    p = sub.add_parser("export-hf", help="write FAMILY's Hugging Face dataset repository (parquet per config, "
                                         "dataset card) from the local store into DIR; no network")
    p.add_argument("family", metavar="FAMILY", help="a catalog family, e.g. kip_digits (`distilled-registry list`)")
    p.add_argument("--out", required=True, metavar="DIR", type=option("path", "--out"), help="folder to create")
    p.add_argument("--configs", default=None, help="comma-separated configs (default: every one in the store)")
    p.add_argument("--repo-id", default=None, help="ORG/NAME the card's usage snippets name")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is an earlier export-hf folder")
    add_json(p)
    p.set_defaults(func=cmd_export_hf)

    p = sub.add_parser("push", help="export FAMILY and upload it to the Hugging Face Hub as dataset ORG/NAME")
    p.add_argument("family", metavar="FAMILY", help="a catalog family, e.g. kip_digits (`distilled-registry list`)")
    p.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="the dataset repository on the Hub")
    p.add_argument("--folder", default=None, type=option("path", "--folder"), help="upload this export-hf folder instead of exporting afresh")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; upload nothing")
    add_json(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("builders", help="write each family's TFDS dataset folder (builder module and test, "
                                        "dummy_data, README.md, CITATIONS.bib, TAGS.txt, checksums.tsv) from the "
                                        "catalog")
    p.add_argument("--check", action="store_true", help="write nothing; fail if a file differs from the catalog's")
    p.add_argument("--out", default=None, metavar="DIR", type=option("path", "--out"),
                   help="the folder to hold the family folders (default: builders/ of this source checkout; "
                        "required when the package is installed, so that site-packages is never written into); "
                        "each family folder must be new or an earlier `builders` folder")
    add_json(p, "print the files written (or, with --check, stale) as JSON")
    p.set_defaults(func=cmd_builders)


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
        kw = {"src": published.download(t), "name": name, "url": t, "variant": v if a.name is None else None}
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
    from .. import catalog

    variant = kw.get("variant") or published.variant_of(catalog.entry(names.parse(kw["name"])).published)
    transform = fitted_on = None
    if a.source_dir and variant is not None:
        from ..pipelines import preprocess, sources

        src = sources.load_source(variant.dataset, a.source_dir)
        transform = preprocess.fit_transform(src.x_train, variant.zca, published.ZCA_REG, fitted_on=src.fingerprint)
        fitted_on = src.describe()
    path = published.release_from_npz(**kw, transform=transform, fitted_on=fitted_on, overwrite=a.overwrite)
    from .. import release as rel

    prov = rel.read_provenance(path)
    o = prov["origin"]
    recorded = published.record_shared(path) if a.record else None
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
        print(f"  pinned for everyone in {records.path()}: {recorded['path']} sha256 {recorded['sha256']}")
    return 0


def cmd_export_hf(a: argparse.Namespace) -> int:
    from ..builders import huggingface_export, huggingface_push

    if a.repo_id is not None:
        huggingface_push.check_repo_id(a.repo_id)  # the card's snippets name it: checked as push checks it
    configs = [c.strip() for c in a.configs.split(",") if c.strip()] if a.configs else None
    ex = huggingface_export.export_family(a.family, a.out, configs=configs, repo_id=a.repo_id, overwrite=a.overwrite)
    if a.json:
        print(json.dumps({"family": ex.family, "out": str(ex.out), "files": ex.files, "missing": ex.missing,
                          "configs": [{"config": c.config, "version": c.version, "release": str(c.path),
                                       "num_examples": c.num_examples} for c in ex.configs]}, indent=2))
        return 0
    print(f"wrote {ex.out}: {len(ex.files)} files")
    for c in ex.configs:
        print(f"  {c.config}: {c.num_examples} images from {c.path} ({', '.join(c.files)})")
    if ex.missing:
        print(f"  not in the store, left out: {', '.join(ex.missing)} "
              f"(`distilled-registry regenerate {ex.family}/{ex.missing[0]}` makes one)")
    print(f"  load it: datasets.load_dataset({str(ex.out)!r}, {ex.configs[0].config!r}, split='train')")
    return 0


def cmd_push(a: argparse.Namespace) -> int:
    from ..builders import huggingface_push

    r = huggingface_push.push(a.family, a.repo_id, folder=a.folder, private=a.private, revision=a.revision,
                              dry_run=a.dry_run)
    if a.json:
        print(json.dumps({"repo_id": r.repo_id, "files": r.files, "uploaded": r.uploaded,
                          "commit_url": r.commit_url}, indent=2))
        return 0
    verb = "uploaded" if r.uploaded else "would upload (dry run)"
    print(f"{verb} {len(r.files)} files to https://huggingface.co/datasets/{r.repo_id}")
    for f in r.files:
        print(f"  {f}")
    if r.commit_url:
        print(f"  commit: {r.commit_url}")
    return 0


def cmd_builders(a: argparse.Namespace) -> int:
    import sys

    from ..builders import builder_folders
    from ..errors import UsageError

    if a.out is not None and os.path.lexists(a.out) and not os.path.isdir(a.out):
        raise UsageError(f"--out {a.out!r} is not a folder; give a folder (it is made when missing)")
    # --check only reads: the package's own folders unless --out names others; writing needs a checkout or --out
    root = Path(a.out) if a.out is not None else (builder_folders.BUILDERS_DIR if a.check else
                                                  builder_folders.default_root())
    if a.json:
        if a.check:
            files = builder_folders.expected(root)  # made once: each making writes every family's dummy release
            stale = [str(p) for p in builder_folders.stale(root, files)]
            print(json.dumps({"checked": len(files), "stale": stale}, indent=2))
            return 1 if stale else 0
        print(json.dumps({"written": [str(p) for p in builder_folders.write(root)]}, indent=2))
        return 0
    if a.check:
        files = builder_folders.expected(root)
        stale = builder_folders.stale(root, files)
        if stale:
            print("these builder files differ from what the catalog gives; run `distilled-registry builders`:",
                  file=sys.stderr)
            for p in stale:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"all {len(files)} builder files under {root} match the catalog")
        return 0
    changed = builder_folders.write(root)
    print(f"wrote {len(changed)} file(s) under {root}" + "".join(f"\n  {p}" for p in changed))
    return 0
