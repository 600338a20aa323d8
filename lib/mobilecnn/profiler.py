"""The analytic profiler: parameters, multiply-accumulates and shapes, layer by layer.

Pure Python, no TensorFlow or PyTorch: it reads the :class:`~mobilecnn.graph.Net` that an
architecture describes and adds up the cost of each node (see :class:`~mobilecnn.graph.Node`).

Counting conventions (the same as the papers', see the book's introduction):

* ``macs``: multiply-accumulates of convolution and dense layers for one image; biases, batch
  norm, activations, pooling and additions are not counted. This is MobileNet's "Mult-Adds" and
  ShuffleNet's "FLOPs". ``flops`` is ``2 * macs``, the convention of most profiling tools.
* ``params``: every number stored with the model, batch-norm moving mean and variance included;
  equal to Keras' ``model.count_params()``.
* ``trainable_params``: weights, biases and batch-norm scale and shift; equal to the number of
  elements in PyTorch's ``model.parameters()``.
* ``weights``: kernels only (no biases, no batch norm), the convention of MobileNet v1's Table 1.
* ``live_elements`` (per layer) and ``peak_activation_elements``: how many activations must be
  held at once when the layers run one after another, in network order. While a layer runs,
  its inputs, its output and every earlier tensor that a later layer still needs (a shortcut
  waiting for its addition, a branch waiting for its concatenation) are alive; the input image
  counts until its last use. Batch norm, activations, dropout and reshapes run in place on
  their input's buffer, as a deployed runtime fuses them into the convolution before them.
  :meth:`Profile.peak_activation_bytes` converts at a given precision (8 bits on a
  microcontroller, 16 in the MobileNet v2 paper's Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import architectures
from .ops import OPS


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    stage: str
    block: str
    input_shape: tuple
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int
    live_elements: int


@dataclass(frozen=True)
class Profile:
    """Costs of one architecture at one setting of its metaparameters."""

    name: str
    metaparams: tuple          # ((name, value), ...), defaults filled in
    input_shape: tuple         # (H, W, 3), channels-last
    output_shape: tuple
    layers: tuple              # LayerRow, in network order
    kernel_weights: int

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.layers)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def peak_activation_elements(self) -> int:
        """The most activations alive at once while the layers run in order (see module doc)."""
        return max(r.live_elements for r in self.layers)

    def peak_activation_bytes(self, bits: int = 8) -> int:
        """Peak activation memory in bytes at ``bits`` per activation (8, 16 or 32)."""
        if bits not in (8, 16, 32):
            raise ValueError(f"bits={bits!r} is not allowed; bits must be 8, 16 or 32")
        return self.peak_activation_elements * bits // 8

    @property
    def image_size(self) -> int:
        return self.input_shape[0]

    def metaparam(self, key):
        return dict(self.metaparams)[key]

    def to_frame(self, by: str = "layer"):
        """The layer table as a pandas DataFrame; ``by="block"`` or ``"stage"`` sums it up."""
        import pandas as pd

        frame = pd.DataFrame([r.__dict__ for r in self.layers])
        if by == "layer":
            return frame
        if by not in ("block", "stage"):
            raise ValueError(f"by must be 'layer', 'block' or 'stage', got {by!r}")
        grouped = frame.groupby(by, sort=False)
        return grouped.agg(input_shape=("input_shape", "first"), output_shape=("output_shape", "last"),
                           params=("params", "sum"), trainable_params=("trainable_params", "sum"),
                           macs=("macs", "sum")).reset_index()

    def by_stage(self) -> list:
        """``[(stage, params, macs), ...]`` in network order, without pandas."""
        out: dict = {}
        for r in self.layers:
            p, m = out.get(r.stage, (0, 0))
            out[r.stage] = (p + r.params, m + r.macs)
        return [(s, p, m) for s, (p, m) in out.items()]

    def by_kind(self) -> dict:
        """``{kind: (params, macs)}``: e.g. how much of the cost sits in 1x1 convolutions."""
        out: dict = {}
        for r in self.layers:
            p, m = out.get(r.kind, (0, 0))
            out[r.kind] = (p + r.params, m + r.macs)
        return out

    def summary(self) -> str:
        return (f"{self.name} {dict(self.metaparams)}: input {self.image_size}px, "
                f"{self.params:,} params ({self.trainable_params:,} trainable), "
                f"{self.macs / 1e6:,.1f}M MACs")

    def _repr_html_(self):
        return f"<p>{self.summary()}</p>" + self.to_frame("stage").to_html(index=False)


def kind_of(node) -> str:
    """A finer kind than the op for reporting: 1x1 (pointwise) vs. kxk convolutions."""
    kind = OPS[node.op].kind
    return kind(node) if kind else node.op


def profile(name: str, **metaparams) -> Profile:
    """Profile ``name`` (see :func:`mobilecnn.list_architectures`) at the given metaparameters."""
    arch, values, _ = architectures.resolve(name, metaparams)
    return _profile(name, tuple(sorted(values.items())))


def live_elements(net) -> dict:
    """``{layer name: activations alive while it runs}`` for ``net`` run in node order.

    Each tensor lives in a buffer; an in-place op (``OPS[op].inplace``) writes into its input's
    buffer instead of a new one. A buffer is alive from the step that creates it to the last
    step that reads any tensor stored in it.
    """
    nodes = list(net)
    buffer, size, born, last = {}, {}, {}, {}
    for i, node in enumerate(nodes):
        if node.inputs and OPS[node.op].inplace:
            buffer[node.name] = buffer[node.inputs[0]]
        else:
            buffer[node.name] = node.name
            size[node.name] = node.elements
            born[node.name] = i
        last[buffer[node.name]] = max(last.get(buffer[node.name], i), i)
        for x in node.inputs:
            last[buffer[x]] = i
    last[buffer[nodes[-1].name]] = len(nodes) - 1
    freed = [0] * (len(nodes) + 1)          # elements released after each step
    for b, step in last.items():
        freed[step] += size[b]
    out, alive = {}, 0
    for i, node in enumerate(nodes):
        if born.get(node.name) == i:
            alive += size[node.name]
        if node.op != "input":
            out[node.name] = alive
        alive -= freed[i]
    return out


@lru_cache(maxsize=4096)
def _profile(name: str, values: tuple) -> Profile:
    net = architectures.describe(name, **dict(values))
    live = live_elements(net)
    rows = []
    kernels = 0
    for node in net:
        if node.op == "input":
            continue
        weights = node.weights
        rows.append(LayerRow(node.name, kind_of(node), node.stage, node.block, node.in_shape,
                             node.out_shape, weights + node.buffers, weights, node.macs,
                             live[node.name]))
        kernels += node.kernel_weights
    return Profile(name, values, net.input_shape, net.shape(net.output), tuple(rows), kernels)
