"""The loader subcommands of ``distilled-registry``: export-hf, push, builders.

- ``export-hf FAMILY --out DIR``: the Hugging Face repository layout of a family (parquet per config,
  dataset card), from the releases in the local store; no network.
- ``push FAMILY --repo-id ORG/NAME``: export and upload with ``huggingface_hub`` (the token comes
  from ``$HF_TOKEN`` or ``hf auth login``; it is never printed or written).
- ``builders``: write each family's TFDS dataset folder (``builders/<family>/``) from the catalog;
  ``--check`` lists the files that differ and fails.

They import ``distilled_registry.builders`` inside their handlers only.
"""

from __future__ import annotations

import argparse
import json


def add_builder_commands(sub) -> None:
    """Add export-hf, push and builders to the CLI's subparsers."""
    p = sub.add_parser("export-hf", help="write FAMILY's Hugging Face dataset repository (parquet per config, "
                                         "dataset card) from the local store into DIR; no network")
    p.add_argument("family", metavar="FAMILY", help="a catalog family, e.g. kip_digits (`distilled-registry list`)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to create")
    p.add_argument("--configs", default=None, help="comma-separated configs (default: every one in the store)")
    p.add_argument("--repo-id", default=None, help="ORG/NAME the card's usage snippets name")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is an earlier export-hf folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_export_hf)

    p = sub.add_parser("push", help="export FAMILY and upload it to the Hugging Face Hub as dataset ORG/NAME")
    p.add_argument("family", metavar="FAMILY", help="a catalog family, e.g. kip_digits (`distilled-registry list`)")
    p.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="the dataset repository on the Hub")
    p.add_argument("--folder", default=None, help="upload this export-hf folder instead of exporting afresh")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; upload nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("builders", help="write each family's TFDS dataset folder (README.md, CITATIONS.bib, "
                                        "TAGS.txt, checksums.tsv, builder module and test) from the catalog")
    p.add_argument("--check", action="store_true", help="write nothing; fail if a file differs from the catalog's")
    p.add_argument("--json", action="store_true", help="print the files written (or, with --check, stale) as JSON")
    p.set_defaults(func=cmd_builders)


def cmd_export_hf(a: argparse.Namespace) -> int:
    from .builders import huggingface_export, huggingface_push

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
    from .builders import huggingface_push

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

    from .builders import builder_folders

    if a.json:
        import json

        if a.check:
            stale = [str(p) for p in builder_folders.stale()]
            print(json.dumps({"checked": len(builder_folders.expected()), "stale": stale}, indent=2))
            return 1 if stale else 0
        print(json.dumps({"written": [str(p) for p in builder_folders.write()]}, indent=2))
        return 0
    if a.check:
        stale = builder_folders.stale()
        if stale:
            print("these builder files differ from what the catalog gives; run `distilled-registry builders`:",
                  file=sys.stderr)
            for p in stale:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"all {len(builder_folders.expected())} builder files match the catalog")
        return 0
    changed = builder_folders.write()
    print(f"wrote {len(changed)} file(s) under {builder_folders.BUILDERS_DIR}" +
          "".join(f"\n  {p}" for p in changed))
    return 0
