"""The authors' published KIP / LS files: names, catalog entries, import into the store, download with
sha256 pinning from a local HTTP server laid out like the bucket, and refusals (issue 7).

The real published CIFAR-10 set comes from the shared data folder (skipped, saying why, when absent);
everything else is small synthetic arrays in the published format. No network: the "bucket" is an
http.server thread on 127.0.0.1 that stops with the test.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import http.server
import io
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import distilled_registry as dr
from distilled_registry import catalog, cli, published, store
from distilled_registry import release as rel
from distilled_registry.provenance import ProvenanceError, validate

SHARED_SHA = {"images.npy": "ce7a5298a63405148c0d823e88f0806bd2192ec5223f7bf04ac64e9ee0ecacea",
              "labels.npy": "117548e69b14ee8338658e0c9b42b7e7693c04ae7c1455295017d15be8cbaac8"}


def arrays(n: int = 10, c: int = 10, shape=(28, 28, 1), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    y = (np.eye(c, dtype=np.float32)[np.arange(n) % c] - 1 / c + 0.05 * rng.standard_normal((n, c))).astype(np.float32)
    return x, y


def npz(x, y) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, images=x, labels=y)
    return buf.getvalue()


def write_file(root: Path, rel_path: str, **kw) -> tuple[Path, bytes]:
    p = root / rel_path
    p.parent.mkdir(parents=True, exist_ok=True)
    b = npz(*arrays(**kw))
    p.write_bytes(b)
    return p, b


def stored_names(h: Path) -> list[str]:
    return sorted(str(p.relative_to(h)) for p in h.glob("*/*/*") if p.is_dir()) if h.exists() else []


# ------------------------------------------------------------------------------------------- names


VARIANTS = [
    published.Variant("kip", "cifar10", "convnet3", 100, False, False, True, 1000),
    published.Variant("kip", "cifar10", "convnet", 100, True, True, False, "final"),
    published.Variant("kip", "cifar100", "convnet", 1000, True, True, True, 50000),
    published.Variant("kip", "mnist", "convnet", 10, False, True, False, 0),
    published.Variant("kip", "svhn_cropped", "convnet3", 500, True, False, False, 233),
    published.Variant("kip", "fashion_mnist", "convnet", 500, False, True, None, None),
    published.Variant("ls", "cifar100", "convnet", 500, True),
    published.Variant("ls", "mnist", "convnet3", 10, False),
]


@pytest.mark.parametrize("v", VARIANTS, ids=lambda v: v.config_name())
def test_names_round_trip(v):
    assert published.parse_config(v.family, v.config_name()) == v
    text = v.bucket_path() if v.complete else f"{v.dataset}_{v.stem()}"
    assert published.parse_file_name(text) == v


def test_the_issue_example_and_url_forms():
    v = published.parse_config("kip_cifar10", "ipc10-convnet3-nozca-nol-aug-ckpt1000")
    assert v.bucket_path() == "kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz"
    for url in ("https://storage.googleapis.com/kip-datasets/kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz",
                "https://storage.cloud.google.com/kip-datasets/kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz",
                "http://127.0.0.1:8000/kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz"):
        assert published.parse_file_name(url) == v
    assert published.parse_file_name("ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz", dataset="cifar10") == v
    assert published.parse_file_name("cifar10_ConvNet_ssize100_zca_l").config_name() == "ipc10-convnet-zca-l"
    ls = published.parse_file_name("ls/cifar10/ConvNet_ssize100_zca.npz")
    assert published.config_for(ls) == "ipc10" and published.config_for(v) == v.config_name()


@pytest.mark.parametrize("family, config, message", [
    ("kip_cifar10", "ipc10-convnet-zca-l-noaug-ckpt7", "not one the authors saved"),
    ("kip_cifar10", "ipc7-convnet-zca-l-noaug-final", "not 70"),
    ("kip_cifar100", "ipc50-convnet-zca-l-noaug-final", "not 5000"),
])
def test_impossible_variant_names_are_refused(family, config, message):
    with pytest.raises(published.PublishedError, match=message):
        published.parse_config(family, config)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.entry(f"{family}/{config}")


def test_not_a_published_name():
    assert published.parse_config("kip_cifar10", "ipc10-fc") is None
    assert published.parse_config("ls_cifar10", "ipc10-convnet-zca-l") is None  # LS names have no labels part
    with pytest.raises(published.PublishedError, match="does not follow the authors' naming scheme"):
        published.parse_file_name("random.npz", dataset="cifar10")
    with pytest.raises(published.PublishedError, match="does not say which dataset"):
        published.parse_file_name("ConvNet_ssize100_zca_l_noaug_ckpt0.npz")
    with pytest.raises(catalog.CatalogError, match="unknown release"):
        catalog.entry("kip_cifar10/ipc10-convnet-zca")  # KIP names need the labels part


# ----------------------------------------------------------------------------------------- catalog


def test_catalog_points_the_default_configs_at_the_headline_variants():
    kip = {e.name: e.published for e in catalog.entries() if e.algorithm == "kip" and e.published}
    assert len(kip) == 14
    v = published.variant_of(kip["kip_cifar10/ipc10"])
    assert v == published.Variant("kip", "cifar10", "convnet", 100, True, True, False, "final")
    assert published.variant_of(kip["kip_mnist/ipc10"]).zca is False
    assert kip["kip_cifar10/ipc10"]["url_template"] == \
        "https://storage.googleapis.com/kip-datasets/kip/cifar10/ConvNet_ssize100_zca_l_noaug_ckpt{ckpt}.npz"
    assert catalog.entry("kip_cifar10/ipc10-fc").published is None
    ls = [e for e in catalog.entries() if e.algorithm == "ls" and e.published]
    assert len(ls) == 30  # every row of the authors' LS index
    for e in ls:
        p = e.published
        assert p["sha256"] is None and "first verified download" in p["pin"]
        assert p["url"] == published.BUCKET_URL + published.variant_of(p).bucket_path()
        assert p["reported"]["test_accuracy"] == e.paper["krr_test_accuracy"]


def test_a_variant_name_has_an_entry_made_from_it(home, capsys):
    e = catalog.entry("kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000")
    assert e.spec is None and e.version == published.VERSION and e.source == "cifar10"
    assert e.published["url"].endswith("kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz")
    assert cli.main(["info", "kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000"]) == 0
    assert "spec: none: a published file" in capsys.readouterr().out
    with pytest.raises(store.StoreError, match="import-published kip_cifar10/ipc10"):
        dr.load("kip_cifar10/ipc10")
    assert cli.main(["regenerate", "kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000"]) == 2
    assert "no spec to run" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ import


def test_import_the_real_published_cifar10_set(real_data, home, capsys):
    src = real_data / "kip_official" / "cifar10_ConvNet_ssize100_zca_l"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    assert cli.main(["import-published", str(src)]) == 0
    assert "pin: matches the records pin" in capsys.readouterr().out
    assert cli.main(["verify", "kip_cifar10/ipc10-convnet-zca-l"]) == 0
    out = capsys.readouterr().out
    assert "all 4 files match" in out and "original file cifar10_ConvNet_ssize100_zca_l: matches the records pin" in out
    r = dr.load("kip_cifar10/ipc10-convnet-zca-l")
    np.testing.assert_array_equal(r.images, np.load(src / "images.npy"))
    np.testing.assert_array_equal(r.labels, np.load(src / "labels.npy"))
    o = r.provenance["origin"]
    assert o["files_sha256"] == SHARED_SHA and o["url"] is None and o["kind"] == "published"
    assert o["original_url"].startswith(
        "https://storage.googleapis.com/kip-datasets/kip/cifar10/ConvNet_ssize100_zca_l_{aug|noaug}_ckpt{K}.npz")
    assert r.provenance["preprocessing"]["zca"] and "fit_later" in r.provenance["preprocessing"]
    assert r.version == "0.1.0" and r.provenance["source"]["class_names"][0] == "airplane"


def test_import_a_local_npz_and_an_ls_file(home, tmp_path, capsys):
    f, b = write_file(tmp_path / "bucket", "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1000.npz")
    assert cli.main(["import-published", str(f)]) == 0
    r = dr.load("kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt1000")
    with np.load(io.BytesIO(b)) as z:
        np.testing.assert_array_equal(r.images, z["images"])
        np.testing.assert_array_equal(r.labels, z["labels"])
    o = r.provenance["origin"]
    assert o["files_sha256"] == {f.name: hashlib.sha256(b).hexdigest()} and o["url"] is None
    assert o["original_url"] == published.BUCKET_URL + "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1000.npz"
    assert o["pin"]["state"] == "unpinned" and r.provenance["algorithm"]["steps_run"] == 1000
    np.testing.assert_array_equal(r.class_ids, np.argmax(r.labels, 1))
    from distilled_registry import croissant

    back = croissant.read_records(r.path)  # the Croissant description of an imported release reads back
    np.testing.assert_array_equal(back["images"], r.images)

    ls, _ = write_file(tmp_path / "bucket", "ls/mnist/ConvNet_ssize10_nozca.npz", seed=1)
    capsys.readouterr()
    assert cli.main(["import-published", str(ls), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["release"] == "ls_mnist/ipc1:0.1.0"
    r = dr.load("ls_mnist/ipc1")
    assert r.metrics["reported_by_authors"]["test_accuracy"] == 0.7335
    assert "reported by the authors 0.7335" in repr(r)
    assert cli.main(["list", "--json"]) == 0
    rows = {x["name"]: x for x in json.loads(capsys.readouterr().out)}
    assert rows["ls_mnist/ipc1"]["local"] == ["0.1.0"]
    assert rows["kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt1000"]["catalog"] == "published variant"


def test_the_transform_is_fitted_on_the_source_when_given(home, tmp_path, monkeypatch):
    from distilled_registry.pipelines import sources

    rng = np.random.default_rng(0)
    fake = sources.Source("mnist", rng.random((300, 28, 28, 1), np.float32), np.arange(300) % 10,
                          rng.random((50, 28, 28, 1), np.float32), np.arange(50) % 10,
                          [str(i) for i in range(10)], "f" * 64, "local:fake", exact=False)
    monkeypatch.setattr(sources, "load_source", lambda name, d=None: fake)
    f, _ = write_file(tmp_path, "kip/mnist/ConvNet_ssize10_zca_l_noaug_ckpt0.npz")
    assert cli.main(["import-published", str(f), "--source-dir", str(tmp_path)]) == 0
    r = dr.load("kip_mnist/ipc1-convnet-zca-l-noaug-ckpt0")
    pre = r.provenance["preprocessing"]
    assert pre["file"] == "transform.npz" and pre["zca"] and pre["zca_reg"] == 0.1
    assert pre["fitted_on"]["origin"] == "local:fake" and pre["fitted_on"]["exact_copy"] is False
    assert r.provenance["source"]["fingerprint_sha256"] is None  # not an exact copy: the original's is unknown
    assert r.transform().apply(fake.x_test).shape == (50, 28, 28, 1)


def _only(d: Path, **files: bytes) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for n, b in files.items():
        np.save(d / n, b) if isinstance(b, np.ndarray) else (d / n).write_bytes(b)
    return d


@pytest.mark.parametrize("case, message", [
    ("no_labels", "lacks labels.npy"),
    ("images_3d", "images have shape (10, 28, 28)"),
    ("classes", "labels have 9 classes; mnist has 10"),
    ("count", "11 images, but the name says ssize 10"),
    ("nan", "NaN or infinite"),
    ("not_npz", "cannot read"),
])
def test_bad_inputs_are_refused_and_write_nothing(home, tmp_path, capsys, case, message):
    x, y = arrays()
    d = tmp_path / "mnist_ConvNet_ssize10_nozca_l"
    if case == "no_labels":
        _only(d, **{"images.npy": x})
    elif case == "images_3d":
        _only(d, **{"images.npy": x[..., 0], "labels.npy": y})
    elif case == "classes":
        _only(d, **{"images.npy": x, "labels.npy": y[:, :9]})
    elif case == "count":
        x2, y2 = arrays(n=11)
        _only(d, **{"images.npy": x2, "labels.npy": y2})
    elif case == "nan":
        x[0, 0, 0, 0] = np.nan
        _only(d, **{"images.npy": x, "labels.npy": y})
    else:
        d = tmp_path / "kip" / "mnist" / "ConvNet_ssize10_nozca_l_noaug_ckpt0.npz"
        d.parent.mkdir(parents=True)
        d.write_bytes(b"not a zip file")
    assert cli.main(["import-published", str(d)]) == 1  # the file's content: a runtime failure
    assert message in capsys.readouterr().err
    assert stored_names(home) == []


def test_a_file_that_contradicts_its_name_is_refused(home, tmp_path, capsys):
    f, _ = write_file(tmp_path, "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt0.npz")
    assert cli.main(["import-published", str(f), "--name", "kip_mnist/ipc1-convnet3-nozca-l-noaug-ckpt0"]) == 2
    assert "architecture differ" in capsys.readouterr().err
    assert cli.main(["import-published", str(f), "--name", "kip_mnist/ipc1-fc"]) == 2
    assert "no published file" in capsys.readouterr().err
    assert stored_names(home) == []


# -------------------------------------------------------------------------- download from a "bucket"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(root: Path):
    """An http.server on 127.0.0.1 (a free port) serving ``root``, in a thread; stopped on exit."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    httpd.timeout = 5
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=5)


