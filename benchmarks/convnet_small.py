"""ConvNet kernels on small images: the code of the full-size ConvNet cells, on scikit-learn's 8x8 digits.

The full-size ConvNet cells (28x28 MNIST, 32x32 CIFAR-10, depth 3) cost days to years of CPU time
here (``distilled-registry plan NAME``); this runs the same pipeline (``distill`` with a ConvNet
kernel, then ``pipelines.transfer`` with the ConvNet's finite network) on 8x8 digits to show it
works end to end. Each release goes into the store (``$DISTILLED_REGISTRY_HOME``) as
``<algorithm>_digits/ipc<N>-<architecture>`` version 1.0.0, is verified, and evaluated by transfer
with its natural baseline; one JSON line per cell is appended to ``--log``.

Defaults: ConvNet3 (no prepended conv layer), depth 2 (8x8 -> 4x4 -> 2x2), the ``fast`` kernel
implementation, KIP with 100 Adam steps at 0.04 on class-balanced target batches of 300, learned labels;
transfer with a ConvNet of width 64 (channels), 300 SGD steps, (lr_factor, weight_decay) chosen from
{0.1, 0.5} x {1e-5, 1e-4} on 300 validation images: smaller than the FC recipe (width 1024, 1000 steps,
3 x 3 pairs) because a ConvNet step costs about 0.4 s here even at width 128 on 8x8 images.

    DISTILLED_REGISTRY_HOME=/path/to/store nice .venv/bin/python benchmarks/convnet_small.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from distilled_registry import release as rel
from distilled_registry import store
from distilled_registry.pipelines import evaluation
from distilled_registry.pipelines import transfer as tr
from distilled_registry.pipelines.distill import DistillConfig, distill
from distilled_registry.pipelines.kernels import KernelSpec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--architecture", choices=["convnet", "convnet3"], default="convnet3")
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--impl", choices=["nt", "fast"], default="fast")
    p.add_argument("--ipc", type=int, nargs="+", default=[10])
    p.add_argument("--algorithms", nargs="+", default=["ls", "kip"])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--target-batch", type=int, default=300)
    p.add_argument("--width", type=int, default=64, help="channels of the finite ConvNet trained by transfer")
    p.add_argument("--transfer-steps", type=int, default=300, help="full-batch SGD steps of the transfer training")
    p.add_argument("--lr-factors", type=float, nargs="+", default=[0.1, 0.5])
    p.add_argument("--weight-decays", type=float, nargs="+", default=[1e-5, 1e-4])
    p.add_argument("--log", default="convnet_small.jsonl")
    a = p.parse_args()
    spec = KernelSpec(a.architecture, depth=a.depth, impl=a.impl)
    tcfg = dataclasses.replace(tr.TransferConfig(), width=a.width, steps=a.transfer_steps,
                               lr_factors=tuple(a.lr_factors), weight_decays=tuple(a.weight_decays),
                               validation_size=300)
    for ipc in a.ipc:
        for alg in a.algorithms:
            cfg = DistillConfig(source="digits", algorithm=alg, kernel=spec, ipc=ipc,
                                steps=a.steps if alg == "kip" else 0, target_batch=a.target_batch,
                                learn_labels=alg == "kip")
            name = f"{alg}_digits/ipc{ipc}-{a.architecture}"
            rec = {"name": name, "config": cfg.to_dict()}
            path = store.release_dir(name, "1.0.0")
            if not path.exists():
                t = time.perf_counter()
                with store.staging() as tmp:
                    distill(cfg, tmp / "release", progress=False)
                    path = store.add(tmp / "release", name, "1.0.0", {"made_by": "benchmarks/convnet_small.py"})
                rec["distill_wall_seconds"] = round(time.perf_counter() - t, 1)
            rec["verified"] = all(c.ok for c in rel.verify(path))
            m = rel.read_provenance(path)["metrics"]
            rec.update(krr=m["krr_test_accuracy"], natural=m["natural_krr_test_accuracy"])
            print(f"{name}: KRR {rec['krr']:.4f} (natural {rec['natural']:.4f}), verified {rec['verified']}",
                  flush=True)
            t = time.perf_counter()
            res = evaluation.evaluate(path, "transfer", None, config=tcfg, natural=True, record=True)
            rec["transfer_wall_seconds"] = round(time.perf_counter() - t, 1)
            rec["transfer"] = [res["accuracy_mean"], res["accuracy_std"]]
            rec["transfer_natural"] = [res["natural"]["accuracy_mean"], res["natural"]["accuracy_std"]]
            print(f"  transfer (width {a.width}, {a.transfer_steps} steps) {res['accuracy_mean']:.4f} +- "
                  f"{res['accuracy_std']:.4f} (natural "
                  f"{res['natural']['accuracy_mean']:.4f} +- {res['natural']['accuracy_std']:.4f}), "
                  f"{rec['transfer_wall_seconds']:.0f} s", flush=True)
            with open(a.log, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
