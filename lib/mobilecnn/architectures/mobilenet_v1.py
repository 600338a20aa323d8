"""MobileNet v1 (Howard et al., 2017): depthwise-separable convolutions, alpha and rho.

The table below is the paper's Table 1, one row per line. The paper prints the last depthwise
layer as ``Conv dw / s2`` on a 7x7 input; its output is still 7x7 and the reference
implementations use stride 1 there, so stride 1 it is.
"""

from __future__ import annotations

from ..graph import Net
from .common import (NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, conv_bn,
                     dropout_param)

#   kind         channels repeats stride
TABLE = (
    Row("conv",        32,   1,   2),
    Row("depthwise",   64,   1,   1),
    Row("depthwise",  128,   1,   2),
    Row("depthwise",  128,   1,   1),
    Row("depthwise",  256,   1,   2),
    Row("depthwise",  256,   1,   1),
    Row("depthwise",  512,   1,   2),
    Row("depthwise",  512,   5,   1),
    Row("depthwise", 1024,   1,   2),
    Row("depthwise", 1024,   1,   1),   # the paper's "s2" here is a typo
)


def width(channels: int, alpha: float) -> int:
    """The width multiplier as the reference implementation applies it: truncate, don't round."""
    return int(channels * alpha)


def depthwise_block(net: Net, x: str, filters: int, stride: int, index: int) -> str:
    """3x3 depthwise conv + BN + ReLU6, then 1x1 pointwise conv + BN + ReLU6.

    A stride-2 depthwise layer pads one row and column at the bottom and right, whatever the
    input size, as the reference implementation does; "same" padding agrees with that only on
    even sizes."""
    net.block = f"block_{index}"
    padding = (0, 1, 0, 1) if stride == 2 else "same"
    x = net.depthwise(x, 3, stride, padding=padding, name=f"conv_dw_{index}")
    x = net.relu6(net.bn(x))
    return conv_bn(net, x, filters, 1, name=f"conv_pw_{index}")


def stem(net: Net, x: str, rows, alpha: float) -> str:
    """A strided 3x3 convolution and the first (stride-1, 64-wide) depthwise block."""
    net.stage, net.block = "stem", "conv1"
    x = conv_bn(net, x, width(rows[0].channels, alpha), 3, rows[0].stride, name="conv1")
    return depthwise_block(net, x, width(rows[1].channels, alpha), rows[1].stride, 1)


def learner(net: Net, x: str, rows, alpha: float) -> str:
    """Four groups of depthwise blocks; each group starts with a stride-2 block."""
    index, group = 1, 0
    for row in rows:
        for repeat in range(row.repeats):
            index += 1
            stride = row.stride if repeat == 0 else 1
            group += stride == 2
            net.stage = f"group_{group}"
            x = depthwise_block(net, x, width(row.channels, alpha), stride, index)
    return x


def classifier(net: Net, x: str, num_classes: int, dropout: float) -> str:
    """Global average pooling, dropout, and a 1x1 convolution in place of a dense layer."""
    net.stage = net.block = "classifier"
    x = net.gap(x, keepdims=True)
    x = net.dropout(x, dropout)
    x = net.conv(x, num_classes, 1, bias=True, name="conv_preds")
    x = net.flatten(x, name="reshape")
    return net.softmax(x)


def describe(net: Net, alpha: float, num_classes: int, dropout: float) -> str:
    if width(TABLE[0].channels, alpha) < 1:
        raise ValueError(f"alpha={alpha} thins the first layer to zero filters; alpha must be "
                         f"in [{1 / TABLE[0].channels}, 1.0] for mobilenet_v1")
    x = stem(net, "input", TABLE[:2], alpha)
    x = learner(net, x, TABLE[2:], alpha)
    return classifier(net, x, num_classes, dropout)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "howard2017mobilenets"

#: Table 3: one 3x3 layer on a 14x14x512 map with 512 outputs, in millions.
#: Keys: (layer kind, alpha, rho); values: (Mult-Adds, parameters).
TABLE_3 = {
    ("standard", 1.0, 1.0): (462.0, 2.36),
    ("separable", 1.0, 1.0): (52.3, 0.27),
    ("separable", 0.75, 1.0): (29.6, 0.15),
    ("separable", 0.75, 0.714): (15.1, 0.15),
}

#: Table 2: share of Mult-Adds and of parameters per layer type, in percent.
TABLE_2 = {
    "Conv 1x1": (94.86, 74.59),
    "Conv DW 3x3": (3.06, 1.06),
    "Conv 3x3": (1.19, 0.02),
    "Fully Connected": (0.18, 24.33),
}

#: Table 4: the same network with full convolutions instead of separable ones.
#: (top-1 %, million Mult-Adds, million parameters)
TABLE_4 = {
    "Conv MobileNet": (71.7, 4866, 29.3),
    "MobileNet": (70.6, 569, 4.2),
}

#: Tables 6 (alpha at 224 px) and 7 (resolution at alpha 1), ImageNet. Parameters are kernel
#: weights only. The paper prints no table for the other nine combinations (its Figures 4 and 5
#: plot them). At 160 px the network has 290.7M Mult-Adds, which the paper prints as 290M; the
#: other six agree to the printed digit.
PUBLISHED = tuple(
    Figure(f"MobileNet v1 {alpha:g}-{size}", (("alpha", alpha), ("rho", size / 224)),
           f"{BIB}, Table {6 if size == 224 else 7}", macs=macs, params=params,
           params_counts="kernel_weights", top1=top1,
           tolerance=0.002 if size == 160 else 0.0,
           note="290.7M, printed as 290M" if size == 160 else "")
    for (alpha, size), (top1, macs, params) in {
        (1.0, 224): (70.6, 569, 4.2),
        (0.75, 224): (68.4, 325, 2.6),
        (0.5, 224): (63.7, 149, 1.3),
        (0.25, 224): (50.6, 41, 0.5),
        (1.0, 192): (69.1, 418, 4.2),
        (1.0, 160): (67.2, 290, 4.2),
        (1.0, 128): (64.4, 186, 4.2),
    }.items())

ARCHITECTURE = Architecture(
    name="mobilenet_v1",
    title="MobileNet v1",
    paper="Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile "
          "Vision Applications, arXiv:1704.04861",
    bib=BIB,
    metaparameters=(
        Metaparameter("alpha", 1.0, "width multiplier: every layer keeps int(alpha * channels)",
                      low=0.0, high=1.0, low_open=True,
                      grid=(0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
                            0.85, 0.9, 0.95, 1.0), symbol="\u03b1"),
        RHO, NUM_CLASSES, dropout_param(1e-3),
    ),
    describe=describe,
    width="alpha",
    color="#1f77b4",
    published=PUBLISHED,
    order=1,
    smoke=(("alpha", 0.25), ("image_size", 32)),
)
