"""KIP's learning-rate drops (--lr-drop-at STEP[,STEP...] --lr-drop-scale FACTOR): the step's Adam update times
the factor once per drop reached (optax.piecewise_constant_schedule), the same bytes whether a drop was given
from the start or added when resuming at or before it, and refused on a resume that would change steps already
taken."""

import dataclasses

import jax
import numpy as np
import optax
import pytest

from distilled_registry import cli
from distilled_registry.distill_config import ConfigError
from distilled_registry.pipelines import algorithm as alg
from distilled_registry.pipelines import checkpoint, kip, krr
from distilled_registry.pipelines.distill import DistillConfig, distill
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn

# a ConvNet, as the real KIP releases, at depth 1: what is under test does not depend on the depth, and the three
# files sharing this kernel took 62 s at depth 2, 42 s at depth 1 (two workers)
SPEC = KernelSpec("convnet3", depth=1, impl="fast")


def _config(steps: int, drop_at=None, scale=None) -> DistillConfig:
    return DistillConfig(source="digits", kernel=SPEC, ipc=1, steps=steps, learn_labels=True, target_batch=100,
                         lr_drop_at=drop_at, lr_drop_scale=scale)


def test_the_dropped_step_moves_the_parameters_by_the_factor_times_adams_update(digits):
    # the FC kernel: the schedule is under test, not the kernel (the ConvNet's dense gradient took 20 s to compile)
    kernel_fn = make_kernel_fn(KernelSpec("fc", depth=1))
    x, y = digits.x_train, digits.y_train
    problem = alg.problem(x, y, 10, kernel_fn, gradients=kip.dense_engine(kernel_fn, 1e-6))
    moves, befores = {}, {}
    for scale in (None, 0.25):
        cfg = kip.KipConfig(ipc=1, steps=3, target_batch=100, learn_labels=True, lr_drop_at=None if scale is None
                            else 2, lr_drop_scale=scale)
        algo = kip.algorithm(cfg)
        state = algo.init(problem, kip.start(x, y, 10, 1, 0)[0])
        for _ in range(3):
            before = state
            state, _ = algo.update(problem, state)
        moves[scale] = {k: np.asarray(state.learned[k]) - np.asarray(before.learned[k]) for k in state.learned}
        befores[scale] = before
    # steps 0 and 1 ran at the full rate in both: the states before step 2 are the same bytes
    assert all(np.array_equal(befores[None].learned[k], befores[0.25].learned[k]) for k in moves[None])
    for k in moves[None]:
        assert np.abs(moves[None][k]).max() > 0
        np.testing.assert_allclose(moves[0.25][k], 0.25 * moves[None][k], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("at", [0, 3, (2, 5), (1, 2, 9)])
def test_the_rate_factor_is_optaxs_piecewise_constant_schedule(at):
    cfg = kip.KipConfig(ipc=1, steps=12, lr_drop_at=at, lr_drop_scale=0.25)
    schedule = optax.piecewise_constant_schedule(1.0, {s: 0.25 for s in (at if isinstance(at, tuple) else (at,))})
    assert [cfg.rate_scale(s) for s in range(12)] == [float(schedule(s)) for s in range(12)]


def test_a_drop_added_on_resume_equals_the_run_that_had_it_from_the_start(tmp_path):
    """A 2-step run with a drop at step 1, its last state saved as a checkpoint (as a run stopped at step 2 leaves
    it), then resumed to 4 steps with a second drop at step 3: the same bytes as the 4-step run with both drops
    from the start."""
    from distilled_registry.pipelines.backends import make_workers
    from distilled_registry.pipelines.distill import MATMUL_PRECISION, prepare
    from distilled_registry.pipelines.distributed import TiledEngine

    folder = tmp_path / "ckpt"
    cfg2 = _config(2, 1, 0.25)
    data = prepare(cfg2)
    kernel_fn = make_kernel_fn(SPEC)
    state, _ = kip.init(kip.KipConfig.of(cfg2), data.x_train, data.source.y_train, 10)
    pool = make_workers(SPEC.to_dict(), "local", 1, None)
    try:
        with jax.default_matmul_precision(MATMUL_PRECISION):  # as distill runs (the checkpoint records it)
            state, losses = kip.run(kip.KipConfig.of(cfg2), kernel_fn, data.x_train, data.source.y_train, 10,
                                    state=state, engine=TiledEngine(pool, cfg2.reg, cfg2.tile), progress=False)
            checkpoint.save(folder, state, cfg2.to_dict(), losses, seconds=12.5)
    finally:
        pool.close()
    resumed = distill(_config(4, (1, 3), 0.25), tmp_path / "resumed", progress=False, checkpoint_every=1,
                      checkpoint_dir=folder, resume=True)
    distill(_config(4, (1, 3), 0.25), tmp_path / "whole", progress=False)
    plain = distill(_config(4), tmp_path / "plain", progress=False)
    assert resumed["algorithm"]["resumed_from_step"] == 2
    # the run's time carries over the resume: the checkpoint's 12.5 s before, this process's after
    assert resumed["timing"]["seconds_before_resume"] == 12.5 and "seconds_before_resume" not in plain["timing"]
    assert resumed["config"]["lr_drop_at"] == [1, 3] and resumed["config"]["lr_drop_scale"] == 0.25
    assert DistillConfig.from_dict(resumed["config"]) == _config(4, (1, 3), 0.25)
    assert (tmp_path / "resumed" / "data.npz").read_bytes() == (tmp_path / "whole" / "data.npz").read_bytes()
    assert (tmp_path / "whole" / "data.npz").read_bytes() != (tmp_path / "plain" / "data.npz").read_bytes()
    assert "lr_drop_at" not in plain["config"]


def test_a_resume_whose_drop_would_change_steps_already_taken_is_refused(tmp_path):
    state = kip.init(kip.KipConfig.of(_config(3)), *_digits_train(), 10)[0]
    state = state._replace(step=3)
    checkpoint.save(tmp_path, state, _config(3).to_dict(), [0.1, 0.1, 0.1])
    template = kip.init(kip.KipConfig.of(_config(5)), *_digits_train(), 10)[0]
    with pytest.raises(checkpoint.CheckpointError, match="add new ones at step 3 or later"):
        checkpoint.load(tmp_path, template, _config(5, 2, 0.5).to_dict(), True)
    assert checkpoint.load(tmp_path, template, _config(5, 3, 0.5).to_dict(), True)[0].step == 3
    assert checkpoint.load(tmp_path, template, _config(5).to_dict(), True)[0].step == 3
    # a checkpoint whose steps ran dropped cannot resume without the drop, or with another factor
    checkpoint.save(tmp_path, state, _config(3, 1, 0.5).to_dict(), [0.1, 0.1, 0.1])
    for other in (_config(5), _config(5, 1, 0.25), _config(5, 2, 0.5), _config(5, (1, 2), 0.5),
                  _config(5, (0, 1), 0.5)):
        with pytest.raises(checkpoint.CheckpointError, match="ran with the learning-rate drop x0.5 at step 1;"):
            checkpoint.load(tmp_path, template, other.to_dict(), True)
    # the same drop, and a second one not yet reached, resume it
    for same in (_config(5, 1, 0.5), _config(5, (1, 3), 0.5), _config(5, (1, 4), 0.5)):
        assert checkpoint.load(tmp_path, template, same.to_dict(), True)[0].step == 3


def _digits_train():
    from distilled_registry.pipelines.distill import prepare

    data = prepare(_config(1))
    return data.x_train, data.source.y_train


@pytest.mark.parametrize("change, message", [
    ({"lr_drop_at": 3}, "give --lr-drop-at STEP and --lr-drop-scale FACTOR together"),
    ({"lr_drop_at": 3, "lr_drop_scale": 1.5}, "--lr-drop-scale"),
    ({"lr_drop_at": 3, "lr_drop_scale": 0.0}, "--lr-drop-scale"),
    ({"lr_drop_at": 3, "lr_drop_scale": 0.5, "algorithm": "ls"}, "is for --algorithm kip"),
    ({"lr_drop_at": (5, 3), "lr_drop_scale": 0.5}, "give the steps increasing"),
    ({"lr_drop_at": (3, 3), "lr_drop_scale": 0.5}, "give the steps increasing"),
    ({"lr_drop_at": (), "lr_drop_scale": 0.5}, "give 1 to 64 steps"),
    ({"lr_drop_at": tuple(range(65)), "lr_drop_scale": 0.5}, "give 1 to 64 steps"),
    ({"lr_drop_at": (3, -1), "lr_drop_scale": 0.5}, "out of range"),
    ({"lr_drop_at": (3, 2.5), "lr_drop_scale": 0.5}, "not an integer"),
])
def test_bad_drops_are_refused_by_the_config(change, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        dataclasses.replace(_config(4), **change).validate()


def test_the_cli_refuses_a_lone_drop_before_any_work(tmp_path, capsys):
    assert cli.main(["distill", "--ipc", "1", "--steps", "2", "--lr-drop-at", "1", "--quiet", "--out",
                     str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "together" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, message", [
    ("5,3", "--lr-drop-at 5,3: give the steps increasing"),
    ("5,,9", "give a step or increasing steps"),
    ("five", "give a step or increasing steps"),
    ("5,-9", "out of range"),
])
def test_the_cli_refuses_bad_drop_steps_in_one_line(tmp_path, capsys, text, message):
    assert cli.main(["distill", "--ipc", "1", "--steps", "2", "--lr-drop-at", text, "--lr-drop-scale", "0.5",
                     "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_drop_steps_read_from_the_command_line_and_from_set():
    from distilled_registry.cli.config_flags import parse_set

    assert parse_set("lr_drop_at=850,1600") == ("lr_drop_at", (850, 1600))
    assert parse_set("lr_drop_at=850") == ("lr_drop_at", 850)  # one step stays a number: older configs read alike
    cfg = _config(2000, (850, 1600), 0.25)
    assert cfg.to_dict()["lr_drop_at"] == [850, 1600] and DistillConfig.from_dict(cfg.to_dict()) == cfg
    assert _config(2000, 850, 0.25).to_dict()["lr_drop_at"] == 850


def test_the_loss_still_goes_down_after_the_drop(digits):
    kernel_fn = make_kernel_fn(KernelSpec("fc", depth=1))  # as above: the schedule is under test
    x, y = digits.x_train, digits.y_train
    problem = alg.problem(x, y, 10, kernel_fn, gradients=kip.dense_engine(kernel_fn, 1e-6))
    algo = kip.algorithm(kip.KipConfig(ipc=1, steps=8, target_batch=100, learn_labels=True, lr_drop_at=4,
                                       lr_drop_scale=0.25))
    state = algo.init(problem, kip.start(x, y, 10, 1, 0)[0])
    idx = np.arange(0, len(y), 3)
    yt = krr.centered_one_hot(y[idx], 10)

    def full_loss(s):
        return float(kip.kip_loss(kernel_fn, s.learned["images"], s.learned["labels"], x[idx], yt, 1e-6))

    start = full_loss(state)
    for _ in range(8):
        state, _ = algo.update(problem, state)
    assert full_loss(state) < start
