"""benchmarks/train_sample_accuracy.py: the choice between two releases, made on training images.

Checked: the figure it prints and writes is KRR with the release's support on the class-balanced training sample
it names (recomputed here with krr.evaluate and the sample rebuilt from its seed); releases of two spaces are
refused rather than compared on one preprocessing."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

from distilled_registry.pipelines import kip, krr
from distilled_registry.pipelines.distill import DistillConfig, distill, prepare
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn

ROOT = Path(__file__).resolve().parent.parent
CFG = DistillConfig(source="digits", kernel=KernelSpec("fc", depth=1), ipc=1, steps=2, learn_labels=True,
                    target_batch=100)


def _script():
    spec = importlib.util.spec_from_file_location("tsa", ROOT / "benchmarks" / "train_sample_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_figures_are_krr_on_the_named_training_sample(tmp_path, capsys):
    distill(CFG, tmp_path / "a", progress=False)
    distill(dataclasses.replace(CFG, steps=4), tmp_path / "b", progress=False)
    out = tmp_path / "choice.json"
    assert _script().main([str(tmp_path / "a"), str(tmp_path / "b"), "--size", "500",
                           "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    data = prepare(CFG)
    y = data.source.y_train
    idx = kip.class_balanced_indices(y, 50, np.random.default_rng([0, 0x5E1EC7]))
    assert got["size"] == len(idx) == 500 and got["split"] == "train"
    assert got["indices_sha256"] == hashlib.sha256(idx.astype(np.int64).tobytes()).hexdigest()
    for row, name in zip(got["releases"], "ab"):
        d = np.load(tmp_path / name / "data.npz")
        want = krr.evaluate(make_kernel_fn(CFG.kernel), d["images"], d["labels"], data.x_train[idx], y[idx], CFG.reg)
        assert row["train_sample_accuracy"] == want["accuracy"]
        assert abs(row["train_sample_mse"] - want["mse"]) <= 1e-6 * want["mse"]
    assert got["releases"][0]["train_sample_accuracy"] != got["releases"][1]["train_sample_accuracy"] or \
        got["releases"][0]["train_sample_mse"] != got["releases"][1]["train_sample_mse"]
    assert "accuracy" in capsys.readouterr().out


def test_releases_of_two_preprocessings_are_refused(tmp_path, capsys):
    distill(CFG, tmp_path / "a", progress=False)
    distill(dataclasses.replace(CFG, zca=True), tmp_path / "z", progress=False)
    assert _script().main([str(tmp_path / "a"), str(tmp_path / "z")]) == 1
    assert "compare releases of one space" in capsys.readouterr().err


def test_target_steps_give_the_kip_loss_of_each_steps_batch(tmp_path, capsys):
    distill(CFG, tmp_path / "a", progress=False)
    out = tmp_path / "batches.json"
    assert _script().main([str(tmp_path / "a"), "--target-steps", "3:6", "--target-batch", "50",
                           "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["steps"] == [3, 4, 5] and got["target_batch"] == 50 and got["seed"] == CFG.seed
    data, d = prepare(CFG), np.load(tmp_path / "a" / "data.npz")
    y, fn = data.source.y_train, make_kernel_fn(CFG.kernel)
    row = got["releases"][0]
    for step, value in zip((3, 4, 5), row["batch_losses"]):
        idx = kip.target_indices(y, 50, CFG.seed, step)
        want = float(kip.kip_loss(fn, d["images"], d["labels"], data.x_train[idx],
                                  krr.centered_one_hot(y[idx], data.source.num_classes), CFG.reg))
        assert abs(value - want) <= 1e-5 * want
    assert len(set(row["batch_losses"])) == 3 and abs(row["mean"] - np.mean(row["batch_losses"])) < 1e-12
    assert "KIP loss on the target batches of steps 3-5" in capsys.readouterr().out


def test_target_steps_are_checked_before_any_work(tmp_path, capsys):
    for bad in (["--target-steps", "5:5", "--target-batch", "10"], ["--target-steps", "a:b", "--target-batch", "10"],
                ["--target-steps", "0:3"]):
        try:
            _script().main([str(tmp_path / "missing"), *bad])
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"{bad} was accepted")
    assert "--target-steps" in capsys.readouterr().err
