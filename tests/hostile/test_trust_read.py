"""Issue 23, the read side: rules B (bounded reads), C (a release is what its config says) and D (text
from a release is data), cases 2-5, and the one function that enforces each rule on every read path."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/synthetic_release.py

import synthetic_release as syn  # noqa: E402

import distilled_registry as dr  # noqa: E402
from distilled_registry import bounded_read, cli, conformance, escape, store  # noqa: E402
from distilled_registry import release as rel  # noqa: E402

NAME = "kip_digits/ipc10"


def reseal(path: Path, edit=None, files: dict[str, bytes] | None = None) -> None:
    """Replace files of the release at ``path`` and rewrite its provenance with checksums recomputed (a forgery)."""
    for n, b in (files or {}).items():
        (path / n).write_bytes(b)
    prov = json.loads((path / rel.PROVENANCE_FILE).read_text())
    if edit:
        edit(prov)
    prov["files"] = {n: rel.digest((path / n).read_bytes()) for n in prov["files"]}
    (path / rel.PROVENANCE_FILE).write_text(json.dumps(prov))


@pytest.fixture
def stored(home, tmp_path):
    return store.add(syn.write(tmp_path / "made")[0], NAME, "1.0.0")


def run_cli(capsys, argv) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# -------------------------------------------------- case 2: a self-consistent forgery of kip_digits/ipc10


def forge_12_classes(path: Path) -> None:
    data = syn.arrays(n_per_class=10, num_classes=12, shape=(8, 8, 1), seed=9)

    def edit(p):
        p["algorithm"]["support_size"] = 120
        p["source"].update(num_classes=12, class_names=[str(i) for i in range(12)])
    reseal(path, edit, {rel.DATA_FILE: rel.data_bytes(**data)})


def test_case2_a_self_consistent_forgery_fails_verify_and_every_read(stored, capsys):
    forge_12_classes(stored)
    rc, out, err = run_cli(capsys, ["verify", NAME])
    assert rc == 1 and ("12 classes" in err or "120" in err), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    rc, out, err = run_cli(capsys, ["verify", str(stored)])  # by path: its own release block names it
    assert rc == 1 and "not what its config says" in out + err
    with pytest.raises(rel.ReleaseError, match="not what its config says"):
        dr.load(NAME)
    with pytest.raises(rel.ReleaseError, match="not what its config says"):
        rel.read_data(stored, check=True)


def test_case2_a_run_whose_images_are_not_ipc_times_classes_fails_verify_by_path(tmp_path, capsys):
    path, _ = syn.write(tmp_path / "rel")
    reseal(path, lambda p: p["config"].update(ipc=5))
    rc, out, err = run_cli(capsys, ["verify", str(path)])
    assert rc == 1 and "config.ipc 5 x 10 classes is 50" in out, out


@pytest.mark.parametrize("version", ["01.0.0", "1.0.0+build", "\u0661.0.0", "1.0.0\n", "1.0"])
def test_versions_have_one_ascii_spelling(version):
    with pytest.raises(Exception, match="version"):
        dr.names.check_version(version)


# -------------------------------------------------- case 3: a zip member that inflates to 2 GB


def bomb_npz(prov: dict) -> bytes:
    """A data.npz whose ``images`` member declares (and inflates to) 2 GB of zeros: 9 MB on disk. Deflate level 1
    writes it in ~5 s where the default level 6 took ~14 s (for 0.26 MB)."""
    buf = io.BytesIO()
    n = prov["algorithm"]["support_size"]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        header = io.BytesIO()
        shape = (2 ** 29 // 64, 8, 8, 1)  # 2 GiB of float32
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
        with zf.open("images.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            chunk = bytes(1 << 24)
            for _ in range(2 ** 31 // len(chunk)):
                f.write(chunk)
        for k, a in (("labels", np.zeros((n, 10), np.float32)), ("class_ids", np.zeros(n, np.int64))):
            m = io.BytesIO()
            np.lib.format.write_array(m, a)
            zf.writestr(f"{k}.npy", m.getvalue())
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    f = tmp_path_factory.mktemp("bomb") / "data.npz"
    f.write_bytes(bomb_npz({"algorithm": {"support_size": 100}}))
    return f


CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
    from distilled_registry import cli
    rc = cli.main(sys.argv[2:])
    # the peak resident size of this process's own memory (VmHWM): ru_maxrss would carry the parent's
    # peak over fork and exec, so a large test process would look like a large child
    hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
    print("MAXRSS_KB", hwm)
    sys.exit(rc)
""")


