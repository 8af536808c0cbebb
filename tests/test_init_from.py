"""KIP's --init-from (a run starting from a release's images and labels instead of real images).

What could go wrong and is checked: the run starts anywhere but the release's state (``--steps 0`` must give its
data.npz byte for byte; one step must be one fresh Adam step from it, computed here with ``jax.grad``); the start
is not recorded (config.init_from, the release's sha256, its figures) or not rerunnable from the config; the natural
baseline moves off the real start images; a resumed continued run differs from an uninterrupted one; a release of
another space (source, kernel, ipc, seed, preprocessing), a damaged one, another sha256 than the config names, or a
config that names one without the folder is accepted."""

import dataclasses
import json
import shutil

import jax
import numpy as np
import optax
import pytest

from distilled_registry import cli
from distilled_registry import release as rel
from distilled_registry.distill_config import ConfigError
from distilled_registry.errors import ReleaseError
from distilled_registry.pipelines import kip, krr
from distilled_registry.pipelines.distill import DistillConfig, distill, prepare
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn

# What --init-from does is the same whatever the kernel (it loads a release and checks its space): the FC kernel
# compiles in a fraction of the ConvNet's time (this module: 21 s alone, 64 s with convnet3 depth 2)
SPEC = KernelSpec("fc", depth=1)


def _config(**change) -> DistillConfig:
    return dataclasses.replace(DistillConfig(source="digits", kernel=SPEC, ipc=1, steps=3, learn_labels=True,
                                             target_batch=100), **change)


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """A 3-step KIP release to start from."""
    d = tmp_path_factory.mktemp("init")
    prov = distill(_config(), d / "start", progress=False)
    return d, prov


def test_zero_steps_from_a_release_give_its_bytes(start, tmp_path):
    d, prov = start
    out = distill(_config(steps=0, target_batch=200, learning_rate=0.01), tmp_path / "o", progress=False,
                  init_from=d / "start")
    assert (tmp_path / "o" / "data.npz").read_bytes() == (d / "start" / "data.npz").read_bytes()
    assert out["metrics"]["krr_test_accuracy"] == prov["metrics"]["krr_test_accuracy"]


