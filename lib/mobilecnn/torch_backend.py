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
    """Zero-pad (top, bottom, left, right) then apply ``inner``; symmetric padding goes into
    ``inner`` itself when it can, so the common case costs nothing extra."""

    def __init__(self, inner: nn.Module, pad: tuple):
        super().__init__()
        self.inner = inner
        top, bottom, left, right = pad
        self.pad = (left, right, top, bottom)  # F.pad order: last axis first

    def forward(self, x):
        return self.inner(F.pad(x, self.pad))


def _windowed(node: Node, make) -> nn.Module:
    top, bottom, left, right = node.attr("pad")
    if top == bottom and left == right:
        return make((top, left))
    return Padded(make(0), node.attr("pad"))


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
    "hard_sigmoid": lambda n, a: nn.Hardsigmoid(),
    "hard_swish": lambda n, a: nn.Hardswish(),
    "maxpool": lambda n, a: Padded(nn.MaxPool2d(a["kernel"], a["stride"]), a["pad"]),
    "avgpool": lambda n, a: Padded(nn.AvgPool2d(a["kernel"], a["stride"]), a["pad"]),
    "gap": lambda n, a: GlobalPool(a["keepdims"]),
    "flatten": lambda n, a: nn.Flatten(1),
    "dropout": lambda n, a: nn.Dropout(a["rate"]),
    "softmax": lambda n, a: nn.Softmax(dim=1),
    "channel_shuffle": lambda n, a: ChannelShuffle(a["groups"], a.get("inverse", False)),
    "slice": lambda n, a: Slice(a["start"], a["stop"]),
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


def _inner(module: nn.Module) -> nn.Module:
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
        target = _inner(model.layers[node.name])
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
