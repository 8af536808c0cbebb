"""One-line loading: the TFDS builders and the Hugging Face export, on a real release.

``regenerate kip_digits/ipc10`` (once for the run, conftest's ``regenerated``; this module changes its own
copy), then: ``tfds.load`` with TensorFlow and ``tfds.data_source`` without it return exactly the release's
arrays; registration works whichever of ``distilled_registry`` and ``tensorflow_datasets`` is imported
first; a published copy served on 127.0.0.1 downloads through the builder and a tampered one fails its
checksum; ``export-hf`` gives a folder ``datasets.load_dataset`` reads offline into exactly the
release's arrays and features, with a card that passes the offline checks; ``push`` uploads that
folder (``HfApi`` mocked) and the token appears in no file and no output.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import catalog, cli
from distilled_registry import release as rel

NAME = "kip_digits/ipc10"
REPO = Path(__file__).resolve().parents[1]
BLOCK_TF = """
import sys
class _WithoutTensorFlow:  # every finder, blind to tensorflow: as if it were not installed
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return None
        return self.inner.find_spec(name, path, target) if hasattr(self.inner, "find_spec") else None
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
sys.meta_path[:] = [_WithoutTensorFlow(f) for f in sys.meta_path]
import importlib.util
assert importlib.util.find_spec("tensorflow") is None
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory, regenerated):
    """This module's copy of the store ``regenerate kip_digits/ipc10`` wrote (conftest's ``regenerated``)."""
    h = shutil.copytree(regenerated / "store", tmp_path_factory.mktemp("store"), dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISTILLED_REGISTRY_HOME", str(h))
        mp.delenv("DISTILLED_REGISTRY_URL_BASE", raising=False)
        yield h


@pytest.fixture
def release(home) -> Path:
    return home / "kip_digits" / "ipc10" / "1.0.0"


@pytest.fixture
def arrays(release) -> dict:
    with np.load(release / "data.npz") as z:
        return {k: z[k] for k in ("images", "labels", "class_ids")}


def _run(code: str, env: dict | None = None, timeout: int = 120) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})}, cwd=str(REPO))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


# ------------------------------------------------------------------------------------------- TFDS


def test_tfds_load_with_tensorflow_returns_the_release_arrays(home, release, arrays, tmp_path):
    import tensorflow_datasets as tfds

    import distilled_registry.builders  # noqa: F401 - registers (already registered via the hook)
    from distilled_registry.builders import builder_testing

    ds, info = tfds.load(NAME, split="train", data_dir=str(tmp_path), with_info=True)
    got = builder_testing.stack(list(tfds.as_numpy(ds)))
    builder_testing.assert_same_arrays(got, arrays)
    assert got["images"].dtype == np.float32 and got["images"].shape == (100, 8, 8, 1)
    assert info.features["label"].names == [str(i) for i in range(10)]
    assert info.features["label_vector"].shape == (10,) and info.features["image"].dtype == np.float32
    assert str(info.version) == catalog.entry(NAME).version == "1.0.0"
    assert info.metadata["provenance"] == json.loads((release / "provenance.json").read_text())
    assert info.metadata["release"]["data_sha256"] == rel.sha256_file(release / "data.npz")
    assert info.metadata["release"]["origin"] == f"store:{release}"
    assert "github.com/google-research/google-research/tree/master/kip" in info.homepage
    assert "Kernel Ridge-Regression" in info.citation and "Infinitely Wide Convolutional" in info.citation
    assert info.file_format.value == "parquet"
    # supervised form: (image, the class it was distilled for), for every row
    pairs = list(tfds.as_numpy(tfds.load(NAME, split="train", data_dir=str(tmp_path), as_supervised=True)))
    np.testing.assert_array_equal(np.stack([x for x, _ in pairs]), arrays["images"])
    np.testing.assert_array_equal([y for _, y in pairs], arrays["class_ids"])
    assert info.redistribution_info.license.startswith("BSD-3-Clause, inherited from the source dataset digits")


