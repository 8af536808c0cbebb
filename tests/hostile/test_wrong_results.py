"""Wrong results served: every way a wrong array, a wrong name or a wrong scale could reach a user.

Each test makes the hostile input (a non-finite hyper-parameter, a forged release, a release under
another name, a damaged source file, an interrupted run, unscaled pixels) and checks that it is
refused clearly, before any work, and that nothing is written or served.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (synthetic_release, synthetic_sources)

import synthetic_release as syn  # noqa: E402
from synthetic_sources import write_mnist  # noqa: E402

import distilled_registry as dr  # noqa: E402
from distilled_registry import api, catalog, cli, store  # noqa: E402
from distilled_registry import release as rel  # noqa: E402
from distilled_registry.errors import UsageError, UserError  # noqa: E402
from distilled_registry.npz import npz_bytes  # noqa: E402
from distilled_registry.transform import Transform  # noqa: E402

NAME = "kip_digits/ipc10"


@pytest.fixture
def stored(home, tmp_path):
    """A synthetic release put into the store as kip_digits/ipc10:1.0.0 (its config is the catalog spec)."""
    src, data = syn.write(tmp_path / "made")
    return store.add(src, NAME, "1.0.0", {"catalog_spec": catalog.entry(NAME).spec}), data


def _rewrite(path: Path, arrays: dict | None = None, edit=None) -> None:
    """Forge a release in place: new ``data.npz`` arrays and/or an edited provenance, checksums recomputed."""
    prov = json.loads((path / rel.PROVENANCE_FILE).read_text())
    if arrays is not None:
        b = npz_bytes(arrays)  # straight to bytes: no check of ours on the way
        (path / rel.DATA_FILE).chmod(0o644)
        (path / rel.DATA_FILE).write_bytes(b)
        prov["files"][rel.DATA_FILE] = rel.digest(b)
    if edit is not None:
        edit(prov)
    (path / rel.PROVENANCE_FILE).write_text(json.dumps(prov))


def _run_cli(argv, capsys) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------------ 1. NaN releases


@pytest.mark.parametrize("option, value", [("--lr", "inf"), ("--lr", "nan"), ("--reg", "inf"), ("--reg", "nan"),
                                           ("--ls-reg", "inf"), ("--zca-reg", "inf"), ("--zca-reg", "nan")])
def test_non_finite_hyperparameters_are_refused_before_any_work(tmp_path, capsys, monkeypatch, option, value):
    from distilled_registry.pipelines import distill as distill_mod

    def no_work(*a, **k):
        raise AssertionError("the source was loaded: the check came after the work")

    monkeypatch.setattr(distill_mod, "prepare", no_work)
    out = tmp_path / "out"
    rc, _, err = _run_cli(["distill", "--ipc", "1", "--steps", "2", option, value, "--out", str(out), "--quiet"],
                          capsys)
    assert rc == 2, err
    assert option in err and "finite" in err and value in err.lower(), err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_diverging_learning_rate_exits_1_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    rc, _, err = _run_cli(["distill", "--ipc", "1", "--steps", "3", "--target-batch", "100", "--lr", "1e30",
                           "--learn-labels", "--out", str(out), "--quiet"], capsys)
    assert rc == 1, err
    assert "KIP diverged" in err and "--lr" in err and "Traceback" not in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key, bad", [("images", np.nan), ("images", np.inf), ("labels", -np.inf), ("labels", np.nan)])
def test_non_finite_arrays_are_never_written(tmp_path, key, bad):
    data = syn.arrays()
    data[key] = data[key].copy()
    data[key].flat[3] = bad
    with pytest.raises(rel.ReleaseError, match=f"{key}.*(NaN|infinite)"):
        rel.data_bytes(**data)
    out = tmp_path / "rel"
    transform = Transform(np.zeros(1, np.float32), np.ones(1, np.float32)).to_bytes()
    with pytest.raises(rel.ReleaseError, match=f"{key}.*(NaN|infinite)"):  # bytes made elsewhere: checked too
        rel.write_release(out, {rel.DATA_FILE: npz_bytes(data), rel.TRANSFORM_FILE: transform}, syn.provenance(data))
    assert list(tmp_path.iterdir()) == []


def _forge_nan(path: Path) -> None:
    d = rel.read_data(path)
    d["images"] = d["images"].copy()
    d["images"][0, 0, 0, 0] = np.nan

    def edit(p):
        p["metrics"]["krr_test_accuracy"] = 1.0

    _rewrite(path, d, edit)


def test_a_forged_nan_release_is_refused_by_verify_load_and_the_store_source(stored, capsys):
    path, _ = stored
    _forge_nan(path)
    assert all(c.ok for c in rel.verify(path) if c.name != rel.DATA_FILE)
    bad = [c for c in rel.verify(path) if not c.ok]
    assert [c.name for c in bad] == [rel.DATA_FILE] and "NaN" in bad[0].problem
    rc, out, err = _run_cli(["verify", NAME], capsys)
    assert rc == 1 and "data.npz" in err and "NaN" in err, err
    rc, _, err = _run_cli(["verify", str(path)], capsys)
    assert rc == 1 and "NaN" in err
    with pytest.raises(rel.ReleaseError, match="NaN"):
        dr.load(NAME)
    with pytest.raises(rel.ReleaseError, match="NaN"):
        api.load_path(path)
    from distilled_registry.builders import release_source

    with pytest.raises(rel.ReleaseError, match="NaN"):
        release_source.from_store(catalog.entry(NAME))


def test_the_tfds_builder_refuses_a_forged_nan_release(stored, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from distilled_registry.builders import release_source  # registers the builders
    path, data = stored
    _forge_nan(path)
    b = tfds.builder(NAME, data_dir=str(tmp_path / "tfds"))
    with pytest.raises(UserError, match="NaN"):
        b.download_and_prepare()
    assert not b.is_prepared()
    # and whatever the origin (a download, a published file), the builder's last check refuses it too
    images = data["images"].copy()
    images[1, 2, 3, 0] = np.inf
    forged = release_source.ReleaseData(NAME, "1.0.0", images, data["labels"], data["class_ids"], {}, "test")
    with pytest.raises(release_source.ReleaseShapeError, match="infinite"):
        b._check_shapes(forged)
    ids = data["class_ids"].copy()
    ids[0] = 10
    forged = release_source.ReleaseData(NAME, "1.0.0", data["images"], data["labels"], ids, {}, "test")
    with pytest.raises(release_source.ReleaseShapeError, match="class_ids"):
        b._check_shapes(forged)


def _labels_9(d):
    d["labels"] = d["labels"][:, :9]


def _images_rgb(d):
    d["images"] = np.repeat(d["images"], 3, axis=-1)


def _class_id_10(d):
    d["class_ids"] = d["class_ids"].copy()
    d["class_ids"][-1] = 10


def _one_image_less(d):
    for k in d:
        d[k] = d[k][:-1]


@pytest.mark.parametrize("forge, message", [
    (_labels_9, r"labels .*\(100, 9\).*10 classes"),
    (_images_rgb, r"images .*\(8, 8, 3\).*\[8, 8, 1\]"),
    (_class_id_10, r"class_ids .*\[0, 10\)"),
    (_one_image_less, r"99 images.*support_size 100"),
])
def test_verify_refuses_arrays_that_disagree_with_the_provenance(tmp_path, capsys, forge, message):
    path, _ = syn.write(tmp_path / "rel")
    d = rel.read_data(path)
    forge(d)
    _rewrite(path, d)
    with pytest.raises(rel.ReleaseError, match=message):
        rel.verified(path)
    rc, _, err = _run_cli(["verify", str(path)], capsys)
    assert rc == 1 and "data.npz" in err, err


@pytest.mark.parametrize("key, value, message", [
    ("krr_test_accuracy", float("nan"), r"metrics\.krr_test_accuracy is nan"),
    ("krr_test_mse", float("inf"), r"metrics\.krr_test_mse is inf"),
    ("natural_krr_test_accuracy", float("nan"), r"metrics\.natural_krr_test_accuracy is nan"),
])
def test_verify_refuses_non_finite_metrics(tmp_path, capsys, key, value, message):
    path, _ = syn.write(tmp_path / "rel")
    _rewrite(path, edit=lambda p: p["metrics"].update({key: value}))
    with pytest.raises(rel.ReleaseError, match=message):
        rel.verified(path)
    rc, _, err = _run_cli(["verify", str(path)], capsys)
    assert rc == 1 and key in err, err


def test_verify_refuses_an_accuracy_outside_0_1_below_the_top_level(tmp_path):
    path, _ = syn.write(tmp_path / "rel")
    _rewrite(path, edit=lambda p: p["metrics"].update(krr_evaluation={"accuracy": 3.5, "natural_accuracy": 0.2}))
    with pytest.raises(rel.ReleaseError, match=r"metrics\.krr_evaluation\.accuracy is 3\.5.*\[0, 1\]"):
        rel.verified(path)


# -------------------------------------------------------- 2. release names vs provenance


def test_a_release_copied_under_another_config_name_is_refused_everywhere(stored, home, capsys):
    path, _ = stored
    other = home / "kip_digits" / "ipc1" / "1.0.0"
    shutil.copytree(path, other)
    msg = r"kip_digits/ipc1:1\.0\.0.*kip_digits/ipc10:1\.0\.0"
    with pytest.raises(rel.ReleaseError, match=msg):
        dr.load("kip_digits/ipc1")
    rc, _, err = _run_cli(["verify", "kip_digits/ipc1"], capsys)
    assert rc == 1 and "kip_digits/ipc10" in err and "Traceback" not in err, err
    rc, out, err = _run_cli(["info", "kip_digits/ipc1"], capsys)  # shows the problem, does not crash
    assert rc == 0 and "kip_digits/ipc10" in out, out + err
    rc, out, err = _run_cli(["list"], capsys)
    assert rc == 0 and "kip_digits/ipc1:1.0.0" in out and "kip_digits/ipc10" in out, out + err
    rows = {r["name"]: r for r in api.list_releases()}
    assert "1.0.0" in rows["kip_digits/ipc1"]["problems"] and "problems" not in rows[NAME]
    from distilled_registry.builders import huggingface_export, release_source

    with pytest.raises(rel.ReleaseError, match=msg):
        release_source.from_store(catalog.entry("kip_digits/ipc1"))
    with pytest.raises(rel.ReleaseError, match=msg):
        huggingface_export.family_releases("kip_digits")
    assert dr.load(NAME).name == NAME  # the right one still loads


def test_a_distill_out_written_straight_into_the_store_is_refused(home, capsys):
    syn.write(home / "kip_digits" / "ipc10" / "1.0.0")  # no release block: never put into the store by name
    with pytest.raises(rel.ReleaseError, match=r"kip_digits/ipc10:1\.0\.0.*no release name"):
        dr.load(NAME)
    rc, _, err = _run_cli(["verify", NAME], capsys)
    assert rc == 1 and "no release name" in err, err


def _config_edit(**changes):
    def edit(p):
        p["config"].update(changes)
    return edit


@pytest.mark.parametrize("changes, field", [({"steps": 3}, "steps"), ({"ipc": 1}, "ipc"), ({"seed": 4}, "seed"),
                                            ({"learn_labels": False}, "learn_labels"),
                                            ({"source": "mnist"}, "source")])
def test_a_release_whose_config_is_not_the_catalog_spec_is_refused(home, tmp_path, changes, field):
    src, _ = syn.write(tmp_path / "made")
    _rewrite(src, edit=_config_edit(**changes))
    with pytest.raises(rel.ReleaseError, match=f"(kip_digits/ipc10|config).*{field}"):
        store.add(src, NAME, "1.0.0")
    assert store.versions(NAME) == []  # nothing written
    # forged in place, with a release block of the right name: refused on read
    dest = home / "kip_digits" / "ipc10" / "1.0.0"
    dest.parent.mkdir(parents=True)
    shutil.copytree(src, dest)
    _rewrite(dest, edit=lambda p: p.update(release={"name": NAME, "family": "kip_digits", "config": "ipc10",
                                                    "version": "1.0.0"}))
    with pytest.raises(rel.ReleaseError, match=f"{field}"):
        dr.load(NAME)


def test_a_release_of_another_family_is_refused(home, tmp_path):
    src, _ = syn.write(tmp_path / "made")
    _rewrite(src, edit=lambda p: p.update(name="ls_digits"))
    with pytest.raises(rel.ReleaseError, match="ls_digits.*kip_digits"):
        store.add(src, NAME, "1.0.0")


def test_the_tile_may_differ_and_other_names_are_compared_by_name_only(home, tmp_path):
    src, _ = syn.write(tmp_path / "made")
    _rewrite(src, edit=_config_edit(tile=64))
    store.add(src, NAME, "1.0.0")
    assert dr.load(NAME).provenance["config"]["tile"] == 64
    other, _ = syn.write(tmp_path / "custom")
    _rewrite(other, edit=_config_edit(steps=3))
    store.add(other, "kip_digits/my-run", "0.1.0")  # not a catalog config: no spec to hold it to
    assert dr.load("kip_digits/my-run").version == "0.1.0"


# --------------------------------------------------------------------- 3. source validation


@pytest.mark.parametrize("override, message", [
    ({"train_labels": np.arange(30) % 9}, r"train-labels.* train split: class 9 \('9'\) is absent"),
    ({"test_labels": np.arange(20) % 9}, r"t10k-labels.* test split: class 9 .* is absent"),
    ({"train_labels": np.where(np.arange(30) == 4, 12, np.arange(30) % 10)}, r"train split: label 12.*\[0, 10\)"),
    ({"test_images": np.zeros((0, 28, 28)), "test_labels": np.zeros(0)}, r"t10k-images.* test split is empty"),
    ({"train_images": np.zeros((30, 32, 32))}, r"train split: images are \(32, 32, 1\).*\(28, 28, 1\)"),
])
def test_bad_mnist_files_are_refused_naming_split_value_and_expectation(tmp_path, override, message):
    from distilled_registry.pipelines.sources import SourceError, load_source

    write_mnist(tmp_path, n_test=20, **override)
    with pytest.raises(SourceError, match=message):
        load_source("mnist", tmp_path)


@pytest.mark.parametrize("dims", [(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (1 << 31, 1 << 31), (70000, 28, 28)])
def test_an_idx_header_with_absurd_dims_is_refused_before_allocating(tmp_path, dims):
    from distilled_registry.pipelines.sources import SourceError, read_idx

    f = tmp_path / "x-idx3-ubyte"
    f.write_bytes(bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + b"\0" * 100)
    with pytest.raises(SourceError, match=r"x-idx3-ubyte.*header.*100 bytes"):
        read_idx(f)


def test_a_gzipped_idx_header_with_absurd_dims_is_refused_before_reading_the_data(tmp_path):
    from distilled_registry.pipelines.sources import SourceError, read_idx

    f = tmp_path / "x-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)))
    with pytest.raises(SourceError, match=r"x-idx3-ubyte\.gz.*header says .* more than a gzip file of \d+ bytes"):
        read_idx(f)


@pytest.mark.parametrize("ndim", [0, 9, 255])
def test_an_idx_header_with_a_strange_ndim_is_refused(tmp_path, ndim):
    from distilled_registry.pipelines.sources import SourceError, read_idx

    f = tmp_path / "x-idx3-ubyte"
    f.write_bytes(bytes([0, 0, 8, ndim]) + b"\0" * 40)
    with pytest.raises(SourceError, match=f"x-idx3-ubyte.*{ndim} dimensions"):
        read_idx(f)


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN"), (np.inf, "infinite"), (300.0, r"300.*\[0, 255\]"),
                                          (-1.0, r"-1.*\[0, 255\]"), (12.5, "whole")])
def test_svhn_float_pixels_that_are_not_uint8_values_are_refused(tmp_path, bad, message):
    from scipy.io import savemat

    from distilled_registry.pipelines.sources import SourceError, load_source

    rng = np.random.default_rng(0)
    for f, n in (("train_32x32.mat", 20), ("test_32x32.mat", 10)):
        x = rng.integers(0, 256, (32, 32, 3, n)).astype(np.float64)
        if f.startswith("test"):
            x[3, 4, 1, 2] = bad
        savemat(tmp_path / f, {"X": x, "y": (np.arange(n) % 10 + 1).reshape(-1, 1)})
    with pytest.raises(SourceError, match=f"test_32x32.mat.*{message}"):
        load_source("svhn_cropped", tmp_path)


def test_svhn_good_float_files_still_load(tmp_path):
    from scipy.io import savemat

    from distilled_registry.pipelines.sources import load_source

    rng = np.random.default_rng(0)
    for f, n in (("train_32x32.mat", 20), ("test_32x32.mat", 10)):
        savemat(tmp_path / f, {"X": rng.integers(0, 256, (32, 32, 3, n)).astype(np.float64),
                               "y": (np.arange(n) % 10 + 1).reshape(-1, 1)})
    src = load_source("svhn_cropped", tmp_path)
    assert src.x_train.shape == (20, 32, 32, 3) and 0 <= src.x_train.min() and src.x_train.max() <= 1
    assert sorted(set(src.y_train.tolist())) == list(range(10))


@pytest.mark.parametrize("make, message", [
    (lambda x: x.astype(np.float32) * np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, 1), "NaN"),
    (lambda x: x.astype(np.int32) + 300, r"\[0, 255\]"),
    (lambda x: x.astype(np.int16) - 1, r"-1.*\[0, 255\]"),
    (lambda x: x.astype(bool), "dtype bool"),
])
def test_cifar_arrays_are_checked_whatever_reader_made_them(make, message):
    from distilled_registry.pipelines import sources

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 32, 32, 3)).astype(np.uint8)
    y = np.arange(20) % 10
    with pytest.raises(sources.SourceError, match=f"cifar10 .*train split.*{message}"):
        sources._finish("cifar10", make(x), y, x[:10], y[:10], sources.CIFAR10_CLASSES, origin="test")


# ---------------------------------------------------------- 4. resume after the last checkpoint


def test_resume_after_the_last_checkpoint_gives_the_uninterrupted_release(tmp_path, monkeypatch):
    from distilled_registry.pipelines import checkpoint
    from distilled_registry.pipelines.distill import DistillConfig, distill

    cfg = DistillConfig(ipc=2, steps=4, target_batch=100, learn_labels=True)
    ckpt = tmp_path / "ckpt"
    with monkeypatch.context() as mp:  # the run ends normally, but its last checkpoint is kept
        mp.setattr(checkpoint, "remove", lambda d: None)
        distill(cfg, tmp_path / "whole", progress=False, checkpoint_every=4, checkpoint_dir=ckpt)
    assert (ckpt / checkpoint.FILE).is_file()
    distill(cfg, tmp_path / "resumed", progress=False, checkpoint_dir=ckpt, resume=True)
    a, b = tmp_path / "whole", tmp_path / "resumed"
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    assert (b / "loss_curve.png").is_file()
    for f in ("data.npz", "transform.npz", "preview.png", "loss_curve.png", "data.parquet"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    pa, pb = (json.loads((p / rel.PROVENANCE_FILE).read_text()) for p in (a, b))
    assert pb["algorithm"]["final_loss"] == pa["algorithm"]["final_loss"] is not None
    assert pb["algorithm"]["resumed_from_step"] == 4
    for p in (pa, pb):
        for k in ("timing", "created"):
            p.pop(k)
        p["algorithm"].pop("resumed_from_step")
        p["files"].pop("croissant.json")
    assert pa == pb
    ca, cb = (_without_times(json.loads((p / "croissant.json").read_text())) for p in (a, b))
    assert ca == cb
    assert not (ckpt / checkpoint.FILE).exists()


TIME_KEYS = {"dateCreated", "datePublished", "prov:startedAtTime", "prov:endedAtTime", "prov:generatedAtTime"}


def _without_times(x):
    """A croissant.json document without its dates and times (when the run started and ended)."""
    if isinstance(x, dict):
        return {k: _without_times(v) for k, v in x.items() if k not in TIME_KEYS}
    if isinstance(x, list):
        return [_without_times(v) for v in x]
    return x


# ---------------------------------------------------------------- 5. Transform.apply checks


def test_transform_refuses_images_of_another_shape(tmp_path):
    from distilled_registry.pipelines.preprocess import fit_transform
    from distilled_registry.transform import TransformError

    x = np.random.default_rng(0).uniform(size=(30, 8, 8, 1)).astype(np.float32)
    for zca in (False, True):
        t = fit_transform(x, zca=zca)
        (tmp_path / "t.npz").write_bytes(t.to_bytes())
        t2 = Transform.load(tmp_path / "t.npz")
        assert t2.image_shape == (8, 8, 1)
        assert t2.apply(x[:2]).shape == (2, 8, 8, 1)
        for shape in ((2, 9, 9, 1), (2, 4, 16, 1), (2, 8, 8, 3)):
            with pytest.raises(TransformError, match=rf"\(8, 8, 1\).*{shape[1]}, {shape[2]}, {shape[3]}"):
                t2.apply(np.zeros(shape, np.float32))
    assert issubclass(TransformError, UserError) and issubclass(TransformError, ValueError)
    from distilled_registry.cli.exit_codes import exit_code

    assert exit_code(TransformError("x")) == 1 and not issubclass(TransformError, UsageError)


@pytest.mark.parametrize("x, message", [
    (np.full((2, 8, 8, 1), 255, np.uint8), r"dtype uint8.*divide uint8 by 255"),
    (np.full((2, 8, 8, 1), 255.0, np.float32), r"max 255.*divide uint8 by 255"),
    (np.full((2, 8, 8, 1), -3.0), r"min -3.*scale raw pixels to \[0, 1\]"),
    (np.where(np.arange(128).reshape(2, 8, 8, 1) == 5, np.nan, 0.5), "NaN"),
])
def test_transform_refuses_unscaled_or_nan_input(x, message):
    from distilled_registry.pipelines.preprocess import fit_transform
    from distilled_registry.transform import TransformError

    t = fit_transform(np.random.default_rng(0).uniform(size=(30, 8, 8, 1)), zca=False)
    with pytest.raises(TransformError, match=message):
        t.apply(x)


def test_an_old_transform_file_infers_what_it_can(tmp_path):
    from distilled_registry.transform import TransformError

    f = tmp_path / "t.npz"
    # ZCA over 64 values of 1 channel: square 8x8 images (every source here is square)
    f.write_bytes(Transform(np.zeros(1, np.float32), np.ones(1, np.float32), np.eye(64, dtype=np.float32)).to_bytes())
    t = Transform.load(f)
    assert t.image_shape is None and t.fitted_shape() == (8, 8, 1)
    assert t.apply(np.full((1, 8, 8, 1), 0.5)).shape == (1, 8, 8, 1)
    for shape in ((1, 4, 16, 1), (1, 9, 9, 1), (1, 8, 8, 3)):
        with pytest.raises(TransformError, match=r"\(8, 8, 1\)"):
            t.apply(np.zeros(shape))
    # 32 values: not square, so only the size is known
    f.write_bytes(Transform(np.zeros(1, np.float32), np.ones(1, np.float32), np.eye(32, dtype=np.float32)).to_bytes())
    t = Transform.load(f)
    assert t.fitted_shape() == (None, None, 1) and t.apply(np.zeros((1, 4, 8, 1))).shape == (1, 4, 8, 1)
    with pytest.raises(TransformError, match="64 values.*32 values"):
        t.apply(np.zeros((1, 8, 8, 1)))
    # no ZCA: only the channels are known
    f.write_bytes(Transform(np.zeros(1, np.float32), np.ones(1, np.float32)).to_bytes())
    with pytest.raises(TransformError, match=r"\(\?, \?, 1\) images \(1 channel\)"):
        Transform.load(f).apply(np.zeros((1, 8, 8, 3)))


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a transform file"),
    (None, "lacks"),
    ("badjson", "meta"),
    ("nan", "NaN"),
])
def test_a_bad_transform_file_is_named(tmp_path, content, message):
    from distilled_registry.transform import TransformError

    f = tmp_path / "transform.npz"
    good = {"mean": np.zeros(1, np.float32), "std": np.ones(1, np.float32),
            "meta_json": np.frombuffer(b'{"format": "distilled_registry.transform/1", "params": {}}', np.uint8)}
    if content is None:
        f.write_bytes(npz_bytes({k: v for k, v in good.items() if k != "std"}))
    elif content == "badjson":
        f.write_bytes(npz_bytes({**good, "meta_json": np.frombuffer(b"{nope", np.uint8)}))
    elif content == "nan":
        f.write_bytes(npz_bytes({**good, "mean": np.array([np.nan], np.float32)}))
    else:
        f.write_bytes(content)
    with pytest.raises(TransformError, match=f"{f.name}.*{message}|{message}.*{f.name}") as e:
        Transform.load(f)
    assert str(f) in str(e.value)
