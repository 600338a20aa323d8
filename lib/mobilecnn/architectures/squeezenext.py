"""SqueezeNext (Gholami et al., 2018): a two-stage squeeze and a 3x1 + 1x3 pair, with shortcuts.

A SqueezeNext block of output width C reduces its input to C/2 and then C/4 channels with two
1x1 convolutions (the two-stage squeeze), applies a 3x1 and a 1x3 convolution of C/2 filters
each, and expands back to C with a last 1x1 convolution. The pair is a low-rank factorization
of a 3x3 convolution, not a rank-one filter: both layers mix channels, so the 3x3 kernel it
computes between one input and one output channel is a sum of C/2 rank-one terms (rank up to
3). With the block's widths it holds 3(C/4)(C/2) + 3(C/2)(C/2) = 9C^2/8 weights, exactly as many
as one 3x3 convolution from C/4 to C/2 channels (:func:`separable_pair_weights`); what it saves
is the larger 3x3 convolution from C/2 to C/2 (9C^2/4). Every convolution is followed by batch normalization and a
ReLU; the block's output is ReLU(branch + shortcut). The shortcut is the input itself, or a 1x1
convolution (with its own batch norm and ReLU) in the first block of each stage, where the
first 1x1 convolution and the shortcut both carry the stage's stride.

``LAYOUTS`` gives the blocks per stage: [6, 6, 8, 1] for SqNxt-23 (21 blocks between the first
convolution and the last 1x1 convolution) and [2, 4, 14, 1] for SqNxt-23v5, which moves blocks
to the third stage, where the feature maps are smaller and a hardware accelerator is better
used. The authors' 23v5 files (1.0-SqNxt-23v5 and 2.0-SqNxt-23v5/train_val.prototxt) differ
from SqNxt-23 in two more ways, which ``STEM_KERNEL`` and ``SERIES_PROJECTION`` record: the
first convolution is 5x5 (Convolution1, kernel_size 5) instead of 7x7, and the first block of
each stage does not run its 1x1 projection in parallel with the block: the projection
(Convolution2, 13, 34, 105) comes first, carries the stage's stride, and both the block's first
squeeze (Convolution3, 14, 35, 106) and its identity shortcut (Eltwise1, 3, 7, 21) read it. ``STAGE_WIDTHS`` are the stage widths at width 1.0; the paper's "1.5-" and "2.0-"
networks multiply only these.

This follows the authors' Caffe definitions (github.com/amirgholami/SqueezeNext): 227-pixel
crops; a 7x7 (23v5: 5x5) / stride-2 first convolution without padding, then 3x3 / stride-2 max pooling that
rounds up (Caffe's rule); no biases (batch norm follows every convolution), none in the final
fully connected layer either; the first convolution (64) and the last 1x1 convolution (128)
keep their width at every width multiplier; the first block of stage 1 has a 1x1 shortcut even
at width 2.0, where its input and output widths are equal. The Caffe files alternate the order
of the 3x1 and 1x3 convolutions from block to block; here the 3x1 always comes first (the
order changes the function, not the counts).
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, Architecture, Figure, Metaparameter, conv_bn, rho_param
from .squeezenet import ceil_padding

BASE_RESOLUTION = 227
STEM_WIDTH = 64
FINAL_WIDTH = 128
STAGE_WIDTHS = (32, 64, 128, 256)
LAYOUTS = {
    "23": (6, 6, 8, 1),
    "23v5": (2, 4, 14, 1),
}
#: the first convolution's kernel: 1.0-SqNxt-23 Convolution1 kernel_size 7, 1.0- and
#: 2.0-SqNxt-23v5 Convolution1 kernel_size 5
STEM_KERNEL = {"23": 7, "23v5": 5}
#: whether the first block of a stage runs its 1x1 projection before the block (23v5) rather
#: than beside it as the shortcut (23)
SERIES_PROJECTION = {"23": False, "23v5": True}


def separable_pair_weights(filters: int) -> tuple:
    """``(3x1 + 1x3 pair, one 3x3 from C/4 to C/2, one 3x3 from C/2 to C/2)`` kernel weights
    for a block of output width ``filters`` (C): 9C^2/8, 9C^2/8 and 9C^2/4."""
    if filters <= 0 or filters % 4:
        raise ValueError(f"filters must be a positive multiple of 4, got {filters!r}")
    q, h = filters // 4, filters // 2
    return 3 * q * h + 3 * h * h, 9 * q * h, 9 * h * h


def block(net: Net, x: str, filters: int, stride: int, project: bool, name: str) -> str:
    """A SqueezeNext block of output width ``filters`` (C): C/2, C/4, 3x1 C/2, 1x3 C/2, C."""
    net.block = name
    if filters % 4:
        raise ValueError(f"{name}: a block's width must divide by 4, got {filters}")
    h = conv_bn(net, x, filters // 2, 1, stride, act="relu", name=f"{name}_squeeze1")
    h = conv_bn(net, h, filters // 4, 1, act="relu", name=f"{name}_squeeze2")
    h = conv_bn(net, h, filters // 2, (3, 1), act="relu", name=f"{name}_conv3x1")
    h = conv_bn(net, h, filters // 2, (1, 3), act="relu", name=f"{name}_conv1x3")
    h = conv_bn(net, h, filters, 1, act="relu", name=f"{name}_expand")
    shortcut = (conv_bn(net, x, filters, 1, stride, act="relu", name=f"{name}_shortcut")
                if project else x)
    return net.relu(net.add(shortcut, h, name=f"{name}_add"))


def stem(net: Net, x: str, kernel: int = 7) -> str:
    """7x7 (23v5: 5x5) / 2 convolution without padding, batch norm, ReLU, 3x3 / 2 max-pool
    rounding up."""
    net.stage = net.block = "stem"
    x = net.relu(net.bn(net.conv(x, STEM_WIDTH, kernel, 2, padding="valid", name="conv1")))
    h, w, _ = net.shape(x)
    return net.maxpool(x, 3, 2, padding=(0, ceil_padding(h, 3, 2), 0, ceil_padding(w, 3, 2)),
                       name="pool1")


def learner(net: Net, x: str, repeats: tuple, width: float, series: bool = False) -> str:
    """The four stages. The first block of a stage projects (1x1, the stage's stride): beside
    the block as its shortcut, or (``series``, the 23v5 files) before it, feeding both the block
    and its identity shortcut."""
    for number, (count, base) in enumerate(zip(repeats, STAGE_WIDTHS), start=1):
        net.stage = f"stage{number}"
        filters = int(base * width)
        for unit in range(count):
            first = unit == 0
            stride = 2 if (first and number > 1) else 1
            name = f"stage{number}_unit{unit + 1}"
            if first and series:
                net.block = name
                x = conv_bn(net, x, filters, 1, stride, act="relu", name=f"{name}_project")
                x = block(net, x, filters, 1, False, name)
            else:
                x = block(net, x, filters, stride, first, name)
    return x


def classifier(net: Net, x: str, num_classes: int) -> str:
    """1x1 convolution to 128 channels, global average pooling, fully connected (no bias)."""
    net.stage = net.block = "classifier"
    x = conv_bn(net, x, FINAL_WIDTH, 1, act="relu", name="final_conv")
    x = net.gap(x)
    x = net.dense(x, num_classes, bias=False, name="logits")
    return net.softmax(x)


def describe(net: Net, width: float, layout: str, num_classes: int) -> str:
    x = stem(net, "input", STEM_KERNEL[layout])
    x = learner(net, x, LAYOUTS[layout], width, SERIES_PROJECTION[layout])
    return classifier(net, x, num_classes)


# ---- what the paper prints -------------------------------------------------------------------
BIB = "gholami2018squeezenext"

#: The paper's Tables 1 and 2 print parameters in millions (and ImageNet top-1 in %). Its
#: parameters are the trainable ones: 1.0-SqNxt-23 has 717,280 here, printed as 0.72M (with the
#: batch-norm moving statistics it would be 0.73M), and 2.0-SqNxt-23v5, built as the authors'
#: 2.0-SqNxt-23v5/train_val.prototxt wires it (5x5 first convolution, projection before the
#: first block of each stage), has 3,222,912, printed as 3.2M. The osmr/imgclsmob port, which
#: the authors' README points to for PyTorch, adds a bias to every convolution and to the
#: classifier: with those our 1.0-SqNxt-23 has exactly its 724,056 parameters. Its
#: sqnxt23v5_w1 (921,816) is not the authors' 23v5: it keeps the 7x7 first convolution and the
#: projection beside the block (it also widens conv1 and the last 1x1 convolution at 1.5 and
#: 2.0, which Caffe does not).
PUBLISHED = (
    Figure("1.0-SqNxt-23", (("width", 1.0), ("layout", "23")), f"{BIB}, Table 1", params=0.72,
           top1=59.05),
    Figure("1.5-SqNxt-23", (("width", 1.5), ("layout", "23")), f"{BIB}, Table 2", params=1.4,
           top1=63.52),
    Figure("2.0-SqNxt-23", (("width", 2.0), ("layout", "23")), f"{BIB}, Table 2", params=2.4,
           top1=67.18),
    Figure("2.0-SqNxt-23v5", (("width", 2.0), ("layout", "23v5")), f"{BIB}, Table 2",
           params=3.2, top1=67.44,
           note="3,222,912 trainable parameters, built as the authors' "
                "2.0-SqNxt-23v5/train_val.prototxt wires it: 5x5 first convolution, and the "
                "first block of each stage reads its 1x1 projection instead of running it "
                "beside the block"),
)

ARCHITECTURE = Architecture(
    name="squeezenext",
    title="SqueezeNext",
    paper="Gholami et al. 2018, SqueezeNext: Hardware-Aware Neural Network Design, CVPR "
          "Workshops",
    bib=BIB,
    metaparameters=(
        Metaparameter("width", 1.0, "the paper's width multiplier of the four stages "
                      "(\"1.5-SqNxt\")", kind="choice", choices=(1.0, 1.5, 2.0),
                      grid=(1.0, 1.5, 2.0)),
        Metaparameter("layout", "23", "blocks per stage: 23 = [6, 6, 8, 1], 23v5 = [2, 4, 14, 1]",
                      kind="choice", choices=tuple(LAYOUTS), grid=tuple(LAYOUTS)),
        rho_param(BASE_RESOLUTION), NUM_CLASSES,
    ),
    describe=describe,
    width="width",
    color="#8c564b",
    published=PUBLISHED,
    base_resolution=BASE_RESOLUTION,
    order=9,
    smoke=(("width", 1.0), ("layout", "23"), ("image_size", 32))   # (3, 1) and (1, 3) kernels,
)