@pytest.mark.parametrize("load_first", [True, False])
def test_tfds_load_and_data_source_on_one_data_dir_in_either_order(home, arrays, tmp_path, load_first):
    """One process, one data_dir: tfds.load then tfds.data_source, or the reverse; both the release."""
    import tensorflow_datasets as tfds

    from distilled_registry.builders import builder_testing

    def load():
        return builder_testing.stack(list(tfds.as_numpy(tfds.load(NAME, split="train", data_dir=str(tmp_path)))))

    def source():
        return builder_testing.read_data_source(NAME, tmp_path)

    for read in ((load, source) if load_first else (source, load)):
        builder_testing.assert_same_arrays(read(), arrays)


def test_builds_and_data_source_without_tensorflow(home, arrays, tmp_path):
    """A fresh process where TensorFlow cannot be imported builds the dataset and reads it back."""
    code = BLOCK_TF + f"""
import json, numpy as np
import distilled_registry, tensorflow_datasets as tfds
from distilled_registry.builders import builder_testing
got = builder_testing.read_data_source({NAME!r}, {str(tmp_path)!r})
with np.load({str(home / 'kip_digits/ipc10/1.0.0/data.npz')!r}) as z:
    builder_testing.assert_same_arrays(got, {{k: z[k] for k in ("images", "labels", "class_ids")}})
print(json.dumps({{"n": len(got["images"]), "tf": "tensorflow" in sys.modules}}))
"""
    out = json.loads(_run(code, {"DISTILLED_REGISTRY_HOME": str(home)}).strip().splitlines()[-1])
    assert out == {"n": 100, "tf": False}


@pytest.mark.parametrize("imports", [
    "import distilled_registry; import tensorflow_datasets as tfds",
    "import tensorflow_datasets as tfds; import distilled_registry",
    "import distilled_registry.builders; import tensorflow_datasets as tfds",
    "import distilled_registry; from tensorflow_datasets.core import load; import tensorflow_datasets as tfds",
])
def test_builders_register_whatever_is_imported_first(imports):
    code = BLOCK_TF + imports + """
import importlib.machinery, json
names = [e.family for e in distilled_registry.catalog.entries()]
b = tfds.builder("kip_digits/ipc10")
print(json.dumps({"registered": all(n in tfds.list_builders(with_community_datasets=False) for n in names),
                  "configs": [c.name for c in b.BUILDER_CONFIGS], "version": str(b.version),
                  "loader_restored": isinstance(sys.modules["tensorflow_datasets"].__spec__.loader,
                                                importlib.machinery.SourceFileLoader),
                  "hook_left": distilled_registry.tfds_registration.installed()}))
"""
    out = json.loads(_run(code, {"DISTILLED_REGISTRY_HOME": "/nonexistent"}).strip().splitlines()[-1])
    assert out == {"registered": True, "configs": ["ipc1", "ipc10", "ipc50"], "version": "1.0.0",
                   "loader_restored": True, "hook_left": False}


def test_import_distilled_registry_stays_light():
    code = ("import sys, time; t = time.perf_counter(); import distilled_registry; dt = time.perf_counter() - t; "
            "print(dt); print(sorted(m for m in ('tensorflow', 'tensorflow_datasets', 'datasets', 'jax', 'ray', "
            "'huggingface_hub', 'distilled_registry.builders') if m in sys.modules)); "
            "print(distilled_registry.tfds_registration.installed())")
    seconds, heavy, hook = _run(code).strip().splitlines()[-3:]
    assert heavy == "[]" and hook == "True" and float(seconds) < 1.0, (seconds, heavy, hook)


