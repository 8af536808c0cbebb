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

With ``--target-steps A:B`` the images are instead the target batches a run in the release's space draws at
steps ``A..B-1`` (:func:`pipelines.kip.target_indices` with the config's seed and ``--target-batch``), one
figure a batch: the KIP loss ``1/2 mean (K_ts K_reg^-1 y_s - y_t)^2`` of each release on each batch without an
update, which tells a loss that moves with the batches from one that moves with the images:

    .venv/bin/python benchmarks/train_sample_accuracy.py --source-dir ../shared/data/mnist \\
        benchmarks/results/runs/kip_mnist_ipc1_continued --target-steps 0:10 --target-batch 1000
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
    ap.add_argument("--target-steps", default=None, metavar="A:B",
                    help="instead: the target batches of steps A..B-1 (the config's seed), one figure a batch")
    ap.add_argument("--target-batch", type=int, default=None, help="with --target-steps: the run's target batch")
    a = ap.parse_args(argv)
    steps = None
    if a.target_steps is not None:
        try:
            first, end = (int(v) for v in a.target_steps.split(":"))
        except ValueError:
            ap.error(f"--target-steps {a.target_steps!r}: give A:B, two whole numbers (e.g. 0:10)")
        if not 0 <= first < end or a.target_batch is None or a.target_batch < 1:
            ap.error(f"--target-steps {a.target_steps!r} needs 0 <= A < B and a --target-batch of at least 1")
        steps = range(first, end)

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
    if steps is not None:
        return batch_losses(releases, configs, data, steps, a.target_batch, a.json)
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


def batch_losses(releases: list, configs: list, data, steps: range, batch: int, json_path: str | None) -> int:
    """Each release's KIP loss (= ``krr.evaluate``'s MSE) on the target batch of each step in ``steps``."""
    import numpy as np

    from distilled_registry import atomic
    from distilled_registry.pipelines import kip, krr
    from distilled_registry.pipelines.kernels import make_kernel_fn

    seeds = {c.seed for c in configs}
    if len(seeds) != 1:
        print(f"the releases were made with seeds {sorted(seeds)}: their target batches differ; compare one seed",
              file=sys.stderr)
        return 1
    y = data.source.y_train
    out = {"split": "train", "seed": configs[0].seed, "target_batch": batch, "steps": list(steps), "releases": []}
    for r, cfg in zip(releases, configs):
        fn, t, losses = make_kernel_fn(cfg.kernel), time.perf_counter(), []
        for s in steps:
            idx = kip.target_indices(y, batch, cfg.seed, s)
            losses.append(krr.evaluate(fn, r.arrays["images"], r.arrays["labels"], data.x_train[idx], y[idx],
                                       cfg.reg, cfg.eval_block)["mse"])
        row = {"release": str(r.path), "data_sha256": r.record["files"]["data.npz"]["sha256"],
               "batch_losses": losses, "mean": float(np.mean(losses)),
               "seconds": round(time.perf_counter() - t, 1)}
        out["releases"].append(row)
        print(f"{r.path}: KIP loss on the target batches of steps {steps.start}-{steps.stop - 1} "
              f"(batch {batch}): " + " ".join(f"{v:.5f}" for v in losses) + f"; mean {row['mean']:.5f} "
              f"({row['seconds']} s)")
    if json_path:
        atomic.write_text(json_path, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
