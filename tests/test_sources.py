import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest
from synthetic_sources import write_mnist

from distilled_registry.pipelines import sources
from distilled_registry.pipelines.sources import SourceError, load_source


def test_digits_split_is_fixed_stratified_and_scaled(digits):
    assert digits.x_train.shape[1:] == (8, 8, 1) and digits.x_train.dtype == np.float32
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    frac = np.bincount(digits.y_test) / (np.bincount(digits.y_test) + np.bincount(digits.y_train))
    assert np.all(np.abs(frac - 0.25) < 0.01)  # stratified
    again = load_source("digits")
    assert again.fingerprint == digits.fingerprint
    np.testing.assert_array_equal(again.x_test, digits.x_test)


def test_digits_are_load_digits_read_without_importing_sklearn(monkeypatch):
    """The file read directly gives load_digits' arrays; where that file is not found, load_digits itself."""
    import importlib.util

    from sklearn.datasets import load_digits

    want = load_digits()
    images, target = sources.digits_arrays()
    assert np.array_equal(images, want.images) and np.array_equal(target, want.target)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    images, target = sources.digits_arrays()
    assert np.array_equal(images, want.images) and np.array_equal(target, want.target)


def test_unknown_source_is_a_clear_error():
    with pytest.raises(SourceError, match="unknown source 'imagenet'.*digits"):
        load_source("imagenet")


def test_idx_files_read_exactly(tmp_path):
    arrays = write_mnist(tmp_path)
    src = load_source("mnist", tmp_path)
    np.testing.assert_array_equal(src.x_train[..., 0] * 255, arrays["train_images"])
    np.testing.assert_array_equal(src.y_test, arrays["test_labels"])
    assert src.origin == "local:idx" and set(src.files) == set(sources.IDX_FILES.values())


