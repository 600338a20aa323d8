"""CondenseNet (Huang, Liu, van der Maaten and Weinberger, 2018): a DenseNet whose 1x1
convolutions learn their groups during training and become index layers plus standard group
convolutions at test time.

**The network** (the authors' code, github.com/ShichenLiu/CondenseNet, ``models/condensenet.py``
and ``models/condensenet_converted.py``). A 3x3 convolution makes ``2 k0`` channels (stride 2
on ImageNet, 1 on CIFAR: the authors choose by dataset, here the ImageNet layout has the stride-2
stem). Then stages of dense layers; a layer of stage m reads everything before it and appends
``k = 2**(m-1) k0`` channels: the paper's *exponentially increasing growth rate*. Between
stages there is only a 2x2 average pool of the whole concatenation (no 1x1 compression as in
DenseNet), so every layer sees the (pooled) output of every earlier layer of every stage: the
paper's *fully dense connectivity*. After the last stage: batch norm, ReLU, global average
pooling (the authors' ``AvgPool2d(7)`` on the 7x7 map) and the classifier.

A dense layer is batch norm, ReLU, a 1x1 convolution to ``4 k`` channels (the bottleneck),
batch norm, ReLU, and a 3x3 group convolution with G groups to ``k`` channels (the authors'
``group_3x3``; their ``group_1x1`` is the same G in every published network, so one ``groups``
sets both). The 1x1 convolution is a *learned group convolution* (LGC): during training it is a
full convolution whose weights are masked; output channel ``o`` belongs to group ``o mod G``
(the authors' ``_mask[i::groups]``) and each group keeps, after the C-1 condensing stages,
``1/C`` of the input channels, chosen by the group-lasso criterion
(:mod:`mobilecnn.condense` trains it). **This module describes the converted, test-time
network** (the authors' ``CondenseConv``): an *index layer* gathers the ``G * Cin / C`` kept
channels (group by group; a channel may be kept by several groups or by none), batch norm and
ReLU act on the gathered channels, a standard 1x1 group convolution with G groups follows, and
a channel shuffle (the authors' ``ShuffleLayer``) puts its outputs back in the order of the
masked convolution's (``o = k G + g``), which is what the 3x3 group convolution was trained on.
The authors shuffle right after the group convolution; here the shuffle comes after the batch
norm and ReLU that follow it (both act channel by channel, so they commute with the permutation;
the batch norm's parameters are stored in the group convolution's output order). The function
and the counts are the same, and a runtime can fold that batch norm into the group convolution
(TF Lite does; with the shuffle in between it could not).

**The index at build time.** Which channels a trained network keeps is known only after
training; a freshly built network uses a fixed valid pattern (:func:`default_index`): group g
keeps channels ``g, g + C, g + 2C, ...`` (modulo ``Cin``). With G = C this is a permutation of
all channels, the interleaving a channel shuffle makes. :func:`mobilecnn.condense.convert`
builds the network with the learned index instead; the costs do not depend on it.

**The classifier** of the ImageNet network reads half of the 2,064 features: the paper prunes
its fully connected layer to 50% at half of training (seed 004 §9.5: "G=1, C=2"), and the
authors' converted network reads the kept half through an index (``CondenseLinear``). With
``prune_classifier=True`` (the default) the network has that index layer and the halved
classifier (default index: every other feature). The authors' CIFAR figures count the full
classifier (the paper prunes it on ImageNet only), so they are quoted with
``prune_classifier=False``.

**Counts.** CondenseNet-74 (C = G = 4) has 4,773,944 trainable parameters here, the README's
4.8M, and 516.6M multiply-adds. The README's "FLOPs" (the figures are quoted from the README:
the seed shows the paper's tables only as images) are the authors' ``utils.measure_model``
count, which adds to the multiply-adds one operation per ReLU output,
per element of every average-pooling window and per classifier bias: :func:`authors_flops` of
this network is 529.3M, the printed 529M. The same holds for C = G = 8 (2.94M parameters;
261.5M multiply-adds, 274.2M by the authors' count: 2.9M and 274M printed) and for every CIFAR
network in the README (growth 8-16-32; CondenseNet-182 reproduces with 12-24-48, a growth the
README does not print, see :data:`PUBLISHED`). The ``Figure`` entries quote the printed FLOPs
against the profile's multiply-adds with the difference as tolerance and note;
``tests/test_condensenet.py`` checks :func:`authors_flops` to the printed digits.

Size of the description: CondenseNet-74 is 335 layers here (nine per dense layer); an
uncached :func:`mobilecnn.profile` took 1.8 ms (the fastest of 51 calls on a 2-core machine;
``benchmarks/profile_speed.py`` checks the default against 5 ms). The deepest CIFAR layout,
CondenseNet-182 (1,600 layers), took 12.6 ms: it is a menu entry, not on the explorer's grid.

The authors' code differs in two details that do not change any count: it converts the
classifier only at the end (``CondensingLinear`` drops the columns of smallest L1 norm without
retraining), where the paper and :mod:`mobilecnn.condense` prune it at half of training and go
on training, so that the converted network computes what was trained; and its padding is
PyTorch's symmetric one, which here is the explicit ``(1, 1, 1, 1)`` of every 3x3 convolution.
"""