def test_one_step_is_one_fresh_adam_step_from_the_release(start, tmp_path):
    d, prov = start
    cfg = _config(steps=1, target_batch=200, learning_rate=0.01, tile=0)  # tile 0: the dense jax.grad engine
    out = distill(cfg, tmp_path / "o", progress=False, init_from=d / "start")
    s = rel.read_data(d / "start")
    data = prepare(cfg)
    kernel_fn = make_kernel_fn(SPEC)
    idx = kip.target_indices(data.source.y_train, 200, cfg.seed, 0)
    x_t, y_t = data.x_train[idx], krr.centered_one_hot(data.source.y_train[idx], 10)
    learned = {"images": s["images"], "labels": s["labels"]}
    # jax.grad of the KIP loss, jitted: one compilation of the whole gradient instead of one per eager operation
    grads = jax.jit(jax.grad(lambda p: kip.kip_loss(kernel_fn, p["images"], p["labels"], x_t, y_t, cfg.reg)))(learned)
    opt = optax.adam(0.01)
    updates, _ = opt.update(grads, opt.init(learned), learned)
    want = optax.apply_updates(learned, updates)
    got = rel.read_data(tmp_path / "o")
    # Adam's first update is lr * g / (|g| + eps): a coordinate whose gradient is near eps moves by a fraction of lr
    # that float32 rounding changes, so the tolerance is 1% of lr (the start release is 3 steps of 0.04 off the
    # real images, a run from those would be far outside it)
    np.testing.assert_allclose(got["images"], want["images"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got["labels"], want["labels"], rtol=0, atol=1e-4)
    real = kip.start(data.x_train, data.source.y_train, 10, 1, cfg.seed)[0]["images"]
    assert np.abs(s["images"] - real).max() > 100 * 1e-4
    assert np.abs(got["images"] - s["images"]).max() == pytest.approx(0.01, rel=1e-3)  # Adam's first step: +-lr
    assert out["algorithm"]["steps_run"] == 1


def test_the_start_is_recorded_and_the_config_reruns(start, tmp_path):
    d, prov = start
    cfg = _config(steps=1, target_batch=200)
    out = distill(cfg, tmp_path / "o", progress=False, init_from=d / "start")
    sha = prov["files"]["data.npz"]["sha256"]
    assert out["config"]["init_from"] == sha and "init_from" not in prov["config"]
    rec = out["algorithm"]["started_from_release"]
    assert rec["data_sha256"] == sha and rec["steps_run"] == 3 and rec["config"] == prov["config"]
    assert rec["krr_test_accuracy"] == prov["metrics"]["krr_test_accuracy"]
    # the natural baseline stays on the real start images, as the start release's
    assert out["metrics"]["natural_krr_test_accuracy"] == prov["metrics"]["natural_krr_test_accuracy"]
    again = DistillConfig.from_dict(out["config"])
    assert again == dataclasses.replace(cfg, init_from=sha)
    distill(again, tmp_path / "again", progress=False, init_from=d / "start")
    assert (tmp_path / "again" / "data.npz").read_bytes() == (tmp_path / "o" / "data.npz").read_bytes()
    assert all(c.ok for c in rel.verify(tmp_path / "o"))


def test_a_resumed_continued_run_equals_an_uninterrupted_one(start, tmp_path, monkeypatch):
    """A continued run stopped after its checkpoint at step 2 of 3, then resumed: the uninterrupted run's bytes."""
    from distilled_registry.pipelines import checkpoint

    d, _ = start
    whole = _config(steps=3, target_batch=200)
    distill(whole, tmp_path / "whole", progress=False, init_from=d / "start")
    ck, real_save = tmp_path / "ck", checkpoint.save

    def save_then_stop(folder, state, *a, **k):
        real_save(folder, state, *a, **k)
        if state.step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        distill(whole, tmp_path / "x", progress=False, init_from=d / "start", checkpoint_every=1, checkpoint_dir=ck)
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert not (tmp_path / "x").exists()
    out = distill(whole, tmp_path / "resumed", progress=False, init_from=d / "start", checkpoint_every=1,
                  checkpoint_dir=ck, resume=True)
    assert out["algorithm"]["resumed_from_step"] == 2
    assert (tmp_path / "resumed" / "data.npz").read_bytes() == (tmp_path / "whole" / "data.npz").read_bytes()


@pytest.mark.parametrize("change, message", [
    ({"ipc": 2}, "ipc: release 1, this run 2"),
    ({"seed": 1}, "seed: release 0, this run 1"),
    ({"kernel": KernelSpec("convnet3", depth=2, impl="fast")}, "kernel: release"),
    ({"zca": True}, "zca: release False, this run True"),
    ({"algorithm": "ls", "steps": 0}, "--init-from is for an algorithm that learns the images"),
])
def test_a_release_of_another_space_is_refused_before_any_work(start, tmp_path, change, message):
    d, _ = start
    with pytest.raises(ConfigError, match=message):
        distill(_config(**change), tmp_path / "o", progress=False, init_from=d / "start")
    assert not (tmp_path / "o").exists()


def test_a_damaged_or_unnamed_or_other_release_is_refused(start, tmp_path):
    d, prov = start
    shutil.copytree(d / "start", tmp_path / "bad")
    data = bytearray((tmp_path / "bad" / "data.npz").read_bytes())
    data[-40] ^= 1
    (tmp_path / "bad" / "data.npz").write_bytes(bytes(data))
    with pytest.raises(ReleaseError, match="sha256"):
        distill(_config(), tmp_path / "o", progress=False, init_from=tmp_path / "bad")
    sha = prov["files"]["data.npz"]["sha256"]
    with pytest.raises(ConfigError, match="give --init-from FOLDER"):  # the config names a start, no folder given
        distill(_config(init_from=sha), tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="not the " + "f" * 64):  # the folder is another release than named
        distill(_config(init_from="f" * 64), tmp_path / "o", progress=False, init_from=d / "start")
    with pytest.raises(ConfigError, match="not a sha256"):
        distill(_config(init_from="../x"), tmp_path / "o", progress=False, init_from=d / "start")
    assert not (tmp_path / "o").exists()


def test_a_release_from_another_copy_of_the_source_is_refused(start, tmp_path):
    d, _ = start
    shutil.copytree(d / "start", tmp_path / "other")
    p = json.loads((tmp_path / "other" / "provenance.json").read_text())
    p["source"]["fingerprint_sha256"] = "0" * 64
    (tmp_path / "other" / "provenance.json").write_text(json.dumps(p))
    with pytest.raises(ConfigError, match="fingerprint"):
        distill(_config(), tmp_path / "o", progress=False, init_from=tmp_path / "other")


@pytest.mark.parametrize("argv, message", [
    (["--init-from", "nowhere"], "no release folder at 'nowhere'"),
    (["--algorithm", "ls", "--init-from", "nowhere"], "--init-from is for an algorithm that learns the images"),
])
def test_the_cli_refuses_a_bad_start_in_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["distill", "--ipc", "1", "--steps", "2", "--quiet", "--out", str(tmp_path / "o"), *argv]) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_rerun_of_a_continued_release_needs_and_takes_its_start(start, tmp_path, capsys):
    d, _ = start
    distill(_config(steps=1, target_batch=200), tmp_path / "o", progress=False, init_from=d / "start")
    assert cli.main(["rerun", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "give --init-from FOLDER of that release" in err and err.count("\n") == 1, err
    assert cli.main(["rerun", str(tmp_path / "o"), "--quiet", "--init-from", str(d / "start")]) == 0
    assert "data.npz: identical bytes" in capsys.readouterr().out
