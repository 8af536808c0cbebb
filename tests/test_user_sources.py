"""Distil your own data (issue 25): an image folder, an .npz, a prepared TFDS dataset and a Hub dataset each
distil into a named release in the store, verify (with --accuracy, re-reading the source), load, go
through ``tfds.load`` and, after ``export-hf``, ``datasets.load_dataset``, and rerun to the same bytes.
Every source is made here from scikit-learn's digits (tests/user_fixtures.py); nothing is downloaded."""

import json

import numpy as np
import pytest
import user_fixtures as fx

from distilled_registry import cli, escape

SAME: dict = {}  # the first kind's data.npz sha256, which every other kind must give
RUN = ["--ipc", "2", "--steps", "2", "--target-batch", "12", "--quiet"]


@pytest.fixture
def offline(home, monkeypatch, tmp_path):
    """The store of ``home``, TFDS's data_dir and the datasets cache under tmp_path, no network for the Hub."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds_data"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def _source(kind: str, tmp_path) -> str:
    if kind == "folder":
        return str(fx.write_folder(tmp_path / "my images"))
    if kind == "npz":
        return str(fx.write_npz(tmp_path / "mine.npz", one_hot=True))
    if kind == "tfds":
        return "tfds:" + fx.write_tfds(tmp_path / "tfds_data")
    return "hf:" + str(fx.write_hf(tmp_path / "hf_repo"))


@pytest.mark.parametrize("kind", ["folder", "npz", "tfds", "hf"])
def test_each_source_kind_distils_verifies_loads_exports_and_reruns(kind, offline, capsys):
    tmp = offline
    family = f"mine_{kind}"
    source = _source(kind, tmp)
    assert cli.main(["distill", "--source", source, *RUN, "--name", f"{family}/ipc2", "--licence", "CC0-1.0"]) == 0

    import distilled_registry as dr

    r = dr.load(f"{family}/ipc2")
    assert r.version == "1.0.0" and r.images.shape == (6, 8, 8, 1) and r.class_names == list(fx.CLASSES)
    src = r.provenance["source"]
    assert src["licence"] == "CC0-1.0" and src["citation"] == "unknown" and src["kind"] == kind
    assert src["counts_per_class"] == {"train": dict.fromkeys(fx.CLASSES, 6), "test": dict.fromkeys(fx.CLASSES, 3)}
    assert src["image_size"] == [8, 8] and len(src["fingerprint_sha256"]) == 64
    # one set of images whatever the container: every kind gives the same release (data.npz bytes)
    SAME.setdefault("data", r.provenance["files"]["data.npz"]["sha256"])
    assert r.provenance["files"]["data.npz"]["sha256"] == SAME["data"]

    capsys.readouterr()
    assert cli.main(["info", family, "--json"]) == 0  # a bare family of your own: its stored configs
    assert [c["name"] for c in json.loads(capsys.readouterr().out)["configs"]] == [f"{family}/ipc2"]
    assert cli.main(["verify", f"{family}/ipc2", "--accuracy", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"]["within"]
    assert cli.main(["rerun", f"{family}/ipc2", "--quiet", "--json"]) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["data_npz_identical"] and rerun["same_source"]

    import tensorflow_datasets as tfds

    from distilled_registry import builders

    assert family in builders.register()
    ds = tfds.load(f"{family}/ipc2", split="train", data_dir=str(tmp / "prepared"))
    rows = list(tfds.as_numpy(ds))
    np.testing.assert_array_equal(np.stack([e["image"] for e in rows]), r.images)
    np.testing.assert_array_equal([e["class_id"] for e in rows], r.class_ids)

    assert cli.main(["export-hf", family, "--out", str(tmp / "hub")]) == 0
    card = (tmp / "hub" / "README.md").read_text()
    # text from the provenance reaches the card escaped for Markdown (rule D): CC0\-1.0 renders as CC0-1.0
    assert escape.markdown("CC0-1.0") in card and "(`--citation`): unknown" in card and str(tmp) not in card
    import datasets

    got = datasets.load_dataset(str(tmp / "hub"), "ipc2", split="train")
    np.testing.assert_allclose(np.asarray(got["image"], np.float32), r.images)


def test_a_folder_without_test_split_is_cut_by_test_fraction_with_a_recorded_seed(offline, tmp_path):
    arrays = fx.digits_arrays(train=8, test=0)
    fx.write_folder(tmp_path / "flat", arrays)
    flat = tmp_path / "flat_classes"
    (tmp_path / "flat" / "train").rename(flat)
    from distilled_registry.pipelines import user_sources

    a = user_sources.load(user_sources.canonical(str(flat)), test_fraction=0.25, split_seed=3)
    b = user_sources.load(user_sources.canonical(str(flat)), test_fraction=0.25, split_seed=3)
    c = user_sources.load(user_sources.canonical(str(flat)), test_fraction=0.25, split_seed=4)
    assert len(a.x_test) == 6 and len(a.x_train) == 18 and np.bincount(a.y_test).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert a.describe()["split"] == {"test_fraction": 0.25, "seed": 3, "stratified": True}
    out = tmp_path / "rel"
    assert cli.main(["distill", "--source", str(flat), "--test-fraction", "0.25", "--split-seed", "3", *RUN,
                     "--out", str(out)]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["config"]["test_fraction"] == 0.25 and prov["config"]["split_seed"] == 3
    assert prov["name"] == "kip_flat_classes"


def test_image_size_resizes_mixed_images_and_is_recorded(tmp_path):
    from PIL import Image

    from distilled_registry.pipelines import user_sources

    root = fx.write_folder(tmp_path / "mixed")
    Image.new("RGB", (12, 10), (200, 10, 10)).save(root / "train" / "ant" / "big.png")
    src = user_sources.load(user_sources.canonical(str(root)), image_size=(16, 16))
    assert src.x_train.shape == (19, 16, 16, 3) and src.describe()["resized_to"] == [16, 16]


def test_a_catalog_run_keeps_its_config_keys(tmp_path):
    """The new options stay out of a catalog run's config (its checkpoints and provenance read as before)."""
    from distilled_registry.pipelines.distill import DistillConfig

    d = DistillConfig().to_dict()
    assert not {"image_size", "test_fraction", "split_seed"} & set(d)
    assert DistillConfig.from_dict(d) == DistillConfig()
    u = DistillConfig(source="folder:/x", image_size=(4, 4), test_fraction=0.5)
    assert DistillConfig.from_dict(json.loads(json.dumps(u.to_dict()))) == u


def test_tfds_registration_of_a_user_family_in_a_fresh_process(offline, tmp_path):
    """``import distilled_registry, tensorflow_datasets`` in a new process finds the store's own families."""
    import os
    import subprocess
    import sys

    assert cli.main(["distill", "--source", str(fx.write_npz(tmp_path / "d.npz")), *RUN,
                     "--name", "mine_fresh/ipc2"]) == 0
    code = ("import distilled_registry, tensorflow_datasets as tfds; "
            f"ds = tfds.load('mine_fresh/ipc2', split='train', data_dir={str(tmp_path / 'p')!r}); "
            "print(sum(1 for _ in ds))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "6"
