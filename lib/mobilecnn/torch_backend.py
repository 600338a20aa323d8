"""PyTorch interpreter: one module per node of a :class:`~mobilecnn.graph.Net`, same names.

Channels-first (N, C, H, W). Padding is applied exactly as the graph resolved it (TensorFlow's
"same": the extra row and column go at the bottom and right), so that a model with weights copied
from its Keras twin computes the same function (see :func:`copy_from_keras`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .graph import Net, Node
from .ops import gather_index


class ChannelShuffle(nn.Module):
    """(N, g*n, H, W) -> (N, g, n, H, W) -> swap g and n -> (N, n*g, H, W).

    ``inverse=True`` undoes it (IGCV's "permutation back"): the shuffle of ``n = c / g`` groups."""

    def __init__(self, groups: int, inverse: bool = False):
        super().__init__()
        self.groups, self.inverse = groups, inverse

    def forward(self, x):
        n, c, h, w = x.shape
        g = c // self.groups if self.inverse else self.groups
        x = x.reshape(n, g, c // g, h, w).transpose(1, 2)
        return x.reshape(n, c, h, w)

    def extra_repr(self):
        return f"groups={self.groups}" + (", inverse=True" if self.inverse else "")


class Padded(nn.Module):
    """Pad (top, bottom, left, right) with ``value`` (zeros; minus infinity before a max pool)
    then apply ``inner``; symmetric padding goes into ``inner`` itself when it can, so the
    common case costs nothing extra."""

    def __init__(self, inner: nn.Module, pad: tuple, value: float = 0.0):
        super().__init__()
        self.inner = inner
        self.value = value
        top, bottom, left, right = pad
        self.pad = (left, right, top, bottom)  # F.pad order: last axis first

    def forward(self, x):
        return self.inner(F.pad(x, self.pad, value=self.value))


def _windowed(node: Node, make) -> nn.Module:
    top, bottom, left, right = node.attr("pad")
    if top == bottom and left == right:
        return make((top, left))
    return Padded(make(0), node.attr("pad"))


def _ceil_mode_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """PyTorch's pooled length with ``ceil_mode=True`` (a last window may hang over the end,
    but must start inside the input or its leading padding)."""
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + pad else out


def _maxpool(node: Node, a) -> nn.Module:
    """Max pooling whose padded entries never win (see :mod:`mobilecnn.graph`), with PyTorch's
    own padding: symmetric padding as ``padding``; more at the bottom or right (TensorFlow's
    ``"same"`` with stride 2 on an even size) as ``ceil_mode``, whose last window hangs over
    the end and ignores what lies beyond, exactly the windows of the node's padding. Only other
    paddings get explicit minus-infinity values (which ONNX Runtime's int8 calibration cannot
    range; no network of the book has one)."""
    top, bottom, left, right = a["pad"]
    (kh, kw), (sh, sw) = a["kernel"], a["stride"]
    h, w, _ = node.in_shape
    ho, wo, _ = node.out_shape
    if top <= kh // 2 and left <= kw // 2:
        if top == bottom and left == right:
            return nn.MaxPool2d(a["kernel"], a["stride"], (top, left))
        if (top <= bottom and left <= right and _ceil_mode_size(h, kh, sh, top) == ho
                and _ceil_mode_size(w, kw, sw, left) == wo):
            return nn.MaxPool2d(a["kernel"], a["stride"], (top, left), ceil_mode=True)
    return Padded(nn.MaxPool2d(a["kernel"], a["stride"]), a["pad"], float("-inf"))


class Flatten(nn.Module):
    """(N, C, H, W) -> (N, H * W * C) in channels-last order, as Keras' ``Flatten``."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


class Add(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class GlobalPool(nn.Module):
    def __init__(self, keepdims: bool):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        x = x.mean(dim=(2, 3), keepdim=True)
        return x if self.keepdims else x.flatten(1)


class Slice(nn.Module):
    """Channels ``start:stop`` of (N, C, H, W) (ShuffleNet v2's channel split)."""

    def __init__(self, start: int, stop: int):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start:self.stop]

    def extra_repr(self):
        return f"start={self.start}, stop={self.stop}"


class ChannelGather(nn.Module):
    """Channels ``index[0], index[1], ...`` of (N, C, H, W) or (N, C): CondenseNet's index layer.

    The index is a buffer (in the ``state_dict``, not among the parameters), so a converted
    network's learned index saves and reloads with its weights."""

    def __init__(self, index):
        super().__init__()
        self.register_buffer("index", torch.tensor(index, dtype=torch.long))

    def forward(self, x):
        return x.index_select(1, self.index)

    def extra_repr(self):
        return f"channels={len(self.index)}"


class Multiply(nn.Module):
    """A feature map times per-channel factors (N, C, 1, 1): squeeze-and-excite's product."""

    def forward(self, x, factors):
        return x * factors


def _conv(node, a):
    cin, cout = node.in_shape[-1], node.out_shape[-1]
    return _windowed(node, lambda p: nn.Conv2d(cin, cout, a["kernel"], a["stride"], p,
                                               groups=a["groups"], bias=a["bias"]))


def _depthwise(node, a):
    c = node.in_shape[-1]
    return _windowed(node, lambda p: nn.Conv2d(c, c, a["kernel"], a["stride"], p, groups=c,
                                               bias=a["bias"]))


# One entry per op of mobilecnn.ops.OPS (a test checks that none is missing).
MODULES = {
    "conv": _conv,
    "depthwise": _depthwise,
    "dense": lambda n, a: nn.Linear(n.in_shape[-1], n.out_shape[-1], bias=a["bias"]),
    # Keras' momentum is the weight of the old average, PyTorch's the weight of the new value.
    "bn": lambda n, a: nn.BatchNorm2d(n.out_shape[-1], eps=a["epsilon"],
                                      momentum=1 - a["momentum"]),
    "relu": lambda n, a: nn.ReLU(),
    "relu6": lambda n, a: nn.ReLU6(),
    "leaky_relu": lambda n, a: nn.LeakyReLU(a["negative_slope"]),
    "hard_sigmoid": lambda n, a: nn.Hardsigmoid(),
    "hard_swish": lambda n, a: nn.Hardswish(),
    "maxpool": _maxpool,
    "avgpool": lambda n, a: Padded(nn.AvgPool2d(a["kernel"], a["stride"]), a["pad"]),
    "gap": lambda n, a: GlobalPool(a["keepdims"]),
    "flatten": lambda n, a: Flatten(),
    "dropout": lambda n, a: nn.Dropout(a["rate"]),
    "softmax": lambda n, a: nn.Softmax(dim=1),
    "channel_shuffle": lambda n, a: ChannelShuffle(a["groups"], a.get("inverse", False)),
    "slice": lambda n, a: Slice(a["start"], a["stop"]),
    "index": lambda n, a: ChannelGather(gather_index(n)),
    "add": lambda n, a: Add(),
    "multiply": lambda n, a: Multiply(),
    "concat": lambda n, a: Concat(),
}


def _module(node: Node) -> nn.Module:
    if node.op not in MODULES:
        raise ValueError(f"no PyTorch module for op {node.op!r}")
    return MODULES[node.op](node, dict(node.attrs))


class GraphModule(nn.Module):
    """Runs the nodes of a :class:`Net` in order. ``layers[name]`` is the module of node ``name``.

    ``forward(x)`` returns class probabilities like the Keras model; ``forward(x, logits=True)``
    stops before the final softmax (for ``nn.CrossEntropyLoss``).
    """

    def __init__(self, net: Net, name: str = "model"):
        super().__init__()
        self.arch = name
        self.input_shape = net.input_shape
        self.nodes = [n for n in net if n.op != "input"]
        self.layers = nn.ModuleDict({n.name: _module(n) for n in self.nodes})

    def forward(self, x, logits: bool = False):
        tensors = {"input": x}
        last = self.nodes[-1]
        for node in self.nodes:
            if logits and node is last and node.op == "softmax":
                return tensors[node.inputs[0]]
            tensors[node.name] = self.layers[node.name](*(tensors[i] for i in node.inputs))
        return tensors[last.name]

    def feature_maps(self, x) -> dict:
        """Every node's output for input ``x``, by name (for layer-by-layer comparisons)."""
        tensors = {"input": x}
        for node in self.nodes:
            tensors[node.name] = self.layers[node.name](*(tensors[i] for i in node.inputs))
        return tensors


def build(net: Net, name: str = "model") -> GraphModule:
    return GraphModule(net, name)


def inner_module(module: nn.Module) -> nn.Module:
    return module.inner if isinstance(module, Padded) else module


@torch.no_grad()
def copy_from_keras(keras_model, model: GraphModule) -> GraphModule:
    """Copy weights layer by layer, by name, converting Keras' layouts to PyTorch's:

    * ``Conv2D`` kernel (kh, kw, cin/g, cout) -> (cout, cin/g, kh, kw)
    * ``DepthwiseConv2D`` kernel (kh, kw, c, 1) -> (c, 1, kh, kw)
    * ``Dense`` kernel (in, out) -> (out, in)
    * ``BatchNormalization`` gamma, beta, moving mean, moving variance -> weight, bias,
      running_mean, running_var
    """
    for node in model.nodes:
        if node.op not in ("conv", "depthwise", "dense", "bn"):
            continue
        weights = [torch.from_numpy(w.copy()) for w in keras_model.get_layer(node.name).get_weights()]
        target = inner_module(model.layers[node.name])
        if node.op == "conv":
            target.weight.copy_(weights[0].permute(3, 2, 0, 1))
        elif node.op == "depthwise":
            target.weight.copy_(weights[0].permute(2, 3, 0, 1))
        elif node.op == "dense":
            target.weight.copy_(weights[0].T)
        else:
            gamma, beta, mean, var = weights
            target.weight.copy_(gamma)
            target.bias.copy_(beta)
            target.running_mean.copy_(mean)
            target.running_var.copy_(var)
            continue
        if node.attr("bias"):
            target.bias.copy_(weights[1])
    return model


def set_batchnorm_momentum(model: nn.Module, keras_momentum: float) -> None:
    """Set every batch-norm layer's momentum, given in Keras' convention."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 1 - keras_momentum
