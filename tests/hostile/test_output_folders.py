"""Rule A, nothing replaces or deletes what it did not create: every folder a command writes, through one check.

``distilled_registry.output_folder.claim`` accepts a new folder, or an earlier output of the same command
(its marker, nothing unlisted in it) with the flag that allows replacing it; a user's folder is refused
before any work, exit 2, in one line naming the folder and the flag. Case 1 of issue 23 first: ``demo --out``
onto a folder holding the user's ``grid.png`` replaced it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from distilled_registry import cli, output_folder, store
from distilled_registry import release as rel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic_release as syn  # noqa: E402


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line(capsys, argv: list[str], code: int) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert rc == code, err
    return err.strip()


@pytest.fixture
def no_work(monkeypatch):
    """Any distillation, source load or export fails the test: the refusal must come first."""
    from distilled_registry.pipelines import demo, distill, sources

    def fail(*a, **k):
        raise AssertionError("work started before the output folder was checked")

    monkeypatch.setattr(sources, "load_source", fail)
    monkeypatch.setattr(demo, "distill", fail)
    monkeypatch.setattr(distill, "prepare", fail)


@pytest.fixture
def fake_demo_distill(monkeypatch):
    """``demo``'s four runs as synthetic releases (seconds, not a minute): what is tested is the folder."""
    from distilled_registry.pipelines import demo

    def fake(cfg, out, **kw):
        syn.write(out, seed=cfg.ipc)
        return rel.read_provenance(out)

    monkeypatch.setattr(demo, "distill", fake)


def test_case1_demo_onto_a_folder_of_the_users_is_refused_and_grid_png_kept(tmp_path, capsys, no_work):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "grid.png").write_bytes(b"my own picture")
    for extra in ([], ["--overwrite"]):
        line = one_line(capsys, ["demo", "--out", str(mine), "--steps", "2", "--quiet"] + extra, 2)
        assert str(mine) in line and "--overwrite" in line and "did not make" in line, line
    assert _tree(mine) == {"grid.png": b"my own picture"}


def test_demo_replaces_only_its_own_earlier_folder(tmp_path, capsys, fake_demo_distill):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--steps", "2", "--quiet", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert Path(got["grid"]).is_file() and len(got["runs"]) == 4
    marker = json.loads((out / ".distilled-registry-demo").read_text())
    assert marker["command"] == "demo" and "grid.png" in marker["files"]
    assert "kip_digits/ipc10/data.npz" in marker["files"]
    line = one_line(capsys, ["demo", "--out", str(out), "--steps", "2", "--quiet"], 2)
    assert "add --overwrite" in line and str(out) in line
    before = (out / "grid.png").stat().st_ino
    assert cli.main(["demo", "--out", str(out), "--steps", "2", "--quiet", "--overwrite"]) == 0
    assert (out / "grid.png").stat().st_ino != before  # replaced whole, in one swap
    (out / "notes.txt").write_text("mine, added later")
    line = one_line(capsys, ["demo", "--out", str(out), "--steps", "2", "--quiet", "--overwrite"], 2)
    assert "notes.txt" in line and (out / "notes.txt").read_text() == "mine, added later"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo.") and p.suffix != ".lock"]  # no debris


@pytest.mark.parametrize("what", ["users_folder", "file", "symlink", "other_commands_folder"])
def test_distill_out_that_is_not_a_release_is_refused_even_with_overwrite(tmp_path, capsys, no_work, what):
    out = tmp_path / "out"
    if what == "users_folder":
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
    elif what == "file":
        out.write_text("a file")
    elif what == "symlink":
        (tmp_path / "elsewhere").mkdir()
        out.symlink_to(tmp_path / "elsewhere")
    else:
        out.mkdir()
        output_folder.mark(out, "export-hf", [])
    before = _tree(tmp_path)
    for extra in ([], ["--overwrite"]):
        line = one_line(capsys, ["distill", "--steps", "2", "--quiet", "--out", str(out)] + extra, 2)
        assert str(out) in line and "--overwrite" in line, line
    assert _tree(tmp_path) == before


def test_a_release_with_a_users_file_added_is_not_replaced(tmp_path):
    out, _ = syn.write(tmp_path / "rel")
    data = syn.arrays(seed=3)
    rel.write_release(out, syn.files(data), syn.provenance(data), overwrite=True)  # its own: replaced
    (out / "notes.txt").write_text("mine")
    with pytest.raises(output_folder.FolderRefused, match="notes.txt"):
        rel.write_release(out, syn.files(data), syn.provenance(data), overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_the_store_never_replaces_a_version_folder_holding_a_users_file(home, tmp_path, capsys, no_work):
    path = store.add(syn.write(tmp_path / "made")[0], "kip_digits/ipc10", "1.0.0")
    (path / "notes.txt").write_text("mine")
    line = one_line(capsys, ["regenerate", "kip_digits/ipc10", "--overwrite", "--quiet"], 2)
    assert "notes.txt" in line and str(path) in line
    assert (path / "notes.txt").read_text() == "mine" and (path / "provenance.json").is_file()


def test_a_checkpoint_folder_is_new_or_its_own_and_continued_only_with_resume(tmp_path, capsys, no_work):
    from distilled_registry.pipelines import checkpoint

    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "kip_state.npz").write_bytes(b"the user's own file of that name")
    args = ["distill", "--steps", "2", "--quiet", "--out", str(tmp_path / "r"), "--checkpoint-every", "1",
            "--checkpoint-dir", str(ck)]
    for extra in ([], ["--resume"]):
        line = one_line(capsys, args + extra, 2)
        assert str(ck) in line and "--checkpoint-dir" in line and "did not make" in line, line
    assert (ck / "kip_state.npz").read_bytes() == b"the user's own file of that name"
    output_folder.mark(ck, checkpoint.MARKER, [checkpoint.FILE])  # now an earlier run's checkpoint folder
    line = one_line(capsys, args, 2)
    assert "add --resume to continue it" in line, line


