"""The one home of a run's configuration (distilled_registry/distill_config.py), and what is built from it.

Each default is written once (an AST scan of the package's code finds each literal once), the catalog's
specs and the pipelines' configs take it from there, the CLI builds ``distill``'s flags and ``--help``
from the fields, ``regenerate`` / ``rerun --set FIELD=VALUE`` are checked before any work and recorded
in the provenance, ``regenerate`` writes its release once, and the library holds no exit codes, no
argparse and no test switch.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

from distilled_registry import catalog, cli, distill_config, errors, user_values
from distilled_registry.cli import exit_codes
from distilled_registry.distill_config import ConfigError, DistillConfig, KernelSpec

REPO = Path(__file__).resolve().parents[1]
CODE = ("distilled_registry", "pipelines", "builders")
# The reference defaults, and the few literals of the same value that mean something else.
DEFAULTS = {"learning_rate": 0.04, "target_batch": 5000, "reg": 1e-6, "ls_reg": 1e-10}
OTHER_MEANINGS = {("pipelines/transfer.py", 5000): "the transfer's validation images",
                  ("builders/huggingface_export.py", 1e-6): "a tolerance on labels"}


def _literals(value) -> list[tuple[str, int]]:
    out = []
    for root in CODE:
        for p in sorted((REPO / root).rglob("*.py")):
            rel = str(p.relative_to(REPO))
            for node in ast.walk(ast.parse(p.read_text(), rel)):
                if (isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value
                        and (rel, value) not in OTHER_MEANINGS):
                    out.append((rel, node.lineno))
    return out


@pytest.mark.parametrize("field, value", DEFAULTS.items())
def test_each_default_is_written_once(field, value):
    """The literal of each default is in the code once, in distill_config.py; every other place derives it."""
    assert DistillConfig.__dataclass_fields__[field].default == value
    found = _literals(value)
    assert len(found) == 1 and found[0][0] == "distilled_registry/distill_config.py", found


def test_git_grep_finds_the_kip_defaults_once():
    """The issue's check: ``git grep "0\\.04\\|5000"`` outside tests, docs and benchmarks: one definition each."""
    r = subprocess.run(["git", "grep", "--untracked", "-n", "-w", "-e", r"0\.04", "-e", "5000", "--", ":!tests",
                        ":!docs", ":!benchmarks", ":!*dummy_data*", ":!README.md", "*.py"], cwd=REPO,
                       capture_output=True, text=True)
    if r.returncode > 1:
        pytest.skip(f"no git checkout here: {r.stderr.strip()}")
    code = [ln for ln in r.stdout.splitlines() if re.search(r"\b(0\.04|5000)\b", ln.split(":", 2)[2].split("#")[0])]
    lines = [ln for ln in code if not ln.startswith("pipelines/transfer.py")]  # its validation images
    assert [ln.split(":")[0] for ln in lines] == ["distilled_registry/distill_config.py"] * 2, lines


def test_the_pipelines_and_catalog_take_the_one_default():
    from distilled_registry.pipelines import kip, krr, label_solve

    assert kip.KipConfig(ipc=1).learning_rate == DistillConfig.learning_rate
    assert kip.KipConfig(ipc=1).target_batch == DistillConfig.target_batch
    assert (krr.DEFAULT_REG, label_solve.DEFAULT_LS_REG) == (DistillConfig.reg, DistillConfig.ls_reg)
    kip_spec = catalog.entry("kip_mnist/ipc10").spec
    assert (kip_spec["learning_rate"], kip_spec["target_batch"]) == (DistillConfig.learning_rate,
                                                                   DistillConfig.target_batch)
    with pytest.raises(user_values.BadValue, match="--lr"):  # KipConfig checks as DistillConfig does
        kip.KipConfig(ipc=1, learning_rate=0.0)


