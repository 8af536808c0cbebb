"""`distilled-registry plan NAME --json` for every full-size ConvNet cell of the paper's table.

The KIP and LS cells of MNIST, Fashion-MNIST and CIFAR-10 at 1, 10 and 50 images per class with the
catalog's ConvNet spec (``<algorithm>_<source>/ipc<N>``) cannot run on this machine's 2 CPU cores;
this records, for each, the plan's estimate (kernel entries, tiles, and hours from the run's own
tiles timed here, or extrapolated from two smaller timed ones) into ``--out`` (JSON, name -> plan),
which ``benchmarks/paper_table.py --plans`` lists. Timings are taken on whatever else the machine is running at
the time.

    .venv/bin/python benchmarks/convnet_plans.py [--workers 1] [--out benchmarks/results/convnet_plans.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

from distilled_registry import cli

CELLS = [f"{alg}_{src}/ipc{ipc}" for src in ("mnist", "fashion_mnist", "cifar10") for alg in ("kip", "ls")
         for ipc in (1, 10, 50)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "convnet_plans.json"))
    p.add_argument("names", nargs="*", default=CELLS)
    a = p.parse_args()
    out = Path(a.out)
    plans = json.loads(out.read_text()) if out.exists() else {}
    for name in a.names:
        if name in plans:
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = cli.main(["plan", name, "--json"] + (["--backend", "ray", "--workers", str(a.workers)]
                                                       if a.workers > 1 else []))
        if rc != 0:
            print(f"{name}: plan failed (exit {rc})", flush=True)
            continue
        plans[name] = json.loads(buf.getvalue())
        print(f"{name}: {plans[name]['hours']:,.1f} h on {a.workers} worker(s)", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(plans, indent=2) + "\n")


if __name__ == "__main__":
    main()
