"""Magnitude pruning, a stand-in for entropy coding, and the size arithmetic of Deep Compression.

SqueezeNet's "less than 0.5 MB" (Iandola et al. 2016, Table 2) comes from Deep Compression
(Han et al. 2016): prune the weights of smallest magnitude, retrain the rest, share weights
through a small codebook (6 or 8 bits per weight), and Huffman-code the result. This module
has the pieces the book can measure with its own tools:

* :func:`magnitude_mask` and :func:`pruned_copy` prune every convolution and dense kernel of a
  Keras model to the same ``density`` (the fraction of weights kept), layer by layer, keeping
  the weights of largest magnitude. Biases are kept. There is no retraining here, unlike Deep
  Compression: what the chapter measures is pruning alone.
* :func:`zlib_size` compresses bytes with DEFLATE (zlib, the coding of gzip and zip files). It
  stands in for Huffman coding: DEFLATE is Huffman coding of an LZ77 stream, so the long runs of
  zero bytes that pruning leaves in an int8 file shrink to almost nothing, and the rest is
  entropy-coded.
* :func:`storage_mb` and :func:`implied_bits` redo the paper's arithmetic: what ``params``
  weights at ``bits`` bits cost, and how many bits per kept weight a printed size allows.

:data:`PAPER_SIZES` and :data:`PARAMS_AFTER_PRUNING` are what the paper prints.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: SqueezeNet in the paper's Table 2: (compression, bits per weight, model size in MB).
PAPER_SIZES = {
    "none": ("none", 32, 4.8),
    "8-bit": ("Deep Compression", 8, 0.66),
    "6-bit": ("Deep Compression", 6, 0.47),
}

#: The last row of the paper's Table 1: parameters before and after pruning.
PARAMS_BEFORE_PRUNING = 1_248_424
PARAMS_AFTER_PRUNING = 421_098

#: AlexNet's 32-bit size in the same table, the baseline of the paper's "50x" and "510x".
ALEXNET_MB = 240.0


def _check_density(density) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise ValueError(f"density (the fraction of weights kept) must be in (0, 1], "
                         f"got {density!r}")
    return float(density)


def magnitude_mask(weights: np.ndarray, density: float) -> np.ndarray:
    """A boolean mask of ``weights``' shape that keeps the ``round(density * size)`` entries of
    largest magnitude (at least one). Ties at the threshold are broken by position, so exactly
    that many entries are kept."""
    density = _check_density(density)
    w = np.asarray(weights)
    keep = max(1, int(round(density * w.size)))
    order = np.argsort(-np.abs(w).ravel(), kind="stable")
    mask = np.zeros(w.size, dtype=bool)
    mask[order[:keep]] = True
    return mask.reshape(w.shape)


@dataclass(frozen=True)
class PruneReport:
    """What :func:`pruned_copy` did: ``kept`` and ``total`` kernel weights per layer name."""

    density: float
    layers: dict           # name -> (kept, total)

    @property
    def kept(self) -> int:
        return sum(k for k, _ in self.layers.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self.layers.values())


def pruned_copy(model, density: float, skip: tuple = ()):
    """``(copy, report)``: a copy of Keras ``model`` whose convolution and dense kernels keep
    only their ``density`` largest-magnitude weights (:func:`magnitude_mask`, per layer), and a
    :class:`PruneReport`. Layers named in ``skip`` keep all their weights; biases are never
    pruned. ``model`` itself is not changed."""
    density = _check_density(density)
    import keras

    missing = [name for name in skip if name not in {layer.name for layer in model.layers}]
    if missing:
        raise ValueError(f"skip: the model has no layer named {', '.join(map(repr, missing))}")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    layers = {}
    for layer in copy.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            continue
        kernel = np.asarray(layer.kernel)
        if layer.name in skip:
            layers[layer.name] = (kernel.size, kernel.size)
            continue
        mask = magnitude_mask(kernel, density)
        layer.kernel.assign(np.where(mask, kernel, 0).astype(kernel.dtype))
        layers[layer.name] = (int(mask.sum()), kernel.size)
    return copy, PruneReport(density, layers)


def zlib_size(data: bytes, level: int = 9) -> int:
    """Bytes of ``data`` after DEFLATE compression (zlib, ``level`` 9: the smallest)."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    return len(zlib.compress(bytes(data), level))


def storage_mb(params: int, bits: float, density: float = 1.0, index_bits: float = 0.0) -> float:
    """Megabytes (10^6 bytes) for ``params`` weights of which ``density`` are kept, each stored
    in ``bits`` bits plus ``index_bits`` bits saying where it is (a sparse format's index)."""
    density = _check_density(density)
    if bits <= 0 or index_bits < 0:
        raise ValueError(f"bits must be > 0 and index_bits >= 0, got {bits!r}, {index_bits!r}")
    return params * density * (bits + index_bits) / 8 / 1e6


def implied_bits(size_mb: float, weights: int) -> float:
    """Bits per weight that a size of ``size_mb`` megabytes (10^6 bytes) leaves for ``weights``
    weights: everything the file holds, weights, indices and codebooks, spread over them."""
    if size_mb <= 0 or weights < 1:
        raise ValueError(f"size_mb must be > 0 and weights >= 1, got {size_mb!r}, {weights!r}")
    return size_mb * 1e6 * 8 / weights
