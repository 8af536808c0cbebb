"""Hostile inputs that must never run code, read outside a release, or upload what is not the export.

- CIFAR python batches given as ``--source-dir`` go through a numpy-only unpickler: the batches python 3
  numpy writes (protocol 2 and the highest) and the python 2 originals read exactly; a batch whose
  ``__reduce__`` calls ``os.system`` is refused with exit 1 and its command never runs.
- File names read from a ``provenance.json`` (``files``, ``preprocessing.file``) are plain names of
  listed, regular files of the release: ``../notes.txt`` or a symlink to a private key is refused by
  the schema, ``verify``, ``export-hf`` and ``Release.transform``.
- ``push`` uploads exactly the files ``export-hf`` writes, and refuses a folder holding anything else
  (symlinks, dotfiles); its FAMILY is checked as a name first; no network is one clear line.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/synthetic_release.py

import synthetic_release as syn  # noqa: E402

from distilled_registry import cli  # noqa: E402
from distilled_registry import release as rel  # noqa: E402
from distilled_registry.pipelines import cifar_batches, sources  # noqa: E402
from distilled_registry.pipelines.sources import SourceError, load_source  # noqa: E402

# ------------------------------------------------------------------------------ CIFAR python batches


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def _py2_batch(rows: np.ndarray, labels: list[int], label_key: bytes = b"labels", batch_label: bytes = b"batch",
               fortran: bool = False) -> bytes:
    """A batch laid out as the python 2 originals are (cPickle, protocol 2): bytes keys as SHORT_BINSTRING,
    the pixels as one BINSTRING inside numpy's ``_reconstruct``/``BUILD``, labels a list of ints,
    filenames a list of byte strings, memo entries as cPickle writes them."""
    memo = iter(range(1, 1 << 20))

    def put() -> bytes:
        return b"q" + bytes([next(memo) & 0xFF])

    def s(b: bytes) -> bytes:  # SHORT_BINSTRING / BINSTRING
        return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b + put()

    def i(n: int) -> bytes:
        if n < 256:
            return b"K" + bytes([n])
        return b"M" + struct.pack("<H", n) if n < 65536 else b"J" + struct.pack("<i", n)

    n, d = rows.shape
    raw = (np.asfortranarray(rows) if fortran else rows).tobytes(order="F" if fortran else "C")
    out = b"\x80\x02}" + put() + b"("
    out += s(b"data") + b"cnumpy.core.multiarray\n_reconstruct\n" + put() + b"cnumpy\nndarray\n" + put()
    out += b"K\x00\x85" + put() + s(b"b") + b"\x87" + put() + b"R" + put()
    out += b"(K\x01" + i(n) + i(d) + b"\x86" + put() + b"cnumpy\ndtype\n" + put() + s(b"u1") + b"K\x00K\x01\x87" + put()
    out += b"R" + put() + b"(K\x03" + s(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t" + put() + b"b"
    out += (b"\x88" if fortran else b"\x89") + s(raw) + b"t" + put() + b"b"
    out += s(label_key) + b"]" + put() + b"(" + b"".join(i(v) for v in labels) + b"e"
    out += s(b"batch_label") + s(batch_label)
    out += s(b"filenames") + b"]" + put() + b"(" + b"".join(s(b"img_%05d.png" % k) for k in range(n)) + b"e"
    return out + b"u."


def _write_cifar10(d: Path, dump, n: int = 10) -> dict[str, np.ndarray]:  # every class in every split
    d.mkdir(parents=True, exist_ok=True)
    rows = {}
    for k, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        rows[name] = _rows(n, k)
        (d / name).write_bytes(dump(rows[name], [(k + j) % 10 for j in range(n)]))
    return rows


@pytest.mark.parametrize("how", ["py3-protocol2", "py3-highest", "py2-original", "py2-fortran"])
def test_cifar10_python_batches_read_exactly_without_unpickling(tmp_path, how):
    dumps = {
        "py3-protocol2": lambda r, y: pickle.dumps({"batch_label": "b", "labels": y, "data": r,
                                                    "filenames": [f"{k}.png" for k in range(len(r))]}, protocol=2),
        "py3-highest": lambda r, y: pickle.dumps({b"batch_label": b"b", b"labels": np.asarray(y, np.int64),
                                                  b"data": r}, protocol=pickle.HIGHEST_PROTOCOL),
        "py2-original": _py2_batch,
        "py2-fortran": lambda r, y: _py2_batch(r, y, fortran=True),
    }
    rows = _write_cifar10(tmp_path / "cifar-10-batches-py", dumps[how])
    src = load_source("cifar10", tmp_path)
    assert src.x_train.shape == (50, 32, 32, 3) and src.x_test.shape == (10, 32, 32, 3)
    assert src.y_train.tolist()[:4] == [0, 1, 2, 3] and src.y_test.tolist() == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]
    want = rows["test_batch"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.rint(src.x_test * 255).astype(np.uint8), want)
    if how == "py2-original":  # the structure of the real originals, key by key
        b = cifar_batches.read_batch(_py2_batch(_rows(3, 0), [1, 2, 3], batch_label=b"training batch 1 of 5"), "x")
        assert set(b) == {b"data", b"labels", b"batch_label", b"filenames"}
        assert b[b"data"].dtype == np.uint8 and b[b"data"].shape == (3, 3072)
        assert b[b"labels"] == [1, 2, 3] and b[b"batch_label"] == b"training batch 1 of 5"
        assert b[b"filenames"] == [b"img_00000.png", b"img_00001.png", b"img_00002.png"]
        big = cifar_batches.read_batch(_py2_batch(_rows(10000, 1), [k % 10 for k in range(10000)]), "x")
        assert big[b"data"].shape == (10000, 3072) and len(big[b"labels"]) == 10000  # the originals' size


def test_cifar100_python_files_read_without_unpickling(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    tr, te = _rows(100, 0), _rows(100, 1)  # every class in each split
    (d / "train").write_bytes(_py2_batch(tr, list(range(100)), label_key=b"fine_labels"))
    (d / "test").write_bytes(pickle.dumps({"fine_labels": list(range(99, -1, -1)), "data": te}, protocol=5))
    names = [f"class_{k}".encode() for k in range(100)]
    (d / "meta").write_bytes(pickle.dumps({b"fine_label_names": names, b"coarse_label_names": names[:20]}, protocol=2))
    src = load_source("cifar100", tmp_path)
    assert src.y_train.tolist() == list(range(100)) and src.y_test.tolist() == list(range(99, -1, -1))
    assert src.class_names[99] == "class_99"
    np.testing.assert_array_equal(np.rint(src.x_train * 255).astype(np.uint8),
                                  tr.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


class _RunsCode:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _SetsState:
    def __reduce__(self):
        return (dict, (), {"x": 1})


def _cifar10_published_file(root: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 32, 32, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(100) % 10]
    f = root / "kip" / "cifar10" / "ConvNet_ssize100_zca_l_noaug_ckpt0.npz"
    f.parent.mkdir(parents=True)
    buf = io.BytesIO()
    np.savez(buf, images=x, labels=y)
    f.write_bytes(buf.getvalue())
    return f


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_batch_that_calls_os_system_is_refused_and_never_runs(home, tmp_path, capsys, protocol):
    marker = tmp_path / "pwned"
    source = tmp_path / "source"
    rows = _write_cifar10(source / "cifar-10-batches-py",
                          lambda r, y: pickle.dumps({"data": r, "labels": y}, protocol=2))
    evil = {"data": rows["data_batch_1"], "labels": list(range(10)), "x": _RunsCode(f"touch {marker}")}
    (source / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=protocol))
    f = _cifar10_published_file(tmp_path / "bucket")
    capsys.readouterr()
    assert cli.main(["import-published", str(f), "--source-dir", str(source)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cifar-10-batches-py/data_batch_1" in err and "system" in err, err
    assert not marker.exists()
    assert not home.exists() or not list(home.glob("*/*/*"))  # nothing imported
    with pytest.raises(SourceError, match="data_batch_1"):  # the same through the function every command uses
        load_source("cifar10", source)
    assert not marker.exists()


@pytest.mark.parametrize("payload, message", [
    (lambda: pickle.dumps({"data": np.array([_RunsCode("true")], dtype=object)}, protocol=2), "object"),
    (lambda: pickle.dumps({"data": np.zeros((1, 3072), np.float64), "labels": [0]}, protocol=2), "dtype 'f8'"),
    (lambda: pickle.dumps(_SetsState(), protocol=2), "__builtin__.dict"),
    (lambda: b"\x80\x02}}b.", "AttributeError"),  # BUILD of a dict
    (lambda: b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R.", "latin1"),  # a zip bomb
    (lambda: b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xca\x9a;\x85U\x01b\x87R.",
     "empty ndarray"),  # 10**9 bytes asked for before any state
    (lambda: b"\x80\x02cnumpy\nndarray\nK\x01\x85R.", "not callable"),  # numpy.ndarray(...) never runs
    (lambda: b"\x80\x02cnumpy._core.numeric\n_frombuffer\n(C\x08" + bytes(8) + b"X\x01\x00\x00\x00OK\x01\x85X"
             b"\x01\x00\x00\x00CtR.", "only integers"),  # an object array from raw bytes
    (lambda: pickle.dumps({"data": _rows(1, 0), "labels": [0]}, protocol=2)[:-40], "damaged"),
    (lambda: b"\x80\x02c__builtin__\neval\n(X\x04\x00\x00\x001+1 tR.", "__builtin__.eval"),
    (lambda: b"\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94.", "builtins.exec"),
    (lambda: b"(i__main__\nX\n.", "__main__.X"),  # INST
    (lambda: b"not a pickle at all", "not a CIFAR python batch"),
])
def test_foreign_pickles_are_refused_naming_the_file_and_what(tmp_path, payload, message):
    d = tmp_path / "cifar-10-batches-py"
    _write_cifar10(d, lambda r, y: pickle.dumps({"data": r, "labels": y}, protocol=2))
    (d / "test_batch").write_bytes(payload())
    with pytest.raises(SourceError, match="test_batch") as e:
        load_source("cifar10", tmp_path)
    assert message in str(e.value)


def test_sources_no_longer_imports_pickle():
    assert not hasattr(sources, "pickle")
    assert "pickle.load" not in Path(sources.__file__).read_text()


# ------------------------------------------------------------------ names read from a provenance.json


@pytest.mark.parametrize("where, value", [
    ("preprocessing.file", "../notes.txt"),
    ("preprocessing.file", "../../x"),
    ("preprocessing.file", "/etc/passwd"),
    ("preprocessing.file", "preview.png"),  # a listed name, but not the transform file
    ("files", "../data.npz"),
    ("files", "sub/data.npz"),
    ("files", "sub\\data.npz"),
    ("files", ".env"),
    ("files", "x" * 200 + ".npz"),
    ("unlisted", "transform.npz"),  # preprocessing.file names a file the provenance does not list
])
def test_the_schema_refuses_paths_and_unlisted_names(where, value):
    from distilled_registry.provenance import ProvenanceError, validate

    prov = syn.provenance(syn.arrays())
    prov["files"] = {"data.npz": {"sha256": "0" * 64, "size": 1}, "transform.npz": {"sha256": "0" * 64, "size": 1},
                     "preview.png": {"sha256": "0" * 64, "size": 1}}
    validate(prov)  # the honest one passes
    if where == "preprocessing.file":
        prov["preprocessing"]["file"] = value
    elif where == "files":
        prov["files"][value] = {"sha256": "0" * 64, "size": 1}
    else:
        del prov["files"][value]
    with pytest.raises(ProvenanceError):
        validate(prov)


def _tamper(release: Path, **preprocessing) -> None:
    """Rewrite provenance.json in place (it is not covered by a checksum): what a forged release does."""
    p = release / rel.PROVENANCE_FILE
    prov = json.loads(p.read_text())
    prov["preprocessing"].update(preprocessing)
    p.chmod(0o644)
    p.write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def stored(home):
    from distilled_registry.builders import builder_testing

    path, _ = builder_testing.write_dummy_release("kip_digits/ipc10", home)
    return path


def test_export_hf_copies_nothing_from_outside_the_release(home, stored, tmp_path, capsys):
    secret = stored.parent / "notes.txt"  # beside the release, as "../notes.txt" names it
    secret.write_text("private notes")
    _tamper(stored, file="../notes.txt")
    out = tmp_path / "hf" / "kip_digits"
    assert cli.main(["export-hf", "kip_digits", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "preprocessing.file" in err and err.count("\n") == 1, err
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and b"private notes" in p.read_bytes()
                and p != secret]

    _tamper(stored, file="../../escaped")  # would land beside --out, outside it
    assert cli.main(["export-hf", "kip_digits", "--out", str(out)]) == 1
    assert not list(tmp_path.rglob("escaped")) and not out.exists()


def test_a_symlink_in_a_release_is_refused_by_verify_load_and_export(home, stored, tmp_path, capsys):
    import distilled_registry as dr

    key = tmp_path / "id_rsa"  # the "private key": a copy of the transform bytes, so every checksum agrees
    key.write_bytes((stored / rel.TRANSFORM_FILE).read_bytes())
    (stored / rel.TRANSFORM_FILE).unlink()
    (stored / rel.TRANSFORM_FILE).symlink_to(key)
    assert cli.main(["verify", "kip_digits/ipc10"]) == 1
    out = capsys.readouterr().out
    assert "BAD  transform.npz: a symbolic link" in out, out
    with pytest.raises(rel.ReleaseError, match="symbolic link"):
        dr.load("kip_digits/ipc10")
    with pytest.raises(rel.ReleaseError, match="symbolic link"):
        rel.member(stored, rel.TRANSFORM_FILE)
    assert cli.main(["export-hf", "kip_digits", "--out", str(tmp_path / "hf")]) == 1
    assert "symbolic link" in capsys.readouterr().err and not (tmp_path / "hf").exists()

    # an unlisted link, and provenance.json itself as a link
    (stored / rel.TRANSFORM_FILE).unlink()
    (stored / rel.TRANSFORM_FILE).write_bytes(key.read_bytes())
    (stored / "id_rsa").symlink_to(key)
    assert cli.main(["verify", "kip_digits/ipc10"]) == 1
    assert "BAD  id_rsa: not listed in provenance.json (a symbolic link" in capsys.readouterr().out
    (stored / "id_rsa").unlink()
    real = tmp_path / "provenance.json"
    real.write_bytes((stored / rel.PROVENANCE_FILE).read_bytes())
    (stored / rel.PROVENANCE_FILE).unlink()
    (stored / rel.PROVENANCE_FILE).symlink_to(real)
    assert cli.main(["verify", "kip_digits/ipc10"]) == 1
    assert "provenance.json' is a symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("name, message", [
    ("../notes.txt", "not a plain file name"), (".env", "not a plain file name"), ("a/b", "not a plain file name"),
    ("/etc/passwd", "not a plain file name"), ("x" * 129, "not a plain file name"),
    ("notes.txt", "not listed"), ("data.npz", None),
])
def test_member_gives_only_listed_plain_files_of_the_release(tmp_path, name, message):
    path, _ = syn.write(tmp_path / "rel")
    (path / "notes.txt").write_text("x")
    if message is None:
        assert rel.member(path, name) == path / name
    else:
        with pytest.raises(rel.ReleaseError, match=message):
            rel.member(path, name)


def test_transform_and_evaluate_refuse_a_forged_transform_name(home, stored, tmp_path):
    import distilled_registry as dr

    r = dr.load("kip_digits/ipc10")
    assert r.transform() is not None
    r.provenance["preprocessing"]["file"] = "../notes.txt"  # a provenance changed after it was checked
    (stored.parent / "notes.txt").write_bytes((stored / rel.TRANSFORM_FILE).read_bytes())
    with pytest.raises(rel.ReleaseError, match="not a plain file name"):
        r.transform()
    with pytest.raises(rel.ReleaseError, match="not a plain file name"):  # what evaluate reads the transform by
        rel.transform_path(stored, r.provenance)


# ------------------------------------------------------------------------------------------- push


class _FakeHub:
    """Stands in for ``huggingface_hub.HfApi``: records what would go to the Hub."""

    calls: list = []

    def __init__(self, *a, **kw):
        pass

    def create_repo(self, repo_id, **kw):
        _FakeHub.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, *, folder_path, repo_id, **kw):
        _FakeHub.calls.append(("upload_folder", repo_id, folder_path, kw))


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", "hf_" + "t" * 30)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeHub)
    _FakeHub.calls = []
    return _FakeHub.calls


@pytest.fixture
def export(home, stored, tmp_path) -> Path:
    out = tmp_path / "export"
    assert cli.main(["export-hf", "kip_digits", "--out", str(out)]) == 0
    return out


def test_push_uploads_exactly_the_export_files(export, hub, capsys):
    want = sorted(str(p.relative_to(export)) for p in export.rglob("*")
                  if p.is_file() and p.name != ".distilled-registry-export-hf")  # export-hf's marker stays home
    assert "README.md" in want and "ipc10/train-00000-of-00001.parquet" in want
    assert (export / ".distilled-registry-export-hf").is_file()
    assert cli.main(["push", "kip_digits", "--repo-id", "me/kip_digits", "--folder", str(export)]) == 0
    (_, _, _), (what, repo, folder, kw) = hub
    assert what == "upload_folder" and sorted(kw["allow_patterns"]) == want  # named one by one, not the folder


@pytest.mark.parametrize("plant, named", [
    (lambda e, t: (e / ".env").write_text("SECRET=1"), ".env"),
    (lambda e, t: (e / "ipc10" / ".env").write_text("SECRET=1"), "ipc10/.env"),
    (lambda e, t: (e / "ipc10" / "key.pem").symlink_to(t / "outside.pem"), "ipc10/key.pem"),
    (lambda e, t: ((e / "ipc10" / "preview.png").unlink(), (e / "ipc10" / "preview.png").symlink_to(t / "outside.pem")),
     "ipc10/preview.png"),
    (lambda e, t: (e / "notes.txt").write_text("x"), "notes.txt"),
    (lambda e, t: (e / "ipc10" / "sub").mkdir(), "ipc10/sub"),
    (lambda e, t: (e / "linked").symlink_to(t, target_is_directory=True), "linked"),
])
def test_push_refuses_a_folder_holding_anything_but_the_export(export, hub, tmp_path, capsys, plant, named):
    (tmp_path / "outside.pem").write_text("-----BEGIN PRIVATE KEY-----")
    plant(export, tmp_path)
    for dry in ([], ["--dry-run"]):
        capsys.readouterr()
        assert cli.main(["push", "kip_digits", "--repo-id", "me/kip_digits", "--folder", str(export), *dry]) == 1
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and repr(named)[1:-1] in err and "Traceback" not in err, err
        assert "PRIVATE KEY" not in out + err
    assert hub == []


@pytest.mark.parametrize("family", ["../..", "/etc", "kip_digits/ipc10", "Kip Digits"])
def test_push_checks_the_family_name_before_anything(home, hub, tmp_path, capsys, family):
    for folder in ([], ["--folder", str(tmp_path / "somewhere")]):
        assert cli.main(["push", family, "--repo-id", "me/x", *folder]) == 2
        err = capsys.readouterr().err
        assert err.startswith("distilled-registry push: error:") and err.count("\n") == 1, err
        assert "name" in err or "famil" in err, err
    assert hub == [] and not home.exists()


def test_push_without_a_network_is_one_line(export, monkeypatch, tmp_path, capsys):
    import socket

    import huggingface_hub

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused, as with no network
    real = huggingface_hub.HfApi
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda *a, **kw: real(endpoint=f"http://127.0.0.1:{port}",
                                                                        token="hf_" + "t" * 30))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert cli.main(["push", "kip_digits", "--repo-id", "me/kip_digits", "--folder", str(export)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Hub" in err and "me/kip_digits" in err, err
