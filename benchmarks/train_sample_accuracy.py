"""KRR accuracy of releases on a fixed sample of their source's *training* split: a decision made without the test.

When two releases of one config compete (a continued run against the release it started from, a label-solve
finish against the KIP labels), the choice is made here, on training images, before the test figure is looked
at; the test split then only reports the chosen one. For each release folder: its config is read from the
provenance, the source is loaded and mapped with that config's preprocessing (:func:`pipelines.distill.prepare`;
the release's ``transform.npz`` must equal it byte for byte), and KRR with the release's images and labels
(ridge ``reg * tr(K_ss)/n``, :func:`pipelines.krr.evaluate`) predicts a class-balanced sample of ``--size``
training images drawn with ``numpy.random.default_rng([seed, 0x5E1EC7])`` (:func:`pipelines.kip.class_balanced_indices`,
``size // C`` a class). Every release must share the source and preprocessing (one sample for all).

    .venv/bin/python benchmarks/train_sample_accuracy.py --source-dir ../shared/data/mnist \\
        benchmarks/results/runs/kip_mnist_ipc1 /tmp/continued --json /tmp/choice.json

Prints one line per release (accuracy, MSE on the sample) and writes them as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time

SAMPLE_TAG = 0x5E1EC7  # the sample's rng stream, apart from the support's (0xC1A55), targets' (0x7A), curve's (0xE7A1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("releases", nargs="+", help="release folders of one source and preprocessing")
    ap.add_argument("--source-dir", default=None,
                    help="where the source's files are (e.g. ../shared/data/mnist; none for digits)")
    ap.add_argument("--size", type=int, default=5000, help="training images in the sample (default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args(argv)

    import numpy as np

    from distilled_registry import atomic
    from distilled_registry.distill_config import DistillConfig
    from distilled_registry.pipelines import kip, krr
    from distilled_registry.pipelines.distill import prepare
    from distilled_registry.pipelines.kernels import make_kernel_fn
    from distilled_registry.release import read_release

    releases = [read_release(p) for p in a.releases]  # each verified against its sha256s
    configs = [DistillConfig.from_dict(r.record["config"]) for r in releases]
    data = prepare(configs[0], a.source_dir)
    for r in releases:
        if r.files["transform.npz"] != data.transform.to_bytes():
            print(f"{r.path}: its transform.npz is not {configs[0].source}'s preprocessing of the first release; "
                  "compare releases of one space", file=sys.stderr)
            return 1
    y = data.source.y_train
    idx = kip.class_balanced_indices(y, a.size // data.source.num_classes, np.random.default_rng([a.seed, SAMPLE_TAG]))
    out = {"size": int(len(idx)), "seed": a.seed, "split": "train",
           "indices_sha256": hashlib.sha256(np.ascontiguousarray(idx, np.int64).tobytes()).hexdigest(),
           "releases": []}
    for r, cfg in zip(releases, configs):
        t = time.perf_counter()
        m = krr.evaluate(make_kernel_fn(cfg.kernel), r.arrays["images"], r.arrays["labels"], data.x_train[idx],
                         y[idx], cfg.reg, cfg.eval_block)
        row = {"release": str(r.path), "data_sha256": r.record["files"]["data.npz"]["sha256"],
               "train_sample_accuracy": m["accuracy"], "train_sample_mse": m["mse"],
               "seconds": round(time.perf_counter() - t, 1)}
        out["releases"].append(row)
        print(f"{r.path}: accuracy {m['accuracy']:.4f}, MSE {m['mse']:.6f} on {len(idx)} training images "
              f"({row['seconds']} s)")
    if a.json:
        atomic.write_text(a.json, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
