"""The commands that compute: ``distill``, ``demo``, ``evaluate``, ``regenerate``, ``rerun``, ``plan``.

Each imports ``distilled_registry.pipelines`` inside its handler: the CLI is the one place that
wires the pipelines in. ``main`` gives every CPU core to jax before they run
(``COMPUTING_COMMANDS``, :func:`distilled_registry.pipelines.devices.one_device_per_core`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from .. import catalog, names, recording, records, store
from .. import release as rel
from ..errors import UsageError, UserError
from .arguments import add_backend, add_json, add_quiet, add_source_dir, add_target, add_tile, pct, source_dir, target
from .config_flags import add_config_flags, add_set, apply_sets, config_from_args
from .option_types import option


def add(sub) -> None:
    """Add distill, demo, evaluate, regenerate, rerun and plan to the CLI's subparsers."""
    from ..limits import MAX_STEPS, MAX_TRANSFER_SEEDS, MAX_WIDTH  # plain numbers

    _add_distill(sub)

    p = sub.add_parser("demo", help="KIP and LS on digits at 1 and 10 images per class, offline")
    p.add_argument("--out", default="demo_out", type=option("path", "--out"),
                   help="folder to create (must not exist, unless --overwrite; default demo_out)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is an earlier demo folder (never a folder of other files)")
    p.add_argument("--steps", type=option("count", "--steps", low=0, high=MAX_STEPS), default=300,
                   help=f"KIP steps (0..{MAX_STEPS}, default 300)")
    add_quiet(p)
    add_json(p, "print the four runs' figures as JSON")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("evaluate", help="KRR and/or finite-network transfer evaluation of a release (NAME[:VERSION] "
                                        "in the store, or PATH); recorded in its provenance")
    add_target(p)
    p.add_argument("--krr", action="store_true", help="KRR with the release's kernel (default: both, when neither "
                                                      "--krr nor --transfer is given)")
    p.add_argument("--transfer", action="store_true", help="train the kernel's finite network on the release")
    p.add_argument("--seeds", type=option("count", "--seeds", high=MAX_TRANSFER_SEEDS), default=3,
                   help=f"transfer: training runs (seeds 0..N-1, N in 1..{MAX_TRANSFER_SEEDS})")
    p.add_argument("--width", type=option("count", "--width", high=MAX_WIDTH), default=None,
                   help=f"transfer: hidden width (1..{MAX_WIDTH}, default 1024)")
    p.add_argument("--steps", type=option("count", "--steps", high=MAX_STEPS), default=None,
                   help=f"transfer: full-batch SGD steps (1..{MAX_STEPS}, default 1000)")
    p.add_argument("--lr-factor", type=option("real", "--lr-factor", above=0), nargs="+", default=None,
                   help="transfer: candidate learning rates / estimated max_lr (> 0; chosen on validation data)")
    p.add_argument("--lr", type=option("real", "--lr", above=0), default=None,
                   help="transfer: absolute learning rate instead (> 0)")
    p.add_argument("--weight-decay", type=option("real", "--weight-decay", low=0), nargs="+", default=None,
                   help="transfer: candidate L2 coefficients (>= 0; chosen on validation data)")
    p.add_argument("--natural", action="store_true",
                   help="transfer: also train on the real images the release started from (its natural baseline)")
    add_source_dir(p)
    p.add_argument("--allow-other-source", action="store_true",
                   help="evaluate even when the source's fingerprint differs from the release's (recorded)")
    p.add_argument("--no-record", action="store_true", help="print only; leave provenance.json as it is")
    add_quiet(p)
    add_json(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("regenerate", help="run NAME's catalog spec and put the release into the local store")
    p.add_argument("name", metavar="NAME", help="a catalog config with a spec, e.g. kip_digits/ipc10")
    _add_run_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace that version if it is already in the store (with "
                                                            "--out: that release folder)")
    p.add_argument("--out", default=None, type=option("path", "--out"),
                   help="write the release to this folder instead of the store (needed when --set changes what the "
                        "release is: the store holds a catalog name's spec only)")
    p.add_argument("--record", action="store_true",
                   help="also record the release (store location, sha256, metrics) in the records file "
                        f"(${records.RECORDS_ENV} or the packaged records.json): for maintainers")
    add_json(p, "print the release written (path, metrics, files) as JSON")
    p.set_defaults(func=cmd_regenerate)

    p = sub.add_parser("rerun", help="run a release's own provenance again; print recorded vs new metrics")
    add_target(p, newest="the newest")
    _add_run_args(p)
    p.add_argument("--acc-tol", type=option("real", "--acc-tol", low=0, high=1), default=ACC_TOL,
                   help=f"largest accepted absolute difference of an accuracy (default {ACC_TOL})")
    p.add_argument("--mse-rtol", type=option("real", "--mse-rtol", low=0), default=MSE_RTOL,
                   help=f"largest accepted relative difference of a mean squared error (default {MSE_RTOL})")
    p.add_argument("--out", default=None, type=option("path", "--out"), help="keep the new release here (default: a temporary folder, removed)")
    p.add_argument("--init-from", default=None, type=option("path", "--init-from"), metavar="RELEASE",
                   help="a release whose config starts from another release (config.init_from): that release's folder")
    add_json(p)
    p.set_defaults(func=cmd_rerun)


def _add_distill(sub) -> None:
    """The ``distill`` command and its options: the config's flags from its fields (:mod:`.config_flags`), and
    where the run goes (each number and path checked by ``user_values`` as parsed)."""
    from ..limits import MAX_EVAL_SUBSET, MAX_STEPS

    p = sub.add_parser("distill", help="distil a source dataset into a release folder")
    add_config_flags(p)  # every field of DistillConfig with a flag: --source, --kernel, --ipc, --lr, ...
    add_source_dir(p)
    p.add_argument("--licence", default=None, help="your own source: its licence, recorded and shown on the card "
                                                   "(default: unknown)")
    p.add_argument("--citation", default=None, help="your own source: how to cite it (default: unknown)")
    p.add_argument("--name", default=None, metavar="FAMILY/CONFIG[:VERSION]",
                   help="also put the release into the local store under this name (your own family, e.g. "
                        "my_flowers/ipc10; version default 1.0.0), for load, verify, tfds.load and export-hf")
    add_backend(p)
    add_tile(p, "{DEFAULT_TILE} for every backend, so --backend alone never changes a release; 0: one dense step, "
                "local only")
    p.add_argument("--out", default=None, type=option("path", "--out"),
                   help="release folder to create (must not exist, unless --overwrite); needed unless --name")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is an earlier release folder (never a folder of other files); with "
                        "--name, replace that version in the store")
    add_quiet(p)
    p.add_argument("--checkpoint-every", type=option("count", "--checkpoint-every", low=0, high=MAX_STEPS),
                   default=0, help="save the KIP state every N steps (0: never)")
    p.add_argument("--checkpoint-dir", default=None, type=option("path", "--checkpoint-dir"),
                   help="where checkpoints go (default: <out>.checkpoint beside --out; not --out or inside it)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    p.add_argument("--resume-on-other-devices", action="store_true",
                   help="with --resume: continue a checkpoint written on other devices (another device count or "
                        "processor); the result then differs from any uninterrupted run's in its last bits")
    p.add_argument("--eval-every", type=option("count", "--eval-every", low=0, high=MAX_STEPS), default=0,
                   help="KIP: measure the KRR test accuracy every N steps on a fixed test subset (0: never); "
                        "recorded in provenance and drawn in accuracy_curve.png")
    p.add_argument("--eval-subset", type=option("count", "--eval-subset", high=MAX_EVAL_SUBSET), default=1000,
                   help="test images (class-balanced, fixed by --seed) --eval-every measures on (default 1000)")
    p.add_argument("--finish-from", default=None, type=option("path", "--finish-from"), metavar="RELEASE",
                   help="with --ls-finish: a finished KIP release of this same config; its steps are not run again, "
                        "only the label solve and the evaluation (its loss and accuracy curve are carried over)")
    p.add_argument("--init-from", default=None, type=option("path", "--init-from"), metavar="RELEASE",
                   help="KIP: start from this release's images and labels instead of real images (a release this "
                        "package wrote from the same source, kernel, --ipc, --seed and preprocessing; a fresh "
                        "optimiser); its data.npz's sha256 is recorded as the config's init_from")
    add_json(p, "print the release written (path, metrics, files) as JSON")
    p.set_defaults(func=cmd_distill)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """What ``regenerate`` and ``rerun`` share: where the source is, where tiles run, the tile, --set, quiet."""
    add_source_dir(p)
    add_backend(p)
    add_tile(p, "the spec's, else {DEFAULT_TILE} for every backend")
    add_set(p)
    add_quiet(p)


