"""ShuffleNet v2's four guidelines as experiments on this machine (Ma et al. 2018, section 2).

The paper tests each guideline with a benchmark network made of one building block repeated
(ten blocks, or ten layers), all variants of one experiment at (nearly) the same FLOPs, and
reports throughput on a GPU (batches per second) and on an ARM phone, one thread (images per
second). This module describes those networks with :class:`~mobilecnn.graph.Net`, keeps the
paper's four tables as data (:data:`PAPER`), and measures each network with the book's one
timing path, :func:`mobilecnn.latency.measure`, in Keras, PyTorch and TF Lite.

* **G1** (Table 1): ten blocks of two 1x1 convolutions, ``c1 -> c2`` and back ``c2 -> c1``, for
  the width ratios 1:1, 1:2, 1:6 and 1:12 at fixed FLOPs (``c1 * c2`` about constant);
* **G2** (Table 2): ten 1x1 group convolutions ``c -> c`` with ``g`` = 1, 2, 4, 8 groups at fixed
  FLOPs (``c * c / g`` about constant, so ``c`` grows as ``sqrt(g)``): the paper fixes the FLOPs,
  not the width, which is why more groups cost more memory traffic here;
* **G3** (Table 3): ten blocks of 1, 2 or 4 1x1 convolutions, in series or in parallel, at the
  FLOPs of the one-convolution block. In series, ``k`` convolutions of width ``c / sqrt(k)``
  (rounded). In parallel, ``k`` convolutions each read the block's ``c`` channels and write
  ``c / k``, and a concatenation joins them: the same FLOPs and the same maps in and out as
  the single convolution, cut into ``k`` smaller operators. The paper draws the blocks in its
  appendix and says only that the convolutions are "arranged in sequence or in parallel" at
  equal FLOPs; joining the parallel ones by concatenation (not by addition) keeps G4's
  element-wise additions out of G3;
* **G4** (Table 4): ten ResNet bottleneck units (1x1, 3x3, 1x1 convolution, each ``c`` wide)
  with and without their ReLUs and their shortcut addition. The table does not state the input
  size; at the ARM speed of Tables 1 to 3 (about 5 billion multiply-adds per second) its
  numbers fit a 28 x 28 input with all three convolutions ``c`` wide (:data:`G4_SIZE`).

Batch norm is left out everywhere: the paper lists convolutions (and, in G4, ReLU and the
shortcut) only, and a deployed runtime folds batch norm into the convolution before it.

The paper's columns "x1, x2, x4" multiply every width by 1, 2 and 4 (Table 2's ``g = 1`` row and
Table 3's one-fragment row are the same network, ten 1x1 convolutions ``c -> c``, and print the
same speeds under "x2" and "c = 256"), so FLOPs grow by 1, 4 and 16. :func:`networks` uses the
widths of the paper's ARM columns; ``scale`` multiplies them.

Nothing here imports TensorFlow or PyTorch until something is measured.
"""

from __future__ import annotations

import math
import statistics
import time

from .costs import memory_access as node_memory_access
from .graph import Net
from .ops import OPS, pair_text

GUIDELINES = ("G1", "G2", "G3", "G4")
FRAMEWORKS = ("keras", "torch", "tflite")
STACK = 10          # blocks (G1, G3, G4) or layers (G2) per benchmark network
PAPER_SIZE = 56     # input height and width of Tables 1 to 3
G4_SIZE = 28        # Table 4 gives none; see the module docstring

SOURCE = "ma2018shufflenetv2, Tables 1-4 (section 2)"

