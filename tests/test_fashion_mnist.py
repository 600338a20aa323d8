"""mobilecnn.data's Fashion-MNIST: the IDX reader, the real files, the subset, the offline error."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from mobilecnn import data, train


def _installed_folder():
    """The first folder mobilecnn.data would read the real files from, or None."""
    for folder in data.fashion_mnist_dirs():
        if all((folder / f"{stem}.gz").is_file() or (folder / stem).is_file()
               for stem, _ in data.FASHION_MNIST_FILES.values()):
            return folder
    return None


needs_dataset = pytest.mark.skipif(
    _installed_folder() is None,
    reason="Fashion-MNIST is not installed: make data (or apt-get install dataset-fashion-mnist)")


# ---- the IDX format, on files written here ----------------------------------------------------

def _write_idx(path, array: np.ndarray, code: int, compress: bool) -> None:
    """Write ``array`` in the IDX format by hand: 0, 0, type code, ndim, sizes (>u4), values."""
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    raw = struct.pack(">BBBB", 0, 0, code, array.ndim) \
        + struct.pack(f">{array.ndim}I", *array.shape) + big_endian.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_uint8_images(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 4), dtype=np.uint8)
    path = tmp_path / "x-idx3-ubyte"
    _write_idx(path, images, 0x08, compress)
    out = data.read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 4)
    np.testing.assert_array_equal(out, images)


def test_read_idx_multibyte_types_are_big_endian(tmp_path):
    # 258 as >i4 is 00 00 01 02: a reader that ignored the byte order would return 0x02010000.
    values = np.array([258, -1, 7], dtype=np.int32)
    _write_idx(tmp_path / "v", values, 0x0C, compress=False)
    assert data.read_idx(tmp_path / "v").tolist() == [258, -1, 7]
    floats = np.array([[0.5, -2.25]], dtype=np.float64)
    _write_idx(tmp_path / "f", floats, 0x0E, compress=True)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f"), floats)


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "text")
    labels = np.arange(10, dtype=np.uint8)
    _write_idx(tmp_path / "short", labels, 0x08, compress=False)
    truncated = (tmp_path / "short").read_bytes()[:-3]
    (tmp_path / "short").write_bytes(truncated)
    with pytest.raises(ValueError, match=r"not a complete IDX file.*\(10,\)"):
        data.read_idx(tmp_path / "short")


def test_load_reads_a_folder_named_by_mobilecnn_data(tmp_path, monkeypatch):
    """A miniature dataset in the real file names (but of the wrong size) is found and checked."""
    rng = np.random.default_rng(1)
    for part, (stem, _) in data.FASHION_MNIST_FILES.items():
        n = 6 if part.startswith("train") else 4
        array = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if part.endswith("images")
                 else rng.integers(0, 10, n).astype(np.uint8))
        _write_idx(tmp_path / stem, array, 0x08, compress=False)     # not gzipped
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    assert data.fashion_mnist_dirs()[0] == tmp_path
    with pytest.raises(ValueError, match=r"train files in .* \(60000, 28, 28\)"):
        data.load("fashion_mnist")


# ---- the offline error --------------------------------------------------------------------------

def test_missing_dataset_names_both_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "not-installed")
    monkeypatch.setenv("MOBILECNN_FASHION_MNIST_URL", "http://127.0.0.1:9/fashion")
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load("fashion_mnist")
    message = str(err.value)
    assert "127.0.0.1:9/fashion/" in message               # it tried the network first
    assert data.FASHION_MNIST_PACKAGE in message and "MOBILECNN_DATA" in message
    assert str(tmp_path) in message and "'digits'" in message
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]   # no partial download left


def test_download_url_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_DATA", str(tmp_path))
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "not-installed")
    with pytest.raises(data.DatasetUnavailable, match=r"127\.0\.0\.1:9/x/train-images"):
        data.load("fashion_mnist", url="http://127.0.0.1:9/x/")


def test_name_from_environment(monkeypatch):
    monkeypatch.setenv("MOBILECNN_DATASET", "fashion_mnist")
    assert data.dataset_name() == "fashion_mnist" and data.num_classes() == 10
    assert len(data.CLASS_NAMES["fashion_mnist"]) == 10


# ---- the real files -----------------------------------------------------------------------------

@needs_dataset
def test_real_dataset_shapes_dtypes_and_balance():
    (x_train, y_train), (x_test, y_test) = data.load("fashion_mnist", image_size=28)
    assert x_train.shape == (60000, 28, 28, 3) and x_test.shape == (10000, 28, 28, 3)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    # The dataset's classes are exactly balanced: 6,000 and 1,000 images each.
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    np.testing.assert_array_equal(x_test[..., 0], x_test[..., 2])


@needs_dataset
def test_first_image_matches_the_raw_bytes():
    """At 28 pixels nothing is resized: the first training image, times 255, is the 784 bytes
    after the 16-byte header of the images file, read here with gzip alone."""
    folder = _installed_folder()
    stem = data.FASHION_MNIST_FILES["train_images"][0]
    path = folder / f"{stem}.gz" if (folder / f"{stem}.gz").is_file() else folder / stem
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    assert struct.unpack(">IIII", raw[:16]) == (0x0803, 60000, 28, 28)
    first = raw[16:16 + 784]
    (x_train, y_train), _ = data.load("fashion_mnist", image_size=28)
    ours = np.rint(x_train[0, :, :, 0] * 255).astype(np.uint8).tobytes()
    assert hashlib.sha256(ours).hexdigest() == hashlib.sha256(first).hexdigest()
    assert sum(ours) == sum(first) > 0
    labels = folder / data.FASHION_MNIST_FILES["train_labels"][0]
    raw_labels = gzip.decompress((labels.with_name(labels.name + ".gz")).read_bytes()) \
        if labels.with_name(labels.name + ".gz").is_file() else labels.read_bytes()
    assert y_train[:20].tolist() == list(raw_labels[8:28])


@needs_dataset
def test_stratified_subset_and_resize():
    (x, y), (x_test, y_test) = data.load("fashion_mnist", image_size=32, subset=10000, seed=3)
    assert x.shape == (10000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y).tolist() == [1000] * 10
    (x_again, y_again), _ = data.load("fashion_mnist", image_size=32, subset=10000, seed=3)
    np.testing.assert_array_equal(x, x_again)
    (x_other, y_other), _ = data.load("fashion_mnist", image_size=32, subset=10000, seed=4)
    assert np.bincount(y_other).tolist() == [1000] * 10
    assert not np.array_equal(x, x_other)      # another seed, other images


def test_subset_before_resize_equals_resize_then_subset():
    """fit now subsets before resizing; the images it trains on are the same, bit for bit."""
    (x_all, y_all), _ = data.load("digits", image_size=32)
    keep = data.stratified_subset(y_all, 300, 5)
    (x_sub, y_sub), _ = data.load("digits", image_size=32, subset=300, seed=5)
    np.testing.assert_array_equal(x_sub, x_all[keep])
    np.testing.assert_array_equal(y_sub, y_all[keep])
    assert train._stratified_subset is data.stratified_subset


@pytest.mark.parametrize("subset", [0, -5, 2.5, True])
def test_bad_subset(subset):
    with pytest.raises(ValueError, match="subset must be"):
        data.load("digits", subset=subset)
