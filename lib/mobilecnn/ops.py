"""Every operation a network of the book is made of, with all that is known about it in one row.

An :class:`Op` says, for one kind of layer, how its output shape follows from its inputs
(``shape``), how many weights and batch-norm statistics it stores (``weights``, ``buffers``),
how many multiply-accumulates it performs for one image (``macs``), how a paper's architecture
table prints it (``table``), which finer kind it reports as (``kind``), and whether a runtime
computes it in place on its input's buffer (``inplace``: batch norm and activations fused into
the convolution before them, as TF Lite and every microcontroller runtime do).

:data:`OPS` is the table the profiler reads. The two framework interpreters
(:mod:`mobilecnn.keras_backend`, :mod:`mobilecnn.torch_backend`) keep one dispatch each from an
op's name to a layer or module; a test checks that all three know the same ops.

Conventions. Shapes are channels-last ``(height, width, channels)`` or ``(features,)`` and
describe one image. Kernels and pooling windows are ``(height, width)`` pairs. ``pad`` is the
four numbers ``(top, bottom, left, right)`` that :class:`~mobilecnn.graph.Net` resolved.
Multiply-accumulates count convolution and dense layers only, biases excluded (the papers'
"Mult-Adds"); element-wise work (activations, additions, the squeeze-and-excite product) and
pooling count zero, as in the papers and in PyTorch's FLOP counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class ShapeError(ValueError):
    """A layer received a feature map smaller than its window."""


def _zero(node) -> int:
    return 0


def _none(node):
    return None


def _same_shape(shapes, attrs, name):
    return shapes[0]


def _times(*dims) -> str:
    return " \u00d7 ".join(str(d) for d in dims)


def window_output(size: int, kernel: int, stride: int, pad: tuple) -> int:
    """Output length of a convolution or pool window over ``size`` padded by ``pad``."""
    return (size + pad[0] + pad[1] - kernel) // stride + 1


def _window_shape(shapes, a, name, channels):
    h, w, _ = shapes[0]
    kh, kw = a["kernel"]
    pad = a["pad"]
    ho = window_output(h, kh, a["stride"], pad[:2])
    wo = window_output(w, kw, a["stride"], pad[2:])
    if ho < 1 or wo < 1:
        raise ShapeError(f"layer {name!r} gets a {h}x{w} feature map, smaller than its "
                         f"{kh}x{kw} window")
    return (ho, wo, channels)


def _size(node) -> str:
    shape = node.in_shape
    return _times(*shape) if len(shape) == 3 else _times(1, 1, *shape)


@dataclass(frozen=True)
class Op:
    """One kind of layer: its shape rule, its costs and how a paper's table prints it.

    Every function takes a :class:`~mobilecnn.graph.Node` (``shape`` takes the input shapes, the
    attributes as a dict and the layer's name, since it runs before the node exists).
    """

    name: str
    doc: str
    shape: Callable = _same_shape
    weights: Callable = _zero          # trainable numbers: kernels, biases, BN scale and shift
    kernel_weights: Callable = _zero   # kernel entries only (MobileNet v1's Table 1 convention)
    buffers: Callable = _zero          # stored, not trained: BN moving mean and variance
    macs: Callable = _zero
    table: Callable = _none            # (type / stride, filter shape, input size) or None
    kind: Callable | None = None       # finer reporting kind; default: the op's name
    inplace: bool = False              # computed on its input's buffer by a deployed runtime
    inputs: int = 1                    # how many inputs (0: any number, at least two)


# ---- convolutions and dense layers -------------------------------------------------------------

def _conv_shape(shapes, a, name):
    cin = shapes[0][-1]
    filters, groups = a["filters"], a["groups"]
    if filters < 1:
        raise ValueError(f"layer {name!r} would have {filters} filters")
    if cin % groups or filters % groups:
        raise ValueError(f"layer {name!r}: {cin} input and {filters} output channels do not "
                         f"split into {groups} groups")
    return _window_shape(shapes, a, name, filters)


def _conv_kernel(node) -> int:
    kh, kw = node.attr("kernel")
    return kh * kw * (node.in_shape[-1] // node.attr("groups")) * node.out_shape[-1]


def _bias(node) -> int:
    return node.out_shape[-1] if node.attr("bias") else 0


def _conv_macs(node) -> int:
    ho, wo, _ = node.out_shape
    return ho * wo * _conv_kernel(node)


def _conv_table(node):
    kh, kw = node.attr("kernel")
    g = node.attr("groups")
    kind = "Conv" if g == 1 else f"GConv g{g}"
    return (f"{kind} / s{node.attr('stride')}",
            _times(kh, kw, node.in_shape[-1] // g, node.out_shape[-1]), _size(node))


def _conv_kind(node) -> str:
    kh, kw = node.attr("kernel")
    base = "conv1x1" if (kh, kw) == (1, 1) else f"conv{kh}x{kw}"
    return base + ("_group" if node.attr("groups") > 1 else "")


def _depthwise_kernel(node) -> int:
    kh, kw = node.attr("kernel")
    return kh * kw * node.out_shape[-1]


def _depthwise_table(node):
    kh, kw = node.attr("kernel")
    return (f"Conv dw / s{node.attr('stride')}", _times(kh, kw, node.in_shape[-1]) + " dw",
            _size(node))


def _depthwise_kind(node) -> str:
    kh, kw = node.attr("kernel")
    return f"depthwise{kh}x{kw}"


def _dense_shape(shapes, a, name):
    if len(shapes[0]) != 1:
        raise ValueError(f"layer {name!r}: a dense layer needs a flat input, got {shapes[0]}")
    return (a["units"],)


def _dense_kernel(node) -> int:
    return node.in_shape[-1] * node.out_shape[-1]


# ---- pooling and reshaping ---------------------------------------------------------------------

def _pool_table(label):
    def table(node):
        kh, kw = node.attr("kernel")
        return f"{label} / s{node.attr('stride')}", f"Pool {_times(kh, kw)}", _size(node)
    return table


def _gap_shape(shapes, a, name):
    c = shapes[0][-1]
    return (1, 1, c) if a["keepdims"] else (c,)


def _flatten_shape(shapes, a, name):
    if shapes[0][:-1] != (1, 1):
        raise ValueError(f"{name}: flatten is only defined for 1x1 maps, got {shapes[0]}")
    return (shapes[0][-1],)


def _shuffle_shape(shapes, a, name):
    c = shapes[0][-1]
    if c % a["groups"]:
        raise ValueError(f"{name}: {c} channels do not split into {a['groups']} groups")
    return shapes[0]


def _slice_shape(shapes, a, name):
    c = shapes[0][-1]
    start, stop = a["start"], a["stop"]
    if not 0 <= start < stop <= c:
        raise ValueError(f"{name}: channels {start}:{stop} are not inside 0:{c}")
    return shapes[0][:-1] + (stop - start,)


# ---- joining -----------------------------------------------------------------------------------

def _add_shape(shapes, a, name):
    if len(set(shapes)) != 1:
        raise ValueError(f"{name}: cannot add shapes {list(shapes)}")
    return shapes[0]


def _multiply_shape(shapes, a, name):
    """A feature map times per-channel factors (squeeze-and-excite): (H, W, C) * (1, 1, C)."""
    x, s = shapes
    if s != (1, 1, x[-1]) and s != x:
        raise ValueError(f"{name}: cannot multiply {x} by {s}; the factors must be (1, 1, "
                         f"{x[-1]}) or {x}")
    return x


def _concat_shape(shapes, a, name):
    if len({s[:-1] for s in shapes}) != 1:
        raise ValueError(f"{name}: cannot concatenate shapes {list(shapes)}")
    return shapes[0][:-1] + (sum(s[-1] for s in shapes),)


OPS = {op.name: op for op in (
    Op("input", "the image", inputs=0),
    Op("conv", "convolution, optionally grouped", _conv_shape,
       weights=lambda n: _conv_kernel(n) + _bias(n), kernel_weights=_conv_kernel,
       macs=_conv_macs, table=_conv_table, kind=_conv_kind),
    Op("depthwise", "depthwise convolution: one filter per channel",
       lambda s, a, name: _window_shape(s, a, name, s[0][-1]),
       weights=lambda n: _depthwise_kernel(n) + _bias(n), kernel_weights=_depthwise_kernel,
       macs=lambda n: n.out_shape[0] * n.out_shape[1] * _depthwise_kernel(n),
       table=_depthwise_table, kind=_depthwise_kind),
    Op("dense", "fully connected layer", _dense_shape,
       weights=lambda n: _dense_kernel(n) + _bias(n), kernel_weights=_dense_kernel,
       macs=_dense_kernel, table=lambda n: ("FC", _times(n.in_shape[-1], n.out_shape[-1]),
                                            _size(n))),
    Op("bn", "batch normalization", weights=lambda n: 2 * n.out_shape[-1],
       buffers=lambda n: 2 * n.out_shape[-1], inplace=True),
    Op("relu", "max(x, 0)", inplace=True),
    Op("relu6", "min(max(x, 0), 6)", inplace=True),
    Op("hard_sigmoid", "relu6(x + 3) / 6", inplace=True),
    Op("hard_swish", "x * relu6(x + 3) / 6", inplace=True),
    Op("maxpool", "max pooling", lambda s, a, name: _window_shape(s, a, name, s[0][-1]),
       table=_pool_table("Max Pool")),
    Op("avgpool", "average pooling", lambda s, a, name: _window_shape(s, a, name, s[0][-1]),
       table=_pool_table("Avg Pool")),
    Op("gap", "global average pooling", _gap_shape,
       table=lambda n: ("Avg Pool (global)", f"Pool {_times(*n.in_shape[:2])}", _size(n))),
    Op("flatten", "(1, 1, C) -> (C,)", _flatten_shape, inplace=True),
    Op("dropout", "dropout (identity at inference)", inplace=True),
    Op("softmax", "softmax over classes", table=lambda n: ("Softmax", "Classifier", _size(n))),
    Op("channel_shuffle", "interleave the channels of g groups (inverse: undo that)",
       _shuffle_shape),
    Op("slice", "channels start:stop (ShuffleNet v2's channel split)", _slice_shape),
    Op("add", "element-wise sum", _add_shape, inputs=0),
    Op("multiply", "element-wise product, broadcast over height and width", _multiply_shape,
       inputs=2),
    Op("concat", "concatenation along channels", _concat_shape, inputs=0),
)}


def get(name: str) -> Op:
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; op must be one of " + ", ".join(OPS))
    return OPS[name]
