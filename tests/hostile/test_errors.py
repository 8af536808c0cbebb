"""Unclear errors, made clear: every case of the trust review's list, through the CLI in-process.

Each command a user can get wrong prints ONE line, ``distilled-registry <cmd>: error: ...``, naming the
offending value and what to do, with no traceback, and exits 2 when the command line is wrong (a name,
an option out of range, options that contradict each other) or 1 when the world is not as the command
needs (a damaged file, a store path that is a file). Checks of the command line run before the work:
where that matters the test makes the work itself fail (``no_source``: loading the source fails the test).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import distilled_registry as dr
from distilled_registry import cli, names, store
from distilled_registry.cli import computing
from distilled_registry import release as rel
from distilled_registry.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic_release as syn  # noqa: E402

NAME = "kip_digits/ipc10"
LONG = "a" * 300
DISTILL = ["distill", "--source", "digits", "--ipc", "1", "--steps", "2", "--target-batch", "50", "--quiet"]


def one_error(capsys, argv: list[str], code: int) -> str:
    """Run ``argv``; assert exit ``code`` and one stderr line ``distilled-registry CMD: error: ...``; return it."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"distilled-registry {argv[0]}: error: "), err
    assert rc == code, f"exit {rc}, expected {code}: {err}"
    return lines[0]


@pytest.fixture
def no_source(monkeypatch):
    """Loading a source fails the test: a check of the command line must come first."""
    from distilled_registry.pipelines import sources

    def fail(*a, **k):
        raise AssertionError("the source was loaded before the command line was checked")

    monkeypatch.setattr(sources, "load_source", fail)


@pytest.fixture
def no_kernel(monkeypatch):
    """Fitting the preprocessing or building a kernel fails the test (the source may load)."""
    from distilled_registry.pipelines import distill, kernels

    def fail(*a, **k):
        raise AssertionError("work started before the check")

    monkeypatch.setattr(kernels, "make_kernel_fn", fail)
    monkeypatch.setattr(distill, "fit_transform", fail)


# ------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize("argv", [
    ["info", f"kip_digits/{LONG}"], ["verify", f"kip_digits/{LONG}"], ["regenerate", f"kip_digits/{LONG}"],
    ["plan", f"kip_digits/{LONG}"], ["info", f"kip_{LONG}/ipc10"], ["verify", f"kip_digits/ipc10:1.0.{'9' * 300}"],
    ["export-hf", f"kip_{LONG}", "--out", "x"],
])
def test_a_name_longer_than_a_file_name_is_a_usage_error(home, capsys, no_source, argv):
    line = one_error(capsys, argv, 2)
    assert f"{names.MAX_PART} characters" in line and "File name too long" not in line, line
    assert not home.exists()


def test_the_name_length_bound_is_documented_and_inclusive():
    ok = "k" + "_" * (names.MAX_PART - 1)
    assert names.parse(f"{ok}/{'c' * names.MAX_PART}").config == "c" * names.MAX_PART
    with pytest.raises(names.BadNameError, match=f"{names.MAX_PART + 1} characters"):
        names.parse(f"kip_digits/{'c' * (names.MAX_PART + 1)}")
    assert f"{names.MAX_PART} characters" in names.__doc__
    with pytest.raises(names.BadNameError):
        dr.load(f"kip_digits/{LONG}")


# ---------------------------------------------------------------------------------- distill options


@pytest.mark.parametrize("args, needle", [
    (["--seed", "-1"], "--seed -1"),
    (["--seed", str(2 ** 32)], f"--seed {2 ** 32}"),
    (["--tile", "100000"], "--tile 100000"),
    (["--depth", "1000"], "--depth 1000"),
    (["--kernel", "convnet", "--depth", "4"], "at least 16; got 8x8"),  # digits are 8x8: known before loading
    (["--backend", "ray", "--workers", "0"], "--workers 0"),
    (["--backend", "ray", "--workers", "100000"], "--workers 100000"),
    (["--workers", "2"], "--workers 2"),  # the local backend has one worker
    (["--out", "OUT", "--checkpoint-every", "1", "--checkpoint-dir", "OUT"], "--checkpoint-dir"),
    (["--out", "FILE/sub"], "is a file"),
    (["--out", "DANGLING"], "DANGLING"),
    (["--out", "DANGLING/sub"], "DANGLING"),
])
def test_bad_distill_options_are_usage_errors_before_the_source_loads(tmp_path, capsys, no_source, args, needle):
    (tmp_path / "FILE").write_text("a file")
    (tmp_path / "DANGLING").symlink_to(tmp_path / "nowhere")
    args = [str(tmp_path / a) if a.startswith(("OUT", "FILE", "DANGLING")) else a for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "rel")]
    line = one_error(capsys, DISTILL + out + args, 2)
    assert needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DANGLING", "FILE"]


