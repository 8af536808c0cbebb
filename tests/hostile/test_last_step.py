"""Every command's last step, tested as its work is: the summary line, ``--json`` and the pictures.

Case 6 of issue 23: ``distill ... --json`` wrote its release and then ended in a traceback
(``KeyError: 'files'`` in ``release_summary``: ``distill`` returned the provenance before the writer added
the files' checksums), exit 1 for work that succeeded. Here each command that takes ``--json`` runs
cheaply (digits, Label Solve or 2 KIP steps) and its output is parsed and held against what it wrote.
``demo --json`` is in test_output_folders.py and tests/test_distill_cli.py, ``export-hf --json`` and
``builders --json`` in test_output_folders.py, ``import-published --json`` in tests/test_published.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from distilled_registry import cli
from distilled_registry import release as rel

PNG = b"\x89PNG\r\n\x1a\n"
NAME = "ls_digits/ipc1"


def run_json(capsys, argv: list[str]) -> dict:
    rc = cli.main(argv + ["--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err, err
    return json.loads(out)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store holding ls_digits/ipc1 made by `regenerate --json` (Label Solve: seconds), and that JSON."""
    import contextlib
    import io

    home = tmp_path_factory.mktemp("store")
    old = os.environ.get("DISTILLED_REGISTRY_HOME")
    os.environ["DISTILLED_REGISTRY_HOME"] = str(home)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["regenerate", NAME, "--quiet", "--json"])
    try:
        assert rc == 0
        yield home, json.loads(buf.getvalue())
    finally:
        if old is None:
            os.environ.pop("DISTILLED_REGISTRY_HOME", None)
        else:
            os.environ["DISTILLED_REGISTRY_HOME"] = old


def test_case6_distill_json_after_the_release_is_written(tmp_path, capsys):
    out = tmp_path / "r"
    got = run_json(capsys, ["distill", "--ipc", "1", "--steps", "2", "--target-batch", "50", "--quiet",
                            "--out", str(out)])
    prov = rel.read_provenance(out)
    assert got["path"] == str(out) and got["files"] == prov["files"]
    assert {"data.npz", "transform.npz", "preview.png", "loss_curve.png", "croissant.json"} <= set(got["files"])
    assert got["krr_test_accuracy"] == prov["metrics"]["krr_test_accuracy"] and got["wall_seconds"] > 0
    for picture in ("preview.png", "loss_curve.png"):
        assert (out / picture).read_bytes()[:8] == PNG
    assert all(c.ok for c in rel.verify(out))


def test_distill_summary_line_and_the_api_return_the_provenance_as_written(tmp_path, capsys):
    from distilled_registry.pipelines.distill import DistillConfig, distill

    out = tmp_path / "r"
    assert cli.main(["distill", "--algorithm", "ls", "--ipc", "1", "--quiet", "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out}: KRR test accuracy ") and line.endswith(" s"), line
    prov = distill(DistillConfig(algorithm="ls", ipc=1), tmp_path / "api", progress=False)
    assert prov == rel.read_provenance(tmp_path / "api")


def test_regenerate_json(stored):
    home, got = stored
    path = Path(got["path"])
    assert got["name"] == NAME and got["version"] and got["files"] == rel.read_provenance(path)["files"]
    assert path.is_relative_to(home) and got["recorded"] is None


def test_rerun_json(stored, capsys):
    got = run_json(capsys, ["rerun", NAME, "--quiet"])
    assert got["ok"] is True and got["same_source"] is True and got["data_npz_identical"] is True
    assert {r["metric"] for r in got["metrics"]} >= {"krr_test_accuracy", "natural_krr_test_accuracy"}


def test_evaluate_json(stored, capsys):
    got = run_json(capsys, ["evaluate", NAME, "--krr", "--no-record", "--quiet"])
    _, made = stored
    assert got["recorded"] is False and got["release"].startswith(NAME)
    assert got["krr_evaluation"]["accuracy"] == pytest.approx(made["krr_test_accuracy"], abs=1e-6)


def test_verify_list_info_json(stored, capsys):
    got = run_json(capsys, ["verify", NAME])
    assert got["ok"] is True and all(f["ok"] for f in got["files"])
    rows = run_json(capsys, ["list"])
    assert any(r["name"] == NAME and r["local"] for r in rows)
    info = run_json(capsys, ["info", NAME])
    assert info["name"] == NAME and info["local"]


def test_plan_json(capsys):
    got = run_json(capsys, ["plan", "kip_digits/ipc1", "--tile", "2", "--steps", "3", "--budget", "5"])
    assert got["steps"] == 3 and got["hours"] > 0 and got["tile"] == 2
    assert got["parts"] and all(p["basis"] in ("measured", "extrapolated", "table", "assumed") and p["seconds"] >= 0
                                for p in got["parts"])


def test_push_dry_run_json(stored, tmp_path, capsys):
    pytest.importorskip("huggingface_hub")
    pytest.importorskip("datasets")
    exported = run_json(capsys, ["export-hf", "ls_digits", "--out", str(tmp_path / "hf")])
    got = run_json(capsys, ["push", "ls_digits", "--repo-id", "org/name", "--folder", str(tmp_path / "hf"),
                            "--dry-run"])
    assert got["uploaded"] is False and got["files"] == exported["files"]
    assert (tmp_path / "hf" / "ipc1" / "preview.png").read_bytes()[:8] == PNG
