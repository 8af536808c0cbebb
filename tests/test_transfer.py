"""Finite-network transfer evaluation (pipelines/transfer.py) and ``distilled-registry evaluate``.

On the embedded digits source only: one KIP release (10 per class, learned labels, 30 steps) made
once for the module.
"""

import json
import shutil

import numpy as np
import pytest

from distilled_registry import cli
from distilled_registry import release as rel
from distilled_registry.pipelines import evaluation, krr, transfer
from distilled_registry.pipelines.distill import DistillConfig, distill
from distilled_registry.pipelines.kernels import KernelSpec
from distilled_registry.transform import Transform


@pytest.fixture(scope="module")
def kip_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer") / "kip_digits_ipc10"
    # 30 steps, not the catalog's 300: the steps are most of the fixture's time, and these 30 already transfer
    # (test_kip_release_transfers_better_than_random_real_images)
    distill(DistillConfig(source="digits", algorithm="kip", ipc=10, steps=30, learn_labels=True), out,
            progress=False)
    return out


@pytest.fixture(scope="module")
def test_split(kip_release, digits):
    return Transform.load(kip_release / "transform.npz").apply(digits.x_test), digits.y_test


def _copy(src, tmp_path):
    dst = tmp_path / "release"
    shutil.copytree(src, dst)
    return dst


def test_kip_release_transfers_better_than_random_real_images(kip_release, test_split, digits):
    """The finite FC net trained on the KIP set beats the same net trained on as many real images per class."""
    x_test, y_test = test_split
    data = rel.read_data(kip_release)
    spec = KernelSpec("fc", depth=1)
    t = Transform.load(kip_release / "transform.npz")
    rng = np.random.default_rng(123)  # random real images, same count per class as the KIP set
    idx = np.concatenate([rng.choice(np.flatnonzero(digits.y_train == c), 10, replace=False) for c in range(10)])
    vidx = transfer.validation_indices(digits.y_train, 300, exclude=idx)
    assert not set(vidx) & set(idx) and len(vidx) == 300
    validation = (t.apply(digits.x_train[vidx]), digits.y_train[vidx])
    # the default recipe (three seeds, (lr, L2) chosen on validation among 9 pairs) at width 256, not 1024:
    # measured 97.5% against 90.9% (the 300-step release: 96.4% against 90.9%)
    config = transfer.TransferConfig(width=256)
    kip = transfer.evaluate(spec, data["images"], data["labels"], x_test, y_test, config, validation=validation)
    real = transfer.evaluate(spec, t.apply(digits.x_train[idx]), krr.centered_one_hot(digits.y_train[idx], 10),
                             x_test, y_test, config, validation=validation)
    assert len(kip["selection"]) == len(config.lr_factors) * len(config.weight_decays)

    assert len(kip["accuracies"]) == 3 and kip["train_size"] == real["train_size"] == 100
    assert kip["accuracy_mean"] > real["accuracy_mean"] + 0.03, (kip, real)


def test_same_seed_same_accuracy_other_seed_other_network(kip_release, test_split):
    x_test, y_test = test_split
    data = rel.read_data(kip_release)
    spec = KernelSpec("fc", depth=1)
    cfg = transfer.TransferConfig(width=256, steps=50, seeds=(0, 0, 1), lr_factors=(0.5,), weight_decays=(1e-4,))
    r = transfer.evaluate(spec, data["images"], data["labels"], x_test, y_test, cfg)
    assert r["accuracies"][0] == r["accuracies"][1]
    assert r["final_train_mse"][0] == r["final_train_mse"][1]
    assert r["final_train_mse"][2] != r["final_train_mse"][0]


def test_optimizer_is_sgd_momentum_cosine_with_l2():
    import jax.numpy as jnp

    opt = transfer.optimizer(10, lr=2.0, weight_decay=0.1, momentum=0.9)
    p = {"w": jnp.array([1.0])}
    s = opt.init(p)
    u, s = opt.update({"w": jnp.array([0.5])}, s, p)
    # first step: -lr(0) * (grad + wd * w) = -2 * (0.5 + 0.1)
    assert float(u["w"][0]) == pytest.approx(-1.2)
    # second step, same gradient at the same point: momentum trace 0.6 + 0.9 * 0.6, cosine rate
    # lr(1) = 2 * (1 + cos(pi / 10)) / 2
    u, s = opt.update({"w": jnp.array([0.5])}, s, p)
    assert float(u["w"][0]) == pytest.approx(-(0.6 + 0.9 * 0.6) * (1 + np.cos(np.pi / 10)), rel=1e-6)
    for _ in range(8):
        u, s = opt.update({"w": jnp.array([0.5])}, s, p)
    assert float(u["w"][0]) != 0.0  # step 10 of 10: the rate has decayed to 0
    u, s = opt.update({"w": jnp.array([0.5])}, s, p)
    assert float(u["w"][0]) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(transfer.TransferError, match="momentum"):
        transfer.TransferConfig(momentum=1.0)
    with pytest.raises(transfer.TransferError, match="validation"):
        transfer.evaluate(KernelSpec("fc"), np.zeros((2, 8, 8, 1)), np.eye(2), np.zeros((1, 8, 8, 1)), np.zeros(1),
                          transfer.TransferConfig())


