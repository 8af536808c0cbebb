"""Your own source, refused before any work (issue 25 part 4): exit 2, one line naming the file, nothing written.

Each case breaks a small source made here (tests/user_fixtures.py) in one way."""

import sys
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import user_fixtures as fx  # noqa: E402


def _refused(capsys, tmp_path, source, *extra, names_=()):
    """Run distill; assert exit 2, one stderr line holding every text of ``names_``, no release written."""
    capsys.readouterr()
    out = tmp_path / "never"
    code = cli.main(["distill", "--source", str(source), "--ipc", "1", "--steps", "1", "--quiet", "--out", str(out),
                     *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("distilled-registry distill: error:"), err
    for text in names_:
        assert text in err, err
    assert not out.exists()
    return err


def test_mixed_sizes_without_image_size(capsys, tmp_path, home):
    from PIL import Image

    root = fx.write_folder(tmp_path / "imgs")
    Image.new("L", (9, 8)).save(root / "train" / "bee" / "wide.png")
    _refused(capsys, tmp_path, root, names_=("wide.png", "8x9", "--image-size"))


def test_mixed_channel_counts_without_image_size(capsys, tmp_path, home):
    from PIL import Image

    root = fx.write_folder(tmp_path / "imgs")
    Image.new("RGB", (8, 8)).save(root / "test" / "cat" / "colour.png")
    _refused(capsys, tmp_path, root, names_=("colour.png", "3 channel", "--image-size"))


def test_truncated_and_unreadable_images_are_named(capsys, tmp_path, home):
    root = fx.write_folder(tmp_path / "imgs")
    good = (root / "train" / "ant" / "00000.png").read_bytes()
    (root / "train" / "ant" / "00001.png").write_bytes(good[: len(good) // 2])
    (root / "train" / "bee" / "00006.png").write_bytes(b"not an image at all")
    for i in range(3):
        (root / "test" / "cat" / f"bad{i}.jpg").write_bytes(b"\xff\xd8junk")
    err = _refused(capsys, tmp_path, root, names_=("5 image(s) cannot be read", "00001.png", "00006.png",
                                                   "and 2 more"))
    assert "bad2.jpg" not in err  # the first few are named, not all


def test_one_class_only(capsys, tmp_path, home):
    arrays = {s: (x[y == 0], y[y == 0]) for s, (x, y) in fx.digits_arrays().items()}
    root = fx.write_folder(tmp_path / "imgs", arrays)
    _refused(capsys, tmp_path, root, names_=(str(root), "only one class"))


def test_a_class_with_fewer_training_images_than_ipc(capsys, tmp_path, home):
    root = fx.write_folder(tmp_path / "imgs")
    err = _refused(capsys, tmp_path, root, "--ipc", "7", names_=(str(root), "--ipc 7", "6 training images"))
    assert "--ipc 6" in err


@pytest.mark.parametrize("bad", ["label_out_of_range", "one_hot_wrong_width", "test_class_not_in_train"])
def test_labels_that_do_not_match_the_class_list(capsys, tmp_path, home, bad):
    if bad == "test_class_not_in_train":
        root = fx.write_folder(tmp_path / "imgs")
        (root / "test" / "cat").rename(root / "test" / "dog")
        _refused(capsys, tmp_path, root, names_=("dog", "not among the training classes"))
        return
    arrays = fx.digits_arrays()
    path = tmp_path / "d.npz"
    if bad == "label_out_of_range":
        y = arrays["test"][1].copy()
        y[4] = 3
        np.savez(path, x_train=arrays["train"][0], y_train=arrays["train"][1], x_test=arrays["test"][0], y_test=y,
                 class_names=np.array(fx.CLASSES))
        _refused(capsys, tmp_path, path, names_=(str(path), "y_test[4] is 3", "class list"))
    else:
        np.savez(path, x_train=arrays["train"][0], y_train=np.eye(4)[arrays["train"][1]], x_test=arrays["test"][0],
                 y_test=arrays["test"][1], class_names=np.array(fx.CLASSES))
        _refused(capsys, tmp_path, path, names_=(str(path), "y_train", "one-hot"))


def test_an_empty_test_split(capsys, tmp_path, home):
    arrays = fx.digits_arrays()
    path = tmp_path / "d.npz"
    np.savez(path, x_train=arrays["train"][0], y_train=arrays["train"][1], x_test=np.zeros((0, 8, 8), np.uint8),
             y_test=np.zeros(0, np.int64))
    _refused(capsys, tmp_path, path, names_=(str(path), "test split is empty"))


@pytest.mark.parametrize("case", ["file_beside_classes", "nested_folder", "no_split_no_fraction", "only_train",
                                  "not_an_image", "empty_class"])
def test_a_folder_that_is_not_the_layout(capsys, tmp_path, home, case):
    root = fx.write_folder(tmp_path / "imgs")
    named = {"file_beside_classes": "notes.txt", "nested_folder": "deeper", "no_split_no_fraction": "--test-fraction",
             "only_train": "not both", "not_an_image": "labels.csv", "empty_class": "cat"}[case]
    if case == "file_beside_classes":
        (root / "notes.txt").write_text("x")
    elif case == "nested_folder":
        (root / "train" / "ant" / "deeper").mkdir()
    elif case == "no_split_no_fraction":
        (root / "test").rename(tmp_path / "elsewhere")
        (root / "train").rename(tmp_path / "flat")
        root = tmp_path / "flat"
    elif case == "only_train":
        (root / "test").rename(tmp_path / "elsewhere")
    elif case == "not_an_image":
        (root / "train" / "bee" / "labels.csv").write_text("a,b")
    else:
        for p in (root / "test" / "cat").iterdir():
            p.unlink()
    _refused(capsys, tmp_path, root, names_=(named,))


def test_an_npz_with_pickled_objects_is_refused_without_running_them(capsys, tmp_path, home):
    arrays = fx.digits_arrays()
    path = tmp_path / "d.npz"
    np.savez(path, x_train=arrays["train"][0], y_train=np.array([object()] * 18, dtype=object),
             x_test=arrays["test"][0], y_test=arrays["test"][1])
    _refused(capsys, tmp_path, path, names_=(str(path), "no pickles"))


@pytest.mark.parametrize("name", ["kip_digits/ipc1", "mnist/ipc1", "mine/IPC1", "mine/../x", "../mine/ipc1"])
def test_a_name_that_collides_or_escapes_is_refused(capsys, tmp_path, home, name):
    root = fx.write_folder(tmp_path / "imgs")
    capsys.readouterr()
    assert cli.main(["distill", "--source", str(root), "--ipc", "1", "--steps", "1", "--quiet", "--name", name]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not home.exists() or not any(home.rglob("provenance.json"))


def test_a_checkpointed_run_into_the_store_alone_needs_a_checkpoint_dir(capsys, tmp_path, home):
    """The default checkpoint folder lies beside --out; with --name alone it would vanish with the run."""
    root = fx.write_folder(tmp_path / "imgs")
    capsys.readouterr()
    assert cli.main(["distill", "--source", str(root), "--ipc", "1", "--steps", "1", "--quiet", "--name", "mine/ipc1",
                     "--checkpoint-every", "1"]) == 2
    assert "--checkpoint-dir" in capsys.readouterr().err
    assert not home.exists() or not any(home.rglob("provenance.json"))
