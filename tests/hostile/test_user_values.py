"""Rule E, a user's mistake is refused in one line before any work, in the CLI and the Python API alike.

Table-driven: every numeric and path option of every command (found in the parser, so a new option is
covered the day it is added) gets 0, -1, NaN, infinities, 1e400, huge integers, fractions and text; each
value its option does not allow must end in exit 2 and one line naming the option, with no traceback and
no command started (every command's handler fails the test if called). The Python API's entry points get
the same values.
"""

from __future__ import annotations

import argparse
import math

import pytest

from distilled_registry import cli, user_values
from distilled_registry.cli import computing, publishing, reading

HOSTILE_NUMBERS = ["0", "-1", "nan", "-nan", "inf", "-inf", "1e400", "-1e400", str(10 ** 30), "9" * 5000, "1.5",
                   "0x10", "abc", "", " "]
HOSTILE_PATHS = ["", "a\0b", "x" * 5000, "/tmp/" + "y" * 300]
# The positional arguments each command needs to parse (never used: parsing fails first).
POSITIONAL = {"evaluate": ["/r"], "regenerate": ["kip_digits/ipc1"], "rerun": ["/r"], "plan": ["kip_digits/ipc1"],
              "info": ["kip_digits"], "verify": ["/r"], "import-published": ["x.npz"], "export-hf": ["kip_digits"],
              "push": ["kip_digits"]}
