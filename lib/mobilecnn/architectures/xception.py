"""Xception (Chollet, 2017): Inception taken to the extreme, depthwise-separable convolutions
stacked linearly with residual connections.

The paper's Figure 5 is ``TABLE`` below, one row per line: the entry flow (two 3x3 convolutions,
then three residual blocks that halve the map), the middle flow (one block, 728 channels wide,
repeated ``middle_repeats`` times; eight in the paper) and the exit flow (one more halving block,
two separable convolutions, global average pooling, the classifier).

**Separable convolutions** are a 3x3 depthwise convolution followed by a 1x1 pointwise
convolution with *no* nonlinearity (and no batch norm) between them, then batch norm: the paper
found that a ReLU or ELU between them makes the results worse (as seeds 002 §1 and 004 §4.5 report
it). keras.applications builds
each one as a single ``SeparableConv2D(use_bias=False)``; here it is two nodes,
``<name>_depthwise`` and ``<name>_pointwise``, whose weights are that layer's ``depthwise_kernel``
and ``pointwise_kernel`` exactly (9 * C_in + C_in * C_out numbers, no bias), so the counts are
the same and a weight copy is a split of one layer's two arrays; TF Lite converts both forms to
the same ``DEPTHWISE_CONV_2D`` and ``CONV_2D`` pair. Padding is ``"same"``.

**Where the ReLUs sit**, as in keras.applications (and the paper's figure): every separable
convolution of a residual block is preceded by a ReLU except the very first one of the entry
flow (block 2's, which reads the stem's ReLU output); the two separable convolutions of the exit
flow's last stage are each *followed* by a ReLU instead. The residual branch of a halving block
is a 1x1 convolution with stride 2 and batch norm (no ReLU), and it reads the block's input
*before* that ReLU, as do the identity shortcuts of the middle flow. The halving itself is a 3x3
max pool with stride 2 and ``"same"`` padding on a batch-norm output: padded entries must never
win, which is why the graph's max pooling pads with minus infinity.

**Counts.** At the defaults (299 px, eight middle blocks, 1000 classes) the network has
22,910,480 numbers in Keras' ``count_params()`` and 22,855,952 trainable ones, those of
``keras.applications.Xception(weights=None)``; the trainable count is the paper's Table 3
("Xception 22,855,952", quoted in seed 004 §4.5). The paper prints no multiply-accumulate
count, so none is quoted here; we count 8,357,403,496 at 299 px (convolutions and the dense
layer, biases excluded: the book's convention).

**Not in the paper:** ``alpha`` thins every layer to ``int(alpha * channels)`` (MobileNet v1's
rule), an explorer knob so that Xception can be set beside the small networks; at 1 it is the
paper's network. ``middle_repeats`` other than 8 is the paper's middle flow made shorter or
longer (the exit flow's blocks keep their numbers after the last middle block: block
``5 + middle_repeats`` and ``6 + middle_repeats``; 13 and 14 at the default). Like Keras'
reference this network has no dropout layer (dropout would count nothing anyway).

Inputs: keras.applications refuses inputs below 71 px; this description takes any input from
32 px (the 3x3 stem convolutions are unpadded, every halving is ``"same"``), so that the small
settings of the explorer and the tests exist.
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, RESOLUTIONS, Architecture, Figure, Metaparameter, Row, rho_param
from .mobilenet_v1 import width

BASE_RESOLUTION = 299
MIDDLE_REPEATS = 8

# Figure 5 of the paper. "conv": a 3x3 convolution without padding; "entry"/"exit": a halving
# residual block of two separable convolutions (the first ``exp`` wide where it is not the
# block's width: block 13 goes 728 then 1024); "middle": an identity block of three separable
# convolutions, ``repeats`` times; "separable": the exit flow's last separable convolutions.
#        kind         channels     repeats          stride
TABLE = (
    Row("conv",          32,                        stride=2, kernel=3),
    Row("conv",          64,                        stride=1, kernel=3),
    Row("entry",        128,                        stride=2),
    Row("entry",        256,                        stride=2),
    Row("entry",        728,                        stride=2),
    Row("middle",       728, repeats=MIDDLE_REPEATS),
    Row("exit",        1024,                        stride=2, exp=728),
    Row("separable",   1536),
    Row("separable",   2048),
)


def separable(net: Net, x: str, filters: int, name: str) -> str:
    """3x3 depthwise, 1x1 pointwise (no nonlinearity between, no bias), batch norm."""
    x = net.depthwise(x, 3, name=f"{name}_depthwise")
    x = net.conv(x, filters, 1, name=f"{name}_pointwise")
    return net.bn(x, name=f"{name}_bn")


def halving_block(net: Net, x: str, inner: int, filters: int, index: int, first: bool) -> str:
    """Two separable convolutions and a 3x3 stride-2 max pool, plus a 1x1 stride-2 projection
    (with batch norm) of the input; ``first``: no ReLU before the first separable convolution."""
    name = net.block = f"block{index}"
    residual = net.bn(net.conv(x, filters, 1, 2, name=f"{name}_residual"))
    h = x if first else net.relu(x, name=f"{name}_sepconv1_act")
    h = separable(net, h, inner, f"{name}_sepconv1")
    h = net.relu(h, name=f"{name}_sepconv2_act")
    h = separable(net, h, filters, f"{name}_sepconv2")
    h = net.maxpool(h, 3, 2, padding="same", name=f"{name}_pool")
    return net.add(h, residual, name=f"{name}_add")


def middle_block(net: Net, x: str, filters: int, index: int) -> str:
    """Three times ReLU and separable convolution, plus the identity."""
    name = net.block = f"block{index}"
    h = x
    for k in (1, 2, 3):
        h = net.relu(h, name=f"{name}_sepconv{k}_act")
        h = separable(net, h, filters, f"{name}_sepconv{k}")
    return net.add(h, x, name=f"{name}_add")


def entry_flow(net: Net, x: str, rows, alpha: float) -> str:
    net.stage = "entry_flow"
    for k, row in enumerate(rows[:2], start=1):
        net.block = "block1"
        x = net.conv(x, width(row.channels, alpha), row.kernel, row.stride, padding="valid",
                     name=f"block1_conv{k}")
        x = net.relu(net.bn(x), name=f"block1_conv{k}_act")
    for index, row in enumerate(rows[2:], start=2):
        c = width(row.channels, alpha)
        x = halving_block(net, x, c, c, index, first=index == 2)
    return x


def middle_flow(net: Net, x: str, row: Row, repeats: int, alpha: float) -> str:
    net.stage = "middle_flow"
    for r in range(repeats):
        x = middle_block(net, x, width(row.channels, alpha), 5 + r)
    return x


def exit_flow(net: Net, x: str, rows, index: int, alpha: float) -> str:
    net.stage = "exit_flow"
    block, *last = rows
    x = halving_block(net, x, width(block.exp, alpha), width(block.channels, alpha), index,
                      first=False)
    net.block = name = f"block{index + 1}"
    for k, row in enumerate(last, start=1):
        x = separable(net, x, width(row.channels, alpha), f"{name}_sepconv{k}")
        x = net.relu(x, name=f"{name}_sepconv{k}_act")
    return x


def classifier(net: Net, x: str, num_classes: int) -> str:
    """Global average pooling and a dense layer (with bias) to the classes, softmax."""
    net.stage = net.block = "classifier"
    x = net.gap(x, name="avg_pool")
    x = net.dense(x, num_classes, name="fc")
    return net.softmax(x)


def describe(net: Net, alpha: float, middle_repeats: int, num_classes: int) -> str:
    if width(TABLE[0].channels, alpha) < 1:
        raise ValueError(f"alpha={alpha} thins the first layer to zero filters; alpha must be "
                         f"in [{1 / TABLE[0].channels}, 1.0] for xception")
    x = entry_flow(net, "input", TABLE[:5], alpha)
    x = middle_flow(net, x, TABLE[5], middle_repeats, alpha)
    x = exit_flow(net, x, TABLE[6:], 5 + middle_repeats, alpha)
    return classifier(net, x, num_classes)


# ---- what the paper and keras.applications print ------------------------------------------------
BIB = "chollet2017xception"

PUBLISHED = (
    # Table 3 (parameter count) and Table 1 (ImageNet single-crop top-1 0.790, seed 004 §4.5)
    Figure("Xception", (("alpha", 1.0), ("middle_repeats", 8)), f"{BIB}, Tables 1 and 3",
           params=22.855952, top1=79.0),
    # keras.applications.Xception(weights=None).count_params(): batch-norm statistics included
    Figure("keras.applications Xception (count_params)", (("alpha", 1.0), ("middle_repeats", 8)),
           "keras.applications.Xception(weights=None).count_params()", params=22.91048,
           params_counts="params"),
)

ARCHITECTURE = Architecture(
    name="xception",
    title="Xception",
    paper="Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR",
    bib=BIB,
    metaparameters=(
        Metaparameter("alpha", 1.0, "width multiplier, not in the paper (an explorer knob): "
                      "every layer keeps int(alpha * channels); 1 is the paper's network",
                      low=0.0, high=1.0, low_open=True, grid=(0.25, 0.5, 0.75, 1.0),
                      symbol="\u03b1"),
        rho_param(BASE_RESOLUTION, RESOLUTIONS),
        Metaparameter("middle_repeats", MIDDLE_REPEATS, "blocks in the middle flow (the paper "
                      "repeats its 728-wide block 8 times)", kind="int", low=0, high=16,
                      grid=(0, 2, 4, 8, 16)),
        NUM_CLASSES,
    ),
    describe=describe,
    width="alpha",
    color="#17becf",
    published=PUBLISHED,
    base_resolution=BASE_RESOLUTION,
    order=10,
    smoke=(("alpha", 0.25), ("middle_repeats", 1), ("image_size", 32)),
)