def test_missing_release_error_names_the_regenerate_command(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from distilled_registry.builders import release_source

    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("DISTILLED_REGISTRY_URL_BASE", raising=False)
    with pytest.raises(release_source.ReleaseUnavailableError) as e:
        tfds.load("ls_digits/ipc50", split="train", data_dir=str(tmp_path / "tfds"))
    assert "`distilled-registry regenerate ls_digits/ipc50`" in str(e.value) and "DISTILLED_REGISTRY_URL_BASE" in str(e.value)
    assert isinstance(e.value, __import__("distilled_registry").errors.UserError)
    assert not list((tmp_path / "tfds").glob("ls_digits/ipc50/*"))  # TFDS left no half-built dataset


def test_a_changed_store_release_is_rebuilt(tmp_path, monkeypatch):
    """regenerate --overwrite gives new bytes at the same version: the prepared copy is rebuilt, not reused."""
    import tensorflow_datasets as tfds

    from distilled_registry.builders import builder_testing

    home = tmp_path / "store"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(home))
    _, first = builder_testing.write_dummy_release("ls_digits/ipc1", home, seed=1)
    builder_testing.assert_same_arrays(builder_testing.read_data_source("ls_digits/ipc1", tmp_path / "tfds"), first)
    _, second = builder_testing.write_dummy_release("ls_digits/ipc1", home, seed=2, overwrite=True)
    builder_testing.assert_same_arrays(builder_testing.read_data_source("ls_digits/ipc1", tmp_path / "tfds"), second)
    assert tfds.builder("ls_digits/ipc1", data_dir=str(tmp_path / "tfds")).info.metadata["provenance"]["seed"] == 2


def test_imported_published_releases_load_by_version_and_by_variant_name(tmp_path, monkeypatch):
    """Whatever put a release into the store: a published import sits at 0.1.0 beside the catalog's 1.0.0,
    and explicit published variants are configs the catalog resolves by name (both: dummy data here)."""
    from distilled_registry.builders import builder_testing

    home = tmp_path / "store"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(home))
    monkeypatch.delenv("DISTILLED_REGISTRY_URL_BASE", raising=False)
    e = catalog.entry("kip_mnist/ipc1")
    if not (getattr(e, "published", None) or {}).get("version"):
        pytest.skip("the catalog has no published block for kip_mnist/ipc1")
    published_version = e.published["version"]
    _, want = builder_testing.write_dummy_release("kip_mnist/ipc1", home, version=published_version)
    # nothing regenerated: the plain name falls back to the imported published copy
    got = builder_testing.read_data_source("kip_mnist/ipc1", tmp_path / "tfds-plain")
    builder_testing.assert_same_arrays(got, want)
    got = builder_testing.read_data_source(f"kip_mnist/ipc1:{published_version}", tmp_path / "tfds")
    builder_testing.assert_same_arrays(got, want)
    variant = "kip_mnist/ipc10-convnet3-nozca-nol-aug-ckpt1000"
    try:
        catalog.entry(variant)
    except catalog.CatalogError:
        pytest.skip("the catalog does not resolve published variant names")
    _, want = builder_testing.write_dummy_release(variant, home)
    builder_testing.assert_same_arrays(builder_testing.read_data_source(variant, tmp_path / "tfds"), want)