def _backend_kwargs(a: argparse.Namespace) -> dict:
    """``distill``'s backend / workers / ray_address, checked before the work."""
    from ..pipelines.distill import check_workers

    check_workers(a.backend, a.workers)
    return {"backend": a.backend, "workers": a.workers, "ray_address": a.ray_address}


ACC_TOL = 1e-3   # rerun: absolute tolerance on accuracies (a tenth of a percentage point)


MSE_RTOL = 1e-2  # rerun: relative tolerance on mean squared errors


def _config_from_args(a: argparse.Namespace):
    source, options = _source_from_args(a)
    return config_from_args(a, source, options)


def _source_from_args(a: argparse.Namespace) -> tuple[str, dict]:
    """``(source, options)``: a catalog source name, or the spec of the user's own source with its reading options."""
    from ..pipelines import sources, user_sources

    user_only = {"--image-size": a.image_size, "--test-fraction": a.test_fraction, "--licence": a.licence,
                 "--citation": a.citation}
    if a.source in sources.FACTS:
        given = [opt for opt, v in user_only.items() if v is not None]
        if given:
            raise UsageError(f"{given[0]} is for your own sources (a folder, an .npz, tfds:, hf:), not {a.source}")
        return a.source, {}
    spec = user_sources.canonical(a.source)
    if a.source_dir is not None:
        raise UsageError(f"--source-dir is for the catalog's sources; {a.source} names its own files (tfds: reads "
                         "$TFDS_DATA_DIR, hf: the datasets cache)")
    options = {"test_fraction": a.test_fraction, "split_seed": a.split_seed}
    if a.image_size is not None:
        h, _, w = a.image_size.lower().partition("x")
        try:
            options["image_size"] = (int(h), int(w or h))
        except ValueError:
            raise UsageError(f"--image-size {a.image_size!r}: give HxW, e.g. 32x32, or one number") from None
    return spec, options


