"""IGCV1, IGCV2 and IGCV3: a dense convolution composed of sparse, interleaved group convolutions.

One family, three architectures (``ARCHITECTURES``), the seed's Section 9.4. Every block is a
product of block-diagonal (group convolution) and permutation (channel shuffle) matrices,
``W = P_L W_L ... P_1 W_1``; :func:`mobilecnn.grouped.composed_connectivity` multiplies them out
for any block of these networks. The permutations are the library's ``channel_shuffle``: the
authors' ``Reorder(branch_factor=g)`` (IGCV1, ``src/reorder-inl.h``) and ``permutation(data,
groups)`` (IGCV3, ``symbols/igcv3.py``) both reshape the channels to ``(g, C/g)`` and swap the two
axes, which is ShuffleNet's shuffle of ``g`` groups; the "permutation back" is its inverse, the
shuffle of ``C/g`` groups (``channel_shuffle(..., inverse=True)``).

**IGCV1** (Zhang et al. 2017; ``igcv1``). The interleaved group convolution: a 3x3 *primary*
group convolution with ``L`` groups, the permutation, a 1x1 *secondary* group convolution with
``M`` groups (each of ``L`` channels, one from every primary group), the permutation back. The
network and where batch norm and ReLU sit follow the authors' code
(github.com/hellozting/InterleavedGroupConvolutions): ``network/plain_igc.py`` for the plain
network (the default) and ``network/resnet_igc.py`` for ``residual=True``:

* plain (``plain_igc.py``, ``get_igc``): conv1 (3x3, L groups), Reorder(L), conv2 (1x1),
  Reorder, then one batch norm and one ReLU for the whole block, no nonlinearity between the two
  group convolutions (the seed: "IGC block + BN + ReLU"). A 3x3 stem of ``L M`` channels, three
  stages of ``(depth - 2) / 3`` blocks of ``L M``, ``2 L M`` and ``4 L M`` channels; ``L`` stays
  and the secondary groups double with the width (``M``, ``2M``, ``4M``); the block that doubles
  the width has stride 2 (the code's first block of stages 2 and 3; the seed's table, an image,
  counts it as the last block of the stage before: the same network). Global average pooling, a
  dense classifier.
* residual (``resnet_igc.py``): ``(depth - 2) / 6`` units per stage, each two IGC blocks (the
  second without its ReLU) plus the input, then a ReLU; a unit that doubles the width projects
  its input with a 1x1 stride-2 group convolution of ``L`` groups and batch norm. As in that file
  the first block of such a unit has ``C_in / L`` secondary groups (not ``C_out / L``), so its
  Reorder is not the inverse of the first one; it is kept as written.
* batch norm epsilon 2e-5 (the code's); "same" padding (the library's; MXNet's symmetric
  ``pad=(1, 1)`` gives the same output sizes, so the same counts).

The block's parameters (the seed, 9.4.1.1 item 3): ``T = L M (W H M + L)`` for ``G = L M``
channels in and out, which :func:`igc_block_params` computes and the tests compare with the
profile. The defaults, ``L = 24``, ``M = 2``, depth 38, are the network of the authors' README
command (``--network=plain_igc --depth=38 --primary-partition=24 --secondary-partition=2``). The
paper's complexity table (its Table 2) is an image in the seed and is not in the authors'
repository, so no count is quoted (``unpublished``); the README's ImageNet table is of ResNet-18
variants (``resnet_igc_imgnet_d18.py``), not of these networks.

**IGCV2** (Xie et al. 2018; ``igcv2``). The interleaved structured sparse block: one channel-wise
3x3 convolution (``K_1 = 1``), then ``L - 1`` group 1x1 convolutions, each followed by a
permutation (the shuffle of its groups). The complementary condition (seed 9.4.2.2: exactly one
path from every input to every output channel) needs ``K_2 ... K_L = C`` (``K_l`` channels per
group); the balance condition wants the ``K_l`` equal. :func:`balanced_factors` splits ``C`` into
the ``L - 1`` whole factors with the smallest sum (the fewest parameters, ``C * sum K_l``): the
condition holds exactly for every width, and the factors are equal when ``C`` allows (64 with
L = 3: 8 x 8). A block that doubles the width (stride 2) makes two outputs per input channel in
its 3x3 layer (the seed's ``g = C_I`` groups with ``C_O`` outputs) and factors ``C_O``. The
network (seed 9.4.2.3): a 3x3 stem of ``x`` channels, three stages of ``B`` blocks of ``x``,
``2x`` and ``4x`` channels, a shortcut around every two blocks. No authors' code for IGCV2 is
public, and the paper's table is an image: ``x = 64 alpha`` (the table's ``(3x3, 64)``), ``B``
(``blocks``), batch norm and ReLU once after each block (IGCV1's code: the block composes one
linear kernel), the ResNet-style unit (block, ReLU, block, add, ReLU) and its projection (a 1x1
stride-2 convolution and batch norm) are this library's choices, stated here. The published
complexities (IGCV2's tables; the IGCV3 README's "IGCV2 2.4M" on CIFAR) cannot be pinned to a
network: ``unpublished`` says so.

**IGCV3-D** (Sun et al. 2018; ``igcv3``). MobileNet v2's rows with their block counts doubled
(every row of more than one block), each inverted block with group-2 1x1 convolutions: expand
(groups 2, batch norm, no activation), the permutation (shuffle of 2), a 3x3 depthwise layer with
batch norm and ReLU6 (the block's only nonlinearity), project (groups 2, batch norm), the
permutation back (shuffle of ``C/2``: the inverse). All as ``symbols/igcv3.py`` of the authors'
repository (github.com/homles11/IGCV3), including the expansion of the first row (``t = 1``:
still a group-2 1x1 convolution), batch-norm epsilon 1e-5, the 1280-wide last convolution and a
dense classifier with bias. At width 1 the counts are that file's network; its README gives
IGCV3-D 3.5M parameters on ImageNet. Other widths are ill-defined in that code: after each row it
sets ``in_c = round(c * multiplier)`` with ``c`` already multiplied, so every row's first block
expands a width thinned twice (and ``if in_c % 2: in_c = c + 1``), and above 1.0 the last
convolution gets ``int(1280 m) + 1`` channels (``if num_filter != 0`` is always true). Here
``alpha`` thins every row as its third line intends (``round(c * alpha)``, made even for the
group-2 convolutions, from the true input width), and the last convolution is 1280 up to
``alpha = 1`` and ``round(1280 alpha)`` (even) above, as MobileNet v2. The README's CIFAR figures
(IGCV3-D 0.5x/0.7x/1.0x: 1.2M/1.7M/2.4M) are of networks the repository does not define ("s x"
there divides the parameter count) and are not quoted.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from ..graph import Net
from . import mobilenet_v2
from .common import (NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row, make_divisible,
                     rho_param)

CIFAR_RESOLUTION = 32
#: The CIFAR networks at 16 and 32 pixels (their inputs are 32-pixel images).
CIFAR_RHO = rho_param(CIFAR_RESOLUTION, sizes=(16,))


def _classifier(net: Net, x: str, num_classes: int) -> str:
    net.stage = net.block = "classifier"
    x = net.gap(x)
    x = net.dense(x, num_classes, name="logits")
    return net.softmax(x)


def _stem(net: Net, width: int, stride: int, epsilon: float, act: str) -> str:
    net.stage = net.block = "stem"
    x = net.conv("input", width, 3, stride, name="conv1")
    return net.act(net.bn(x, epsilon=epsilon), act)


# ---- IGCV1 ---------------------------------------------------------------------------------------
IGCV1_EPSILON = 2e-5     # the authors' BatchNorm(eps=2e-5)


def igc_block_params(primary_groups: int, secondary_groups: int, kernel: int = 3) -> int:
    """The seed's ``T_igc = L M (W H M + L)``: the weights of an IGC block with ``G = L M``
    channels in and out (a ``kernel x kernel`` primary and a 1x1 secondary group convolution)."""
    L, M = primary_groups, secondary_groups
    return L * M * (kernel * kernel * M + L)


def igc_block_macs(primary_groups: int, secondary_groups: int, height: int, width: int,
                   kernel: int = 3) -> int:
    """Multiply-accumulates of a stride-1 IGC block on ``height x width`` maps: every output
    position repeats the block's weights once, ``h w L M (W H M + L)``."""
    return height * width * igc_block_params(primary_groups, secondary_groups, kernel)


