"""The network graph every interpreter reads.

An architecture module (``mobilecnn.architectures.*``) turns a paper's table into calls on a
:class:`Net`: ``net.conv(...)``, ``net.bn(...)``, ``net.channel_shuffle(...)`` and so on. Each call
appends one named :class:`Node` and works out its output shape there and then, so the arithmetic of
strides, padding and channel counts lives in this file and nowhere else.

What each kind of node costs, how its shape follows from its inputs and how a paper prints it
is one row of :data:`mobilecnn.ops.OPS`. Three interpreters walk the finished list of nodes:

* :mod:`mobilecnn.profiler` reads each node's parameter and multiply-accumulate counts,
* :mod:`mobilecnn.keras_backend` turns each node into a Keras layer with the node's name,
* :mod:`mobilecnn.torch_backend` turns each node into a PyTorch module with the node's name.

Shapes are channels-last, ``(height, width, channels)`` for feature maps and ``(features,)``
after global pooling, and describe one image (no batch axis). Kernels and pooling windows are
``(height, width)``; an ``int`` ``k`` means ``(k, k)``.

Padding is always explicit. A ``"same"`` convolution or pool is resolved here to the four
numbers TensorFlow would use (``pad_top, pad_bottom, pad_left, pad_right``): for a stride-2
layer on an even-sized input that is one row and column at the bottom and right only. The
PyTorch interpreter applies exactly these numbers, which is why the two frameworks compute the
same function on the same weights. Padding always adds zeros, also before max pooling (the book's
networks only max-pool non-negative activations, where zeros and minus infinity agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

from .ops import OPS, ShapeError  # noqa: F401  (ShapeError is re-exported)

Shape = tuple  # (H, W, C) or (C,)


@dataclass(frozen=True)
class Node:
    """One layer of a network, fully resolved.

    ``op`` names a row of :data:`mobilecnn.ops.OPS`. ``attrs`` holds what the op needs (kernel,
    stride, padding, groups, ...) as a tuple of ``(key, value)`` pairs so that the node stays
    hashable. ``stage`` and ``block`` say where in the stem / learner / classifier the node sits,
    for the per-stage roll-ups in the profiler and the widgets.
    """

    name: str
    op: str
    inputs: tuple
    in_shape: Shape
    out_shape: Shape
    attrs: tuple = ()
    stage: str = ""
    block: str = ""

    @cached_property
    def _attrs(self) -> dict:
        return dict(self.attrs)

    def attr(self, key, default=None):
        return self._attrs.get(key, default)

    # ---- costs, read from the op's row -----------------------------------------------------
    @property
    def weights(self) -> int:
        """Trainable numbers: kernels, biases, batch-norm scale and shift."""
        return OPS[self.op].weights(self)

    @property
    def kernel_weights(self) -> int:
        """Kernel entries only: no biases, no batch norm (MobileNet v1's Table 1 convention)."""
        return OPS[self.op].kernel_weights(self)

    @property
    def buffers(self) -> int:
        """Non-trainable numbers kept with the model: batch-norm moving mean and variance."""
        return OPS[self.op].buffers(self)

    @property
    def params(self) -> int:
        """Everything Keras' ``count_params()`` counts for this layer."""
        return self.weights + self.buffers

    @property
    def macs(self) -> int:
        """Multiply-accumulates of convolution and dense layers for one image (biases excluded)."""
        return OPS[self.op].macs(self)

    @property
    def elements(self) -> int:
        """Numbers in this layer's output for one image."""
        n = 1
        for d in self.out_shape:
            n *= d
        return n


def pair(value, what: str = "kernel") -> tuple:
    """``k`` -> ``(k, k)``; ``(h, w)`` stays; anything else is a ``ValueError``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, tuple) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{what} must be a positive whole number or a (height, width) pair of "
                         f"them, got {value!r}")
    return value


def same_padding(size: int, kernel: int, stride: int) -> tuple:
    """TensorFlow's ``padding="same"``: output ``ceil(size / stride)``, extra row at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


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

    def add_node(self, name: str, op: str, inputs, **attrs) -> str:
        """Append one node; its output shape comes from the op's shape rule."""
        if name in self.nodes:
            raise KeyError(f"layer name {name!r} is used twice")
        shapes = tuple(self.nodes[i].out_shape for i in inputs)
        out_shape = tuple(OPS[op].shape(shapes, attrs, name))
        self.nodes[name] = Node(name, op, tuple(inputs), shapes[0], out_shape,
                                tuple(sorted(attrs.items())), self.stage, self.block)
        return name

    def _pad(self, x, kernel, stride, padding) -> tuple:
        """``"same"``, ``"valid"`` or explicit ``(top, bottom, left, right)`` -> four numbers."""
        h, w, _ = self.shape(x)
        if padding == "same":
            return same_padding(h, kernel[0], stride) + same_padding(w, kernel[1], stride)
        if padding == "valid":
            return (0, 0, 0, 0)
        return tuple(padding)

    def _name(self, x, suffix):
        return f"{x}_{suffix}"

    # ---- layers with weights ------------------------------------------------------------------
    def conv(self, x, filters, kernel=1, stride=1, groups=1, padding="same", bias=False, *, name):
        kernel = pair(kernel)
        return self.add_node(name, "conv", [x], filters=filters, kernel=kernel, stride=stride,
                             groups=groups, pad=self._pad(x, kernel, stride, padding), bias=bias)

    def depthwise(self, x, kernel=3, stride=1, padding="same", bias=False, *, name):
        kernel = pair(kernel)
        return self.add_node(name, "depthwise", [x], kernel=kernel, stride=stride,
                             pad=self._pad(x, kernel, stride, padding), bias=bias)

    def dense(self, x, units, bias=True, *, name):
        return self.add_node(name, "dense", [x], units=units, bias=bias)

    def bn(self, x, name=None, epsilon=1e-3, momentum=0.99):
        """Batch normalization. ``momentum`` is Keras' (the weight of the old moving average)."""
        return self.add_node(name or self._name(x, "bn"), "bn", [x], epsilon=epsilon,
                             momentum=momentum)

    # ---- layers without weights ---------------------------------------------------------------
    def act(self, x, kind: str, name=None):
        """An activation by op name: ``relu``, ``relu6``, ``hard_swish`` or ``hard_sigmoid``."""
        if kind not in ("relu", "relu6", "hard_swish", "hard_sigmoid"):
            raise ValueError(f"activation {kind!r} is not one of 'relu', 'relu6', 'hard_swish', "
                             "'hard_sigmoid'")
        suffix = {"relu6": "relu"}.get(kind, kind)
        return self.add_node(name or self._name(x, suffix), kind, [x])

    def relu(self, x, name=None):
        return self.act(x, "relu", name)

    def relu6(self, x, name=None):
        return self.act(x, "relu6", name)

    def hard_swish(self, x, name=None):
        return self.act(x, "hard_swish", name)

    def hard_sigmoid(self, x, name=None):
        return self.act(x, "hard_sigmoid", name)

    def maxpool(self, x, pool=3, stride=2, padding="valid", *, name):
        pool = pair(pool, "pool")
        return self.add_node(name, "maxpool", [x], kernel=pool, stride=stride,
                             pad=self._pad(x, pool, stride, padding))

    def avgpool(self, x, pool=3, stride=2, padding="valid", *, name):
        pool = pair(pool, "pool")
        return self.add_node(name, "avgpool", [x], kernel=pool, stride=stride,
                             pad=self._pad(x, pool, stride, padding))

    def gap(self, x, keepdims=False, name="global_pool"):
        return self.add_node(name, "gap", [x], keepdims=keepdims)

    def flatten(self, x, name="flatten"):
        """(1, 1, C) -> (C,): only after global pooling, where the layout question cannot arise."""
        return self.add_node(name, "flatten", [x])

    def dropout(self, x, rate, name="dropout"):
        return self.add_node(name, "dropout", [x], rate=float(rate))

    def softmax(self, x, name="predictions"):
        return self.add_node(name, "softmax", [x])

    def channel_shuffle(self, x, groups, name=None, inverse=False):
        """Interleave the channels of ``groups`` groups; ``inverse=True`` undoes that shuffle
        (IGCV's "permutation back"), which is the shuffle of ``channels / groups`` groups."""
        attrs = {"inverse": True} if inverse else {}    # absent when False: old graphs unchanged
        return self.add_node(name or self._name(x, "shuffle"), "channel_shuffle", [x],
                             groups=groups, **attrs)

    def slice(self, x, start, stop, *, name):
        """Channels ``start:stop`` of ``x``."""
        return self.add_node(name, "slice", [x], start=start, stop=stop)

    def split(self, x, *, name) -> tuple:
        """ShuffleNet v2's channel split: the two halves of ``x`` as two slice nodes."""
        c = self.shape(x)[-1]
        if c % 2:
            raise ValueError(f"{name}: {c} channels do not split into two equal halves")
        return (self.slice(x, 0, c // 2, name=f"{name}_1"), self.slice(x, c // 2, c,
                                                                       name=f"{name}_2"))

    def add(self, *xs, name):
        return self.add_node(name, "add", list(xs))

    def multiply(self, x, factors, *, name):
        """``x`` times per-channel ``factors`` of shape (1, 1, C) (squeeze-and-excite)."""
        return self.add_node(name, "multiply", [x, factors])

    def concat(self, *xs, name):
        return self.add_node(name, "concat", list(xs))
