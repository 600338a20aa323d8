"""ShuffleNet v1 (Zhang et al., 2018): pointwise group convolutions and channel shuffle.

``STAGE_WIDTHS`` is the paper's Table 1: the output width of stage 2 for each number of groups
g (stages 3 and 4 double it). A stage is a ``shuffle`` row; its first unit has stride 2.
"""

from __future__ import annotations

from ..graph import Net
from .common import (NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, conv_bn,
                     make_divisible)

STAGE_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
STEM_WIDTH = 24


def table(groups: int) -> tuple:
    """Table 1 of the paper for ``groups`` groups, unscaled."""
    c = STAGE_WIDTHS[groups]
    return (
        Row("conv", STEM_WIDTH, 1, 2),
        Row("maxpool", STEM_WIDTH, 1, 2),
        Row("shuffle", c, 4, 2, groups=groups),
        Row("shuffle", 2 * c, 8, 2, groups=groups),
        Row("shuffle", 4 * c, 4, 2, groups=groups),
    )


def stage_width(channels: int, scale: float, groups: int) -> int:
    """Scale a stage width and round it to a multiple of 4 * groups.

    The bottleneck is a quarter of the unit's output and is split into ``groups`` groups, so the
    output must divide by 4 * g. At scale 1 every width of Table 1 already does and nothing
    changes; the seed code instead let group convolutions silently round channel counts.
    """
    return make_divisible(channels * scale, 4 * groups)


def shuffle_block(net: Net, x: str, filters: int, stride: int, groups: int, name: str,
                  first_groups: int | None = None) -> str:
    """A ShuffleNet unit: 1x1 group conv, channel shuffle, 3x3 depthwise, 1x1 group conv.

    Stride 1: the branch keeps the width and is added to the input. Stride 2: the input is
    average-pooled and concatenated, so the branch only produces ``filters - input`` channels.
    ``first_groups`` lets the very first unit keep its first 1x1 conv ungrouped (its input has
    only 24 channels).
    """
    net.block = name
    cin = net.shape(x)[-1]
    g1 = groups if first_groups is None else first_groups
    branch_out = filters - cin if stride == 2 else filters
    bottleneck = filters // 4
    h = conv_bn(net, x, bottleneck, 1, groups=g1, act="relu", name=f"{name}_gconv1")
    if g1 > 1:
        h = net.channel_shuffle(h, g1)
    h = net.bn(net.depthwise(h, 3, stride, name=f"{name}_dwconv"))
    h = conv_bn(net, h, branch_out, 1, groups=groups, act=None, name=f"{name}_gconv2")
    if stride == 2:
        # padding 1 on every side, as the reference AvgPool2d(3, 2, padding=1)
        shortcut = net.avgpool(x, 3, 2, padding=(1, 1, 1, 1), name=f"{name}_shortcut")
        out = net.concat(shortcut, h, name=f"{name}_concat")
    else:
        out = net.add(x, h, name=f"{name}_add")
    return net.relu(out)


def stem(net: Net, x: str, rows) -> str:
    net.stage = net.block = "stem"
    x = conv_bn(net, x, rows[0].channels, 3, rows[0].stride, act="relu", name="conv1")
    return net.maxpool(x, 3, rows[1].stride, padding=(1, 1, 1, 1), name="maxpool1")


def learner(net: Net, x: str, rows, scale: float) -> str:
    for number, row in enumerate(rows, start=2):
        net.stage = f"stage{number}"
        filters = stage_width(row.channels, scale, row.groups)
        for unit in range(row.repeats):
            first = 1 if (number == 2 and unit == 0) else None
            x = shuffle_block(net, x, filters, row.stride if unit == 0 else 1, row.groups,
                              f"stage{number}_unit{unit + 1}", first_groups=first)
    return x


def classifier(net: Net, x: str, num_classes: int) -> str:
    net.stage = net.block = "classifier"
    x = net.gap(x)
    x = net.dense(x, num_classes, name="logits")
    return net.softmax(x)


def describe(net: Net, groups: int, scale: float, num_classes: int) -> str:
    rows = table(groups)
    x = stem(net, "input", rows[:2])
    x = learner(net, x, rows[2:], scale)
    return classifier(net, x, num_classes)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "zhang2018shufflenet"

#: Table 1: complexity of ShuffleNet 1x for g = 1, 2, 3, 4, 8, in MFLOPs, which the paper
#: defines as multiply-adds. The paper prints no parameter count. Its 140M, 133M and 137M for
#: g = 2, 4 and 8 are 0.6 to 1% below the networks its Table 1 describes (140.8M, 134.3M and
#: 138.4M); the tolerance says so.
PUBLISHED = tuple(
    Figure(f"ShuffleNet 1x (g={g})", (("groups", g), ("scale", 1.0)), f"{BIB}, Table 1",
           macs=mflops, tolerance=0.007 if g in (2, 4, 8) else 0.0,
           note="the paper's figure is below the network its own table describes"
           if g in (2, 4, 8) else "")
    for g, mflops in {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}.items())

ARCHITECTURE = Architecture(
    name="shufflenet_v1",
    title="ShuffleNet v1",
    paper="Zhang et al. 2018, ShuffleNet: An Extremely Efficient Convolutional Neural Network "
          "for Mobile Devices, CVPR",
    bib=BIB,
    metaparameters=(
        Metaparameter("groups", 3, "groups g of the 1x1 convolutions", kind="choice",
                      choices=(1, 2, 3, 4, 8), grid=(1, 2, 3, 4, 8)),
        Metaparameter("scale", 1.0, "the paper's 's x' width scale", kind="choice",
                      choices=(0.25, 0.5, 1.0, 1.5, 2.0), grid=(0.25, 0.5, 1.0, 1.5, 2.0),
                      symbol="s"),
        RHO, NUM_CLASSES,
    ),
    describe=describe,
    width="scale",
    color="#d62728",
    published=PUBLISHED,
    order=4,
)
