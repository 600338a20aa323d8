"""SqueezeNet (Iandola et al., 2016): fire modules, the paper's design space and its bypasses.

A fire module squeezes its input to s1x1 channels with 1x1 convolutions, then expands with
e1x1 1x1 filters and e3x3 3x3 filters side by side and concatenates them. The paper (section
5.1) describes the widths of all eight fire modules by five metaparameters: module i (i = 0 for
fire2, ..., 7 for fire9) has

    e_i = base_e + incr_e * floor(i / freq)     expand filters in all,
    e3x3 = pct3x3 * e_i,  e1x1 = e_i - e3x3,     s1x1 = SR * e_i,

and SqueezeNet is base_e = 128, incr_e = 128, freq = 2, pct3x3 = 0.5, SR = 0.125
(:func:`fire_widths`). ``LAYOUTS`` holds what else the two versions fix: the first convolution
and the places of the max-pools. Version 1.1 (the reference repository's) starts with 64 3x3
filters and pools after conv1, fire3 and fire5; its fire modules have the same widths as 1.0's.

SqueezeNet has no batch normalization: its convolutions keep their biases.

Bypass (section 6): ``"simple"`` adds the input of every fire module whose input and output
have the same shape (fire 3, 5, 7, 9 at the paper's widths); ``"complex"`` also adds a 1x1
convolution of the input around the others.

Pooling. The paper's network (Caffe) takes 227-pixel crops; there every max-pool window fits
exactly and the rounding of the output size does not matter. At other sizes it does:
``pooling="floor"`` drops an incomplete last window (Keras' "valid" pooling);
``pooling="ceil"`` keeps it when it starts inside the input (Caffe's rounding and PyTorch's
``ceil_mode=True``, which torchvision uses). Ceil mode is written as "valid" pooling after
extra padding at the bottom and right (:func:`ceil_padding`), so both frameworks compute it with
the layers they already have. The padding adds zeros where PyTorch's ceil mode ignores the
missing positions; the two agree because every pooled tensor here is non-negative (a ReLU
output, or a sum of ReLU outputs), except with the complex bypass, whose 1x1 shortcut has no
ReLU: there an incomplete window whose values are all negative gives 0 instead of their maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph import Net
from .common import NUM_CLASSES, Architecture, Figure, Metaparameter, dropout_param, rho_param

BASE_RESOLUTION = 227
FIRE_MODULES = 8          # fire2 ... fire9


# ---- the paper's design space (section 5.1) -----------------------------------------------------

@dataclass(frozen=True)
class FireWidths:
    """The three widths of one fire module, as the columns of the paper's Table 1."""

    s1x1: int
    e1x1: int
    e3x3: int

    @property
    def expand(self) -> int:
        return self.e1x1 + self.e3x3


def _round(x: float) -> int:
    """Round half up (the paper's widths are all whole numbers; this only settles the others)."""
    return math.floor(x + 0.5)