@contextlib.contextmanager
def serve(folder: Path, seconds: float = 120.0):
    """An HTTP server for ``folder`` on 127.0.0.1 (a free port), shut down on exit or after ``seconds``."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    timer = threading.Timer(seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        timer.cancel()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def test_published_release_downloads_and_a_tampered_copy_fails(release, arrays, tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from distilled_registry.builders import builder_testing, release_source

    published = tmp_path / "published"
    shutil.copytree(release, published / "kip_digits" / "ipc10" / "1.0.0")
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "empty-store"))
    monkeypatch.delenv("DISTILLED_REGISTRY_URL_BASE", raising=False)
    # the records file says where the release is published and its sha256 (as a maintainer would record)
    from distilled_registry import recording

    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(tmp_path / "records.json"))
    with serve(published) as base:
        url = f"{base}/kip_digits/ipc10/1.0.0/"
        record = recording.record_release(NAME, release, location=url)
        assert record["location"] == url

        # 1. the catalog's URL, through TFDS's download manager; sha256 checked
        ds, info = tfds.load(NAME, split="train", data_dir=str(tmp_path / "tfds1"), with_info=True)
        builder_testing.assert_same_arrays(builder_testing.stack(list(tfds.as_numpy(ds))), arrays)
        assert info.metadata["release"]["origin"] == url
        got = sorted(p.suffix for p in (tmp_path / "tfds1" / "downloads").rglob("*") if p.is_file())
        assert got == [".json", ".npz"]  # provenance.json and data.npz, downloaded, verified and kept

        # 2. a URL base given to the builder (or by $DISTILLED_REGISTRY_URL_BASE) instead
        builder_testing.assert_same_arrays(builder_testing.stack(list(tfds.data_source(
            NAME, split="train", data_dir=str(tmp_path / "tfds2"), builder_kwargs={"url_base": base}))), arrays)

        # 3. a tampered data.npz: fails against provenance.json, nothing is prepared, the download is dropped
        f = published / "kip_digits" / "ipc10" / "1.0.0" / "data.npz"
        good = f.read_bytes()
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0xFF
        f.write_bytes(bytes(bad))
        with pytest.raises(release_source.ReleaseChecksumError, match=r"data\.npz has sha256 .* but its provenance"):
            tfds.load(NAME, split="train", data_dir=str(tmp_path / "tfds3"))
        assert not (tmp_path / "tfds3" / "kip_digits" / "ipc10" / "1.0.0").exists()
        assert not [p for p in (tmp_path / "tfds3" / "downloads").rglob("*data.npz*") if p.is_file()]

        # 4. tampered consistently (provenance.json rewritten to match): fails against the catalog's record
        p = published / "kip_digits" / "ipc10" / "1.0.0" / "provenance.json"
        prov = json.loads(p.read_text())
        prov["files"]["data.npz"] = rel.digest(bytes(bad))
        p.write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
        with pytest.raises(release_source.ReleaseChecksumError, match="the catalog records"):
            tfds.load(NAME, split="train", data_dir=str(tmp_path / "tfds4"))

        f.write_bytes(good)


# ------------------------------------------------------------------------------------ Hugging Face


def test_export_hf_loads_offline_with_the_release_arrays_and_features(home, release, arrays, tmp_path, capsys):
    from distilled_registry.builders import huggingface_export

    out = tmp_path / "hf" / "kip_digits"
    assert cli.main(["export-hf", "kip_digits", "--out", str(out), "--repo-id", "me/kip_digits"]) == 0
    text = capsys.readouterr().out
    assert "left out: ipc1, ipc50" in text
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [".distilled-registry-export-hf", "README.md", "ipc10/croissant.json", "ipc10/labels.png",
                     "ipc10/preview.png", "ipc10/provenance.json", "ipc10/train-00000-of-00001.parquet",
                     "ipc10/transform.npz"]
    assert (out / "ipc10" / "provenance.json").read_bytes() == (release / "provenance.json").read_bytes()
    assert (out / "ipc10" / "preview.png").read_bytes() == (release / "preview.png").read_bytes()

    code = f"""
