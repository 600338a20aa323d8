"""The network graph every interpreter reads.

An architecture module (``mobilecnn.architectures.*``) turns a paper's table into calls on a
:class:`Net`: ``net.conv(...)``, ``net.bn(...)``, ``net.channel_shuffle(...)`` and so on. Each call
appends one named :class:`Node` and works out its output shape there and then, so the arithmetic of
strides, padding and channel counts lives in this file and nowhere else.

Three interpreters walk the finished list of nodes:

* :mod:`mobilecnn.profiler` reads each node's parameter and multiply-accumulate counts,
* :mod:`mobilecnn.keras_backend` turns each node into a Keras layer with the node's name,
* :mod:`mobilecnn.torch_backend` turns each node into a PyTorch module with the node's name.

Shapes are channels-last, ``(height, width, channels)`` for feature maps and ``(features,)``
after global pooling, and describe one image (no batch axis).

Padding is always explicit. A ``"same"`` convolution or pool is resolved here to the four
numbers TensorFlow would use (``pad_top, pad_bottom, pad_left, pad_right``): for a stride-2
layer on an even-sized input that is one row and column at the bottom and right only. The
PyTorch interpreter applies exactly these numbers, which is why the two frameworks compute the
same function on the same weights. Padding always adds zeros, also before max pooling (the book's
networks only max-pool non-negative activations, where zeros and minus infinity agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

Shape = tuple  # (H, W, C) or (C,)


class ShapeError(ValueError):
    """A layer received a feature map smaller than its window."""


@dataclass(frozen=True)
class Node:
    """One layer of a network, fully resolved.

    ``op`` is one of :data:`OPS`. ``attrs`` holds what the op needs (kernel, stride, padding,
    groups, ...) as a tuple of ``(key, value)`` pairs so that the node stays hashable.
    ``stage`` and ``block`` say where in the stem / learner / classifier the node sits, for the
    per-stage roll-ups in the profiler and the widgets.
    """

    name: str
    op: str
    inputs: tuple
    in_shape: Shape
    out_shape: Shape
    attrs: tuple = ()
    stage: str = ""
    block: str = ""

    def attr(self, key, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    # ---- costs -------------------------------------------------------------------------------
    @property
    def weights(self) -> int:
        """Trainable numbers: kernels, biases, batch-norm scale and shift."""
        a = self.attr
        if self.op == "conv":
            k, cin, cout = a("kernel"), self.in_shape[-1], self.out_shape[-1]
            return k * k * (cin // a("groups")) * cout + (cout if a("bias") else 0)
        if self.op == "depthwise":
            k, cout = a("kernel"), self.out_shape[-1]
            return k * k * cout + (cout if a("bias") else 0)
        if self.op == "dense":
            cin, cout = self.in_shape[-1], self.out_shape[-1]
            return cin * cout + (cout if a("bias") else 0)
        if self.op == "bn":
            return 2 * self.out_shape[-1]
        return 0

    @property
    def kernel_weights(self) -> int:
        """Kernel entries only: no biases, no batch norm (MobileNet v1's Table 1 convention)."""
        if self.op in ("conv", "depthwise", "dense"):
            return self.weights - (self.out_shape[-1] if self.attr("bias") else 0)
        return 0

    @property
    def buffers(self) -> int:
        """Non-trainable numbers kept with the model: batch-norm moving mean and variance."""
        return 2 * self.out_shape[-1] if self.op == "bn" else 0

    @property
    def params(self) -> int:
        """Everything Keras' ``count_params()`` counts for this layer."""
        return self.weights + self.buffers

    @property
    def macs(self) -> int:
        """Multiply-accumulates of convolution and dense layers for one image (biases excluded)."""
        a = self.attr
        if self.op == "conv":
            ho, wo, cout = self.out_shape
            k, cin = a("kernel"), self.in_shape[-1]
            return ho * wo * cout * k * k * (cin // a("groups"))
        if self.op == "depthwise":
            ho, wo, cout = self.out_shape
            return ho * wo * cout * a("kernel") ** 2
        if self.op == "dense":
            return self.in_shape[-1] * self.out_shape[-1]
        return 0


OPS = (
    "input", "conv", "depthwise", "bn", "relu", "relu6", "maxpool", "avgpool", "gap", "dense",
    "add", "concat", "channel_shuffle", "dropout", "softmax", "flatten",
)


def same_padding(size: int, kernel: int, stride: int) -> tuple:
    """TensorFlow's ``padding="same"``: output ``ceil(size / stride)``, extra row at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_output(size: int, kernel: int, stride: int, pad: tuple) -> int:
    """Output length of a convolution or pool window over ``size`` padded by ``pad``."""
    return (size + pad[0] + pad[1] - kernel) // stride + 1


@dataclass
class Net:
    """Records a network as a list of :class:`Node` while an architecture describes it.

    Every method takes the name of an existing node (a "tensor") and returns the name of the new
    one, so architecture code reads like ordinary functional model code::

        x = net.conv(x, 32, kernel=3, stride=2, name="conv1")
        x = net.bn(x)
        x = net.relu6(x)
    """

    input_shape: Shape
    nodes: dict = field(default_factory=dict)
    stage: str = ""
    block: str = ""

    def __post_init__(self):
        self.nodes["input"] = Node("input", "input", (), self.input_shape, self.input_shape)

    # ---- bookkeeping --------------------------------------------------------------------------
    def shape(self, x: str) -> Shape:
        return self.nodes[x].out_shape

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    @property
    def output(self) -> str:
        return next(reversed(self.nodes))

    def _add(self, name, op, inputs, out_shape, **attrs) -> str:
        if name in self.nodes:
            raise KeyError(f"layer name {name!r} is used twice")
        in_shape = self.nodes[inputs[0]].out_shape
        self.nodes[name] = Node(name, op, tuple(inputs), in_shape, tuple(out_shape),
                                tuple(sorted(attrs.items())), self.stage, self.block)
        return name

    def _window(self, x, kernel, stride, padding, name):
        """Resolve padding and output size for a sliding window; complain if it does not fit."""
        h, w, _ = self.shape(x)
        if padding == "same":
            pad = same_padding(h, kernel, stride) + same_padding(w, kernel, stride)
        elif padding == "valid":
            pad = (0, 0, 0, 0)
        else:
            pad = tuple(padding)
        ho = window_output(h, kernel, stride, pad[:2])
        wo = window_output(w, kernel, stride, pad[2:])
        if ho < 1 or wo < 1:
            raise ShapeError(f"layer {name!r} gets a {h}x{w} feature map, smaller than its "
                             f"{kernel}x{kernel} window")
        return pad, ho, wo

    def _name(self, x, suffix):
        return f"{x}_{suffix}"

    # ---- layers with weights ------------------------------------------------------------------
    def conv(self, x, filters, kernel=1, stride=1, groups=1, padding="same", bias=False, *, name):
        cin = self.shape(x)[-1]
        if filters < 1:
            raise ValueError(f"layer {name!r} would have {filters} filters")
        if cin % groups or filters % groups:
            raise ValueError(f"layer {name!r}: {cin} input and {filters} output channels do not "
                             f"split into {groups} groups")
        pad, ho, wo = self._window(x, kernel, stride, padding, name)
        return self._add(name, "conv", [x], (ho, wo, filters), kernel=kernel, stride=stride,
                         groups=groups, pad=pad, bias=bias)

    def depthwise(self, x, kernel=3, stride=1, padding="same", bias=False, *, name):
        cin = self.shape(x)[-1]
        pad, ho, wo = self._window(x, kernel, stride, padding, name)
        return self._add(name, "depthwise", [x], (ho, wo, cin), kernel=kernel, stride=stride,
                         pad=pad, bias=bias)

    def dense(self, x, units, bias=True, *, name):
        return self._add(name, "dense", [x], (units,), bias=bias)

    def bn(self, x, name=None, epsilon=1e-3, momentum=0.99):
        """Batch normalization. ``momentum`` is Keras' (the weight of the old moving average)."""
        return self._add(name or self._name(x, "bn"), "bn", [x], self.shape(x),
                         epsilon=epsilon, momentum=momentum)

    # ---- layers without weights ---------------------------------------------------------------
    def relu(self, x, name=None):
        return self._add(name or self._name(x, "relu"), "relu", [x], self.shape(x))

    def relu6(self, x, name=None):
        return self._add(name or self._name(x, "relu"), "relu6", [x], self.shape(x))

    def maxpool(self, x, pool=3, stride=2, padding="valid", *, name):
        pad, ho, wo = self._window(x, pool, stride, padding, name)
        return self._add(name, "maxpool", [x], (ho, wo, self.shape(x)[-1]), pool=pool,
                         stride=stride, pad=pad)

    def avgpool(self, x, pool=3, stride=2, padding="valid", *, name):
        pad, ho, wo = self._window(x, pool, stride, padding, name)
        return self._add(name, "avgpool", [x], (ho, wo, self.shape(x)[-1]), pool=pool,
                         stride=stride, pad=pad)

    def gap(self, x, keepdims=False, name="global_pool"):
        c = self.shape(x)[-1]
        return self._add(name, "gap", [x], (1, 1, c) if keepdims else (c,), keepdims=keepdims)

    def flatten(self, x, name="flatten"):
        """(1, 1, C) -> (C,): only after global pooling, where the layout question cannot arise."""
        if self.shape(x)[:-1] != (1, 1):
            raise ValueError(f"{name}: flatten is only defined for 1x1 maps, got {self.shape(x)}")
        return self._add(name, "flatten", [x], (self.shape(x)[-1],))

    def dropout(self, x, rate, name="dropout"):
        return self._add(name, "dropout", [x], self.shape(x), rate=float(rate))

    def softmax(self, x, name="predictions"):
        return self._add(name, "softmax", [x], self.shape(x))

    def channel_shuffle(self, x, groups, name=None):
        c = self.shape(x)[-1]
        if c % groups:
            raise ValueError(f"channel shuffle: {c} channels do not split into {groups} groups")
        return self._add(name or self._name(x, "shuffle"), "channel_shuffle", [x], self.shape(x),
                         groups=groups)

    def add(self, a, b, *, name):
        if self.shape(a) != self.shape(b):
            raise ValueError(f"{name}: cannot add shapes {self.shape(a)} and {self.shape(b)}")
        return self._add(name, "add", [a, b], self.shape(a))

    def concat(self, *xs, name):
        shapes = [self.shape(x) for x in xs]
        if len({s[:-1] for s in shapes}) != 1:
            raise ValueError(f"{name}: cannot concatenate shapes {shapes}")
        return self._add(name, "concat", list(xs), shapes[0][:-1] + (sum(s[-1] for s in shapes),))
