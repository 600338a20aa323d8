"""The three views of a network agree: Keras model, PyTorch model, analytic profile.

For a deterministic sample of metaparameters per architecture (hypothesis, derandomized):
parameter counts, per-layer output shapes joined by layer name, multiply-accumulates against
PyTorch's own FLOP counter, and outputs computed with the same weights in both frameworks.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import mobilecnn

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from mobilecnn import parity  # noqa: E402

SIZES = st.sampled_from([32, 48, 63, 64, 80, 96])


def settings_of(name):
    """Every metaparameter from its slider grid (the architecture module's own), plus a size."""
    specs = {m.name: st.sampled_from(m.grid) for m in mobilecnn.metaparameters(name)
             if m.name != "rho"}
    specs["num_classes"] = st.integers(2, 12)   # one class would make softmax constant
    return st.fixed_dictionaries({**specs, "image_size": SIZES})


SETTINGS = {name: settings_of(name) for name in mobilecnn.list_architectures()}

EXAMPLES = 6


def check_three_way(name, meta):
    try:
        mobilecnn.profile(name, **meta)
    except ValueError as err:       # an input too small for this setting: not a sample
        assert str(err).startswith("rho="), err
        assume(False)
    parity.check(name, **meta).assert_ok()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_three_views_agree(name):
    import mobilecnn.keras_backend  # noqa: F401

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(SETTINGS[name])
    def run(meta):
        check_three_way(name, meta)

    run()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_defaults_agree_at_full_size(name):
    """The published configurations themselves (224 px, 1000 classes), counts only."""
    p = mobilecnn.profile(name)
    km = mobilecnn.keras_model(name)
    tm = mobilecnn.torch_model(name)
    assert km.count_params() == p.params
    assert sum(t.numel() for t in tm.parameters()) == p.trainable_params
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        tm.eval()(torch.zeros((1, 3) + p.input_shape[:2]))
    assert counter.get_total_flops() == p.flops


def test_keras_model_saves_and_reloads_with_channel_shuffle(tmp_path):
    km = mobilecnn.keras_model("shufflenet_v1", groups=3, scale=0.25, image_size=32, num_classes=4)
    parity.randomize_keras(km)
    path = tmp_path / "shufflenet.keras"
    km.save(path)
    again = keras.saving.load_model(path)
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    # the same float32 weights through the same kernels: the same numbers, bit for bit
    assert np.array_equal(km(x).numpy(), again(x).numpy())
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in again.layers)


def test_every_op_has_a_layer_in_both_frameworks():
    from mobilecnn import keras_backend, ops, torch_backend

    assert set(keras_backend.LAYERS) == set(torch_backend.MODULES) == set(ops.OPS) - {"input"}


def test_parity_report_catches_a_wrong_weight(monkeypatch):
    """The check is not vacuous: a PyTorch model with one weight changed must fail it."""
    from mobilecnn import torch_backend

    meta = dict(alpha=0.25, image_size=32, num_classes=3)
    report = parity.check("mobilenet_v1", **meta)
    assert report.ok and report.layers_compared > 50
    assert set(report.to_frame()["check"]) >= {"MACs", "layer output shapes", "trainable params"}

    copy = torch_backend.copy_from_keras

    def copy_then_break(keras_model, model):
        copy(keras_model, model)
        with torch.no_grad():
            model.layers["conv_preds"].weight[0] *= 1.5     # one class's classifier row
        return model

    monkeypatch.setattr(torch_backend, "copy_from_keras", copy_then_break)
    broken = parity.check("mobilenet_v1", **meta)
    assert not broken.ok and "logits (max relative difference)" in broken.failures
    with pytest.raises(AssertionError, match="logits"):
        broken.assert_ok()


def test_channel_shuffle_permutation_is_the_papers():
    """Channel i*n + j of g groups of n goes to position j*g + i, in both frameworks."""
    from mobilecnn.keras_backend import ChannelShuffle as KerasShuffle
    from mobilecnn.torch_backend import ChannelShuffle as TorchShuffle

    g, n = 3, 4
    channels = np.arange(g * n, dtype="float32")
    k = KerasShuffle(g)(channels.reshape(1, 1, 1, -1)).numpy().ravel()
    t = TorchShuffle(g)(torch.from_numpy(channels).reshape(1, -1, 1, 1)).numpy().ravel()
    expected = np.empty(g * n)
    for i in range(g):
        for j in range(n):
            expected[j * g + i] = i * n + j
    assert (k == expected).all() and (t == expected).all()


@pytest.mark.parametrize("builder", ["keras_model", "torch_model"])
def test_builders_reject_bad_input_before_building(builder):
    with pytest.raises(ValueError, match="alpha"):
        getattr(mobilecnn, builder)("mobilenet_v1", alpha=2.0)
    with pytest.raises(ValueError, match="groups"):
        getattr(mobilecnn, builder)("shufflenet_v1", groups=6)
