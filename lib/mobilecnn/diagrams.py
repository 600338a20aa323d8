"""Block diagrams drawn from an architecture's graph (matplotlib, imported when called).

:func:`block_layout` reads one block of a network from its :class:`~mobilecnn.graph.Net` (the
graph the profile was made from) and lays it out without drawing: a list of :class:`Box` (the
tensors the block materializes, each with the layer that wrote it and what ran in place after
it: batch norm only where the graph has a batch-norm node, the activation if any) and a list of
:class:`Arrow`. :func:`block_diagram` draws that list.

The layout has three lanes. The main path runs left to right in lane 0: each tensor is a slab
whose height grows with its channels (square root, so that a 6x expansion stays on the page), and
a tensor that no activation touched is hatched, as in the MobileNet v2 paper's figures (the
linear bottlenecks). A shortcut is what the graph says it is: an ``"identity"`` arrow from the
tensor the addition reads, or a ``"projection"``, a branch of layers in lane 1 (below) drawn in
parallel with the main path and joining it at the addition. A squeeze-and-excite layer is a gate
in lane -1 (above): it reads the main path, and its output multiplies the tensor it read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .ops import OPS
from .profiler import Profile

_ACT_TEXT = {"relu": "ReLU", "relu6": "ReLU6", "hard_swish": "h-swish",
             "hard_sigmoid": "h-sigmoid", "sigmoid": "sigmoid", "swish": "swish"}
_GATES = ("hard_sigmoid", "sigmoid")


@dataclass(frozen=True)
class Box:
    """One tensor of the block: ``name`` is the layer that wrote it (``"input"`` for the block's
    input), ``op`` its op, ``label`` what the diagram writes, ``bn`` and ``act`` what ran on it
    in place, ``lane`` 0 (main path), 1 (shortcut branch) or -1 (gate branch), ``x`` its column."""

    name: str
    op: str
    label: str
    shape: tuple
    bn: bool
    act: str | None
    lane: int
    x: float


@dataclass(frozen=True)
class Arrow:
    """``src`` -> ``dst`` (box names); ``kind`` is ``"flow"`` (main path), ``"identity"`` (a
    shortcut that is the tensor itself), ``"projection"`` (into, inside and out of a shortcut
    branch of layers) or ``"gate"`` (into, inside and out of a gate branch)."""

    src: str
    dst: str
    kind: str


def _op_text(node) -> str:
    op = node.op
    if op in ("conv", "depthwise"):
        kh, kw = node.attr("kernel")
        text = f"{kh}\u00d7{kw} " + ("depthwise" if op == "depthwise" else "conv")
        if op == "conv" and node.attr("groups", 1) > 1:
            text += f", {node.attr('groups')} groups"
        stride = node.attr("stride")
        if stride and stride != 1:
            text += f", stride {stride}"
        return text
    return {"gap": "global avg pool", "multiply": "\u00d7 gate", "add": "add",
            "maxpool": "max pool", "avgpool": "avg pool"}.get(op, op)


def _label(node, bn: bool, act: str | None) -> str:
    """Short lines (op; stride; what ran in place), so that neighbouring labels do not meet."""
    op = node.op
    if op in ("conv", "depthwise"):
        kh, kw = node.attr("kernel")
        lines = [f"{kh}\u00d7{kw} " + ("depthwise" if op == "depthwise" else "conv")]
        if op == "conv" and node.attr("groups", 1) > 1:
            lines.append(f"{node.attr('groups')} groups")
        if node.attr("stride") and node.attr("stride") != 1:
            lines.append(f"stride {node.attr('stride')}")
    else:
        lines = [{"gap": "global pool", "multiply": "\u00d7 gate", "add": "add",
                  "maxpool": "max pool", "avgpool": "avg pool"}.get(op, op)]
    extra = (["BN"] if bn else []) + ([_ACT_TEXT.get(act, act)] if act else [])
    if not act and op in ("conv", "depthwise", "dense"):
        extra.append("linear")
    if extra:
        lines.append(", ".join(extra))
    return "\n".join(lines)


def block_layout(p: Profile, block: str) -> tuple:
    """``(boxes, arrows)`` for ``block`` of profile ``p``: a pure function of the graph."""
    from . import architectures

    net = architectures.describe(p.name, **dict(p.metaparams))
    nodes = list(net)
    by_name = {n.name: n for n in nodes}
    inside = [n for n in nodes if n.block == block]
    if not inside:
        raise ValueError(f"block: {p.name} has no block {block!r}")
    names = {n.name for n in inside}

    def inplace(n) -> bool:
        return n.op in OPS and OPS[n.op].inplace

    writer = {}                                     # tensor name -> the layer that wrote it
    for n in nodes:
        writer[n.name] = writer[n.inputs[0]] if (inplace(n) and n.inputs) else n.name
    bn, act = {}, {}
    for n in inside:
        if inplace(n):
            w = writer[n.name]
            if n.op == "bn":
                bn[w] = True
            elif n.op in _ACT_TEXT:
                act[w] = n.op
    tensors = [n for n in inside if not inplace(n)]
    own = {n.name for n in tensors}

    def src(x: str) -> str:
        w = writer[x]
        return w if w in own else "input"

    entry = [writer[x] for n in tensors for x in n.inputs if writer[x] not in own]
    first = by_name[entry[0]] if entry else None
    inputs = {n.name: [src(x) for x in n.inputs] for n in tensors}
    depth = {"input": 0}
    for n in tensors:
        depth[n.name] = 1 + max(depth[s] for s in inputs[n.name])

    # the main path, walked back from the block's output
    main = [tensors[-1].name]
    while main[-1] != "input":
        n = by_name[main[-1]]
        ins = inputs[n.name]
        if n.op == "multiply":
            gate = [s for s in ins if act.get(s) in _GATES] or sorted(
                ins, key=lambda s: math.prod(by_name[s].out_shape[:-1]) if s != "input" else 1e18)
            rest = [s for s in ins if s != gate[0]] or ins
            main.append(rest[0])
        else:
            main.append(max(ins, key=lambda s: depth[s]))
    main.reverse()
    on_main = set(main)

    # side branches: every tensor off the main path, with the main-path node it joins
    arrows = [Arrow(a, b, "flow") for a, b in zip(main, main[1:])]
    branches = {}                                  # (source on main, join on main) -> [names]
    for n in tensors:
        if n.name in on_main:
            continue
        start = n.name
        while inputs[start][0] not in on_main:
            start = inputs[start][0]
        join = n.name
        while join not in on_main:
            join = next(t.name for t in tensors if join in inputs[t.name])
        branches.setdefault((inputs[start][0], join), []).append(n.name)
    for n in tensors:
        if n.name not in on_main:
            continue
        for s in inputs[n.name]:
            if s in on_main and main.index(s) < main.index(n.name) - 1:
                arrows.append(Arrow(s, n.name, "identity"))

    column = {main[0]: 0.0}
    for i, name in enumerate(main[1:], start=1):
        column[name] = column[main[i - 1]] + 1
        for (a, b), members in branches.items():
            if b == name:
                column[name] = max(column[name], column[a] + len(members) + 1)
    lane, x = {m: 0 for m in main}, dict(column)
    for (a, b), members in branches.items():
        gate = by_name[b].op == "multiply"
        kind = "gate" if gate else "projection"
        step = (column[b] - column[a]) / (len(members) + 1)
        for k, m in enumerate(members, start=1):
            lane[m], x[m] = (-1 if gate else 1), column[a] + k * step
        chain = [a] + members + [b]
        arrows += [Arrow(u, v, kind) for u, v in zip(chain, chain[1:])]

    in_shape = tuple(inside[0].in_shape) if first is None else tuple(first.out_shape)
    before = act.get(entry[0]) if entry else None
    if first is not None:                           # what ran in place on the block's input
        outer = [m for m in nodes if inplace(m) and writer[m.name] == first.name]
        before = next((m.op for m in outer if m.op in _ACT_TEXT), None)
    boxes = [Box("input", "input", "", in_shape, False, before, 0, 0.0)]
    for n in tensors:
        boxes.append(Box(n.name, n.op, _label(n, bn.get(n.name, False), act.get(n.name)),
                         tuple(n.out_shape), bn.get(n.name, False), act.get(n.name),
                         lane[n.name], x[n.name]))
    return sorted(boxes, key=lambda b: (b.x, b.lane)), arrows


def _shape_text(shape) -> str:
    return " \u00d7 ".join(str(d) for d in shape)


LANE_Y = {0: 0.0, 1: -3.3, -1: 3.4}      # main path, shortcut branch (below), gate (above)
SPACING = 1.7                            # columns apart, in data units
FONT = 7.5


def block_diagram(p: Profile, block: str, ax=None, title: str | None = None):
    """Draw ``block`` of profile ``p`` (see :func:`block_layout`) on ``ax``; return the axes.

    Main-path labels sit above their slab and shapes below; a gate's label and shape sit above
    it, a shortcut branch's below it, so that no two texts share a place."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    boxes, arrows = block_layout(p, block)
    lanes = {b.lane for b in boxes}
    width = max(b.x for b in boxes)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 1.1 * width, 2.8 + 1.4 * (len(lanes) - 1)))
    widest = max(math.sqrt(b.shape[-1]) for b in boxes)
    where = {}
    for b in boxes:
        scale = 2.2 if b.lane == 0 else 1.0
        height = max(0.25, scale * math.sqrt(b.shape[-1]) / widest)
        x0, y = SPACING * b.x, LANE_Y[b.lane]
        where[b.name] = (x0 + 0.25, y, height)
        linear = b.act is None and b.op not in ("add", "multiply", "gap", "input")
        ax.add_patch(Rectangle((x0, y - height / 2), 0.5, height,
                               facecolor="#ffe0b3" if b.act else "#dbe9f6", edgecolor="0.2",
                               hatch="///" if linear else None))
        color = {0: "black", 1: "#d62728", -1: "#2c7a2c"}[b.lane]
        shape = _shape_text(b.shape)
        if b.lane == 0:
            ax.text(x0 + 0.25, y - height / 2 - 0.1, shape, ha="center", va="top", fontsize=FONT)
            if b.label:
                ax.text(x0 + 0.25, y + height / 2 + 0.1, b.label, ha="center", va="bottom",
                        fontsize=FONT)
        elif b.lane == -1:
            ax.text(x0 + 0.25, y + height / 2 + 0.1, f"{b.label}\n{shape}", ha="center",
                    va="bottom", fontsize=FONT, color=color)
        else:
            ax.text(x0 + 0.25, y - height / 2 - 0.1, f"{shape}\n{b.label}", ha="center",
                    va="top", fontsize=FONT, color=color)
    colors = {"flow": "0.3", "identity": "#d62728", "projection": "#d62728", "gate": "#2c7a2c"}
    low = -1.95                                   # the identity shortcut runs along here
    for a in arrows:
        (xs, ys, hs), (xd, yd, hd) = where[a.src], where[a.dst]
        if a.kind == "identity":
            # down from below the source's shape text, along, and up to below the target's
            ax.plot([xs, xs, xd], [ys - hs / 2 - 0.55, low, low], color=colors[a.kind], lw=1.2)
            ax.add_patch(FancyArrowPatch((xd, low), (xd, yd - hd / 2 - 0.55), arrowstyle="->",
                                         color=colors[a.kind], lw=1.2, mutation_scale=10))
            ax.text((xs + xd) / 2, low - 0.08, "shortcut (identity)", color=colors[a.kind],
                    ha="center", va="top", fontsize=FONT)
            continue
        if ys == yd:
            start, end = (xs + 0.3, ys), (xd - 0.3, yd)
        elif LANE_Y[0] == ys:                      # from the main path's right edge into a lane
            side = 1 if yd > ys else -1
            start, end = (xs + 0.27, ys + side * (hs / 2 - 0.1)), (xd - 0.3, yd)
        else:                                      # from a lane to the main path's left edge
            side = 1 if ys > yd else -1
            start, end = (xs + 0.3, ys), (xd - 0.27, yd + side * (hd / 2 - 0.1))
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", color=colors[a.kind], lw=1.2,
                                     mutation_scale=10))
    ax.set_xlim(-0.8, SPACING * width + 1.3)
    ax.set_ylim(min(LANE_Y[lane] for lane in lanes) - (2.4 if 1 in lanes else 2.6),
                max(LANE_Y[lane] for lane in lanes) + (2.6 if -1 in lanes else 2.4))
    ax.axis("off")
    ax.set_title(title or f"{p.name} {block}", fontsize=10)
    return ax
