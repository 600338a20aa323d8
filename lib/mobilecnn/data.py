"""Datasets for the book's training runs, as NumPy arrays.

:func:`load` returns ``(x_train, y_train), (x_test, y_test)``: images ``float32`` in ``[0, 1]``,
channels-last ``(N, image_size, image_size, 3)``, labels ``int64``. Keras takes these as they are;
PyTorch wants channels-first, see :func:`to_channels_first`.

Two datasets:

``"digits"`` (the default everywhere)
    scikit-learn's 1,797 handwritten digits (``sklearn.datasets.load_digits``; the data ship with
    scikit-learn, so nothing is downloaded). Each 8x8 image of grey levels 0..16 is scaled to
    ``[0, 1]``, resized to ``image_size`` with bilinear interpolation (:func:`resize`) and
    repeated over three channels, so that networks designed for RGB photographs take it
    unchanged. The split is fixed: a stratified 80/20 split with seed :data:`SPLIT_SEED` gives
    **1,437 training and 360 test images** (:data:`DIGITS_SIZES`), the same on every call and
    every machine.

``"cifar10"``
    the real CIFAR-10 (50,000 training and 10,000 test images of 32x32 RGB, Krizhevsky 2009),
    read from the python-pickle archive ``cifar-10-python.tar.gz``. The archive, or the folder
    ``cifar-10-batches-py/`` it unpacks to, is looked up in the data directory
    (:func:`data_dir`: ``$MOBILECNN_DATA``, else ``~/.cache/mobilecnn/``). If neither is there it
    is downloaded from :data:`CIFAR10_URL` (override with ``url=`` or ``$MOBILECNN_CIFAR10_URL``);
    without a network that raises :class:`DatasetUnavailable`, which says where to put the file.

``name=None`` means ``$MOBILECNN_DATASET``, else ``"digits"``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

DATASETS = ("digits", "cifar10")
NUM_CLASSES = {"digits": 10, "cifar10": 10}
CLASS_NAMES = {
    "digits": tuple(str(d) for d in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
}

SPLIT_SEED = 0
TEST_FRACTION = 0.2
DIGITS_SIZES = {"train": 1437, "test": 360}

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024


class DatasetUnavailable(OSError):
    """A dataset is neither in the data directory nor downloadable (no network)."""


def dataset_name(name: str | None = None) -> str:
    """``name``, else ``$MOBILECNN_DATASET``, else ``"digits"``; one of :data:`DATASETS`."""
    if name is None:
        name = os.environ.get("MOBILECNN_DATASET", "").strip() or "digits"
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; the dataset name must be one of "
                         + ", ".join(repr(d) for d in DATASETS))
    return name


def num_classes(name: str | None = None) -> int:
    """How many classes ``name`` has (10 for both datasets)."""
    return NUM_CLASSES[dataset_name(name)]


def data_dir() -> Path:
    """Where downloaded datasets live: ``$MOBILECNN_DATA`` or ``~/.cache/mobilecnn/``."""
    return Path(os.environ.get("MOBILECNN_DATA") or Path.home() / ".cache" / "mobilecnn")


def _check_image_size(image_size) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be a whole number of pixels in "
                         f"[{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}], got {image_size!r}")
    return int(image_size)


def load(name: str | None = None, image_size: int = 32, *, url: str | None = None) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` of dataset ``name`` at ``image_size`` pixels.

    Images are ``float32`` in ``[0, 1]`` of shape ``(N, image_size, image_size, 3)``; labels are
    ``int64``. ``url`` only matters for ``"cifar10"`` when the archive must be downloaded.
    """
    name = dataset_name(name)
    image_size = _check_image_size(image_size)
    if name == "digits":
        (x_train, y_train), (x_test, y_test) = _digits()
    else:
        (x_train, y_train), (x_test, y_test) = _cifar10(url)
    return (_prepare(x_train, image_size), y_train), (_prepare(x_test, image_size), y_test)


