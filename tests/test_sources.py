import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from distilled_registry.pipelines import sources
from distilled_registry.pipelines.sources import SourceError, load_source
from synthetic_sources import write_mnist


def test_digits_split_is_fixed_stratified_and_scaled(digits):
    assert digits.x_train.shape[1:] == (8, 8, 1) and digits.x_train.dtype == np.float32
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    frac = np.bincount(digits.y_test) / (np.bincount(digits.y_test) + np.bincount(digits.y_train))
    assert np.all(np.abs(frac - 0.25) < 0.01)  # stratified
    again = load_source("digits")
    assert again.fingerprint == digits.fingerprint
    np.testing.assert_array_equal(again.x_test, digits.x_test)


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
