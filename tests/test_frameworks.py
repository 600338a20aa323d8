"""The three views of a network agree: Keras model, PyTorch model, analytic profile.

For a deterministic sample of metaparameters per architecture (hypothesis, derandomized):
parameter counts, per-layer output shapes joined by layer name, multiply-accumulates against
PyTorch's own FLOP counter, and outputs computed with the same weights in both frameworks.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mobilecnn

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

SIZES = st.sampled_from([32, 48, 63, 64, 80, 96])

SETTINGS = {
    "mobilenet_v1": st.fixed_dictionaries({
        "alpha": st.sampled_from([0.1, 0.25, 0.33, 0.5, 0.75, 1.0]),
        "image_size": SIZES, "num_classes": st.integers(1, 12),
        "dropout": st.sampled_from([0.0, 0.2])}),
    "mobilenet_v2": st.fixed_dictionaries({
        "alpha": st.sampled_from([0.35, 0.5, 0.75, 1.0, 1.3, 1.4]),
        "image_size": SIZES, "expansion": st.integers(1, 8), "num_classes": st.integers(1, 12)}),
    "squeezenet": st.fixed_dictionaries({
        "version": st.sampled_from(["1.0", "1.1"]),
        "bypass": st.sampled_from(["none", "simple", "complex"]),
        "image_size": st.sampled_from([48, 63, 64, 96]), "num_classes": st.integers(1, 12)}),
    "shufflenet_v1": st.fixed_dictionaries({
        "groups": st.sampled_from([1, 2, 3, 4, 8]), "scale": st.sampled_from([0.25, 0.5, 1.0]),
        "image_size": SIZES, "num_classes": st.integers(1, 12)}),
}

EXAMPLES = 6


def randomize(model, seed=0):
    """Replace every weight by random values of a sensible scale, so that batch-norm statistics,
    biases and layouts all matter when the two frameworks are compared."""
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
            fan_in = int(np.prod(kernel.shape[:-1])) if kernel.ndim > 2 else kernel.shape[0]
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                fan_in = kernel.shape[0] * kernel.shape[1]
            new = [rng.normal(0, np.sqrt(2 / fan_in), w.shape) if i == 0 else rng.normal(0, 0.05, w.shape)
                   for i, w in enumerate(weights)]
        layer.set_weights([w.astype("float32") for w in new])


def check_three_way(name, meta):
    p = mobilecnn.profile(name, **meta)
    km = mobilecnn.keras_model(name, **meta)
    tm = mobilecnn.torch_model(name, **meta).eval()

    # parameters
    assert km.count_params() == p.params
    assert sum(t.numel() for t in tm.parameters()) == p.trainable_params
    trainable = sum(int(np.prod(w.shape)) for w in km.trainable_weights)
    assert trainable == p.trainable_params

    # multiply-accumulates, counted by PyTorch's FLOP counter (2 FLOPs per MAC)
    x = np.random.default_rng(1).random((2,) + p.input_shape).astype("float32")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        tm(xt[:1])
    assert counter.get_total_flops() == 2 * p.macs

    # per-layer output shapes, joined by name
    randomize(km)
    mobilecnn.copy_keras_to_torch(km, tm)
    with torch.no_grad():
        maps = tm.feature_maps(xt)
    for row in p.layers:
        assert tuple(km.get_layer(row.name).output.shape[1:]) == row.output_shape, row.name
        t = maps[row.name]
        shape = tuple(t.shape[1:]) if t.ndim == 2 else tuple(t.permute(0, 2, 3, 1).shape[1:])
        assert shape == row.output_shape, row.name

    # the same function: logits agree to 1e-4 (relative to their scale) with shared weights
    k_logits = mobilecnn.keras_backend.logits_model(km)(x, training=False).numpy()
    t_logits = maps[tm.nodes[-1].inputs[0]].numpy()
    scale = max(1.0, float(np.abs(k_logits).max()))
    assert np.abs(k_logits - t_logits).max() / scale < 1e-4
    k_probs = km(x, training=False).numpy()
    assert np.abs(k_probs - maps["predictions"].numpy()).max() < 1e-4


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
    randomize(km)
    path = tmp_path / "shufflenet.keras"
    km.save(path)
    again = keras.saving.load_model(path)
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    assert np.allclose(km(x).numpy(), again(x).numpy(), atol=1e-6)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in again.layers)


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
