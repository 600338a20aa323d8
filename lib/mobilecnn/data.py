"""Datasets for the book's training runs, as NumPy arrays.

:func:`load` returns ``(x_train, y_train), (x_test, y_test)``: images ``float32`` in ``[0, 1]``,
channels-last ``(N, image_size, image_size, 3)``, labels ``int64``. Keras takes these as they are;
PyTorch wants channels-first, see :func:`to_channels_first`.

Three datasets:

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

``"fashion_mnist"``
    Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): **60,000 training and 10,000 test images** of
    28x28 grey Zalando article photographs in 10 classes (:data:`FASHION_MNIST_SIZES`), MIT
    licensed, read from the four IDX files of the original distribution (:func:`read_idx`,
    gzipped or not). They are looked up in ``$MOBILECNN_DATA`` (the folder itself or its
    ``fashion-mnist/`` subfolder) when that is set, in :data:`FASHION_MNIST_SYSTEM_DIR` (where
    Debian's package ``dataset-fashion-mnist`` installs them: ``make data``, or ``sudo apt-get
    install dataset-fashion-mnist``), and in ``~/.cache/mobilecnn/fashion-mnist/``; if none has
    them they are downloaded from :data:`FASHION_MNIST_URL` (checked against the MD5 sums the
    dataset's README publishes); without a network that raises :class:`DatasetUnavailable`,
    which names both ways to get the files. The images are scaled to ``[0, 1]``, resized and
    repeated over three channels like digits'. ``load(..., subset=10_000)`` keeps a stratified
    10,000 of the training images (the test set stays whole), before resizing, so a chapter
    that trains on a subset never holds all 60,000 at its resolution.

``name=None`` means ``$MOBILECNN_DATASET``, else ``"digits"``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np

DATASETS = ("digits", "cifar10", "fashion_mnist")
NUM_CLASSES = {"digits": 10, "cifar10": 10, "fashion_mnist": 10}
CLASS_NAMES = {
    "digits": tuple(str(d) for d in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
    # The dataset's README, section "Labels".
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
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

FASHION_MNIST_SIZES = {"train": 60000, "test": 10000}
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FOLDER = "fashion-mnist"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""The download location the dataset's README gives (section "Get the Data")."""
FASHION_MNIST_FILES = {
    # part: (file name without ".gz", MD5 of the .gz file as the README lists it)
    "train_images": ("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310"),
}

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024
RESIZE_CHUNK = 8192
"""Images resized at a time: bounds the float64 intermediate (60,000 images at 64 pixels would
need 2 GB at once); every image is resized on its own, so the result does not depend on it."""


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
    """How many classes ``name`` has (10 for each dataset)."""
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


def load(name: str | None = None, image_size: int = 32, *, url: str | None = None,
         subset: int | None = None, seed: int = SPLIT_SEED) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` of dataset ``name`` at ``image_size`` pixels.

    Images are ``float32`` in ``[0, 1]`` of shape ``(N, image_size, image_size, 3)``; labels are
    ``int64``. ``url`` only matters when a dataset must be downloaded (``"cifar10"``: the
    archive's address; ``"fashion_mnist"``: the folder that holds the four files). ``subset``
    keeps that many training images, a stratified sample drawn with ``seed``
    (:func:`stratified_subset`, the same images :func:`mobilecnn.train.fit` takes for
    ``subset=n, seed=seed``); the test set always stays whole.
    """
    name = dataset_name(name)
    image_size = _check_image_size(image_size)
    if subset is not None and (isinstance(subset, bool) or not isinstance(subset, (int, np.integer))
                               or subset < 1):
        raise ValueError(f"subset must be a whole number of training images >= 1, got {subset!r}")
    if name == "digits":
        (x_train, y_train), (x_test, y_test) = _digits()
    elif name == "fashion_mnist":
        (x_train, y_train), (x_test, y_test) = _fashion_mnist(url)
    else:
        (x_train, y_train), (x_test, y_test) = _cifar10(url)
    if subset is not None:
        keep = stratified_subset(y_train, subset, seed)
        x_train, y_train = x_train[keep], y_train[keep]
    return (_prepare(x_train, image_size), y_train), (_prepare(x_test, image_size), y_test)


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` examples with the class proportions of ``y`` (sorted, deterministic)."""
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    take = np.floor(n * np.bincount(y)[classes] / len(y)).astype(int)
    take[: n - take.sum()] += 1
    return np.sort(np.concatenate([p[:k] for p, k in zip(per_class, take)]))


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
    out = np.empty((len(x), image_size, image_size, 3), np.float32)
    for start in range(0, len(x), RESIZE_CHUNK):
        part = resize(x[start:start + RESIZE_CHUNK], image_size)
        out[start:start + RESIZE_CHUNK] = part[..., None] if part.ndim == 3 else part
    return np.clip(out, 0.0, 1.0, out=out)


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


# ---- Fashion-MNIST -------------------------------------------------------------------------------

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
"""The IDX format's type codes (third byte of the magic number) and their big-endian dtypes."""


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped (recognized by its first two bytes) or not.

    The format: two zero bytes, a type code (:data:`IDX_TYPES`), the number of dimensions ``d``,
    then ``d`` sizes as big-endian 32-bit integers, then the values in C order. Returns the array
    in native byte order (``uint8`` for Fashion-MNIST's images and labels).
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (its first bytes are {raw[:4]!r}; expected "
                         f"two zero bytes, a type code in "
                         f"{sorted(hex(t) for t in IDX_TYPES)} and the number of dimensions)")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path} is not a complete IDX file: its header promises shape {shape} "
                         f"({expected} bytes), the file has {len(raw)}")
    values = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def fashion_mnist_dirs() -> list:
    """The folders searched for Fashion-MNIST's files, in order (see the module's docstring)."""
    dirs = []
    if os.environ.get("MOBILECNN_DATA"):
        root = Path(os.environ["MOBILECNN_DATA"])
        dirs += [root, root / FASHION_MNIST_FOLDER]
    dirs += [Path(FASHION_MNIST_SYSTEM_DIR), data_dir() / FASHION_MNIST_FOLDER]
    return list(dict.fromkeys(dirs))


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _fashion_mnist_folder(url: str | None) -> Path:
    """The first folder holding all four files, or the cache folder after downloading them."""
    stems = [stem for stem, _ in FASHION_MNIST_FILES.values()]
    for folder in fashion_mnist_dirs():
        if all(_idx_file(folder, stem) for stem in stems):
            return folder
    target = data_dir() / FASHION_MNIST_FOLDER
    base = url or os.environ.get("MOBILECNN_FASHION_MNIST_URL") or FASHION_MNIST_URL
    searched = ", ".join(str(d) for d in fashion_mnist_dirs())
    for stem, md5 in FASHION_MNIST_FILES.values():
        if _idx_file(target, stem) is None:
            _download(base.rstrip("/") + f"/{stem}.gz", target / f"{stem}.gz",
                      md5 if base == FASHION_MNIST_URL else None,
                      f"Fashion-MNIST is in none of {searched}. Either install Debian's package "
                      f"(make data, or sudo apt-get install {FASHION_MNIST_PACKAGE}: it puts the "
                      f"files in {FASHION_MNIST_SYSTEM_DIR}), or download the four .gz files "
                      f"({', '.join(stems)}) from {FASHION_MNIST_URL} on a machine with a "
                      f"network and set MOBILECNN_DATA to the folder that holds them. The "
                      f"'digits' dataset needs no network and no package: load('digits').")
    return target


