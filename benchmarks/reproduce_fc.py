"""Reproduction runs of the FC cells of the paper's table (issue 6): KIP-FC and LS-FC on MNIST,
Fashion-MNIST and CIFAR-10 at 1, 10 and 50 images per class, into the local store, each verified.

Each cell is distilled, put into the store as ``<algorithm>_<source>/ipc<N>-fc`` version 1.0.0
(``$DISTILLED_REGISTRY_HOME``, layout ``<home>/<family>/<config>/<version>/``), verified (sha256 of
every file against provenance["files"]), and, with ``--transfer``, evaluated by finite-network
transfer (``pipelines.transfer``, default recipe, 3 seeds, natural baseline too), recorded in its
provenance. One line of JSON per cell goes to ``--log`` (wall time of each stage).

Settings of every cell: FC kernel depth 1 (NTK, W_std sqrt 2, b_std 0.1), KRR ridge 1e-6; KIP: 3000 Adam
steps at 0.04, class-balanced target batches of 5000, learned labels; LS: labels solved over the whole
training split. CIFAR-10 with ``--cifar-zca`` (ZCA whitening, reg 0.1). Cells already in the store are
skipped (their verification still runs). ``--depth D`` (D != 1) names the config ``ipcN-fcD``;
``--tag T`` appends ``-T`` (e.g. a longer run: ``--steps 10000 --tag s10000``).

The CIFAR-10 at hand may be a lossy JPEG copy (``cifar10-jpg.tar.gz``): its releases record
``exact_copy: false`` and every figure from them is labelled "CIFAR-10 (JPEG copy)".

    DISTILLED_REGISTRY_HOME=/path/to/store nice .venv/bin/python benchmarks/reproduce_fc.py \\
        --data-dir ../shared/data --cells kip_mnist:1,10,50 ls_mnist:1,10,50 --transfer
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from distilled_registry import catalog, store
from distilled_registry import release as rel
from distilled_registry.pipelines.distill import DistillConfig, distill
from distilled_registry.pipelines.kernels import KernelSpec

SOURCE_DIRS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}
VERSION = "1.0.0"


def cell_config(algorithm: str, source: str, ipc: int, cifar_zca: bool, steps: int, depth: int = 1) -> DistillConfig:
    return DistillConfig(source=source, algorithm=algorithm, kernel=KernelSpec("fc", depth=depth), ipc=ipc,
                         steps=steps if algorithm == "kip" else 0, learning_rate=0.04, target_batch=5000,
                         learn_labels=algorithm == "kip", zca=cifar_zca and source == "cifar10")


def release_name(cfg: DistillConfig, tag: str = "") -> str:
    depth = cfg.kernel.depth
    return (f"{cfg.algorithm}_{cfg.source}/ipc{cfg.ipc}-fc" + (str(depth) if depth != 1 else "")
            + ("-zca" if cfg.zca else "") + (f"-{tag}" if tag else ""))


def run_cell(cfg: DistillConfig, data_dir: Path, transfer: bool, log: Path, retransfer: bool = False,
             tag: str = "") -> None:
    name = release_name(cfg, tag)
    record = {"name": name, "config": cfg.to_dict()}
    try:
        path = store.release_dir(name, VERSION)
    except store.StoreError:
        path = None
    source_dir = str(data_dir / SOURCE_DIRS[cfg.source])
    if path is None or not path.exists():
        info = {"made_by": "benchmarks/reproduce_fc.py"}
        try:
            e = catalog.entry(name)
            if e.spec == {k: v for k, v in cfg.to_dict().items() if k in e.spec}:
                info["catalog_spec"] = e.spec
        except Exception:  # not in the catalog: a config this benchmark adds
            pass
        t = time.perf_counter()
        with store.staging() as tmp:
            distill(cfg, tmp / "release", source_dir, progress=False)
            path = store.add(tmp / "release", name, VERSION, info)
        record["distill_wall_seconds"] = round(time.perf_counter() - t, 1)
    prov = rel.read_provenance(path)
    checks = rel.verify(path)
    record["verified"] = all(c.ok for c in checks)
    record["problems"] = [f"{c.name}: {c.problem}" for c in checks if not c.ok]
    m = prov["metrics"]
    record.update(path=str(path), krr=m["krr_test_accuracy"], natural=m["natural_krr_test_accuracy"],
                  release_wall_seconds=prov["timing"]["wall_seconds"], exact_copy=prov["source"]["exact_copy"])
    print(f"{name}: KRR {m['krr_test_accuracy']:.4f} (natural {m['natural_krr_test_accuracy']:.4f}), "
          f"distill wall {prov['timing']['wall_seconds']:.0f} s, verified {record['verified']}", flush=True)
    if transfer and record["verified"] and (retransfer or "transfer" not in m):
        from distilled_registry.pipelines import evaluation
        from distilled_registry.pipelines import transfer as tr

        t = time.perf_counter()
        res = evaluation.evaluate(path, "transfer", source_dir, config=tr.TransferConfig(), natural=True,
                                  record=True)
        record["transfer_wall_seconds"] = round(time.perf_counter() - t, 1)
        record["transfer"] = [res["accuracy_mean"], res["accuracy_std"]]
        record["transfer_natural"] = [res["natural"]["accuracy_mean"], res["natural"]["accuracy_std"]]
        print(f"  transfer {res['accuracy_mean']:.4f} +- {res['accuracy_std']:.4f} (natural "
              f"{res['natural']['accuracy_mean']:.4f} +- {res['natural']['accuracy_std']:.4f}), "
              f"{record['transfer_wall_seconds']:.0f} s", flush=True)
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder holding mnist/, fashion_mnist/, cifar10/")
    p.add_argument("--cells", nargs="+", required=True,
                   help="ALGORITHM_SOURCE:IPC[,IPC...], e.g. kip_mnist:1,10,50 ls_cifar10:10")
    p.add_argument("--cifar-zca", action="store_true", help="ZCA-whiten CIFAR-10 (config name gains -zca)")
    p.add_argument("--steps", type=int, default=3000, help="KIP steps")
    p.add_argument("--depth", type=int, default=1,
                   help="FC kernel depth (hidden layers); config name ipcN-fcD when not 1")
    p.add_argument("--tag", default="", help="appended to the config name (e.g. s10000 for a longer run)")
    p.add_argument("--transfer", action="store_true", help="also run the finite-network transfer evaluation")
    p.add_argument("--retransfer", action="store_true", help="run the transfer evaluation again where one is recorded")
    p.add_argument("--log", default="repro_runs.jsonl", help="append one JSON line per cell here")
    a = p.parse_args()
    for cell in a.cells:
        family, _, ipcs = cell.partition(":")
        algorithm, _, source = family.partition("_")
        for ipc in ipcs.split(","):
            run_cell(cell_config(algorithm, source, int(ipc), a.cifar_zca, a.steps, a.depth), Path(a.data_dir),
                     a.transfer, Path(a.log), a.retransfer, a.tag)


if __name__ == "__main__":
    main()