def fire_widths(base_e: int = 128, incr_e: int = 128, freq: int = 2, pct3x3: float = 0.5,
                SR: float = 0.125, modules: int = FIRE_MODULES) -> tuple:
    """The :class:`FireWidths` of fire2 ... fire9 from the paper's five metaparameters.

    Raises ``ValueError`` naming the metaparameter when a width would round to zero.
    """
    widths = []
    for i in range(modules):
        e = base_e + incr_e * (i // freq)
        e3x3 = _round(e * pct3x3)
        e1x1 = e - e3x3
        s1x1 = _round(e * SR)
        where = f"fire{i + 2} (e_i = {e})"
        if e3x3 < 1 or e1x1 < 1:
            side = "3x3" if e3x3 < 1 else "1x1"
            raise ValueError(f"pct3x3={pct3x3:g} leaves {where} without {side} expand filters; "
                             f"pct3x3 * e_i must round to between 1 and e_i - 1")
        if s1x1 < 1:
            raise ValueError(f"SR={SR:g} leaves {where} without squeeze filters; SR * e_i must "
                             "be at least 0.5")
        widths.append(FireWidths(s1x1, e1x1, e3x3))
    return tuple(widths)


#: The design-space metaparameters and their sliders. Every combination of the grids is a
#: valid network (the smallest e_i is 32, and 32 times every SR and pct3x3 below is whole).
DESIGN_SPACE = (
    Metaparameter("base_e", 128, "expand filters of the first fire module (fire2)", kind="int",
                  low=1, grid=(32, 64, 96, 128, 192, 256), symbol="base\u2091"),
    Metaparameter("incr_e", 128, "expand filters added every freq fire modules", kind="int",
                  low=0, grid=(0, 32, 64, 128, 192, 256), symbol="incr\u2091"),
    Metaparameter("freq", 2, "fire modules between two increases of the width", kind="int",
                  low=1, grid=(1, 2, 3, 4, 8)),
    Metaparameter("pct3x3", 0.5, "share of 3x3 filters among a fire module's expand filters",
                  low=0.0, high=1.0, low_open=True,
                  grid=(0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875), symbol="pct\u2083\u2093\u2083"),
    Metaparameter("SR", 0.125, "squeeze ratio: squeeze filters per expand filter", low=0.0,
                  high=1.0, low_open=True, grid=(0.125, 0.25, 0.5, 0.75, 1.0)),
)
DESIGN_DEFAULTS = {m.name: m.default for m in DESIGN_SPACE}


# ---- the two versions --------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """What a version fixes: conv1 (filters, kernel, stride) and the layers followed by a
    3x3 / stride-2 max-pool (1 is conv1, n is fire n)."""

    conv1_filters: int
    conv1_kernel: int
    conv1_stride: int
    pool_after: tuple


LAYOUTS = {
    "1.0": Layout(96, 7, 2, pool_after=(1, 4, 8)),
    "1.1": Layout(64, 3, 2, pool_after=(1, 3, 5)),
}


def ceil_padding(size: int, window: int, stride: int) -> int:
    """Rows (or columns) of padding at the end that make "valid" pooling round up.

    Ceil mode keeps a last, incomplete window only if it starts inside the input (PyTorch's
    rule), so the padding is at most ``window - 1`` and is zero when the windows fit exactly.
    """
    out = -(-(size - window) // stride) + 1          # ceil((size - window) / stride) + 1
    if (out - 1) * stride >= size:
        out -= 1
    return max((out - 1) * stride + window - size, 0)


def maxpool(net: Net, x: str, pooling: str, name: str) -> str:
    """The paper's 3x3 / stride-2 max-pool, rounding its output size down or up."""
    if pooling == "floor":
        return net.maxpool(x, 3, 2, name=name)
    h, w, _ = net.shape(x)
    return net.maxpool(x, 3, 2, padding=(0, ceil_padding(h, 3, 2), 0, ceil_padding(w, 3, 2)),
                       name=name)


# ---- blocks --------------------------------------------------------------------------------------

def fire_block(net: Net, x: str, widths: FireWidths, bypass: str, index: int) -> str:
    """Squeeze with 1x1, expand with 1x1 and 3x3 side by side, concatenate; optional bypass."""
    name = f"fire{index}"
    net.block = name
    s = net.relu(net.conv(x, widths.s1x1, 1, bias=True, name=f"{name}_squeeze"))
    e1 = net.relu(net.conv(s, widths.e1x1, 1, bias=True, name=f"{name}_expand1x1"))
    e3 = net.relu(net.conv(s, widths.e3x3, 3, bias=True, name=f"{name}_expand3x3"))
    out = net.concat(e1, e3, name=f"{name}_concat")
    if bypass == "none":
        return out
    if net.shape(x) == net.shape(out):
        return net.add(x, out, name=f"{name}_add")
    if bypass == "complex":
        shortcut = net.conv(x, widths.expand, 1, bias=True, name=f"{name}_bypass")
        return net.add(shortcut, out, name=f"{name}_add")
    return out


def stem(net: Net, x: str, layout: Layout, pooling: str) -> str:
    """conv1 ("valid", with bias), ReLU and the first max-pool."""
    net.stage = net.block = "stem"
    x = net.conv(x, layout.conv1_filters, layout.conv1_kernel, layout.conv1_stride,
                 padding="valid", bias=True, name="conv1")
    x = net.relu(x)
    net.stage = net.block = "group_1"
    return maxpool(net, x, pooling, "maxpool1")


def learner(net: Net, x: str, layout: Layout, widths: tuple, bypass: str, pooling: str) -> str:
    """Fire modules 2 to 9, with a max-pool after those the layout names."""
    group = 2
    for i, w in enumerate(widths):
        index = i + 2
        net.stage = f"group_{group}"
        x = fire_block(net, x, w, bypass, index)
        if index in layout.pool_after:
            net.stage = net.block = f"group_{group}"
            x = maxpool(net, x, pooling, f"maxpool{index}")
            group += 1
    return x


def classifier(net: Net, x: str, num_classes: int, dropout: float) -> str:
    """Dropout, a 1x1 convolution to one map per class, ReLU, global average pooling, softmax."""
    net.stage = net.block = "classifier"
    x = net.dropout(x, dropout)
    x = net.relu(net.conv(x, num_classes, 1, bias=True, name="conv10"))
    x = net.gap(x)
    return net.softmax(x)


def describe(net: Net, version: str, bypass: str, num_classes: int, dropout: float,
             pooling: str = "floor", base_e: int = 128, incr_e: int = 128, freq: int = 2,
             pct3x3: float = 0.5, SR: float = 0.125) -> str:
    layout = LAYOUTS[version]
    widths = fire_widths(base_e, incr_e, freq, pct3x3, SR)
    x = stem(net, "input", layout, pooling)
    x = learner(net, x, layout, widths, bypass, pooling)
    return classifier(net, x, num_classes, dropout)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "iandola2016squeezenet"


@dataclass(frozen=True)
class Table1Row:
    """One row of the paper's Table 1: output size, fire widths, parameters before pruning."""

    layer: str
    output: tuple            # (height, width, channels)
    s1x1: int | None = None
    e1x1: int | None = None
    e3x3: int | None = None
    params: int | None = None


#: Table 1 of the paper, as printed: output sizes, the widths of each fire module and the
#: parameters of each layer before pruning (weights and biases), with two corrections. The
#: table's first row says "input image 224x224x3", but its conv1 row (7x7, stride 2, no
#: padding) is 111x111x96, which needs a 227-pixel input ((227 - 7) / 2 + 1 = 111; 224 gives
#: 109): every output size below is the 227-pixel one, the crop size of the authors' Caffe
#: files. And the paper prints maxpool8's output as 13x12x512, a typo for 13x13x512 (the
#: layers after it get 13x13). ``TABLE1_PRINTED_INPUT`` keeps the printed input row.
TABLE1 = (
    Table1Row("conv1", (111, 111, 96), params=14_208),
    Table1Row("maxpool1", (55, 55, 96)),
    Table1Row("fire2", (55, 55, 128), 16, 64, 64, 11_920),
    Table1Row("fire3", (55, 55, 128), 16, 64, 64, 12_432),
    Table1Row("fire4", (55, 55, 256), 32, 128, 128, 45_344),
    Table1Row("maxpool4", (27, 27, 256)),
    Table1Row("fire5", (27, 27, 256), 32, 128, 128, 49_440),
    Table1Row("fire6", (27, 27, 384), 48, 192, 192, 104_880),
    Table1Row("fire7", (27, 27, 384), 48, 192, 192, 111_024),
    Table1Row("fire8", (27, 27, 512), 64, 256, 256, 188_992),
    Table1Row("maxpool8", (13, 13, 512)),
    Table1Row("fire9", (13, 13, 512), 64, 256, 256, 197_184),
    Table1Row("conv10", (13, 13, 1000), params=513_000),
    Table1Row("avgpool10", (1, 1, 1000)),
)
TABLE1_TOTAL = 1_248_424
TABLE1_PRINTED_INPUT = (224, 224, 3)

#: Table 3 ("SqueezeNet accuracy and model size using different macroarchitecture
#: configurations"): ImageNet top-1 / top-5 accuracy (%) and model size (MB, 32-bit weights)
#: with no, simple and complex bypass (Section 6: "compared the accuracy and model size in
#: Table 3"; the paper has no Table 4). 4.8 MB is 1,248,424 x 4 bytes in MiB; 7.7 MB for complex
#: bypass is more than the 1x1 shortcuts around fire 2, 4, 6 and 8 add here (341,248 parameters,
#: 6.1 MiB in all): the paper does not list its complex bypass layers.
TABLE3 = {
    "none": (57.5, 80.3, 4.8),
    "simple": (60.4, 82.5, 4.8),
    "complex": (58.8, 82.0, 7.7),
}

#: Model sizes (MB of 32-bit weights, 1000 classes, version 1.0) that the paper's Figure 3
#: labels on its two design-space lines, keyed by (SR, pct3x3): SqueezeNet itself (4.8 MB,
#: 80.3% top-5), "19MB" where the squeeze-ratio line of Figure 3(a) plateaus at 86.0% top-5
#: (SR = 0.75), and "13MB" on the pct3x3 line of Figure 3(b) (SR = 0.5) at 50% 3x3 filters,
#: where it plateaus at 85.3% top-5.
FIGURE3_MB = {(0.125, 0.5): 4.8, (0.75, 0.5): 19.0, (0.5, 0.5): 13.0}

#: SqueezeNet's arithmetic as two later papers print it (the SqueezeNet paper prints none):
#: ShuffleNet v1 (Zhang et al. 2018), Table 6: "SqueezeNet 833 MFLOPs" (the ShuffleNet papers
#: count multiply-accumulates as FLOPs); MobileNet v1 (Howard et al. 2017), Table 9:
#: SqueezeNet at 1700 million mult-adds and 1.25 million parameters, 57.5% top-1. Neither says
#: at which input size or how it counted.
OTHER_PAPERS_MMACS = {"ShuffleNet v1, Table 6": 833, "MobileNet v1, Table 9": 1700}

_TORCHVISION = ("torchvision model documentation (squeezenet1_0, squeezenet1_1: 1,248,424 and "
                "1,235,496 parameters; 0.82 and 0.35 GFLOPS at 224 px)")
PUBLISHED = (
    Figure("SqueezeNet 1.0", (("version", "1.0"),),
           f"{BIB}, Table 1 (parameters), Table 3 (top-1)", params=1.248424,
           top1=TABLE3["none"][0]),
    Figure("SqueezeNet 1.0 + simple bypass", (("version", "1.0"), ("bypass", "simple")),
           f"{BIB}, Table 3", params=1.248424, top1=TABLE3["simple"][0]),
    Figure("SqueezeNet 1.0 (torchvision, 224 px)",
           (("version", "1.0"), ("pooling", "ceil"), ("rho", 224 / BASE_RESOLUTION)),
           _TORCHVISION, macs=820, params=1.248424, tolerance=0.005 / 0.82,
           note="torchvision prints 0.82 GFLOPS (multiply-accumulates, despite the name) to two "
                "digits: the tolerance is that rounding"),
    Figure("SqueezeNet 1.1 (torchvision, 224 px)",
           (("version", "1.1"), ("pooling", "ceil"), ("rho", 224 / BASE_RESOLUTION)),
           _TORCHVISION, macs=350, params=1.235496, tolerance=0.005 / 0.35,
           note="torchvision prints 0.35 GFLOPS (multiply-accumulates, despite the name) to two "
                "digits: the tolerance is that rounding"),
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
        Metaparameter("pooling", "floor", "rounding of the max-pools' output size: floor (Keras' "
                      "'valid') or ceil (Caffe, torchvision's ceil_mode)", kind="choice",
                      choices=("floor", "ceil"), grid=("floor", "ceil")),
        *DESIGN_SPACE,
        rho_param(BASE_RESOLUTION), NUM_CLASSES, dropout_param(0.5),
    ),
    describe=describe,
    color="#2ca02c",
    published=PUBLISHED,
    base_resolution=BASE_RESOLUTION,
    order=3,
    smoke=(("version", "1.0"), ("bypass", "complex"), ("image_size", 48)),
)
