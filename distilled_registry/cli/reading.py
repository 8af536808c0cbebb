"""The commands that only read: ``list``, ``info``, ``verify`` (numpy and JSON; no JAX; each takes ``--json``).

``verify --accuracy`` is the one exception: it recomputes the KRR test accuracy, importing the
pipelines inside its handler.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from .. import api, catalog, escape, names, references, store
from .. import release as rel
from ..errors import UsageError
from ..provenance import Provenance
from .arguments import add_json, add_source_dir, add_target, pct, target
from .option_types import option


def add(sub) -> None:
    """Add list, info and verify to the CLI's subparsers."""
    p = sub.add_parser("list", help="every catalog family and config, its paper figure, and what is stored locally")
    add_json(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="spec, paper figure, recorded and local releases of NAME (family/config or family)")
    p.add_argument("name", help="a family (kip_digits) or family/config (kip_digits/ipc10)")
    add_json(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", help="recompute the sha256 of every file of a release (NAME[:VERSION] in the store, or PATH)")
    add_target(p)
    p.add_argument("--accuracy", action="store_true",
                   help="also recompute the KRR test accuracy (the release's kernel, the source's test split) and "
                        "hold it against the provenance's figure (imports: the authors' figure)")
    p.add_argument("--tolerance", type=option("real", "--tolerance", low=0, high=1), default=None,
                   help="with --accuracy: largest accepted absolute difference (default 0.005)")
    add_source_dir(p, "with --accuracy", from_env=True)
    add_json(p)
    p.set_defaults(func=cmd_verify)


def _one_line(text: str) -> str:
    from . import _one_line as one_line

    return one_line(text)


def _out(text: str) -> None:
    """Print one line of text that may hold values from a release: control characters shown as escapes
    (:func:`distilled_registry.escape.terminal`), so nothing read from a file can drive the terminal."""
    print(escape.terminal(text))


def _kernel_text(k: dict) -> str:
    return f"{k['architecture']} d{k['depth']} {k.get('get', 'ntk')}" + ("" if k.get("impl", "nt") == "nt" else f" ({k['impl']})")


def _labels_text(spec: dict) -> str:
    return "solved" if spec["algorithm"] == "ls" else ("learned" if spec.get("learn_labels") else "one-hot")


def cmd_list(a: argparse.Namespace) -> int:
    rows = api.list_releases()
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = ("name", "version", "kernel", "zca", "labels", "steps", "paper", "published", "local")
    table = [head]
    for r in rows:
        if not r["catalog"]:
            table.append((r["name"], "-", "(not in the catalog)", "", "", "", "", "", ",".join(r["local"])))
            continue
        s = r["spec"]
        if s is None:  # a published variant in the store, named explicitly (published.py)
            v = r["published"]["variant"]
            table.append((r["name"], r["version"], f"{v['architecture'].lower()} d3 ntk", "yes" if v["zca"] else "no",
                          v["labels"].split(" ")[0], "-", "-", _published_text(r["published"]),
                          ",".join(r["local"]) or "-"))
            continue
        table.append((r["name"], r["version"], _kernel_text(s["kernel"]), "yes" if s["zca"] else "no",
                      _labels_text(s), str(s["steps"]) if s["algorithm"] == "kip" else "-",
                      pct(r["paper"].get("krr_test_accuracy")), _published_text(r.get("published")),
                      ",".join(r["local"]) or "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        _out("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    n_fam = len({r["family"] for r in rows})
    print()
    _out(f"{len(rows)} releases in {n_fam} families; paper: the paper's KRR test accuracy ('-': not reported "
          f"or not sourced, see `info NAME`); local: versions in {store.home()}")
    _out("published: the authors' file the config points at (final: the last checkpoint, read from their index), "
          "fetched by `import-published NAME` as version 0.1.0; sha256 pinned on the first verified download. Every "
          "other published KIP file: NAME = <family>/ipc<I>-<convnet|convnet3>-<zca|nozca>-<l|nol>-<aug|noaug>-"
          "<ckpt<K>|final>, e.g. kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000")
    for r in rows:  # stored versions that are not the release their folder names: never loaded, say why
        for v, problem in r.get("problems", {}).items():
            _out(f"PROBLEM {r['name']}:{v}: {_one_line(problem)}")
    return 0


def _published_text(p: dict | None) -> str:
    """The ``published`` column of ``list``: which file, and whether its sha256 is pinned in the records."""
    if not p:
        return "-"
    v = p["variant"]
    what = "ls" if v["algorithm"] == "ls" else (
        f"ckpt{v['checkpoint']}" if isinstance(v.get("checkpoint"), int) else (v.get("checkpoint") or "copy"))
    return what + (" pinned" if p.get("sha256") else "")


def _print_entry(d: dict) -> None:
    if not d.get("catalog"):
        _out(f"{d['name']} (not in the catalog)")
    else:
        s = d["spec"] or {}
        _out(f"{d['name']} (catalog version {d['version']}): {d['description']}")
        spec_items = ", ".join(f"{k} {json.dumps(v) if isinstance(v, dict) else v}" for k, v in s.items())
        _out(f"  spec: {spec_items or 'none: a published file, nothing to regenerate'}")
        _print_published(d.get("published"), d["name"])
        _out(f"  settings: {d['settings']}")
        p = d["paper"]
        if p.get("krr_test_accuracy") is None:
            _out(f"  paper: {p.get('note', 'not reported')}")
        else:
            _out(f"  paper: KRR test accuracy {pct(p['krr_test_accuracy'])} ({p.get('note', '')}; "
                  f"{references.REFERENCES.get(p.get('reference'), p.get('reference'))})")
        if d["releases"]:
            for v, r in d["releases"].items():
                _out(f"  recorded {v}: {r['location']}, data.npz sha256 {r['data_sha256']}, KRR test accuracy "
                      f"{r['metrics'].get('krr_test_accuracy')}")
        else:
            _out("  recorded releases: none yet")
    if d["local"]:
        for lv in d["local"]:
            if "problem" in lv:
                _out(f"  local {lv['version']}: {lv['path']}: {_one_line(lv['problem'])}")
            elif "krr_test_accuracy" not in lv["metrics"]:  # an imported published file
                m = lv["metrics"]
                rep = (m.get("reported_by_authors") or {}).get("test_accuracy")
                ours = m.get("krr_evaluation") or {}
                _out(f"  local {lv['version']}: {lv['path']} (imported {lv['created']}): the authors' published file; "
                      f"reported test accuracy {'-' if rep is None else f'{rep:.4f}'}" +
                      (f"; measured here {ours['accuracy']:.4f} on {ours['recipe']['test_size']} test images" +
                       ("" if (ours.get("source") or {}).get("exact_copy", True) else
                        f" of {ours['source'].get('origin')} (not an exact copy)") if "accuracy" in ours else ""))
            else:
                m = lv["metrics"]
                _out(f"  local {lv['version']}: {lv['path']} (created {lv['created']}): KRR test accuracy "
                      f"{m['krr_test_accuracy']:.4f}, natural {m['natural_krr_test_accuracy']:.4f}")
    else:
        _out(f"  local: none in {store.home()}")


def _print_published(p: dict | None, name: str) -> None:
    if not p:
        return
    where = p.get("url") or p.get("url_template") or p.get("note", "")
    rule = f" ({p['checkpoint_rule']})" if p.get("checkpoint_rule") else ""
    sha = f"sha256 {p['sha256']} (pinned in the records file)" if p.get("sha256") else f"sha256 {p.get('pin', 'unknown')}"
    _out(f"  published: {where}{rule}; {sha}; `distilled-registry import-published {name}` fetches it as "
          f"{name}:{p.get('version')}")
    r = p.get("reported")
    if r and r.get("test_accuracy") is not None:
        _out(f"  reported by the authors: test accuracy {r['test_accuracy']:.4f} ({r.get('index')})")


def cmd_info(a: argparse.Namespace) -> int:
    d = api.info(a.name)
    if a.json:
        print(json.dumps(d, indent=2))
        return 0
    for e in d["configs"] if "configs" in d else [d]:
        _print_entry(e)
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    if a.tolerance is not None and not (a.accuracy and 0 <= a.tolerance <= 1):
        raise UsageError(f"--tolerance {a.tolerance} must go with --accuracy and be between 0 and 1 (an absolute "
                         "accuracy difference)")
    path, label = target(a.target, a.version)
    checks = rel.verify(path)
    record = rel.read_provenance(path)
    p = Provenance.from_valid(record)
    r, catalog_check = p.release, _catalog_check(p)
    from .. import published

    pin_check = published.pin_status(record)  # an imported published file: its sha256 against its pin
    bad = [c for c in checks if not c.ok]
    ok = not bad and (catalog_check is None or catalog_check["ok"]) and (pin_check is None or pin_check["ok"])
    accuracy = _check_accuracy(a, path) if ok and a.accuracy else None
    ok = ok and (accuracy is None or accuracy["within"])
    if a.json:
        print(json.dumps({"target": a.target, "path": str(path), "release": label or (r and r.name), "ok": ok,
                          "files": [dataclasses.asdict(c) | {"ok": c.ok} for c in checks],
                          "catalog": catalog_check, "published_pin": pin_check, "accuracy": accuracy}, indent=2))
    else:
        _out(f"verify {path}" + (f" ({label})" if label else (f" ({r.name}:{r.version})" if r else "")))
        for c in checks:
            _out(f"  {'ok ' if c.ok else 'BAD'}  {c.name}: " +
                  (f"{c.size} bytes, sha256 {c.sha256}" if c.ok else c.problem))
        if catalog_check:
            _out(f"  {'ok ' if catalog_check['ok'] else 'BAD'}  data.npz sha256 "
                  f"{'matches' if catalog_check['ok'] else 'differs from'} the catalog's record for "
                  f"{r.name}:{r.version} ({catalog_check['data_sha256']})")
        if pin_check:
            _out(f"  {'ok ' if pin_check['ok'] else 'BAD'}  original file {pin_check['key']}: " +
                  (pin_check["state"] if pin_check["ok"] else pin_check["problem"]))
        if accuracy:
            _out(f"  {'ok ' if accuracy['within'] else 'BAD'}  KRR test accuracy recomputed {accuracy['recomputed']:.4f} "
                  f"on {accuracy['test_size']} test images; claimed {accuracy['claimed']:.4f} by "
                  f"{accuracy['claimed_by']}; difference {accuracy['diff']:+.4f}, tolerance {accuracy['tolerance']:g}")
        if ok:
            _out(f"all {len(checks)} files match the sha256 and size in provenance.json"
                  + (" and the KRR test accuracy is as claimed" if accuracy else ""))
    if not ok:
        what = [f"{c.name} ({c.problem})" for c in bad]
        if catalog_check and not catalog_check["ok"]:
            what.append("data.npz (sha256 differs from the catalog's record)")
        if pin_check and not pin_check["ok"]:
            what.append(f"the original file's sha256 differs from its pin ({pin_check['key']})")
        if accuracy and not accuracy["within"]:
            what.append(f"its KRR test accuracy recomputes to {accuracy['recomputed']:.4f}, not the claimed "
                        f"{accuracy['claimed']:.4f} (tolerance {accuracy['tolerance']:g}): a wrong file was published "
                        "under this name, or the source copy differs")
        raise rel.ReleaseError(f"{str(path)!r} failed verification: {'; '.join(what)}")
    return 0


def _catalog_check(p: Provenance) -> dict | None:
    """The release's data.npz sha256 against the catalog's record for its name and version (None: no record)."""
    if p.release is None:
        return None
    try:
        recorded = catalog.entry(p.release.name).releases.get(p.release.version)
    except (catalog.CatalogError, names.BadNameError):
        return None
    if not recorded:
        return None
    found = p.files[rel.DATA_FILE].sha256
    return {"data_sha256": recorded["data_sha256"], "ok": found == recorded["data_sha256"]}


def _check_accuracy(a: argparse.Namespace, path: Path) -> dict:
    """``verify --accuracy``: the release's KRR test accuracy recomputed and held against its claim."""
    from ..pipelines import evaluation

    tol = evaluation.ACCURACY_TOL if a.tolerance is None else a.tolerance  # checked by cmd_verify, before the work
    return evaluation.check_accuracy(path, a.source_dir, tol)
