"""``verify --accuracy``: a wrongly published file is caught before anyone trains on it.

Checksums only say a file is the one the provenance lists; they cannot say the provenance's figure
belongs to that file. A release whose labels were shuffled and whose checksums were then rewritten,
or whose claimed accuracy was edited, passes ``verify`` and must fail ``verify --accuracy``.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from distilled_registry import release as rel
from distilled_registry.cli import main
from distilled_registry.npz import npz_bytes


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A real LS release of digits (2 images a class), made by ``distill``: its claimed figure is genuine."""
    out = tmp_path_factory.mktemp("acc") / "ls"
    assert main(["distill", "--source", "digits", "--algorithm", "ls", "--ipc", "2", "--quiet",
                 "--out", str(out)]) == 0
    return out


def _copy(made, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for f in made.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    return out


def _rewrite_provenance(path, edit) -> None:
    prov = json.loads((path / rel.PROVENANCE_FILE).read_text())
    edit(prov)
    (path / rel.PROVENANCE_FILE).write_text(json.dumps(prov))


def test_a_genuine_release_recomputes_to_its_claim(made, capsys):
    assert main(["verify", str(made), "--accuracy", "--json"]) == 0
    acc = json.loads(capsys.readouterr().out)["accuracy"]
    claimed = rel.read_provenance(made)["metrics"]["krr_test_accuracy"]
    assert acc["claimed"] == claimed and acc["within"] and acc["test_size"] == 450
    assert abs(acc["recomputed"] - claimed) <= 1e-6  # same kernel, same split, same machine: the same figure


def test_an_edited_claim_fails(made, tmp_path, capsys):
    path = _copy(made, tmp_path)
    claimed = rel.read_provenance(made)["metrics"]["krr_test_accuracy"]
    forged = claimed + 0.05 if claimed < 0.9 else claimed - 0.05
    _rewrite_provenance(path, lambda p: p["metrics"].__setitem__("krr_test_accuracy", forged))
    assert main(["verify", str(path)]) == 0  # the checksums cannot see it
    capsys.readouterr()
    assert main(["verify", str(path), "--accuracy"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"not the claimed {forged:.4f}" in err[0], err


def test_a_wrong_file_under_genuine_checksums_fails(made, tmp_path, capsys):
    """Labels shuffled between images, then data.npz's sha256 and size rewritten in the provenance:
    every checksum matches, the figure does not."""
    path = _copy(made, tmp_path)
    with np.load(path / rel.DATA_FILE, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    data["labels"] = np.roll(data["labels"], 1, axis=1)  # each image now claims the next class
    blob = npz_bytes(data)
    (path / rel.DATA_FILE).write_bytes(blob)
    _rewrite_provenance(path, lambda p: p["files"][rel.DATA_FILE].update(rel.digest(blob)))
    assert main(["verify", str(path)]) == 0
    capsys.readouterr()
    assert main(["verify", str(path), "--accuracy"]) == 1
    err = capsys.readouterr().err
    assert "recomputes to" in err and "a wrong file was published" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("args", [["--tolerance", "0.01"], ["--accuracy", "--tolerance", "2"],
                                  ["--accuracy", "--tolerance", "nan"]])
def test_a_bad_tolerance_is_a_usage_error_before_any_work(made, capsys, monkeypatch, args):
    from distilled_registry.pipelines import evaluation

    monkeypatch.setattr(evaluation, "check_accuracy", lambda *a, **k: pytest.fail("the work started"))
    assert main(["verify", str(made), *args]) == 2
    err = capsys.readouterr().err
    assert "--tolerance" in err and err.count("\n") == 1, err


def test_npz_bytes_round_trip():
    """The helper this file forges with writes what np.load reads back (else the forgery tests prove nothing)."""
    a = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    with np.load(io.BytesIO(npz_bytes(a)), allow_pickle=False) as z:
        np.testing.assert_array_equal(z["x"], a["x"])