def to_channels_first(x: np.ndarray) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, C, H, W)`` (contiguous), the layout PyTorch's convolutions use."""
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images (N, H, W, C), got shape {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---- resizing ------------------------------------------------------------------------------------

def _bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of bilinear interpolation along one axis.

    Pixel centres are aligned (``half_pixel_centers``, as in PIL and ``tf.image.resize``): output
    pixel ``i`` samples the input at ``(i + 0.5) * n_in / n_out - 0.5``, clamped to the border.
    """
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    left = np.floor(pos).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = pos - left
    w = np.zeros((n_out, n_in))
    w[np.arange(n_out), left] += 1 - frac
    w[np.arange(n_out), right] += frac
    return w


def resize(x: np.ndarray, image_size: int) -> np.ndarray:
    """Bilinear resize of a batch ``(N, H, W)`` or ``(N, H, W, C)`` to ``image_size`` square.

    Interpolation is separable, so it is two matrix products (rows, then columns): exact,
    deterministic and without a dependency beyond NumPy.
    """
    if x.shape[1:3] == (image_size, image_size):
        return x.astype(np.float32)
    rows = _bilinear_weights(x.shape[1], image_size)
    cols = _bilinear_weights(x.shape[2], image_size)
    out = np.einsum("ih,nhw...->niw...", rows, x.astype(np.float64))
    out = np.einsum("jw,niw...->nij...", cols, out)
    return out.astype(np.float32)


def _prepare(x: np.ndarray, image_size: int) -> np.ndarray:
    """Resize to ``image_size`` and give grey images three identical channels."""
    x = resize(x, image_size)
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    return np.clip(x, 0.0, 1.0)


# ---- digits ----------------------------------------------------------------------------------

def _digits() -> tuple:
    """The fixed stratified split of scikit-learn's digits, 8x8 grey images in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED)
    return (x_train, y_train), (x_test, y_test)


# ---- CIFAR-10 ------------------------------------------------------------------------------------

def read_cifar10_batch(path) -> tuple:
    """Read one CIFAR-10 pickle (``data_batch_1`` ... ``test_batch``).

    The file is a pickled dict: ``b"data"`` is ``uint8 (N, 3072)``, each row one image as three
    1024-value planes (red, green, blue), each plane 32 rows of 32 pixels; ``b"labels"`` is a
    list of ``N`` ints in 0..9. Returns images ``float32 (N, 32, 32, 3)`` in ``[0, 1]`` and
    labels ``int64``.
    """
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path} is not a CIFAR-10 batch: data {data.shape}, {len(labels)} labels")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images.astype(np.float32) / 255.0, labels


def _cifar10(url: str | None) -> tuple:
    folder = _cifar10_folder(url)
    parts = [read_cifar10_batch(folder / b) for b in CIFAR10_TRAIN_BATCHES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return (x_train, y_train), read_cifar10_batch(folder / CIFAR10_TEST_BATCH)


def _cifar10_folder(url: str | None) -> Path:
    """The ``cifar-10-batches-py`` folder: found, unpacked from the archive, or downloaded."""
    root = data_dir()
    folder = root / CIFAR10_FOLDER
    if folder.is_dir():
        return folder
    archive = root / CIFAR10_ARCHIVE
    if not archive.is_file():
        _download(url or os.environ.get("MOBILECNN_CIFAR10_URL") or CIFAR10_URL, archive)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")
    if not folder.is_dir():
        raise DatasetUnavailable(f"{archive} does not contain the folder {CIFAR10_FOLDER}/; "
                                 f"delete it and download {CIFAR10_URL} again")
    return folder


def _download(url: str, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"could not download CIFAR-10 from {url} ({err}). Download {CIFAR10_ARCHIVE} "
            f"(170 MB) from {CIFAR10_URL} on a machine with a network and put it in {data_dir()} "
            f"(or set MOBILECNN_DATA to the folder that holds it). The 'digits' dataset needs no "
            f"network: load('digits')."
        ) from err
    if url == CIFAR10_URL and _md5(partial) != CIFAR10_MD5:
        partial.unlink()
        raise DatasetUnavailable(f"the download from {url} is corrupt (MD5 mismatch); try again")
    partial.replace(archive)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
