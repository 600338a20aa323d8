"""Activation memory the MobileNet v2 paper's way: the largest tensor that must be materialized.

:meth:`mobilecnn.profiler.Profile.peak_activation_bytes` answers a runtime's question: with the
layers run one after another, every tensor held until its last reader, batch norm and
activations in place, how much memory is alive at the worst moment? The MobileNet v2 paper
(Sandler et al. 2018, Section 5.1 and Table 3) asks a different one. It lets a whole block
``F(x) = A(N(B(x)))`` (a linear 1x1 expansion ``B``, a per-channel non-linear part ``N``: depthwise
convolution, batch norm, ReLU6, and a linear 1x1 projection ``A``) run in ``t`` slices of its
expanded channels: each slice of ``B(x)`` is computed, filtered and projected, and its
contribution added into the output. The expanded tensor then never exists whole, only the
block's input and output do, and the paper counts, per spatial resolution, the single largest
tensor that must exist whole. For the first layer it applies the same trick to the stem
convolution followed by the first block.

:func:`materialized` lists those tensors from a profile's layer rows, given which blocks run as
one streamed unit (``fused``); :func:`largest_tensor_bytes` and :func:`by_resolution` are the
paper's "max" row and its per-resolution rows. With ``fused=()`` every layer's output is
materialized, which is the paper's convention for a network without such blocks (MobileNet v1).
"""

from __future__ import annotations

from dataclasses import dataclass

from .ops import OPS
from .profiler import Profile


@dataclass(frozen=True)
class Tensor:
    """One tensor that must exist whole: the layer that writes it and its shape (channels-last)."""

    layer: str
    shape: tuple

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def resolution(self) -> tuple:
        """``(height, width)``; ``(1, 1)`` for a vector (after global pooling)."""
        return tuple(self.shape[:2]) if len(self.shape) == 3 else (1, 1)


def _inplace(kind: str) -> bool:
    return kind in OPS and OPS[kind].inplace


def _check_bits(bits: int) -> None:
    if bits not in (8, 16, 32):
        raise ValueError(f"bits={bits!r} is not allowed; bits must be 8, 16 or 32")


def materialized(p: Profile, fused=()) -> list:
    """The tensors of ``p`` that must be materialized, in network order, input image first.

    ``fused`` is a sequence of groups of consecutive block names (``LayerRow.block``), each run as
    one streamed unit: inside a group only the output of its last layer that writes a new tensor
    is materialized. In-place layers (batch norm, activations, dropout) never write a new tensor.
    """
    rows = list(p.layers)
    blocks = {r.block for r in rows}
    group_of = {}
    for i, group in enumerate(fused):
        group = (group,) if isinstance(group, str) else tuple(group)
        for block in group:
            if block not in blocks:
                raise ValueError(f"fused: {p.name} has no block {block!r}")
            if block in group_of:
                raise ValueError(f"fused: block {block!r} is in two groups")
            group_of[block] = i
    last_writer = {}
    for r in rows:
        if r.block in group_of and not _inplace(r.kind):
            last_writer[group_of[r.block]] = r.name
    out = [Tensor("input", tuple(p.input_shape))]
    for r in rows:
        if _inplace(r.kind):
            continue
        if r.block in group_of and last_writer[group_of[r.block]] != r.name:
            continue
        out.append(Tensor(r.name, tuple(r.output_shape)))
    return out


def largest_tensor_bytes(p: Profile, bits: int = 16, fused=()) -> int:
    """The paper's Table 3 "max" row: bytes of the largest materialized tensor."""
    _check_bits(bits)
    return max(t.elements for t in materialized(p, fused)) * bits // 8


def by_resolution(p: Profile, bits: int = 16, fused=()) -> list:
    """The paper's Table 3 rows: ``[(height, width, channels, bytes), ...]``, one per spatial
    resolution from the largest down, for the widest materialized tensor at that resolution."""
    _check_bits(bits)
    widest: dict = {}
    for t in materialized(p, fused):
        size = t.resolution
        if size not in widest or t.elements > widest[size].elements:
            widest[size] = t
    return [(h, w, widest[h, w].shape[-1], widest[h, w].elements * bits // 8)
            for h, w in sorted(widest, reverse=True)]
