"""The three views of a network agree: analytic profile, Keras model, PyTorch model.

:func:`check` builds one architecture at one setting in both frameworks and compares, by layer
name where it can:

* **counts**: Keras' ``count_params()`` equals ``profile.params``; the elements of PyTorch's
  ``parameters()`` and Keras' trainable weights equal ``profile.trainable_params``;
* **multiply-accumulates**: PyTorch's own FLOP counter (``torch.utils.flop_counter``) equals
  ``2 * profile.macs``;
* **shapes**: every layer's output shape in Keras and in PyTorch equals the profile's row of the
  same name;
* **outputs**: with random weights (batch-norm statistics included) set in Keras and copied into
  PyTorch, the logits and the probabilities agree to what float32 rounding explains
  (:func:`rounding_tolerance`).

The tests run it over a sample of every architecture's settings and every chapter runs it for
the networks it discusses; both read the same :class:`Parity` report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .profiler import profile


FLOAT32_EPS = float(np.finfo(np.float32).eps)   # 2**-23: the spacing of float32 numbers at 1

# Safety factor of :func:`rounding_tolerance`: the largest of the few hundred differences
# compared lies within 4 standard deviations of a normal distribution. No other factor is
# needed: eps (2**-23) is twice float32's unit roundoff, which covers two implementations each
# rounding on its own, and sqrt(K) * eps is the error of plain recursive summation, which the
# blocked and pairwise summation of real kernels only improves on.
ROUNDING_SAFETY = 4


def rounding_tolerance(p) -> float:
    """The largest difference between two float32 runs of network ``p`` that rounding explains,
    relative to the largest logit (``p``: a :class:`~mobilecnn.profiler.Profile`).

    Every layer's output element is a sum of ``K`` products (``K`` = the layer's MACs per output
    element). Summed in a different order (oneDNN, Eigen, XNNPACK and PyTorch block their loops
    differently, and differently on each CPU) two float32 results differ by about
    ``sqrt(K) * eps`` relative to the activations' scale. :func:`randomize_keras` keeps that
    scale near one in every layer, so the layers' independent errors add in quadrature:
    ``sqrt(sum of K) * eps`` at the logits, times :data:`ROUNDING_SAFETY`. For the networks the
    tests build this is 2e-5 to 6e-5; the differences measured (against a float64 run of the
    same weights too, see ``tests/test_numerics.py``) are 20 to 100 times smaller.
    """
    terms = sum(row.macs / _elements(row.output_shape) for row in p.layers if row.macs)
    return ROUNDING_SAFETY * FLOAT32_EPS * float(np.sqrt(max(terms, 1.0)))


FLOAT16_UNIT_ROUNDOFF = 2.0 ** -11   # float16 has 10 stored fraction bits


def float16_weight_tolerance(p) -> float:
    """The largest change of the logits, relative to the largest, that storing the weights of
    network ``p`` in float16 explains (TF Lite's float16 mode; activations stay float32).

    Each weight is rounded once, by at most 2**-11 of itself, independently: a layer's output,
    a sum of products with independently perturbed weights, moves by about 2**-11 of its own
    scale whatever its length. With unit-scale layers (:func:`randomize_keras`) the layers'
    errors add in quadrature, ``sqrt(layers) * 2**-11``, times :data:`ROUNDING_SAFETY`.
    """
    weighted = sum(1 for row in p.layers if row.macs)
    return ROUNDING_SAFETY * FLOAT16_UNIT_ROUNDOFF * float(np.sqrt(weighted))


def _elements(shape) -> int:
    return int(np.prod(shape))


def randomize_keras(model, seed: int = 0) -> None:
    """Replace every weight of a Keras model by random values that keep activations at unit scale.

    Kernels get He-normal values (variance 2 / fan-in, which keeps the second moment through a
    ReLU) and biases small ones. Batch normalization gets a random scale and shift and moving
    statistics *calibrated* on a batch of random images: running the model once, each
    batch-norm layer sees its input (every layer before it already has its weights) and gets
    a moving variance of that input's mean square times a random factor in [0.5, 1.5] per
    channel and a moving mean of 0.1 of its root mean square times a normal number per
    channel. So both statistics matter (a dropped mean or variance changes the output), neither
    is the batch's own (a model left in training mode does not pass), and every batch-norm
    output has a mean square of about one whatever the depth.

    The scale is one number per layer, not per channel: normalizing each channel by its own
    variance would blow up the channels where a sum nearly cancels, and with them the rounding
    error (SqueezeNext's logits then differ from a float64 run by 1e-3). Uncalibrated
    statistics multiply the scale by a random factor in every layer: logits of deep networks
    reached 10^3 and float32's last digits there depend on the summation order of the CPU's
    kernels. With these weights the difference between two float32 runs stays within
    :func:`rounding_tolerance`.
    """
    import keras

    rng = np.random.default_rng(seed)
    norms = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            norms.append(layer)
            continue
        kernel = weights[0]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            fan_in = kernel.shape[0] * kernel.shape[1]
        elif kernel.ndim > 2:
            fan_in = int(np.prod(kernel.shape[:-1]))
        else:
            fan_in = kernel.shape[0]
        new = [rng.normal(0, np.sqrt(2 / fan_in), w.shape) if i == 0
               else rng.normal(0, 0.05, w.shape) for i, w in enumerate(weights)]
        layer.set_weights([w.astype("float32") for w in new])
    if not norms:
        return

    def calibrating(layer):
        call = layer.call

        def calibrate(inputs, *args, **kwargs):
            x = keras.ops.convert_to_numpy(inputs).astype("float64")
            axes = tuple(range(x.ndim - 1))
            c = x.shape[-1]
            square = max(float((x ** 2).mean()), 1e-12)
            layer.set_weights([w.astype("float32") for w in (
                rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c),
                0.1 * np.sqrt(square) * rng.normal(size=c), square * rng.uniform(0.5, 1.5, c))])
            return call(inputs, *args, **kwargs)
        return calibrate

    images = rng.random((4,) + tuple(model.input.shape[1:])).astype("float32")
    for layer in norms:
        layer.call = calibrating(layer)        # instance attribute: shadows the class's call
    try:
        model(images, training=False)
    finally:
        for layer in norms:
            del layer.call


@dataclass(frozen=True)
class Parity:
    """What :func:`check` compared. ``rows``: ``(check, profile, keras, torch, ok)``.

    ``shape_mismatches`` lists the layers whose shapes disagree (empty when all agree);
    ``logit_difference`` is the largest difference of the logits relative to their scale.
    """

    name: str
    settings: tuple
    rows: tuple
    layers_compared: int
    shape_mismatches: tuple
    logit_difference: float
    probability_difference: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(row[-1] for row in self.rows)

    @property
    def failures(self) -> list:
        return [row[0] for row in self.rows if not row[-1]]

    def assert_ok(self) -> "Parity":
        if not self.ok:
            raise AssertionError(f"{self.name} {dict(self.settings)}: the three views disagree "
                                 f"on {', '.join(self.failures)}; shape mismatches: "
                                 f"{list(self.shape_mismatches)[:5]}")
        return self

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["check", "profile", "keras", "torch", "agree"])

    def _repr_html_(self) -> str:
        verdict = "all agree" if self.ok else "DISAGREE: " + ", ".join(self.failures)
        return (f"<p><code>{self.name}</code> {dict(self.settings)}: {verdict}</p>"
                + self.to_frame().to_html(index=False))


def _channels_last(t) -> tuple:
    return tuple(t.shape[1:]) if t.ndim == 2 else tuple(t.permute(0, 2, 3, 1).shape[1:])


def check(name: str, *, seed: int = 0, batch: int = 2, tolerance: float | None = None,
          float64: bool = False, **metaparams) -> Parity:
    """Build ``name`` at ``metaparams`` in Keras and PyTorch and compare all three views.

    ``tolerance`` bounds the logits' difference relative to the largest logit; by default
    :func:`rounding_tolerance` of the network, what float32 rounding explains. The
    probabilities may differ by ``tolerance`` times the logits' scale: softmax changes by at
    most half its input's change (max norm), and its own rounding is a few eps. With
    ``float64=True`` both float32 runs are also compared with a float64 run of the PyTorch
    model (the exact function, to float32's precision), against the same tolerance.

    Never raises on a disagreement (call :meth:`Parity.assert_ok` for that); bad metaparameters
    raise the profiler's ``ValueError`` before anything is built.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from . import keras_model, torch_model
    from .keras_backend import logits_model
    from .torch_backend import copy_from_keras

    p = profile(name, **metaparams)
    if tolerance is None:
        tolerance = rounding_tolerance(p)
    km = keras_model(name, **metaparams)
    tm = torch_model(name, **metaparams).eval()

    torch_trainable = sum(t.numel() for t in tm.parameters())
    keras_trainable = sum(int(np.prod(w.shape)) for w in km.trainable_weights)
    rows = [("params (Keras count)", p.params, km.count_params(), None,
             km.count_params() == p.params),
            ("trainable params", p.trainable_params, keras_trainable, torch_trainable,
             keras_trainable == p.trainable_params == torch_trainable)]

    x = np.random.default_rng(seed + 1).random((batch,) + p.input_shape).astype("float32")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        tm(xt[:1])
    flops = counter.get_total_flops()
    rows.append(("MACs", p.macs, None, flops // 2, flops == 2 * p.macs))

    randomize_keras(km, seed)
    copy_from_keras(km, tm)
    with torch.no_grad():
        maps = tm.feature_maps(xt)
    mismatches = []
    for row in p.layers:
        k_shape = tuple(km.get_layer(row.name).output.shape[1:])
        t_shape = _channels_last(maps[row.name])
        if not k_shape == t_shape == row.output_shape:
            mismatches.append((row.name, row.output_shape, k_shape, t_shape))
    rows.append(("layer output shapes", len(p.layers), len(p.layers) - len(mismatches),
                 len(p.layers) - len(mismatches), not mismatches))

    k_logits = logits_model(km)(x, training=False).numpy()
    t_logits = maps[tm.nodes[-1].inputs[0]].numpy()
    scale = max(1.0, float(np.abs(k_logits).max()))
    logit_diff = float(np.abs(k_logits - t_logits).max() / scale)
    prob_diff = float(np.abs(km(x, training=False).numpy() - maps[p.layers[-1].name].numpy()).max())
    rows.append(("logits (max relative difference)", None, 0.0, logit_diff,
                 logit_diff < tolerance))
    rows.append(("probabilities (max difference)", None, 0.0, prob_diff,
                 prob_diff < tolerance * scale))
    if float64:
        with torch.no_grad():
            exact = tm.double().feature_maps(xt.double())[tm.nodes[-1].inputs[0]].numpy()
        tm.float()
        k64, t64 = (float(np.abs(v - exact).max() / scale) for v in (k_logits, t_logits))
        rows.append(("logits against float64 (max relative difference)", None, k64, t64,
                     max(k64, t64) < tolerance))
    return Parity(name, p.metaparams, tuple(rows), len(p.layers), tuple(mismatches), logit_diff,
                  prob_diff, tolerance)
