"""What one layer costs: counted (parameters, multiply-accumulates, memory traffic) and measured.

Chapter 1 of the book builds single layers with :func:`single_layer`, reads their costs from the
same :class:`~mobilecnn.graph.Node` properties the profiler adds up, and times them with
:func:`mobilecnn.latency.measure` in Keras and in PyTorch. :func:`layer_table` prints any
network the way the MobileNet paper prints its Table 1 (type / stride, filter shape, input
size).

Nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

from .graph import Net, Node, pair
from .ops import OPS

LAYER_KINDS = ("standard", "depthwise", "pointwise", "group", "separable", "dense")
BYTES_PER_FLOAT32 = 4


def single_layer(kind: str, input_shape: tuple, filters: int | None = None, kernel=3,
                 stride=1, groups: int = 1) -> Net:
    """A network of one layer (two for ``"separable"``) on an input of ``input_shape``.

    ``kind`` is one of :data:`LAYER_KINDS`:

    * ``"standard"``: a ``kernel x kernel`` convolution with ``filters`` outputs,
    * ``"depthwise"``: one ``kernel x kernel`` filter per input channel (``filters`` is ignored),
    * ``"pointwise"``: a 1x1 convolution with ``filters`` outputs,
    * ``"group"``: a ``kernel x kernel`` convolution split into ``groups`` groups,
    * ``"separable"``: depthwise ``kernel x kernel`` followed by pointwise 1x1 (MobileNet's block
      without batch norm and activations, so that only the convolutions are compared),
    * ``"dense"``: a fully connected layer on a flat input ``(features,)``; no bias, so that the
      count is the weight matrix alone, like the convolutions here.

    Convolutions use ``"same"`` padding and no bias: batch normalization follows them in every
    network of the book, which makes a bias redundant.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"kind={kind!r} is not allowed; kind must be one of "
                         + ", ".join(repr(k) for k in LAYER_KINDS))
    needs_filters = kind in ("standard", "pointwise", "group", "separable", "dense")
    if needs_filters and (filters is None or filters < 1):
        raise ValueError(f"filters must be a positive whole number for kind={kind!r}, "
                         f"got {filters!r}")
    if kind == "dense":
        if len(input_shape) != 1:
            raise ValueError(f"input_shape must be (features,) for a dense layer, got {input_shape}")
    elif len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    kernel = pair(kernel)     # a whole number k means k x k; (h, w) is allowed too
    stride = pair(stride, "stride")      # likewise; a node's stride attribute is a pair
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got groups={groups}")
    net = Net(tuple(input_shape))
    if kind == "standard":
        net.conv("input", filters, kernel, stride, name="standard")
    elif kind == "depthwise":
        net.depthwise("input", kernel, stride, name="depthwise")
    elif kind == "pointwise":
        net.conv("input", filters, 1, stride, name="pointwise")
    elif kind == "group":
        net.conv("input", filters, kernel, stride, groups=groups, name="group")
    elif kind == "separable":
        x = net.depthwise("input", kernel, stride, name="depthwise")
        net.conv(x, filters, 1, name="pointwise")
    else:
        net.dense("input", filters, bias=False, name="dense")
    return net


def layers(net: Net) -> list:
    """The nodes of ``net`` that compute something (everything but the input)."""
    return [node for node in net if node.op != "input"]


def memory_access(node: Node) -> int:
    """Numbers a layer must read and write at least once: input, output and weights.

    This is the "memory access cost" of Ma et al. (ShuffleNet v2), in elements: a layer cannot
    run faster than the time it takes to move these through memory, however few MACs it has.
    Multiply by the bytes per element (4 for float32, 1 for int8) for bytes.
    """
    elements = 1
    for d in node.in_shape:
        elements *= d
    out = 1
    for d in node.out_shape:
        out *= d
    return elements + out + node.weights


def arithmetic_intensity(node: Node, bytes_per_element: int = BYTES_PER_FLOAT32) -> float:
    """Multiply-accumulates per byte of minimal memory traffic (0 for layers without MACs)."""
    return node.macs / (memory_access(node) * bytes_per_element)


def costs(net: Net) -> list:
    """One dict per computing layer: shapes, weights, MACs, memory access, intensity."""
    return [dict(name=n.name, op=n.op, input_shape=n.in_shape, output_shape=n.out_shape,
                 weights=n.weights, macs=n.macs, memory_access=memory_access(n),
                 intensity=arithmetic_intensity(n)) for n in layers(net)]


def total(net: Net, key: str = "macs") -> int:
    """Sum of ``weights``, ``kernel_weights``, ``macs`` or ``params`` over the layers of ``net``."""
    if key not in ("weights", "kernel_weights", "macs", "params", "buffers"):
        raise ValueError(f"key={key!r} is not allowed; key must be one of 'weights', "
                         "'kernel_weights', 'macs', 'params', 'buffers'")
    return sum(getattr(n, key) for n in layers(net))


