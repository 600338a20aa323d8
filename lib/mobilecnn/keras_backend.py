"""Keras interpreter: one Keras layer per node of a :class:`~mobilecnn.graph.Net`, same names.

Channels-last. No ``Lambda`` layers: channel shuffle is the registered layer
:class:`ChannelShuffle`, and group convolutions are ``Conv2D(groups=g)``; both save, reload and
convert to TF Lite.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

from .graph import Net, Node, same_padding  # noqa: E402


@keras.saving.register_keras_serializable(package="mobilecnn")
class ChannelShuffle(layers.Layer):
    """Interleave the channels of ``groups`` groups: (H, W, g*n) -> reshape (H, W, g, n) ->
    swap the last two axes -> (H, W, n*g). Channel ``i*n + j`` moves to ``j*g + i``."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        x = ops.reshape(x, (-1, h, w, self.groups, c // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, h, w, c))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def _padding(node: Node, x) -> tuple:
    """Keras' own ``padding="same"`` when it equals the node's padding, else explicit zeros."""
    h, w = node.in_shape[:2]
    k = node.attr("kernel") or node.attr("pool")
    pad = node.attr("pad")
    if pad == (0, 0, 0, 0):
        return "valid", x
    if pad == same_padding(h, k, node.attr("stride")) + same_padding(w, k, node.attr("stride")):
        if node.op in ("conv", "depthwise"):
            return "same", x
    x = layers.ZeroPadding2D(((pad[0], pad[1]), (pad[2], pad[3])), name=f"{node.name}_pad")(x)
    return "valid", x


def _layer(node: Node, inputs: list):
    a, name, x = node.attr, node.name, inputs[0]
    op = node.op
    if op == "conv":
        padding, x = _padding(node, x)
        return layers.Conv2D(node.out_shape[-1], a("kernel"), strides=a("stride"), padding=padding,
                             groups=a("groups"), use_bias=a("bias"), name=name)(x)
    if op == "depthwise":
        padding, x = _padding(node, x)
        return layers.DepthwiseConv2D(a("kernel"), strides=a("stride"), padding=padding,
                                      use_bias=a("bias"), name=name)(x)
    if op == "dense":
        return layers.Dense(node.out_shape[-1], use_bias=a("bias"), name=name)(x)
    if op == "bn":
        return layers.BatchNormalization(epsilon=a("epsilon"), momentum=a("momentum"), name=name)(x)
    if op == "relu":
        return layers.ReLU(name=name)(x)
    if op == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    if op in ("maxpool", "avgpool"):
        _, x = _padding(node, x)
        pool = layers.MaxPooling2D if op == "maxpool" else layers.AveragePooling2D
        return pool(a("pool"), strides=a("stride"), padding="valid", name=name)(x)
    if op == "gap":
        return layers.GlobalAveragePooling2D(keepdims=a("keepdims"), name=name)(x)
    if op == "flatten":
        return layers.Reshape(node.out_shape, name=name)(x)
    if op == "dropout":
        return layers.Dropout(a("rate"), name=name)(x)
    if op == "softmax":
        return layers.Softmax(name=name)(x)
    if op == "channel_shuffle":
        return ChannelShuffle(a("groups"), name=name)(x)
    if op == "add":
        return layers.Add(name=name)(inputs)
    if op == "concat":
        return layers.Concatenate(axis=-1, name=name)(inputs)
    raise ValueError(f"no Keras layer for op {op!r}")


def build(net: Net, name: str = "model") -> keras.Model:
    """Walk the nodes in order and connect one Keras layer per node."""
    tensors = {"input": keras.Input(net.input_shape, name="input")}
    for node in net:
        if node.op != "input":
            tensors[node.name] = _layer(node, [tensors[i] for i in node.inputs])
    return keras.Model(tensors["input"], tensors[net.output], name=name)


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> None:
    """Change every batch-norm layer's momentum (Keras convention: weight of the old average)."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = momentum


def logits_model(model: keras.Model) -> keras.Model:
    """The same layers without the final softmax (for losses that expect logits)."""
    return keras.Model(model.input, model.layers[-1].input, name=f"{model.name}_logits")
