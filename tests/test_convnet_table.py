"""benchmarks/convnet_table.py: the README's "ConvNet releases" table is generated from committed provenance.

The README's table must be the script's output for the release folders in the repository (``--check``);
on a small ConvNet release made here, the script's row carries the release's own figures and names
every setting that differs from the catalog's spec and the authors'.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("convnet_table", ROOT / "benchmarks" / "convnet_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_readme_table_is_the_scripts_output_for_the_committed_releases(capsys):
    assert _script().main(["--check"]) == 0, capsys.readouterr().err


@pytest.fixture(scope="module")
def convnet_release(tmp_path_factory) -> Path:
    """A real ConvNet release (digits, Label Solve, ConvNet3 depth 2, 1 image per class) in a runs folder."""
    from distilled_registry.pipelines.distill import DistillConfig, distill
    from distilled_registry.pipelines.kernels import KernelSpec

    runs = tmp_path_factory.mktemp("runs")
    cfg = DistillConfig(source="digits", algorithm="ls", kernel=KernelSpec("convnet3", depth=2, impl="fast"), ipc=1,
                        seed=1)
    distill(cfg, runs / "ls_digits_convnet3", progress=False)
    return runs


def test_a_release_becomes_a_row_with_its_own_figures_and_its_differences(convnet_release, tmp_path):
    ct = _script()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{ct.START}\nstale\n{ct.END}\n\nafter\n")
    png = tmp_path / "table.png"
    argv = ["--runs", str(convnet_release), "--readme", str(readme), "--png", str(png)]
    assert ct.main(["--check", *argv]) == 1  # stale before it is written
    assert ct.main(argv) == 0
    assert ct.main(["--check", *argv]) == 0
    text = readme.read_text()
    prov = json.loads((convnet_release / "ls_digits_convnet3" / "provenance.json").read_text())
    row = next(line for line in text.splitlines() if line.startswith("| `ls_digits/ipc1`"))
    assert f"{100 * prov['metrics']['krr_test_accuracy']:.2f}%" in row
    assert f"{100 * prov['metrics']['natural_krr_test_accuracy']:.2f}%" in row
    assert "kernel convnet3 depth 2 ntk (catalog: fc depth 1 ntk)" in row and "seed 1" in row
    assert "LS, convnet3 depth 2 NTK" in row and f"{prov['environment']['device']['device_count']} x cpu" in row
    assert text.endswith("after\n") and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme.write_text(text.replace(f"{100 * prov['metrics']['krr_test_accuracy']:.2f}%", "99.99%"))
    assert ct.main(["--check", *argv]) == 1  # a figure typed by hand is caught


def test_a_release_whose_files_fail_their_sha256_shows_no_figures(convnet_release, tmp_path):
    ct = _script()
    runs = tmp_path / "runs"
    shutil.copytree(convnet_release, runs)
    (runs / "ls_digits_convnet3" / "transform.npz").write_bytes(b"changed")
    (r,) = ct.rows(runs)
    assert not r["verified"] and r["ours"] is None and r["natural"] is None
    assert "fail their sha256" in ct.table([r], "runs", "table.png")


def test_kip_rows_name_the_authors_setting(convnet_release):
    ct = _script()
    prov = json.loads((convnet_release / "ls_digits_convnet3" / "provenance.json").read_text())
    prov["config"] = {**prov["config"], "algorithm": "kip", "target_batch": 300, "steps": 2000}
    prov["name"] = "kip_mnist"
    prov["source"] = {**prov["source"], "name": "mnist"}
    from distilled_registry import catalog

    e = catalog.entry("kip_mnist/ipc1")
    diffs = ct.differences(prov, e)
    assert "target batch 300 (catalog: 5000)" in diffs and "steps 2000 (catalog: 1000)" in diffs
    assert "no augmentation (authors: with)" in diffs


@pytest.mark.parametrize("timing, resumed, shown", [
    ({"wall_seconds": 600.0}, 0, "10.0 min"),
    ({"wall_seconds": 600.0, "seconds_before_resume": 9000.0}, 800, "2.67 h (resumed at step 800)"),
    ({"wall_seconds": 600.0, "seconds_before_resume": None}, 800,
     "10.0 min after a resume at step 800 (the time before it not recorded)"),
])
def test_a_resumed_runs_time_counts_the_processes_before_or_says_it_is_not_known(timing, resumed, shown):
    assert _script()._run_time({"timing": timing, "algorithm": {"resumed_from_step": resumed}}) == shown


def test_ls_targets_and_a_learning_rate_drop_are_named_as_differences():
    mod = _script()
    base = {"ipc": 10, "kernel": {"architecture": "convnet", "depth": 3, "get": "ntk"}, "seed": 0}
    ls = mod.differences({"config": {**base, "algorithm": "ls", "ls_targets": 20000}, "source": {}}, None)
    assert ls == ["labels solved against 20,000 class-balanced training images (authors: the whole training split)"]
    kip = mod.differences({"config": {**base, "algorithm": "kip", "target_batch": 5000, "learning_rate": 0.04,
                                      "lr_drop_at": 850, "lr_drop_scale": 0.25}, "source": {}}, None)
    assert "learning rate x0.25 from step 850 (authors: constant 0.04)" in kip
    two = mod.differences({"config": {**base, "algorithm": "kip", "target_batch": 5000, "learning_rate": 0.04,
                                      "lr_drop_at": [850, 1400], "lr_drop_scale": 0.25}, "source": {}}, None)
    assert "learning rate x0.25 from step 850 and again from step 1400 (authors: constant 0.04)" in two


def test_a_release_started_from_another_names_both_runs_settings_and_times():
    """--init-from: the row says which steps were the start release's, with its settings and time, and which
    this run's; its method counts both."""
    mod = _script()
    base = {"ipc": 1, "kernel": {"architecture": "convnet", "depth": 3, "get": "ntk"}, "seed": 0, "algorithm": "kip"}
    first = {**base, "target_batch": 300, "learning_rate": 0.04, "lr_drop_at": [850, 1400], "lr_drop_scale": 0.25}
    start = {"data_sha256": "ab" * 32, "steps_run": 1650, "config": first,
             "timing": {"wall_seconds": 600.0, "seconds_before_resume": 9000.0}}
    prov = {"config": {**base, "target_batch": 1000, "learning_rate": 0.01, "steps": 100, "init_from": "ab" * 32},
            "source": {}, "algorithm": {"started_from_release": start, "resumed_from_step": 0},
            "timing": {"wall_seconds": 3600.0}}
    diffs = mod.differences(prov, None)
    assert diffs[0] == ("steps 1-1,650 are those of the start release (abababababab: target batch 300 (authors: "
                        "5000), learning rate x0.25 from step 850 and again from step 1400 (authors: constant "
                        "0.04)), the last 100 this run's from its images and labels with a fresh Adam")
    assert "target batch 1000 (authors: 5000)" in diffs and "learning rate 0.01 (authors: 0.04)" in diffs
    assert mod._run_time(prov) == "60.0 min after the start release's 1,650 steps (2.67 h)"
    start["timing"] = {"wall_seconds": 600.0, "seconds_before_resume": None}
    assert mod._run_time(prov) == ("60.0 min after the start release's 1,650 steps (10.0 min after a resume, the "
                                   "time before it not recorded)")


