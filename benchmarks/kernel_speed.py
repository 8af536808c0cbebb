"""Time neural-tangents' ConvNet kernel against the fast one (pipelines/convnet_kernel.py).

One run, the same inputs, side by side: milliseconds per kernel entry of the forward pass
``K = k(x1, x2)`` and of the forward pass plus the vector-Jacobian product with respect to
``x2`` (what KIP needs), for each image size, and the ratio nt / fast. Both kernels are jitted;
each function is called once first (compilation and warm-up, not timed), then the timed calls
alternate between the implementations (so a change in machine load hits all alike; in reversed
order every other repeat, so that none is always second), and the median over ``--repeats`` is
reported. Kernels are ``n x n`` (``--n`` images on each side).

Sizes not divisible by ``2 ** depth`` (28 with depth 3) keep the depth: both kernels pool with
VALID padding and round odd sides down, 28 -> 14 -> 7 -> 3 (neural-tangents' network, which the
fast kernel follows); the table says so. ``--divisible-depth`` instead lowers the depth to the
largest one that divides the size (28x28: depth 2).

``--against-commit REV`` also times the fast kernel as it was at git revision ``REV``
(``pipelines/convnet_kernel.py`` loaded from ``git show``), as implementation ``old``, in the same
alternating loop, and reports old / fast and the largest relative difference of their kernels
(0 when a change of the code keeps the results bit for bit).

    .venv/bin/python benchmarks/kernel_speed.py                       # 8 16 28 32, n = 4
    .venv/bin/python benchmarks/kernel_speed.py --sizes 32 --n 6 --repeats 5 --markdown out.md
    .venv/bin/python benchmarks/kernel_speed.py --sizes 32 28 --impls fast --against-commit HEAD

Runs unchanged on a GPU (jax picks its default device, which the output names).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from distilled_registry.pipelines import devices

if __name__ == "__main__" and "--one-device" not in sys.argv:
    devices.one_device_per_core()  # before jax starts: one host device per core, as the CLI does

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from distilled_registry.pipelines import kernels  # noqa: E402


def depth_for(size: int, depth: int, divisible: bool) -> int:
    """``depth``, or with ``divisible`` the largest smaller depth whose ``2 ** depth`` divides ``size``."""
    while depth > 1 and (size < 2 ** depth or (divisible and size % 2 ** depth)):
        depth -= 1
    return depth


def pooled_sides(size: int, depth: int) -> str:
    sides = [size]
    for _ in range(depth):
        sides.append(sides[-1] // 2)
    return " -> ".join(map(str, sides))


REPO = Path(__file__).resolve().parent.parent
RATIO_FORMAT = {"nt": "{:.1f}x", "old": "{:.3f}x"}  # other / fast


def old_fast_kernel(rev: str) -> tuple[ModuleType, str]:
    """``(module, commit)``: ``pipelines/convnet_kernel.py`` at git revision ``rev``, imported.

    It is loaded as ``distilled_registry.pipelines._convnet_kernel_old``, so that its relative
    imports (``from .kernels import KernelSpec``) resolve to this checkout's modules.
    """
    def git(*cmd: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *cmd], check=True, capture_output=True,
                              text=True).stdout

    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    name = "distilled_registry.pipelines._convnet_kernel_old"
    with tempfile.TemporaryDirectory(prefix="kernel_speed_") as tmp:
        path = Path(tmp) / "convnet_kernel_old.py"
        path.write_text(git("show", f"{commit}:pipelines/convnet_kernel.py"))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "distilled_registry.pipelines"
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module, commit


def build(spec: kernels.KernelSpec, old: ModuleType | None = None):
    """``(forward, forward_and_vjp)``, both jitted; the vjp is with respect to ``x2``.

    With ``old`` (a fast kernel module from :func:`old_fast_kernel`), its ``kernel_fn`` of
    ``spec``, wrapped as :func:`kernels.make_kernel_fn` wraps the current one.
    """
    if old is None:
        f = kernels.make_kernel_fn(spec)
    else:
        f = jax.jit(devices.over_devices(old.kernel_fn(spec)))

    @jax.jit
    def fwd_vjp(x1, x2, cotangent):
        k, pullback = jax.vjp(lambda b: f(x1, b), x2)
        return k, pullback(cotangent)[0]

    return f, fwd_vjp


def seconds(fn, *args) -> float:
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t


def others(impls) -> list[str]:
    """The implementations compared with ``fast`` (ratios other / fast), when it is timed."""
    return [impl for impl in impls if impl != "fast"] if "fast" in impls else []


def bench_size(size: int, args) -> dict:
    depth = depth_for(size, args.depth, args.divisible_depth)
    rng = np.random.default_rng(size)
    shape = (args.n, size, size, args.channels)
    x1 = jnp.asarray(rng.normal(size=shape), jnp.float32)
    x2 = jnp.asarray(rng.normal(size=shape), jnp.float32)
    ct = jnp.asarray(rng.normal(size=(args.n, args.n)), jnp.float32)
    impls = {}
    for impl in args.all_impls:
        spec = kernels.KernelSpec(args.arch, depth=depth, get=args.get,
                                  impl="fast" if impl == "old" else impl)
        f, fv = build(spec, args.old if impl == "old" else None)
        t = time.perf_counter()
        k = np.asarray(f(x1, x2))  # compile + first run, not timed
        jax.block_until_ready(fv(x1, x2, ct))
        impls[impl] = {"f": f, "fv": fv, "k": k, "fwd": [], "vjp": [],
                       "warmup_s": time.perf_counter() - t}
    for repeat in range(args.repeats):
        # the order reverses every repeat (A B, B A, ..): the second call of a repeat measured about
        # 1% faster than the first with two identical compiled programs
        for impl in args.all_impls[:: -1 if repeat % 2 else 1]:
            d = impls[impl]
            d["fwd"].append(seconds(d["f"], x1, x2))
            d["vjp"].append(seconds(d["fv"], x1, x2, ct))
    entries = args.n * args.n
    row = {"size": size, "depth": depth, "depth_changed": depth != args.depth,
           "floored": size % 2 ** depth != 0}
    for impl in args.all_impls:
        for what in ("fwd", "vjp"):
            row[f"{impl}_{what}"] = 1000 * statistics.median(impls[impl][what]) / entries
        row[f"{impl}_warmup_s"] = impls[impl]["warmup_s"]
    for impl in others(args.all_impls):
        for what in ("fwd", "vjp"):
            row[f"ratio_{impl}_{what}"] = row[f"{impl}_{what}"] / row[f"fast_{what}"]
        ref = impls[impl]["k"]
        row[f"max_rel_diff_{impl}"] = float(np.max(np.abs(impls["fast"]["k"] - ref) / np.abs(ref)))
    return row


def diff_label(impl: str) -> str:
    return "max rel diff" if impl == "nt" else f"max rel diff fast vs {impl}"


def summary(row: dict, impls) -> str:
    parts = [f"{row['size']}x{row['size']}: depth {row['depth']}"]
    for what, name in (("fwd", "fwd"), ("vjp", "fwd+vjp")):
        ms = " vs ".join(f"{impl} {row[f'{impl}_{what}']:.3f}" for impl in impls)
        ratios = ", ".join(f"{impl}/fast " + RATIO_FORMAT[impl].format(row[f"ratio_{impl}_{what}"])
                           for impl in others(impls))
        parts.append(f"{name} {ms} ms/entry" + (f" ({ratios})" if ratios else ""))
    parts.append("warm-up " + ", ".join(f"{impl} {row[f'{impl}_warmup_s']:.1f} s" for impl in impls))
    return "; ".join(parts)


def table(rows, args, header) -> str:
    compared = others(args.all_impls)
    cols = ["size", "depth"]
    for what, name in (("fwd", "fwd"), ("vjp", "fwd+vjp")):
        cols += [f"{name} {impl} ms/entry" for impl in args.all_impls]
        cols += [f"{name} {impl}/fast" for impl in compared]
    cols += [diff_label(impl) for impl in compared]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        depth = f"{r['depth']}"
        if r["depth_changed"]:
            depth += f" (not {args.depth}: {r['size']} % {2 ** args.depth} != 0)"
        if r["floored"]:
            depth += f" (sides {pooled_sides(r['size'], r['depth'])}: odd sides pooled down)"
        cells = [f"{r['size']}x{r['size']}x{args.channels}", depth]
        for what in ("fwd", "vjp"):
            cells += [f"{r[f'{impl}_{what}']:.3f}" for impl in args.all_impls]
            cells += [RATIO_FORMAT[impl].format(r[f"ratio_{impl}_{what}"]) for impl in compared]
        cells += [f"{r[f'max_rel_diff_{impl}']:.1e}" for impl in compared]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(header + [""] + lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 28, 32], help="image heights = widths")
    p.add_argument("--n", type=int, default=4, help="images on each side: kernels are n x n")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per function (median)")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--arch", choices=["convnet", "convnet3"], default="convnet")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--get", choices=["ntk", "nngp"], default="ntk")
    p.add_argument("--divisible-depth", action="store_true",
                   help="lower the depth for sizes it does not divide (28x28 -> depth 2) instead of "
                        "pooling odd sides down")
    p.add_argument("--impls", nargs="+", choices=["nt", "fast"], default=["nt", "fast"],
                   help="implementations to time (both by default; fast alone where "
                        "neural-tangents is not installed)")
    p.add_argument("--one-device", action="store_true",
                   help="keep jax's single CPU device (default: one per core, rows of x1 spread over "
                        "them, as the distilled-registry commands do; both implementations alike)")
    p.add_argument("--against-commit", metavar="REV", default=None,
                   help="also time the fast kernel of pipelines/convnet_kernel.py at git revision "
                        "REV (implementation 'old') in the same alternating loop, with old/fast "
                        "ratios")
    p.add_argument("--markdown", default=None, help="also write the table (markdown) to this path")
    args = p.parse_args()
    args.old, commit = old_fast_kernel(args.against_commit) if args.against_commit else (None, None)
    args.all_impls = args.impls + (["old"] if args.old else [])

    dev = jax.devices()[0]
    header = [
        "# ConvNet kernel speed: neural-tangents (nt) vs fast",
        "",
        f"- {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; jax {jax.__version__}; "
        f"device: {dev.platform} {dev.device_kind} ({len(jax.devices())} device(s), the longer input "
        f"split over them for both implementations); "
        f"host: {platform.machine()}, {os.cpu_count()} CPU core(s)",
        f"- {args.arch}, {args.get}, W_std=sqrt(2), b_std=0.1; float32 random normal images; "
        f"{args.n}x{args.n} kernels; median of {args.repeats} timed calls after one untimed "
        f"(compiling) call; fwd+vjp = K and the vjp with respect to x2",
    ]
    if args.old:
        header.append(f"- old: the fast kernel at {args.against_commit} ({commit[:12]}), "
                      f"pipelines/convnet_kernel.py loaded from git; fast: the working tree's")
    if hasattr(os, "getloadavg"):
        header.append(f"- load average at start: {os.getloadavg()[0]:.2f}")
    print("\n".join(header), flush=True)
    rows = []
    for size in args.sizes:
        t = time.perf_counter()
        row = bench_size(size, args)
        rows.append(row)
        print(f"{summary(row, args.all_impls)}; {time.perf_counter() - t:.0f} s", flush=True)
    if hasattr(os, "getloadavg"):
        header.append(f"- load average at end: {os.getloadavg()[0]:.2f}")
    out = table(rows, args, header)
    print()
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(out)


if __name__ == "__main__":
    main()
