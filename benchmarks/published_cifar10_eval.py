"""KRR test accuracy of the authors' published KIP CIFAR-10 set of 100 images, with the ConvNet kernel.

Issue 7, item 4. The published set (100 images, 10 per class, ZCA space, learned labels) is the
support of kernel ridge regression with the ConvNet NTK (prepended 3x3 conv + ReLU, then 3 x [3x3
conv, ReLU, 2x2 avg-pool], W_std sqrt(2), b_std 0.1; ``KernelSpec("convnet", depth=3)``), ridge
``1e-6 * trace(K_ss)/n``. The test images are a stratified, seeded subset of the CIFAR-10 test
split (``--test-subset S``: S/10 per class; 0 = all 10,000) read from ``--source-dir`` and mapped
into the published space by the preprocessing rebuilt from the training split of the same copy
(per-channel standardisation, then ZCA with strength 0.1: ``pipelines.preprocess.fit_transform``),
or by the ``transform.npz`` of an imported release (``--release``), which was fitted the same way.

Natural baseline: 100 random real training images, 10 per class (``kip.support_indices(y, 10,
seed)``, the selection ``distill`` starts from), mapped by the same transform, centred one-hot
labels, the same kernel and ridge, on the same test images.

With the JPEG copy of CIFAR-10 (``../shared/data/cifar10``) the figures are CIFAR-10-like, not
CIFAR-10: its pixels differ from the original (and the transform is refitted on them), which the
output says.

    .venv/bin/python benchmarks/published_cifar10_eval.py --source-dir ../shared/data/cifar10 \\
        --release kip_cifar10/ipc10-convnet-zca-l --test-subset 100 --impl fast --out eval.json --record
    .venv/bin/python benchmarks/published_cifar10_eval.py --source-dir DIR \\
        --published ../shared/data/kip_official/cifar10_ConvNet_ssize100_zca_l --test-subset 0 --block 500

Prints the accuracy, the natural baseline, the test subset size and the time; writes ``--out``
(JSON). ``--record`` stores the result in the release's provenance as ``metrics["krr_evaluation"]``
(``distilled_registry.release.record_metrics``, as ``distilled-registry evaluate`` does); ``--record-json FILE``
records a result computed elsewhere (e.g. on a GPU machine without the release).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

REG = 1e-6
ZCA_REG = 0.1


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size // C`` indices per class drawn without replacement (seeded), sorted; all when ``size`` is 0."""
    if size <= 0 or size >= len(labels):
        return np.arange(len(labels))
    classes = np.unique(labels)
    if size % len(classes):
        raise SystemExit(f"--test-subset {size} is not a multiple of the {len(classes)} classes")
    rng = np.random.default_rng([seed, 0x7E57])
    idx = [rng.choice(np.flatnonzero(labels == c), size // len(classes), replace=False) for c in classes]
    return np.sort(np.concatenate(idx))


def kernel_blocks(kernel_fn, x1: np.ndarray, x2: np.ndarray, block: int, what: str,
                  symmetric: bool = False) -> tuple[np.ndarray, int]:
    """``(K(x1, x2), entries computed)`` in ``block``-row tiles (upper-triangle tiles only when ``symmetric``),
    with progress lines."""
    from distilled_registry.pipelines.tiling import pad_rows

    n1, n2 = len(x1), len(x2)
    out = np.empty((n1, n2), np.float32)
    b1, b2 = min(block, n1), min(block, n2) if not symmetric else min(block, n1)
    tiles = [(i, j) for i in range(0, n1, b1) for j in range(0, n2, b2) if not symmetric or j >= i]
    t0 = time.perf_counter()
    for k, (i, j) in enumerate(tiles):
        a, b = pad_rows(x1[i:i + b1], b1), pad_rows(x2[j:j + b2], b2)
        t = np.asarray(kernel_fn(a, b))[: min(b1, n1 - i), : min(b2, n2 - j)]
        out[i:i + t.shape[0], j:j + t.shape[1]] = t
        if symmetric and j != i:
            out[j:j + t.shape[1], i:i + t.shape[0]] = t.T
        print(f"  {what}: tile {k + 1}/{len(tiles)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out, len(tiles) * b1 * b2


def krr_eval(k_ss: np.ndarray, k_ts: np.ndarray, y_s: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and MSE (0.5 * mean squared error against centred one-hot) of KRR with ridge REG."""
    import jax.numpy as jnp

    from distilled_registry.pipelines import krr

    alpha = np.asarray(krr.fit(jnp.asarray(k_ss, jnp.float32), jnp.asarray(y_s, jnp.float32), REG))
    pred = k_ts @ alpha
    y = krr.centered_one_hot(labels, y_s.shape[1])
    return {"accuracy": float(np.mean(np.argmax(pred, 1) == labels)), "mse": float(0.5 * np.mean((pred - y) ** 2))}


def published_arrays(a):
    """``(images, labels, release folder or None, transform or None, what, sha256 of the published file(s))``
    of --release / --published."""
    import distilled_registry as dr
    from distilled_registry import published

    if a.release:
        p = Path(a.release)
        r = dr.load_path(p) if (p / "provenance.json").is_file() else dr.load(a.release)
        t = None
        if (r.path / "transform.npz").is_file():
            t = r.transform()
        sha = (r.provenance.get("origin") or {}).get("files_sha256")
        return r.images, r.labels, r.path, t, f"release {r.name}:{r.version} ({r.path})", sha
    arrays, sha, _, what = published.read_arrays(a.published)
    v = published.Variant("kip", "cifar10", "convnet", 100, True, learned_labels=True)
    x, y = published.check_arrays(arrays, v, what)
    return x, y, None, None, f"{what} (sha256 {sha})", sha


def record(release: Path, result: dict, key: str = "krr_evaluation") -> None:
    """Store ``result`` as ``metrics[key]`` of the release (its published file must be the one evaluated)."""
    from distilled_registry import release as rel

    prov = rel.read_provenance(release)
    have = (prov.get("origin") or {}).get("files_sha256")
    if result.get("support_files_sha256") and have and result["support_files_sha256"] != have:
        raise SystemExit(f"the result was computed on {result['support_files_sha256']}, but {release} holds {have}; "
                         "not recording it")
    result = {**result, "data_sha256": prov["files"]["data.npz"]["sha256"]}
    rel.record_metrics(release, key, result)
    print(f"recorded in {release / 'provenance.json'} under metrics.{key}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source-dir", help="CIFAR-10 local files (python/binary batches, or the JPEG tree/tarball)")
    src_g = p.add_mutually_exclusive_group()
    src_g.add_argument("--release", help="an imported release (store NAME or folder): its arrays, and its "
                                         "transform.npz when it has one")
    src_g.add_argument("--published", help="the published file: an .npz, or a folder with images.npy and labels.npy")
    p.add_argument("--test-subset", type=int, default=100,
                   help="test images, stratified (S/10 per class), seeded; 0 = the whole test split")
    p.add_argument("--seed", type=int, default=0, help="seed of the test subset and of the natural baseline's images")
    p.add_argument("--impl", choices=["fast", "nt"], default="fast", help="ConvNet kernel implementation")
    p.add_argument("--block", type=int, default=100, help="rows per tile of K_ts (test x support)")
    p.add_argument("--ss-block", type=int, default=25,
                   help="rows per tile of the symmetric K_ss (upper-triangle tiles only: smaller tiles skip more)")
    p.add_argument("--no-natural", action="store_true", help="skip the natural baseline")
    p.add_argument("--out", default=None, help="write the result here (JSON)")
    p.add_argument("--record", action="store_true", help="record the result in --release's provenance")
    p.add_argument("--record-json", default=None,
                   help="record this earlier result (JSON) in --release; compute nothing")
    p.add_argument("--key", default="krr_evaluation", help="the metrics key to record under (default krr_evaluation)")
    a = p.parse_args()

    if a.record_json:
        if not a.release:
            raise SystemExit("--record-json needs --release")
        import distilled_registry as dr

        rp = Path(a.release)
        path = rp if (rp / "provenance.json").is_file() else dr.load(a.release).path
        record(path, json.loads(Path(a.record_json).read_text()), a.key)
        return 0
    if not a.source_dir or not (a.release or a.published):
        raise SystemExit("give --source-dir and one of --release / --published")
    if a.record and not a.release:
        raise SystemExit("--record needs --release (an imported release to record the figure in)")

    t_start = time.perf_counter()
    from distilled_registry import environment
    from distilled_registry.pipelines import krr, preprocess, sources
    from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn
    from distilled_registry.pipelines.kip import support_indices

    x_pub, y_pub, release, transform, what, files_sha = published_arrays(a)
    src = sources.load_source("cifar10", a.source_dir)
    print(f"source: cifar10 from {src.origin} (fingerprint {src.fingerprint[:16]}..., exact copy: {src.exact})",
          flush=True)
    t0 = time.perf_counter()
    if transform is None or transform.params.get("fitted_on_sha256") != src.fingerprint:
        transform = preprocess.fit_transform(src.x_train, True, ZCA_REG, fitted_on=src.fingerprint)
        how = "fitted here on the training split (per-channel standardisation, ZCA 0.1)"
    else:
        how = "the release's transform.npz (fitted on the training split of this same copy)"
    fit_seconds = time.perf_counter() - t0
    idx = stratified_subset(src.y_test, a.test_subset, a.seed)
    x_test, y_test = transform.apply(src.x_test[idx]), src.y_test[idx]
    nat = support_indices(src.y_train, 10, a.seed)
    x_nat = transform.apply(src.x_train[nat])
    y_nat = krr.centered_one_hot(src.y_train[nat], 10)
    print(f"published set: {what}; test subset: {len(idx)} images ({len(idx) // 10} per class, seed {a.seed}); "
          f"transform: {how} ({fit_seconds:.0f} s)", flush=True)
    print(f"  published images: mean {x_pub.mean():.3f}, std {x_pub.std():.3f}; test images mapped: mean "
          f"{x_test.mean():.3f}, std {x_test.std():.3f}", flush=True)

    spec = KernelSpec("convnet", depth=3, impl=a.impl)
    kernel_fn = make_kernel_fn(spec)
    t_k = time.perf_counter()
    supports = [x_pub] + ([] if a.no_natural else [x_nat])
    k_ss = [kernel_blocks(kernel_fn, s, s, a.ss_block, f"K_ss {n}", symmetric=True)
            for s, n in zip(supports, ("published", "natural"))]
    k_ts, entries = kernel_blocks(kernel_fn, x_test, np.concatenate(supports), a.block, "K_ts")
    entries += sum(e for _, e in k_ss)
    k_ss = [k for k, _ in k_ss]
    kernel_seconds = time.perf_counter() - t_k
    res = krr_eval(k_ss[0], k_ts[:, :100], y_pub, y_test)
    out = {
        "accuracy": res["accuracy"], "mse": res["mse"],
        "recipe": {
            "what": "kernel ridge regression with the ConvNet NTK, the published set as support (its learned labels), "
                    "on a stratified seeded subset of the CIFAR-10 test split mapped by the transform rebuilt from the "
                    "training split of the same copy",
            "kernel": spec.to_dict(), "reg": REG, "ridge": "K_ss + reg * trace(K_ss)/n * I",
            "test_split": "test", "test_size": int(len(idx)), "test_subset": {
                "size": int(len(idx)), "per_class": int(len(idx)) // 10, "seed": a.seed,
                "selection": "benchmarks/published_cifar10_eval.stratified_subset: per class, numpy default_rng([seed, "
                             "0x7E57]).choice without replacement"},
            "transform": how, "zca_reg": ZCA_REG,
            "natural": "100 real training images, 10 per class (kip.support_indices(y_train, 10, seed)), centred "
                       "one-hot labels, same kernel, ridge and test images",
            "script": "benchmarks/published_cifar10_eval.py",
        },
        "source": {"name": src.name, "origin": src.origin, "fingerprint_sha256": src.fingerprint,
                   "matches_release": False, "exact_copy": src.exact,
                   "note": None if src.exact else ("the JPEG copy of CIFAR-10 (quality about 75): CIFAR-10-like "
                                                   "figures, not CIFAR-10's")},
        "support_files_sha256": files_sha,
        "kernel_entries_computed": int(entries), "kernel_seconds": round(kernel_seconds, 3),
        "seconds_per_entry": round(kernel_seconds / entries, 6),
    }
    if not a.no_natural:
        n = krr_eval(k_ss[1], k_ts[:, 100:], y_nat, y_test)
        out["natural_accuracy"], out["natural_mse"] = n["accuracy"], n["mse"]
    out["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    out["environment"] = {**environment.library_versions(), "device": environment.device()}
    out["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    nat_text = (f"; natural baseline (100 random real images) {out['natural_accuracy']:.4f}"
                if "natural_accuracy" in out else "")
    print(f"KRR test accuracy of the published set: {out['accuracy']:.4f}{nat_text}; on {len(idx)} test images of "
          f"{src.origin}{'' if src.exact else ' (JPEG copy: CIFAR-10-like, not CIFAR-10)'}; kernel {a.impl}, "
          f"{entries} kernel entries in {kernel_seconds:.0f} s; total {out['wall_seconds']:.0f} s on "
          f"{out['environment']['device']['platform']}", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {a.out}")
    if a.record:
        record(release, out, a.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
