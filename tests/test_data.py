"""mobilecnn.data: shapes and ranges, the fixed digits split, the CIFAR-10 reader, offline error."""

from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest

from mobilecnn import data


def test_digits_shapes_ranges_and_sizes():
    (x_train, y_train), (x_test, y_test) = data.load("digits", image_size=32)
    assert x_train.shape == (data.DIGITS_SIZES["train"], 32, 32, 3)
    assert x_test.shape == (data.DIGITS_SIZES["test"], 32, 32, 3)
    assert len(x_train) + len(x_test) == 1797
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and 0.99 < x.max() <= 1.0
        np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grey, three equal channels
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_digits_other_size_and_identity_resize():
    (x8, _), _ = data.load("digits", image_size=8)
    (x48, _), _ = data.load("digits", image_size=48)
    assert x48.shape[1:] == (48, 48, 3)
    # At 8 pixels nothing is resized: the values are scikit-learn's grey levels / 16.
    # k / 16 is exact in float32, and so is its product with 16
    np.testing.assert_array_equal(np.unique(x8 * 16), np.arange(17))


def test_default_name_comes_from_environment(monkeypatch):
    monkeypatch.delenv("MOBILECNN_DATASET", raising=False)
    assert data.dataset_name() == "digits"
    monkeypatch.setenv("MOBILECNN_DATASET", "cifar10")
    assert data.dataset_name() == "cifar10"
    monkeypatch.setenv("MOBILECNN_DATASET", "mnist")
    with pytest.raises(ValueError, match="name must be one of"):
        data.load()


def test_split_is_fixed_and_stratified():
    (_, y1), (x_test1, t1) = data.load("digits")
    (_, y2), (x_test2, t2) = data.load("digits")
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(x_test1, x_test2)
    # Stratified: every class is 20% test, give or take one image.
    per_class_all = np.bincount(np.concatenate([y1, t1]))
    np.testing.assert_allclose(np.bincount(t1), per_class_all * data.TEST_FRACTION, atol=1)


@pytest.mark.parametrize("size", [0, 7, 2000, 32.0, True, "32"])
def test_bad_image_size(size):
    with pytest.raises(ValueError, match="image_size"):
        data.load("digits", image_size=size)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset name must be one of 'digits', 'cifar10'"):
        data.load("imagenet")


def test_resize_is_bilinear():
    # A horizontal ramp stays a ramp; constant images stay constant.
    ramp = np.tile(np.arange(4, dtype=np.float32), (1, 4, 1))          # (1, 4, 4)
    out = data.resize(ramp, 8)[0]
    # interpolated in float64 and stored in float32: within one float32 spacing of values
    # below 4 (2.4e-7)
    np.testing.assert_allclose(out[0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=2.4e-7)
    np.testing.assert_allclose(out, out[:1].repeat(8, axis=0))
    # float32(0.7) is 1.2e-8 from 0.7; weights summing to one in float64, then float32 again:
    # within two float32 spacings at 0.7 (6e-8 each)
    np.testing.assert_allclose(data.resize(np.full((2, 3, 3), 0.7), 5), 0.7, atol=1.2e-7)


def test_to_channels_first():
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    y = data.to_channels_first(x)
    assert y.shape == (2, 3, 4, 5) and y.flags.c_contiguous
    assert y[1, 2, 3, 4] == x[1, 3, 4, 2]
    with pytest.raises(ValueError, match="x must be"):
        data.to_channels_first(x[0])


# ---- CIFAR-10, in its on-disk format ------------------------------------------------------------

def _fake_images(n: int, seed: int) -> tuple:
    """``n`` random 32x32 RGB images (uint8, HWC) and labels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def _write_batch(path, images, labels) -> None:
    """Pickle a batch the way CIFAR-10's python archive stores it: rows of 3072 bytes, the red
    plane, then green, then blue, each 32 rows of 32 pixels."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"fake", b"labels": labels, b"data": rows,
                     b"filenames": [b"x.png"] * len(labels)}, f, protocol=2)


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """A data directory holding a miniature ``cifar-10-batches-py`` (3 images per batch)."""
    folder = tmp_path / data.CIFAR10_FOLDER
    folder.mkdir()
    written = {}
    for i, batch in enumerate(data.CIFAR10_TRAIN_BATCHES + (data.CIFAR10_TEST_BATCH,)):
        written[batch] = _fake_images(3, seed=i)
        _write_batch(folder / batch, *written[batch])
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    monkeypatch.setenv("MOBILECNN_CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    return tmp_path, written


def test_cifar10_reads_the_pickled_batches(cifar_dir):
    _, written = cifar_dir
    (x_train, y_train), (x_test, y_test) = data.load("cifar10", image_size=32)
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    images, labels = written["data_batch_2"]
    # pixels and channel order; one float32 division: within float32's eps (relative)
    np.testing.assert_allclose(x_train[3:6], images / 255.0, rtol=2 ** -23, atol=0)
    assert y_train[3:6].tolist() == labels
    np.testing.assert_allclose(x_test, written["test_batch"][0] / 255.0, rtol=2 ** -23, atol=0)
    assert y_test.tolist() == written["test_batch"][1]


def test_cifar10_resized(cifar_dir):
    (x_train, _), _ = data.load("cifar10", image_size=16)
    assert x_train.shape == (15, 16, 16, 3) and 0 <= x_train.min() and x_train.max() <= 1


def test_cifar10_unpacks_a_cached_archive(cifar_dir, tmp_path_factory, monkeypatch):
    source, written = cifar_dir
    other = tmp_path_factory.mktemp("archive_only")
    with tarfile.open(other / data.CIFAR10_ARCHIVE, "w:gz") as tar:
        tar.add(source / data.CIFAR10_FOLDER, arcname=data.CIFAR10_FOLDER)
    monkeypatch.setenv("MOBILECNN_DATA", str(other))
    _, (x_test, y_test) = data.load("cifar10")
    assert (other / data.CIFAR10_FOLDER / "test_batch").is_file()
    assert y_test.tolist() == written["test_batch"][1]


def test_cifar10_rejects_a_file_in_another_format(cifar_dir):
    folder = cifar_dir[0] / data.CIFAR10_FOLDER
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        data.load("cifar10")


def test_cifar10_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load("cifar10", url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    message = str(err.value)
    assert isinstance(err.value, OSError)
    assert str(tmp_path) in message and data.CIFAR10_ARCHIVE in message and "'digits'" in message
    assert not any(tmp_path.iterdir())   # no partial download left behind


def test_cifar10_offline_error_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    monkeypatch.setenv("MOBILECNN_CIFAR10_URL", "http://127.0.0.1:9/x.tar.gz")
    with pytest.raises(data.DatasetUnavailable, match="127.0.0.1:9"):
        data.load("cifar10")
