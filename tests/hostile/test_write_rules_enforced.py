"""Rules A, E and F each hold in one function, and every path that should go through it does.

Each function (``output_folder.claim``, ``user_values.count`` / ``real`` / ``path``, ``checkpoint.check_machine``)
is made to raise a marked error; every command (and Python entry point) that writes a user-named folder,
takes a number or a path, or resumes a checkpoint must then fail with that error. A path that skipped
the function would succeed, or fail otherwise, and the test would say which.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import cli, output_folder, store, user_values
from distilled_registry.errors import UsageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic_release as syn  # noqa: E402

SENTINEL = "SENTINEL-raised-by-the-rule-function"


class Sentinel(UsageError):
    pass


def fails_through_it(capsys, argv: list[str], code: int = 2) -> None:
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == code and SENTINEL in err and err.count("\n") == 1, (argv, rc, err)


@pytest.fixture
def release_folder(tmp_path) -> Path:
    return syn.write(tmp_path / "rel")[0]


# --------------------------------------------------------------------------------- rule A: claim

@pytest.mark.parametrize("argv, kind", [
    (["demo", "--out", "OUT", "--steps", "2", "--quiet"], "demo"),
    (["distill", "--steps", "2", "--quiet", "--out", "OUT"], output_folder.RELEASE),
    (["distill", "--steps", "2", "--quiet", "--out", "OUT", "--checkpoint-every", "1", "--checkpoint-dir", "CK"],
     "checkpoint"),
    (["rerun", "REL", "--quiet", "--out", "OUT"], output_folder.RELEASE),
    (["regenerate", "ls_digits/ipc1", "--quiet"], output_folder.RELEASE),
    (["export-hf", "kip_digits", "--out", "OUT"], "export-hf"),
    (["builders", "--out", "OUT"], "builders"),
    (["import-published", "NPZ"], output_folder.RELEASE),
])
def test_every_folder_writer_goes_through_output_folder_claim(home, tmp_path, capsys, monkeypatch, release_folder,
                                                              argv, kind):
    store.add(release_folder, "kip_digits/ipc10", "1.0.0")  # export-hf's input, written before the patch
    npz = tmp_path / "kip" / "mnist" / "ConvNet_ssize10_nozca_l_noaug_ckpt1000.npz"  # an authors' file name
    npz.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(npz, images=rng.standard_normal((10, 28, 28, 1)).astype(np.float32),
             labels=(np.eye(10, dtype=np.float32) - 0.1).astype(np.float32))
    real = output_folder.claim

    def claim(folder, command, **kw):
        if command == kind:
            raise Sentinel(f"{SENTINEL}: {folder}")
        return real(folder, command, **kw)

    monkeypatch.setattr(output_folder, "claim", claim)
    subst = {"OUT": str(tmp_path / "out"), "CK": str(tmp_path / "ck"), "REL": str(release_folder), "NPZ": str(npz)}
    fails_through_it(capsys, [subst.get(a, a) for a in argv])
    assert not (tmp_path / "out").exists() and not (tmp_path / "ck").exists()


def test_the_lock_time_check_is_claim_too(tmp_path, monkeypatch):
    from distilled_registry import release as rel

    out, _ = syn.write(tmp_path / "rel")
    new, _ = syn.write(tmp_path / "new", seed=1)
    monkeypatch.setattr(output_folder, "claim", lambda *a, **k: (_ for _ in ()).throw(Sentinel(SENTINEL)))
    with pytest.raises(Sentinel):
        rel.move_into_place(new, out, replace=True)


# ------------------------------------------------------------------------------- rule E: user_values

def _values_raise(monkeypatch) -> None:
    def boom(value, name, *a, **k):
        raise Sentinel(f"{SENTINEL}: {name}")

    for fn in ("count", "real", "path"):
        monkeypatch.setattr(user_values, fn, boom)


@pytest.fixture
def values_raise(monkeypatch):
    from distilled_registry.pipelines import demo, distill, evaluation  # noqa: F401 - imported before the patch

    _values_raise(monkeypatch)


@pytest.mark.parametrize("argv", [
    ["distill", "--out", "x", "--steps", "2"], ["distill", "--out", "x"], ["demo", "--steps", "2"],
    ["demo", "--out", "d"], ["evaluate", "r", "--seeds", "1"], ["evaluate", "r", "--lr", "0.1"],
    ["regenerate", "ls_digits/ipc1", "--tile", "8"],
    ["rerun", "r", "--acc-tol", "0.1"], ["plan", "kip_digits/ipc1", "--workers", "1"], ["plan", "kip_digits/ipc1"],
    ["verify", "r", "--tolerance", "0.1", "--accuracy"], ["export-hf", "kip_digits", "--out", "x"],
    ["push", "kip_digits", "--repo-id", "o/n", "--folder", "x"], ["builders", "--out", "x"],
    ["import-published", "x.npz", "--source-dir", "s"],
])
def test_every_numeric_and_path_argument_goes_through_user_values(home, capsys, values_raise, argv):
    fails_through_it(capsys, argv)


def test_the_python_entry_points_go_through_user_values(tmp_path, monkeypatch):
    pytest.importorskip("optax")
    from distilled_registry.pipelines import demo, evaluation
    from distilled_registry.pipelines.distill import DistillConfig, distill
    from distilled_registry.pipelines.transfer import TransferConfig

    _values_raise(monkeypatch)
    calls = [lambda: DistillConfig().validate(),
             lambda: distill(DistillConfig(steps=2), tmp_path / "r", progress=False),
             lambda: demo.run_demo(tmp_path / "d", steps=2, progress=False),
             lambda: evaluation.evaluate(tmp_path / "r", "krr"),
             lambda: evaluation.check_accuracy(tmp_path / "r", tolerance=0.01)]
    calls.append(lambda: TransferConfig())
    for call in calls:
        with pytest.raises(Sentinel):
            call()
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------- rule F: check_machine

def test_every_resume_goes_through_check_machine(tmp_path, capsys, monkeypatch):
    from distilled_registry.cli import computing
    from distilled_registry.npz import npz_bytes
    from distilled_registry.pipelines import checkpoint

    args = ["distill", "--source", "digits", "--ipc", "1", "--steps", "2", "--target-batch", "50", "--quiet",
            "--checkpoint-every", "1", "--resume"]
    cfg = computing._config_from_args(cli.build_parser().parse_args(args + ["--out", "x"])).to_dict()
    ck = tmp_path / "ck"
    ck.mkdir()
    output_folder.mark(ck, checkpoint.MARKER, [checkpoint.FILE])
    meta = {"format": checkpoint.FORMAT, "step": 1, "config": cfg, "leaves": 0, "machine": {"device_count": 1}}
    (ck / checkpoint.FILE).write_bytes(npz_bytes({"meta_json": np.frombuffer(json.dumps(meta).encode(), np.uint8),
                                                  "losses": np.zeros(1)}))
    def boom(f, saved):
        raise checkpoint.CheckpointError(SENTINEL)

    monkeypatch.setattr(checkpoint, "check_machine", boom)
    fails_through_it(capsys, args + ["--out", str(tmp_path / "r"), "--checkpoint-dir", str(ck)], code=1)
    assert not (tmp_path / "r").exists()
