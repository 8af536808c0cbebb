"""The KRR accuracy curve measured during a KIP run (--eval-every), across a resume, and a checkpoint
resumed under another --steps (a run extended or ended early gives the uninterrupted run's bytes)."""

import hashlib
import json

import jax
import numpy as np
import pytest

from distilled_registry import cli
from distilled_registry.pipelines import accuracy_curve, checkpoint, kip, krr
from distilled_registry.pipelines.distill import MATMUL_PRECISION, DistillConfig, distill, prepare
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn
from distilled_registry.transform import Transform

# a ConvNet, as the real KIP releases, at depth 1: what is under test does not depend on the depth, and the three
# files sharing this kernel took 62 s at depth 2, 42 s at depth 1 (two workers)
SPEC = KernelSpec("convnet3", depth=1, impl="fast")
# test images the curve is measured on: 10 per class of the 450, the subset test_ls_finish measures too (one
# compiled kernel shape, 100 x 10, for both)
SUBSET = 100


def _config(steps: int) -> DistillConfig:
    return DistillConfig(source="digits", kernel=SPEC, ipc=1, steps=steps, learn_labels=True, target_batch=100)


def test_subset_is_class_balanced_fixed_by_seed(digits):
    a = accuracy_curve.subset_indices(digits.y_test, 100, seed=0)
    assert np.array_equal(a, accuracy_curve.subset_indices(digits.y_test, 100, seed=0))
    assert not np.array_equal(a, accuracy_curve.subset_indices(digits.y_test, 100, seed=1))
    assert np.bincount(digits.y_test[a]).tolist() == [10] * 10
    assert len(accuracy_curve.subset_indices(digits.y_test, 10**6, seed=0)) == len(digits.y_test)


def test_curve_points_are_the_krr_accuracy_of_the_support_set_on_the_subset(tmp_path):
    out = tmp_path / "rel"
    prov = distill(_config(4), out, progress=False, eval_every=2, eval_subset=SUBSET)
    c = prov["metrics"]["test_subset_curve"]
    assert c["steps"] == [0, 2, 4] and c["every"] == 2 and c["subset_size"] == SUBSET
    idx = accuracy_curve.subset_indices(prepare(_config(4)).source.y_test, SUBSET, 0)
    assert c["subset_indices_sha256"] == hashlib.sha256(idx.astype(np.int64).tobytes()).hexdigest()
    # the last point is the released support set's accuracy on those test images, recomputed here
    data = prepare(_config(4))
    with np.load(out / "data.npz") as z:
        images, labels, class_ids = z["images"], z["labels"], z["class_ids"]
    kernel_fn = make_kernel_fn(SPEC)
    acc = krr.evaluate(kernel_fn, images, labels, data.x_test[idx], data.source.y_test[idx])["accuracy"]
    assert c["accuracy"][-1] == pytest.approx(acc, abs=1e-9)
    # the first is the real start images with centred one-hot labels
    x0 = data.x_train[kip.support_indices(data.source.y_train, 1, 0)]
    acc0 = krr.evaluate(kernel_fn, x0, krr.centered_one_hot(class_ids, 10), data.x_test[idx],
                        data.source.y_test[idx])["accuracy"]
    assert c["accuracy"][0] == pytest.approx(acc0, abs=1e-9)
    assert (out / "accuracy_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy_curve.png" in json.loads((out / "provenance.json").read_text())["files"]
    assert Transform.load(out / "transform.npz") is not None


def _checkpoint_at(tmp_path, steps: int, every: int):
    """A checkpoint of the 4-step-or-more run saved at ``steps``, with the curve measured every ``every``."""
    cfg = _config(steps)
    data = prepare(cfg)
    kernel_fn = make_kernel_fn(SPEC)
    curve = accuracy_curve.Curve(every, accuracy_curve.subset_indices(data.source.y_test, SUBSET, 0), 0)
    folder = tmp_path / "ckpt"
    from distilled_registry.pipelines.backends import make_workers
    from distilled_registry.pipelines.distributed import TiledEngine

    pool = make_workers(SPEC.to_dict(), "local", 1, None)
    try:
        def hook(s, losses):
            if s.step % every == 0:
                curve.measure(kernel_fn, s.step, s.images, s.labels, data.x_test, data.source.y_test, cfg.reg,
                              cfg.eval_block)
                checkpoint.save(folder, s, _config(99).to_dict() | {"steps": steps}, losses, curve=curve.points)

        state, _ = kip.init(kip.KipConfig.of(cfg), data.x_train, data.source.y_train, 10)
        curve.measure(kernel_fn, 0, state.images, state.labels, data.x_test, data.source.y_test, cfg.reg,
                      cfg.eval_block)
        with jax.default_matmul_precision(MATMUL_PRECISION):  # as distill runs: the checkpoint records it (rule F)
            kip.run(kip.KipConfig.of(cfg), kernel_fn, data.x_train, data.source.y_train, 10, state=state,
                    engine=TiledEngine(pool, cfg.reg, cfg.tile), hook=hook, hook_every=1, progress=False)
    finally:
        pool.close()
    return folder, curve.points


def test_a_run_extended_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path):
    folder, points = _checkpoint_at(tmp_path, 2, 2)  # a run planned for 2 steps, then extended to 4
    assert [p[0] for p in points] == [0, 2]
    extended = distill(_config(4), tmp_path / "ext", progress=False, checkpoint_every=2, checkpoint_dir=folder,
                       resume=True, eval_every=2, eval_subset=SUBSET)
    whole = distill(_config(4), tmp_path / "whole", progress=False, eval_every=2, eval_subset=SUBSET)
    assert extended["algorithm"]["resumed_from_step"] == 2
    assert extended["timing"]["seconds_before_resume"] is None  # that checkpoint did not record the time before
    assert (tmp_path / "ext" / "data.npz").read_bytes() == (tmp_path / "whole" / "data.npz").read_bytes()
    # the curve carries over the resume: the points before it come from the checkpoint, the same figures
    assert extended["metrics"]["test_subset_curve"] == whole["metrics"]["test_subset_curve"]
    assert not folder.exists()


def test_a_checkpoint_past_the_requested_steps_is_refused_in_one_line(tmp_path, capsys):
    folder, _ = _checkpoint_at(tmp_path, 2, 2)
    args = ["distill", "--kernel", "convnet3", "--depth", "1", "--ipc", "1", "--steps", "1", "--learn-labels",
            "--target-batch", "100", "--quiet", "--out", str(tmp_path / "o"), "--resume", "--checkpoint-dir",
            str(folder)]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "is at step 2, past this run's --steps 1; give --steps 2 or more" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--eval-every", "-1"], "--eval-every -1 is out of range: give an integer 0.."),
    (["--eval-every", "5", "--algorithm", "ls"], "Label Solve has no steps"),
    (["--eval-every", "5", "--eval-subset", "0"], "--eval-subset 0 is out of range: give an integer 1.."),
])
def test_bad_curve_options_are_refused_before_any_work(tmp_path, capsys, args, message):
    assert cli.main(["distill", "--ipc", "1", "--steps", "1", "--quiet", "--out", str(tmp_path / "o")] + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
