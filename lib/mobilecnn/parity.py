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
  PyTorch, the logits and the probabilities agree to ``tolerance``.

The tests run it over a sample of every architecture's settings and every chapter runs it for
the networks it discusses; both read the same :class:`Parity` report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import architectures
from .profiler import profile


def randomize_keras(model, seed: int = 0) -> None:
    """Replace every weight of a Keras model by random values of a sensible scale.

    Kernels get He-normal values, biases small ones, and batch normalization random scale,
    shift, moving mean and moving variance, so that layouts, biases and statistics all matter
    when two implementations are compared (fresh weights would hide a dropped bias or a
    transposed kernel behind zeros and ones).
    """
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            c = weights[0].shape
            new = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                   rng.uniform(0.5, 1.5, c)]
        else:
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
          **metaparams) -> Parity:
    """Build ``name`` at ``metaparams`` in Keras and PyTorch and compare all three views.

    ``tolerance`` defaults to the architecture's ``parity_tolerance`` (1e-4 but for networks
    deep enough to amplify float32 round-off past it; each module says why).

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
        tolerance = architectures.get(name).parity_tolerance
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
    rows.append(("probabilities (max difference)", None, 0.0, prob_diff, prob_diff < tolerance))
    return Parity(name, p.metaparams, tuple(rows), len(p.layers), tuple(mismatches), logit_diff,
                  prob_diff, tolerance)