def test_evaluate_cli_records_recipe_and_keeps_release_valid(kip_release, tmp_path, capsys):
    path = _copy(kip_release, tmp_path)
    before = json.loads((path / "provenance.json").read_text())
    rc = cli.main(["evaluate", str(path), "--seeds", "2", "--steps", "100", "--width", "256", "--lr-factor", "0.1",
                   "0.5", "--weight-decay", "1e-4", "--json"])
    assert rc == 0
    shown = json.loads(capsys.readouterr().out)
    prov = rel.read_provenance(path)  # schema-checked
    t = prov["metrics"]["transfer"]
    assert t == shown["transfer"]
    assert t["seeds"] == [0, 1] and len(t["accuracies"]) == 2 and 0 <= t["accuracy_std"]
    r = t["recipe"]
    for key in ("network", "width", "steps", "lr_factors", "momentum", "weight_decays", "label_scale", "loss",
                "optimizer", "learning_rate_rule", "selection", "validation_size", "batch", "init", "metric", "spread"):
        assert key in r, key
    assert (r["width"], r["steps"], r["momentum"], r["lr_factors"]) == (256, 100, 0.9, [0.1, 0.5])
    assert [s["lr_factor"] for s in t["selection"]] == [0.1, 0.5] and t["lr_factor"] in (0.1, 0.5)
    assert t["learning_rate"] == pytest.approx(t["lr_factor"] * t["max_lr"])
    assert t["source"]["matches_release"] and t["data_sha256"] == before["files"]["data.npz"]["sha256"]
    # KRR evaluated again with the release's own kernel gives the figure distill recorded
    k = prov["metrics"]["krr_evaluation"]
    assert k["accuracy"] == pytest.approx(before["metrics"]["krr_test_accuracy"], abs=1e-6)
    assert k["natural_accuracy"] == pytest.approx(before["metrics"]["natural_krr_test_accuracy"], abs=1e-6)
    # only provenance.json changed: every file still matches its sha256, nothing else left behind
    assert all(c.ok for c in rel.verify(path))
    assert {k: v for k, v in prov.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}


def test_evaluate_by_store_name(kip_release, tmp_path, monkeypatch, capsys):
    from distilled_registry import store

    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "home"))
    # a 30-step run, not the catalog spec of kip_digits/ipc10 (300 steps): stored under a config name of its own
    dest = store.add(kip_release, "kip_digits/ipc10-steps30", "1.0.0")
    assert cli.main(["evaluate", "kip_digits/ipc10-steps30", "--krr", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "KRR test accuracy" in out and "transfer" not in out.split("recorded")[0]
    assert "krr_evaluation" in rel.read_provenance(dest)["metrics"]


def test_source_fingerprint_must_match(kip_release, tmp_path, capsys):
    path = _copy(kip_release, tmp_path)
    p = json.loads((path / "provenance.json").read_text())
    p["source"]["fingerprint_sha256"] = "0" * 64  # provenance.json is not among the checksummed files
    (path / "provenance.json").write_text(json.dumps(p))
    with pytest.raises(transfer.TransferError, match="fingerprint"):
        evaluation.evaluate(path, "transfer", config=transfer.TransferConfig(steps=5, seeds=(0,)))
    assert cli.main(["evaluate", str(path), "--transfer", "--seeds", "1", "--steps", "5"]) == 1
    assert "fingerprint" in capsys.readouterr().err
    r = evaluation.evaluate(path, "transfer", natural=False, allow_other_source=True,
                            config=transfer.TransferConfig(steps=5, width=64, seeds=(0,), lr_factors=(0.5,),
                                                           weight_decays=(1e-4,)))
    assert r["source"]["matches_release"] is False


def test_release_without_transform_is_refused(kip_release, tmp_path):
    path = _copy(kip_release, tmp_path)
    p = json.loads((path / "provenance.json").read_text())
    p["preprocessing"]["file"] = "missing.npz"
    (path / "provenance.json").write_text(json.dumps(p))
    from distilled_registry.errors import UserError  # the schema refuses a transform file it does not list

    with pytest.raises(UserError, match="transform"):
        evaluation.evaluate(path, "transfer", config=transfer.TransferConfig(steps=5, seeds=(0,)))
