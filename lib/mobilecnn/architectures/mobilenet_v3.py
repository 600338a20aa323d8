"""MobileNet v3 (Howard et al., 2019): searched bottlenecks, squeeze-and-excite, hard-swish.

Two networks from one description: ``LARGE`` is the paper's Table 1 and ``SMALL`` its Table 2.
Every ``bneck`` row is MobileNet v2's inverted bottleneck (1x1 expansion to ``exp`` channels,
depthwise ``kernel`` x ``kernel`` filter, linear 1x1 projection to ``channels``, a shortcut when
the shapes allow) with two options per row: squeeze-and-excite after the depthwise layer (``se``:
global average pooling, 1x1 conv with bias to a quarter of the channels, ReLU, 1x1 conv with bias
back, hard-sigmoid relu6(x + 3) / 6, multiplied into the feature map) and the nonlinearity
(``nl``: ``"RE"`` ReLU or ``"HS"`` hard-swish, x * relu6(x + 3) / 6).

Widths follow ``keras.applications.MobileNetV3Large/Small`` exactly, so that our counts are
theirs:

* every bottleneck output is ``make_divisible(alpha * channels, 8)``; the expansion is the row's
  ratio ``exp / input channels`` applied to the *thinned* input and rounded the same way; the
  squeeze-and-excite layer is ``make_divisible(expansion / 4, 8)`` wide;
* the stem keeps 16 filters for every alpha (torchvision thins it; Keras does not), the 1x1
  layer after the last bottleneck is six times that bottleneck's width (960 for Large, 576 for
  Small), and the layer after pooling keeps 1280 (Large) or 1024 (Small) unless alpha > 1;
* a stride-2 depthwise layer pads as ``imagenet_utils.correct_pad`` (then "valid"), which at
  every input size is TensorFlow's ``"same"``: ``k // 2 - 1`` rows on top on even sizes,
  ``k // 2`` on odd ones, and ``k // 2`` at the bottom (likewise for columns);
* batch normalization uses epsilon 1e-3 and momentum 0.999, as Keras' reference does.

``minimalistic=True`` is the variant Keras and the TF-slim checkpoints define (the paper does
not): no squeeze-and-excite, ReLU everywhere (no hard-swish) and 3x3 depthwise kernels only.

**The last stage** (the paper's Section 5.1 and Figure 5). ``last_stage="efficient"`` is the
redesigned one: the 1x1 expansion to 960 channels (576 for Small) runs at 7x7, then global
average pooling, and the 1x1 layer to 1280 (1024) channels runs on the pooled 1x1 map, with a
bias and hard-swish but no batch normalization (the table's "NBN"), before the 1x1 classifier.
``last_stage="original"`` is the stage the search produced before the redesign, as Figure 5
draws it for Large: after the same 1x1 expansion to 960 the last bottleneck goes on with a 3x3
depthwise layer (batch norm, nonlinearity) and a linear 1x1 projection to 320 channels (twice
the last bottleneck's 160; batch norm, no nonlinearity), and the 1x1 layer to 1280 channels runs
*before* pooling, at 7x7, with batch norm and the nonlinearity (as MobileNet v2's last layer);
then pooling and the classifier. The original stage therefore costs, at an H x W final map with
E expansion channels, P = 2 x the last bottleneck's width projection channels and L last
channels, ``H*W*(9*E + E*P + P*L) - E*L`` more multiply-accumulates: 34,317,760 for Large at
224 px. The paper reports a saving of "30 millions MAdds" (and 7 ms, 11% of the latency, at
almost no loss of accuracy); Figure 5 draws the stage but prints no count, so the 4M gap is
not explained there (the searched network before NetAdapt may have been narrower). The paper
draws the original stage for Large only;
for Small we apply the same rule (3x3 depthwise on 576, projection to 192, 1024 at 7x7).

Known deviations of the references from the paper's tables, which we follow because the counts
must equal theirs: Table 2 marks squeeze-and-excite on Small's 1x1 layer to 576 channels; Keras
and torchvision (and the released checkpoints) have none there.
"""

from __future__ import annotations

from ..graph import Net
from .common import (NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, dropout_param,
                     make_divisible)

BN = dict(epsilon=1e-3, momentum=0.999)   # keras.applications' batch normalization
SE_RATIO = 0.25
ACTIVATION = {"RE": "relu", "HS": "hard_swish"}