def cmd_distill(a: argparse.Namespace) -> int:
    from ..pipelines.distill import check_out, distill

    if a.out is None and a.name is None:
        raise UsageError("give --out FOLDER (a release folder), --name FAMILY/CONFIG (into the local store), or both")
    if a.out is None and (a.checkpoint_every or a.resume) and not a.checkpoint_dir:
        raise UsageError("--checkpoint-every/--resume with --name alone: give --checkpoint-dir (the default lies beside "
                         "--out) so that an interrupted run's checkpoint outlives it")
    cfg = _config_from_args(a)
    backend = _backend_kwargs(a)  # before the work, like every option check
    rn = _user_name(a.name, a.overwrite) if a.name else None
    if a.out is not None:
        check_out(Path(a.out), a.overwrite)
    notes = {"licence": a.licence, "citation": a.citation} if cfg.source not in _catalog_sources() else None
    kwargs = dict(progress=not a.quiet, **backend, checkpoint_every=a.checkpoint_every,
                  checkpoint_dir=a.checkpoint_dir, resume=a.resume, eval_every=a.eval_every,
                  eval_subset=a.eval_subset, source_notes=notes,
                  resume_on_other_devices=a.resume_on_other_devices, family=rn.family if rn else None,
                  finish_from=a.finish_from, init_from=a.init_from)
    with store.staging() if a.out is None else _nothing() as tmp:
        out = Path(a.out) if a.out is not None else tmp / "release"
        # --overwrite replaces --out when it is given (an earlier release folder), and the store's version with --name
        prov = distill(cfg, out, source_dir(a.source_dir, cfg.source), overwrite=a.overwrite and a.out is not None,
                       **kwargs)
        where = str(out)
        if rn is not None:
            path = store.add(out, rn.name, rn.version, {"user_release": True}, overwrite=a.overwrite)
            prov, where = rel.read_provenance(path), f"{rn} ({path})"
    m = prov["metrics"]
    if a.json:
        print(json.dumps(release_summary(a.out or path, prov), indent=2))
    else:
        before = m.get("krr_test_accuracy_before_ls_finish")
        print(f"wrote {where}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
              + (f"(KIP labels {before:.4f}, " if before is not None else "(")
              + f"natural {m['natural_krr_test_accuracy']:.4f}), {prov['timing']['wall_seconds']:.1f} s")
    return 0


def _catalog_sources() -> tuple:
    from ..pipelines.sources import FACTS

    return tuple(FACTS)


@contextlib.contextmanager
def _nothing():
    yield None


USER_VERSION = "1.0.0"


