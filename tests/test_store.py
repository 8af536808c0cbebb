"""The registry core without JAX: names, the local store, load, verify, and bad input
(damaged files, schema-invalid provenance, path-like names) failing clearly and writing nothing."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import distilled_registry as dr
import synthetic_release as syn
from distilled_registry import catalog, cli, names, store
from distilled_registry import release as rel
from distilled_registry.provenance import ProvenanceError

NAME = "kip_digits/ipc10"


@pytest.fixture
def stored(home, tmp_path):
    """A synthetic release put into the store as kip_digits/ipc10:1.0.0; returns (folder, arrays)."""
    src, data = syn.write(tmp_path / "made")
    return store.add(src, NAME, "1.0.0"), data


def test_default_home_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("DISTILLED_REGISTRY_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store.home() == tmp_path / ".cache" / "distilled_registry"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "elsewhere"))
    assert store.home() == tmp_path / "elsewhere"


def test_store_layout_and_load_returns_the_arrays(stored, home):
    path, data = stored
    assert path == home / "kip_digits" / "ipc10" / "1.0.0"
    r = dr.load(NAME)
    assert (r.name, r.version, r.path) == (NAME, "1.0.0", path)
    for k in ("images", "labels", "class_ids"):
        np.testing.assert_array_equal(getattr(r, k), data[k])
        assert getattr(r, k).dtype == data[k].dtype
    assert r.provenance["release"]["name"] == NAME and r.provenance["release"]["version"] == "1.0.0"
    assert r.transform().apply(np.ones((1, 8, 8, 1))).shape == (1, 8, 8, 1)


def test_versions_side_by_side_newest_by_default(home, tmp_path):
    made = {}
    for v, seed in (("1.0.0", 0), ("1.10.0", 1), ("1.9.0", 2)):
        src, made[v] = syn.write(tmp_path / f"made{seed}", seed=seed)
        store.add(src, NAME, v)
    assert store.versions(NAME) == ["1.0.0", "1.9.0", "1.10.0"]  # semantic order, not text order
    np.testing.assert_array_equal(dr.load(NAME).images, made["1.10.0"]["images"])
    np.testing.assert_array_equal(dr.load(NAME, version="1.0.0").images, made["1.0.0"]["images"])
    np.testing.assert_array_equal(dr.load(NAME + ":1.9.0").images, made["1.9.0"]["images"])
    with pytest.raises(store.StoreError, match=r"kip_digits/ipc10:2\.0\.0 is not in the local store .*1\.0\.0, 1\.9\.0, 1\.10\.0"):
        dr.load(NAME, "2.0.0")


def test_adding_an_existing_version_is_refused(stored, tmp_path):
    src, _ = syn.write(tmp_path / "again", seed=5)
    with pytest.raises(store.StoreError, match="already in the store"):
        store.add(src, NAME, "1.0.0")
    assert dr.load(NAME).provenance["seed"] == 0  # the stored one is untouched


@pytest.mark.parametrize("bad", ["../etc", "/etc/passwd", "kip_digits/..", "kip_digits/../../x", "kip_digits/.",
                                 "kip_digits/ipc10/../../../etc", "~/x", "kip_digits/ipc10:../1", "..",
                                 "kip_digits\\ipc10", "C:/x", "kip_digits/.hidden", "kip_digits/ipc10:1.0"])
def test_path_like_and_malformed_names_are_refused(home, bad):
    with pytest.raises(names.BadNameError) as e:
        dr.load(bad)
    named = [bad, *bad.partition(":")[::2], *bad.partition(":")[0].split("/")]
    assert any(repr(x) in str(e.value) for x in named), e.value  # the message names the offending text
    assert not home.exists()


@pytest.mark.parametrize("good", ["kip_cifar10/ipc10", "ls_mnist/ipc10-convnet3-nozca", "kip_x/a+b.c-d_e",
                                  "kip_mnist/ipc50-fc:1.2.3"])
def test_good_names_parse(good):
    rn = names.parse(good)
    assert str(rn) == good


def test_unknown_name_is_a_clear_error(home, capsys):
    with pytest.raises(catalog.CatalogError, match=r"unknown release 'kip_digits/ipc11'; did you mean kip_digits/ipc1"):
        dr.load("kip_digits/ipc11")
    assert cli.main(["info", "kip_cifar10/ipc7"]) == 2
    assert "unknown release 'kip_cifar10/ipc7'" in capsys.readouterr().err
    with pytest.raises(store.StoreError, match="not in the local store .* regenerate kip_digits/ipc10"):
        dr.load(NAME)  # known but not made yet


@pytest.mark.parametrize("argv", [["info", "/etc/passwd"], ["info", "../x/y"], ["verify", "kip_digits/../../etc"],
                                  ["verify", "/nonexistent/release"], ["rerun", "/nonexistent/release"],
                                  ["regenerate", "kip_digits/.."], ["plan", "/abs/path"]])
def test_cli_refuses_bad_names_with_exit_2(home, capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and (argv[1] in err or argv[1].split("/")[-1] in err), err
    assert not home.exists()


def _flip_byte(f: Path, at: int = 200) -> None:
    b = bytearray(f.read_bytes())
    b[at] ^= 0x01
    f.write_bytes(bytes(b))


def test_flipped_byte_fails_verify_and_load_naming_the_file(stored, capsys):
    path, _ = stored
    assert cli.main(["verify", NAME]) == 0
    capsys.readouterr()
    _flip_byte(path / "data.npz", at=path.joinpath("data.npz").stat().st_size - 300)
    assert cli.main(["verify", NAME]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"BAD\s+data\.npz: sha256 [0-9a-f]{64}, provenance\.json records", out), out
    assert "failed verification: data.npz" in err and "croissant.json" not in err
    with pytest.raises(rel.ReleaseError, match="data.npz"):
        dr.load(NAME)
    with pytest.raises(rel.ReleaseError, match="data.npz"):
        rel.read_data(path, check=True)


def test_truncated_data_npz(stored, capsys):
    path, _ = stored
    f = path / "data.npz"
    f.write_bytes(f.read_bytes()[:1000])
    assert cli.main(["verify", str(path)]) == 1
    assert "data.npz (size 1000 bytes, provenance.json records" in capsys.readouterr().err
    with pytest.raises(rel.ReleaseError, match=r"data\.npz: size 1000 bytes, .*truncated"):
        dr.load(NAME)
    with pytest.raises(rel.ReleaseError, match=r"cannot read .*data\.npz"):  # even unchecked, a clear error
        rel.read_data(path)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.pop("metrics"), r"at \(top level\): 'metrics' is a required property"),
    (lambda p: p["metrics"].update(krr_test_accuracy="high"), r"at metrics\.krr_test_accuracy: 'high' is not of type 'number'"),
    (lambda p: p["files"]["data.npz"].update(sha256="abc"), r"at files\.data\.npz\.sha256: 'abc' does not match"),
    (lambda p: p.update(schema="distilled_registry.provenance/9"), r"schema 'distilled_registry.provenance/9' is not"),
    (lambda p: p["config"].update(ipc=0), r"at config\.ipc: 0 is less than the minimum of 1"),
])
def test_schema_invalid_provenance_is_refused(stored, capsys, edit, message):
    path, _ = stored
    f = path / "provenance.json"
    prov = json.loads(f.read_text())
    edit(prov)
    f.write_text(json.dumps(prov))
    assert cli.main(["verify", NAME]) == 1
    err = capsys.readouterr().err
    assert "provenance.json" in err and re.search(message, err), err
    with pytest.raises(ProvenanceError, match=message):
        dr.load(NAME)


def test_missing_and_extra_files_are_named(stored, capsys):
    path, _ = stored
    (path / "transform.npz").unlink()
    (path / "notes.txt").write_text("hello")
    assert cli.main(["verify", NAME, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    bad = {f["name"]: f["problem"] for f in report["files"] if not f["ok"]}
    assert bad == {"transform.npz": "missing",
                   "notes.txt": "not listed in provenance.json (an extra file in the release folder)"}
    assert report["ok"] is False


def test_a_failed_write_leaves_nothing(tmp_path):
    data = syn.arrays()
    prov = syn.provenance(data)
    del prov["seed"]  # fails the schema
    out = tmp_path / "rel"
    with pytest.raises(ProvenanceError, match="'seed' is a required property"):
        rel.write_release(out, {rel.DATA_FILE: rel.data_bytes(**data)}, prov)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_atomically(tmp_path):
    out, _ = syn.write(tmp_path / "rel", seed=0)
    data = syn.arrays(seed=1)
    rel.write_release(out, syn.files(data), syn.provenance(data, seed=1), overwrite=True)
    # no temporary or old folder left; the lock file that serialises replacements stays (never deleted)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".rel.lock", "rel"]
    assert rel.read_provenance(out)["seed"] == 1


def test_list_and_info_cover_the_store(stored, capsys, home, tmp_path):
    src, _ = syn.write(tmp_path / "custom", family="kip_custom")
    store.add(src, "kip_custom/mine", "0.1.0")  # not in the catalog: listed as such
    assert cli.main(["list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[NAME]["local"] == ["1.0.0"] and rows["kip_custom/mine"] == {
        "name": "kip_custom/mine", "family": "kip_custom", "config": "mine", "local": ["0.1.0"], "catalog": False}
    assert cli.main(["info", NAME, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["local"][0]["metrics"]["krr_test_accuracy"] == 0.5 and d["local"][0]["path"] == str(stored[0])
    assert cli.main(["info", "kip_digits"]) == 0
    out = capsys.readouterr().out
    assert "kip_digits/ipc1 " in out and "kip_digits/ipc50 " in out and "local 1.0.0" in out


def test_record_release_in_a_records_file(stored, tmp_path, monkeypatch, capsys):
    """Recording writes the machine-written records file only; the catalog entry shows the record."""
    from distilled_registry import configs, recording

    path, _ = stored
    cat = tmp_path / "records.json"
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(cat))
    intent = {p: p.read_bytes() for p in Path(configs.__file__).parent.glob("*.py")}
    rec = recording.record_release(NAME, path)
    assert {p: p.read_bytes() for p in Path(configs.__file__).parent.glob("*.py")} == intent
    assert rec["location"] == "store:kip_digits/ipc10/1.0.0"
    assert rec["data_sha256"] == rel.sha256_file(path / "data.npz") and rec["metrics"]["krr_test_accuracy"] == 0.5
    assert catalog.entry(NAME).releases["1.0.0"] == rec
    assert cli.main(["verify", NAME]) == 0
    assert "matches the catalog's record" in capsys.readouterr().out
    # a store copy that differs from what the catalog recorded fails verify, though its own checksums agree
    rec2 = dict(rec, data_sha256="f" * 64)
    c = json.loads(cat.read_text())
    assert c["releases"][NAME] == {"1.0.0": rec}
    c["releases"][NAME]["1.0.0"] = rec2
    cat.write_text(json.dumps(c))
    assert cli.main(["verify", NAME]) == 1
    assert "sha256 differs from the catalog's record" in capsys.readouterr().err


def test_regenerate_record_writes_the_records_file_and_no_hand_written_file(home, tmp_path, monkeypatch, capsys):
    """`regenerate --record` (its run faked): the release goes to the store, its record to the records
    file, and no file of the package (configs, the packaged records) changes by a byte."""
    from distilled_registry import records
    from distilled_registry.pipelines import distill as distill_module

    def fake_distill(config, out, source_dir=None, write=None, **kw):
        syn.write(out)
        if write is not None:  # regenerate writes the release once, through write (into the store)
            read = rel.read_release(out)
            return rel.read_provenance(write(read.files, dict(read.record)))
        return rel.read_provenance(out)

    monkeypatch.setattr(distill_module, "distill", fake_distill)
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(tmp_path / "records.json"))
    package = Path(catalog.__file__).parent
    before = {p: p.read_bytes() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert cli.main(["regenerate", NAME, "--record", "--quiet"]) == 0
    assert "recorded in" in capsys.readouterr().out
    after = {p: p.read_bytes() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert after == before
    rec = records.releases(NAME)["1.0.0"]
    assert rec["data_sha256"] == rel.sha256_file(home / "kip_digits" / "ipc10" / "1.0.0" / "data.npz")
    assert catalog.entry(NAME).releases == {"1.0.0": rec}


@pytest.mark.parametrize("text", ["not json", '{"format": "other/1"}',
                                  '{"format": "distilled_registry.records/1", "releases": {"kip_digits/ipc10": [1]}}',
                                  '{"format": "distilled_registry.records/1", "pins": {"x": "y"}}'])
def test_a_damaged_records_file_is_one_line_exit_1(tmp_path, monkeypatch, capsys, text):
    path = tmp_path / "records.json"
    path.write_text(text)
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(path))
    for cmd in (["list"], ["info", NAME]):
        assert cli.main(cmd) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err, err


def test_read_commands_do_not_import_jax():
    import subprocess
    import sys

    code = ("import sys, distilled_registry.cli as c; c.main(['list', '--json']); "
            "c.main(['info', 'kip_cifar10/ipc10']); "
            "print(sorted(m for m in ('jax', 'tensorflow', 'neural_tangents', 'mlcroissant') if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr
