"""Group convolutions and the channel shuffle: what ShuffleNet v1's chapter computes and measures.

* :func:`shuffle_permutation` -- the channel shuffle of Zhang et al. (2018) as an index array:
  reshape the channels to ``(g, c/g)``, transpose, flatten.
* :func:`unit` and :func:`unit_macs` -- the three bottleneck units the paper compares (ResNet,
  ResNeXt, ShuffleNet) as a :class:`~mobilecnn.graph.Net`, and the paper's closed-form cost of
  each, so that the formulas can be checked against the profiler's counts.
* :func:`unit_steps` and :func:`draw_unit` -- one ShuffleNet unit of a described network as
  the paper draws it: branch, shortcut (identity or average pool), addition or concatenation.
* :data:`TABLE_3` -- the paper's Table 3, classification error with and without the shuffle.
* :func:`group_connectivity`, :func:`shuffle_matrix` and :func:`composed_connectivity` -- a
  block of group convolutions and permutations as the product of its sparse channel matrices
  (the IGCV papers' ``P_L W_L ... P_1 W_1``): entry ``(o, i)`` counts the paths from input
  channel ``i`` to output channel ``o``.
* :func:`interleaved_edges` and :func:`draw_interleaved` -- IGCV1's block channel by channel:
  which channel each layer connects to which, and the picture of it.

Nothing here imports TensorFlow or PyTorch; the chapter times these networks with
:func:`mobilecnn.latency.measure`.
"""

from __future__ import annotations

import numpy as np

from .graph import Net
from .ops import pair_text

UNIT_KINDS = ("resnet", "resnext", "shufflenet")

#: Table 3 of Zhang et al. (2018): ImageNet top-1 classification error in % of ShuffleNet
#: without and with the channel shuffle, keyed by (scale, groups).
TABLE_3 = {
    (1.0, 3): (34.5, 32.6), (1.0, 8): (37.6, 32.4),
    (0.5, 3): (45.7, 43.2), (0.5, 8): (48.1, 42.3),
    (0.25, 3): (56.3, 55.0), (0.25, 8): (56.5, 52.7),
}

#: Section 4.5 of the paper: on an ARM phone "every 4x theoretical complexity reduction usually
#: results in ~2.6x actual speedup".
ARM_SPEEDUP = (4.0, 2.6)