@lru_cache(maxsize=1)
def _read_fashion_mnist(folder: Path) -> tuple:
    """The four files of ``folder`` as uint8 images ``(N, 28, 28)`` and labels (read once)."""
    arrays = {part: read_idx(_idx_file(folder, stem))
              for part, (stem, _) in FASHION_MNIST_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (FASHION_MNIST_SIZES[split], 28, 28) or \
                labels.shape != (FASHION_MNIST_SIZES[split],) or labels.max() > 9:
            raise ValueError(f"the Fashion-MNIST {split} files in {folder} hold images of shape "
                             f"{images.shape} and labels of shape {labels.shape}, expected "
                             f"({FASHION_MNIST_SIZES[split]}, 28, 28) and "
                             f"({FASHION_MNIST_SIZES[split]},) with labels 0..9")
        images.setflags(write=False)
        labels.setflags(write=False)
    return ((arrays["train_images"], arrays["train_labels"]),
            (arrays["test_images"], arrays["test_labels"]))


def _fashion_mnist(url: str | None) -> tuple:
    """Fashion-MNIST as grey images in ``[0, 1]`` (float32) and int64 labels, the given split."""
    (x_train, y_train), (x_test, y_test) = _read_fashion_mnist(_fashion_mnist_folder(url))
    return ((x_train.astype(np.float32) / 255.0, y_train.astype(np.int64)),
            (x_test.astype(np.float32) / 255.0, y_test.astype(np.int64)))


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
        source = url or os.environ.get("MOBILECNN_CIFAR10_URL") or CIFAR10_URL
        _download(source, archive, CIFAR10_MD5 if source == CIFAR10_URL else None,
                  f"Download {CIFAR10_ARCHIVE} (170 MB) from {CIFAR10_URL} on a machine with a "
                  f"network and put it in {data_dir()} (or set MOBILECNN_DATA to the folder "
                  f"that holds it). The 'digits' dataset needs no network: load('digits').")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")
    if not folder.is_dir():
        raise DatasetUnavailable(f"{archive} does not contain the folder {CIFAR10_FOLDER}/; "
                                 f"delete it and download {CIFAR10_URL} again")
    return folder


def _download(url: str, archive: Path, md5: str | None, advice: str) -> None:
    """Download ``url`` to ``archive`` (through a ``.part`` file), check its ``md5`` when given;
    a failure is :class:`DatasetUnavailable` with ``advice`` (how to get the file otherwise)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise DatasetUnavailable(f"could not download {url} ({err}). {advice}") from err
    if md5 is not None and _md5(partial) != md5:
        partial.unlink()
        raise DatasetUnavailable(f"the download from {url} is corrupt (MD5 mismatch); try again")
    partial.replace(archive)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