# The paper's Table 1 (MobileNetV3-Large) and Table 2 (MobileNetV3-Small), one row per line:
# k = depthwise kernel, exp = expansion size, out = output channels, SE, NL (RE = ReLU,
# HS = hard-swish), s = stride. The stem, the last 1x1 conv, pooling and the NBN conv are rows
# too; the final 1x1 conv to the k classes is the classifier's num_classes.
#         kind        out       s      k      exp     SE        NL
LARGE = (
    Row("conv",        16, stride=2, kernel=3,          nl="HS"),
    Row("bneck",       16, stride=1, kernel=3, exp=16,  nl="RE"),
    Row("bneck",       24, stride=2, kernel=3, exp=64,  nl="RE"),
    Row("bneck",       24, stride=1, kernel=3, exp=72,  nl="RE"),
    Row("bneck",       40, stride=2, kernel=5, exp=72,  se=True, nl="RE"),
    Row("bneck",       40, stride=1, kernel=5, exp=120, se=True, nl="RE"),
    Row("bneck",       40, stride=1, kernel=5, exp=120, se=True, nl="RE"),
    Row("bneck",       80, stride=2, kernel=3, exp=240, nl="HS"),
    Row("bneck",       80, stride=1, kernel=3, exp=200, nl="HS"),
    Row("bneck",       80, stride=1, kernel=3, exp=184, nl="HS"),
    Row("bneck",       80, stride=1, kernel=3, exp=184, nl="HS"),
    Row("bneck",      112, stride=1, kernel=3, exp=480, se=True, nl="HS"),
    Row("bneck",      112, stride=1, kernel=3, exp=672, se=True, nl="HS"),
    Row("bneck",      160, stride=2, kernel=5, exp=672, se=True, nl="HS"),
    Row("bneck",      160, stride=1, kernel=5, exp=960, se=True, nl="HS"),
    Row("bneck",      160, stride=1, kernel=5, exp=960, se=True, nl="HS"),
    Row("conv",       960, stride=1, kernel=1,          nl="HS"),
    Row("pool",       960),
    Row("conv_nbn",  1280, stride=1, kernel=1,          nl="HS"),
)

SMALL = (
    Row("conv",        16, stride=2, kernel=3,          nl="HS"),
    Row("bneck",       16, stride=2, kernel=3, exp=16,  se=True, nl="RE"),
    Row("bneck",       24, stride=2, kernel=3, exp=72,  nl="RE"),
    Row("bneck",       24, stride=1, kernel=3, exp=88,  nl="RE"),
    Row("bneck",       40, stride=2, kernel=5, exp=96,  se=True, nl="HS"),
    Row("bneck",       40, stride=1, kernel=5, exp=240, se=True, nl="HS"),
    Row("bneck",       40, stride=1, kernel=5, exp=240, se=True, nl="HS"),
    Row("bneck",       48, stride=1, kernel=5, exp=120, se=True, nl="HS"),
    Row("bneck",       48, stride=1, kernel=5, exp=144, se=True, nl="HS"),
    Row("bneck",       96, stride=2, kernel=5, exp=288, se=True, nl="HS"),
    Row("bneck",       96, stride=1, kernel=5, exp=576, se=True, nl="HS"),
    Row("bneck",       96, stride=1, kernel=5, exp=576, se=True, nl="HS"),
    Row("conv",       576, stride=1, kernel=1,          nl="HS"),  # Table 2: SE; see above
    Row("pool",       576),
    Row("conv_nbn",  1024, stride=1, kernel=1,          nl="HS"),
)


def minimal(row: Row) -> Row:
    """The minimalistic variant of a row: 3x3 kernels, no squeeze-and-excite, ReLU."""
    return Row(row.kind, row.channels, row.repeats, row.stride,
               kernel=min(row.kernel, 3), exp=row.exp, se=False, nl="RE")


