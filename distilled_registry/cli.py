"""``distilled-registry``: the command line.

Read-only commands stay fast (no JAX, no neural-tangents). The commands that compute import
``distilled_registry.pipelines`` inside their handler: the CLI is the one place that wires the
pipelines in.

Exit codes (``errors.py``): 0 success; 2 a bad command line (``UsageError``: a malformed name, an unknown
release, an option out of range, options that contradict each other; nothing was done); 1 a runtime
failure (``UserError``: a damaged file, a failed download, a release that fails verification; also out
of memory and the system's own errors, such as a full disk); 130 interrupted. Each error is one line,
``distilled-registry CMD: error: ...``, naming the value and what to do; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import dataclasses
import os
import sys

from .errors import UsageError, UserError


def _add_distill_args(p: argparse.ArgumentParser) -> None:
    from .pipelines.limits import MAX_DEPTH, MAX_SEED, MAX_TILE, MAX_WORKERS  # plain numbers: no JAX

    p.add_argument("--source", default="digits",
                   help="digits (embedded), mnist, fashion_mnist, cifar10, cifar100, svhn_cropped")
    p.add_argument("--source-dir", default=None,
                   help="folder with the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR, except for "
                        "digits; without it, tfds downloads)")
    p.add_argument("--algorithm", choices=["kip", "ls"], default="kip",
                   help="kip (Kernel Inducing Points: learns the images) or ls (Label Solve: solves the labels)")
    p.add_argument("--kernel", choices=["fc", "convnet", "convnet3"], default="fc",
                   help="the infinite-width network whose kernel is used (default fc)")
    p.add_argument("--depth", type=int, default=None,
                   help=f"1..{MAX_DEPTH}: hidden layers (fc) or pooling blocks (convnets, at most log2 of the image "
                        "side: 3 for digits, 4 for mnist, 5 for cifar); default 1 for fc, 3 for convnets")
    p.add_argument("--kernel-get", choices=["ntk", "nngp"], default="ntk",
                   help="ntk (neural tangent kernel, default) or nngp (Gaussian process kernel)")
    p.add_argument("--kernel-impl", choices=["nt", "fast"], default=None,
                   help="convnets: fast (default; this package's recursion, equal to neural-tangents) or nt; "
                        "fc: nt")
    p.add_argument("--ipc", type=int, default=10,
                   help="images per class, at least 1 and at most the smallest class of the source's training split")
    p.add_argument("--steps", type=int, default=1000, help="KIP steps (>= 0)")
    p.add_argument("--lr", type=float, default=0.04, help="KIP Adam learning rate (> 0)")
    p.add_argument("--target-batch", type=int, default=5000, help="KIP target batch (class-balanced, >= 1)")
    p.add_argument("--learn-labels", action="store_true", help="KIP also learns the support labels")
    p.add_argument("--reg", type=float, default=1e-6, help="KRR ridge, scaled by trace(K_ss)/n (>= 0)")
    p.add_argument("--ls-reg", type=float, default=1e-10, help="LS normal-equation ridge (trace-scaled, >= 0)")
    p.add_argument("--zca", action="store_true", help="ZCA-whiten after standardising")
    p.add_argument("--zca-reg", type=float, default=0.1, help="ZCA regulariser, added to the eigenvalues (> 0)")
    p.add_argument("--seed", type=int, default=0,
                   help=f"0..{MAX_SEED}: picks the real images the run starts from and its target batches")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where kernel tiles are computed: this process, or Ray actors")
    p.add_argument("--workers", type=int, default=1, help=f"Ray actors, 1..{MAX_WORKERS} (with --backend ray)")
    p.add_argument("--ray-address", default=None,
                   help="join a running Ray cluster (ray start --head prints it); default: start a local Ray")
    p.add_argument("--tile", type=int, default=None,
                   help=f"rows per kernel tile, at most {MAX_TILE} (one tile's vjp holds tile x tile kernel entries "
                        "in memory; the support set is cut into the fewest balanced blocks of at most this many rows; "
                        "default 128 for every backend, so --backend alone never changes a release; 0: one dense "
                        "step, local only); part of the config, since it decides the rounding")


def _config_from_args(a: argparse.Namespace):
    from .pipelines.distill import ConfigError, DistillConfig
    from .pipelines.kernels import KernelSpec

    depth = a.depth if a.depth is not None else (1 if a.kernel == "fc" else 3)
    try:
        impl = a.kernel_impl or ("nt" if a.kernel == "fc" else "fast")
        spec = KernelSpec(architecture=a.kernel, depth=depth, get=a.kernel_get, impl=impl)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    cfg = DistillConfig(source=a.source, algorithm=a.algorithm, kernel=spec, ipc=a.ipc, steps=a.steps,
                        learning_rate=a.lr, target_batch=a.target_batch, learn_labels=a.learn_labels,
                        reg=a.reg, ls_reg=a.ls_reg, zca=a.zca, zca_reg=a.zca_reg, seed=a.seed,
                        **({} if a.tile is None else {"tile": a.tile}))
    cfg.validate()
    return cfg


def cmd_distill(a: argparse.Namespace) -> int:
    from .commands import release_summary, source_dir
    from .pipelines.distill import check_workers, distill

    cfg = _config_from_args(a)
    check_workers(a.backend, a.workers)  # before the work, like every option check
    fault = tuple(int(v) for v in os.environ["DISTILLED_REGISTRY_TEST_FAULT"].split(",")) \
        if os.environ.get("DISTILLED_REGISTRY_TEST_FAULT") else None  # test-only: "step,worker"
    prov = distill(cfg, a.out, source_dir(a.source_dir, cfg.source), progress=not a.quiet, backend=a.backend,
                   workers=a.workers, ray_address=a.ray_address, checkpoint_every=a.checkpoint_every,
                   checkpoint_dir=a.checkpoint_dir, resume=a.resume, _fault=fault)
    m = prov["metrics"]
    if a.json:
        print(json.dumps(release_summary(a.out, prov), indent=2))
    else:
        print(f"wrote {a.out}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
              f"(natural {m['natural_krr_test_accuracy']:.4f}), {prov['timing']['wall_seconds']:.1f} s")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .pipelines.demo import format_table, run_demo

    rows = run_demo(a.out, steps=a.steps, progress=not a.quiet)
    if a.json:
        print(json.dumps({"runs": rows, "grid": os.path.join(a.out, "grid.png")}, indent=2))
    else:
        print(format_table(rows))
        print(f"image grid: {os.path.join(a.out, 'grid.png')}")
    return 0


def _add_evaluate_parser(sub) -> None:
    e = sub.add_parser("evaluate", help="KRR and/or finite-network transfer evaluation of a release (NAME[:VERSION] "
                                        "in the store, or PATH); recorded in its provenance")
    e.add_argument("target", metavar="NAME|PATH",
                   help="a release in the store (family/config[:version]) or a release folder")
    e.add_argument("--version", default=None, help="with NAME: which version (default: the newest in the store)")
    e.add_argument("--krr", action="store_true", help="KRR with the release's kernel (default: both, when neither "
                                                      "--krr nor --transfer is given)")
    e.add_argument("--transfer", action="store_true", help="train the kernel's finite network on the release")
    e.add_argument("--seeds", type=int, default=3, help="transfer: training runs (seeds 0..N-1, N >= 1)")
    e.add_argument("--width", type=int, default=None, help="transfer: hidden width (>= 1, default 1024)")
    e.add_argument("--steps", type=int, default=None, help="transfer: full-batch SGD steps (>= 1, default 1000)")
    e.add_argument("--lr-factor", type=float, nargs="+", default=None,
                   help="transfer: candidate learning rates / estimated max_lr (> 0; chosen on validation data)")
    e.add_argument("--lr", type=float, default=None, help="transfer: absolute learning rate instead (> 0)")
    e.add_argument("--weight-decay", type=float, nargs="+", default=None,
                   help="transfer: candidate L2 coefficients (>= 0; chosen on validation data)")
    e.add_argument("--natural", action="store_true",
                   help="transfer: also train on the real images the release started from (its natural baseline)")
    e.add_argument("--source-dir", default=None,
                   help="folder with the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR, except for "
                        "digits)")
    e.add_argument("--allow-other-source", action="store_true",
                   help="evaluate even when the source's fingerprint differs from the release's (recorded)")
    e.add_argument("--no-record", action="store_true", help="print only; leave provenance.json as it is")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(a: argparse.Namespace) -> int:
    import json

    from . import release as rel
    from .commands import _target, source_dir
    from .pipelines import evaluation, transfer

    path, label = _target(a.target, a.version)
    do_krr, do_transfer = (a.krr, a.transfer) if (a.krr or a.transfer) else (True, True)
    cfg = _transfer_config(a, transfer)
    src_dir = source_dir(a.source_dir, (rel.read_provenance(path).get("source") or {}).get("name"))
    out = {}
    if do_krr:
        out["krr_evaluation"] = evaluation.krr_release(path, src_dir, allow_other_source=a.allow_other_source)
    if do_transfer:
        out["transfer"] = transfer.evaluate_release(path, src_dir, cfg, natural=a.natural,
                                                    allow_other_source=a.allow_other_source,
                                                    progress=not (a.quiet or a.json))
    if not a.no_record:
        for key, value in out.items():
            transfer.record(path, key, value)
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
    except transfer.TransferError as e:  # TransferConfig checks each value; here each value is an option
        field, _, rest = str(e).partition(" ")
        raise UsageError(f"{_TRANSFER_OPTIONS.get(field, field)} {rest}") from e


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distilled-registry",
                                description="Regenerate, publish and load KIP / Label Solve distilled datasets.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"distilled-registry {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("distill", help="distil a source dataset into a release folder")
    _add_distill_args(d)
    d.add_argument("--out", required=True, help="release folder to create (must not exist)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument("--checkpoint-every", type=int, default=0, help="save the KIP state every N steps (0: never)")
    d.add_argument("--checkpoint-dir", default=None,
                   help="where checkpoints go (default: <out>.checkpoint beside --out; not --out or inside it)")
    d.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    d.add_argument("--json", action="store_true", help="print the release written (path, metrics, files) as JSON")
    d.set_defaults(func=cmd_distill)

    demo = sub.add_parser("demo", help="KIP and LS on digits at 1 and 10 images per class, offline")
    demo.add_argument("--out", default="demo_out", help="folder to create (must not exist; default demo_out)")
    demo.add_argument("--steps", type=int, default=300, help="KIP steps (>= 0, default 300)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--json", action="store_true", help="print the four runs' figures as JSON")
    demo.set_defaults(func=cmd_demo)

    _add_evaluate_parser(sub)  # evaluate: KRR / finite-network transfer of any release

    from .commands import add_commands  # list, info, verify, regenerate, rerun, plan

    add_commands(sub)

    from .builder_commands import add_builder_commands  # export-hf, push, builders

    add_builder_commands(sub)

    from .published_cli import add_import_parser  # import-published: the authors' published KIP / LS files

    add_import_parser(sub)
    return p


# Commands that run kernels: on a CPU they spread the work over every core (pipelines/devices.py).
COMPUTING_COMMANDS = frozenset({"distill", "demo", "evaluate", "regenerate", "rerun", "plan"})
# Commands of an extra other than distill (distilled_registry/extras.py): the modules they need.
EXTRA_COMMANDS = {"builders": ("tensorflow_datasets",), "export-hf": ("datasets", "huggingface_hub"),
                  "push": ("datasets", "huggingface_hub")}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0, 1 runtime failure, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        from .extras import require

        if args.command in COMPUTING_COMMANDS or getattr(args, "accuracy", False):
            from .pipelines.devices import one_device_per_core

            require("jax", "jaxlib", "optax", "scipy", what=f"distilled-registry {args.command}")
            one_device_per_core()  # every CPU core a jax device (no effect once jax is imported)
        require(*EXTRA_COMMANDS.get(args.command, ()), what=f"distilled-registry {args.command}")
        return args.func(args)
    except UserError as e:  # UsageError (2): a bad command line; UserError (1): a file, a download, a release
        print(f"distilled-registry {args.command}: error: {_one_line(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"distilled-registry {args.command}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"distilled-registry {args.command}: error: out of memory; use a smaller --tile, --target-batch "
              "or --ipc", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a permission, a path that is a file: the system's own words
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"distilled-registry {args.command}: error:{where} {e.strerror or e}", file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    """A message on one line: continuation lines joined with '; '."""
    parts = [p.strip() for p in text.strip().splitlines() if p.strip()]
    return "; ".join(parts) if parts else text


if __name__ == "__main__":
    sys.exit(main())