def regular_width(primary_groups: int, secondary_groups: int, kernel: int = 3) -> float:
    """The width ``C`` of a regular ``kernel x kernel`` convolution with as many weights as an
    IGC block of width ``G = L M`` (the seed's ``C^2 = G^2 (1/L + 1/(M W H))``, from
    ``W H C^2 = T``)."""
    return math.sqrt(igc_block_params(primary_groups, secondary_groups, kernel)
                     / (kernel * kernel))


def igc_block(net: Net, x: str, filters: int, stride: int, primary: int, secondary: int,
              name: str, relu: bool = True) -> str:
    """The authors' ``get_igc``: 3x3 conv (``primary`` groups), Reorder(primary), 1x1 conv
    (``secondary`` groups), Reorder(secondary), batch norm, ReLU unless ``relu=False``.

    Reorder(secondary) is the permutation back (the inverse of Reorder(primary)) exactly when
    ``primary * secondary`` is the width; written so when it is."""
    net.block = name
    h = net.conv(x, filters, 3, stride, groups=primary, name=f"{name}_primary")
    h = net.channel_shuffle(h, primary, name=f"{name}_permute")
    h = net.conv(h, filters, 1, groups=secondary, name=f"{name}_secondary")
    if primary * secondary == filters:
        h = net.channel_shuffle(h, primary, inverse=True, name=f"{name}_permute_back")
    else:                       # resnet_igc.py's first block of a widening unit (module doc)
        h = net.channel_shuffle(h, secondary, name=f"{name}_permute_back")
    h = net.bn(h, name=f"{name}_bn", epsilon=IGCV1_EPSILON)
    return net.relu(h) if relu else h