#: The paper's Tables 1 to 4. For each guideline: the variants in the paper's order, the widths
#: of the "x1" column on the GPU and on the ARM phone, and the speeds printed for x1, x2 and x4
#: (GPU: batches per second; ARM: images per second, one thread). The ARM columns of Tables 2
#: to 4 are headed "CPU" in the paper; its text says they are the same ARM phone.
PAPER = {
    "G1": dict(
        table="Table 1", columns=("x1", "x2", "x4"),
        variants=("1:1", "1:2", "1:6", "1:12"),
        gpu_widths=((128, 128), (90, 180), (52, 312), (36, 432)),
        arm_widths=((32, 32), (22, 44), (13, 78), (9, 108)),
        gpu=((1480, 723, 232), (1296, 586, 206), (876, 489, 189), (748, 392, 163)),
        arm=((76.2, 21.7, 5.3), (72.9, 20.5, 5.1), (69.1, 17.9, 4.6), (57.6, 15.1, 4.4))),
    "G2": dict(
        table="Table 2", columns=("x1", "x2", "x4"),
        variants=("g = 1", "g = 2", "g = 4", "g = 8"),
        gpu_widths=(128, 180, 256, 360),
        arm_widths=(64, 90, 128, 180),
        gpu=((2451, 1289, 437), (1725, 873, 341), (1026, 644, 338), (634, 445, 230)),
        arm=((40.0, 10.2, 2.3), (35.0, 9.5, 2.2), (32.9, 8.7, 2.1), (27.8, 7.5, 1.8))),
    "G3": dict(
        table="Table 3", columns=("x1", "x2", "x4"),
        variants=("1-fragment", "2-fragment-series", "4-fragment-series",
                  "2-fragment-parallel", "4-fragment-parallel"),
        gpu_widths=(128,) * 5, arm_widths=(64,) * 5,
        gpu=((2446, 1274, 434), (1790, 909, 336), (752, 745, 349), (1537, 803, 320),
             (691, 572, 292)),
        arm=((40.2, 10.1, 2.3), (38.6, 10.1, 2.2), (38.4, 10.1, 2.3), (33.4, 9.1, 2.2),
             (35.0, 8.4, 2.1))),
    "G4": dict(
        table="Table 4", columns=("x1", "x2", "x4"),
        variants=("ReLU and shortcut", "ReLU only", "shortcut only", "neither"),
        gpu_widths=(32,) * 4, arm_widths=(32,) * 4,
        gpu=((2427, 2066, 1436), (2647, 2256, 1735), (2672, 2121, 1458), (2842, 2376, 1782)),
        arm=((56.7, 16.9, 5.0), (61.9, 18.8, 5.2), (57.3, 18.2, 5.1), (66.3, 20.2, 5.4))),
}

#: The paper's Table 2 prints c = 180 for g = 8 on ARM, which does not divide into 8 groups;
#: the benchmark uses 184, the nearest multiple of 8 (0.4% more FLOPs than 180 would give).
G2_ARM_WIDTHS = (64, 90, 128, 184)

_G3 = {"1-fragment": (1, "series"), "2-fragment-series": (2, "series"),
       "4-fragment-series": (4, "series"), "2-fragment-parallel": (2, "parallel"),
       "4-fragment-parallel": (4, "parallel")}
_G4 = {"ReLU and shortcut": (True, True), "ReLU only": (True, False),
       "shortcut only": (False, True), "neither": (False, False)}


