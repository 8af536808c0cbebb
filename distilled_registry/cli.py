"""``distilled-registry``: the command line.

Read-only commands stay fast (no JAX, no neural-tangents). The commands that compute import
``distilled_registry.pipelines`` inside their handler: the CLI is the one place that wires the
pipelines in.

Exit codes: 0 success, 2 bad input (the message says what and how to fix it), 1 other failure.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import UserError


def _add_distill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="digits",
                   help="digits (embedded), mnist, fashion_mnist, cifar10, cifar100, svhn_cropped")
    p.add_argument("--source-dir", default=os.environ.get("DISTILLED_REGISTRY_SOURCE_DIR"),
                   help="folder with the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR; "
                        "without it, tfds downloads)")
    p.add_argument("--algorithm", choices=["kip", "ls"], default="kip")
    p.add_argument("--kernel", choices=["fc", "convnet", "convnet3"], default="fc")
    p.add_argument("--depth", type=int, default=None, help="default: 1 for fc, 3 for convnets")
    p.add_argument("--kernel-get", choices=["ntk", "nngp"], default="ntk")
    p.add_argument("--kernel-impl", choices=["nt", "fast"], default=None,
                   help="convnets: fast (default; this package's recursion, equal to neural-tangents) or nt; "
                        "fc: nt")
    p.add_argument("--ipc", type=int, default=10, help="images per class")
    p.add_argument("--steps", type=int, default=1000, help="KIP steps")
    p.add_argument("--lr", type=float, default=0.04, help="KIP Adam learning rate")
    p.add_argument("--target-batch", type=int, default=5000, help="KIP target batch (class-balanced)")
    p.add_argument("--learn-labels", action="store_true", help="KIP also learns the support labels")
    p.add_argument("--reg", type=float, default=1e-6, help="KRR ridge, scaled by trace(K_ss)/n")
    p.add_argument("--ls-reg", type=float, default=1e-10, help="LS normal-equation ridge (trace-scaled)")
    p.add_argument("--zca", action="store_true", help="ZCA-whiten after standardising")
    p.add_argument("--zca-reg", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where kernel tiles are computed: this process, or Ray actors")
    p.add_argument("--workers", type=int, default=1, help="Ray actors (with --backend ray)")
    p.add_argument("--ray-address", default=None,
                   help="join a running Ray cluster (ray start --head prints it); default: start a local Ray")
    p.add_argument("--tile", type=int, default=None,
                   help="rows per kernel tile (default 128 for every backend, so --backend alone never changes a "
                        "release; 0: one dense step, local only); part of the config, since it decides the rounding")


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
    from .pipelines.distill import distill

    cfg = _config_from_args(a)
    fault = tuple(int(v) for v in os.environ["DISTILLED_REGISTRY_TEST_FAULT"].split(",")) \
        if os.environ.get("DISTILLED_REGISTRY_TEST_FAULT") else None  # test-only: "step,worker"
    prov = distill(cfg, a.out, a.source_dir, progress=not a.quiet, backend=a.backend, workers=a.workers,
                   ray_address=a.ray_address, checkpoint_every=a.checkpoint_every,
                   checkpoint_dir=a.checkpoint_dir, resume=a.resume, _fault=fault)
    m = prov["metrics"]
    print(f"wrote {a.out}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
          f"(natural {m['natural_krr_test_accuracy']:.4f}), {prov['timing']['wall_seconds']:.1f} s")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .pipelines.demo import run_demo

    run_demo(a.out, steps=a.steps, progress=not a.quiet)
    return 0


def _add_evaluate_parser(sub) -> None:
    e = sub.add_parser("evaluate", help="KRR and/or finite-network transfer evaluation of a release (NAME[:VERSION] "
                                        "in the store, or PATH); recorded in its provenance")
    e.add_argument("target", metavar="NAME|PATH")
    e.add_argument("--version", default=None, help="with NAME: which version (default: the newest in the store)")
    e.add_argument("--krr", action="store_true", help="KRR with the release's kernel (default: both, when neither "
                                                      "--krr nor --transfer is given)")
    e.add_argument("--transfer", action="store_true", help="train the kernel's finite network on the release")
    e.add_argument("--seeds", type=int, default=3, help="transfer: training runs (seeds 0..N-1)")
    e.add_argument("--width", type=int, default=None, help="transfer: hidden width (default 1024)")
    e.add_argument("--steps", type=int, default=None, help="transfer: full-batch SGD steps")
    e.add_argument("--lr-factor", type=float, nargs="+", default=None,
                   help="transfer: candidate learning rates / estimated max_lr (chosen on validation data)")
    e.add_argument("--lr", type=float, default=None, help="transfer: absolute learning rate instead")
    e.add_argument("--weight-decay", type=float, nargs="+", default=None,
                   help="transfer: candidate L2 coefficients (chosen on validation data)")
    e.add_argument("--natural", action="store_true",
                   help="transfer: also train on the real images the release started from (its natural baseline)")
    e.add_argument("--source-dir", default=os.environ.get("DISTILLED_REGISTRY_SOURCE_DIR"),
                   help="folder with the source's local files (default: $DISTILLED_REGISTRY_SOURCE_DIR)")
    e.add_argument("--allow-other-source", action="store_true",
                   help="evaluate even when the source's fingerprint differs from the release's (recorded)")
    e.add_argument("--no-record", action="store_true", help="print only; leave provenance.json as it is")
    e.add_argument("--quiet", action="store_true")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(a: argparse.Namespace) -> int:
    import dataclasses
    import json

    from .commands import _target
    from .pipelines import evaluation, transfer

    path, label = _target(a.target, a.version)
    do_krr, do_transfer = (a.krr, a.transfer) if (a.krr or a.transfer) else (True, True)
    if a.seeds < 1:
        raise transfer.TransferError(f"--seeds must be >= 1, got {a.seeds}")
    over = {k: v for k, v in {"width": a.width, "steps": a.steps, "lr_factors": a.lr_factor, "learning_rate": a.lr,
                              "weight_decays": a.weight_decay}.items() if v is not None}
    cfg = dataclasses.replace(transfer.TransferConfig(seeds=tuple(range(a.seeds))), **over)
    out = {}
    if do_krr:
        out["krr_evaluation"] = evaluation.krr_release(path, a.source_dir, allow_other_source=a.allow_other_source)
    if do_transfer:
        out["transfer"] = transfer.evaluate_release(path, a.source_dir, cfg, natural=a.natural,
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distilled-registry",
                                description="Regenerate, publish and load KIP / Label Solve distilled datasets.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("distill", help="distil a source dataset into a release folder")
    _add_distill_args(d)
    d.add_argument("--out", required=True, help="release folder to create (must not exist)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument("--checkpoint-every", type=int, default=0, help="save the KIP state every N steps")
    d.add_argument("--checkpoint-dir", default=None, help="default: <out>.checkpoint beside --out")
    d.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    d.set_defaults(func=cmd_distill)

    demo = sub.add_parser("demo", help="KIP and LS on digits at 1 and 10 images per class, offline")
    demo.add_argument("--out", default="demo_out")
    demo.add_argument("--steps", type=int, default=300)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=cmd_demo)

    _add_evaluate_parser(sub)  # evaluate: KRR / finite-network transfer of any release

    from .commands import add_commands  # list, info, verify, regenerate, rerun, plan

    add_commands(sub)

    from .builder_commands import add_builder_commands  # export-hf, push, builders

    add_builder_commands(sub)

    from .published_cli import add_import_parser  # import-published: the authors' published KIP / LS files

    add_import_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0, 1 runtime failure, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
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
