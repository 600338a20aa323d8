"""SqueezeNet (Iandola et al., 2016): fire modules, with the paper's simple and complex bypass.

``TABLES`` holds the two versions as rows: ``conv`` and ``maxpool`` rows, and ``fire`` rows
whose ``squeeze`` is s1x1 and whose ``channels`` is the module's output (e1x1 + e3x3, split
evenly, as in the paper). SqueezeNet has no batch normalization: its convolutions keep biases.

Bypass (the paper's section 6): ``"simple"`` adds the input of every fire module whose input and
output have the same shape (fire 3, 5, 7, 9); ``"complex"`` also adds a 1x1 convolution of the
input around the others (fire 2, 4, 6, 8).

Pooling floors the output size ("valid"), as Keras does. The PyTorch reference (torchvision)
pools with ``ceil_mode=True``; that changes feature-map sizes, and so multiply-accumulates, but
not parameters.
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, dropout_param

TABLES = {
    "1.0": (
        Row("conv", 96, stride=2),
        Row("maxpool", 96, stride=2),
        Row("fire", 128, squeeze=16), Row("fire", 128, squeeze=16), Row("fire", 256, squeeze=32),
        Row("maxpool", 256, stride=2),
        Row("fire", 256, squeeze=32), Row("fire", 384, squeeze=48), Row("fire", 384, squeeze=48),
        Row("fire", 512, squeeze=64),
        Row("maxpool", 512, stride=2),
        Row("fire", 512, squeeze=64),
    ),
    "1.1": (
        Row("conv", 64, stride=2),
        Row("maxpool", 64, stride=2),
        Row("fire", 128, squeeze=16), Row("fire", 128, squeeze=16),
        Row("maxpool", 128, stride=2),
        Row("fire", 256, squeeze=32), Row("fire", 256, squeeze=32),
        Row("maxpool", 256, stride=2),
        Row("fire", 384, squeeze=48), Row("fire", 384, squeeze=48), Row("fire", 512, squeeze=64),
        Row("fire", 512, squeeze=64),
    ),
}
STEM_KERNEL = {"1.0": 7, "1.1": 3}


def fire_block(net: Net, x: str, squeeze: int, filters: int, bypass: str, index: int) -> str:
    """Squeeze to ``squeeze`` channels with 1x1, expand with 1x1 and 3x3 side by side, concat."""
    name = f"fire{index}"
    net.block = name
    s = net.relu(net.conv(x, squeeze, 1, bias=True, name=f"{name}_squeeze"))
    e1 = net.relu(net.conv(s, filters // 2, 1, bias=True, name=f"{name}_expand1x1"))
    e3 = net.relu(net.conv(s, filters - filters // 2, 3, bias=True, name=f"{name}_expand3x3"))
    out = net.concat(e1, e3, name=f"{name}_concat")
    if bypass == "none":
        return out
    if net.shape(x) == net.shape(out):
        return net.add(x, out, name=f"{name}_add")
    if bypass == "complex":
        shortcut = net.conv(x, filters, 1, bias=True, name=f"{name}_bypass")
        return net.add(shortcut, out, name=f"{name}_add")
    return out


def stem(net: Net, x: str, row: Row, kernel: int) -> str:
    net.stage = net.block = "stem"
    x = net.conv(x, row.channels, kernel, row.stride, padding="valid", bias=True, name="conv1")
    return net.relu(x)


def learner(net: Net, x: str, rows, bypass: str) -> str:
    group, index = 1, 1
    for row in rows:
        if row.kind == "maxpool":
            net.stage = net.block = f"group_{group}"
            x = net.maxpool(x, 3, row.stride, name=f"maxpool{index}")
            group += 1
        else:
            index += 1
            net.stage = f"group_{group}"
            x = fire_block(net, x, row.squeeze, row.channels, bypass, index)
    return x


def classifier(net: Net, x: str, num_classes: int, dropout: float) -> str:
    """Dropout, a 1x1 convolution to one map per class, ReLU, global average pooling, softmax."""
    net.stage = net.block = "classifier"
    x = net.dropout(x, dropout)
    x = net.relu(net.conv(x, num_classes, 1, bias=True, name="conv10"))
    x = net.gap(x)
    return net.softmax(x)


def describe(net: Net, version: str, bypass: str, num_classes: int, dropout: float) -> str:
    rows = TABLES[version]
    x = stem(net, "input", rows[0], STEM_KERNEL[version])
    x = learner(net, x, rows[1:], bypass)
    return classifier(net, x, num_classes, dropout)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "iandola2016squeezenet"

#: Table 1: 1,248,424 parameters before pruning (weights and biases; there is no batch norm).
#: The paper prints no multiply-accumulates. Table 4 gives top-1 57.5% (no bypass), 60.4%
#: (simple) and 58.8% (complex).
PUBLISHED = (
    Figure("SqueezeNet 1.0", (("version", "1.0"),), f"{BIB}, Table 1", params=1.248424,
           top1=57.5),
)

ARCHITECTURE = Architecture(
    name="squeezenet",
    title="SqueezeNet",
    paper="Iandola et al. 2016, SqueezeNet: AlexNet-level accuracy with 50x fewer parameters "
          "and <0.5MB model size, arXiv:1602.07360",
    bib=BIB,
    metaparameters=(
        Metaparameter("version", "1.0", "1.0 is the paper's; 1.1 starts with a 3x3 conv and pools "
                      "earlier (2.4x fewer multiply-accumulates)", kind="choice",
                      choices=("1.0", "1.1"), grid=("1.0", "1.1")),
        Metaparameter("bypass", "none", "identity shortcuts around fire modules (simple), plus "
                      "1x1-conv shortcuts where shapes differ (complex)", kind="choice",
                      choices=("none", "simple", "complex"), grid=("none", "simple", "complex")),
        RHO, NUM_CLASSES, dropout_param(0.5),
    ),
    describe=describe,
    color="#2ca02c",
    published=PUBLISHED,
    order=3,
)
