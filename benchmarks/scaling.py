"""KIP steps with the ConvNet kernel on 16x16 images: 1 vs 2 Ray workers, in one run.

Each Ray worker is a ONE-CORE worker: XLA's kernels single-threaded and the actor process pinned to
its own CPU (XLA on the CPU otherwise spreads one process over every core, and a "1 worker" figure
would already use both cores; the XLA flag alone still left a process at 1.6 cores here), so the
ratio measures the distribution, not XLA's threading. Images: scikit-learn digits upsampled to 16x16 (real
handwriting). The tile count is chosen even so 2 workers get equal work.

    .venv/bin/python benchmarks/scaling.py            # ~2-3 minutes with impl=nt
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on loopback

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--support", type=int, default=15, help="support images (n)")
    p.add_argument("--targets", type=int, default=20, help="target batch (m)")
    p.add_argument("--tile", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="timed steps per configuration (after 1 warm-up)")
    p.add_argument("--impl", choices=["nt", "fast"], default="nt")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()

    import ray

    from distilled_registry.pipelines import backends, krr, sources
    from distilled_registry.pipelines.distributed import TiledEngine
    from distilled_registry.pipelines.kernels import KernelSpec
    from distilled_registry.pipelines.tiling import Tiling

    d = sources.load_source("digits")
    x = np.kron(d.x_train, np.ones((1, 2, 2, 1), np.float32))  # 8x8 -> 16x16
    rng = np.random.default_rng(0)
    xs = x[rng.choice(len(x), a.support, replace=False)]
    ti = rng.choice(len(x), a.targets, replace=False)
    xt, yt = x[ti], krr.centered_one_hot(d.y_train[ti], 10)
    ys = krr.centered_one_hot(rng.integers(0, 10, a.support), 10)
    spec = KernelSpec("convnet", depth=3, impl=a.impl)
    n_tiles = len(Tiling.for_tile(a.support, a.targets, a.tile).tiles())
    entries = a.support * (a.support + 1) // 2 + a.support * a.targets

    ray.init(num_cpus=max(a.workers), include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    times = {}
    grads = {}
    for w in a.workers:
        pool = backends.RayWorkers(spec.to_dict(), workers=w, one_thread=True)
        cpus = [i["cpu"] for i in pool._call_all("info")]
        engine = TiledEngine(pool, 1e-6, a.tile)
        engine({"images": xs}, {"labels": ys}, xt, yt)  # warm-up: compiles on every worker
        step_times = []
        for _ in range(a.steps):
            t = time.perf_counter()
            _, g = engine({"images": xs}, {"labels": ys}, xt, yt)
            step_times.append(time.perf_counter() - t)
        times[w], grads[w] = statistics.median(step_times), g["images"]
        pool.close()
        print(f"{w} worker(s), one core each (CPUs {cpus}): {times[w]:.2f} s/step (median of {a.steps}), "
              f"{n_tiles} tiles/step, {entries} kernel entries/step", flush=True)
    ray.shutdown()
    base = min(a.workers)
    for w in a.workers:
        if w != base:
            same = np.array_equal(grads[w], grads[base])
            print(f"speed-up {w} vs {base} worker(s): {times[base] / times[w]:.2f}x "
                  f"(gradients bit-identical: {same}); ConvNet depth 3, 16x16x1, impl={a.impl}, "
                  f"{os.cpu_count()} CPU cores")


if __name__ == "__main__":
    main()
