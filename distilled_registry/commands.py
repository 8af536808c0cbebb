"""The registry's subcommands of ``distilled-registry``: list, info, verify, regenerate, rerun, plan.

``list``, ``info`` and ``verify`` only read (numpy and JSON; no JAX) and take ``--json``.
``regenerate``, ``rerun`` and ``plan`` compute: they import ``distilled_registry.pipelines`` inside
their handler, the one place the CLI wires the pipelines in.

Exit codes (``errors.py``): 0 success; 2 a bad command line (a malformed or unknown name, a path
that is no release folder, an option out of range); 1 a runtime failure: a release that fails
verification (the message names each bad file), a store folder that is damaged, and ``rerun``
finding metrics that differ beyond the stated tolerance.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import sys
import tempfile
from pathlib import Path

from . import api, catalog, names, store
from . import release as rel
from .errors import UsageError, UserError

ACC_TOL = 1e-3   # rerun: absolute tolerance on accuracies (a tenth of a percentage point)
MSE_RTOL = 1e-2  # rerun: relative tolerance on mean squared errors
PLAN_TILE = 8
PLAN_MEASURE_TILE = 2
PLAN_MEASURE_BUDGET_S = 2.0  # time the planned tile itself when it is estimated to take no longer


def add_commands(sub) -> None:
    """Add the registry subcommands to the CLI's subparsers."""
    p = sub.add_parser("list", help="every catalog family and config, its paper figure, and what is stored locally")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="spec, paper figure, recorded and local releases of NAME (family/config or family)")
    p.add_argument("name", help="a family (kip_digits) or family/config (kip_digits/ipc10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", help="recompute the sha256 of every file of a release (NAME[:VERSION] in the store, or PATH)")
    p.add_argument("target", metavar="NAME|PATH",
                   help="a release in the store (family/config[:version]) or a release folder")
    p.add_argument("--version", default=None, help="with NAME: which version (default: the newest in the store)")
    p.add_argument("--accuracy", action="store_true",
                   help="also recompute the KRR test accuracy (the release's kernel, the source's test split) and "
                        "hold it against the provenance's figure (imports: the authors' figure)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="with --accuracy: largest accepted absolute difference (default 0.005)")
    p.add_argument("--source-dir", default=os.environ.get("DISTILLED_REGISTRY_SOURCE_DIR"),
                   help="with --accuracy: the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("regenerate", help="run NAME's catalog spec and put the release into the local store")
    p.add_argument("name", metavar="NAME", help="a catalog config with a spec, e.g. kip_digits/ipc10")
    _add_run_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace that version if it is already in the store")
    p.add_argument("--record", action="store_true",
                   help="also record the release (store location, sha256, metrics) in the catalog file "
                        f"(${catalog.CATALOG_ENV} or the packaged catalog.json): for maintainers")
    p.add_argument("--json", action="store_true", help="print the release written (path, metrics, files) as JSON")
    p.set_defaults(func=cmd_regenerate)

    p = sub.add_parser("rerun", help="run a release's own provenance again; print recorded vs new metrics")
    p.add_argument("target", metavar="PATH|NAME",
                   help="a release folder, or a release in the store (family/config[:version])")
    p.add_argument("--version", default=None, help="with NAME: which version (default: the newest)")
    _add_run_args(p)
    p.add_argument("--acc-tol", type=float, default=ACC_TOL,
                   help=f"largest accepted absolute difference of an accuracy (default {ACC_TOL})")
    p.add_argument("--mse-rtol", type=float, default=MSE_RTOL,
                   help=f"largest accepted relative difference of a mean squared error (default {MSE_RTOL})")
    p.add_argument("--out", default=None, help="keep the new release here (default: a temporary folder, removed)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_rerun)

    from .pipelines.limits import MAX_TILE, MAX_WORKERS  # plain numbers: no JAX

    p = sub.add_parser("plan", help="kernel entries, tiles and estimated hours of NAME's spec on N workers")
    p.add_argument("name", metavar="NAME", help="a catalog config with a spec, e.g. kip_cifar10/ipc10")
    p.add_argument("--workers", type=int, default=1,
                   help=f"workers computing tiles, 1..{MAX_WORKERS} (perfect scaling assumed)")
    p.add_argument("--tile", type=int, default=PLAN_TILE,
                   help=f"planned tile: TILE x TILE entries, TILE at most {MAX_TILE} (default {PLAN_TILE})")
    p.add_argument("--measure-tile", type=int, default=PLAN_MEASURE_TILE,
                   help=f"tile timed here to get the per-entry cost, at most {MAX_TILE} "
                        f"(default {PLAN_MEASURE_TILE}x{PLAN_MEASURE_TILE})")
    p.add_argument("--impl", choices=["nt", "fast"], default=None, help="kernel implementation (default: the spec's)")
    p.add_argument("--steps", type=int, default=None, help="KIP steps, >= 0 (default: the spec's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plan)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    from .pipelines.limits import MAX_TILE, MAX_WORKERS  # plain numbers: no JAX

    p.add_argument("--source-dir", default=None,
                   help="folder with the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR, except for "
                        "digits; without it, tfds downloads)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where kernel tiles are computed: this process, or Ray actors")
    p.add_argument("--workers", type=int, default=1, help=f"Ray actors, 1..{MAX_WORKERS} (with --backend ray)")
    p.add_argument("--ray-address", default=None, help="join a running Ray cluster; default: start a local Ray")
    p.add_argument("--tile", type=int, default=None,
                   help=f"rows per kernel tile, at most {MAX_TILE} (default: the spec's, else 128 for every backend); "
                        "it is part of the config, so it is recorded in the provenance")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


SOURCE_DIR_ENV = "DISTILLED_REGISTRY_SOURCE_DIR"


def source_dir(given: str | None, source: str | None) -> str | None:
    """The source folder of a run: ``--source-dir`` when given, else ``$DISTILLED_REGISTRY_SOURCE_DIR``.

    The variable is a default for the sources read from files, so it is not passed for ``digits``
    (embedded in scikit-learn, which refuses a folder): setting it once never breaks a digits run.
    """
    if given is not None:
        return given
    return None if source == "digits" else os.environ.get(SOURCE_DIR_ENV) or None


# ---------------------------------------------------------------------------------------------- read


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


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
                      _pct(r["paper"].get("krr_test_accuracy")), _published_text(r.get("published")),
                      ",".join(r["local"]) or "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    n_fam = len({r["family"] for r in rows})
    print(f"\n{len(rows)} releases in {n_fam} families; paper: the paper's KRR test accuracy ('-': not reported "
          f"or not sourced, see `info NAME`); local: versions in {store.home()}")
    print("published: the authors' file the config points at (final: the last checkpoint, read from their index), "
          "fetched by `import-published NAME` as version 0.1.0; sha256 pinned on the first verified download. Every "
          "other published KIP file: NAME = <family>/ipc<I>-<convnet|convnet3>-<zca|nozca>-<l|nol>-<aug|noaug>-"
          "<ckpt<K>|final>, e.g. kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000")
    for r in rows:  # stored versions that are not the release their folder names: never loaded, say why
        for v, problem in r.get("problems", {}).items():
            print(f"PROBLEM {r['name']}:{v}: {problem}")
    return 0


def _published_text(p: dict | None) -> str:
    """The ``published`` column of ``list``: which file, and whether its sha256 is pinned in the catalog."""
    if not p:
        return "-"
    v = p["variant"]
    what = "ls" if v["algorithm"] == "ls" else (
        f"ckpt{v['checkpoint']}" if isinstance(v.get("checkpoint"), int) else (v.get("checkpoint") or "copy"))
    return what + (" pinned" if p.get("sha256") else "")


def _print_entry(d: dict) -> None:
    if not d.get("catalog"):
        print(f"{d['name']} (not in the catalog)")
    else:
        s = d["spec"] or {}
        print(f"{d['name']} (catalog version {d['version']}): {d['description']}")
        spec_items = ", ".join(f"{k} {json.dumps(v) if isinstance(v, dict) else v}" for k, v in s.items())
        print(f"  spec: {spec_items or 'none: a published file, nothing to regenerate'}")
        _print_published(d.get("published"), d["name"])
        print(f"  settings: {d['settings']}")
        p = d["paper"]
        if p.get("krr_test_accuracy") is None:
            print(f"  paper: {p.get('note', 'not reported')}")
        else:
            print(f"  paper: KRR test accuracy {_pct(p['krr_test_accuracy'])} ({p.get('note', '')}; "
                  f"{catalog.load()['references'].get(p.get('reference'), p.get('reference'))})")
        if d["releases"]:
            for v, r in d["releases"].items():
                print(f"  recorded {v}: {r['location']}, data.npz sha256 {r['data_sha256']}, KRR test accuracy "
                      f"{r['metrics'].get('krr_test_accuracy')}")
        else:
            print("  recorded releases: none yet")
    if d["local"]:
        for lv in d["local"]:
            if "problem" in lv:
                print(f"  local {lv['version']}: {lv['path']}: {lv['problem']}")
            elif "krr_test_accuracy" not in lv["metrics"]:  # an imported published file
                m = lv["metrics"]
                rep = (m.get("reported_by_authors") or {}).get("test_accuracy")
                ours = m.get("krr_evaluation") or {}
                print(f"  local {lv['version']}: {lv['path']} (imported {lv['created']}): the authors' published file; "
                      f"reported test accuracy {'-' if rep is None else f'{rep:.4f}'}" +
                      (f"; measured here {ours['accuracy']:.4f} on {ours['recipe']['test_size']} test images" +
                       ("" if (ours.get("source") or {}).get("exact_copy", True) else
                        f" of {ours['source'].get('origin')} (not an exact copy)") if "accuracy" in ours else ""))
            else:
                m = lv["metrics"]
                print(f"  local {lv['version']}: {lv['path']} (created {lv['created']}): KRR test accuracy "
                      f"{m['krr_test_accuracy']:.4f}, natural {m['natural_krr_test_accuracy']:.4f}")
    else:
        print(f"  local: none in {store.home()}")


def _print_published(p: dict | None, name: str) -> None:
    if not p:
        return
    where = p.get("url") or p.get("url_template") or p.get("note", "")
    rule = f" ({p['checkpoint_rule']})" if p.get("checkpoint_rule") else ""
    sha = f"sha256 {p['sha256']} (pinned in the catalog)" if p.get("sha256") else f"sha256 {p.get('pin', 'unknown')}"
    print(f"  published: {where}{rule}; {sha}; `distilled-registry import-published {name}` fetches it as "
          f"{name}:{p.get('version')}")
    r = p.get("reported")
    if r and r.get("test_accuracy") is not None:
        print(f"  reported by the authors: test accuracy {r['test_accuracy']:.4f} ({r.get('index')})")


def cmd_info(a: argparse.Namespace) -> int:
    d = api.info(a.name)
    if a.json:
        print(json.dumps(d, indent=2))
        return 0
    for e in d["configs"] if "configs" in d else [d]:
        _print_entry(e)
    return 0


class TargetError(UsageError):
    """A NAME|PATH argument that names no release folder (nothing there, a file, no provenance.json)."""


def _target(text: str, version: str | None = None) -> tuple[Path, str | None]:
    """A release folder from ``NAME[:VERSION]`` (in the store) or a path; ``(folder, name:version)``.

    A path is text starting with ``/``, ``.`` or ``~``, or a folder holding ``provenance.json`` that
    is not a release name; anything else is a name, and must follow the naming rules.
    """
    p = Path(text).expanduser()
    if text.startswith(("/", ".", "~")):
        if version is not None:
            raise names.BadNameError(f"--version goes with a release NAME, not the path {text!r}")
        if not os.path.lexists(p):
            raise TargetError(f"no release folder at {text!r}: nothing is there; give a release folder (made by "
                              "`distill --out`) or a NAME in the local store (`distilled-registry list`)")
        if not p.is_dir():
            raise TargetError(f"{text!r} is a file (or a broken link), not a release folder")
        if not (p / rel.PROVENANCE_FILE).is_file():
            raise TargetError(f"{text!r} is not a release folder (no provenance.json): release folders made by "
                              "`distill --out` or in the store have one; if it was a release, make it again with "
                              "`distilled-registry regenerate NAME`")
        return p, None
    try:
        rn, path = api.locate(text, version)
        return path, str(rn)
    except names.BadNameError:
        if version is None and (p / rel.PROVENANCE_FILE).is_file():
            return p, None
        raise


def cmd_verify(a: argparse.Namespace) -> int:
    if a.tolerance is not None and not (a.accuracy and 0 <= a.tolerance <= 1):
        raise UsageError(f"--tolerance {a.tolerance} must go with --accuracy and be between 0 and 1 (an absolute "
                         "accuracy difference)")
    path, label = _target(a.target, a.version)
    checks = rel.verify(path)
    prov = rel.read_provenance(path)
    r = prov.get("release") or {}
    catalog_check = None
    if r.get("name"):
        try:
            recorded = catalog.entry(r["name"]).releases.get(r.get("version"))
        except (catalog.CatalogError, names.BadNameError):
            recorded = None
        if recorded:
            found = prov["files"][rel.DATA_FILE]["sha256"]
            catalog_check = {"data_sha256": recorded["data_sha256"], "ok": found == recorded["data_sha256"]}
    from . import published

    pin_check = published.pin_status(prov)  # an imported published file: its sha256 against its pin
    bad = [c for c in checks if not c.ok]
    ok = not bad and (catalog_check is None or catalog_check["ok"]) and (pin_check is None or pin_check["ok"])
    accuracy = _check_accuracy(a, path) if ok and a.accuracy else None
    ok = ok and (accuracy is None or accuracy["within"])
    if a.json:
        print(json.dumps({"target": a.target, "path": str(path), "release": label or r.get("name"), "ok": ok,
                          "files": [dataclasses.asdict(c) | {"ok": c.ok} for c in checks],
                          "catalog": catalog_check, "published_pin": pin_check, "accuracy": accuracy}, indent=2))
    else:
        print(f"verify {path}" + (f" ({label})" if label else (f" ({r['name']}:{r['version']})" if r else "")))
        for c in checks:
            print(f"  {'ok ' if c.ok else 'BAD'}  {c.name}: " +
                  (f"{c.size} bytes, sha256 {c.sha256}" if c.ok else c.problem))
        if catalog_check:
            print(f"  {'ok ' if catalog_check['ok'] else 'BAD'}  data.npz sha256 "
                  f"{'matches' if catalog_check['ok'] else 'differs from'} the catalog's record for "
                  f"{r['name']}:{r['version']} ({catalog_check['data_sha256']})")
        if pin_check:
            print(f"  {'ok ' if pin_check['ok'] else 'BAD'}  original file {pin_check['key']}: " +
                  (pin_check["state"] if pin_check["ok"] else pin_check["problem"]))
        if accuracy:
            print(f"  {'ok ' if accuracy['within'] else 'BAD'}  KRR test accuracy recomputed {accuracy['recomputed']:.4f} "
                  f"on {accuracy['test_size']} test images; claimed {accuracy['claimed']:.4f} by "
                  f"{accuracy['claimed_by']}; difference {accuracy['diff']:+.4f}, tolerance {accuracy['tolerance']:g}")
        if ok:
            print(f"all {len(checks)} files match the sha256 and size in provenance.json"
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


def _check_accuracy(a: argparse.Namespace, path: Path) -> dict:
    """``verify --accuracy``: the release's KRR test accuracy recomputed and held against its claim."""
    from .pipelines import evaluation

    tol = evaluation.ACCURACY_TOL if a.tolerance is None else a.tolerance  # checked by cmd_verify, before the work
    return evaluation.check_accuracy(path, a.source_dir, tol)


# ------------------------------------------------------------------------------------------- compute


def _run_kwargs(distill_fn, a: argparse.Namespace) -> dict:
    """backend / workers / ray_address for ``distill``, passed only when its signature takes them."""
    from .pipelines.distill import check_workers

    check_workers(a.backend, a.workers)
    params = inspect.signature(distill_fn).parameters
    want = {"backend": a.backend, "workers": a.workers, "ray_address": a.ray_address}
    default = {"backend": "local", "workers": 1, "ray_address": None}
    out = {}
    for k, v in want.items():
        if k in params:
            out[k] = v
        elif v != default[k]:
            raise UsageError(f"--{k.replace('_', '-')} is not supported by this version of the pipelines' distill()")
    return out


def _config(spec: dict, a: argparse.Namespace, what: str):
    """The DistillConfig of ``spec`` (a catalog spec or a provenance's config, ``what`` names it), with ``--tile``.

    A spec this version cannot run is the file's fault (UserError, exit 1); a bad ``--tile`` is the
    command line's (ConfigError, exit 2).
    """
    from .pipelines.distill import DistillConfig

    try:
        cfg = DistillConfig.from_dict(dict(spec))  # the spec's tile, or the one default of every backend
        cfg.validate()
    except (TypeError, ValueError, KeyError) as e:
        raise UserError(f"{what} is not a config this version can run: {e}") from e
    if a.tile is not None:
        cfg = dataclasses.replace(cfg, tile=a.tile)
        cfg.validate()
    return cfg


def _paper_text(e: catalog.Entry) -> str:
    acc = e.paper.get("krr_test_accuracy")
    return f"paper {_pct(acc)}" if acc is not None else "paper: not reported"


def release_summary(path, prov: dict) -> dict:
    """What ``distill --json`` / ``regenerate --json`` print about the release they wrote."""
    m = prov["metrics"]
    return {"path": str(path), "name": (prov.get("release") or {}).get("name", prov["name"]),
            "version": (prov.get("release") or {}).get("version"),
            "krr_test_accuracy": m["krr_test_accuracy"], "natural_krr_test_accuracy": m["natural_krr_test_accuracy"],
            "wall_seconds": prov["timing"]["wall_seconds"], "files": prov["files"]}


def cmd_regenerate(a: argparse.Namespace) -> int:
    rn = names.parse(a.name)
    e = catalog.entry(rn)
    if e.spec is None:
        raise catalog.CatalogError(f"{e.name} is a published file with no spec to run; fetch it with "
                                   f"`distilled-registry import-published {e.name}`")
    if rn.version not in (None, e.version):
        raise catalog.CatalogError(f"the catalog spec of {e.name} makes version {e.version}, not {rn.version}")
    from .pipelines.distill import distill

    cfg = _config(e.spec, a, f"the catalog spec of {e.name}")
    kwargs = _run_kwargs(distill, a)
    store.check_destination(store.release_dir(e.name, e.version), f"{e.name}:{e.version}", a.overwrite)
    with store.staging() as tmp:
        distill(cfg, tmp / "release", source_dir(a.source_dir, cfg.source), progress=not a.quiet, **kwargs)
        path = store.add(tmp / "release", e.name, e.version, {"catalog_spec": e.spec}, overwrite=a.overwrite)
    prov = rel.read_provenance(path)
    m = prov["metrics"]
    rec = catalog.record_release(e.name, path) if a.record else None
    if a.json:
        print(json.dumps({**release_summary(path, prov), "paper": e.paper.get("krr_test_accuracy"),
                          "recorded": rec}, indent=2))
        return 0
    print(f"wrote {e.name}:{e.version} to {path}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
          f"(natural {m['natural_krr_test_accuracy']:.4f}; {_paper_text(e)}), {prov['timing']['wall_seconds']:.1f} s")
    if rec is not None:
        print(f"recorded in {catalog.path()}: {rec['location']}, data.npz sha256 {rec['data_sha256']}")
    return 0


_COMPARED = (("krr_test_accuracy", "abs"), ("natural_krr_test_accuracy", "abs"),
             ("krr_test_mse", "rel"), ("natural_krr_test_mse", "rel"))


def compare_metrics(recorded: dict, new: dict, acc_tol: float = ACC_TOL, mse_rtol: float = MSE_RTOL) -> list[dict]:
    """Rows of recorded vs new metrics, each with its difference, tolerance and verdict."""
    rows = []
    for key, kind in _COMPARED:
        r, n = float(recorded[key]), float(new[key])
        diff = n - r
        if kind == "abs":
            tol, within = acc_tol, abs(diff) <= acc_tol
            tol_text = f"{acc_tol:g} absolute"
        else:
            tol = mse_rtol
            within = abs(diff) <= mse_rtol * abs(r) if r else abs(diff) == 0
            tol_text = f"{mse_rtol:g} relative"
        rows.append({"metric": key, "recorded": r, "rerun": n, "diff": diff, "tolerance": tol,
                     "tolerance_kind": kind, "tolerance_text": tol_text, "within": bool(within)})
    return rows


def cmd_rerun(a: argparse.Namespace) -> int:
    path, label = _target(a.target, a.version)
    old = rel.verified(path)
    if "config" not in old:
        raise UsageError(f"{label or path} was imported from a published file ({(old.get('origin') or {}).get('url')}); "
                        "it has no config to rerun. `distilled-registry evaluate` measures it")
    from .pipelines.distill import distill

    cfg = _config(old["config"], a, f"the config in {str(path / rel.PROVENANCE_FILE)!r}")
    kwargs = _run_kwargs(distill, a)
    if a.out:
        from .pipelines.distill import check_out

        check_out(Path(a.out))  # before the run: --out must not exist, nor lie under a file
    with tempfile.TemporaryDirectory(prefix="distilled-registry-rerun-") as tmp:
        out = Path(a.out) if a.out else Path(tmp) / "release"
        new = distill(cfg, out, source_dir(a.source_dir, cfg.source), progress=not a.quiet, **kwargs)
        new_data_sha = rel.sha256_file(out / rel.DATA_FILE)
    rows = compare_metrics(old["metrics"], new["metrics"], a.acc_tol, a.mse_rtol)
    same_source = old["source"]["fingerprint_sha256"] == new["source"]["fingerprint_sha256"]
    same_data = old["files"][rel.DATA_FILE]["sha256"] == new_data_sha
    ok = same_source and all(r["within"] for r in rows)
    if a.json:
        print(json.dumps({"release": label or str(path), "path": str(path), "ok": ok, "metrics": rows,
                          "same_source": same_source, "data_npz_identical": same_data,
                          "kept_at": a.out, "config": cfg.to_dict(), **kwargs}, indent=2))
    else:
        print(f"rerun of {label or path} ({cfg.algorithm}, {cfg.source}, seed {cfg.seed}, "
              f"{cfg.steps if cfg.algorithm == 'kip' else 0} steps, backend {kwargs.get('backend', 'local')})")
        print(f"  {'metric':<27}{'recorded':>10}{'rerun':>10}{'diff':>11}  {'tolerance':<16}verdict")
        for r in rows:
            print(f"  {r['metric']:<27}{r['recorded']:>10.6f}{r['rerun']:>10.6f}{r['diff']:>+11.6f}  "
                  f"{r['tolerance_text']:<16}{'same' if r['diff'] == 0 else ('within' if r['within'] else 'DIFFERENT')}")
        print(f"  source fingerprint: {'same' if same_source else 'DIFFERENT (the rerun read other source data)'}")
        print(f"  data.npz: {'identical bytes (same sha256)' if same_data else 'different bytes'}")
        if a.out:
            print(f"  new release kept at {a.out}")
    if not ok:
        bad = [r["metric"] for r in rows if not r["within"]] + ([] if same_source else ["source fingerprint"])
        print(f"distilled-registry rerun: the rerun differs beyond tolerance: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    e = catalog.entry(a.name)
    if e.spec is None:
        raise catalog.CatalogError(f"{e.name} is a published file with no spec to plan")
    from .pipelines.limits import MAX_TILE, MAX_WORKERS

    for opt, v, most in (("--workers", a.workers, MAX_WORKERS), ("--tile", a.tile, MAX_TILE),
                         ("--measure-tile", a.measure_tile, MAX_TILE)):
        if not 1 <= v <= most:
            raise UsageError(f"{opt} {v} is out of range 1..{most}" + (
                "" if opt == "--workers" else " (a tile is TILE x TILE kernel entries, timed in this process's memory)"))
    if a.steps is not None and a.steps < 0:
        raise UsageError(f"--steps {a.steps} is out of range: KIP steps are >= 0")
    from .pipelines import plan as planner
    from .pipelines.distill import ConfigError, DistillConfig
    from .pipelines.kernels import KernelSpec

    cfg = DistillConfig.from_dict(e.spec)
    try:
        if a.impl:
            cfg = dataclasses.replace(cfg, kernel=KernelSpec(**{**cfg.kernel.to_dict(), "impl": a.impl}))
        if a.steps is not None:
            cfg = dataclasses.replace(cfg, steps=a.steps)
        shape = tuple(e.source_info["image_shape"])
        cfg.kernel.check_images((1, *shape))
    except ValueError as err:
        raise ConfigError(str(err)) from err
    timing = planner.measure_tile(cfg.kernel, shape, a.measure_tile)
    block = planner.plan(cfg, e.source_info, a.workers, a.tile, timing)["block"]  # the tiles a run would cut
    planned = timing if block == a.measure_tile else None
    if planned is None and timing.per_entry * block ** 2 <= PLAN_MEASURE_BUDGET_S:
        planned = planner.measure_tile(cfg.kernel, shape, block)
    p = planner.plan(cfg, e.source_info, a.workers, a.tile, timing, planned)
    p["name"] = e.name
    p["other_tiles"] = {}
    for t in sorted({4, 8, 16, 32, 64, 128} - {a.tile}):
        q = planner.plan(cfg, e.source_info, a.workers, t, planned or timing)
        p["other_tiles"][t] = {"tiles_per_pass": (q.get("tiles_per_step") or q.get("tiles"))["total"], "hours": q["hours"]}
    if a.json:
        print(json.dumps(p, indent=2))
        return 0
    _print_plan(p, e)
    return 0


def _dur(seconds: float) -> str:
    """A duration in the unit that reads best: ``1.2 µs``, ``3.4 ms``, ``5.6 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            v = seconds / scale
            return f"{v:,.0f} {unit}" if v >= 100 else f"{v:.3g} {unit}"
    raise AssertionError


def _hours(h: float) -> str:
    if h * 60 < 1:
        return _dur(h * 3600)
    if h < 1:
        return f"{h * 60:.1f} min"
    return f"{h:,.1f} h" + (f" ({h / 24:,.1f} days)" if h >= 48 else "")


def _print_plan(p: dict, e: catalog.Entry) -> None:
    k = p["kernel"]
    kip = p["algorithm"] == "kip"
    h, w, c = p["image_shape"]
    print(f"plan {p['name']}: {p['algorithm']}, {k['architecture']} depth {k['depth']} {k['get'].upper()} kernel "
          f"(impl {k['impl']}), images {h}x{w}x{c}, support n={p['support_size']}, "
          + (f"target batch m={p['target_size']}, {p['steps']} steps" if kip else f"training split m={p['target_size']}"))
    ent = p["entries_per_step" if kip else "entries"]
    t = p["tiles_per_step" if kip else "tiles"]
    per = "per step" if kip else "in the one pass"
    print(f"  kernel entries {per}: {ent['total']:,} = K_ss upper triangle {ent['k_ss_upper']:,} + K_ts {ent['k_ts']:,}"
          f" ({p['passes']})")
    if kip:
        print(f"  kernel entries in total: {p['entries_total']:,} ({p['steps']} steps)")
    print(f"  tiles {per} ({p['block']}x{p['block']} entries each, --tile {p['tile']}): {t['total']:,} = K_ss {t['ss']:,} + K_ts {t['ts']:,} "
          f"({t['entries_computed']:,} entries computed, padding included)" +
          (f"; {p['tiles_total']:,} tiles in total" if kip else ""))
    mt = p["measured_tile"]
    cost = "forward+backward" if kip else "forward"
    per_entry = mt["per_entry_seconds"] if kip else mt["forward_per_entry_seconds"]
    print(f"  per-entry cost, measured here: {_dur(per_entry)} ({cost}) from one {mt['tile']}x{mt['tile']} tile: "
          f"forward (jax.vjp) {_dur(mt['forward_seconds'])} + backward (vjp_fn) {_dur(mt['backward_seconds'])} "
          f"over {mt['entries']} entries (mean of {mt['repeats']} run(s), after {mt['compile_seconds']:.1f} s compiling)")
    pt = p["measured_planned_tile"]
    if pt is not None and pt["tile"] != mt["tile"]:
        pe = pt["per_entry_seconds"] if kip else pt["forward_per_entry_seconds"]
        print(f"  a measured {pt['tile']}x{pt['tile']} tile: {_dur(pt['seconds'] if kip else pt['forward_seconds'])} = "
              f"{_dur(pe)} per entry ({pe / per_entry:.2f} x the {mt['tile']}x{mt['tile']} figure); the plan uses it")
    elif pt is None:
        print(f"  a {p['block']}x{p['block']} tile is then {_dur(p['tile_seconds'])} ({p['tile_seconds_basis']}; not timed: "
              f"timing it here would take over {PLAN_MEASURE_BUDGET_S:g} s); small tiles can overstate the per-entry cost, since each "
              "image's own terms are shared by fewer entries")
    print(f"  {'a step' if kip else 'the pass'} on {p['workers']} worker(s): {p['waves_per_step']:,} round(s) of "
          f"{_dur(p['tile_seconds'])} = {_hours(p['step_seconds'] / 3600)}")
    print(f"  estimated time: {_hours(p['hours'])} on {p['workers']} worker(s); {_hours(p['hours_one_worker'])} on one")
    others = ", ".join(f"{t}x{t}: {_hours(v['hours'])}" for t, v in p["other_tiles"].items())
    basis = pt or mt
    print(f"  other tile sizes on {p['workers']} worker(s), at the per-entry cost of the {basis['tile']}x{basis['tile']} "
          f"tile: {others}")
    ev = p["evaluation"]
    print(f"  evaluation: {ev['entries']:,} entries ({ev['what']}): about {_hours(ev['hours_on_driver'])}")
    print(f"  assumes {p['assumptions']}")
