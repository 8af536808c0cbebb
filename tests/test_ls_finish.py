"""KIP's --ls-finish (the learned labels replaced by Label Solve's closed form for the final images) and
--finish-from (that solve applied to a finished KIP release without running its steps again).

What could go wrong and is checked: the finished labels are not Label Solve's for those images (checked against
``label_solve.label_solve``, computed independently with the plain kernel); the solve does not lower the KIP loss
over its targets; a release finished from a parent differs in any byte from one run with --ls-finish from the
start; the KIP labels' figure is lost; a parent of another config, another source copy, a damaged parent or a
parent already finished is accepted."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from distilled_registry import cli
from distilled_registry import release as rel
from distilled_registry.distill_config import ConfigError
from distilled_registry.errors import ReleaseError
from distilled_registry.pipelines import krr, label_solve
from distilled_registry.pipelines.distill import DistillConfig, distill, prepare
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn

# a ConvNet, as the real KIP releases, at depth 1: what is under test does not depend on the depth, and the three
# files sharing this kernel took 62 s at depth 2, 42 s at depth 1 (two workers)
SPEC = KernelSpec("convnet3", depth=1, impl="fast")


def _config(**change) -> DistillConfig:
    return dataclasses.replace(DistillConfig(source="digits", kernel=SPEC, ipc=1, steps=3, learn_labels=True,
                                             target_batch=100), **change)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 3-step KIP release (with its accuracy curve), the same run with --ls-finish, and the first one finished
    with --finish-from."""
    d = tmp_path_factory.mktemp("finish")
    plain = distill(_config(), d / "plain", progress=False, eval_every=1, eval_subset=100)
    whole = distill(_config(ls_finish=True), d / "whole", progress=False)
    later = distill(_config(ls_finish=True), d / "later", progress=False, finish_from=d / "plain")
    return d, plain, whole, later


def test_the_finished_labels_are_label_solves_for_the_kip_images(runs):
    d, plain, whole, _ = runs
    kip_data, fin = rel.read_data(d / "plain"), rel.read_data(d / "whole")
    assert np.array_equal(kip_data["images"], fin["images"])  # the solve changes the labels only
    data = prepare(_config())
    kernel_fn = make_kernel_fn(SPEC)
    # the whole training split as one block: K_ts (1347 x 10) in one kernel call, the shape k_ts below takes too
    want = label_solve.label_solve(kernel_fn, fin["images"], data.x_train,
                                   krr.centered_one_hot(data.source.y_train, 10), block=len(data.x_train))
    np.testing.assert_allclose(fin["labels"], want, rtol=1e-3, atol=1e-4)
    assert np.abs(fin["labels"] - kip_data["labels"]).max() > 1e-3  # it did change them
    # for these images it minimises the KIP loss over the whole training split: lower than the KIP labels'
    k_ss = np.asarray(kernel_fn(fin["images"], fin["images"]))
    k_ts = np.asarray(kernel_fn(data.x_train, fin["images"]))
    y_t = krr.centered_one_hot(data.source.y_train, 10)
    assert float(krr.loss(k_ss, k_ts, fin["labels"], y_t)) < float(krr.loss(k_ss, k_ts, kip_data["labels"], y_t))


def test_the_kip_labels_figure_is_recorded_beside_the_finished_one(runs):
    _, plain, whole, _ = runs
    m = whole["metrics"]
    assert m["krr_test_accuracy_before_ls_finish"] == plain["metrics"]["krr_test_accuracy"]
    assert m["krr_test_mse_before_ls_finish"] == pytest.approx(plain["metrics"]["krr_test_mse"], rel=1e-5)
    assert m["natural_krr_test_accuracy"] == plain["metrics"]["natural_krr_test_accuracy"]
    fin = whole["algorithm"]["ls_finish"]
    assert fin["targets"] == len(prepare(_config()).x_train) and fin["ls_reg"] == _config().ls_reg
    assert whole["config"]["ls_finish"] is True and "ls_finish" not in plain["config"]
    assert DistillConfig.from_dict(whole["config"]) == _config(ls_finish=True)


def test_finishing_a_release_later_gives_the_same_bytes_as_finishing_in_the_run(runs):
    d, plain, whole, later = runs
    assert (d / "later" / "data.npz").read_bytes() == (d / "whole" / "data.npz").read_bytes()
    assert later["metrics"]["krr_test_accuracy"] == whole["metrics"]["krr_test_accuracy"]
    assert later["config"] == whole["config"]
    parent = later["algorithm"]["finished_from_release"]
    assert parent["data_sha256"] == plain["files"]["data.npz"]["sha256"]
    assert later["algorithm"]["final_loss"] == plain["algorithm"]["final_loss"]
    assert later["algorithm"]["steps_run"] == 3 and later["algorithm"]["resumed_from_step"] == 3
    assert later["timing"]["seconds_before_resume"] == plain["timing"]["algorithm_seconds"]
    assert (d / "later" / "loss_curve.png").read_bytes() == (d / "plain" / "loss_curve.png").read_bytes()
    assert all(c.ok for c in rel.verify(d / "later"))