def bucket(root: Path) -> dict[str, bytes]:
    """A bucket-like tree: kip/kip.csv and two checkpoints of the headline MNIST run, one LS file."""
    out = {}
    for k in (1000, 1500):
        _, out[k] = write_file(root, f"kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt{k}.npz", seed=k)
    _, out["ls"] = write_file(root, "ls/mnist/ConvNet_ssize10_nozca.npz", seed=3)
    with open(root / "kip" / "kip.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["architecture", "dataset", "ssize", "zca", "l", "aug", "ckpt", "test_acc", "test_mse", "URL"])
        for k, acc in ((0, 0.51), (1000, 0.83), (1500, 0.85)):
            w.writerow(["ConvNet", "mnist", 10, False, True, False, k, acc, 0.02,
                        f"https://storage.cloud.google.com/kip-datasets/kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt{k}.npz"])
        w.writerow(["ConvNet3", "mnist", 10, False, True, False, 2000, 0.9, 0.01, ""])
    return out


def test_download_pins_and_refuses_a_tampered_copy(home, tmp_path, monkeypatch, capsys):
    root = tmp_path / "bucket"
    files = bucket(root)
    with serve(root) as base:
        monkeypatch.setenv(published.URL_ENV, base)
        # the default config: final = the largest checkpoint the index lists for the run (1500)
        assert cli.main(["import-published", "kip_mnist/ipc1"]) == 0
        assert "pin: pinned on this first verified download" in capsys.readouterr().out
        r = dr.load("kip_mnist/ipc1")
        o = r.provenance["origin"]
        sha = hashlib.sha256(files[1500]).hexdigest()
        assert o["url"] == base + "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz" and o["downloaded"]
        assert o["variant"]["checkpoint"] == 1500 and o["checkpoint_resolved_from"] == base + "kip/kip.csv"
        assert list(o["files_sha256"].values()) == [sha]
        assert r.metrics["reported_by_authors"]["test_accuracy"] == 0.85 and r.version == "0.1.0"
        pins = json.loads((home / published.PINS_FILE).read_text())
        assert pins["files"]["kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz"]["sha256"] == sha
        assert pins["final"]["kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt{final}.npz"]["checkpoint"] == 1500
        assert cli.main(["verify", "kip_mnist/ipc1"]) == 0
        assert "matches the local pin" in capsys.readouterr().out

        # a second, tampered copy (valid arrays, other bytes) is refused; the stored release stays as it was
        write_file(root, "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz", seed=99)
        assert cli.main(["import-published", "kip_mnist/ipc1", "--overwrite"]) == 1
        err = capsys.readouterr().err
        assert "refusing kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz" in err and sha in err
        assert dr.load("kip_mnist/ipc1").provenance["origin"]["files_sha256"] == o["files_sha256"]
        with pytest.raises(published.PinError):  # the builders' entry point refuses it too
            published.fetch("kip_mnist/ipc1", base, overwrite=True)

        # an explicit variant, through the function a builder calls, with the index's figure
        path = published.fetch("kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt1000", base)
        prov = rel.read_provenance(path)
        assert prov["metrics"]["reported_by_authors"]["test_accuracy"] == 0.83
        assert prov["release"]["name"] == "kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt1000"
        # a URL, and a file the bucket does not have
        assert cli.main(["import-published", base + "ls/mnist/ConvNet_ssize10_nozca.npz"]) == 0
        assert dr.load("ls_mnist/ipc1").provenance["origin"]["url"] == base + "ls/mnist/ConvNet_ssize10_nozca.npz"
        capsys.readouterr()
        assert cli.main(["import-published", "kip_mnist/ipc1-convnet-nozca-l-aug-ckpt1000"]) == 1
        assert "HTTP 404" in capsys.readouterr().err


def test_record_pins_for_everyone_in_the_records_file_only(home, tmp_path, monkeypatch, capsys):
    """`import-published NAME --record`: the pin (and the resolved final checkpoint) goes to the records
    file, no package file changes, and a store that never saw the file is held to it."""
    from pathlib import Path

    from distilled_registry import catalog, records

    root = tmp_path / "bucket"
    files = bucket(root)
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(tmp_path / "records.json"))
    package = Path(catalog.__file__).parent
    before = {p: p.read_bytes() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    with serve(root) as base:
        monkeypatch.setenv(published.URL_ENV, base)
        assert cli.main(["import-published", "kip_mnist/ipc1", "--record"]) == 0
        assert "pinned for everyone in" in capsys.readouterr().out
        sha = hashlib.sha256(files[1500]).hexdigest()
        path = "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz"
        assert records.pins()[path]["sha256"] == sha and records.pins()[path]["config"] == "kip_mnist/ipc1"
        block = catalog.entry("kip_mnist/ipc1").published
        assert (block["path"], block["sha256"], block["size"]) == (path, sha, len(files[1500]))
        after = {p: p.read_bytes() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert after == before
        # another store, no local pins: a tampered copy is refused by the recorded pin
        monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "other-store"))
        write_file(root, path, seed=99)
        assert cli.main(["import-published", "kip_mnist/ipc1"]) == 1
        assert f"refusing {path}" in capsys.readouterr().err


