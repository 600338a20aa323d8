"""ShuffleNet v1 (Zhang et al., 2018): pointwise group convolutions and channel shuffle.

``STAGE_WIDTHS`` is the paper's Table 1: the output width of stage 2 for each number of groups
g (stages 3 and 4 double it). A stage is a ``shuffle`` row; its first unit has stride 2.

"ShuffleNet s x" multiplies the number of filters by s. How the widths are rounded:

* **stages**: ``s * width``, rounded to the nearest multiple of ``4 g`` (the bottleneck is a
  quarter of the unit and is split into g groups), as :func:`stage_width` does. For every scale
  the paper names (0.25, 0.5, 1, 1.5, 2) and g = 1, 3, 8 this is exactly ``s * width``; for
  g = 2 and 4 at 0.25x and 0.5x it moves a width by at most 8 channels (50 -> 48, 136 -> 144).
* **stem** (``conv1``, 24 at 1x): MEGVII's reference implementation (ShuffleNet-Series,
  ``ShuffleNetV1/network.py``, ``stage_out_channels``) halves it at 0.5x (12), keeps 24 at
  1.5x and doubles it at 2x (48): the stem moves by whole factors of two only,
  ``24 * 2 ** floor(log2 s)``. Below 0.5x the reference has no model; the paper's 0.25x
  networks cost 13 MFLOPs (Table 2), which a 12-wide stem gives and a 6-wide one does not
  (11.0M at g = 3), so the stem stops halving at 12. Last, the stem is rounded up to a
  multiple of g, because the first unit's grouped 1x1 convolution produces ``out - stem``
  channels in g groups: this is the reference's 16 (not 12) for 0.5x at g = 8. See
  :func:`stem_width`.

With these rules the profile gives the reference's and the paper's complexities: 37.6M for
0.5x at g = 3 (Tables 2 and 8: 38M), 292.4M for 1.5x and 524.0M for 2x at g = 3 (Table 5:
292 and 524), and every figure in :data:`PUBLISHED` (Table 1's without the final FC layer, as
the paper counts there). The complexities Table 2 prints per row are budgets
(:data:`BUDGETS`), not one network's count.
"""

from __future__ import annotations

import math

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


