"""Draw the accuracy curve of a KIP run still in progress, from its checkpoint.

A run started with ``--eval-every N --checkpoint-every M`` keeps the points it has measured (KRR test
accuracy on its fixed test subset, :mod:`distilled_registry.pipelines.accuracy_curve`) in its
checkpoint's ``meta_json``; the finished release draws them as ``accuracy_curve.png``. This script
draws them before the run ends, so a run that spans several sessions or machines can be followed:

    .venv/bin/python benchmarks/checkpoint_curve.py CHECKPOINT_DIR --title "kip_mnist ipc1" --out curve.png

It prints the points (step, accuracy) and the checkpoint's step; it reads the file with
``allow_pickle=False`` and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def read_points(folder: Path) -> tuple[int, list[tuple[int, float]], list[float]]:
    """``(step, [(step, accuracy)], losses)`` saved in ``folder/kip_state.npz``."""
    with np.load(folder / "kip_state.npz", allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta_json"]).decode())
        losses = [float(x) for x in z["losses"]]
    return int(meta["step"]), [(int(s), float(a)) for s, a in meta.get("curve", [])], losses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint_dir", type=Path)
    p.add_argument("--title", default="KIP run in progress")
    p.add_argument("--out", type=Path, default=None, help="PNG to write (default: print only)")
    a = p.parse_args(argv)
    if not (a.checkpoint_dir / "kip_state.npz").is_file():
        print(f"checkpoint_curve: error: no kip_state.npz in {str(a.checkpoint_dir)!r}", file=sys.stderr)
        return 2
    step, points, losses = read_points(a.checkpoint_dir)
    print(f"checkpoint at step {step}; last loss {losses[-1] if losses else float('nan'):.5f}")
    for s, acc in points:
        print(f"  step {s:6d}  KRR accuracy on the test subset {100 * acc:.2f}%")
    if a.out is not None and points:
        from distilled_registry import atomic, preview

        png = preview.curve_png([s for s, _ in points], [acc for _, acc in points],
                                f"{a.title}: step {step} (in progress)")
        atomic.write_bytes(a.out, png)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