def _user_name(text: str, overwrite: bool) -> names.ReleaseName:
    """``--name FAMILY/CONFIG[:VERSION]`` checked before any work: a user family, a free store place."""
    from ..pipelines import user_sources

    rn = names.parse(text)
    rn = names.ReleaseName(rn.family, rn.config, rn.version or USER_VERSION)
    user_sources.check_family(rn.family, rn.config)
    store.check_destination(store.release_dir(rn), str(rn), overwrite)
    return rn


def cmd_demo(a: argparse.Namespace) -> int:
    from ..pipelines.demo import format_table, run_demo

    rows = run_demo(a.out, steps=a.steps, progress=not a.quiet, overwrite=a.overwrite)
    if a.json:
        print(json.dumps({"runs": rows, "grid": os.path.join(a.out, "grid.png")}, indent=2))
    else:
        print(format_table(rows))
        print(f"image grid: {os.path.join(a.out, 'grid.png')}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..pipelines import evaluation, transfer

    path, label = target(a.target, a.version)
    do_krr, do_transfer = (a.krr, a.transfer) if (a.krr or a.transfer) else (True, True)
    cfg = _transfer_config(a, transfer)
    src_dir = source_dir(a.source_dir, (rel.read_provenance(path).get("source") or {}).get("name"))
    methods = [m for m, on in (("krr", do_krr), ("transfer", do_transfer)) if on]
    out = {evaluation.KEYS[m]: evaluation.evaluate(path, m, src_dir, natural=a.natural or m == "krr", config=cfg,
                                                   allow_other_source=a.allow_other_source,
                                                   progress=not (a.quiet or a.json))
           for m in methods}
    if not a.no_record:  # once every method has run: a failure records nothing
        for key, value in out.items():
            rel.record_metrics(path, key, value)
    if a.json:
        print(json.dumps({"target": a.target, "path": str(path), "release": label, "recorded": not a.no_record,
                          **out}, indent=2))
    else:
        print(f"evaluate {label or path}")
        for key, what in (("krr_evaluation", "krr"), ("transfer", "transfer")):
            if key in out:
                print(f"  {evaluation.summary(out[key], what)}")
        if not a.no_record:
            print(f"  recorded in {path / 'provenance.json'} under metrics: {', '.join(out)}")
    return 0


_TRANSFER_OPTIONS = {"width": "--width", "steps": "--steps", "lr_factors": "--lr-factor", "learning_rate": "--lr",
                     "weight_decays": "--weight-decay"}


def _transfer_config(a: argparse.Namespace, transfer):
    """``evaluate``'s TransferConfig from its options; a value out of range is a UsageError naming the option."""
    if a.seeds < 1:
        raise UsageError(f"--seeds {a.seeds} is out of range: give 1 or more training runs")
    over = {k: v for k, v in {"width": a.width, "steps": a.steps, "lr_factors": a.lr_factor, "learning_rate": a.lr,
                              "weight_decays": a.weight_decay}.items() if v is not None}
    try:
        return dataclasses.replace(transfer.TransferConfig(seeds=tuple(range(a.seeds))), **over)
    except (transfer.TransferError, UsageError) as e:  # TransferConfig checks each value; here each is an option
        field, _, rest = str(e).partition(" ")
        raise UsageError(f"{_TRANSFER_OPTIONS.get(field, field)} {rest}") from e


def _config(spec: dict, a: argparse.Namespace, what: str):
    """``(config, overrides)``: the DistillConfig of ``spec`` (a catalog spec or a provenance's config, ``what``
    names it) with ``--tile`` and the ``--set`` fields, and those fields as the provenance records them.

    A spec this version cannot run is the file's fault (UserError, exit 1); a bad ``--tile`` or ``--set``
    is the command line's (ConfigError, exit 2).
    """
    from ..distill_config import DistillConfig

    try:
        cfg = DistillConfig.from_dict(dict(spec))  # the spec's tile, or the one default of every backend
        cfg.validate()
    except (TypeError, ValueError, KeyError) as e:
        raise UserError(f"{what} is not a config this version can run: {e}") from e
    if a.tile is not None:
        cfg = dataclasses.replace(cfg, tile=a.tile)
        cfg.validate()
    return apply_sets(cfg, a.overrides)


def _paper_text(e: catalog.Entry) -> str:
    acc = e.paper.get("krr_test_accuracy")
    return f"paper {pct(acc)}" if acc is not None else "paper: not reported"


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
    cfg, overrides = _config(e.spec, a, f"the catalog spec of {e.name}")
    kwargs = _backend_kwargs(a)
    rn = names.ReleaseName(e.family, e.config, e.version)
    other = store.spec_differences(rn, cfg.to_dict())  # a --set that changes what the release is
    if other and a.out is None:
        raise UsageError(f"--set makes another run than the catalog spec of {e.name} ({'; '.join(other)}), which "
                         f"the store cannot hold as {e.name}; give --out FOLDER to write it as a release folder")
    if a.out is not None and a.record:
        raise UsageError("--record records a release of the store; it does not go with --out")
    from ..pipelines.distill import check_out, distill

    src = source_dir(a.source_dir, cfg.source)
    if a.out is not None:
        check_out(Path(a.out), a.overwrite)
        prov = distill(cfg, a.out, src, progress=not a.quiet, overwrite=a.overwrite, overrides=overrides, **kwargs)
        return _print_release(a, e, Path(a.out), prov, None)
    store.check_destination(store.release_dir(e.name, e.version), f"{e.name}:{e.version}", a.overwrite)

    written: list[Path] = []

    def into_store(files: dict, prov: dict) -> Path:  # the release is written once, straight into the store
        written.append(store.put(files, prov, rn, e.version, {"catalog_spec": e.spec}, overwrite=a.overwrite))
        return written[-1]

    with tempfile.TemporaryDirectory(prefix="distilled-registry-regenerate-") as tmp:  # distill's unused out
        prov = distill(cfg, Path(tmp) / "release", src, progress=not a.quiet, overrides=overrides,
                       write=into_store, **kwargs)
    path = written[0]
    rec = recording.record_release(e.name, path) if a.record else None
    return _print_release(a, e, path, prov, rec)


def _print_release(a: argparse.Namespace, e: catalog.Entry, path: Path, prov: dict, rec: dict | None) -> int:
    """What ``regenerate`` prints about the release it wrote (``--json``: :func:`release_summary`)."""
    where = f"{e.name}:{e.version} to {path}" if rec is not None or a.out is None else str(path)
    m = prov["metrics"]
    if a.json:
        print(json.dumps({**release_summary(path, prov), "paper": e.paper.get("krr_test_accuracy"),
                          "recorded": rec}, indent=2))
        return 0
    print(f"wrote {where}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
          f"(natural {m['natural_krr_test_accuracy']:.4f}; {_paper_text(e)}), {prov['timing']['wall_seconds']:.1f} s")
    if rec is not None:
        print(f"recorded in {records.path()}: {rec['location']}, data.npz sha256 {rec['data_sha256']}")
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
    path, label = target(a.target, a.version)
    old = rel.verified(path)
    if "config" not in old:
        raise UsageError(f"{label or path} was imported from a published file ({(old.get('origin') or {}).get('url')}); "
                        "it has no config to rerun. `distilled-registry evaluate` measures it")
    from ..pipelines.distill import distill

    cfg, overrides = _config(old["config"], a, f"the config in {str(path / rel.PROVENANCE_FILE)!r}")
    kwargs = _backend_kwargs(a)
    if a.out:
        from ..pipelines.distill import check_out

        check_out(Path(a.out), flag=None)  # before the run: --out must not exist, nor lie under a file
    with tempfile.TemporaryDirectory(prefix="distilled-registry-rerun-") as tmp:
        out = Path(a.out) if a.out else Path(tmp) / "release"
        new = distill(cfg, out, source_dir(a.source_dir, cfg.source), progress=not a.quiet, overrides=overrides,
                      init_from=a.init_from, **kwargs)
        new_data_sha = rel.sha256_file(out / rel.DATA_FILE)
    rows = compare_metrics(old["metrics"], new["metrics"], a.acc_tol, a.mse_rtol)
    same_source = old["source"]["fingerprint_sha256"] == new["source"]["fingerprint_sha256"]
    same_data = old["files"][rel.DATA_FILE]["sha256"] == new_data_sha
    ok = same_source and all(r["within"] for r in rows)
    if a.json:
        print(json.dumps({"release": label or str(path), "path": str(path), "ok": ok, "metrics": rows,
                          "same_source": same_source, "data_npz_identical": same_data,
                          "kept_at": a.out, "config": cfg.to_dict(), "overrides": overrides, **kwargs}, indent=2))
    else:
        print(f"rerun of {label or path} ({cfg.algorithm}, {cfg.source}, seed {cfg.seed}, "
              f"{cfg.steps if cfg.algorithm == 'kip' else 0} steps, backend {kwargs.get('backend', 'local')})")
        for o in overrides:
            print(f"  --set {o['field']}={o['value']} (the release's config: {o['was']})")
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


