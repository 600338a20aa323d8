"""Keras interpreter: one Keras layer per node of a :class:`~mobilecnn.graph.Net`, same names.

Channels-last. No ``Lambda`` layers: channel shuffle, channel split and CondenseNet's index layer are the
registered layers :class:`ChannelShuffle`, :class:`ChannelSlice` and :class:`ChannelGather`, and
group convolutions are
``Conv2D(groups=g)``; all of them save, reload and convert to TF Lite.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .tf_import import import_tensorflow  # noqa: E402

import_tensorflow()  # TensorFlow before Keras, without its oneDNN notice (see tf_import)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from .graph import Net, Node, same_padding  # noqa: E402
from .ops import gather_index  # noqa: E402


@keras.saving.register_keras_serializable(package="mobilecnn")
class ChannelShuffle(layers.Layer):
    """Interleave the channels of ``groups`` groups: (H, W, g*n) -> reshape (H, W, g, n) ->
    swap the last two axes -> (H, W, n*g). Channel ``i*n + j`` moves to ``j*g + i``.

    ``inverse=True`` undoes it (IGCV's "permutation back"): the shuffle of ``n = c / g`` groups."""

    def __init__(self, groups: int, inverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.groups, self.inverse = groups, inverse

    def call(self, x):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        g = c // self.groups if self.inverse else self.groups
        x = ops.reshape(x, (-1, h, w, g, c // g))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, h, w, c))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "inverse": self.inverse}


@keras.saving.register_keras_serializable(package="mobilecnn")
class ChannelSlice(layers.Layer):
    """Channels ``start:stop`` of a channels-last tensor (ShuffleNet v2's channel split).

    A real layer, not a ``Lambda``: it saves, reloads and converts to TF Lite (a StridedSlice)."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, x):
        return x[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.stop - self.start,)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="mobilecnn")
class ChannelGather(layers.Layer):
    """Channels ``index[0], index[1], ...`` of the last axis (CondenseNet's index layer).

    The index list is part of the layer's configuration (not a weight): it saves and reloads
    with the model and converts to a TF Lite GATHER with a constant index."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = tuple(int(i) for i in index)

    def call(self, x):
        return ops.take(x, ops.convert_to_tensor(self.index, dtype="int32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.index),)

    def get_config(self):
        return {**super().get_config(), "index": list(self.index)}


def _padding(node: Node, x) -> tuple:
    """Keras' own ``padding="same"`` when it equals the node's padding, else explicit zeros.

    Not for average pooling, whose ``"same"`` leaves the padded entries out of the average
    where the graph counts them as zeros. For max pooling ``"same"`` is the graph's minus
    infinity (see :mod:`mobilecnn.graph`)."""
    h, w = node.in_shape[:2]
    kh, kw = node.attr("kernel")
    sh, sw = node.attr("stride")
    pad = node.attr("pad")
    if pad == (0, 0, 0, 0):
        return "valid", x
    if (node.op in ("conv", "depthwise", "maxpool")
            and pad == same_padding(h, kh, sh) + same_padding(w, kw, sw)):
        return "same", x
    x = layers.ZeroPadding2D(((pad[0], pad[1]), (pad[2], pad[3])), name=f"{node.name}_pad")(x)
    return "valid", x


def _conv(node, inputs, a):
    padding, x = _padding(node, inputs[0])
    return layers.Conv2D(node.out_shape[-1], a["kernel"], strides=a["stride"], padding=padding,
                         groups=a["groups"], use_bias=a["bias"], name=node.name)(x)


def _depthwise(node, inputs, a):
    padding, x = _padding(node, inputs[0])
    return layers.DepthwiseConv2D(a["kernel"], strides=a["stride"], padding=padding,
                                  use_bias=a["bias"], name=node.name)(x)


def _pool(kind):
    def make(node, inputs, a):
        padding, x = _padding(node, inputs[0])
        return kind(a["kernel"], strides=a["stride"], padding=padding, name=node.name)(x)
    return make


def _single(make):
    """A layer of one input whose constructor only needs the node's name and attributes."""
    return lambda node, inputs, a: make(node, a)(inputs[0])


# One entry per op of mobilecnn.ops.OPS (a test checks that none is missing).
LAYERS = {
    "conv": _conv,
    "depthwise": _depthwise,
    "dense": _single(lambda n, a: layers.Dense(n.out_shape[-1], use_bias=a["bias"], name=n.name)),
    "bn": _single(lambda n, a: layers.BatchNormalization(epsilon=a["epsilon"],
                                                         momentum=a["momentum"], name=n.name)),
    "relu": _single(lambda n, a: layers.ReLU(name=n.name)),
    "relu6": _single(lambda n, a: layers.ReLU(6.0, name=n.name)),
    "leaky_relu": _single(lambda n, a: layers.LeakyReLU(a["negative_slope"], name=n.name)),
    "hard_sigmoid": _single(lambda n, a: layers.Activation("hard_sigmoid", name=n.name)),
    "hard_swish": _single(lambda n, a: layers.Activation("hard_swish", name=n.name)),
    "maxpool": _pool(layers.MaxPooling2D),
    "avgpool": _pool(layers.AveragePooling2D),
    "gap": _single(lambda n, a: layers.GlobalAveragePooling2D(keepdims=a["keepdims"], name=n.name)),
    "flatten": _single(lambda n, a: layers.Flatten(name=n.name)),
    "dropout": _single(lambda n, a: layers.Dropout(a["rate"], name=n.name)),
    "softmax": _single(lambda n, a: layers.Softmax(name=n.name)),
    "channel_shuffle": _single(lambda n, a: ChannelShuffle(a["groups"], a.get("inverse", False),
                                                           name=n.name)),
    "slice": _single(lambda n, a: ChannelSlice(a["start"], a["stop"], name=n.name)),
    "index": _single(lambda n, a: ChannelGather(gather_index(n), name=n.name)),
    "add": lambda n, inputs, a: layers.Add(name=n.name)(inputs),
    "multiply": lambda n, inputs, a: layers.Multiply(name=n.name)(inputs),
    "concat": lambda n, inputs, a: layers.Concatenate(axis=-1, name=n.name)(inputs),
}


def _layer(node: Node, inputs: list):
    if node.op not in LAYERS:
        raise ValueError(f"no Keras layer for op {node.op!r}")
    return LAYERS[node.op](node, inputs, dict(node.attrs))


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


def calibrate_batchnorm(model: keras.Model, images) -> keras.Model:
    """Set every batch norm's moving mean and variance to the statistics of its input on
    ``images`` (one forward pass in training mode with momentum 0), then restore the momenta.

    A freshly initialised network normalizes with mean 0 and variance 1 whatever its layers
    produce, and at a small resolution its activations can shrink to nothing: every ReLU output
    is then 0, the int8 converter records an empty range, and an int8 file of it computes
    nothing worth comparing. After this pass each batch norm outputs zero mean and unit variance
    on ``images`` (the pass normalizes with the batch statistics, so later layers see what
    inference with the new moving statistics gives), as in a trained network: a cheap stand-in
    for training when only the file's structure, its memory and its numerics matter. Dropout is
    active in the pass, so give a model built with ``dropout=0`` where the architecture has it.
    Returns ``model``.
    """
    bns = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    set_batchnorm_momentum(model, 0.0)
    try:
        model(np.asarray(images, dtype="float32"), training=True)
    finally:
        for layer, momentum in zip(bns, momenta):
            layer.momentum = momentum
    return model


def logits_model(model: keras.Model) -> keras.Model:
    """The same layers without the final softmax (for losses that expect logits)."""
    return keras.Model(model.input, model.layers[-1].input, name=f"{model.name}_logits")