# ---- the paper's way of printing a network ---------------------------------------------------

def describe_node(node: Node) -> tuple | None:
    """``(type / stride, filter shape, input size)`` as MobileNet's Table 1 prints a layer.

    Returns ``None`` for layers the paper leaves out of its table (batch norm, activations,
    dropout, reshapes): the paper says once that every layer is followed by them. The text of
    each op is its ``table`` entry in :data:`mobilecnn.ops.OPS`.
    """
    return OPS[node.op].table(node)


def layer_table(net: Net) -> list:
    """The network as the MobileNet paper's Table 1, with our names, MACs and kernel weights.

    One dict per layer that :func:`describe_node` prints, in network order, with keys
    ``name``, ``type``, ``filter``, ``input``, ``macs`` and ``weights`` (kernel entries only,
    the paper's convention).
    """
    rows = []
    for node in layers(net):
        described = describe_node(node)
        if described is None:
            continue
        kind, filt, size = described
        rows.append(dict(name=node.name, type=kind, filter=filt, input=size, macs=node.macs,
                         weights=node.kernel_weights))
    return rows


# ---- measured against counted -----------------------------------------------------------------

def speedup_factors(macs: dict, seconds: dict) -> dict:
    """Why a separable layer's measured speed-up over a standard one differs from its MAC ratio.

    ``macs`` and ``seconds`` map ``"standard"``, ``"depthwise"`` and ``"pointwise"`` to a layer's
    MACs and its measured time. With each layer's rate ``r = macs / seconds``, the speed-up of the
    two halves run one after the other, ``t_std / (t_dw + t_pw)``, is exactly the MAC ratio
    ``C_std / (C_dw + C_pw)`` times two factors:

    * ``"standard"`` = ``r_pw / r_std``: above 1 when the standard layer runs slower per MAC
      than the pointwise one (the speed-up rises above the count), below 1 when it runs faster;
    * ``"depthwise"`` = ``(C_dw + C_pw) / (C_dw r_pw / r_dw + C_pw)``: below 1 when the depthwise
      layer runs slower per MAC than the pointwise one.

    Returns those two factors, ``"predicted"`` (the MAC ratio), ``"measured"`` (the halves'
    speed-up) and ``"directions"``: ``"the same direction"`` or ``"opposite directions"``
    (``"one direction"`` if one factor is exactly 1, ``"no direction"`` if both are).
    """
    kinds = ("standard", "depthwise", "pointwise")
    for name, values in (("macs", macs), ("seconds", seconds)):
        missing = [k for k in kinds if k not in values]
        if missing:
            raise ValueError(f"{name} must give {', '.join(kinds)}; missing {', '.join(missing)}")
        bad = [k for k in kinds if not values[k] > 0]
        if bad:
            raise ValueError(f"{name} must be positive for every layer, got {name}[{bad[0]!r}]="
                             f"{values[bad[0]]!r}")
    rate = {k: macs[k] / seconds[k] for k in kinds}
    standard = rate["pointwise"] / rate["standard"]
    depthwise = (macs["depthwise"] + macs["pointwise"]) / (
        macs["depthwise"] * rate["pointwise"] / rate["depthwise"] + macs["pointwise"])
    pushes = {direction(f) for f in (standard, depthwise)} - {"onto"}
    directions = {0: "no direction", 1: "the same direction"}.get(len(pushes),
                                                                  "opposite directions")
    if len(pushes) == 1 and "onto" in {direction(f) for f in (standard, depthwise)}:
        directions = "one direction"
    return {"standard": standard, "depthwise": depthwise,
            "predicted": macs["standard"] / (macs["depthwise"] + macs["pointwise"]),
            "measured": seconds["standard"] / (seconds["depthwise"] + seconds["pointwise"]),
            "directions": directions}


def direction(factor: float) -> str:
    """``"above"``, ``"below"`` or ``"onto"``: where a factor of :func:`speedup_factors` pushes
    the measured speed-up relative to the MAC count."""
    return "above" if factor > 1 else "below" if factor < 1 else "onto"


def faster(seconds: dict) -> tuple:
    """``(fastest, slowest, ratio)`` for ``{label: seconds}``: the labels of the shortest and the
    longest time and how many times longer the second is (at least 1)."""
    if len(seconds) < 2 or not all(s > 0 for s in seconds.values()):
        raise ValueError(f"seconds must give at least two positive times, got {seconds!r}")
    fastest = min(seconds, key=seconds.get)
    slowest = max(seconds, key=seconds.get)
    return fastest, slowest, seconds[slowest] / seconds[fastest]