def squeeze_excite(net: Net, x: str, prefix: str) -> str:
    """Global average pool, 1x1 conv (bias) to a quarter of the channels, ReLU, 1x1 conv (bias)
    back, hard-sigmoid: one factor per channel, multiplied into the feature map."""
    c = net.shape(x)[-1]
    s = net.gap(x, keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")
    s = net.conv(s, make_divisible(c * SE_RATIO, 8), 1, bias=True,
                 name=f"{prefix}squeeze_excite_conv")
    s = net.relu(s, name=f"{prefix}squeeze_excite_relu")
    s = net.conv(s, c, 1, bias=True, name=f"{prefix}squeeze_excite_conv_1")
    s = net.hard_sigmoid(s, name=f"{prefix}squeeze_excite_hard_sigmoid")
    return net.multiply(x, s, name=f"{prefix}squeeze_excite_mul")


def bneck_block(net: Net, x: str, filters: int, ratio: float, kernel: int, stride: int, se: bool,
                act: str, index: int) -> str:
    """Expand (1x1, skipped in the first block, whose expansion size equals its input), filter
    (depthwise), optionally squeeze-and-excite, project (linear 1x1); add the input when the
    shapes allow. ``ratio`` is the row's expansion size over its unthinned input width."""
    prefix = f"expanded_conv_{index}_" if index else "expanded_conv_"
    net.block = prefix[:-1]
    cin = net.shape(x)[-1]
    h = x
    if index:
        h = net.conv(h, make_divisible(cin * ratio, 8), 1, name=f"{prefix}expand")
        h = net.act(net.bn(h, **BN), act)
    h = net.depthwise(h, kernel, stride, name=f"{prefix}depthwise")
    h = net.act(net.bn(h, **BN), act)
    if se:
        h = squeeze_excite(net, h, prefix)
    h = net.bn(net.conv(h, filters, 1, name=f"{prefix}project"), **BN)
    if stride == 1 and cin == filters:
        h = net.add(x, h, name=f"{prefix}add")
    return h


def stem(net: Net, x: str, row: Row) -> str:
    """A 3x3 stride-2 convolution to 16 channels, for every alpha (as keras.applications)."""
    net.stage, net.block = "stem", "conv"
    x = net.bn(net.conv(x, row.channels, row.kernel, row.stride, name="conv"), **BN)
    return net.act(x, ACTIVATION[row.nl])


def learner(net: Net, x: str, rows, alpha: float, cin: int) -> str:
    """The bottlenecks; a new group starts at every stride-2 row. ``cin`` is the unthinned width
    of the first row's input (the stem's 16), from which each row's expansion ratio follows."""
    group = 0
    for index, row in enumerate(rows):
        if row.stride == 2 or index == 0:
            group += 1
        net.stage = f"group_{group}"
        x = bneck_block(net, x, make_divisible(row.channels * alpha, 8), row.exp / cin,
                        row.kernel, row.stride, row.se, ACTIVATION[row.nl], index)
        cin = row.channels
    return x


def classifier(net: Net, x: str, rows, last_bneck: int, alpha: float, num_classes: int,
               dropout: float, last_stage: str) -> str:
    """The last stage, efficient (pool first) or original (see the module docstring), then the
    1x1 convolution to the classes, flatten and softmax."""
    conv, _, conv_nbn = rows
    net.stage = net.block = "classifier"
    act = ACTIVATION[conv.nl]
    cin = net.shape(x)[-1]
    # six times the last bottleneck; the last layer stays 1280 / 1024 wide unless alpha > 1
    x = net.conv(x, make_divisible(cin * (conv.channels / last_bneck), 8), 1, name="conv_1")
    x = net.act(net.bn(x, **BN), act)
    last = make_divisible(conv_nbn.channels * alpha, 8) if alpha > 1.0 else conv_nbn.channels
    if last_stage == "original":
        x = net.act(net.bn(net.depthwise(x, 3, name="conv_1_depthwise"), **BN), act)
        x = net.bn(net.conv(x, make_divisible(2 * cin, 8), 1, name="conv_1_project"), **BN)
        x = net.act(net.bn(net.conv(x, last, 1, name="conv_2"), **BN), act)
        x = net.gap(x, keepdims=True)
    else:
        x = net.gap(x, keepdims=True)
        x = net.act(net.conv(x, last, 1, bias=True, name="conv_2"), act)
    if dropout > 0:
        x = net.dropout(x, dropout)
    x = net.conv(x, num_classes, 1, bias=True, name="logits")
    return net.softmax(net.flatten(x))


def describer(table: tuple):
    """The ``describe`` function of the network whose table is ``table`` (Large or Small)."""
    def describe(net: Net, alpha: float, minimalistic: bool, last_stage: str, num_classes: int,
                 dropout: float) -> str:
        rows = tuple(minimal(r) for r in table) if minimalistic else table
        x = stem(net, "input", rows[0])
        x = learner(net, x, rows[1:-3], alpha, rows[0].channels)
        return classifier(net, x, rows[-3:], rows[-4].channels, alpha, num_classes, dropout,
                          last_stage)
    return describe


# ---- what the paper prints -------------------------------------------------------------------
BIB = "howard2019searching"

#: Table 3 of the paper (ImageNet, 224 px; the final version, arXiv v5 / ICCV): (top-1 %,
#: million MAdds, million parameters). Parameters are trainable numbers; ours equal
#: torchvision's exactly (below). Earlier arXiv versions, and the table in Keras' docstring (from
#: the TF-slim checkpoints), print an older Small: 66M MAdds, 2.9M parameters.
TABLE_3 = {
    ("Large", 1.0): (75.2, 219, 5.4),
    ("Large", 0.75): (73.3, 155, 4.0),
    ("Small", 1.0): (67.4, 56, 2.5),
    ("Small", 0.75): (65.4, 44, 2.0),
}

#: Table 4 of the paper, with the float top-1 of Table 3: (float top-1 %, 8-bit top-1 %) for
#: the pair of similar-cost models the chapter trains, and the accuracy each loses to 8 bits
#: (points). The paper says of them only "We include quantization results in table 4"
#: (Section 6.1); it states no direction. These figures are as the errata review of this book
#: (issue 25) reads Tables 3 and 4; no stored copy of the paper's tables was available to check
#: them against when they were entered.
TABLE_4 = {
    "MobileNetV3-Small 1.0": (67.4, 64.9),
    "MobileNetV2 0.35": (60.8, 57.2),
}
#: the other pair of Table 4, as the loss in points only
TABLE_4_LOSS = {"MobileNetV3-Large 1.0": 1.4, "MobileNetV2 1.0": 1.1}

#: The TF-slim README's minimalistic checkpoints (tensorflow/models, research/slim/nets/mobilenet;
#: copied in DrSlink/mobilenet_v3_keras/README.md): (million MACs, million parameters, top-1 %).
#: Only Large is comparable: slim's Small minimalistic (65M, 2.0M) belongs to the older Small
#: that its other rows print (66M MAdds, 2.9M), not to Table 3's.
SLIM_MINIMALISTIC = {"Large": (209, 3.9, 72.3)}

#: Where we differ from Table 3 beyond its printed digits, and why: (tolerance, note).
TABLE_3_NOTES = {
    ("Large", 1.0): (0.01, "we count 216.6M MACs and 5,483,032 parameters (torchvision and "
                           "Keras agree; Keras' docstring prints 217M): the table's 219M and "
                           "5.4M are 1.1% above and 1.5% below"),
    ("Small", 1.0): (0.001, "56.5M MACs (56,510,400), printed as 56M"),
    ("Small", 0.75): (0.005, "43.4M MACs, printed as 44M"),
}

#: torchvision's model cards: mobilenet_v3_large 5,483,032 parameters and 0.22 GFLOPS,
#: mobilenet_v3_small 2,542,856 and 0.06. Its trainable parameters equal ours although its
#: classifier is two Linear layers (they hold the same numbers as Keras' 1x1 convolutions on the
#: pooled map) and its batch norm uses other epsilon and momentum (which count nothing). Its
#: "GFLOPS" are multiply-accumulates printed to two decimals, i.e. +-5M.
TORCHVISION = {"Large": (5_483_032, 0.22, 74.042), "Small": (2_542_856, 0.06, 67.668)}


def _published(model: str) -> tuple:
    figures = []
    for (m, alpha), (top1, macs, params) in TABLE_3.items():
        if m == model:
            tolerance, note = TABLE_3_NOTES.get((m, alpha), (0.0, ""))
            figures.append(Figure(f"MobileNetV3-{model} {alpha:g}", (("alpha", alpha),),
                                  f"{BIB}, Table 3", macs=macs, params=params, top1=top1,
                                  tolerance=tolerance, note=note))
    params, gmacs, top1 = TORCHVISION[model]
    label = f"torchvision mobilenet_v3_{model.lower()}"
    figures.append(Figure(label, (("alpha", 1.0),), "torchvision model card",
                          params=params / 1e6, top1=top1))
    # printed_precision(220.0) is 0.5M; the tolerance widens it to the card's +-5M
    figures.append(Figure(f"{label} (GFLOPS)", (("alpha", 1.0),), "torchvision model card",
                          macs=gmacs * 1000, tolerance=4.5 / (gmacs * 1000),
                          note=f"printed as {gmacs} GFLOPS (two decimals: +-5M MACs)"))
    return tuple(figures)


def _architecture(model, table, published, color, order):
    return Architecture(
        name=f"mobilenet_v3_{model.lower()}",
        title=f"MobileNet v3 {model}",
        paper="Howard et al. 2019, Searching for MobileNetV3, ICCV",
        bib=BIB,
        metaparameters=(
            Metaparameter("alpha", 1.0, "width multiplier; widths are rounded to multiples of 8",
                          low=0.35, high=1.25, grid=(0.35, 0.5, 0.75, 1.0, 1.25),
                          symbol="\u03b1"),
            RHO,
            Metaparameter("minimalistic", False, "no squeeze-and-excite, no hard-swish, 3x3 "
                          "kernels only", kind="choice", choices=(False, True),
                          grid=(False, True)),
            Metaparameter("last_stage", "efficient", "the redesigned last stage (pool, then "
                          "1x1 conv) or the original (1x1 conv at full resolution)",
                          kind="choice", choices=("efficient", "original"),
                          grid=("efficient", "original")),
            NUM_CLASSES, dropout_param(0.2),
        ),
        describe=describer(table),
        width="alpha",
        color=color,
        published=published,
        order=order,
        smoke=(("alpha", 0.35), ("image_size", 32)),   # hard-swish, squeeze-and-excite
    )


ARCHITECTURES = (
    _architecture("Large", LARGE, _published("Large"), "#9467bd", 5),
    _architecture("Small", SMALL, _published("Small"), "#c5b0d5", 6),
)
