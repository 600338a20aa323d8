"""EffNet (Freeman, Roese-Koerner and Kummert, 2018): spatially separable depthwise convolutions
with separable pooling, for networks that are slim to begin with.

The network is the one of seed 002 §4 ("code", from the keras-effnet repository the seed names):
three EffNet blocks, 32 -> 64, 64 -> 128 and 128 -> 256 channels, on a 32 x 32 input (CIFAR-10's
size), then ``Flatten`` and a dense softmax layer (10 classes by default). ``TABLE`` lists the
blocks: ``exp`` is the block's bottleneck width (the seed's ``ch_in``), ``channels`` its output
(``ch_out``). One block, every layer without bias:

1. a 1x1 convolution to the bottleneck width;
2. a 1x3 depthwise convolution (``"same"``);
3. a 2x1 max pool with stride (2, 1), unpadded: the height halves ("separable pooling");
4. a 3x1 depthwise convolution (``"same"``);
5. a 2x1 convolution with stride (1, 2) to the output width (``"same"``, so one row of zeros at
   the bottom): the width halves, and this layer stands in for the pointwise convolution.

After each of the four convolutions the seed's ``get_post`` applies LeakyReLU, *then* batch
normalization; we keep that order (it is what the seed's network computes, and the counts do
not depend on it) with Keras' defaults, LeakyReLU slope 0.3 and batch norm epsilon 1e-3,
momentum 0.99. The seed's code has no bias anywhere but in the dense layer.

**Kernel orientation.** Kernels, pools and strides are written (height, width), Keras'
``kernel_size=(rows, columns)`` convention, which the seed's code uses: ``(1, 3)`` is one row by
three columns, a horizontal filter, and the pool ``(2, 1)`` with stride ``(2, 1)`` halves the
*height*; the 3x1 depthwise filter is vertical and the final ``(2, 1)`` convolution with stride
``(1, 2)`` halves the *width*. Written descriptions disagree: seed 002 §4, section 3, first
splits the 3x3 depthwise layer into "3x1, 1x3" layers (in that order), and its translator reads
the paper's "1d mp" as "1x2 or 2x1"; the seed's §4.2 and the code put 1x3 first and pool 2x1.
We follow the code, the only source that fixes the axes; the transposed network (3x1 first, pooling the width) has the same
counts at square inputs, since every layer's cost is symmetric in the two axes.

**Metaparameters.** ``alpha`` (not in the seed's code, which has fixed widths) thins every layer
to ``int(alpha * channels)`` (MobileNet v1's rule) and may go up to 2. The input is
``round(32 * rho)`` pixels square, 8 to 128: three blocks halve the height (unpadded pooling),
so 8 pixels is the least that works. Because the classifier flattens the last map, its weights
grow with the input's area; the static explorer (which stores parameters once per width) offers
the paper's 32 pixels only, ``mobilecnn.profile`` and the builders take any size.

**Published figures.** The seed reproduces the paper's architecture and result tables as images
only (``zh-cn/img/effnet/p2.png`` to ``p7.png``) and the keras-effnet repository prints none, so
no count or accuracy of the paper could be checked; this module quotes none (see
``unpublished``). What is tested instead: the counts equal the seed's Keras code rebuilt with
Keras 3 (``tests/test_effnet.py``).
"""

from __future__ import annotations

from ..graph import Net
from .common import NUM_CLASSES, Architecture, Metaparameter, Row
from .mobilenet_v1 import width

BASE_RESOLUTION = 32
MIN_RESOLUTION = 8
LEAKY_SLOPE = 0.3      # keras.layers.LeakyReLU()'s default, which the seed's code uses

#        kind      out  bottleneck
TABLE = (
    Row("effnet",  64, exp=32),
    Row("effnet", 128, exp=64),
    Row("effnet", 256, exp=128),
)


def post(net: Net, x: str, name: str) -> str:
    """The seed's ``get_post``: LeakyReLU, then batch normalization."""
    x = net.leaky_relu(x, LEAKY_SLOPE, name=f"{name}_leaky_relu")
    return net.bn(x, name=f"{name}_bn")


def effnet_block(net: Net, x: str, bottleneck: int, filters: int, index: int) -> str:
    """1x1 bottleneck, 1x3 depthwise, 2x1 max pool (stride 2, 1), 3x1 depthwise, 2x1 conv
    (stride 1, 2); LeakyReLU and batch norm after each convolution."""
    name = net.stage = net.block = f"block{index}"
    x = post(net, net.conv(x, bottleneck, 1, name=f"{name}_bottleneck"), f"{name}_bottleneck")
    x = post(net, net.depthwise(x, (1, 3), name=f"{name}_dw1x3"), f"{name}_dw1x3")
    x = net.maxpool(x, (2, 1), (2, 1), name=f"{name}_pool")
    x = post(net, net.depthwise(x, (3, 1), name=f"{name}_dw3x1"), f"{name}_dw3x1")
    x = net.conv(x, filters, (2, 1), (1, 2), name=f"{name}_conv2x1")
    return post(net, x, f"{name}_conv2x1")


def classifier(net: Net, x: str, num_classes: int) -> str:
    """Flatten the last map (channels last, as Keras) and a dense layer with bias, softmax."""
    net.stage = net.block = "classifier"
    x = net.flatten(x)
    x = net.dense(x, num_classes, name="fc")
    return net.softmax(x)


def describe(net: Net, alpha: float, num_classes: int) -> str:
    if width(TABLE[0].exp, alpha) < 1:
        raise ValueError(f"alpha={alpha} thins the first layer to zero filters; alpha must be "
                         f"in [{1 / TABLE[0].exp}, 2.0] for effnet")
    x = "input"
    for index, row in enumerate(TABLE, start=1):
        x = effnet_block(net, x, width(row.exp, alpha), width(row.channels, alpha), index)
    return classifier(net, x, num_classes)


BIB = "freeman2018effnet"

ARCHITECTURE = Architecture(
    name="effnet",
    title="EffNet",
    paper="Freeman, Roese-Koerner and Kummert 2018, EffNet: An Efficient Structure for "
          "Convolutional Neural Networks, ICIP; arXiv:1801.06434",
    bib=BIB,
    metaparameters=(
        Metaparameter("alpha", 1.0, "width multiplier, not in the paper: every layer keeps "
                      "int(alpha * channels)", low=0.0, high=2.0, low_open=True,
                      grid=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0), symbol="\u03b1"),
        Metaparameter("rho", 1.0, f"resolution multiplier: the input is round({BASE_RESOLUTION} "
                      "* rho) pixels square, 8 to 128 (the flattening classifier grows with it, "
                      "so the explorer's grid keeps 32)", low=0.0, high=4.0, low_open=True,
                      grid=(1.0,), symbol="\u03c1"),
        Metaparameter("num_classes", 10, "number of output classes (CIFAR-10's 10)", kind="int",
                      low=1, grid=(10, 100)),
    ),
    describe=describe,
    width="alpha",
    color="#bcbd22",
    published=(),
    unpublished="the seed shows the paper's tables only as images and the keras-effnet "
                   "repository prints no figures: nothing could be verified",
    base_resolution=BASE_RESOLUTION,
    min_resolution=MIN_RESOLUTION,
    order=11,
    smoke=(("image_size", 32),),   # the seed's network itself: it is small
)
