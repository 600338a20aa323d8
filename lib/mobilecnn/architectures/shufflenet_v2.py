"""ShuffleNet v2 (Ma et al., 2018): channel split, two branches, concatenation, channel shuffle.

``STAGE_WIDTHS`` is the paper's Table 5: the output widths of stages 2, 3, 4 and of ``conv5``
for each scale ("ShuffleNet v2 s x"). The widths are the table's own, not a formula: 116 at 1x
is not twice 48 at 0.5x. ``conv1`` is 24 wide at every scale.

A unit with stride 1 splits its input's channels into two halves (:meth:`~mobilecnn.graph.Net.split`,
two slice nodes). The first half passes unchanged; the second goes through the branch, a 1x1
convolution, a 3x3 depthwise convolution without activation and another 1x1 convolution, each
with batch norm, the two 1x1 with ReLU. The halves are concatenated, then the channels of the
two halves are interleaved (channel shuffle, g = 2), so the next unit's split mixes both. The
first unit of a stage has stride 2 and no split: both branches read the whole input, the left
one (``proj``) a 3x3 depthwise convolution with stride 2 and a 1x1 convolution, the right one
the branch above with stride 2 in its depthwise layer; the concatenation doubles the width.

Two layouts of that first unit exist; they differ only in stage 2, whose input is the 24-channel
stem rather than half the unit's output:

* ``layout="torchvision"`` (``torchvision.models.shufflenet_v2_x*``): both branches give half the
  output, ``out / 2`` channels each; the right branch's first 1x1 convolution reads all 24 input
  channels. Parameters and MACs equal torchvision's counts exactly (1,366,792 / 2,278,604 /
  3,503,624 / 7,393,996 parameters; 40.48M / 144.91M / 295.76M / 583.25M MACs, which
  torchvision's documentation prints as 0.04 / 0.145 / 0.296 / 0.583 "GFLOPS").
* ``layout="paper"`` (MEGVII's reference implementation, ShuffleNet-Series,
  ``ShuffleNetV2/blocks.py``, whose README prints the paper's figures): the left branch
  keeps the input's width (24 in, 24 out) and the right branch gives the rest,
  ``out - 24`` channels, from ``out / 2`` inside. In stages 3 and 4 the input is ``out / 2``
  wide and the two layouts coincide, and at 0.5x (where ``out / 2`` is 24) they coincide
  everywhere. This layout gives the paper's Table 5: 40.48M / 145.81M / 298.97M / 590.78M
  MACs, which the paper prints as 41M / 146M / 299M / 591M (rounded up, or with the global
  pool's additions counted; see ``_PAPER``), and 1.37M / 2.28M /
  3.51M / 7.40M parameters (1.4M / 2.3M / 3.5M / 7.4M). The torchvision layout is 0.6% lower
  at 1x, 1.1% at 1.5x and 1.3% at 2x.

MEGVII's classifier has no bias and drops out 20% of its input at 2x; this module keeps
torchvision's classifier (with bias, no dropout) in both layouts: 1,000 parameters that do not
move any printed figure, and dropout does nothing at inference. MEGVII fuses each shuffle into the next unit's split (it
takes the even and the odd channels) and so does not shuffle after the last unit; the same
numbers come out, permuted, and the counts are identical.

Padding follows torchvision: every 3x3 window, stride 1 or 2, pads one row and column on each
side (for stride 2 "same" padding would pad only the bottom and right of an even input).
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row

STEM_WIDTH = 24

#: Table 5 of the paper: output channels of stages 2, 3, 4 and conv5 for each scale.
STAGE_WIDTHS = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}
REPEATS = (4, 8, 4)   # units per stage: one with stride 2, then 3, 7, 3 with stride 1
LAYOUTS = ("torchvision", "paper")
PAD = (1, 1, 1, 1)    # torchvision's padding=1 on every 3x3 window


def table(scale: float) -> tuple:
    """Table 5 of the paper for one scale."""
    c2, c3, c4, c5 = STAGE_WIDTHS[scale]
    return (
        Row("conv", STEM_WIDTH, 1, 2),
        Row("maxpool", STEM_WIDTH, 1, 2),
        Row("shuffle_v2", c2, REPEATS[0], 2),
        Row("shuffle_v2", c3, REPEATS[1], 2),
        Row("shuffle_v2", c4, REPEATS[2], 2),
        Row("conv", c5, 1, 1),
    )


def conv_bn_relu(net: Net, x: str, filters: int, *, name: str) -> str:
    """1x1 convolution without bias, batch norm, ReLU (torchvision's batch-norm epsilon)."""
    x = net.conv(x, filters, 1, name=name)
    return net.relu(net.bn(x, epsilon=1e-5))


def depthwise_bn(net: Net, x: str, stride: int, *, name: str) -> str:
    """3x3 depthwise convolution and batch norm, no activation."""
    return net.bn(net.depthwise(x, 3, stride, padding=PAD, name=name), epsilon=1e-5)


def branch(net: Net, x: str, inner: int, out: int, stride: int, name: str) -> str:
    """The right branch: 1x1 conv-BN-ReLU, 3x3 depthwise-BN (with the stride), 1x1 conv-BN-ReLU."""
    h = conv_bn_relu(net, x, inner, name=f"{name}_conv1")
    h = depthwise_bn(net, h, stride, name=f"{name}_dwconv")
    return conv_bn_relu(net, h, out, name=f"{name}_conv2")


def shuffle_unit(net: Net, x: str, filters: int, stride: int, name: str,
                 layout: str = "torchvision") -> str:
    """One ShuffleNet v2 unit with ``filters`` output channels (Figure 3 (c) and (d))."""
    net.block = name
    half = filters // 2
    if stride == 1:
        left, right = net.split(x, name=f"{name}_split")
        right = branch(net, right, half, half, 1, name)
    else:
        cin = net.shape(x)[-1]
        # torchvision: both branches give half; the paper: the left keeps the input's width
        left_out = cin if layout == "paper" else half
        left = depthwise_bn(net, x, stride, name=f"{name}_proj_dwconv")
        left = conv_bn_relu(net, left, left_out, name=f"{name}_proj_conv")
        right = branch(net, x, half, filters - left_out, stride, name)
    out = net.concat(left, right, name=f"{name}_concat")
    return net.channel_shuffle(out, 2, name=f"{name}_shuffle")


def stem(net: Net, x: str, rows) -> str:
    """conv1: 3x3 conv with stride 2, batch norm, ReLU; then a 3x3 max pool with stride 2."""
    net.stage = net.block = "stem"
    x = net.conv(x, rows[0].channels, 3, rows[0].stride, padding=PAD, name="conv1")
    x = net.relu(net.bn(x, epsilon=1e-5))
    return net.maxpool(x, 3, rows[1].stride, padding=PAD, name="maxpool")


def learner(net: Net, x: str, rows, layout: str) -> str:
    for number, row in enumerate(rows, start=2):
        net.stage = f"stage{number}"
        for unit in range(row.repeats):
            x = shuffle_unit(net, x, row.channels, row.stride if unit == 0 else 1,
                             f"stage{number}_unit{unit + 1}", layout)
    return x


def classifier(net: Net, x: str, row: Row, num_classes: int) -> str:
    """conv5 (1x1 conv-BN-ReLU to 1024 channels, 2048 at 2x), global pooling, fc, softmax."""
    net.stage = net.block = "classifier"
    x = conv_bn_relu(net, x, row.channels, name="conv5")
    x = net.gap(x)
    x = net.dense(x, num_classes, name="fc")
    return net.softmax(x)


def describe(net: Net, scale: float, num_classes: int, layout: str = "torchvision") -> str:
    rows = table(scale)
    x = stem(net, "input", rows[:2])
    x = learner(net, x, rows[2:-1], layout)
    return classifier(net, x, rows[-1], num_classes)


# ---- what the paper and torchvision print ------------------------------------------------------
BIB = "ma2018shufflenetv2"
_SCALES = (0.5, 1.0, 1.5, 2.0)

#: Table 5 of the paper: FLOPs, which the paper counts as multiply-adds, and "# of weights",
#: in the paper's layout; MEGVII's README (ShuffleNet-Series/ShuffleNetV2/README.md) prints
#: the same numbers. The network gives 40.48M / 145.81M / 298.97M / 590.78M. Two hypotheses fit
#: all four printed figures, and they cannot tell them apart: the paper rounds up (which only
#: shows at 0.5x, where rounding to the nearest would print 40), or it also counts the global
#: pool's additions (7 x 7 x 1024, x 2048 at 2x: 40.53M / 145.86M / 299.02M / 590.88M, which
#: round to the nearest as printed). The 0.5x figure carries the slack either one needs.
_PAPER = tuple(
    Figure(f"ShuffleNet v2 {s:g}x, Table 5", (("scale", s), ("layout", "paper")),
           f"{BIB}, Table 5", macs=mflops, params=mparams,
           tolerance=0.001 if s == 0.5 else 0.0,
           note="40.48M printed as 41M: rounded up, or the global pool's 50,176 additions "
                "counted (40.53M); chapter 6 sets out both" if s == 0.5 else "")
    for s, mflops, mparams in zip(_SCALES, (41, 146, 299, 591), (1.4, 2.3, 3.5, 7.4)))

#: torchvision's ``shufflenet_v2_x0_5 / x1_0 / x1_5 / x2_0``: ``num_params`` (PyTorch
#: ``parameters()``, exact) and ``_ops``, the GFLOPS of its documentation, which are
#: multiply-accumulates of convolutions and linear layers (torchvision/models/shufflenetv2.py).
_TORCHVISION_SOURCE = "torchvision 0.15+, models/shufflenetv2.py (num_params, _ops)"
_TORCHVISION = tuple(
    Figure(builder, (("scale", s), ("layout", "torchvision")), _TORCHVISION_SOURCE,
           macs=gops * 1000, params=count / 1e6)
    for builder, s, count, gops in zip(
        ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"),
        _SCALES, (1_366_792, 2_278_604, 3_503_624, 7_393_996), (0.04, 0.145, 0.296, 0.583)))

PUBLISHED = _PAPER + _TORCHVISION

ARCHITECTURE = Architecture(
    name="shufflenet_v2",
    title="ShuffleNet v2",
    paper="Ma et al. 2018, ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture "
          "Design, ECCV",
    bib=BIB,
    metaparameters=(
        Metaparameter("scale", 1.0, "the paper's 's x' width scale (Table 5's channel widths)",
                      kind="choice", choices=_SCALES, grid=_SCALES, symbol="s"),
        RHO, NUM_CLASSES,
        Metaparameter("layout", "torchvision", "first unit of stage 2: 'torchvision' (both "
                      "branches give half the output) or 'paper' (MEGVII's reference: the "
                      "left branch keeps the 24 input channels)", kind="choice",
                      choices=LAYOUTS, grid=LAYOUTS),
    ),
    describe=describe,
    width="scale",
    color="#e377c2",
    published=PUBLISHED,
    order=8,
    smoke=(("scale", 0.5), ("image_size", 32))   # ChannelSlice,
)