from __future__ import annotations

from ..graph import Net
from ..ops import strided_index
from .common import NUM_CLASSES, RHO, Architecture, Figure, Metaparameter, Row

BOTTLENECK = 4                 # the authors' --bottleneck: the 1x1 convolution makes 4 k channels
CLASSIFIER_KEEP = 2            # the classifier keeps 1/2 of its inputs (an LGC with G=1, C=2)
IMAGENET_STAGES = "4-6-8-10-8"
#: The layouts, as the authors' ``--stages`` spells them. "4-6-8-10-8" is CondenseNet-74 for
#: ImageNet; the three-stage ones are the CIFAR networks of the README (depth 2 * layers + 2:
#: 50, 74, 86, 98, 110, 122, 182); "2-2-2" (depth 14) is not the authors': a small network for
#: the tests and the CPU-cheap training runs.
STAGES = (IMAGENET_STAGES, "2-2-2", "8-8-8", "12-12-12", "14-14-14", "16-16-16", "18-18-18",
          "20-20-20", "30-30-30")


def parse_stages(stages: str) -> tuple:
    return tuple(int(n) for n in stages.split("-"))


def growth_rates(stages: str, growth: int) -> tuple:
    """The growth rate of each stage: ``k = 2**(m-1) k0`` for stage m = 1, 2, ..."""
    return tuple(growth * 2 ** m for m in range(len(parse_stages(stages))))


def depth(stages: str) -> int:
    """The paper's depth: two convolutions per dense layer, the stem and the classifier."""
    return 2 * sum(parse_stages(stages)) + 2


def stem_stride(stages: str) -> int:
    """2 for the ImageNet layout (a 224-pixel input becomes 112 before the first stage), else 1."""
    return 2 if stages == IMAGENET_STAGES else 1


def table(stages: str, growth: int, groups: int) -> tuple:
    """The layout as rows: the stem, one ``dense`` row per stage (``channels`` is its growth
    rate, ``expansion`` the bottleneck, ``groups`` G) and the 2x2 average pools between them."""
    rows = [Row("conv", 2 * growth, 1, stem_stride(stages))]
    counts, rates = parse_stages(stages), growth_rates(stages, growth)
    for number, (n, k) in enumerate(zip(counts, rates)):
        if number:
            rows.append(Row("avgpool", 0, 1, 2))
        rows.append(Row("dense", k, n, 1, expansion=BOTTLENECK, groups=groups))
    return tuple(rows)


def default_index(channels: int, groups: int, condense_factor: int) -> tuple:
    """The build-time index of a learned group convolution (:func:`mobilecnn.ops.strided_index`):
    group g keeps ``channels / C`` channels ``g, g + C, g + 2C, ...`` (modulo ``channels``), the
    groups one after another. Valid for every G and C (no channel twice in a group); with G = C
    every channel is kept exactly once, in the interleaved order of a channel shuffle. A trained
    network's index replaces it (:func:`mobilecnn.condense.convert`)."""
    return strided_index(channels, groups, condense_factor)


def check(groups: int, condense_factor: int, growth: int) -> None:
    """Every layer's width must split: k0 a multiple of G (the 3x3 group convolution and the
    groups of the 1x1) and of C (each group keeps Cin / C channels; every Cin is a multiple of
    k0)."""
    for name, value in (("groups", groups), ("condense_factor", condense_factor)):
        if growth % value:
            raise ValueError(f"growth={growth} must be a multiple of {name}={value}: every "
                             f"layer's input width is a multiple of growth and must split into "
                             f"{name}; choose growth from 8, 16, 32 for groups or "
                             f"condense_factor up to 8")