def test_ipc_above_the_smallest_class_is_a_usage_error_before_kernel_work(tmp_path, capsys, no_kernel):
    line = one_error(capsys, ["distill", "--ipc", "131", "--steps", "1", "--quiet", "--out", str(tmp_path / "r")], 2)
    assert "--ipc 131" in line and "class 8" in line and "130" in line, line  # digits: class 8 has 130 images
    assert not (tmp_path / "r").exists()


def test_out_of_memory_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    from distilled_registry.pipelines import distill

    def oom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(distill, "prepare", oom)
    line = one_error(capsys, DISTILL + ["--out", str(tmp_path / "r")], 1)
    assert "out of memory" in line and "--tile" in line


def test_help_states_the_bounds(capsys):
    from distilled_registry.pipelines import distill, kernels

    for argv in (["distill", "--help"], ["plan", "--help"], ["regenerate", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = " ".join(capsys.readouterr().out.split())
        assert f"at most {distill.MAX_TILE}" in out, (argv, out)
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"0..{2 ** 32 - 1}" in out and f"1..{kernels.MAX_DEPTH}" in out


def test_every_option_has_help():
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {' '.join(a.option_strings)}" for name, p in sub.choices.items() for a in p._actions
               if a.option_strings and a.help in (None, "") and not isinstance(a, argparse._HelpAction)]
    assert missing == []


# --------------------------------------------------------------------------------------------- plan


@pytest.mark.parametrize("args, needle", [
    (["--tile", "100000"], "--tile 100000"), (["--budget", "100000"], "--budget 100000"),
    (["--workers", "0"], "--workers 0"), (["--tile", "-1"], "--tile -1"), (["--steps", "-1"], "--steps"),
    (["--backend", "ray", "--workers", "10000000"], "--workers 10000000"),
])
def test_plan_options_out_of_range_are_usage_errors(home, capsys, monkeypatch, args, needle):
    from distilled_registry.pipelines import plan

    def fail(*a, **k):
        raise AssertionError("a kernel was timed before the options were checked")

    monkeypatch.setattr(plan.KernelTimer, "measure", fail)
    monkeypatch.setattr(plan, "startup_seconds", fail)
    assert needle in one_error(capsys, ["plan", NAME] + args, 2)


# ---------------------------------------------------------------------------------------- the store


@pytest.fixture(params=["file", "under_file"])
def home_is_a_file(request, tmp_path, monkeypatch):
    f = tmp_path / "notafolder"
    f.write_text("x")
    h = f if request.param == "file" else f / "store"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(h))
    return f


@pytest.mark.parametrize("argv", [
    ["list"], ["info", NAME], ["verify", NAME], ["regenerate", "ls_digits/ipc1", "--quiet"],
    ["import-published", "kip_mnist/ipc1", "--base-url", "http://127.0.0.1:9/"], ["evaluate", NAME],
    ["export-hf", "kip_digits", "--out", "OUT"],
])
def test_a_store_path_that_is_a_file_is_one_clear_line(home_is_a_file, tmp_path, capsys, no_source, argv):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    line = one_error(capsys, argv, 1)
    assert str(home_is_a_file) in line and "DISTILLED_REGISTRY_HOME" in line and "not a folder" in line, line
    assert home_is_a_file.read_text() == "x"


def test_a_store_path_that_is_a_file_fails_load_clearly(home_is_a_file):
    with pytest.raises(store.StoreError, match="not a folder"):
        dr.load(NAME)


# ------------------------------------------------------------------------- missing provenance.json


def test_verify_of_a_folder_without_provenance_says_what_it_is(tmp_path, capsys):
    d = tmp_path / "folder"
    d.mkdir()
    (d / "data.npz").write_bytes(b"x")
    line = one_error(capsys, ["verify", str(d)], 2)
    assert "not a release folder (no provenance.json)" in line and "regenerate" in line and str(d) in line, line


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path, capsys):
    for cmd in ("verify", "rerun", "evaluate"):
        line = one_error(capsys, [cmd, str(tmp_path / "nothing")], 2)
        assert str(tmp_path / "nothing") in line


