"""Block diagrams drawn from a profile's layer rows (matplotlib, imported when called).

:func:`block_diagram` draws one block of a network as the tensors it materializes, left to right:
each tensor is a slab whose height grows with its channels (square root, so that a 6x expansion
stays on the page) and whose label gives its shape; between two slabs, the layer that maps one to
the other and what follows it in place (batch norm, activation). A tensor that no activation
touched is hatched, as in the MobileNet v2 paper's figures: the linear bottlenecks. A shortcut,
when the block has one, is an arc from the input to the addition.
"""

from __future__ import annotations

import math

from .ops import OPS
from .profiler import Profile

_OP_TEXT = {"conv1x1": "1\u00d71 conv", "depthwise3x3": "3\u00d73 depthwise",
            "conv3x3": "3\u00d73 conv", "add": "add"}


_ACTIVATIONS = ("relu", "relu6", "hard_swish", "hard_sigmoid")
_ACT_TEXT = {"relu": "ReLU", "relu6": "ReLU6", "hard_swish": "h-swish", "hard_sigmoid": "h-sigmoid"}


def _shape_text(shape) -> str:
    return " \u00d7 ".join(str(d) for d in shape)


def block_steps(p: Profile, block: str) -> list:
    """``[(layer, kind, stride-free op text, output shape, activation or None), ...]`` for the
    layers of ``block`` that write a new tensor, with what runs in place after each."""
    rows = [r for r in p.layers if r.block == block]
    if not rows:
        raise ValueError(f"block: {p.name} has no block {block!r}")
    steps = []
    for r in rows:
        inplace = r.kind in OPS and OPS[r.kind].inplace
        if inplace:
            if steps and r.kind not in ("bn", "dropout", "flatten"):
                name, kind, text, shape, _ = steps[-1]
                steps[-1] = (name, kind, text, shape, r.kind)
            continue
        text = _OP_TEXT.get(r.kind, r.kind)
        if len(r.input_shape) == 3 and r.input_shape[0] > r.output_shape[0]:
            text += f", stride {-(-r.input_shape[0] // r.output_shape[0])}"
        steps.append((r.name, r.kind, text, tuple(r.output_shape), None))
    return steps


def block_diagram(p: Profile, block: str, ax=None, title: str | None = None):
    """Draw ``block`` of profile ``p`` on ``ax`` (a new figure if None); return the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    steps = block_steps(p, block)
    index = next(i for i, r in enumerate(p.layers) if r.block == block)
    first = p.layers[index]
    before = p.layers[index - 1].kind if index else "input"
    tensors = [("input", tuple(first.input_shape), before if before in _ACTIVATIONS else None, "")]
    has_add = False
    for name, kind, text, shape, act in steps:
        if kind == "add":
            has_add = True
        label = text + ("" if kind == "add" else "\n+ BN" + (f" + {_ACT_TEXT.get(act, act)}" if act else
                                                            "\n(linear)"))
        tensors.append((name, shape, act, label))
    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * len(tensors), 3.2))
    widest = max(math.sqrt(t[1][-1]) for t in tensors)
    x = 0.0
    centres, tops = [], []
    for i, (name, shape, act, label) in enumerate(tensors):
        height = 2.4 * math.sqrt(shape[-1]) / widest
        linear = act is None           # no activation touched this tensor
        ax.add_patch(Rectangle((x, -height / 2), 0.5, height, facecolor="#ffe0b3" if act else
                               "#dbe9f6", edgecolor="0.2", hatch="///" if linear else None))
        ax.text(x + 0.25, -height / 2 - 0.12, _shape_text(shape), ha="center", va="top",
                fontsize=9)
        centres.append(x + 0.25)
        tops.append(height / 2)
        if i:
            ax.annotate("", (x - 0.05, 0), (x - 1.05, 0),
                        arrowprops=dict(arrowstyle="->", color="0.3"))
            ax.text(x - 0.55, 0.12, label, ha="center", va="bottom", fontsize=8.5)
        x += 1.6
    if has_add:
        ax.add_patch(FancyArrowPatch((centres[0], tops[0] + 0.05), (centres[-1], tops[-1] + 0.05),
                                     connectionstyle="arc3,rad=-0.18", arrowstyle="->",
                                     color="#d62728", lw=1.5, mutation_scale=12))
        ax.text((centres[0] + centres[-1]) / 2, 1.75, "shortcut (identity)", color="#d62728",
                ha="center", fontsize=8)
    ax.set_xlim(-0.4, x - 0.9)
    ax.set_ylim(-1.9, 2.3)
    ax.axis("off")
    ax.set_title(title or f"{p.name} {block}", fontsize=10)
    return ax
