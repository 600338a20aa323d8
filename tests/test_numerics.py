"""Float32 parity holds on every CPU: unit-scale random weights, tolerances from rounding.

* ``parity.randomize_keras`` keeps every batch-norm output and the logits near unit scale, the
  premise of ``parity.rounding_tolerance``;
* Keras and PyTorch in float32 each agree with a float64 run of the same weights to that
  tolerance (so neither is merely close to the other);
* the batch-norm statistics are not the batch's own: a model run in training mode fails;
* the parity and reference tests pass with TensorFlow's oneDNN kernels forced off and on
  (``TF_ENABLE_ONEDNN_OPTS``), in a subprocess each, since the setting is read at import.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import mobilecnn

keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from mobilecnn import parity  # noqa: E402

# Small settings of the deepest networks (v3 Large: h-swish, squeeze-and-excite; SqueezeNext:
# 23 residual units) and of two others with shortcuts and channel operations.
CASES = [("mobilenet_v3_large", dict(image_size=64, num_classes=10)),
         ("squeezenext", dict(image_size=64, num_classes=10)),
         ("shufflenet_v2", dict(scale=0.5, image_size=32, num_classes=5)),
         ("mobilenet_v2", dict(alpha=0.35, image_size=32, num_classes=10))]
IDS = [name for name, _ in CASES]


@pytest.mark.parametrize("name, meta", CASES, ids=IDS)
def test_randomized_activations_keep_unit_scale(name, meta):
    model = mobilecnn.keras_model(name, **meta)
    parity.randomize_keras(model, seed=0)
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    logits = model.layers[-1].input
    probe = keras.Model(model.input, [layer.output for layer in norms] + [logits])
    x = np.random.default_rng(1).random((4,) + tuple(model.input.shape[1:])).astype("float32")
    outputs = probe(x, training=False)
    squares = np.array([float(np.mean(np.square(o))) for o in outputs])
    # gamma^2 / u (gamma in [0.5, 1.5], u in [0.5, 1.5]) plus beta^2 and the moving mean's
    # offset: 0.17 to 4.5 in expectation per channel; a layer's mean over its channels lies
    # well inside [0.1, 10]. Without calibration the logits of v3 Large reached 10^3.
    assert 0.1 < squares.min() and squares.max() < 10, dict(
        zip([n.name for n in norms] + ["logits"], squares.round(3)))


@pytest.mark.parametrize("name, meta", CASES, ids=IDS)
def test_float32_runs_agree_with_float64(name, meta):
    report = parity.check(name, float64=True, **meta)
    assert report.ok, report.to_frame().to_string()
    assert "logits against float64 (max relative difference)" in set(report.to_frame()["check"])


def test_statistics_are_not_the_batchs_own():
    """A model left in training mode (batch statistics) must not pass the parity check."""
    meta = dict(alpha=0.35, image_size=32, num_classes=10)
    model = mobilecnn.keras_model("mobilenet_v2", **meta)
    parity.randomize_keras(model, seed=0)
    x = np.random.default_rng(1).random((8, 32, 32, 3)).astype("float32")
    logits = keras.Model(model.input, model.layers[-1].input)
    inference, training = (logits(x, training=t).numpy() for t in (False, True))
    tolerance = parity.rounding_tolerance(mobilecnn.profile("mobilenet_v2", **meta))
    assert np.abs(inference - training).max() > 100 * tolerance * np.abs(inference).max()


def test_onednn_setting_is_what_the_environment_asks():
    """Run by the subprocesses below: TensorFlow honours TF_ENABLE_ONEDNN_OPTS."""
    asked = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if asked is None:
        pytest.skip("TF_ENABLE_ONEDNN_OPTS is not set (TensorFlow decides by CPU)")
    from mobilecnn.tf_import import import_tensorflow

    import_tensorflow()
    from tensorflow.python.util import _pywrap_util_port

    assert _pywrap_util_port.IsMklEnabled() == (asked == "1")


# What the subprocesses run: the float64 comparison above (Keras against PyTorch against the
# exact function, four architectures), the v3 Large case that failed on an AVX-512 CPU against
# keras.applications, and an odd input size of v1 against keras.applications.
ONEDNN_SUBSET = [
    "tests/test_numerics.py::test_onednn_setting_is_what_the_environment_asks",
    "tests/test_numerics.py::test_float32_runs_agree_with_float64",
    "tests/test_mobilenet_v3.py::test_outputs_equal_keras_applications"
    "[mobilenet_v3_large-1.0-False-96]",
    "tests/test_reference.py::test_mobilenet_v1_equals_keras_applications_at_odd_sizes[75]",
]


@pytest.mark.parametrize("onednn", ["0", "1"], ids=["onednn-off", "onednn-on"])
def test_parity_holds_with_onednn(onednn, root):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-W", "ignore::DeprecationWarning", *ONEDNN_SUBSET],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{4 + len(ONEDNN_SUBSET) - 1} passed" in result.stdout, result.stdout[-2000:]