def test_a_chain_of_started_runs_names_every_runs_steps_settings_and_time():
    """A release started from a release that was itself started from another (both committed): the row counts
    all three runs' steps, names each one's settings and time; a start release's own start that is not
    committed is named as such, not skipped."""
    mod = _script()
    base = {"ipc": 1, "kernel": {"architecture": "convnet", "depth": 3, "get": "ntk"}, "seed": 0, "algorithm": "kip"}
    first = {**base, "target_batch": 300, "learning_rate": 0.04, "steps": 1650}
    second = {**base, "target_batch": 1000, "learning_rate": 0.0025, "steps": 60, "init_from": "aa" * 32}
    rec_first = {"data_sha256": "aa" * 32, "steps_run": 1650, "config": first, "timing": {"wall_seconds": 7200.0}}
    rec_second = {"data_sha256": "bb" * 32, "steps_run": 60, "config": second, "timing": {"wall_seconds": 600.0}}
    known = {"aa" * 32: {"config": first, "algorithm": {}},
             "bb" * 32: {"config": second, "algorithm": {"started_from_release": rec_first}}}
    prov = {"config": {**base, "target_batch": 1000, "learning_rate": 0.0005, "steps": 70, "init_from": "bb" * 32},
            "source": {}, "algorithm": {"started_from_release": rec_second, "resumed_from_step": 0},
            "timing": {"wall_seconds": 300.0}}
    assert mod.lineage(prov, known) == [rec_first, rec_second]
    diffs = mod.differences(prov, None, known)
    assert diffs[0] == ("steps 1-1,650 are those of release aaaaaaaaaaaa (target batch 300 (authors: 5000)), "
                        "steps 1,651-1,710 those of the start release (bbbbbbbbbbbb: target batch 1000 (authors: "
                        "5000), learning rate 0.0025 (authors: 0.04)), the last 70 this run's from its images and "
                        "labels with a fresh Adam")
    assert mod._run_time(prov, known) == ("5.0 min after the start release's 60 steps (10.0 min) and the 1,650 "
                                          "steps before those (2.00 h)")
    missing: dict = {}  # the start release not committed: its own start is known only by its sha256
    assert mod.lineage(prov, missing) == [{"data_sha256": "aa" * 32, "missing": True}, rec_second]
    assert mod.differences(prov, None, missing)[0].startswith(
        "the first steps those of release aaaaaaaaaaaa (not committed here), then 60 steps those of the start release")
    assert "the 1,650 steps" not in mod._run_time(prov, missing)
    assert mod._run_time(prov, missing).endswith("and those of release aaaaaaaaaaaa (not committed here)")
    cyc = {"bb" * 32: {"algorithm": {"started_from_release": rec_second}}}  # a release naming itself: bounded
    assert len(mod.lineage(prov, cyc)) <= 2