import json, numpy as np, datasets
ds = datasets.load_dataset({str(out)!r}, "ipc10", split="train")
print(json.dumps(ds.features.to_dict()))
np.savez({str(tmp_path / 'back.npz')!r}, **{{k: np.asarray(v) for k, v in ds.with_format("numpy")[:].items()}})
"""
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    feats = json.loads(_run(code, env).strip().splitlines()[-1])
    want = huggingface_export.features((8, 8, 1), [str(i) for i in range(10)])
    assert feats == json.loads(json.dumps(want.to_dict()))
    with np.load(tmp_path / "back.npz") as z:
        back = dict(z)
    assert back["image"].dtype == np.float32 and back["label_vector"].dtype == np.float32
    np.testing.assert_array_equal(back["image"], arrays["images"])
    np.testing.assert_array_equal(back["label_vector"], arrays["labels"])
    np.testing.assert_array_equal(back["class_id"], arrays["class_ids"])
    np.testing.assert_array_equal(back["label"], arrays["class_ids"])  # the Hub's label is the class
    np.testing.assert_array_equal(back["index"], np.arange(100))
    # the viewer's Image column: a PNG of each image, stretched to its own range (8x8 grey here)
    assert back["preview"].shape == (100, 8, 8) and back["preview"].dtype == np.uint8
    img = arrays["images"][3, ..., 0]
    np.testing.assert_array_equal(back["preview"][3], np.round(255 * (img - img.min()) / (img.max() - img.min())))

    card = (out / "README.md").read_text()
    assert huggingface_export.NUMPY_SNIPPET in card and "transform.npz` holds `mean` and `std`" in card
    meta = huggingface_export.validate_card(card)
    assert meta["license"] == "bsd-3-clause" and meta["task_categories"] == ["image-classification"]
    assert meta["size_categories"] == ["n<1K"] and meta["source_datasets"] == ["extended|digits"]
    assert meta["configs"] == [{"config_name": "ipc10", "data_files": [{"split": "train", "path": "ipc10/train-*.parquet"}],
                                "default": True}]
    assert meta["dataset_info"][0]["features"][0] == {"name": "image", "dtype": {"array3_d": {"shape": [8, 8, 1],
                                                                                             "dtype": "float32"}}}
    assert {"name": "label_vector", "list": "float32", "length": 10} in meta["dataset_info"][0]["features"]
    prov = json.loads((release / "provenance.json").read_text())
    for needle in ("## Metrics beside the paper's", "## Provenance", "## Usage", "load_dataset(\"me/kip_digits\"",
                   "tfds.load(\"kip_digits/ipc10\"", "tfds.data_source(", "![ipc10 preview](ipc10/preview.png)",
                   "![ipc10 learned vs original labels](ipc10/labels.png)", "@inproceedings{nguyen2021dataset,",
                   "@inproceedings{nguyen2021datasetdistillation,", f"{100 * prov['metrics']['krr_test_accuracy']:.2f}%",
                   prov["source"]["fingerprint_sha256"][:16], "not reported: digits is not in the papers"):
        assert needle in card, needle


def test_export_hf_of_label_solve_configs(tmp_path, monkeypatch):
    """Several configs (dummy LS releases): one parquet folder and one labels plot each; a bad card is refused."""
    from distilled_registry.builders import builder_testing, huggingface_export

    home = tmp_path / "store"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(home))
    want = {c: builder_testing.write_dummy_release(f"ls_digits/{c}", home, seed=i)[1] for i, c in enumerate(["ipc1", "ipc50"])}
    ex = huggingface_export.export_family("ls_digits", tmp_path / "out")
    assert [c.config for c in ex.configs] == ["ipc1", "ipc50"] and ex.missing == ["ipc10"]
    for c in want:
        assert (ex.out / c / "labels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # each config's croissant.json: valid for mlcroissant, pinning the config's files by sha256; its records,
    # read by mlcroissant in a fresh process (as a Croissant reader would, without `datasets` imported: with
    # it, mlcroissant 1.1.1 trips over datasets' Array3D Arrow type), are the release's arrays with each
    # image H x W x C and label the class
    import mlcroissant as mlc

    for c in want:
        md = mlc.Dataset(str(ex.out / c / "croissant.json")).metadata
        assert not md.issues.errors, md.issues.report()
        doc = json.loads((ex.out / c / "croissant.json").read_text())
        pinned = {d["name"]: d["sha256"] for d in doc["distribution"]}
        assert pinned == {f: rel.sha256_file(ex.out / c / f) for f in pinned}
        assert set(pinned) == {p.name for p in (ex.out / c).iterdir()} - {"croissant.json"}
    code = f"""
import sys, json, numpy as np, mlcroissant as mlc
from distilled_registry import croissant
for c in {list(want)!r}:
    b = croissant.read_records({str(ex.out)!r} + "/" + c)
    row = next(iter(mlc.Dataset({str(ex.out)!r} + "/" + c + "/croissant.json").records("records")))
    np.savez({str(tmp_path)!r} + "/" + c + ".npz", shape=np.asarray(np.asarray(row["records/image"]).shape), **b)