def test_the_accuracy_curve_of_the_parent_is_carried_over(runs):
    _, plain, _, later = runs
    assert len(plain["metrics"]["test_subset_curve"]["steps"]) == 4  # steps 0..3
    assert later["metrics"]["test_subset_curve"] == plain["metrics"]["test_subset_curve"]
    assert "accuracy_curve.png" in later["files"]


@pytest.mark.parametrize("change, message", [
    ({"steps": 4}, "steps: release 3, this run 4"),
    ({"learning_rate": 0.01}, "learning_rate: release 0.04, this run 0.01"),
    ({"seed": 1}, "seed: release 0, this run 1"),
    ({"ls_finish": False}, "add --ls-finish"),
])
def test_a_parent_of_another_config_is_refused_before_any_work(runs, tmp_path, change, message):
    d = runs[0]
    with pytest.raises(ConfigError, match=message):
        distill(_config(**{"ls_finish": True, **change}), tmp_path / "o", progress=False, finish_from=d / "plain")
    assert not (tmp_path / "o").exists()


def test_a_parent_already_finished_or_damaged_is_refused(runs, tmp_path):
    d = runs[0]
    with pytest.raises(ConfigError, match="already solved"):
        distill(_config(ls_finish=True), tmp_path / "o", progress=False, finish_from=d / "whole")
    shutil.copytree(d / "plain", tmp_path / "bad")
    data = bytearray((tmp_path / "bad" / "data.npz").read_bytes())
    data[-40] ^= 1
    (tmp_path / "bad" / "data.npz").write_bytes(bytes(data))
    with pytest.raises(ReleaseError, match="sha256"):
        distill(_config(ls_finish=True), tmp_path / "o", progress=False, finish_from=tmp_path / "bad")


def test_a_parent_from_another_copy_of_the_source_is_refused(runs, tmp_path):
    """A parent whose recorded source fingerprint is not this source's (its provenance rewritten, sha256s kept
    consistent as a forger would): refused after loading the source, before the solve."""
    d = runs[0]
    shutil.copytree(d / "plain", tmp_path / "other")
    p = json.loads((tmp_path / "other" / "provenance.json").read_text())
    p["source"]["fingerprint_sha256"] = "0" * 64
    (tmp_path / "other" / "provenance.json").write_text(json.dumps(p))
    with pytest.raises(ConfigError, match="fingerprint"):
        distill(_config(ls_finish=True), tmp_path / "o", progress=False, finish_from=tmp_path / "other")


@pytest.mark.parametrize("argv, message", [
    (["--algorithm", "ls", "--ls-finish"], "--ls-finish is for --algorithm kip"),
    (["--ls-targets", "500"], "--ls-targets 500 is for --algorithm ls or --ls-finish"),
    (["--finish-from", "nowhere"], "add --ls-finish"),
    (["--ls-finish", "--finish-from", "nowhere", "--eval-every", "1"], "runs no steps"),
])
def test_the_cli_refuses_misused_finish_flags_in_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["distill", "--ipc", "1", "--steps", "2", "--quiet", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_ls_targets_with_the_finish_solves_against_that_sample(tmp_path):
    prov = distill(_config(steps=1, ls_finish=True, ls_targets=200), tmp_path / "o", progress=False)
    assert prov["algorithm"]["ls_finish"]["targets"] == 200
    assert prov["config"]["ls_targets"] == 200


def test_the_plan_counts_the_finish(tmp_path):
    from distilled_registry.pipelines import plan

    info = {"num_classes": 10, "train_size": 1347, "test_size": 450, "image_shape": [8, 8, 1]}
    run = plan.Run(_config(ls_finish=True))
    calls = [c for c in plan.kernel_calls(run, info) if c.part == "LS finish"]
    # 1347 targets through tiles of 10 support columns, plus K_ss, all forward and once (not per step)
    assert calls and all(c.mode == "forward" and not c.per_step for c in calls)
    assert sum(c.rows * c.count for c in calls if c.rows != 10) >= 1347
    assert not [c for c in plan.kernel_calls(plan.Run(_config()), info) if c.part == "LS finish"]