def _check(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{what} must be a whole number >= {low}, got {value!r}")
    return value


# ---- the benchmark networks ------------------------------------------------------------------

def g1_net(c1: int, c2: int, size: int = PAPER_SIZE, blocks: int = STACK) -> Net:
    """G1: ``blocks`` blocks of a 1x1 convolution ``c1 -> c2`` and one ``c2 -> c1``."""
    _check(c1, "c1"), _check(c2, "c2"), _check(size, "size"), _check(blocks, "blocks")
    net = Net((size, size, c1))
    x = "input"
    for b in range(1, blocks + 1):
        x = net.conv(x, c2, 1, name=f"block{b}_conv1")
        x = net.conv(x, c1, 1, name=f"block{b}_conv2")
    return net


def g2_net(c: int, groups: int, size: int = PAPER_SIZE, layers: int = STACK) -> Net:
    """G2: ``layers`` 1x1 group convolutions ``c -> c`` in ``groups`` groups."""
    _check(c, "c"), _check(groups, "groups"), _check(size, "size"), _check(layers, "layers")
    if c % groups:
        raise ValueError(f"groups={groups} must divide c={c}")
    net = Net((size, size, c))
    x = "input"
    for i in range(1, layers + 1):
        x = net.conv(x, c, 1, groups=groups, name=f"layer{i}_gconv")
    return net


def g3_net(c: int, fragments: int, arrangement: str, size: int = PAPER_SIZE,
           blocks: int = STACK) -> Net:
    """G3: ``blocks`` blocks of ``fragments`` 1x1 convolutions at the FLOPs of one ``c -> c``.

    ``"series"``: ``fragments`` convolutions of width ``round(c / sqrt(fragments))`` one after
    the other. ``"parallel"``: ``fragments`` convolutions side by side, each ``c -> c /
    fragments``, concatenated.
    """
    _check(c, "c"), _check(size, "size"), _check(blocks, "blocks")
    if fragments not in (1, 2, 4):
        raise ValueError(f"fragments must be 1, 2 or 4, got {fragments!r}")
    if arrangement not in ("series", "parallel"):
        raise ValueError(f"arrangement must be 'series' or 'parallel', got {arrangement!r}")
    if arrangement == "parallel" and c % fragments:
        raise ValueError(f"fragments={fragments} must divide c={c} for parallel blocks")
    width = round(c / math.sqrt(fragments)) if arrangement == "series" else c
    net = Net((size, size, width))
    x = "input"
    for b in range(1, blocks + 1):
        if arrangement == "series" or fragments == 1:
            for k in range(1, fragments + 1):
                x = net.conv(x, width, 1, name=f"block{b}_conv{k}")
        else:
            parts = [net.conv(x, c // fragments, 1, name=f"block{b}_conv{k}")
                     for k in range(1, fragments + 1)]
            x = net.concat(*parts, name=f"block{b}_concat")
    return net


def g4_net(c: int, relu: bool = True, shortcut: bool = True, size: int = G4_SIZE,
           units: int = STACK) -> Net:
    """G4: ``units`` ResNet bottleneck units (1x1, 3x3, 1x1 convolution, all ``c`` wide), with or
    without their three ReLUs and their shortcut addition."""
    _check(c, "c"), _check(size, "size"), _check(units, "units")
    net = Net((size, size, c))
    x = "input"
    for u in range(1, units + 1):
        unit_in = x
        x = net.conv(x, c, 1, name=f"unit{u}_conv1")
        x = net.relu(x) if relu else x
        x = net.conv(x, c, 3, name=f"unit{u}_conv2")
        x = net.relu(x) if relu else x
        x = net.conv(x, c, 1, name=f"unit{u}_conv3")
        x = net.add(x, unit_in, name=f"unit{u}_add") if shortcut else x
        x = net.relu(x, name=f"unit{u}_out_relu") if relu else x
    return net


def networks(guideline: str, scale: int = 1, size: int | None = None) -> list:
    """``[(variant, Net), ...]`` for one guideline in the paper's order, at the widths of the
    paper's ARM "x1" column times ``scale`` (1, 2 or 4: the paper's "x1, x2, x4")."""
    if guideline not in GUIDELINES:
        raise ValueError(f"guideline must be one of {', '.join(GUIDELINES)}, got {guideline!r}")
    if scale not in (1, 2, 4):
        raise ValueError(f"scale must be 1, 2 or 4 (the paper's x1, x2, x4), got {scale!r}")
    paper = PAPER[guideline]
    if guideline == "G1":
        size = size or PAPER_SIZE
        return [(v, g1_net(c1 * scale, c2 * scale, size))
                for v, (c1, c2) in zip(paper["variants"], paper["arm_widths"])]
    if guideline == "G2":
        size = size or PAPER_SIZE
        return [(v, g2_net(c * scale, 2 ** i, size))
                for i, (v, c) in enumerate(zip(paper["variants"], G2_ARM_WIDTHS))]
    if guideline == "G3":
        size = size or PAPER_SIZE
        return [(v, g3_net(c * scale, *_G3[v], size))
                for v, c in zip(paper["variants"], paper["arm_widths"])]
    size = size or G4_SIZE
    return [(v, g4_net(c * scale, *_G4[v], size))
            for v, c in zip(paper["variants"], paper["arm_widths"])]


def paper_speeds(guideline: str) -> list:
    """One dict per variant: the paper's GPU and ARM speeds for x1, x2 and x4, with the units."""
    paper = PAPER[guideline]
    rows = []
    for i, variant in enumerate(paper["variants"]):
        for j, column in enumerate(paper["columns"]):
            rows.append(dict(guideline=guideline, variant=variant, scale=2 ** j,
                             gpu_batches_per_s=paper["gpu"][i][j],
                             arm_images_per_s=paper["arm"][i][j]))
    return rows


# ---- counted ----------------------------------------------------------------------------------

def memory_access(net: Net) -> int:
    """The network's memory access cost in elements (Ma et al.'s MAC, chapter 1's
    :func:`mobilecnn.costs.memory_access` summed over layers): each layer reads its inputs and
    weights and writes its output once. A layer with two inputs (addition, concatenation) reads
    both; :func:`~mobilecnn.costs.memory_access` counts the first only, so the others are added."""
    total = 0
    for node in net:
        if node.op == "input":
            continue
        total += node_memory_access(node)
        for extra in node.inputs[1:]:
            total += math.prod(net.nodes[extra].out_shape)
    return total


def counts(net: Net) -> dict:
    """MACs, weights and memory access (elements) of a benchmark network, for one image."""
    macs = sum(n.macs for n in net)
    return dict(macs=macs, weights=sum(n.weights for n in net), memory_access=memory_access(net),
                layers=sum(1 for n in net if n.op != "input"))


# ---- measured ---------------------------------------------------------------------------------

def measure(net: Net, framework: str, repeats: int = 20, warmup: int = 3, threads: int | None = 1):
    """Time ``net`` in ``framework`` (``"keras"``, ``"torch"`` or ``"tflite"``, a float32
    conversion run by LiteRT), batch 1, with :func:`mobilecnn.latency.measure`. Keras is not
    given ``threads``: TensorFlow fixes its thread pools when it starts, and
    :func:`mobilecnn.book.setup` (``MOBILECNN_THREADS``) sets them there; the returned
    :class:`~mobilecnn.latency.Timing` says what each framework used.
    """
    from . import latency

    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    if framework == "keras":
        threads = None
    elif framework == "tflite":
        threads = threads or 1
    return latency.measure(net, framework, repeats=repeats, warmup=warmup, threads=threads)


def sweep(guidelines=GUIDELINES, scales=(1,), frameworks=FRAMEWORKS, repeats: int = 20,
          rounds: int = 3, warmup: int = 3, threads: int | None = 1, size: int | None = None,
          log=None) -> list:
    """Measure every variant of ``guidelines`` at each of ``scales`` in each of ``frameworks``.

    One row per (guideline, scale, framework, variant): the counts of :func:`counts`, the
    throughput in images per second (batch 1: one over the median time of a forward pass), and
    the throughput of each round. The variants of one experiment are timed in turn, ``rounds``
    times over, and the median of the round medians is kept, so that a burst of load from
    another process falls on all variants alike rather than on one.
    """
    for what, v in (("repeats", repeats), ("rounds", rounds)):
        _check(v, what)
    rows = []
    for guideline in guidelines:
        for scale in scales:
            nets = networks(guideline, scale, size)
            for framework in frameworks:
                medians = {v: [] for v, _ in nets}
                used = None
                for _ in range(rounds):
                    for variant, net in nets:
                        t = measure(net, framework, repeats, warmup, threads)
                        medians[variant].append(t.median)
                        used = t.threads
                for variant, net in nets:
                    seconds = statistics.median(medians[variant])
                    rows.append(dict(guideline=guideline, variant=variant, scale=scale,
                                     framework=framework, size=net.input_shape[0],
                                     input_channels=net.input_shape[-1], **counts(net),
                                     seconds=seconds, images_per_s=1 / seconds,
                                     round_images_per_s=[1 / s for s in medians[variant]],
                                     threads=used))
                    if log:
                        log(f"{guideline} x{scale} {framework:6} {variant:20} "
                            f"{1 / seconds:9.1f} images/s")
    return rows


def layer_times(net: Net, repeats: int = 20, warmup: int = 3, threads: int = 1,
                seed: int = 0) -> list:
    """Time every layer of ``net`` in PyTorch (eager, batch 1, ``threads`` threads).

    The network is built by :mod:`mobilecnn.torch_backend`; a forward pre-hook and a forward
    hook on each node's module read the clock before and after it runs, inside ordinary forward
    passes of the whole model. One dict per node, in network order: ``name``, ``op``, ``kind``
    (the profiler's finer kind: ``conv1x1``, ``depthwise3x3``, ...), ``stage``, ``macs``,
    ``memory_access`` (elements, :func:`memory_access`'s rule) and ``seconds``, the median over
    ``repeats`` passes. The hooks cost a few microseconds per layer, which is in the times.
    """
    _check(repeats, "repeats"), _check(warmup, "warmup", 0), _check(threads, "threads")
    import numpy as np
    import torch

    from .torch_backend import build

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = build(net, "layers").eval()
    x = np.random.default_rng(seed).standard_normal((1, *net.input_shape)).astype("float32")
    tensor = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)
    started, seconds = {}, {node.name: [] for node in model.nodes}

    def pre(name):
        def hook(module, args):
            started[name] = time.perf_counter()
        return hook

    def post(name):
        def hook(module, args, output):
            seconds[name].append(time.perf_counter() - started[name])
        return hook

    handles = []
    for node in model.nodes:
        module = model.layers[node.name]
        handles.append(module.register_forward_pre_hook(pre(node.name)))
        handles.append(module.register_forward_hook(post(node.name)))
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(tensor)
            for times in seconds.values():
                times.clear()
            for _ in range(repeats):
                model(tensor)
    finally:
        for handle in handles:
            handle.remove()
        torch.set_num_threads(before)
    rows = []
    for node in model.nodes:
        op = OPS[node.op]
        extra = sum(math.prod(net.nodes[i].out_shape) for i in node.inputs[1:])
        rows.append(dict(name=node.name, op=node.op, kind=op.kind(node) if op.kind else node.op,
                         stage=node.stage, macs=node.macs,
                         memory_access=node_memory_access(node) + extra,
                         seconds=statistics.median(seconds[node.name])))
    return rows


# ---- the unit that follows from the guidelines, as a picture ---------------------------------

_AFTER = {"bn": "BN", "relu": "ReLU"}


def unit_steps(net: Net, block: str) -> dict:
    """The layers of ShuffleNet v2 unit ``block`` of ``net`` as box texts, by place.

    Returns ``{"split": [...], "left": [...], "right": [...], "join": [...]}``: the channel split
    (stride 1), the left branch (empty for the identity half; the stride-2 unit's ``proj``
    layers), the right branch, and the concatenation and shuffle. Batch norm and ReLU are written
    into the box of the layer they follow; a depthwise layer without a ReLU says so.
    """
    nodes = [n for n in net if n.block == block]
    if not nodes:
        raise ValueError(f"block={block!r} is not a block of this network")
    steps = {"split": [], "left": [], "right": [], "join": []}
    last = None
    for n in nodes:
        if n.op in _AFTER and last is not None:
            side, i = last
            text = steps[side][i]
            steps[side][i] = text + (", " if "\n" in text else "\n") + _AFTER[n.op]
            continue
        stride = n.attr("stride", (1, 1))
        s = f", stride {pair_text(stride)}" if stride != (1, 1) else ""
        c = n.out_shape[-1]
        side = "left" if "_proj_" in n.name else "right"
        if n.op == "slice":
            side, text = "split", f"channels {n.attr('start')}:{n.attr('stop')}"
        elif n.op == "conv":
            text = f"1\u00d71 Conv{s} \u2192 {c} ch"
        elif n.op == "depthwise":
            text = f"3\u00d73 DWConv{s} \u2192 {c} ch"
        elif n.op == "concat":
            side, text = "join", f"Concat \u2192 {c} ch"
        elif n.op == "channel_shuffle":
            side, text = "join", f"Channel shuffle (g = {n.attr('groups')})"
        else:
            text = n.op
        steps[side].append(text)
        last = (side, len(steps[side]) - 1)
    for side in ("left", "right"):
        steps[side] = [t + (" (no ReLU)" if "DWConv" in t and "ReLU" not in t else "")
                       for t in steps[side]]
    return steps


def draw_unit(net: Net, block: str, ax=None, title: str | None = None):
    """Draw ShuffleNet v2 unit ``block`` top to bottom: input, channel split (stride 1), the two
    branches side by side, concatenation and shuffle. Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    steps = unit_steps(net, block)
    nodes = [n for n in net if n.block == block]
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 6))
    colour = {"DWConv": "#d1e5f0", "Conv": "#fddbc7", "shuffle": "#92c5de", "Concat": "#ffffbf",
              "channels": "#e0e0e0", "identity": "white"}

    def box(x, y, text, width=2.3):
        fill = next((v for k, v in colour.items() if k in text), "white")
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.32), width, 0.64,
                                    boxstyle="round,pad=0.02", fc=fill, ec="0.3", zorder=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5, zorder=3)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="0.3"))

    xl, xr = -1.3, 1.3
    y = 0.0
    box(0, y, "input " + " \u00d7 ".join(map(str, nodes[0].in_shape)), 2.4)
    if steps["split"]:
        y -= 1.0
        arrow(0, y + 0.68, 0, y + 0.32)
        box(0, y, "Channel split: " + " | ".join(steps["split"]), 3.6)
    top = y
    depth = max(len(steps["left"]), len(steps["right"]), 1)
    for x, side in ((xl, "left"), (xr, "right")):
        texts = steps[side] or ["identity (half the channels)"]
        yy = top
        for i, text in enumerate(texts):
            yy = top - 1.0 * (i + 1) * (depth / len(texts) if not steps[side] else 1)
            arrow(x * 0.35 if i == 0 else x, yy + (0.68 if i else 0.68 + (top - yy - 1.0)),
                  x, yy + 0.32)
            box(x, yy, text)
        steps[side + "_end"] = yy
    y = top - 1.0 * (depth + 1)
    for x, side in ((xl, "left"), (xr, "right")):
        arrow(x, steps[side + "_end"] - 0.32, x * 0.3, y + 0.32)
    for i, text in enumerate(steps["join"]):
        box(0, y, text, 2.6)
        if i:
            arrow(0, y + 0.68, 0, y + 0.32)
        y -= 1.0
    out = nodes[-1].out_shape
    ax.text(0, y + 0.45, "output " + " \u00d7 ".join(map(str, out)), ha="center", va="top",
            fontsize=7.5)
    ax.set_xlim(-2.8, 2.8)
    ax.set_ylim(y - 0.2, 0.6)
    ax.axis("off")
    ax.set_title(title or block, fontsize=9)
    return ax
