"""``make demo``: KIP and Label Solve on scikit-learn's digits at 1 and 10 images per class.

Offline, a few minutes on two CPU cores. Writes four releases under ``out/``, prints a table of
KRR test accuracy (natural baseline vs KIP vs LS) and wall time, and saves ``out/grid.png``:
the distilled images next to the real images they started from.
"""

from __future__ import annotations

import time
from pathlib import Path

from distilled_registry import release as rel
from distilled_registry.preview import grid_png

from .distill import DistillConfig, distill
from .kernels import KernelSpec

IPCS = (1, 10)


def run_demo(out: str | Path = "demo_out", steps: int = 300, progress: bool = True) -> list[dict]:
    """Distil digits four ways into ``out`` (and ``grid.png``); returns one row per run for the table."""
    out = Path(out)
    kernel = KernelSpec("fc", depth=1)
    rows, panels, labels = [], [], []
    for ipc in IPCS:
        for algorithm in ("kip", "ls"):
            cfg = DistillConfig(source="digits", algorithm=algorithm, kernel=kernel, ipc=ipc, steps=steps,
                                learn_labels=True, seed=0)
            t = time.perf_counter()
            path = out / f"{algorithm}_digits" / f"ipc{ipc}"
            prov = distill(cfg, path, progress=progress, overwrite=True)
            m = prov["metrics"]
            rows.append({"algorithm": algorithm, "ipc": ipc, "natural": m["natural_krr_test_accuracy"],
                         "distilled": m["krr_test_accuracy"], "seconds": time.perf_counter() - t,
                         "path": str(path)})
            if ipc == 10:
                data = rel.read_data(path)
                panels.append((f"{algorithm.upper()} ipc10", data["images"], data["class_ids"]))
                labels.append(data["labels"] if algorithm == "kip" else None)
    # LS keeps the images it starts from: the real sample KIP starts from and the baseline uses.
    real = rel.read_data(out / "ls_digits" / "ipc10")
    panels.append(("real ipc10 (start)", real["images"], real["class_ids"]))
    labels.append(None)
    (out / "grid.png").write_bytes(grid_png(panels, [str(i) for i in range(10)], labels=labels,
                                            title="digits, FC NTK: distilled images next to the real ones"))
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