def dense_layer(net: Net, x: str, growth: int, groups: int, condense_factor: int, name: str,
                learning: bool = False, index: tuple | None = None) -> str:
    """One dense layer; returns the concatenation of its input and its ``growth`` new channels.

    Test time (default): index layer, BN, ReLU, 1x1 group conv, BN, ReLU, channel shuffle, 3x3
    group conv. ``learning=True`` gives the training-time layer of :mod:`mobilecnn.condense`:
    BN and ReLU on every input channel and a full 1x1 convolution (masked while it trains).
    ``index`` replaces :func:`default_index` (a trained network's)."""
    net.block = name
    width = BOTTLENECK * growth
    if learning:
        h = net.relu(net.bn(x, name=f"{name}_bn1"))
        h = net.conv(h, width, 1, name=f"{name}_conv1")
    else:
        h = net.index(x, index, groups=groups, condense_factor=condense_factor,
                      name=f"{name}_index")
        h = net.relu(net.bn(h, name=f"{name}_bn1"))
        h = net.conv(h, width, 1, groups=groups, name=f"{name}_conv1")
    h = net.relu(net.bn(h, name=f"{name}_bn2"))
    if groups > 1 and not learning:
        h = net.channel_shuffle(h, groups, name=f"{name}_shuffle")
    h = net.conv(h, growth, 3, groups=groups, padding=(1, 1, 1, 1), name=f"{name}_conv2")
    return net.concat(x, h, name=f"{name}_concat")


def describe(net: Net, groups: int, condense_factor: int, stages: str, growth: int,
             prune_classifier: bool, num_classes: int, *, learning: bool = False,
             indices: dict | None = None) -> str:
    """The test-time CondenseNet (``learning=True``: the training-time one, see
    :func:`dense_layer`). ``indices`` maps index-layer names to trained indices."""
    check(groups, condense_factor, growth)
    indices = indices or {}
    rows = table(stages, growth, groups)
    net.stage = net.block = "stem"
    x = net.conv("input", rows[0].channels, 3, rows[0].stride, padding=(1, 1, 1, 1),
                 name="init_conv")
    number = 0
    for row in rows[1:]:
        if row.kind == "avgpool":
            net.block = f"transition{number}"
            x = net.avgpool(x, 2, 2, name=f"transition{number}_pool")
            continue
        number += 1
        net.stage = f"stage{number}"
        for layer in range(row.repeats):
            name = f"stage{number}_layer{layer + 1}"
            x = dense_layer(net, x, row.channels, groups, condense_factor, name, learning,
                            indices.get(f"{name}_index"))
    net.stage = net.block = "classifier"
    x = net.relu(net.bn(x, name="norm_last"))
    x = net.gap(x)
    if prune_classifier and not learning:
        x = net.index(x, indices.get("classifier_index"), condense_factor=CLASSIFIER_KEEP,
                      name="classifier_index")
    x = net.dense(x, num_classes, name="logits")
    return net.softmax(x)


def authors_flops(p) -> int:
    """The authors' ``utils.measure_model`` count for a profile ``p`` of this network: the
    multiply-adds plus one operation per ReLU output, per element of each average-pooling window
    (2x2 transitions and the final global pool) and per classifier bias; batch norm, the index
    layer, the shuffle and the concatenations count nothing. What the README and the paper call
    FLOPs."""
    other = 0
    for row in p.layers:
        elements = 1
        for d in row.output_shape:
            elements *= d
        if row.kind == "relu":
            other += elements
        elif row.kind == "avgpool":
            other += 4 * elements
        elif row.kind == "gap":
            h, w, _ = row.input_shape
            other += h * w * elements
        elif row.kind == "dense":
            other += row.output_shape[-1]
    return p.macs + other


# ---- what the authors print ------------------------------------------------------------------
BIB = "huang2018condensenet"
_README = "ShichenLiu/CondenseNet, README.md"

_FLOPS_NOTE = ("the printed FLOPs are the authors' measure_model count: the multiply-adds plus "
               "one operation per ReLU output, per average-pooling window element and per "
               "classifier bias ({extra:.2f}M here, {total:.1f}M in all, see authors_flops); the "
               "multiply-adds alone are {macs:.1f}M")


def _figure(label, settings, source, flops, params, top1, macs, extra, tolerance, note=""):
    note = (note + "; " if note else "") + _FLOPS_NOTE.format(extra=extra, total=macs + extra,
                                                               macs=macs)
    return Figure(label, settings, source, macs=flops, params=params, top1=top1,
                  tolerance=tolerance, note=note)