def test_every_catalog_spec_round_trips_exactly():
    """``from_dict(spec).to_spec() == spec`` for every catalog spec (the bytes of records and provenance
    blocks do not move), and ``from_dict(d).to_dict() == d`` for the config a run records."""
    from distilled_registry import configs

    for e in catalog.entries():
        if e.spec is None:
            continue
        cfg = DistillConfig.from_dict(e.spec)
        assert cfg.to_spec() == e.spec and list(cfg.to_spec()) == list(e.spec)
        assert DistillConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
        assert configs.get_config(e.name) == cfg  # the family file's get_config(arg)
    user = DistillConfig(source="folder:/x", image_size=(16, 12), test_fraction=0.2, split_seed=3)
    assert DistillConfig.from_dict(json.loads(json.dumps(user.to_dict()))) == user


def test_committed_release_configs_round_trip():
    """A run's recorded config (every field) and a dummy release's (a catalog spec) come back exactly."""
    for p in sorted((REPO / "builders").rglob("provenance.json")):
        config = json.loads(p.read_text())["config"]
        cfg = DistillConfig.from_dict(config)
        assert (cfg.to_dict() if "tile" in config else cfg.to_spec()) == config, p
    run = DistillConfig(kernel=KernelSpec.of("convnet"), tile=64).to_dict()
    assert DistillConfig.from_dict(json.loads(json.dumps(run))).to_dict() == run


@pytest.mark.parametrize("change, message", [
    ({"steps": -1}, "--steps -1 is out of range"), ({"learning_rate": float("nan")}, "--lr nan"),
    ({"target_batch": 1.5}, "--target-batch 1.5 is not an integer"), ({"zca": 1}, "zca must be True or False"),
    ({"algorithm": "sgd"}, "unknown algorithm 'sgd'"), ({"eval_block": 0}, "eval_block 0 is out of range"),
    ({"test_fraction": 0.2}, "for your own sources"), ({"source": "imagenet"}, "unknown source 'imagenet'"),
])
def test_validate_names_the_value_through_user_values(change, message):
    with pytest.raises((ConfigError, user_values.BadValue), match=message):
        dataclasses.replace(DistillConfig(), **change).validate()


def test_kernel_spec_checks_its_fields():
    with pytest.raises(user_values.BadValue, match="--depth 0 is out of range"):
        KernelSpec(depth=0)
    with pytest.raises(ConfigError, match="impl='fast'"):
        KernelSpec(architecture="fc", impl="fast")
    assert KernelSpec.of("convnet") == KernelSpec("convnet", 3, impl="fast")
    with pytest.raises(ConfigError, match="unknown config field 'kernel.width'"):
        distill_config.with_overrides(DistillConfig(), {"kernel.width": 3})


def test_help_shows_the_defaults_from_the_fields(capsys):
    with pytest.raises(SystemExit):
        cli.main(["distill", "--help"])
    out = " ".join(capsys.readouterr().out.split()).split(" options: ", 1)[1]  # past the usage line
    for flag, field in (("--lr LR", "learning_rate"), ("--target-batch TARGET_BATCH", "target_batch"),
                        ("--reg REG", "reg"), ("--ls-reg LS_REG", "ls_reg"), ("--steps STEPS", "steps"),
                        ("--zca-reg ZCA_REG", "zca_reg")):
        assert flag in out
        assert f"(default: {getattr(DistillConfig, field)})" in out.split(flag, 1)[1].split(" --")[0], flag
    with pytest.raises(SystemExit):
        cli.main(["regenerate", "--help"])
    assert "--set FIELD=VALUE" in " ".join(capsys.readouterr().out.split())


def test_distill_flags_make_the_config():
    from distilled_registry.cli import config_flags

    a = cli.build_parser().parse_args(["distill", "--out", "x", "--kernel", "convnet", "--lr", "0.5", "--zca"])
    cfg = config_flags.config_from_args(a, "digits", {})
    assert cfg == DistillConfig(kernel=KernelSpec.of("convnet"), learning_rate=0.5, zca=True)


@pytest.fixture
def nothing_runs(monkeypatch):
    from distilled_registry.pipelines import distill

    def fail(*a, **k):
        raise AssertionError("the run started before --set was checked")

    monkeypatch.setattr(distill, "distill", fail)


