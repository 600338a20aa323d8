"""MobileNet v2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks.

``TABLE`` is the paper's Table 2 (t = expansion, c = channels, n = repeats, s = stride). The
``expansion`` metaparameter replaces every t = 6; the first row keeps t = 1, as in the paper.
"""

from __future__ import annotations

from ..graph import Net
from .common import (NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, conv_bn,
                     dropout_param, make_divisible)

#      kind        c   n  s  t
TABLE = (
    Row("conv",       32, 1, 2),
    Row("inverted",   16, 1, 1, expansion=1),
    Row("inverted",   24, 2, 2, expansion=6),
    Row("inverted",   32, 3, 2, expansion=6),
    Row("inverted",   64, 4, 2, expansion=6),
    Row("inverted",   96, 3, 1, expansion=6),
    Row("inverted",  160, 3, 2, expansion=6),
    Row("inverted",  320, 1, 1, expansion=6),
    Row("conv",     1280, 1, 1),
)


def inverted_block(net: Net, x: str, filters: int, stride: int, expansion: int, index: int) -> str:
    """Expand with a 1x1 conv (skipped when expansion is 1), filter with a 3x3 depthwise conv,
    project back with a linear 1x1 conv; add the input when shapes allow."""
    net.block = f"block_{index}"
    name = f"block_{index}"
    cin = net.shape(x)[-1]
    h = x
    if expansion != 1:
        h = conv_bn(net, h, expansion * cin, 1, name=f"{name}_expand")
    h = net.depthwise(h, 3, stride, name=f"{name}_depthwise")
    h = net.relu6(net.bn(h))
    h = conv_bn(net, h, filters, 1, act=None, name=f"{name}_project")   # linear bottleneck
    if stride == 1 and cin == filters:
        h = net.add(x, h, name=f"{name}_add")
    return h


def stem(net: Net, x: str, row: Row, alpha: float) -> str:
    net.stage, net.block = "stem", "conv1"
    return conv_bn(net, x, make_divisible(row.channels * alpha, 8), 3, row.stride, name="conv1")


def learner(net: Net, x: str, rows, alpha: float, expansion: int) -> str:
    index = -1
    for group, row in enumerate(rows, start=1):
        t = 1 if row.expansion == 1 else expansion
        filters = make_divisible(int(row.channels * alpha), 8)
        for repeat in range(row.repeats):
            index += 1
            net.stage = f"group_{group}"
            x = inverted_block(net, x, filters, row.stride if repeat == 0 else 1, t, index)
    return x


def classifier(net: Net, x: str, row: Row, alpha: float, num_classes: int, dropout: float) -> str:
    """A 1x1 conv to 1280 channels (wider only for alpha > 1), pooling, dropout, dense, softmax."""
    net.stage = net.block = "classifier"
    last = make_divisible(row.channels * alpha, 8) if alpha > 1.0 else row.channels
    x = conv_bn(net, x, last, 1, name="conv_last")
    x = net.gap(x)
    x = net.dropout(x, dropout)
    x = net.dense(x, num_classes, name="logits")
    return net.softmax(x)


def describe(net: Net, alpha: float, expansion: int, num_classes: int, dropout: float) -> str:
    x = stem(net, "input", TABLE[0], alpha)
    x = learner(net, x, TABLE[1:-1], alpha, expansion)
    return classifier(net, x, TABLE[-1], alpha, num_classes, dropout)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "sandler2018mobilenetv2"

#: Table 4 (ImageNet, 224 px): 300M multiply-adds, 3.4M parameters (weights, biases and
#: batch-norm scale and shift; torchvision's count of the same network is 3,504,872, which the
#: paper rounds down; hence the tolerance).
PUBLISHED = (
    Figure("MobileNet v2 1.0-224", (("alpha", 1.0), ("rho", 1.0)), f"{BIB}, Table 4",
           macs=300, params=3.4, top1=72.0, tolerance=0.03,
           note="3,504,872 trainable parameters, printed as 3.4M"),
)

ARCHITECTURE = Architecture(
    name="mobilenet_v2",
    title="MobileNet v2",
    paper="Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR",
    bib=BIB,
    metaparameters=(
        Metaparameter("alpha", 1.0, "width multiplier; widths are rounded to multiples of 8",
                      low=0.35, high=1.4,
                      grid=(0.35, 0.5, 0.6, 0.75, 0.85, 1.0, 1.1, 1.2, 1.3, 1.4), symbol="\u03b1"),
        RHO,
        Metaparameter("expansion", 6, "expansion factor t of the inverted blocks", kind="int",
                      low=1, high=12, grid=(1, 2, 3, 4, 5, 6, 8, 10), symbol="t"),
        NUM_CLASSES, dropout_param(0.0),
    ),
    describe=describe,
    width="alpha",
    color="#ff7f0e",
    published=PUBLISHED,
    order=2,
)