def test_the_pin_is_checked_by_verify(home, tmp_path, monkeypatch, capsys):
    root = tmp_path / "bucket"
    bucket(root)
    with serve(root) as base:
        path = published.fetch("ls_mnist/ipc1", base)
    pins = json.loads((home / published.PINS_FILE).read_text())
    pins["files"]["ls/mnist/ConvNet_ssize10_nozca.npz"]["sha256"] = "0" * 64
    (home / published.PINS_FILE).write_text(json.dumps(pins))
    assert cli.main(["verify", str(path)]) == 1
    assert "the original file's sha256 differs from its pin" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ schema


def test_the_schema_keeps_runs_strict_and_asks_imports_for_their_origin(home, tmp_path):
    import synthetic_release as syn

    prov = syn.provenance(syn.arrays())
    prov["files"] = {"data.npz": {"sha256": "0" * 64, "size": 1}, "transform.npz": {"sha256": "0" * 64, "size": 1}}
    validate(prov)
    for key in ("config", "seed", "timing", "environment", "backend"):
        with pytest.raises(ProvenanceError, match=f"'{key}' is a required property"):
            validate({k: v for k, v in prov.items() if k != key})
    bad = json.loads(json.dumps(prov))
    bad["source"]["fingerprint_sha256"] = None
    with pytest.raises(ProvenanceError, match="fingerprint_sha256"):
        validate(bad)
    f, _ = write_file(tmp_path, "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt0.npz")
    imported = rel.read_provenance(published.release_from_npz(f, "kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt0"))
    assert "config" not in imported and "seed" not in imported
    del imported["origin"]["files_sha256"]
    with pytest.raises(ProvenanceError, match="'files_sha256' is a required property"):
        validate(imported)


