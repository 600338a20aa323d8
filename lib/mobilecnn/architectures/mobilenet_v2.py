"""MobileNet v2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks.

``TABLE`` is the paper's Table 2 (t = expansion, c = channels, n = repeats, s = stride). The
``expansion`` metaparameter replaces every t = 6; the first row keeps t = 1, as in the paper.

Two metaparameters exist for the paper's ablations (its Figure 6) and default to the paper's
network: ``projection="relu6"`` puts a ReLU6 after every projection (the non-linear bottleneck
the paper argues against), and ``residual="none"`` drops every shortcut. Neither changes a
parameter or a multiply-accumulate; ``residual`` changes which tensors must be kept alive.
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


def inverted_block(net: Net, x: str, filters: int, stride: int, expansion: int, index: int,
                   projection: str = "linear", residual: str = "add") -> str:
    """Expand with a 1x1 conv (skipped when expansion is 1), filter with a 3x3 depthwise conv,
    project back with a linear 1x1 conv; add the input when shapes allow.

    ``projection="relu6"`` and ``residual="none"`` are the paper's ablations (see module doc).
    """
    net.block = f"block_{index}"
    name = f"block_{index}"
    cin = net.shape(x)[-1]
    h = x
    if expansion != 1:
        h = conv_bn(net, h, expansion * cin, 1, name=f"{name}_expand")
    h = net.depthwise(h, 3, stride, name=f"{name}_depthwise")
    h = net.relu6(net.bn(h))
    act = None if projection == "linear" else "relu6"           # linear bottleneck: no activation
    h = conv_bn(net, h, filters, 1, act=act, name=f"{name}_project")
    if residual == "add" and stride == 1 and cin == filters:
        h = net.add(x, h, name=f"{name}_add")
    return h


def stem(net: Net, x: str, row: Row, alpha: float) -> str:
    net.stage, net.block = "stem", "conv1"
    return conv_bn(net, x, make_divisible(row.channels * alpha, 8), 3, row.stride, name="conv1")


def learner(net: Net, x: str, rows, alpha: float, expansion: int, projection: str = "linear",
            residual: str = "add") -> str:
    index = -1
    for group, row in enumerate(rows, start=1):
        t = 1 if row.expansion == 1 else expansion
        filters = make_divisible(int(row.channels * alpha), 8)
        for repeat in range(row.repeats):
            index += 1
            net.stage = f"group_{group}"
            x = inverted_block(net, x, filters, row.stride if repeat == 0 else 1, t, index,
                               projection, residual)
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


def describe(net: Net, alpha: float, expansion: int, projection: str, residual: str,
             num_classes: int, dropout: float) -> str:
    x = stem(net, "input", TABLE[0], alpha)
    x = learner(net, x, TABLE[1:-1], alpha, expansion, projection, residual)
    return classifier(net, x, TABLE[-1], alpha, num_classes, dropout)


def streamed_blocks(net_or_profile) -> tuple:
    """The groups of blocks the paper's memory count (its Section 5.1) runs as streamed units:
    every inverted block on its own, and the stem convolution together with the first block (the
    paper's "trick" for the first layer: a 3x3 convolution that expands, a depthwise filter and a
    linear projection). For :func:`mobilecnn.memory.materialized`."""
    layers = getattr(net_or_profile, "layers", net_or_profile)
    blocks = list(dict.fromkeys(r.block for r in layers if r.block.startswith("block_")))
    return (("conv1", blocks[0]),) + tuple((b,) for b in blocks[1:])


# ---- what the paper prints -------------------------------------------------------------------
BIB = "sandler2018mobilenetv2"

#: Table 4 (ImageNet, 224 px): 300M multiply-adds, 3.4M parameters. No count of the network
#: rounds to 3.4M: its kernel weights are 3.47M (slim's README prints 3.47) and its trainable
#: parameters (weights, biases, batch-norm scale and shift; torchvision's count) 3,504,872. The
#: tolerance (3% on top of the printed precision of 0.05M) is what lets 3.50M pass as "3.4M":
#: it records the mismatch, it does not explain it; the chapter states it.
PUBLISHED = (
    Figure("MobileNet v2 1.0-224", (("alpha", 1.0), ("rho", 1.0)), f"{BIB}, Table 4",
           macs=300, params=3.4, top1=72.0, tolerance=0.03,
           note="3,504,872 trainable parameters, printed as 3.4M"),
)

#: Table 3, last row: the largest tensor (kB at 16 bits) that must be materialized at 224 px,
#: with inverted blocks streamed (Section 5.1). ShuffleNet is "2x, g = 3". (arXiv v4; an
#: earlier arXiv version prints other maxima.)
TABLE_3_MAX_KB = {"MobileNetV1": 1600, "MobileNetV2": 400, "ShuffleNet (2x, g=3)": 600}

#: Table 3's rows as printed in arXiv v4 (1801.04381v4): per spatial resolution, "channels/memory"
#: (memory in kB at 16 bits) of the largest materialized tensor, for MobileNetV1 and MobileNetV2.
#: The seed texts do not transcribe this table, so it was not checked against a second copy.
#: V1's 7x7 row prints 199 where 7 x 7 x 1024 x 2 bytes are 100 kB (199 looks like a typo); the
#: V2 column differs from the network of Table 2 below 112 x 112 (see the chapter).
TABLE_3 = {
    112: {"MobileNetV1": (64, 1600), "MobileNetV2": (16, 400)},
    56: {"MobileNetV1": (128, 800), "MobileNetV2": (32, 200)},
    28: {"MobileNetV1": (256, 400), "MobileNetV2": (64, 100)},
    14: {"MobileNetV1": (512, 200), "MobileNetV2": (160, 62)},
    7: {"MobileNetV1": (1024, 199), "MobileNetV2": (320, 32)},
    1: {"MobileNetV1": (1024, 2), "MobileNetV2": (1280, 2)},
}

#: Table 4's MobileNetV1 row: 575M multiply-adds and 4.2M parameters. The MobileNet v1 paper
#: prints 569M for the same network (:mod:`mobilecnn.architectures.mobilenet_v1`).
TABLE_4_V1_MMACS = 575

#: Table 2 as the paper prints it: (input, operator, t, c, n, s).
TABLE_2 = (
    ("224\u00b2 \u00d7 3", "conv2d", None, 32, 1, 2),
    ("112\u00b2 \u00d7 32", "bottleneck", 1, 16, 1, 1),
    ("112\u00b2 \u00d7 16", "bottleneck", 6, 24, 2, 2),
    ("56\u00b2 \u00d7 24", "bottleneck", 6, 32, 3, 2),
    ("28\u00b2 \u00d7 32", "bottleneck", 6, 64, 4, 2),
    ("14\u00b2 \u00d7 64", "bottleneck", 6, 96, 3, 1),
    ("14\u00b2 \u00d7 96", "bottleneck", 6, 160, 3, 2),
    ("7\u00b2 \u00d7 160", "bottleneck", 6, 320, 1, 1),
    ("7\u00b2 \u00d7 320", "conv2d 1x1", None, 1280, 1, 1),
    ("7\u00b2 \u00d7 1280", "avgpool 7x7", None, None, 1, None),
    ("1 \u00d7 1 \u00d7 1280", "conv2d 1x1", None, "k", None, None),
)

#: The TF-slim reference checkpoints (tensorflow/models, research/slim/nets/mobilenet/README.md):
#: (alpha, pixels) -> (MACs in millions, parameters in millions, ImageNet top-1 %). The
#: parameters are kernel weights (1001 classes); the MACs are truncated, not rounded.
SLIM = {
    (1.4, 224): (582, 6.06, 75.0), (1.3, 224): (509, 5.34, 74.4),
    (1.0, 224): (300, 3.47, 71.8), (1.0, 192): (221, 3.47, 70.7), (1.0, 160): (154, 3.47, 68.8),
    (1.0, 128): (99, 3.47, 65.3), (1.0, 96): (56, 3.47, 60.3),
    (0.75, 224): (209, 2.61, 69.8), (0.75, 192): (153, 2.61, 68.7),
    (0.75, 160): (107, 2.61, 66.4), (0.75, 128): (69, 2.61, 63.2), (0.75, 96): (39, 2.61, 58.8),
    (0.5, 224): (97, 1.95, 65.4), (0.5, 192): (71, 1.95, 63.9), (0.5, 160): (50, 1.95, 61.0),
    (0.5, 128): (32, 1.95, 57.7), (0.5, 96): (18, 1.95, 51.2),
    (0.35, 224): (59, 1.66, 60.3), (0.35, 192): (43, 1.66, 58.2), (0.35, 160): (30, 1.66, 55.7),
    (0.35, 128): (20, 1.66, 50.8), (0.35, 96): (11, 1.66, 45.5),
}

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
        Metaparameter("projection", "linear", "activation after each block's 1x1 projection: "
                      "none (linear, the paper's) or ReLU6 (the paper's ablation)", kind="choice",
                      choices=("linear", "relu6"), grid=("linear", "relu6")),
        Metaparameter("residual", "add", "shortcut from block input to output where shapes "
                      "match (add, the paper's) or none (the paper's ablation)", kind="choice",
                      choices=("add", "none"), grid=("add", "none")),
        NUM_CLASSES, dropout_param(0.0),
    ),
    describe=describe,
    width="alpha",
    color="#ff7f0e",
    published=PUBLISHED,
    order=2,
    smoke=(("alpha", 0.35), ("image_size", 32)),
)
