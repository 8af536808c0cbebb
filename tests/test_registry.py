"""The registry end to end on digits: ``regenerate kip_digits/ipc10`` (once for the run, conftest's
``regenerated``; this module changes its own copy of the store), then
``verify``, ``load``, ``rerun`` (same seed, same figures), damage detection, ``list --json`` and
``plan``; and the catalog's data against its sources."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import distilled_registry as dr
from distilled_registry import catalog, cli, names, references
from distilled_registry.cli import computing
from distilled_registry import release as rel

NAME = "kip_digits/ipc10"
FILES = {"data.npz", "data.parquet", "transform.npz", "preview.png", "loss_curve.png", "croissant.json",
         "provenance.json"}


@pytest.fixture(scope="module")
def home(tmp_path_factory, regenerated):
    """This module's copy of the store ``regenerate kip_digits/ipc10`` wrote (conftest's ``regenerated``)."""
    h = shutil.copytree(regenerated / "store", tmp_path_factory.mktemp("store"), dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISTILLED_REGISTRY_HOME", str(h))
        yield h


@pytest.fixture
def release(home):
    return home / "kip_digits" / "ipc10" / "1.0.0"


def test_regenerate_writes_the_catalog_spec_into_the_store(home, release):
    assert {p.name for p in release.iterdir()} == FILES
    assert sorted(p.name for p in home.iterdir()) == ["kip_digits"]  # no staging debris
    prov = json.loads((release / "provenance.json").read_text())
    spec = catalog.entry(NAME).spec
    assert prov["release"] == {"name": NAME, "family": "kip_digits", "config": "ipc10", "version": "1.0.0",
                               "catalog_spec": spec}
    assert {k: prov["config"][k] for k in spec} == spec
    assert (prov["config"]["kernel"]["architecture"], prov["config"]["steps"], prov["config"]["learn_labels"],
            prov["config"]["target_batch"], prov["seed"]) == ("fc", 300, True, 5000, 0)
    assert set(prov["files"]) == FILES - {"provenance.json"}
    for name, d in prov["files"].items():
        assert d == {"sha256": rel.sha256_file(release / name), "size": (release / name).stat().st_size}
    assert prov["metrics"]["krr_test_accuracy"] > prov["metrics"]["natural_krr_test_accuracy"]


def test_regenerate_refuses_an_existing_version(home, capsys):
    assert cli.main(["regenerate", NAME, "--quiet"]) == 2
    assert "kip_digits/ipc10:1.0.0 is already in the store" in capsys.readouterr().err


def test_verify_passes(home, capsys):
    assert cli.main(["verify", NAME]) == 0
    assert "all 6 files match the sha256 and size in provenance.json" in capsys.readouterr().out
    assert cli.main(["verify", NAME, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["release"] == "kip_digits/ipc10:1.0.0" and len(report["files"]) == 6


def test_load_returns_the_arrays_written(home, release):
    r = dr.load(NAME)
    with np.load(release / "data.npz") as z:
        for k in ("images", "labels", "class_ids"):
            np.testing.assert_array_equal(getattr(r, k), z[k])
    assert r.images.shape == (100, 8, 8, 1) and r.version == "1.0.0"
    assert r.provenance == json.loads((release / "provenance.json").read_text())


def test_croissant_records_equal_the_release_arrays(home, release):
    from distilled_registry import croissant

    r = dr.load(NAME)
    back = croissant.read_records(release)
    for k in ("images", "labels", "class_ids"):
        np.testing.assert_array_equal(back[k], getattr(r, k))


def test_rerun_reproduces_the_metrics(home, release):
    """In a child process, as the regeneration ran: one jax device a core in both, so the same bytes. (This
    worker's jax may hold another device count, and a rerun on another count gives other bytes, as
    docs/design.md says under rule F.)"""
    env = {**os.environ, "DISTILLED_REGISTRY_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "distilled_registry", "rerun", str(release), "--quiet"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    for metric in ("krr_test_accuracy", "natural_krr_test_accuracy", "krr_test_mse", "natural_krr_test_mse"):
        assert re.search(rf"{metric}\s+(\d\.\d+)\s+\1\s+\+0\.000000\s+.*same", out), out
    assert "data.npz: identical bytes (same sha256)" in out and "source fingerprint: same" in out


def test_rerun_exits_1_when_metrics_differ(home, release, tmp_path, monkeypatch, capsys):
    """The comparison path, without a second run: distill is replaced by one that returns shifted metrics."""
    from distilled_registry.pipelines import distill as distill_module

    def fake_distill(config, out, source_dir=None, **kw):
        shutil.copytree(release, out)
        prov = rel.read_provenance(out)
        prov["metrics"]["krr_test_accuracy"] -= 0.01
        prov["metrics"]["krr_test_mse"] *= 1.001  # within the 1% relative tolerance
        return prov

    monkeypatch.setattr(distill_module, "distill", fake_distill)
    assert cli.main(["rerun", NAME, "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"krr_test_accuracy\s+\S+\s+\S+\s+-0\.010000\s+0\.001 absolute\s+DIFFERENT", out), out
    assert re.search(r"krr_test_mse\s+.*0\.01 relative\s+within", out), out
    assert "differs beyond tolerance: krr_test_accuracy" in err
    assert cli.main(["rerun", NAME, "--quiet", "--acc-tol", "0.02"]) == 0


def test_compare_metrics_tolerances():
    rec = {"krr_test_accuracy": 0.9, "natural_krr_test_accuracy": 0.8, "krr_test_mse": 0.01, "natural_krr_test_mse": 0.02}
    new = dict(rec, krr_test_accuracy=0.9009, natural_krr_test_mse=0.0203)
    rows = {r["metric"]: r["within"] for r in computing.compare_metrics(rec, new, acc_tol=1e-3, mse_rtol=1e-2)}
    assert rows == {"krr_test_accuracy": True, "natural_krr_test_accuracy": True, "krr_test_mse": True,
                    "natural_krr_test_mse": False}


def test_flipped_byte_in_the_real_release(home, release, tmp_path, monkeypatch, capsys):
    other = tmp_path / "store"
    shutil.copytree(home, other)
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(other))
    f = other / "kip_digits" / "ipc10" / "1.0.0" / "data.npz"
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0xFF
    f.write_bytes(bytes(b))
    assert cli.main(["verify", NAME]) == 1  # a damaged release: a runtime failure
    assert "failed verification: data.npz (sha256" in capsys.readouterr().err
    with pytest.raises(rel.ReleaseError, match="data.npz: sha256"):
        dr.load(NAME)


def test_a_failed_regenerate_leaves_no_release(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "store"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["regenerate", "ls_mnist/ipc1", "--source-dir", str(empty), "--quiet"]) == 1  # missing files
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err
    assert list((tmp_path / "store").rglob("*")) == []  # nothing half-written, no staging left
    assert cli.main(["regenerate", "kip_digits/ipc11", "--quiet"]) == 2
    assert "unknown release 'kip_digits/ipc11'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- catalog

ISSUE_CONFIGS = {src: ((1, 10) if src == "cifar100" else (1, 10, 50))
                 for src in ("digits", "mnist", "fashion_mnist", "svhn_cropped", "cifar10", "cifar100")}


def test_list_json_has_every_family_and_config_with_its_paper_figure(home, capsys):
    assert cli.main(["list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for src, ipcs in ISSUE_CONFIGS.items():
        for alg in ("kip", "ls"):
            for ipc in ipcs:
                r = rows[f"{alg}_{src}/ipc{ipc}"]
                assert r["spec"]["ipc"] == ipc and r["spec"]["algorithm"] == alg and r["spec"]["source"] == src
                paper = r["paper"]
                assert "krr_test_accuracy" in paper
                if paper["krr_test_accuracy"] is None:
                    assert paper["note"].startswith("not reported")
                else:
                    assert 0 < paper["krr_test_accuracy"] < 1 and paper["reference"] in references.REFERENCES
    figures = {n: r["paper"]["krr_test_accuracy"] for n, r in rows.items()}
    assert [figures[f"kip_mnist/ipc{i}-fc"] for i in (1, 10, 50)] == [0.855, 0.972, 0.984]
    assert [figures[f"kip_cifar10/ipc{i}-fc"] for i in (1, 10, 50)] == [0.405, 0.531, 0.586]
    assert figures["ls_cifar10/ipc10"] == 0.5359 and figures["ls_cifar10/ipc10-convnet3-nozca"] == 0.4644
    assert figures["kip_digits/ipc10"] is None and rows[NAME]["local"] == ["1.0.0"]
    for n in rows:
        assert names.CONFIG_RE.match(n.split("/")[1])


def test_ls_figures_match_the_authors_index(real_data):
    index = real_data / "kip_official" / "ls_index.csv"
    if not index.exists():
        pytest.skip(f"{index} not found")
    rows = {(r["architecture"].lower(), r["dataset"], int(r["ssize"]), r["zca"] == "True"): float(r["test_acc"])
            for r in csv.DictReader(index.open())}
    checked = 0
    for e in catalog.entries():
        if e.algorithm == "ls" and e.source != "digits":
            key = (e.spec["kernel"]["architecture"], e.source, e.spec["ipc"] * e.source_info["num_classes"], e.spec["zca"])
            assert e.paper["krr_test_accuracy"] == rows[key], e.name
            checked += 1
    assert checked == 30


def test_every_catalog_spec_is_a_runnable_config():
    from distilled_registry.pipelines.distill import DistillConfig

    for e in catalog.entries():
        cfg = DistillConfig.from_dict(e.spec)
        cfg.validate()
        assert cfg.to_dict()["kernel"] == e.spec["kernel"]
        cfg.kernel.check_images((1, *e.source_info["image_shape"]))  # 28x28 MNIST pools 28 -> 14 -> 7 -> 3


# ------------------------------------------------------------------------------------------------- plan


def test_plan_digits_measures_and_counts(capsys):
    assert cli.main(["plan", NAME, "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    n, m = 100, 1347  # digits has ~135 training images per class, fewer than 5000 // 10
    assert (p["k_ss_upper"], p["k_ts"], p["entries"]) == (n * (n + 1) // 2, m * n, n * (n + 1) // 2 + m * n)
    assert p["tile"] == 128 and p["block"] == 100 and p["target_block"] == 123  # 1347 targets: 11 blocks of 123
    assert (p["tiles_ss"], p["tiles_ts"]) == (1, 11)
    parts = {x["name"]: x for x in p["parts"]}
    assert parts["KIP tiles"]["basis"] == "measured" and parts["loading and preprocessing"]["basis"] == "measured"
    assert p["seconds"] == pytest.approx(p["startup"]["seconds"] + sum(x["seconds"] for x in p["parts"]))
    assert p["step_seconds"] * 300 <= p["seconds"]


def test_plan_kip_cifar10_ipc10_on_256_workers(capsys, monkeypatch):
    from distilled_registry.pipelines import plan

    monkeypatch.setattr(plan, "startup_seconds", lambda nt=False: 1.0)
    assert cli.main(["plan", "kip_cifar10/ipc10", "--backend", "ray", "--workers", "256", "--device", "h100"]) == 0
    out = capsys.readouterr().out
    assert "kernel entries per step: 505,050 = K_ss upper triangle 5,050 + K_ts 500,000" in out
    assert "tiles per step: 41 = K_ss 1 (100x100) + K_ts 40 (125x100)" in out
    assert re.search(r"KIP tiles: [\d.,]+ \w+ \[assumed\] 1,000 steps of .* on 256 workers", out), out
    assert re.search(r"total: [\d,.]+ (min|h)", out), out