def _check_groups(channels: int, groups: int) -> None:
    for what, v in (("channels", channels), ("groups", groups)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
    if channels % groups:
        raise ValueError(f"groups={groups} must divide channels={channels}")


def shuffle_permutation(channels: int, groups: int) -> np.ndarray:
    """``p`` with ``shuffled[k] = x[p[k]]``: which input channel lands at each output position.

    The paper's recipe: a layer with ``g`` groups of ``n`` channels outputs ``g * n`` channels;
    reshape them to ``(g, n)``, transpose to ``(n, g)``, flatten. Output position ``j * g + i``
    then holds channel ``i * n + j`` (the ``j``-th channel of group ``i``), so each run of ``g``
    consecutive outputs takes one channel from every group.
    """
    _check_groups(channels, groups)
    return np.arange(channels).reshape(groups, channels // groups).T.reshape(-1)


def shuffle_matrix(channels: int, groups: int, inverse: bool = False) -> np.ndarray:
    """The channel shuffle (or, with ``inverse``, its undoing) as a 0/1 permutation matrix ``P``
    with ``shuffled = P @ x``; :func:`shuffle_permutation` row by row."""
    p = shuffle_permutation(channels, channels // groups if inverse else groups)
    if inverse:
        _check_groups(channels, groups)
    matrix = np.zeros((channels, channels), dtype=np.int64)
    matrix[np.arange(channels), p] = 1
    return matrix


def group_connectivity(channels_in: int, channels_out: int, groups: int) -> np.ndarray:
    """Which inputs a group convolution connects to each output: the ``(out, in)`` 0/1 matrix
    that is block-diagonal with ``groups`` blocks (the sparse kernel of a group convolution, its
    spatial extent summed away). ``groups = channels`` with ``in = out`` is a depthwise layer."""
    _check_groups(channels_in, groups)
    _check_groups(channels_out, groups)
    group_of_out = np.arange(channels_out) // (channels_out // groups)
    group_of_in = np.arange(channels_in) // (channels_in // groups)
    return (group_of_out[:, None] == group_of_in[None, :]).astype(np.int64)


#: Ops that keep every channel where it is (one input channel to the same output channel).
_CHANNELWISE = ("bn", "relu", "relu6", "hard_sigmoid", "hard_swish", "dropout")


def composed_connectivity(net: Net, block: str) -> np.ndarray:
    """The channel matrix of one block: the product, in order, of its convolutions' sparse
    connectivity matrices and its shuffles' permutation matrices (``P_L W_L ... P_1 W_1``), plus
    the identity where the block adds its input back (a shortcut).

    Entry ``(o, i)`` is the number of paths from the block's input channel ``i`` to its output
    channel ``o``; a block whose matrix has no zero is dense (every output depends on every
    input), and one whose entries are all 1 meets IGCV2's complementary condition (exactly one
    path). The block's layers must be convolutions, shuffles, additions and channel-wise layers
    (batch norm, activations) reading the block's input or each other; anything else raises
    ``ValueError``.
    """
    nodes = [n for n in net if n.block == block and n.op != "input"]
    if not nodes:
        raise ValueError(f"block={block!r} is not a block of this network")
    paths = {nodes[0].inputs[0]: np.eye(nodes[0].in_shape[-1], dtype=np.int64)}
    for n in nodes:
        outside = [i for i in n.inputs if i not in paths]
        if outside:
            raise ValueError(f"block={block!r} does not start at one input: layer {n.name!r} "
                             f"reads {outside[0]!r}")
        before = paths[n.inputs[0]]
        cin, cout = n.in_shape[-1], n.out_shape[-1]
        if n.op == "conv":
            paths[n.name] = group_connectivity(cin, cout, n.attr("groups")) @ before
        elif n.op == "depthwise":
            paths[n.name] = group_connectivity(cin, cout, cin) @ before
        elif n.op == "channel_shuffle":
            paths[n.name] = shuffle_matrix(cin, n.attr("groups"), n.attr("inverse", False)) @ before
        elif n.op == "add":
            paths[n.name] = sum(paths[i] for i in n.inputs)
        elif n.op in _CHANNELWISE:
            paths[n.name] = before
        else:
            raise ValueError(f"block={block!r} is not made of convolutions and shuffles: layer "
                             f"{n.name!r} is a {n.op}")
    return paths[nodes[-1].name]


def unit(kind: str, h: int, w: int, c: int, m: int, groups: int = 1) -> Net:
    """The convolutions of one stride-1 bottleneck unit on an ``h x w x c`` input.

    ``m`` is the bottleneck width. Batch norm, activations and the shortcut are left out: they
    cost no multiply-accumulates. The three kinds of the paper's section 3.2:

    * ``"resnet"``: 1x1 conv c -> m, 3x3 conv m -> m, 1x1 conv m -> c;
    * ``"resnext"``: the same with the 3x3 conv in ``groups`` groups;
    * ``"shufflenet"``: both 1x1 convs in ``groups`` groups, the 3x3 conv depthwise.
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind={kind!r} is not allowed; kind must be one of "
                         + ", ".join(repr(k) for k in UNIT_KINDS))
    for what, v in (("h", h), ("w", w), ("c", c), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
    g_pointwise = groups if kind == "shufflenet" else 1
    g_spatial = groups if kind == "resnext" else 1
    _check_groups(c, g_pointwise)
    _check_groups(m, groups if kind != "resnet" else 1)
    net = Net((h, w, c))
    x = net.conv("input", m, 1, groups=g_pointwise, name="conv1x1_in")
    if kind == "shufflenet":
        x = net.depthwise(x, 3, name="depthwise3x3")
    else:
        x = net.conv(x, m, 3, groups=g_spatial, name="conv3x3")
    net.conv(x, c, 1, groups=g_pointwise, name="conv1x1_out")
    return net


def unit_macs(kind: str, h: int, w: int, c: int, m: int, groups: int = 1) -> float:
    """The paper's cost of a unit: ResNet ``hw(2cm + 9m^2)``, ResNeXt ``hw(2cm + 9m^2/g)``,
    ShuffleNet ``hw(2cm/g + 9m)`` multiply-accumulates."""
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind={kind!r} is not allowed; kind must be one of "
                         + ", ".join(repr(k) for k in UNIT_KINDS))
    g = groups
    return {"resnet": h * w * (2 * c * m + 9 * m * m),
            "resnext": h * w * (2 * c * m + 9 * m * m / g),
            "shufflenet": h * w * (2 * c * m / g + 9 * m)}[kind]


# ---- the unit as a picture -------------------------------------------------------------------

_AFTER = {"bn": "BN", "relu": "ReLU"}


def unit_steps(net: Net, block: str) -> list:
    """``[(side, text), ...]`` for the layers of ShuffleNet unit ``block`` of ``net``, in order.

    ``side`` is ``"branch"``, ``"shortcut"`` (the stride-2 unit's average pool) or ``"join"``
    (the addition or concatenation and what follows it). Batch norm and ReLU are written into
    the text of the layer they follow; a depthwise layer without a ReLU says so.
    """
    nodes = [n for n in net if n.block == block]
    if not nodes:
        raise ValueError(f"block={block!r} is not a block of this network")
    steps = []
    for n in nodes:
        if n.op in _AFTER:
            side, text = steps[-1]
            steps[-1] = (side, text + (", " if "\n" in text else "\n") + _AFTER[n.op])
            continue
        g = n.attr("groups", 1)
        stride = n.attr("stride", (1, 1))
        s = f", stride {pair_text(stride)}" if stride != (1, 1) else ""
        c = n.out_shape[-1]
        if n.op == "conv":
            kind = f"1\u00d71 GConv, g = {g}" if g > 1 else "1\u00d71 Conv"
            steps.append(("branch", f"{kind}{s} \u2192 {c} ch"))
        elif n.op == "channel_shuffle":
            undo = ", inverse" if n.attr("inverse", False) else ""
            steps.append(("branch", f"Channel shuffle (g = {n.attr('groups')}{undo})"))
        elif n.op == "depthwise":
            steps.append(("branch", f"3\u00d73 DWConv{s}"))
        elif n.op == "avgpool":
            steps.append(("shortcut", f"3\u00d73 AvgPool{s}"))
        elif n.op in ("add", "concat"):
            steps.append(("join", ("Add" if n.op == "add" else "Concat") + f" \u2192 {c} ch"))
        else:
            steps.append(("branch", n.op))
    return [(side, text + (" (no ReLU)" if "DWConv" in text and "ReLU" not in text else ""))
            for side, text in steps]


def draw_unit(net: Net, block: str, ax=None, title: str | None = None, fontsize: float = 9):
    """Draw ShuffleNet unit ``block`` of ``net`` top to bottom: the branch in the middle, the
    shortcut (identity or average pool) on the right, joined at the bottom. Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    steps = unit_steps(net, block)
    branch = [t for side, t in steps if side == "branch"]
    shortcut = [t for side, t in steps if side == "shortcut"]
    join = [t for side, t in steps if side == "join"]
    first = next(n for n in net if n.block == block)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 0.9 * (len(branch) + 3)))
    colour = {"DWConv": "#d1e5f0", "GConv": "#f4a582", "Conv": "#fddbc7", "shuffle": "#92c5de",
              "AvgPool": "#e0e0e0", "Add": "#ffffbf", "Concat": "#ffffbf"}

    def box(x, y, text, width=2.6):
        fill = next((v for k, v in colour.items() if k in text), "white")
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.32), width, 0.64,
                                    boxstyle="round,pad=0.02", fc=fill, ec="0.3", zorder=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="0.3"))

    shape = " \u00d7 ".join(map(str, first.in_shape))
    y = 0.0
    box(0, y, f"input {shape}", 2.0)
    ys = []
    for text in branch:
        y -= 1.0
        arrow(0, y + 0.68, 0, y + 0.32)
        box(0, y, text)
        ys.append(y)
    y_join = y - 1.0
    arrow(0, y - 0.32, 0, y_join + 0.32)
    box(0, y_join, join[0] if join else "", 2.0)
    # the shortcut: from the input, down the right side, into the join
    x_s = 2.45
    ax.plot([1.0, x_s, x_s], [0, 0, y_join + 0.9 if shortcut else y_join], color="0.3", lw=1)
    if shortcut:
        y_pool = (ys[len(ys) // 2] if ys else y_join + 1)
        box(x_s, y_pool, shortcut[0], 2.0)
        ax.plot([x_s, x_s], [y_pool - 0.32, y_join], color="0.3", lw=1)
    else:
        ax.text(x_s + 0.08, ys[len(ys) // 2] if ys else -0.5, "identity",
                rotation=90, va="center", fontsize=fontsize - 1)
    arrow(x_s, y_join, 1.0, y_join)
    out = next(n for n in reversed(list(net)) if n.block == block)
    ax.text(0, y_join - 0.6, "output " + " \u00d7 ".join(map(str, out.out_shape)), ha="center",
            va="top", fontsize=fontsize)
    ax.set_xlim(-1.4, 3.6)
    ax.set_ylim(y_join - 1.0, 0.6)
    ax.axis("off")
    ax.set_title(title or block, fontsize=fontsize + 1)
    return ax


# ---- the interleaved group convolution as a picture --------------------------------------------

def interleaved_edges(primary_groups: int, secondary_groups: int) -> list:
    """The channel graph of IGCV1's block with ``L = primary_groups`` groups of ``M =
    secondary_groups`` channels: four layers of edges between five columns of ``L M`` channels,
    ``[(name, [(from, to), ...]), ...]`` in order -- the primary group convolution (every channel
    of a group to every channel of the same group), the permutation (the shuffle of ``L``
    groups, :func:`shuffle_permutation`), the secondary group convolution (``M`` groups of
    ``L``) and the permutation back (its inverse). Multiplying the layers' 0/1 matrices gives
    :func:`composed_connectivity` of the library's block."""
    L, M = primary_groups, secondary_groups
    for what, v in (("primary_groups", L), ("secondary_groups", M)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
    c = L * M

    def dense_in_groups(groups: int) -> list:
        n = c // groups
        return [(i, o) for g in range(groups) for i in range(g * n, (g + 1) * n)
                for o in range(g * n, (g + 1) * n)]

    def permutation(matrix: np.ndarray) -> list:
        return [(int(i), int(o)) for o, i in zip(*np.nonzero(matrix))]

    return [("primary", dense_in_groups(L)),
            ("permute", permutation(shuffle_matrix(c, L))),
            ("secondary", dense_in_groups(M)),
            ("permute back", permutation(shuffle_matrix(c, L, inverse=True)))]


def edges_matrix(edges: list, channels: int) -> np.ndarray:
    """The ``(out, in)`` 0/1 matrix of one layer of :func:`interleaved_edges`."""
    m = np.zeros((channels, channels), dtype=np.int64)
    for i, o in edges:
        m[o, i] = 1
    return m


def draw_interleaved(primary_groups: int, secondary_groups: int, ax=None, highlight: int = 0,
                     fontsize: float = 9):
    """Draw :func:`interleaved_edges` left to right: channels as dots coloured by their primary
    group, the group convolutions' edges grey, the permutations' black, and in red every path
    into output channel ``highlight`` (it reaches every input channel exactly once). Returns the
    axes."""
    import matplotlib.pyplot as plt

    L, M = primary_groups, secondary_groups
    layers = interleaved_edges(L, M)
    c = L * M
    if isinstance(highlight, bool) or not isinstance(highlight, (int, np.integer)) \
            or not 0 <= highlight < c:
        raise ValueError(f"highlight must be a channel 0 to {c - 1}, got {highlight!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.32 * c + 1.2))
    colours = plt.cm.tab10(np.arange(L) % 10)
    # which channels of each column lie on a path to output `highlight`, from the right
    on = [set() for _ in range(len(layers) + 1)]
    on[-1] = {highlight}
    for k in range(len(layers) - 1, -1, -1):
        on[k] = {i for i, o in layers[k][1] if o in on[k + 1]}
    # the colour of a channel: its primary group, carried through the permutations
    group = [np.arange(c) // M]
    for name, edges in layers:
        g = np.empty(c, dtype=int)
        if name.startswith("permute"):
            for i, o in edges:
                g[o] = group[-1][i]
        else:
            g = group[-1] if name == "primary" else np.arange(c) // L + L
        group.append(g)
    for k, (name, edges) in enumerate(layers):
        for i, o in edges:
            hot = i in on[k] and o in on[k + 1]
            perm = name.startswith("permute")
            ax.plot([k, k + 1], [-i, -o], color="tab:red" if hot else ("0.2" if perm else "0.8"),
                    lw=1.6 if hot else (0.9 if perm else 0.5), zorder=3 if hot else 1)
        ax.text(k + 0.5, 1.0, name, ha="center", fontsize=fontsize)
    for k in range(len(layers) + 1):
        for ch in range(c):
            g = group[k][ch]
            colour = colours[g] if g < L else "0.45"
            ax.plot(k, -ch, "o", color=colour, markersize=5, zorder=4)
    ax.text(0, -c + 0.1, "input", ha="center", va="top", fontsize=fontsize)
    ax.text(len(layers), -c + 0.1, "output", ha="center", va="top", fontsize=fontsize)
    ax.set(xlim=(-0.3, len(layers) + 0.3), ylim=(-c - 0.6, 1.6))
    ax.axis("off")
    ax.set_title(f"IGC block, L = {L} primary groups of M = {M} channels", fontsize=fontsize + 1)
    return ax
