"""Seconds per KIP step of a catalog spec, on whatever device jax picks.

One KIP step is what ``distill`` does per Adam step: the kernel matrices ``K_ss`` (upper
triangle) and ``K_ts`` of the spec's support set (``ipc x classes`` images) and a class-balanced
target batch, cut into the tiles ``--tile`` gives (pipelines/tiling.py), forward with
``jax.vjp`` and backward through every tile (pipelines/distributed.py ``TiledEngine``, one
in-process worker), the KRR loss and its gradient, and one Adam update. Images are random in the
source's shape (the cost does not depend on their content), so no dataset is needed.

The first step (compilation) is reported apart; then ``--steps`` timed steps, median and spread.
``--support`` / ``--targets`` shrink the problem (a toy run on a CPU); the figure that decides
whether the headline release can be regenerated is the spec's own size, e.g. ``kip_cifar10/ipc10``:
100 support images, 5000 targets, 505,050 kernel entries a step.

    .venv/bin/python benchmarks/kip_step.py kip_cifar10/ipc10 --steps 3 --out kip_step.json
    .venv/bin/python benchmarks/kip_step.py kip_cifar10/ipc10 --support 10 --targets 20 --steps 2   # toy

float32 products on NVIDIA GPUs may use TF32 unless told otherwise: ``--precision`` sets
``jax_default_matmul_precision`` (default ``highest``: full float32) and the output states it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("name", help="catalog name of a KIP spec, e.g. kip_cifar10/ipc10")
    p.add_argument("--steps", type=int, default=3, help="timed steps after the first (compiling) one")
    p.add_argument("--support", type=int, default=None, help="support images (default: the spec's ipc x classes)")
    p.add_argument("--targets", type=int, default=None, help="target batch (default: the spec's class-balanced batch)")
    p.add_argument("--tile", type=int, default=None, help="most rows per kernel tile (default: the spec's, 128)")
    p.add_argument("--impl", choices=["fast", "nt"], default=None, help="kernel implementation (default: the spec's)")
    p.add_argument("--precision", choices=["highest", "high", "default"], default="highest",
                   help="jax_default_matmul_precision (highest: full float32, no TF32)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    a = p.parse_args(argv)
    if a.steps < 1 or (a.support is not None and a.support < 1) or (a.targets is not None and a.targets < 1):
        p.error("--steps, --support and --targets must be positive")

    from distilled_registry.pipelines import devices

    devices.one_device_per_core()  # on a CPU, every core a jax device, as the commands do
    import jax

    jax.config.update("jax_default_matmul_precision", a.precision)
    import numpy as np
    import optax

    from distilled_registry import catalog
    from distilled_registry.pipelines import backends, kip, krr
    from distilled_registry.pipelines.distill import DistillConfig
    from distilled_registry.pipelines.distributed import TiledEngine
    from distilled_registry.pipelines.kernels import KernelSpec
    from distilled_registry.pipelines.tiling import Tiling

    e = catalog.entry(a.name)
    if not e.spec or e.spec.get("algorithm") != "kip":
        p.error(f"{a.name} has no KIP spec in the catalog (`distilled-registry info {a.name}`)")
    cfg = DistillConfig.from_dict(dict(e.spec))
    spec = cfg.kernel if a.impl is None else KernelSpec(**{**cfg.kernel.to_dict(), "impl": a.impl})
    tile = cfg.tile if a.tile is None else a.tile
    info = e.source_info
    c, shape = int(info["num_classes"]), tuple(info["image_shape"])
    n = a.support or cfg.ipc * c
    m = a.targets or kip.balanced_count(c, int(info["train_size"]), cfg.target_batch)
    rng = np.random.default_rng(0)
    x_s = rng.normal(size=(n, *shape)).astype(np.float32)
    y_s = krr.centered_one_hot(np.arange(n) % c, c).astype(np.float32)
    x_t = rng.normal(size=(m, *shape)).astype(np.float32)
    y_t = krr.centered_one_hot(np.arange(m) % c, c).astype(np.float32)

    pool = backends.make_workers(spec.to_dict(), "local", 1, None)
    engine = TiledEngine(pool, cfg.reg, tile)
    opt = optax.adam(cfg.learning_rate)  # as kip.optimizer
    params = {"images": x_s, "labels": y_s} if cfg.learn_labels else {"images": x_s}
    fixed = {} if cfg.learn_labels else {"labels": y_s}
    state = opt.init(params)

    def step(params, state):
        loss, grads = engine(params, fixed, x_t, y_t)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        jax.block_until_ready(params)
        return params, state, float(loss)

    t = time.perf_counter()
    params, state, loss0 = step(params, state)
    first = time.perf_counter() - t
    times, losses = [], [loss0]
    for _ in range(a.steps):
        t = time.perf_counter()
        params, state, loss = step(params, state)
        times.append(time.perf_counter() - t)
        losses.append(loss)
    pool.close()
    tiling = Tiling.for_tile(n, m, tile)
    entries = n * (n + 1) // 2 + m * n
    dev = jax.devices()[0]
    med = statistics.median(times)
    out = {
        "name": a.name, "kernel": spec.to_dict(), "image_shape": list(shape), "support": n, "targets": m,
        "tile": tile, "block": tiling.block, "target_block": tiling.target_block,
        "tiles_per_step": len(tiling.tiles()), "entries_per_step": entries,
        "first_step_seconds": first, "step_seconds": times, "median_step_seconds": med,
        "spread_seconds": [min(times), max(times)], "ms_per_entry": 1e3 * med / entries,
        "losses": losses, "finite": bool(np.all(np.isfinite(losses))),
        "precision": a.precision, "device": f"{dev.platform}: {dev.device_kind}", "device_count": jax.device_count(),
        "jax": jax.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"{a.name}: {spec.architecture} depth {spec.depth} {spec.get} (impl {spec.impl}), images {shape}, "
          f"support {n}, targets {m}, {entries:,} entries a step in {out['tiles_per_step']} tiles "
          f"({tiling.block}/{tiling.target_block} rows), on {out['device']} (jax {jax.__version__}, "
          f"precision {a.precision})")
    print(f"  first step (compiling): {first:.2f} s; then {med:.3f} s a step (median of {len(times)}, "
          f"{min(times):.3f}..{max(times):.3f}), {out['ms_per_entry']:.4f} ms per entry; "
          f"loss {losses[0]:.5g} -> {losses[-1]:.5g}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=2)
    return 0 if out["finite"] else 1


if __name__ == "__main__":
    sys.exit(main())
