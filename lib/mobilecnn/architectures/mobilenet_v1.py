"""MobileNet v1 (Howard et al., 2017): depthwise-separable convolutions, alpha and rho.

The table below is the paper's Table 1, one row per line. The paper prints the last depthwise
layer as ``Conv dw / s2`` on a 7x7 input; its output is still 7x7 and the reference
implementations use stride 1 there, so stride 1 it is.
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, RHO, Architecture, Metaparameter, Row, conv_bn, dropout_param

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
    """3x3 depthwise conv + BN + ReLU6, then 1x1 pointwise conv + BN + ReLU6."""
    net.block = f"block_{index}"
    x = net.depthwise(x, 3, stride, name=f"conv_dw_{index}")
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


ARCHITECTURE = Architecture(
    name="mobilenet_v1",
    title="MobileNet v1",
    paper="Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile "
          "Vision Applications, arXiv:1704.04861",
    metaparameters=(
        Metaparameter("alpha", 1.0, "width multiplier: every layer keeps int(alpha * channels)",
                      low=0.0, high=1.0, low_open=True,
                      grid=(0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
                            0.85, 0.9, 0.95, 1.0)),
        RHO, NUM_CLASSES, dropout_param(1e-3),
    ),
    describe=describe,
)
