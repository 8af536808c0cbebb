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
    p.add_argument("--kernel-impl", choices=["nt", "fast"], default="nt")
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


def _config_from_args(a: argparse.Namespace):
    from .pipelines.distill import ConfigError, DistillConfig
    from .pipelines.kernels import KernelSpec

    depth = a.depth if a.depth is not None else (1 if a.kernel == "fc" else 3)
    try:
        spec = KernelSpec(architecture=a.kernel, depth=depth, get=a.kernel_get, impl=a.kernel_impl)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    cfg = DistillConfig(source=a.source, algorithm=a.algorithm, kernel=spec, ipc=a.ipc, steps=a.steps,
                        learning_rate=a.lr, target_batch=a.target_batch, learn_labels=a.learn_labels,
                        reg=a.reg, ls_reg=a.ls_reg, zca=a.zca, zca_reg=a.zca_reg, seed=a.seed)
    cfg.validate()
    return cfg


def cmd_distill(a: argparse.Namespace) -> int:
    from .pipelines.distill import distill

    cfg = _config_from_args(a)
    prov = distill(cfg, a.out, a.source_dir, progress=not a.quiet)
    m = prov["metrics"]
    print(f"wrote {a.out}: KRR test accuracy {m['krr_test_accuracy']:.4f} "
          f"(natural {m['natural_krr_test_accuracy']:.4f}), {prov['timing']['wall_seconds']:.1f} s")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .pipelines.demo import run_demo

    run_demo(a.out, steps=a.steps, progress=not a.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distilled-registry",
                                description="Regenerate, publish and load KIP / Label Solve distilled datasets.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("distill", help="distil a source dataset into a release folder")
    _add_distill_args(d)
    d.add_argument("--out", required=True, help="release folder to create (must not exist)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=cmd_distill)

    demo = sub.add_parser("demo", help="KIP and LS on digits at 1 and 10 images per class, offline")
    demo.add_argument("--out", default="demo_out")
    demo.add_argument("--steps", type=int, default=300)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:  # ConfigError, SourceError, ReleaseError: bad input, said plainly
        print(f"distilled-registry {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