print("datasets" in sys.modules)
"""
    assert _run(code).strip().splitlines()[-1] == "False"
    for c, arrays in want.items():
        with np.load(tmp_path / f"{c}.npz") as z:
            assert tuple(z["shape"]) == (8, 8, 1)
            for k in ("images", "labels", "class_ids"):
                np.testing.assert_array_equal(z[k], arrays[k])
            np.testing.assert_array_equal(z["label"], arrays["class_ids"])
    meta = huggingface_export.validate_card((ex.out / "README.md").read_text())
    assert [c["config_name"] for c in meta["configs"]] == ["ipc1", "ipc50"]
    assert [i["splits"][0]["num_examples"] for i in meta["dataset_info"]] == [10, 500]  # ipc1, ipc50 x 10 classes
    from distilled_registry import output_folder

    with pytest.raises(output_folder.FolderRefused, match="already exists.*--overwrite"):  # rule A
        huggingface_export.export_family("ls_digits", tmp_path / "out")
    broken = (ex.out / "README.md").read_text().replace("size_categories:\n- n<1K", "size_categories:\n- tiny")
    with pytest.raises(ValueError, match="size_categories"):
        huggingface_export.validate_card(broken)


def test_push_uploads_the_export_and_never_the_token(home, tmp_path, monkeypatch, capsys):
    from huggingface_hub import HfApi

    token = "hf_" + os.urandom(12).hex()
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    calls = []

    def create_repo(self, repo_id, **kw):
        calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, *, folder_path, repo_id, **kw):
        folder = Path(folder_path)
        import fnmatch

        allowed = kw.get("allow_patterns")  # as huggingface_hub does: only files the patterns name go up
        contents = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
                    and (allowed is None or any(fnmatch.fnmatch(str(p.relative_to(folder)), a) for a in allowed))}
        calls.append(("upload_folder", repo_id, kw, contents))
        return None

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert cli.main(["push", "kip_digits", "--repo-id", "me/kip_digits"]) == 0
    out, err = capsys.readouterr()
    assert [c[0] for c in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1] == "me/kip_digits" and calls[0][2]["repo_type"] == "dataset" and "token" not in calls[0][2]
    _, repo_id, kw, contents = calls[1]
    assert repo_id == "me/kip_digits" and kw["repo_type"] == "dataset" and "token" not in kw
    assert sorted(contents) == ["README.md", "ipc10/croissant.json", "ipc10/labels.png", "ipc10/preview.png",
                                "ipc10/provenance.json", "ipc10/train-00000-of-00001.parquet", "ipc10/transform.npz"]
    assert b'load_dataset("me/kip_digits", "ipc10"' in contents["README.md"]
    for name, b in contents.items():
        assert token.encode() not in b, name
    assert token not in out + err
    assert "uploaded 7 files to https://huggingface.co/datasets/me/kip_digits" in out
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(token.encode() not in p.read_bytes() for p in written)

    # a folder holding the token is refused, and the token is not printed
    folder = tmp_path / "export"
    assert cli.main(["export-hf", "kip_digits", "--out", str(folder)]) == 0
    (folder / "README.md").write_text((folder / "README.md").read_text() + f"\ntoken={token}\n")  # a file it uploads
    calls.clear()
    capsys.readouterr()
    assert cli.main(["push", "kip_digits", "--repo-id", "me/kip_digits", "--folder", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "contains your Hugging Face token" in err and token not in out + err and calls == []
    assert cli.main(["push", "kip_digits", "--repo-id", "not a repo id"]) == 2
    assert "bad --repo-id" in capsys.readouterr().err


# ------------------------------------------------------------------------------ builder folders


def test_builder_folders_match_the_catalog():
    from distilled_registry.builders import builder_folders, release_builder

    assert builder_folders.stale() == [], "run `distilled-registry builders`"
    from tensorflow_datasets.core import dataset_metadata

    valid = set(dataset_metadata.valid_tags())
    for fam in dict.fromkeys(e.family for e in catalog.entries()):
        meta = release_builder.builder_class(fam).get_metadata()
        assert set(meta.tags) <= valid and meta.tags
        assert meta.citation.count("@inproceedings") == 2
        assert fam in meta.description


def test_checksums_tsv_lists_the_pinned_published_files_in_tfds_format(tmp_path, monkeypatch):
    """A bucket file pinned in the records (``import-published --record``) goes into its family's
    checksums.tsv, which TFDS's own parser reads back with its size and sha256; unpinned files do not."""
    from tensorflow_datasets.core.download import checksums as tfds_checksums

    from distilled_registry import records
    from distilled_registry.builders import builder_folders

    entries = [e for e in catalog.family_entries("ls_mnist") if (e.published or {}).get("url")]
    assert len(entries) >= 2
    sha = "ab" * 32
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(tmp_path / "records.json"))
    records.record_pin(entries[0].published["path"], {"sha256": sha, "size": 123456, "config": entries[0].name})
    assert catalog.entry(entries[0].name).published["sha256"] == sha  # the catalog shows the recorded pin
    tsv = tmp_path / "checksums.tsv"
    tsv.write_text(builder_folders.checksums("ls_mnist"))
    infos = tfds_checksums.load_url_infos(tsv)
    url = entries[0].published["url"]
    assert set(infos) == {url}
    assert (infos[url].size, infos[url].checksum, infos[url].filename) == (123456, sha, url.rsplit("/", 1)[-1])
    monkeypatch.delenv("DISTILLED_REGISTRY_RECORDS")
    assert tfds_checksums.load_url_infos(builder_folders.BUILDERS_DIR / "ls_mnist" / "checksums.tsv") == {}