def stem_width(scale: float, groups: int) -> int:
    """The stem's width at ``scale``: 24 times the largest power of two not above ``scale``, at
    least 12, rounded up to a multiple of ``groups`` (the module docstring gives the reasons).

    0.25x and 0.5x -> 12 (16 for g = 8); 1x and 1.5x -> 24; 2x -> 48.
    """
    width = max(12, int(STEM_WIDTH * 2 ** math.floor(math.log2(scale))))
    return -(-width // groups) * groups


def shuffle_block(net: Net, x: str, filters: int, stride: int, groups: int, name: str,
                  first_groups: int | None = None, shuffle: bool = True) -> str:
    """A ShuffleNet unit: 1x1 group conv, channel shuffle, 3x3 depthwise, 1x1 group conv.

    Stride 1: the branch keeps the width and is added to the input. Stride 2: the input is
    average-pooled and concatenated, so the branch only produces ``filters - input`` channels.
    ``first_groups`` lets the very first unit keep its first 1x1 conv ungrouped (its input has
    only 24 channels). ``shuffle=False`` leaves the shuffle out (the paper's Table 3 ablation).
    """
    net.block = name
    cin = net.shape(x)[-1]
    g1 = groups if first_groups is None else first_groups
    branch_out = filters - cin if stride == 2 else filters
    bottleneck = filters // 4
    h = conv_bn(net, x, bottleneck, 1, groups=g1, act="relu", name=f"{name}_gconv1")
    if g1 > 1 and shuffle:
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


def stem(net: Net, x: str, rows, width: int) -> str:
    """3x3 conv (``width`` filters, the scaled Table 1 row), batch norm, ReLU, 3x3 max pool."""
    net.stage = net.block = "stem"
    x = conv_bn(net, x, width, 3, rows[0].stride, act="relu", name="conv1")
    return net.maxpool(x, 3, rows[1].stride, padding=(1, 1, 1, 1), name="maxpool1")


def learner(net: Net, x: str, rows, scale: float, shuffle: bool = True) -> str:
    for number, row in enumerate(rows, start=2):
        net.stage = f"stage{number}"
        filters = stage_width(row.channels, scale, row.groups)
        for unit in range(row.repeats):
            first = 1 if (number == 2 and unit == 0) else None
            x = shuffle_block(net, x, filters, row.stride if unit == 0 else 1, row.groups,
                              f"stage{number}_unit{unit + 1}", first_groups=first,
                              shuffle=shuffle)
    return x


def classifier(net: Net, x: str, num_classes: int) -> str:
    net.stage = net.block = "classifier"
    x = net.gap(x)
    x = net.dense(x, num_classes, name="logits")
    return net.softmax(x)


def describe(net: Net, groups: int, scale: float, num_classes: int, shuffle: bool = True) -> str:
    rows = table(groups)
    x = stem(net, "input", rows[:2], stem_width(scale, groups))
    x = learner(net, x, rows[2:], scale, shuffle)
    return classifier(net, x, num_classes)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "zhang2018shufflenet"

#: Table 1: complexity of ShuffleNet 1x for g = 1, 2, 3, 4, 8, in MFLOPs, which the paper
#: defines as multiply-adds. The paper prints no parameter count. All five figures are the
#: networks its Table 1 describes counted without the final FC layer (``logits``): 142.50,
#: 140.04, 136.50, 133.25 and 136.83 million round to 143, 140, 137, 133 and 137, while with
#: the FC layer g = 2, 4 and 8 do not (140.84, 134.34, 138.37). Tables 5 and 8 count it: their
#: 524M and 292M (2x and 1.5x, g = 3) are 524.05M and 292.44M with it, 522.13M and 291.00M
#: without.
_TABLE_1 = tuple(
    Figure(f"ShuffleNet 1x (g={g}), Table 1", (("groups", g), ("scale", 1.0)), f"{BIB}, Table 1",
           macs=mflops, excludes=("logits",))
    for g, mflops in {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}.items())

#: Complexities the paper prints for a *row* of networks, not for one: Table 2 trains all of
#: g = 1, 2, 3, 4, 8 at 1x, 0.5x and 0.25x and prints one complexity per scale (140, 38 and 13
#: MFLOPs), the budget the five networks are held to; Tables 5 and 8 print the same 140 for 1x
#: networks (g = 8 and g = 3) that Table 1 gives as 137. ``(source, scale, groups, MFLOPs)``.
#: These are not compared to a tolerance: the chapter shows each network's difference from its
#: budget (up to +21%, 0.25x at g = 8, whose stem must be a multiple of 8: 16 channels; apart
#: from the two thin g = 8 networks, none differs by more than the 4.0% of 1x at g = 4).
BUDGETS = tuple((f"{BIB}, Table 2", s, g, mflops)
                for s, mflops in ((1.0, 140), (0.5, 38), (0.25, 13)) for g in (1, 2, 3, 4, 8)) + (
    (f"{BIB}, Table 5", 1.0, 8, 140), (f"{BIB}, Table 8", 1.0, 3, 140))

#: Tables 5 and 8 (the comparisons with MobileNet and the timings on a phone): the figures that
#: name one network. Table 5's "0.5x shallow" (half the units) is not a setting of this module.
_TABLES_5_AND_8 = tuple(
    Figure(f"ShuffleNet {s:g}x (g={g}), Table {table}", (("groups", g), ("scale", s)),
           f"{BIB}, Table {table}", macs=mflops)
    for table, s, g, mflops in ((5, 2.0, 3, 524), (5, 1.5, 3, 292), (5, 0.5, 4, 38),
                                (8, 0.5, 3, 38), (8, 2.0, 3, 524)))

#: MEGVII's reference implementation (github.com/megvii-model/ShuffleNet-Series,
#: ShuffleNetV1/README.md): FLOPs (multiply-adds) and parameters (PyTorch ``parameters()``)
#: of the models it trained, g = 3 and 8. Its classifier has no bias, 1,000 parameters fewer
#: than ours; that alone moves 2x (g=3) from 5.4498M to 5.4508M, across the rounding edge.
_REFERENCE = "megvii-model/ShuffleNet-Series, ShuffleNetV1/README.md"
_MEGVII = tuple(
    Figure(f"ShuffleNetV1 {s:g}x (group={g}), reference", (("groups", g), ("scale", s)),
           _REFERENCE, macs=mflops, params=params, tolerance=tolerance, note=note)
    for s, g, mflops, params, tolerance, note in (
        (2.0, 3, 524, 5.4, 0.0002, "the reference's classifier has no bias (1,000 parameters)"),
        (2.0, 8, 522, 6.5, 0.0, ""),
        (1.5, 3, 292, 3.4, 0.0, ""), (1.5, 8, 290, 4.3, 0.0, ""),
        (1.0, 3, 138, 1.9, 0.001, "137.46M, printed as 138M here and as 137M in the paper's "
                                  "Table 1"),
        (1.0, 8, 138, 2.4, 0.0, ""),
        (0.5, 3, 38, 0.7, 0.0, ""), (0.5, 8, 40, 1.0, 0.0, "")))

PUBLISHED = _TABLE_1 + _TABLES_5_AND_8 + _MEGVII

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
        Metaparameter("shuffle", True, "channel shuffle after the first grouped 1x1 convolution "
                      "(False: the paper's Table 3 ablation)", kind="choice",
                      choices=(True, False), grid=(True, False)),
        RHO, NUM_CLASSES,
    ),
    describe=describe,
    width="scale",
    color="#d62728",
    published=PUBLISHED,
    order=4,
    smoke=(("groups", 3), ("scale", 0.25), ("image_size", 32))   # ChannelShuffle, grouped convs,
)