@pytest.mark.parametrize("argv, message", [
    (["regenerate", "ls_digits/ipc1", "--set", "nosuch=1"], "--set nosuch: unknown config field 'nosuch'"),
    (["regenerate", "ls_digits/ipc1", "--set", "steps=-1"], "--set steps: --steps -1 is out of range"),
    (["rerun", "/nowhere", "--set", "lr"], "--set 'lr': give FIELD=VALUE"),
    (["rerun", "/nowhere", "--set", "zca=maybe"], "--set zca: --zca 'maybe': give true or false"),
    (["regenerate", "ls_digits/ipc1", "--set", "kernel.depth=99"], "--set kernel.depth: --depth 99 is out of range"),
    (["regenerate", "ls_digits/ipc1", "--set", "ls_reg=1e-8"], "--set makes another run than the catalog spec"),
    (["regenerate", "ls_digits/ipc1", "--set", "image_size=8x8"], "--image-size and --test-fraction are for your"),
])
def test_a_bad_set_is_one_line_exit_2_before_any_work(tmp_path, monkeypatch, capsys, nothing_runs, argv, message):
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "home"))
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"distilled-registry {argv[0]}: error: "), lines
    assert message in lines[0], lines[0]
    assert not (tmp_path / "home").exists()


def test_regenerate_set_is_recorded_and_the_release_written_once(tmp_path, monkeypatch, capsys):
    """``--set`` of a field that says how (eval_block) keeps the catalog name: the config holds the value run,
    ``overrides`` what changed; the release is written once, straight into the store. A field that changes
    what the release is goes to ``--out``, recorded the same way."""
    from distilled_registry import release as rel
    from distilled_registry import store

    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "home"))
    writes = []
    real_write = rel.write_release
    monkeypatch.setattr(rel, "write_release", lambda out, *a, **k: writes.append(Path(out)) or real_write(out, *a, **k))
    assert cli.main(["regenerate", "ls_digits/ipc1", "--set", "eval_block=500", "--quiet", "--json"]) == 0
    path = Path(json.loads(capsys.readouterr().out)["path"])
    assert writes == [store.release_dir("ls_digits/ipc1", "1.0.0")]  # once, into the store: no staging copy
    prov = rel.verified(path)
    assert prov["config"]["eval_block"] == 500 and prov["overrides"] == [
        {"field": "eval_block", "value": 500, "was": DistillConfig.eval_block}]
    assert prov["release"]["catalog_spec"] == catalog.entry("ls_digits/ipc1").spec
    out = tmp_path / "other"
    assert cli.main(["regenerate", "ls_digits/ipc1", "--set", "ls_reg=1e-8", "--set", "kernel.b_std=0.2",
                     "--out", str(out), "--quiet"]) == 0
    prov = rel.verified(out)
    assert (prov["config"]["ls_reg"], prov["config"]["kernel"]["b_std"]) == (1e-8, 0.2)
    assert prov["overrides"] == [{"field": "ls_reg", "value": 1e-8, "was": 1e-10},
                                 {"field": "kernel.b_std", "value": 0.2, "was": 0.1}]


def test_the_library_holds_no_exit_codes_argparse_or_test_switch():
    """Exit codes are the CLI's mapping; argparse lives in the CLI package; no environment switch for tests."""
    assert not hasattr(errors.UserError, "exit_code") and not hasattr(errors.UsageError, "exit_code")
    assert exit_codes.exit_code(user_values.BadValue("x")) == 2
    assert exit_codes.exit_code(errors.ReleaseError("x")) == 1 and exit_codes.exit_code(KeyboardInterrupt()) == 130
    for root in CODE:
        for p in (REPO / root).rglob("*.py"):
            rel = p.relative_to(REPO)
            text = p.read_text()
            assert "TEST_FAULT" not in text, rel
            if rel.parts[:2] != ("distilled_registry", "cli"):
                imports = {a.name for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom))
                           for a in n.names} | {n.module for n in ast.walk(ast.parse(text))
                                                if isinstance(n, ast.ImportFrom)}
                assert "argparse" not in imports, rel