REQUIRED = {"distill": ["--out", "/tmp/never"], "export-hf": ["--out", "/tmp/never"],
            "push": ["--repo-id", "org/name"]}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    p = cli.build_parser()
    (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def _checked_options() -> list[tuple[str, str, object]]:
    """``(command, option, its type)`` of every option whose value user_values checks."""
    out = []
    for command, sp in _subparsers().items():
        for act in sp._actions:
            kind = getattr(act.type, "kind", None)
            if act.option_strings and kind in ("count", "real", "path"):
                out.append((command, act.option_strings[0], act.type))
    return out


def test_every_numeric_and_path_option_goes_through_user_values():
    """No option of any command parses a number or a path with plain int/float/str (which lets NaN, 1e400,
    huge integers or a NUL byte through to the work)."""
    loose = [(c, a.option_strings[0]) for c, sp in _subparsers().items() for a in sp._actions
             if a.option_strings and a.type in (int, float)]
    assert loose == []
    options = _checked_options()
    assert len(options) >= 40
    for command, option in (("distill", "--lr"), ("distill", "--steps"), ("evaluate", "--weight-decay"),
                            ("plan", "--budget"), ("demo", "--steps"), ("rerun", "--acc-tol"),
                            ("verify", "--tolerance"), ("distill", "--checkpoint-dir"), ("export-hf", "--out")):
        assert (command, option) in [(c, o) for c, o, _ in options]


@pytest.fixture
def no_command_runs(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("a command started before its arguments were checked")

    for module in (computing, reading, publishing):
        for name in dir(module):
            if name.startswith("cmd_"):
                monkeypatch.setattr(module, name, fail)


def _cases():
    for command, option, parse in _checked_options():
        values = HOSTILE_PATHS if parse.kind == "path" else HOSTILE_NUMBERS
        for v in values:
            try:
                parse(v)
            except argparse.ArgumentTypeError:
                yield pytest.param(command, option, v, id=f"{command} {option}={v[:12]!r}")


@pytest.mark.parametrize("command, option, value", list(_cases()))
def test_a_hostile_value_is_one_line_exit_2_before_any_work(capsys, no_command_runs, command, option, value):
    argv = [command, *POSITIONAL.get(command, []), *REQUIRED.get(command, []), f"{option}={value}"]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"distilled-registry {command}: error: {option}"), lines[0]
    assert len(lines[0]) < 400, lines[0]  # a 5000-digit value is shown cut, not whole


def test_the_allowed_edges_still_parse():
    p = cli.build_parser()
    a = p.parse_args(["distill", "--out", "x", "--steps", "0", "--reg", "0", "--tile", "0", "--seed",
                      str(2 ** 32 - 1), "--lr", "1e-30"])
    assert (a.steps, a.reg, a.tile, a.seed, a.lr) == (0, 0.0, 0, 2 ** 32 - 1, 1e-30)
    a = p.parse_args(["verify", "x", "--tolerance", "1", "--accuracy"])
    assert a.tolerance == 1.0


# ------------------------------------------------------------------------------------- the Python API

BAD_COUNTS = [0, -1, math.nan, math.inf, 1e400, 10 ** 30, 1.5, "3", True, None]
BAD_REALS = [-1, math.nan, math.inf, -math.inf, 1e400, "0.1", True, None]


@pytest.mark.parametrize("field, bad", [
    *[("ipc", v) for v in BAD_COUNTS], *[("steps", v) for v in BAD_COUNTS if v != 0],
    *[("target_batch", v) for v in BAD_COUNTS], *[("seed", v) for v in [-1, 2 ** 32, math.nan, 1.5, "0"]],
    *[("tile", v) for v in [-1, 10 ** 30, math.inf, 2.0]], *[("eval_block", v) for v in BAD_COUNTS],
    *[("learning_rate", v) for v in BAD_REALS + [0]], *[("reg", v) for v in BAD_REALS],
    *[("ls_reg", v) for v in BAD_REALS], *[("zca_reg", v) for v in BAD_REALS + [0]],
])
def test_a_distill_config_refuses_a_hostile_value(field, bad):
    import dataclasses

    from distilled_registry.pipelines.distill import DistillConfig

    with pytest.raises(user_values.BadValue):
        dataclasses.replace(DistillConfig(), **{field: bad}).validate()


@pytest.fixture
def no_prepare(monkeypatch):
    from distilled_registry.pipelines import demo, distill

    def fail(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(distill, "prepare", fail)
    monkeypatch.setattr(demo, "distill", fail)


@pytest.mark.parametrize("kwargs", [
    {"checkpoint_every": -1}, {"checkpoint_every": math.nan}, {"eval_every": 10 ** 30}, {"eval_subset": 0},
    {"eval_subset": math.inf}, {"workers": 0}, {"workers": 1.5}, {"out": "a\0b"}, {"out": ""},
    {"checkpoint_dir": "x" * 5000, "checkpoint_every": 1},
])
def test_the_distill_api_refuses_a_hostile_value_before_any_work(tmp_path, no_prepare, kwargs):
    from distilled_registry.pipelines.distill import DistillConfig, distill

    kwargs = {"out": tmp_path / "r", **kwargs}
    with pytest.raises(user_values.BadValue):
        distill(DistillConfig(steps=2), kwargs.pop("out"), progress=False, **kwargs)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("steps", [-1, math.nan, 1e400, 10 ** 30, "300"])
def test_run_demo_refuses_a_hostile_value_before_any_work(tmp_path, no_prepare, steps):
    from distilled_registry.pipelines.demo import run_demo

    with pytest.raises(user_values.BadValue):
        run_demo(tmp_path / "d", steps=steps, progress=False)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("field, bad", [
    ("width", 0), ("width", 10 ** 30), ("width", math.nan), ("steps", -1), ("steps", math.inf),
    ("lr_factors", (math.nan,)), ("lr_factors", (0.1, -1)), ("learning_rate", math.inf), ("learning_rate", 0),
    ("weight_decays", (1e400,)), ("momentum", math.nan), ("label_scale", 0), ("seeds", (-1,)),
    ("seeds", (math.nan,)), ("validation_size", 0), ("eval_batch", 10 ** 30),
])
def test_a_transfer_config_refuses_a_hostile_value(field, bad):
    pytest.importorskip("optax")
    from distilled_registry.pipelines.transfer import TransferConfig

    with pytest.raises((user_values.BadValue, ValueError)):
        TransferConfig(**{field: bad})


@pytest.mark.parametrize("tolerance", [-0.1, 1.5, math.nan, math.inf, "0.1"])
def test_check_accuracy_refuses_a_hostile_tolerance_before_reading_the_release(tmp_path, tolerance):
    from distilled_registry.pipelines import evaluation

    with pytest.raises(user_values.BadValue, match="--tolerance"):
        evaluation.check_accuracy(tmp_path / "nowhere", tolerance=tolerance)


@pytest.mark.parametrize("path", ["", "a\0b", "x" * 5000])
def test_evaluate_refuses_a_hostile_path(path):
    from distilled_registry.pipelines import evaluation

    with pytest.raises(user_values.BadValue):
        evaluation.evaluate(path, "krr")


def test_an_integer_past_pythons_digit_limit_is_one_line_too():
    """10**5000 cannot even be printed (Python's str() digit limit): still a BadValue with a readable line."""
    from distilled_registry.pipelines.distill import DistillConfig

    with pytest.raises(user_values.BadValue, match="--ipc .*over 4000 digits.* out of range"):
        DistillConfig(ipc=10 ** 5000).validate()
