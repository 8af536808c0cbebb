"""``make demo``: KIP and Label Solve on scikit-learn's digits at 1 and 10 images per class.

Offline, a few minutes on two CPU cores. Writes four releases under ``out/``, prints a table of
KRR test accuracy (natural baseline vs KIP vs LS) and wall time, and saves ``out/grid.png``:
the distilled images next to the real images they started from.
"""

from __future__ import annotations

import time
from pathlib import Path

from distilled_registry import atomic, output_folder, user_values
from distilled_registry import release as rel
from distilled_registry.preview import grid_png

from .distill import DistillConfig, distill
from .kernels import KernelSpec
from .limits import MAX_STEPS

IPCS = (1, 10)
# (algorithm, whether the grid prints the labels of its ipc-10 panel): KIP's learned labels; not LS's solved ones
RUNS = (("kip", True), ("ls", False))
DEMO = "demo"  # output_folder's marker: .distilled-registry-demo
GRID = "grid.png"


def run_demo(out: str | Path = "demo_out", steps: int = 300, progress: bool = True,
             overwrite: bool = False) -> list[dict]:
    """Distil digits four ways into ``out`` (and ``grid.png``); returns one row per run for the table.

    ``out`` must be new, or (with ``overwrite``) an earlier demo folder (rule A, :func:`output_folder.claim`:
    it carries ``.distilled-registry-demo`` and holds only what that run wrote). The four releases and the
    grid are made in a hidden folder beside ``out``, which replaces ``out`` in one step when all is done.
    """
    out = user_values.path(out, "--out")
    steps = user_values.count(steps, "--steps", 0, MAX_STEPS)  # rule E, before any work
    output_folder.claim(out, DEMO, replace=overwrite)
    kernel = KernelSpec("fc", depth=1)
    rows, panels, labels = [], [], []
    with atomic.staged_dir(out) as tmp:
        for ipc in IPCS:
            for algorithm, show_labels in RUNS:
                cfg = DistillConfig(source="digits", algorithm=algorithm, kernel=kernel, ipc=ipc, steps=steps,
                                    learn_labels=True, seed=0)
                t = time.perf_counter()
                where = Path(f"{algorithm}_digits") / f"ipc{ipc}"
                prov = distill(cfg, tmp / where, progress=progress)
                m = prov["metrics"]
                rows.append({"algorithm": algorithm, "ipc": ipc, "natural": m["natural_krr_test_accuracy"],
                             "distilled": m["krr_test_accuracy"], "seconds": time.perf_counter() - t,
                             "path": str(out / where)})
                if ipc == 10:
                    data = rel.read_data(tmp / where)
                    panels.append((f"{algorithm.upper()} ipc10", data["images"], data["class_ids"]))
                    labels.append(data["labels"] if show_labels else None)
        # LS keeps the images it starts from: the real sample KIP starts from and the baseline uses.
        real = rel.read_data(tmp / "ls_digits" / "ipc10")
        panels.append(("real ipc10 (start)", real["images"], real["class_ids"]))
        labels.append(None)
        (tmp / GRID).write_bytes(grid_png(panels, [str(i) for i in range(10)], labels=labels,
                                          title="digits, FC NTK: distilled images next to the real ones"))
        output_folder.mark(tmp, DEMO)
        rel.move_into_place(tmp, out, replace=overwrite, check=lambda p: output_folder.check(p, DEMO))
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown table: natural vs KIP vs LS KRR test accuracy and time, per images-per-class."""
    lines = ["| images/class | natural | KIP | LS | KIP time (s) | LS time (s) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for ipc in sorted({r["ipc"] for r in rows}):
        r = {x["algorithm"]: x for x in rows if x["ipc"] == ipc}
        lines.append(f"| {ipc} | {r['kip']['natural']:.4f} | {r['kip']['distilled']:.4f} | "
                     f"{r['ls']['distilled']:.4f} | {r['kip']['seconds']:.1f} | {r['ls']['seconds']:.1f} |")
    return "\n".join(lines)
