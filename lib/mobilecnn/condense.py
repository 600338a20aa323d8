"""Training CondenseNet's learned group convolutions, in Keras and PyTorch, and converting them.

CondenseNet (Huang et al. 2018; seed 004 §9.5; the authors' ``layers.LearnedGroupConv``) trains
each dense layer's 1x1 convolution as a full convolution with a mask. Its output channels fall
into G groups (channel ``o`` in group ``o mod G``); training runs through

* **C - 1 condensing stages**, which share the first half of training equally: at the start of
  stage s (training progress ``p >= s / (2 (C - 1))``) every group drops ``Cin / C`` more of
  its input channels, those of smallest importance, the L1 norm of the group's weights on the
  channel (the authors' ``_dropping``); while they run, the **group-lasso penalty**
  ``lasso * sum_g sum_j sqrt(sum_{o in g} W[o, j]^2)`` (the authors' ``lasso_loss``, with their
  floor of 1e-6 under the square root) is added to the loss and pushes whole columns of a
  group towards zero;
* then the **optimization stage** (the second half), where each group keeps its ``Cin / C``
  channels and trains on.

The classifier is condensed the paper's way on ImageNet (seed 004 §9.5: "G=1, C=2", at half of
training): one stage at ``p >= 1/2`` drops half its inputs by the L1 norm of its weight columns
(the authors' ``CondensingLinear`` criterion). The authors' code does that only when it converts
the trained network, without retraining; here it happens during training, so that the converted
network computes what was trained. The lasso applies to the 1x1 convolutions only, as in the
authors' code.

The schedule (:class:`Condensation`) hooks into :func:`mobilecnn.train.fit`'s loop (the same
batches, recipe, learning-rate schedule and optimizer; see ``schedule`` in
:func:`mobilecnn.train.fit_run`): it builds the training-time network
(:func:`~mobilecnn.architectures.condensenet.describe` with ``learning=True``: full 1x1
convolutions, no index layers), condenses before a step, and after every optimizer step sets the
pruned weights back to exactly zero (a projection: the network then computes what the
authors' masked convolution ``conv(x, W * mask)`` computes, and Adam's per-weight state of the
kept weights is the same). Pruning happens at the step where the progress ``step / total``
crosses a stage boundary; when a short run crosses several at once, each group drops the
channels of all of them (the authors' loop would drop only one stage's worth).

:func:`convert` turns the trained, masked network into the test-time CondenseNet: each layer's
kept channels become the index (group after group, each in increasing channel order, as the
authors' ``CondensingConv``), the batch norm before the convolution is gathered with it, the
kept weights become a standard 1x1 group convolution (and the batch norm after it is stored in
that convolution's output order) whose outputs the channel shuffle puts back in the masked
convolution's order; the classifier reads its kept features through an index.
``tests/test_condensenet.py`` checks, in both frameworks, that the converted network computes
the same function as the masked one.

Cost on the CPU: Keras on TensorFlow has no CPU kernel for grouped convolutions and compiles
them with XLA; the gradient of a 3x3 grouped convolution is slow there (measured: 1.27 s per
step for a 16x16x32 -> 8 convolution with 4 groups against 0.02 s ungrouped, batch 64, one
thread on a loaded machine), so a Keras run costs far more than a PyTorch one. The tests train
a few steps on small batches.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import architectures, train
from .architectures import condensenet as cn
from .graph import Net

NAME = "condensenet"
LASSO = 1e-5
"""Default weight of the group-lasso penalty. The authors' ``--group-lasso-lambda`` defaults to
0 and their published commands do not set it; the paper's value is not in the texts we have.
On the tests' network (the small setting at growth 8, Glorot initialization) the sum of the
column norms starts at 614 (1,232 at growth 16), so 1e-5 adds 0.006 to the initial
cross-entropy (ln 10 = 2.3): a light push that leaves the recipe's learning alone. It was not
tuned for accuracy."""
FLOOR = 1e-6
"""The authors' clamp under the square root of the group lasso (it also keeps the gradient of a
column that is already zero finite)."""


def stage_at(progress: float, condense_factor: int) -> int:
    """The condensing stage at training ``progress`` in [0, 1] (the authors' ``_check_drop``):
    stage s < C - 1 while ``2 p < (s + 1) / (C - 1)``, then C - 1 (the optimization stage)."""
    for s in range(condense_factor - 1):
        if progress * 2 < (s + 1) / (condense_factor - 1):
            return s
    return condense_factor - 1


@dataclass(frozen=True)
class Learned:
    """One learned layer: its name, its kind ("conv" or "dense"), G, C, input and output widths."""

    name: str
    kind: str
    groups: int
    condense_factor: int
    inputs: int
    outputs: int


def training_net(metaparams: dict) -> Net:
    """The training-time CondenseNet at ``metaparams`` (resolved, with ``rho``)."""
    _, values, size = architectures.resolve(NAME, dict(metaparams))
    net = Net((size, size, 3))
    cn.describe(net, **{k: v for k, v in values.items() if k != "rho"}, learning=True)
    return net


def learned_layers(metaparams: dict) -> tuple:
    """The learned layers of the training-time network: every dense layer's 1x1 convolution and,
    with ``prune_classifier``, the classifier (G = 1, C = 2)."""
    _, values, _ = architectures.resolve(NAME, dict(metaparams))
    out = []
    for node in training_net(values):
        if node.op == "conv" and node.name.endswith("_conv1"):
            out.append(Learned(node.name, "conv", values["groups"], values["condense_factor"],
                               node.in_shape[-1], node.out_shape[-1]))
        elif node.op == "dense" and values["prune_classifier"]:
            out.append(Learned(node.name, "dense", 1, cn.CLASSIFIER_KEEP, node.in_shape[-1],
                               node.out_shape[-1]))
    return tuple(out)


# ---- weights in one layout for both frameworks: (out, in) matrices ----------------------------

def _keras_layer(model, name):
    return model.get_layer(name)


def _torch_layer(model, name):
    from .torch_backend import inner_module

    return inner_module(model.layers[name])


def get_matrix(model, name: str) -> np.ndarray:
    """The (out, in) weight matrix of a 1x1 convolution or dense layer, either framework."""
    if train.framework_of(model) == "keras":
        kernel = _keras_layer(model, name).get_weights()[0]
        return kernel.reshape(-1, kernel.shape[-1]).T
    weight = _torch_layer(model, name).weight.detach().cpu().numpy()
    return weight.reshape(weight.shape[0], -1)


def _variable(model, name):
    """The framework's kernel variable (Keras) or weight parameter (PyTorch) of a layer."""
    if train.framework_of(model) == "keras":
        return _keras_layer(model, name).kernel
    return _torch_layer(model, name).weight


def _mask_like(model, name, mask: np.ndarray) -> np.ndarray:
    """An (out, in) mask in the framework's kernel layout (float32)."""
    m = mask.astype("float32")
    if train.framework_of(model) == "keras":
        kernel = _keras_layer(model, name).kernel
        return m.T.reshape(tuple(kernel.shape))
    weight = _torch_layer(model, name).weight
    return m.reshape(tuple(weight.shape))


def importance(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(G, in): the L1 norm of each group's weights on each input channel (group g holds the
    output channels g, g + G, g + 2G, ...), the authors' dropping criterion."""
    out, cin = matrix.shape
    return np.abs(matrix).reshape(out // groups, groups, cin).sum(axis=0)


def drop(mask: np.ndarray, matrix: np.ndarray, groups: int, count: int) -> np.ndarray:
    """A new (out, in) mask: each group also drops the ``count`` kept input channels of smallest
    importance (ties: the lower channel first, a stable sort)."""
    mask = mask.copy()
    score = importance(matrix * mask, groups)
    for g in range(groups):
        kept = np.flatnonzero(mask[g, :])          # row g is the first output of group g
        weakest = kept[np.argsort(score[g, kept], kind="stable")[:count]]
        mask[g::groups, weakest] = False
    return mask


def kept_channels(mask: np.ndarray, groups: int) -> list:
    """Per group, the input channels its mask keeps, in increasing order."""
    return [np.flatnonzero(mask[g, :]) for g in range(groups)]


# ---- the schedule -------------------------------------------------------------------------------

@dataclass
class Condensation:
    """CondenseNet's training schedule as a hook of :func:`mobilecnn.train.fit_run` (see the module
    docstring): masks, condensing stages, group-lasso penalty, optimization stage.

    ``masks`` maps each learned layer's name to its boolean (out, in) mask; ``stages`` to the
    stage it has reached; ``drops`` records ``(step, layer, stage)`` of every condensation."""

    metaparams: dict
    lasso: float = LASSO
    layers: tuple = ()
    masks: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    drops: list = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.lasso, bool) or not isinstance(self.lasso, (int, float)) \
                or not math.isfinite(self.lasso) or self.lasso < 0:
            raise ValueError(f"lasso must be a number >= 0, got {self.lasso!r}")
        self.layers = learned_layers(self.metaparams)
        for layer in self.layers:
            self.masks[layer.name] = np.ones((layer.outputs, layer.inputs), bool)
            self.stages[layer.name] = 0
        self._framework = None

    # -- the hook --
    def model(self, framework: str, run):
        """The training-time network in ``framework``, before the trainer initializes it."""
        net = training_net(self.metaparams)
        self._framework = framework
        if framework == "keras":
            import keras

            from .keras_backend import build

            model = build(net, NAME)
            self._weight = keras.Variable(float(self.lasso), trainable=False, name="lasso")
            self._masks = {l.name: keras.Variable(_mask_like(model, l.name, self.masks[l.name]),
                                                  trainable=False, name=f"{l.name}_mask")
                           for l in self.layers}
        else:
            import torch

            from .torch_backend import build

            model = build(net, NAME)
            model.metaparams = dict(self.metaparams)
            self._weight = float(self.lasso)
            self._masks = {l.name: torch.from_numpy(_mask_like(model, l.name, self.masks[l.name]))
                           for l in self.layers}
        return model

    def before_step(self, model, step: int, total: int) -> None:
        progress = step / total
        changed = False
        for layer in self.layers:
            target = stage_at(progress, layer.condense_factor)
            reached = self.stages[layer.name]
            if target > reached:
                count = (target - reached) * (layer.inputs // layer.condense_factor)
                self.masks[layer.name] = drop(self.masks[layer.name], get_matrix(model, layer.name),
                                              layer.groups, count)
                self.stages[layer.name] = target
                self.drops.append((step, layer.name, target))
                self._write_mask(model, layer)
                changed = True
        if changed:
            condensing = any(self.stages[l.name] < l.condense_factor - 1
                             for l in self.layers if l.kind == "conv")
            weight = float(self.lasso) if condensing else 0.0
            if self._framework == "keras":
                self._weight.assign(weight)
            else:
                self._weight = weight
            self.after_step(model)

    def after_step(self, model) -> None:
        """Set the pruned weights to zero (the optimizer moved them; the mask did not)."""
        if self._framework == "keras":
            for layer in self.layers:
                kernel = _variable(model, layer.name)
                kernel.assign(kernel * self._masks[layer.name])
            return
        import torch

        with torch.no_grad():
            for layer in self.layers:
                _variable(model, layer.name).mul_(self._masks[layer.name])

    def penalty(self, model):
        """The group lasso of the 1x1 convolutions (a scalar tensor of ``model``'s framework);
        zero once they are condensed."""
        convs = [l for l in self.layers if l.kind == "conv"]
        if self._framework == "keras":
            from keras import ops

            total = 0.0
            for l in convs:
                kernel = _variable(model, l.name) * self._masks[l.name]       # (1, 1, in, out)
                w = ops.reshape(kernel, (l.inputs, l.outputs // l.groups, l.groups))
                total = total + ops.sum(ops.sqrt(ops.maximum(ops.sum(w * w, axis=1), FLOOR)))
            return self._weight * total
        if self._weight == 0 or not convs:
            return 0.0
        total = 0.0
        for l in convs:
            weight = _variable(model, l.name) * self._masks[l.name]         # (out, in, 1, 1)
            w = weight.reshape(l.outputs // l.groups, l.groups, l.inputs)
            total = total + (w * w).sum(dim=0).clamp(min=FLOOR).sqrt().sum()
        return self._weight * total

    def _write_mask(self, model, layer) -> None:
        value = _mask_like(model, layer.name, self.masks[layer.name])
        if self._framework == "keras":
            self._masks[layer.name].assign(value)
        else:
            import torch

            self._masks[layer.name] = torch.from_numpy(value)

    # -- after training --
    def indices(self) -> dict:
        """The test-time network's index of each learned layer (``<layer>_index`` for a dense
        layer's 1x1 convolution, ``classifier_index`` for the classifier)."""
        out = {}
        for layer in self.layers:
            kept = kept_channels(self.masks[layer.name], layer.groups)
            if {len(k) for k in kept} != {layer.inputs // layer.condense_factor}:
                raise ValueError(f"{layer.name} is not condensed yet (each group keeps "
                                 f"{[len(k) for k in kept]} channels): train to the end first")
            key = "classifier_index" if layer.kind == "dense" else \
                layer.name[:-len("_conv1")] + "_index"
            out[key] = tuple(int(i) for k in kept for i in k)
        return out


# ---- conversion -------------------------------------------------------------------------------

def converted_net(metaparams: dict, indices: dict) -> Net:
    _, values, size = architectures.resolve(NAME, dict(metaparams))
    net = Net((size, size, 3))
    cn.describe(net, **{k: v for k, v in values.items() if k != "rho"}, indices=indices)
    return net


def convert(model, schedule: Condensation):
    """The test-time CondenseNet (same framework) computing what the trained masked ``model``
    computes: learned indices, gathered batch norms, 1x1 group convolutions, pruned classifier."""
    indices = schedule.indices()
    net = converted_net(schedule.metaparams, indices)
    framework = train.framework_of(model)
    learned = {l.name: l for l in schedule.layers}
    if framework == "keras":
        from .keras_backend import build

        target = build(net, NAME)
    else:
        from .torch_backend import build

        target = build(net, NAME)
        target.metaparams = dict(schedule.metaparams)
    for node in net:
        if node.op not in ("conv", "dense", "bn"):
            continue
        source = _weights(model, node.name)
        if node.name in learned:
            layer = learned[node.name]
            kept = kept_channels(schedule.masks[node.name], layer.groups)
            matrix = get_matrix(model, node.name)
            if layer.kind == "conv":
                d = layer.outputs // layer.groups
                # group g's outputs k = 0..d-1 are the masked convolution's channels k G + g
                rows = [matrix[k * layer.groups + g, kept[g]] for g in range(layer.groups)
                        for k in range(d)]
                source = [np.stack(rows)[:, :, None, None]]          # (out, Cin / C, 1, 1)
            else:
                source = [matrix[:, kept[0]], source[1]]
        elif node.name.endswith("_bn1"):
            index = np.asarray(indices[node.name[:-len("_bn1")] + "_index"])
            source = [w[index] for w in source]
        elif node.name.endswith("_bn2") and node.name[:-4] + "_conv1" in learned:
            layer = learned[node.name[:-4] + "_conv1"]
            # before the shuffle: the group convolution's order, position g d + k <- k G + g
            d = layer.outputs // layer.groups
            order = np.array([k * layer.groups + g for g in range(layer.groups)
                              for k in range(d)])
            source = [w[order] for w in source]
        _set_weights(target, node, source)
    return target.eval() if framework == "torch" else target


def _weights(model, name: str) -> list:
    """A layer's arrays in PyTorch's layouts (OIHW kernels, (out, in) dense), either framework:
    kernel (and bias), or batch norm's scale, shift, mean and variance."""
    if train.framework_of(model) == "keras":
        weights = _keras_layer(model, name).get_weights()
        kernel = weights[0]
        if kernel.ndim == 4:
            weights[0] = kernel.transpose(3, 2, 0, 1)
        elif kernel.ndim == 2:
            weights[0] = kernel.T
        return weights
    m = _torch_layer(model, name)
    if hasattr(m, "running_mean"):
        tensors = [m.weight, m.bias, m.running_mean, m.running_var]
    else:
        tensors = [m.weight] + ([m.bias] if m.bias is not None else [])
    return [t.detach().cpu().numpy().copy() for t in tensors]


def _set_weights(model, node, arrays: list) -> None:
    if train.framework_of(model) == "keras":
        arrays = list(arrays)
        if node.op == "conv":
            arrays[0] = arrays[0].transpose(2, 3, 1, 0)
        elif node.op == "dense":
            arrays[0] = arrays[0].T
        _keras_layer(model, node.name).set_weights([np.ascontiguousarray(a, "float32")
                                                    for a in arrays])
        return
    import torch

    m = _torch_layer(model, node.name)
    names = (["weight", "bias", "running_mean", "running_var"] if node.op == "bn"
             else ["weight", "bias"])
    with torch.no_grad():
        for attr, value in zip(names, arrays):
            getattr(m, attr).copy_(torch.from_numpy(np.ascontiguousarray(value, "float32")))


# ---- the whole run ------------------------------------------------------------------------------

@dataclass(repr=False)
class CondenseResult:
    """What :func:`fit` returns: the training run of the masked network (``trained``, a
    :class:`~mobilecnn.train.TrainResult` whose ``params`` and ``macs`` are the converted
    network's), its ``schedule`` (masks, stages, condensations), and the ``converted`` test-time
    model with its test accuracy."""

    trained: train.TrainResult
    schedule: Condensation
    converted: object
    converted_accuracy: float

    def summary(self) -> str:
        return (f"{self.trained.summary()}; converted to group convolutions: test accuracy "
                f"{self.converted_accuracy:.2%}")

    __repr__ = summary


def fit(framework: str = "keras", dataset: str | None = None, image_size: int = 32,
        epochs: int | None = None, seed: int = 0, verbose: bool | None = None, *,
        subset: int | None = None, recipe: train.Recipe | None = None, lasso: float = LASSO,
        **metaparams) -> CondenseResult:
    """Train a CondenseNet with learned group convolutions in ``framework`` (the arguments of
    :func:`mobilecnn.train.fit`, and ``lasso``, the group-lasso weight) and convert it.

    Not cached: each call trains (the test network takes seconds on the CPU)."""
    run = train.resolve_run(NAME, framework, dataset, image_size, epochs, seed, subset, recipe,
                         metaparams)
    schedule = Condensation(dict(run.metaparams), lasso)
    result = train.fit_run(run, train.verbose_flag(verbose), schedule)
    key = hashlib.sha256(f"{run.key()} learned group convolutions, lasso {lasso!r}".encode())
    result = replace(result, key=key.hexdigest()[:16])
    converted = convert(result.model, schedule)
    (_, _), (x_test, y_test) = train.dataset_arrays(run.dataset, run.image_size)
    accuracy = float((train.predict(converted, x_test).argmax(axis=1) == y_test).mean())
    return CondenseResult(result, schedule, converted, accuracy)