def run_child(argv: list[str], env_home: Path, cap_bytes: int = 1 << 30,
              timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a child process under an address-space cap, with a deadline: a hang or a blow-up fails."""
    env = dict(os.environ, DISTILLED_REGISTRY_HOME=str(env_home))
    return subprocess.run([sys.executable, "-c", CHILD, str(cap_bytes), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_case3_a_zip_bomb_member_is_refused_before_it_is_inflated(stored, bomb, capsys):
    assert bomb.stat().st_size < 64 << 20
    reseal(stored, files={rel.DATA_FILE: bomb.read_bytes()})
    rc, out, err = run_cli(capsys, ["verify", NAME])
    assert rc == 1 and "data.npz" in out + err
    with pytest.raises(rel.ReleaseError, match="data.npz"):
        dr.load(NAME)
    # and measured in a child: the read ends with one line, far below 1 GB (the old code used 2,092 MB)
    p = run_child(["verify", NAME], stored.parents[2])
    assert p.returncode == 1 and "Traceback" not in p.stderr and "out of memory" not in p.stderr, p.stderr
    rss_mb = int(p.stdout.split("MAXRSS_KB")[1].split()[0]) / 1024
    assert rss_mb < 1024, rss_mb


def test_npz_headers_are_read_without_inflating(bomb):
    heads = bounded_read.npz_headers(bomb.read_bytes(), "bomb")
    assert heads["images"][0] == (2 ** 29 // 64, 8, 8, 1)
    with pytest.raises(rel.ReleaseError, match="images"):
        rel.data_arrays(bomb.read_bytes(), "bomb", syn.provenance(syn.arrays()))


# -------------------------------------------------- case 4: a FIFO provenance does not stop `list`


def test_case4_list_and_info_go_on_past_a_fifo_provenance(home, tmp_path, capsys):
    good = store.add(syn.write(tmp_path / "made")[0], NAME, "1.0.0")
    bad = store.add(syn.write(tmp_path / "made2", seed=3)[0], "kip_digits/ipc1x", "1.0.0")
    (bad / rel.PROVENANCE_FILE).unlink()
    os.mkfifo(bad / rel.PROVENANCE_FILE)
    p = run_child(["list"], home, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "PROBLEM kip_digits/ipc1x:1.0.0" in p.stdout and "FIFO" in p.stdout
    assert "1.0.0" in p.stdout.split("kip_digits/ipc10 ")[1].splitlines()[0]  # the good one is listed
    rc, out, err = run_cli(capsys, ["info", "kip_digits/ipc1x"])
    assert rc == 0 and "FIFO" in out, out + err
    rc, out, err = run_cli(capsys, ["verify", "kip_digits/ipc1x"])
    assert rc == 1 and "FIFO" in err and len(err.strip().splitlines()) == 1
    assert dr.load(NAME).images.shape == (100, 8, 8, 1) and good.is_dir()


@pytest.mark.parametrize("make", ["fifo", "link_out", "link_in", "loop", "folder", "huge"])
def test_bounded_read_refuses_what_is_not_a_plain_file_of_its_size(tmp_path, make):
    d = tmp_path / "rel"
    d.mkdir()
    (tmp_path / "outside").write_bytes(b"x" * 10)
    (d / "inside").write_bytes(b"x" * 10)
    f = d / "f"
    {"fifo": lambda: os.mkfifo(f), "link_out": lambda: f.symlink_to(tmp_path / "outside"),
     "link_in": lambda: f.symlink_to(d / "inside"), "loop": lambda: f.symlink_to(f),
     "folder": lambda: f.mkdir(), "huge": lambda: f.write_bytes(b"x" * 2000)}[make]()
    with pytest.raises(rel.ReleaseError, match="FIFO|symbolic link|folder|more than"):
        bounded_read.read_file(d, "f", limit=1000)


def test_json_nesting_is_bounded(tmp_path):
    (tmp_path / "x.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(rel.ReleaseError, match="nested 100000 deep"):
        bounded_read.read_json(tmp_path, "x.json")


# -------------------------------------------------- case 5: markup from provenance stays out of the card


MARKUP = '<script>alert(1)</script><img src=x onerror="alert(2)">[x](javascript:alert(3))'


def test_case5_export_hf_escapes_markup_from_the_provenance(stored, tmp_path):
    pytest.importorskip("datasets")
    from distilled_registry.builders import huggingface_export as hf

    def edit(p):
        p["source"].update(origin=MARKUP, licence=MARKUP, homepage="javascript:alert(4)")
    reseal(stored, edit)
    out = hf.export_family("kip_digits", tmp_path / "hub").out
    card = (out / "README.md").read_text()
    for bad in ("<script", "<img", "onerror=\"", "](javascript:"):
        assert bad not in card, bad
    assert "&lt;script&gt;" in card


def test_croissant_urls_are_relative_or_plain_http():
    from distilled_registry import croissant

    prov = syn.provenance(syn.arrays())
    prov["source"]["homepage"] = "javascript:alert(1)"
    prov["release"] = {"name": NAME, "family": "kip_digits", "config": "ipc10", "version": "1.0.0",
                       "url": "data:text/html,<script>"}
    digests = {n: {"sha256": "0" * 64, "size": 1} for n in ("data.npz", "data.parquet")}
    doc = croissant.jsonld(prov, digests, (8, 8, 1), 10)
    assert "url" not in doc and doc["prov:wasDerivedFrom"][0]["@id"].startswith("urn:")
    assert all(f["contentUrl"] == escape.croissant_url(f["contentUrl"]) for f in doc["distribution"])


def test_terminal_output_has_no_control_characters(stored, capsys):
    reseal(stored, lambda p: p.update(created="2025-01-02T03:04:05+00:00\x1b[2J\x1b]0;pwned\x07\u202e"))
    rc, out, err = run_cli(capsys, ["info", NAME])
    assert rc == 0
    reseal(stored, lambda p: p.update(name="kip_digits\x1b[31m"))  # an error message quoting it
    rc, out2, err = run_cli(capsys, ["verify", NAME])
    assert rc == 1
    for text in (out, out2, err):
        assert not any(ord(ch) < 32 and ch != "\n" or 0x7f <= ord(ch) < 0xa0 or ch == "\u202e" for ch in text), text


# -------------------------------------------------- one function per rule: every read path goes through it


def _paths(name: str, tmp_path: Path):
    """Every read command, as ``(label, call)``: each must fail (raise, or exit non-zero, or report a problem)."""
    from distilled_registry.builders import release_source

    def cmd(argv):
        return lambda: cli.main(argv)

    def export():
        from distilled_registry.builders import huggingface_export as hf

        hf.export_family("kip_digits", tmp_path / f"hub{len(os.listdir(tmp_path))}")

    return [("verify", cmd(["verify", name])), ("load", lambda: dr.load(name)),
            ("tfds", lambda: release_source.from_store(dr.catalog.entry(name))),
            ("export-hf", export)]


@pytest.mark.parametrize("rule, target", [("B", (bounded_read, "read_file")), ("C", (conformance, "check"))])
def test_every_read_path_goes_through_the_rule_function(stored, tmp_path, capsys, monkeypatch, rule, target):
    pytest.importorskip("datasets")

    def refuse(*a, **k):
        raise rel.ReleaseError(f"rule {rule} refused")

    monkeypatch.setattr(*target, refuse)
    for label, call in _paths(NAME, tmp_path):
        try:
            result = call()
        except rel.ReleaseError as e:
            assert f"rule {rule} refused" in str(e), (label, e)
            continue
        assert result == 1, label
        assert f"rule {rule} refused" in capsys.readouterr().err, label
    for argv in (["list"], ["info", NAME]):  # reported as a problem, the command goes on
        assert cli.main(argv) == 0
        assert f"rule {rule} refused" in capsys.readouterr().out, argv


def test_every_text_path_goes_through_the_escaping_functions(stored, tmp_path, capsys, monkeypatch):
    pytest.importorskip("datasets")
    from distilled_registry.builders import huggingface_export as hf

    monkeypatch.setattr(escape, "markdown", lambda t: "MD")
    card = (hf.export_family("kip_digits", tmp_path / "hub").out / "README.md").read_text()
    assert "| source | MD |" in card and "Inherited from the source dataset, MD: MD" in card
    monkeypatch.setattr(escape, "terminal", lambda t: "TERM")
    for argv in (["list"], ["info", NAME], ["verify", NAME]):
        assert cli.main(argv) == 0
        assert set(capsys.readouterr().out.split()) == {"TERM"}, argv


def test_a_downloaded_published_zip_bomb_is_refused_before_inflating(bomb):
    from distilled_registry import errors
    from distilled_registry.published import arrays

    with pytest.raises(errors.PublishedError, match="declares .* bytes of arrays once inflated"):
        arrays.read_arrays(bomb.read_bytes(), "https://example.org/bomb.npz")