@pytest.fixture
def fake_distill(monkeypatch):
    """``distill`` writes a synthetic release (no JAX): regenerate's store handling, not its run."""
    from distilled_registry.pipelines import distill as distill_module

    def fake(config, out, source_dir=None, write=None, **kw):
        syn.write(out)
        if write is not None:  # regenerate writes the release once, through write (into the store)
            read = rel.read_release(out)
            return rel.read_provenance(write(read.files, dict(read.record)))
        return rel.read_provenance(out)

    monkeypatch.setattr(distill_module, "distill", fake)


def test_regenerate_over_a_store_folder_without_provenance(home, capsys, fake_distill):
    dest = home / "kip_digits" / "ipc10" / "1.0.0"
    dest.mkdir(parents=True)
    (dest / "data.npz").write_bytes(b"half written")
    line = one_error(capsys, ["regenerate", NAME, "--quiet"], 2)
    assert "verify" not in line and "--overwrite" in line and "no provenance.json" in line and str(dest) in line
    assert main(["regenerate", NAME, "--quiet", "--overwrite"]) == 0, capsys.readouterr().err
    assert dr.load(NAME).images.shape == (100, 8, 8, 1)
    assert sorted(p.name for p in dest.parent.iterdir() if not p.name.endswith(".lock")) == ["1.0.0"]


def test_regenerate_overwrite_refuses_a_store_folder_holding_foreign_files(home, capsys, fake_distill, no_source):
    dest = home / "kip_digits" / "ipc10" / "1.0.0"
    (dest / "mine").mkdir(parents=True)
    (dest / "notes.txt").write_text("keep")
    line = one_error(capsys, ["regenerate", NAME, "--quiet", "--overwrite"], 1)
    assert str(dest) in line and ("notes.txt" in line or "mine" in line), line
    assert (dest / "notes.txt").read_text() == "keep" and (dest / "mine").is_dir()


# ----------------------------------------------------------------------------------- checkpoints


def _write_checkpoint(d: Path, config: dict | None, raw: bytes | None = None) -> Path:
    from distilled_registry.npz import npz_bytes
    from distilled_registry.pipelines import checkpoint

    d.mkdir(parents=True, exist_ok=True)
    from distilled_registry import output_folder

    output_folder.mark(d, checkpoint.MARKER, [checkpoint.FILE])  # a checkpoint folder distill made (rule A)
    if raw is None:
        meta = {"format": checkpoint.FORMAT, "step": 1, "config": config, "leaves": 0}
        raw = npz_bytes({"meta_json": np.frombuffer(json.dumps(meta).encode(), np.uint8),
                         "losses": np.zeros(1)})
    (d / checkpoint.FILE).write_bytes(raw)
    return d / checkpoint.FILE