# (label, settings, FLOPs, params, top-1 %, multiply-adds, authors' extra operations,
#  tolerance); the last two columns are this module's counts (millions), tested.
_IMAGENET = (
    ("CondenseNet-74 (C=G=4)", (("groups", 4), ("condense_factor", 4)), 529, 4.8, 73.8,
     516.640576, 12.687688, 0.023),
    ("CondenseNet-74 (C=G=8)", (("groups", 8), ("condense_factor", 8)), 274, 2.9, 71.0,
     261.545792, 12.687688, 0.044),
)
#: The README's CIFAR table (CIFAR-10 error, so top-1 is 100 minus it), growth 8-16-32 except
#: CondenseNet-182 (trained 600 epochs), whose growth the README does not print.
_CIFAR = (
    ("8-8-8", 8, 28.6, 0.22, 6.22, 27.185696, 1.456138, 0.048),
    ("12-12-12", 8, 51.9, 0.41, 5.28, 49.208032, 2.689034, 0.051),
    ("14-14-14", 8, 65.8, 0.52, 5.06, 62.381888, 3.434506, 0.052),
    ("16-16-16", 8, 81.3, 0.65, 4.83, 76.997536, 4.265994, 0.053),
    ("18-18-18", 8, 98.2, 0.79, 4.63, 93.054976, 5.183498, 0.052),
    ("20-20-20", 8, 116.7, 0.95, 4.48, 110.554208, 6.187018, 0.053),
    ("30-30-30", 12, 513, 4.2, 3.76, 493.929312, 18.742282, 0.037),
)
_GROWTH_182 = ("growth 12-24-48 is not printed in the README: it is the first growth (of 8, 12, "
               "16, 32) that gives the printed 4.2M parameters and 513M FLOPs")

PUBLISHED = tuple(
    _figure(label, settings, f"{_README} (ImageNet table)", flops, params, top1, macs, extra,
            tol)
    for label, settings, flops, params, top1, macs, extra, tol in _IMAGENET
) + tuple(
    _figure(f"CondenseNet-{depth(stages)} (CIFAR)",
            (("stages", stages), ("growth", growth), ("prune_classifier", False),
             ("num_classes", 10), ("image_size", 32)),
            f"{_README} (CIFAR table)", flops, params, round(100 - err, 2), macs, extra, tol,
            _GROWTH_182 if stages == "30-30-30" else "")
    for stages, growth, flops, params, err, macs, extra, tol in _CIFAR)

ARCHITECTURE = Architecture(
    name="condensenet",
    title="CondenseNet",
    paper="Huang, Liu, van der Maaten and Weinberger 2018, CondenseNet: An Efficient DenseNet "
          "using Learned Group Convolutions, CVPR",
    bib=BIB,
    metaparameters=(
        Metaparameter("groups", 4, "groups G of the learned 1x1 and the 3x3 group convolutions",
                      kind="choice", choices=(1, 2, 4, 8), grid=(4, 8), symbol="G"),
        Metaparameter("condense_factor", 4, "condensation factor C: each group of a learned "
                      "1x1 convolution keeps 1/C of its input channels", kind="choice",
                      choices=(1, 2, 4, 8), grid=(4, 8), symbol="C"),
        Metaparameter("stages", IMAGENET_STAGES, "dense layers per stage (the authors' "
                      "--stages): 4-6-8-10-8 is CondenseNet-74 for ImageNet (stride-2 stem), "
                      "the three-stage ones CIFAR networks of depth 2 * layers + 2",
                      kind="choice", choices=STAGES, grid=(IMAGENET_STAGES, "8-8-8", "14-14-14")),
        Metaparameter("growth", 8, "growth rate k0 of the first stage; stage m adds "
                      "2**(m-1) k0 channels per layer", kind="choice", choices=(8, 12, 16, 32),
                      grid=(8, 16), symbol="k\u2080"),
        Metaparameter("prune_classifier", True, "the classifier reads half of the features "
                      "through an index layer (the paper's ImageNet network)", kind="choice",
                      choices=(True, False), grid=(True, False)),
        RHO, NUM_CLASSES,
    ),
    describe=describe,
    color="#0b7a75",
    published=PUBLISHED,
    order=15,
    smoke=(("stages", "2-2-2"), ("groups", 4), ("condense_factor", 4), ("growth", 16),
           ("image_size", 32)),   # index layers (maps and the classifier's), group convs, shuffle
)