def test_a_family_folder_loads_the_tfds_way(tmp_path, monkeypatch):
    """What `tfds build builders/kip_digits` does (TFDS's folder loading): import
    ``kip_digits.kip_digits_dataset_builder`` from the folder's parent, without registering, and take
    the module's one DatasetBuilder; it declares every catalog config and builds the folder's dummy_data/."""
    import tensorflow_datasets as tfds

    from distilled_registry.builders import builder_testing, release_builder

    family = "kip_digits"
    folder = release_builder.BUILDERS_DIR / family
    try:
        with tfds.core.utils.add_sys_path(folder.parent):
            cls = tfds.core.community.builder_cls_from_module(f"{family}.{family}_dataset_builder")
        assert cls.__module__ == f"{family}.{family}_dataset_builder" and cls.__name__ == "Builder"
        assert cls.name == family and issubclass(cls, release_builder.ReleaseBuilder)
        entries = catalog.family_entries(family)
        assert [(c.name, str(c.version)) for c in cls.BUILDER_CONFIGS] == [(e.config, e.version) for e in entries]
        assert cls.get_metadata().tags and cls.pkg_dir_path == folder
        monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(folder / "dummy_data"))
        builder = cls(config=entries[0].config, data_dir=str(tmp_path))
        builder.download_and_prepare()
        got = builder_testing.stack(list(builder.as_data_source(split="train")))
        release = folder / "dummy_data" / family / entries[0].config / entries[0].version
        with np.load(release / "data.npz") as z:
            builder_testing.assert_same_arrays(got, {k: z[k] for k in ("images", "labels", "class_ids")})
    finally:
        for k in [k for k in sys.modules if k == family or k.startswith(family + ".")]:
            del sys.modules[k]


@pytest.mark.parametrize("zca", [False, True])
def test_the_cards_numpy_snippet_equals_transform_apply(digits, tmp_path, zca):
    """The card's numpy-only preprocessing, run on the digits test split, is Transform.apply (1e-6)."""
    from distilled_registry.builders import huggingface_export
    from distilled_registry.pipelines.preprocess import fit_transform

    t = fit_transform(digits.x_train, zca=zca)
    path = tmp_path / "transform.npz"
    path.write_bytes(t.to_bytes())
    scope = {"raw_test_images": digits.x_test, "path": str(path)}
    exec(huggingface_export.NUMPY_SNIPPET, scope)  # noqa: S102 - the card's own text, run as a reader would
    got, want = scope["x_test"], t.apply(digits.x_test)
    assert got.dtype == np.float32 and got.shape == want.shape == digits.x_test.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert not np.allclose(got, digits.x_test, atol=1e-3)  # it did map the images