def igcv1_table(primary_groups: int, secondary_groups: int, depth: int) -> tuple:
    """The network of ``plain_igc.py``: the stem and three stages (``channels`` are widths,
    ``groups`` the secondary groups, ``repeats`` the IGC blocks of the stage)."""
    width, blocks = primary_groups * secondary_groups, (depth - 2) // 3
    return (Row("conv", width),) + tuple(
        Row("igc", width * 2 ** s, blocks, 1 if s == 0 else 2, groups=secondary_groups * 2 ** s)
        for s in range(3))


def igcv1_describe(net: Net, primary_groups: int, secondary_groups: int, depth: int,
                   residual: bool, num_classes: int) -> str:
    L = primary_groups
    rows = igcv1_table(primary_groups, secondary_groups, depth)
    x = _stem(net, rows[0].channels, 1, IGCV1_EPSILON, "relu")
    for number, row in enumerate(rows[1:], start=1):
        net.stage = f"stage{number}"
        c = row.channels
        if not residual:
            for b in range(row.repeats):
                stride = row.stride if b == 0 else 1
                x = igc_block(net, x, c, stride, L, c // L, f"stage{number}_block{b + 1}")
            continue
        for u in range(row.repeats // 2):           # resnet_igc.py: two IGC blocks per unit
            name, cin = f"stage{number}_unit{u + 1}", net.shape(x)[-1]
            stride = 1 if cin == c else 2
            h = igc_block(net, x, c, stride, L, cin // L, f"{name}_igc1")
            h = igc_block(net, h, c, 1, L, c // L, f"{name}_igc2", relu=False)
            net.block = name
            shortcut = x
            if cin != c:
                shortcut = net.conv(x, c, 1, 2, groups=L, name=f"{name}_projection")
                shortcut = net.bn(shortcut, epsilon=IGCV1_EPSILON)
            x = net.relu(net.add(shortcut, h, name=f"{name}_add"))
    return _classifier(net, x, num_classes)


# ---- IGCV2 ---------------------------------------------------------------------------------------
IGCV2_WIDTH = 64


@lru_cache(maxsize=None)
def balanced_factors(channels: int, count: int) -> tuple:
    """``count`` whole numbers whose product is ``channels`` and whose sum is smallest (the
    complementary condition exactly, the balance condition as nearly as whole numbers allow),
    largest first: ``balanced_factors(64, 2) == (8, 8)``, ``(128, 2) -> (16, 8)``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number >= 1, got {count!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a whole number >= 1, got {channels!r}")

    def best(n: int, k: int, cap: int):
        if k == 1:
            return (n,) if n <= cap else None
        found = None
        for d in range(min(n, cap), 0, -1):
            if n % d == 0:
                rest = best(n // d, k - 1, d)
                if rest is not None and (found is None or d + sum(rest) < sum(found)):
                    found = (d,) + rest
        return found

    return best(channels, count, channels)


def igcv2_block(net: Net, x: str, filters: int, stride: int, composed: int, name: str,
                relu: bool = True) -> str:
    """One channel-wise 3x3 layer, then ``composed - 1`` group 1x1 convolutions of
    :func:`balanced_factors` channels per group, each followed by the shuffle of its groups;
    batch norm and ReLU after the block (module doc). A widening block's 3x3 layer makes
    ``filters / input`` outputs of every input channel (a group conv of one channel per group)."""
    net.block = name
    cin = net.shape(x)[-1]
    if cin == filters:
        h = net.depthwise(x, 3, stride, name=f"{name}_channelwise")
    else:
        h = net.conv(x, filters, 3, stride, groups=cin, name=f"{name}_channelwise")
    for layer, k in enumerate(balanced_factors(filters, composed - 1), start=2):
        groups = filters // k
        h = net.conv(h, filters, 1, groups=groups, name=f"{name}_group{layer}")
        h = net.channel_shuffle(h, groups, name=f"{name}_permute{layer}")
    h = net.bn(h, name=f"{name}_bn")
    return net.relu(h) if relu else h


def igcv2_width(alpha: float) -> int:
    """``x``: the stem's and first stage's width, ``64 alpha`` rounded to a multiple of 8."""
    return make_divisible(IGCV2_WIDTH * alpha, 8)


def igcv2_table(alpha: float, blocks: int) -> tuple:
    x = igcv2_width(alpha)
    return (Row("conv", x),) + tuple(Row("igcv2", x * 2 ** s, blocks, 1 if s == 0 else 2)
                                     for s in range(3))


def igcv2_describe(net: Net, alpha: float, composed: int, blocks: int, num_classes: int) -> str:
    rows = igcv2_table(alpha, blocks)
    x = _stem(net, rows[0].channels, 1, 1e-3, "relu")
    for number, row in enumerate(rows[1:], start=1):
        net.stage = f"stage{number}"
        c = row.channels
        for u in range(row.repeats // 2):           # a shortcut around every two blocks
            name, cin = f"stage{number}_unit{u + 1}", net.shape(x)[-1]
            stride = 1 if cin == c else row.stride
            h = igcv2_block(net, x, c, stride, composed, f"{name}_block1")
            h = igcv2_block(net, h, c, 1, composed, f"{name}_block2", relu=False)
            net.block = name
            shortcut = x
            if cin != c:
                shortcut = net.bn(net.conv(x, c, 1, stride, name=f"{name}_projection"))
            x = net.relu(net.add(shortcut, h, name=f"{name}_add"))
    return _classifier(net, x, num_classes)


# ---- IGCV3 ---------------------------------------------------------------------------------------
IGCV3_EPSILON = 1e-5     # symbols/igcv3.py: BatchNorm(eps=1e-5)

#: IGCV3-D: MobileNet v2's Table 2 with every row of more than one block doubled; the authors'
#: ``bottleneck_params_list`` (t, c, n, s): (1, 16, 1, 1), (6, 24, 4, 2), (6, 32, 6, 2),
#: (6, 64, 8, 2), (6, 96, 6, 1), (6, 160, 6, 2), (6, 320, 1, 1).
IGCV3_TABLE = tuple(
    replace(row, kind="igcv3", repeats=2 * row.repeats if row.repeats > 1 else 1)
    if row.kind == "inverted" else row for row in mobilenet_v2.TABLE)


def igcv3_even(value: float) -> int:
    """``int(round(value))`` (half up, the authors' Python 2), plus one if odd: the authors'
    rounding of every width, which their group-2 convolutions need."""
    v = int(math.floor(value + 0.5))
    return v + v % 2


def igcv3_block(net: Net, x: str, filters: int, stride: int, expansion: int, name: str,
                shortcut: bool) -> str:
    """``inverted_residual_unit`` of ``symbols/igcv3.py``: group-2 expand, shuffle of 2,
    depthwise with ReLU6, group-2 project, the inverse shuffle; the input added if ``shortcut``."""
    net.block = name
    cin = net.shape(x)[-1]
    h = net.bn(net.conv(x, cin * expansion, 1, groups=2, name=f"{name}_expand"),
               epsilon=IGCV3_EPSILON)
    h = net.channel_shuffle(h, 2, name=f"{name}_permute")
    h = net.bn(net.depthwise(h, 3, stride, name=f"{name}_depthwise"), epsilon=IGCV3_EPSILON)
    h = net.relu6(h)
    h = net.bn(net.conv(h, filters, 1, groups=2, name=f"{name}_project"), epsilon=IGCV3_EPSILON)
    h = net.channel_shuffle(h, 2, inverse=True, name=f"{name}_permute_back")
    return net.add(x, h, name=f"{name}_add") if shortcut else h


def igcv3_describe(net: Net, alpha: float, num_classes: int) -> str:
    first, *rows, last = IGCV3_TABLE
    x = _stem(net, igcv3_even(first.channels * alpha), first.stride, IGCV3_EPSILON, "relu6")
    index = 0
    for number, row in enumerate(rows, start=1):
        net.stage = f"group_{number}"
        c = igcv3_even(row.channels * alpha)
        for repeat in range(row.repeats):           # the authors: no shortcut in a row's first
            x = igcv3_block(net, x, c, row.stride if repeat == 0 else 1, row.expansion,
                            f"block_{index}", shortcut=repeat > 0)
            index += 1
    net.stage = net.block = "classifier"
    width = last.channels if alpha <= 1.0 else igcv3_even(last.channels * alpha)
    x = net.relu6(net.bn(net.conv(x, width, 1, name="conv_last"), epsilon=IGCV3_EPSILON))
    return _classifier(net, x, num_classes)


# ---- the three architectures ---------------------------------------------------------------------
IGCV1_BIB, IGCV2_BIB, IGCV3_BIB = "zhang2017interleaved", "xie2018igcv2", "sun2018igcv3"

IGCV3_PUBLISHED = (
    Figure("IGCV3-D 1.0 (ImageNet), authors' README", (("alpha", 1.0),),
           "homles11/IGCV3, README.md (ImageNet experiments)", params=3.5),
)

ARCHITECTURES = (
    Architecture(
        name="igcv1",
        title="IGCV1",
        paper="Zhang et al. 2017, Interleaved Group Convolutions, ICCV",
        bib=IGCV1_BIB,
        metaparameters=(
            Metaparameter("primary_groups", 24, "L: groups of the 3x3 primary group "
                          "convolution (the width is L M)", kind="int", low=1, high=64,
                          grid=(2, 4, 8, 24), symbol="L"),
            Metaparameter("secondary_groups", 2, "M: groups of the 1x1 secondary group "
                          "convolution in the first stage (doubling with the width)",
                          kind="int", low=1, high=64, grid=(1, 2, 4, 8), symbol="M"),
            Metaparameter("depth", 38, "layers with weights: 3 B + 2 for B IGC blocks per "
                          "stage (the paper's 8, 20, 38, 62)", kind="choice",
                          choices=(8, 20, 38, 62), grid=(8, 20, 38)),
            Metaparameter("residual", False, "the plain network (plain_igc.py) or two IGC "
                          "blocks plus an identity per unit (resnet_igc.py)", kind="choice",
                          choices=(False, True), grid=(False, True)),
            CIFAR_RHO, NUM_CLASSES,
        ),
        describe=igcv1_describe,
        width=None,
        color="#1a9e8f",
        base_resolution=CIFAR_RESOLUTION,
        min_resolution=8,
        order=12,
        smoke=(("primary_groups", 4), ("secondary_groups", 2), ("depth", 8),
               ("residual", True), ("image_size", 32)),     # the projection and the add too
        unpublished="the paper's complexity table (Table 2) is an image in the seed and not in "
                    "the authors' repository; its README's ImageNet figures are of ResNet-18 "
                    "variants, not of these networks",
    ),
    Architecture(
        name="igcv2",
        title="IGCV2",
        paper="Xie et al. 2018, IGCV2: Interleaved Structured Sparse Convolutional Neural "
              "Networks, CVPR",
        bib=IGCV2_BIB,
        metaparameters=(
            Metaparameter("alpha", 1.0, "width multiplier: the first stage is 64 alpha wide "
                          "(a multiple of 8)", low=0.125, high=2.0, grid=(0.25, 0.5, 1.0, 2.0),
                          symbol="\u03b1"),
            Metaparameter("composed", 3, "L: the group convolutions each block composes (one "
                          "channel-wise 3x3, L - 1 group 1x1)", kind="int", low=2, high=6,
                          grid=(2, 3, 4), symbol="L"),
            Metaparameter("blocks", 4, "B: blocks per stage (a shortcut around every two)",
                          kind="choice", choices=(2, 4, 6, 8), grid=(2, 4, 8), symbol="B"),
            CIFAR_RHO, NUM_CLASSES,
        ),
        describe=igcv2_describe,
        width="alpha",
        color="#6b8e23",
        base_resolution=CIFAR_RESOLUTION,
        min_resolution=8,
        order=13,
        smoke=(("alpha", 0.25), ("composed", 3), ("blocks", 2), ("image_size", 32)),
        unpublished="no authors' code is public and the paper's tables are images in the seed, "
                    "so no published network can be pinned down (width x and blocks B of each "
                    "table entry); the IGCV3 README's 'IGCV2 2.4M' names no configuration",
    ),
    Architecture(
        name="igcv3",
        title="IGCV3",
        paper="Sun et al. 2018, IGCV3: Interleaved Low-Rank Group Convolutions for Efficient "
              "Deep Neural Networks, BMVC",
        bib=IGCV3_BIB,
        metaparameters=(
            Metaparameter("alpha", 1.0, "width multiplier; widths are rounded to even numbers "
                          "(the authors' code is exact at 1.0 only: see the module doc)",
                          low=0.25, high=1.4, grid=(0.35, 0.5, 0.75, 1.0), symbol="\u03b1"),
            RHO, NUM_CLASSES,
        ),
        describe=igcv3_describe,
        width="alpha",
        color="#b8860b",
        published=IGCV3_PUBLISHED,
        order=14,
        smoke=(("alpha", 0.35), ("image_size", 32)),
    ),
)