def test_tfds_load_downloads_pins_and_refuses_a_tampered_copy(home, tmp_path, monkeypatch):
    """tfds.load of a config with nothing in the store takes the authors' file from a bucket mirror
    (the URL base overridden), pins it on first download, and refuses a tampered second copy."""
    tfds = pytest.importorskip("tensorflow_datasets")
    root = tmp_path / "bucket"
    files = bucket(root)
    sha = hashlib.sha256(files[1500]).hexdigest()
    with serve(root) as base:
        monkeypatch.setenv(published.URL_ENV, base)
        ds = tfds.load("kip_mnist/ipc1", split="train", data_dir=str(tmp_path / "tfds1"), batch_size=-1)
        with np.load(io.BytesIO(files[1500])) as z:
            np.testing.assert_array_equal(ds["image"].numpy(), z["images"])
            np.testing.assert_array_equal(ds["label_vector"].numpy(), z["labels"])
        pins = json.loads((home / published.PINS_FILE).read_text())
        assert pins["files"]["kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz"]["sha256"] == sha
        # a second machine (empty store, same pins) against a tampered mirror copy: refused
        shutil.rmtree(home / "kip_mnist")
        write_file(root, "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1500.npz", seed=99)
        with pytest.raises(published.PinError, match=sha):
            tfds.load("kip_mnist/ipc1", split="train", data_dir=str(tmp_path / "tfds2"))
        assert not (home / "kip_mnist").exists()