def test_resume_with_other_arguments_says_which_differ(tmp_path, capsys):
    args = DISTILL + ["--checkpoint-every", "1", "--resume"]
    cfg = computing._config_from_args(cli.build_parser().parse_args(args + ["--out", "x"])).to_dict()
    ck = tmp_path / "ck"
    _write_checkpoint(ck, dict(cfg, learning_rate=0.5))
    line = one_error(capsys, args + ["--out", str(tmp_path / "r"), "--checkpoint-dir", str(ck)], 1)
    assert "learning_rate" in line and "resume with the same arguments" in line and str(ck) in line, line
    assert not (tmp_path / "r").exists() and (ck / "kip_state.npz").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(tmp_path, capsys, damage):
    args = DISTILL + ["--checkpoint-every", "1", "--resume"]
    cfg = computing._config_from_args(cli.build_parser().parse_args(args + ["--out", "x"])).to_dict()
    ck = tmp_path / "ck"
    good = _write_checkpoint(ck, cfg).read_bytes()
    f = _write_checkpoint(ck, None, b"\x00garbage" * 10 if damage == "garbage" else good[: len(good) // 2])
    line = one_error(capsys, args + ["--out", str(tmp_path / "r"), "--checkpoint-dir", str(ck)], 1)
    assert str(f) in line and "remove it" in line, line


# ---------------------------------------------------------------------------------- transform.npz


def test_a_bad_transform_npz_is_named_by_evaluate(tmp_path, capsys):
    path, _ = syn.write(tmp_path / "rel")
    (path / "transform.npz").write_bytes(b"not an npz")
    prov = json.loads((path / "provenance.json").read_text())
    prov["files"]["transform.npz"] = rel.digest(b"not an npz")  # the checksum agrees: only the content is bad
    (path / "provenance.json").write_text(json.dumps(prov))
    line = one_error(capsys, ["evaluate", str(path), "--krr", "--no-record", "--allow-other-source"], 1)
    assert "transform.npz" in line, line


# ------------------------------------------------------------------------------------ exit codes


def test_runtime_failures_exit_1(home, tmp_path, capsys):
    path = store.add(syn.write(tmp_path / "made")[0], NAME, "1.0.0")
    f = path / "data.npz"
    f.write_bytes(f.read_bytes()[:-10])
    assert "failed verification" in one_error(capsys, ["verify", NAME], 1)
    assert "not in the local store" in one_error(capsys, ["verify", "kip_digits/ipc1"], 1)


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "REL", "--seeds", "0"], "--seeds 0"),
    (["evaluate", "REL", "--width", "0"], "--width"),
    (["evaluate", "REL", "--steps", "0"], "--steps"),
    (["evaluate", "REL", "--lr", "-1"], "--lr"),
    (["evaluate", "REL", "--weight-decay", "-1"], "--weight-decay"),
    (["export-hf", "kip_digits", "--out", "OUT", "--configs", "ipc10,nosuch"], "'nosuch'"),
    (["export-hf", "kip_nosuch", "--out", "OUT"], "kip_nosuch"),
    (["export-hf", NAME, "--out", "OUT"], NAME),
    (["push", "kip_digits", "--repo-id", "not a repo id", "--dry-run"], "'not a repo id'"),
    (["info", "kip_digits/ipc7"], "kip_digits/ipc7"),
    (["regenerate", NAME, "--overwrite", "--workers", "2"], "--workers 2"),
    (["regenerate", NAME, "--overwrite", "--tile", "100000"], "--tile 100000"),
    (["verify", "/x/y", "--version", "1.0.0"], "--version"),
])
def test_bad_command_lines_exit_2(home, tmp_path, capsys, no_source, argv, needle):
    store.add(syn.write(tmp_path / "made")[0], NAME, "1.0.0")
    argv = [{"REL": str(store.release_dir(NAME, "1.0.0")), "OUT": str(tmp_path / "out")}.get(a, a) for a in argv]
    assert needle in one_error(capsys, argv, 2)
    assert not (tmp_path / "out").exists()


def test_the_source_dir_variable_is_no_error_for_digits(tmp_path, monkeypatch, capsys):
    """$DISTILLED_REGISTRY_SOURCE_DIR is a default for the file sources: digits never says "drop --source-dir"."""
    from distilled_registry.errors import UserError
    from distilled_registry.pipelines import sources

    seen = []

    def record(name, source_dir=None):
        seen.append((name, source_dir))
        raise UserError("stop here")

    monkeypatch.setattr(sources, "load_source", record)
    monkeypatch.setenv("DISTILLED_REGISTRY_SOURCE_DIR", str(tmp_path))
    one_error(capsys, ["distill", "--quiet", "--out", str(tmp_path / "a")], 1)
    one_error(capsys, ["distill", "--source", "mnist", "--quiet", "--out", str(tmp_path / "b")], 1)
    one_error(capsys, ["distill", "--source-dir", "given", "--quiet", "--out", str(tmp_path / "c")], 1)
    assert seen == [("digits", None), ("mnist", str(tmp_path)), ("digits", "given")]


@pytest.mark.parametrize("argv, needle", [
    (["distill", "--source-dir", "NOWHERE", "--source", "mnist"], "--source-dir"),
    (["distill", "--source-dir", "NOWHERE"], "drop --source-dir"),
    (["export-hf", "kip_digits", "--out", "OUT", "--repo-id", "a b"], "'a b'"),
    (["import-published", "./nothing.npz"], "nothing.npz"),
])
def test_more_bad_command_lines_exit_2(home, tmp_path, capsys, argv, needle):
    argv = [{"NOWHERE": str(tmp_path / "nowhere"), "OUT": str(tmp_path / "out")}.get(a, a) for a in argv]
    if argv[0] == "distill":
        argv += ["--quiet", "--out", str(tmp_path / "r")]
    assert needle in one_error(capsys, argv, 2)
    assert not (tmp_path / "out").exists() and not (tmp_path / "r").exists()