def test_export_hf_marks_its_folder_and_push_never_uploads_the_marker(home, tmp_path, capsys):
    pytest.importorskip("datasets")
    from distilled_registry.builders import huggingface_push

    store.add(syn.write(tmp_path / "made")[0], "kip_digits/ipc10", "1.0.0")
    out = tmp_path / "hf"
    assert cli.main(["export-hf", "kip_digits", "--out", str(out), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert (out / ".distilled-registry-export-hf").is_file() and ".distilled-registry-export-hf" not in files
    assert huggingface_push.files_to_upload(out) == sorted(files)
    (out / "ipc10" / "mine.txt").write_text("mine")
    line = one_line(capsys, ["export-hf", "kip_digits", "--out", str(out), "--overwrite"], 2)
    assert "ipc10/mine.txt" in line and (out / "ipc10" / "mine.txt").read_text() == "mine"


def test_builders_out_writes_marked_family_folders_and_refuses_a_users_folder(tmp_path, capsys):
    out = tmp_path / "b"
    assert cli.main(["builders", "--out", str(out), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["written"]
    assert str(out / "kip_digits" / ".distilled-registry-builders") in written
    assert cli.main(["builders", "--out", str(out), "--json"]) == 0  # its own folders: refreshed, nothing changed
    assert json.loads(capsys.readouterr().out)["written"] == []
    assert cli.main(["builders", "--out", str(out), "--check"]) == 0
    capsys.readouterr()
    mine = tmp_path / "mine"
    (mine / "kip_digits").mkdir(parents=True)
    (mine / "kip_digits" / "README.md").write_text("my notes")
    line = one_line(capsys, ["builders", "--out", str(mine)], 2)
    assert str(mine / "kip_digits") in line and "did not make" in line
    assert _tree(mine) == {"kip_digits/README.md": b"my notes"}


def test_a_marker_of_another_command_or_a_forged_one_is_not_a_pass(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / ".distilled-registry-demo").write_text('{"format": "x", "command": "demo", "files": []}')
    with pytest.raises(output_folder.FolderRefused, match="not the marker"):
        output_folder.claim(d, "demo", replace=True)
    (d / ".distilled-registry-demo").unlink()
    (d / ".distilled-registry-demo").symlink_to("/etc/passwd")
    with pytest.raises(output_folder.FolderRefused, match="has no .distilled-registry-demo"):
        output_folder.claim(d, "demo", replace=True)
    assert output_folder.claim(tmp_path / "new", "demo") is False


def test_a_checkpoint_folder_of_an_older_version_is_resumed(tmp_path, capsys):
    """A checkpoint folder made before folders carried markers (only its kip_state.npz) is the run's own:
    marked and resumed; the same folder with a user's file beside it is not."""
    from distilled_registry.pipelines import checkpoint
    from distilled_registry.pipelines import distill as D

    ck = tmp_path / "ck"
    args = ["distill", "--source", "digits", "--ipc", "1", "--target-batch", "50", "--quiet", "--checkpoint-every",
            "2", "--checkpoint-dir", str(ck)]
    real = D.rel.write_release
    try:
        D.rel.write_release = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)
        assert cli.main(args + ["--steps", "2", "--out", str(tmp_path / "cut")]) == 130
    finally:
        D.rel.write_release = real
    (ck / ".distilled-registry-checkpoint").unlink()  # as an older version left it
    (ck / "notes.txt").write_text("mine")
    capsys.readouterr()
    line = one_line(capsys, args + ["--steps", "4", "--out", str(tmp_path / "r"), "--resume"], 2)
    assert "did not make" in line and (ck / "notes.txt").read_text() == "mine"
    (ck / "notes.txt").unlink()
    assert cli.main(args + ["--steps", "4", "--out", str(tmp_path / "r"), "--resume"]) == 0, capsys.readouterr().err
    assert rel.read_provenance(tmp_path / "r")["algorithm"]["resumed_from_step"] == 2 and not ck.exists()
    assert checkpoint.adopt(tmp_path / "nothing") is False


def test_a_hostile_marker_is_refused_without_hanging(tmp_path):
    """A marker that is a FIFO (an open would block for ever), JSON nested a million deep, or a provenance
    listing a sub-path: each a refusal, in well under a second."""
    import os
    import time

    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / ".distilled-registry-demo")
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "provenance.json").write_text("[" * 1_000_000 + "]" * 1_000_000)
    sub = tmp_path / "sub"
    (sub / "a").mkdir(parents=True)
    (sub / "a" / "x").write_text("mine")
    (sub / "provenance.json").write_text(json.dumps({"files": {"a/x": {}}}))
    t = time.perf_counter()
    for folder, command in ((fifo, "demo"), (deep, output_folder.RELEASE), (sub, output_folder.RELEASE)):
        with pytest.raises(output_folder.FolderRefused):
            output_folder.claim(folder, command, replace=True)
    assert time.perf_counter() - t < 5 and (sub / "a" / "x").read_text() == "mine"