def test_missing_and_truncated_idx_files_name_the_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(SourceError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_source("fashion_mnist", tmp_path)
    write_mnist(tmp_path)
    raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(SourceError, match="train-images-idx3-ubyte.gz.*truncated"):
        load_source("mnist", tmp_path)
    with pytest.raises(SourceError, match="not a directory"):
        load_source("mnist", tmp_path / "nope")


def _cifar_rows(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def test_cifar10_python_batches_are_nhwc(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rows = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        rows[name] = _cifar_rows(10, i)  # every class in every split: a source lacking one is refused
        (d / name).write_bytes(pickle.dumps({b"data": rows[name], b"labels": list(range(10))}))
    src = load_source("cifar10", tmp_path)
    assert src.x_train.shape == (50, 32, 32, 3)
    # channel c of pixel (h, w) is row byte c*1024 + h*32 + w
    r = rows["test_batch"][2]
    assert src.x_test[2, 5, 7, 1] * 255 == pytest.approx(r[1 * 1024 + 5 * 32 + 7])


def test_cifar10_binary_batches(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        rows = _cifar_rows(10, i)
        labels = np.arange(10, dtype=np.uint8)[::-1, None]  # every class in every split
        (d / name).write_bytes(np.concatenate([labels, rows], 1).tobytes())
    src = load_source("cifar10", tmp_path)
    assert src.x_train.shape == (50, 32, 32, 3) and list(src.y_test) == list(range(9, -1, -1))
    (d / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(SourceError, match="test_batch.bin.*3073"):
        load_source("cifar10", tmp_path)


def _tar(path, folder):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)


@pytest.mark.parametrize("archive", [False, True])
def test_cifar10_binary_and_python_versions_read_equal(tmp_path, archive):
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    py, bn = tmp_path / "py" / "cifar-10-batches-py", tmp_path / "bin" / "cifar-10-batches-bin"
    for d in (py, bn):
        d.mkdir(parents=True)
    for i, name in enumerate(names):
        rows, labels = _cifar_rows(20, i), (np.arange(20) * 7 + i) % 10  # every class in every split
        (py / name).write_bytes(pickle.dumps({"data": rows, "labels": labels.tolist()}, protocol=2))
        (bn / f"{name}.bin").write_bytes(np.concatenate([labels[:, None].astype(np.uint8), rows], 1).tobytes())
    if archive:  # the archives as distributed: cifar-10-python.tar.gz, cifar-10-binary.tar.gz
        _tar(tmp_path / "py" / "cifar-10-python.tar.gz", py)
        _tar(tmp_path / "bin" / "cifar-10-binary.tar.gz", bn)
        for d in (py, bn):
            for f in d.iterdir():
                f.unlink()
            d.rmdir()
    a, b = load_source("cifar10", tmp_path / "py"), load_source("cifar10", tmp_path / "bin")
    assert (a.origin, b.origin) == ("local:cifar10-python", "local:cifar10-binary")
    assert a.x_train.shape == (100, 32, 32, 3) and a.fingerprint == b.fingerprint
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.x_test[3, 4, 5, 2] * 255 == pytest.approx(_cifar_rows(20, 5)[3][2 * 1024 + 4 * 32 + 5])


def test_cifar100_binary_and_python_versions_read_equal(tmp_path):
    py, bn = tmp_path / "py" / "cifar-100-python", tmp_path / "bin" / "cifar-100-binary"
    for d in (py, bn):
        d.mkdir(parents=True)
    classes = list(sources.FACTS["cifar100"].class_names)
    for i, split in enumerate(("train", "test")):
        rows, fine = _cifar_rows(100, i), np.roll(np.arange(100), i)
        coarse = fine // 5
        (py / split).write_bytes(pickle.dumps({b"data": rows, b"fine_labels": fine.tolist(),
                                               b"coarse_labels": coarse.tolist()}, protocol=2))
        (bn / f"{split}.bin").write_bytes(np.concatenate([coarse[:, None], fine[:, None], rows], 1)
                                          .astype(np.uint8).tobytes())
    (py / "meta").write_bytes(pickle.dumps({"fine_label_names": classes}, protocol=4))
    a, b = load_source("cifar100", tmp_path / "py"), load_source("cifar100", tmp_path / "bin")
    assert (a.origin, b.origin) == ("local:cifar100-python", "local:cifar100-binary")
    assert a.class_names == b.class_names == classes and a.fingerprint == b.fingerprint
    assert b.y_test.tolist() == np.roll(np.arange(100), 1).tolist()  # the fine label, not the coarse one
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    (bn / "test.bin").write_bytes(bytes(3073 * 2))  # CIFAR-10's record size: not whole CIFAR-100 records
    with pytest.raises(SourceError, match="cifar-100-binary/test.bin: size 6146 is not a multiple of 3074"):
        load_source("cifar100", tmp_path / "bin")


def test_cifar10_jpeg_tarball_layout(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split, n in (("train", 2), ("test", 1)):
            for cls in sources.CIFAR10_CLASSES:  # every class in every split
                for k in range(n):
                    img = io.BytesIO()
                    Image.fromarray(np.full((32, 32, 3), 40 * k + 10, np.uint8)).save(img, format="JPEG")
                    info = tarfile.TarInfo(f"jpg/{split}/{cls}/{k:04d}.jpg")
                    info.size = len(img.getvalue())
                    tar.addfile(info, io.BytesIO(img.getvalue()))
    (tmp_path / "cifar10-jpg.tar.gz").write_bytes(buf.getvalue())
    src = load_source("cifar10", tmp_path)
    assert src.x_train.shape == (20, 32, 32, 3) and list(src.y_train) == list(np.repeat(np.arange(10), 2))
    assert not src.exact and src.origin == "local:cifar10-jpeg"
    assert "cifar10-jpg.tar.gz" in src.files


def test_cifar10_nothing_readable(tmp_path):
    with pytest.raises(SourceError, match="cifar-10-batches-py"):
        load_source("cifar10", tmp_path)


def test_tfds_path_with_mocked_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=100):  # random labels: enough for every class to be present
        src = load_source("fashion_mnist")
    assert src.x_train.shape == (100, 28, 28, 1) and src.origin.startswith("tfds:fashion_mnist:")
    assert src.class_names == sources.FASHION_CLASSES


def test_real_mnist_files(real_data):
    src = load_source("mnist", real_data / "mnist")
    assert src.x_train.shape == (60000, 28, 28, 1) and src.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(src.y_test).tolist()[:3] == [980, 1135, 1032]
