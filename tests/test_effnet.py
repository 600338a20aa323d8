"""EffNet against the seed's Keras code, and the library features it brought.

* the seed's network (seed 002 §4, "code"), rebuilt here with Keras 3 from its description:
  the same counts layer by layer, and the same function with copied weights;
* the kernel orientation (1x3 first, the pool halves the height, the 2x1 convolution the width);
* (height, width) strides and pools in the graph and both frameworks; ints still work;
* LeakyReLU in the three interpreters, in TF Lite (float and int8) and ONNX;
* a flatten of a whole map is channels-last in both frameworks;
* the three views agree, bad input names the parameter, training runs in both frameworks.
"""

import numpy as np
import pytest

import mobilecnn
from mobilecnn.graph import Net

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402


def seed_effnet(input_shape=(32, 32, 3), nb_classes=10, widths=((32, 64), (64, 128), (128, 256))):
    """The seed's network as its code describes it, in Keras 3: ``get_post`` is LeakyReLU then
    batch norm; each block is a 1x1 conv, a (1, 3) depthwise conv, a (2, 1) max pool with
    strides (2, 1), a (3, 1) depthwise conv and a (2, 1) conv with strides (1, 2), all
    ``"same"`` but the pool, none with bias; then Flatten and a softmax Dense layer."""
    def post(x):
        return layers.BatchNormalization()(layers.LeakyReLU()(x))

    x_in = x = keras.Input(input_shape)
    for ch_in, ch_out in widths:
        x = post(layers.Conv2D(ch_in, (1, 1), padding="same", use_bias=False)(x))
        x = post(layers.DepthwiseConv2D((1, 3), padding="same", use_bias=False)(x))
        x = layers.MaxPool2D(pool_size=(2, 1), strides=(2, 1))(x)
        x = post(layers.DepthwiseConv2D((3, 1), padding="same", use_bias=False)(x))
        x = post(layers.Conv2D(ch_out, (2, 1), strides=(1, 2), padding="same", use_bias=False)(x))
    x = layers.Flatten()(x)
    x = layers.Dense(nb_classes, activation="softmax")(x)
    return keras.Model(x_in, x)


def weights_in_order(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# ---- the seed's code ----------------------------------------------------------------------------

def test_counts_equal_the_seeds_code():
    ref = seed_effnet()
    ours = mobilecnn.keras_model("effnet")
    p = mobilecnn.profile("effnet")
    assert ref.count_params() == ours.count_params() == p.params
    assert trainable(ref) == trainable(ours) == p.trainable_params
    assert [[tuple(w.shape) for w in layer.weights] for layer in weights_in_order(ref)] == \
        [[tuple(w.shape) for w in layer.weights] for layer in weights_in_order(ours)]
    assert ours.output.shape == ref.output.shape == (None, 10)


@pytest.mark.parametrize("alpha, size", [(1.0, 32), (0.5, 48), (1.5, 20)])
def test_outputs_equal_the_seeds_code(alpha, size):
    """Our weights (randomized) copied into the seed's network in layer order: same outputs.

    Tolerance 1e-5 on probabilities and 1e-4 relative on the layer before: both are float32
    TensorFlow graphs of the same ops in the same order, so only the order of summation inside
    the kernels can differ (a few units of float32's 6e-8 roundoff per layer), while a swapped
    kernel axis or a padding on the wrong side changes outputs at order 1."""
    from mobilecnn import parity
    from mobilecnn.architectures.mobilenet_v1 import width

    widths = tuple((width(a, alpha), width(b, alpha)) for a, b in ((32, 64), (64, 128), (128, 256)))
    ref = seed_effnet((size, size, 3), 10, widths)
    ours = mobilecnn.keras_model("effnet", alpha=alpha, image_size=size)
    parity.randomize_keras(ours, seed=5)
    for mine, theirs in zip(weights_in_order(ours), weights_in_order(ref), strict=True):
        theirs.set_weights(mine.get_weights())
    x = np.random.default_rng(6).uniform(0, 1, (4, size, size, 3)).astype("float32")
    a = keras.Model(ours.input, ours.get_layer("fc").output)(x, training=False).numpy()
    b = keras.Model(ref.input, ref.layers[-1].output)(x, training=False).numpy()
    assert np.abs(ours(x, training=False).numpy() - ref(x, training=False).numpy()).max() < 1e-5
    assert a.shape == (4, 10)


def test_kernel_orientation_is_the_seeds_code():
    """(height, width): 1x3 first; the pool halves the height, the 2x1 convolution the width."""
    rows = {r.name: r for r in mobilecnn.profile("effnet").layers}
    net = {n.name: n for n in mobilecnn.architectures.describe("effnet")}
    assert net["block1_dw1x3"].attr("kernel") == (1, 3)
    assert net["block1_dw3x1"].attr("kernel") == (3, 1)
    assert net["block1_pool"].attr("kernel") == net["block1_pool"].attr("stride") == (2, 1)
    assert net["block1_conv2x1"].attr("kernel") == (2, 1)
    assert net["block1_conv2x1"].attr("stride") == (1, 2)
    assert net["block1_conv2x1"].attr("pad") == (0, 1, 0, 0)   # "same": one row at the bottom
    assert rows["block1_pool"].output_shape == (16, 32, 32)
    assert rows["block1_conv2x1"].output_shape == (16, 16, 64)
    assert rows["block3_conv2x1_bn"].output_shape == (4, 4, 256)
    assert rows["fc"].input_shape == (4 * 4 * 256,)
    # LeakyReLU before batch norm, after each of the four convolutions of a block
    order = [n.op for n in net.values() if n.block == "block1"]
    assert order == ["conv", "leaky_relu", "bn", "depthwise", "leaky_relu", "bn", "maxpool",
                     "depthwise", "leaky_relu", "bn", "conv", "leaky_relu", "bn"]
    assert net["block1_conv2x1_leaky_relu"].attr("negative_slope") == 0.3


def test_sizes_and_the_classifier():
    assert mobilecnn.profile("effnet").image_size == 32
    assert mobilecnn.minimum_image_size("effnet") == 8
    for size in (8, 31, 96, 128):
        p = mobilecnn.profile("effnet", image_size=size)
        h = ((size // 2) // 2) // 2          # three unpadded 2x1 pools
        w = -(-(-(-(-(-size // 2)) // 2)) // 2)   # three "same" stride-2 convolutions: ceil
        assert p.layers[-1].output_shape == (10,)
        assert {r.name: r for r in p.layers}["fc"].input_shape == (h * w * 256,)


# ---- strides and pools as (height, width) pairs -------------------------------------------------

def test_pairs_and_ints_in_the_graph():
    net = Net((9, 10, 4))
    a = net.conv("input", 8, (3, 1), (2, 1), name="a")
    b = net.conv("input", 8, 3, 2, name="b")
    c = net.avgpool("input", (1, 2), (1, 2), name="c")
    d = net.depthwise("input", (1, 3), (3, 2), name="d")
    assert net.nodes[b].attr("stride") == (2, 2) and net.nodes[b].attr("kernel") == (3, 3)
    assert net.shape(a) == (5, 10, 8)          # "same": ceil(9 / 2), 10
    assert net.shape(b) == (5, 5, 8)
    assert net.shape(c) == (9, 5, 4)
    assert net.shape(d) == (3, 5, 4)
    assert net.nodes[a].attr("pad") == (1, 1, 0, 0)
    from mobilecnn.costs import describe_node
    assert describe_node(net.nodes[a])[0] == "Conv / s2x1"
    assert describe_node(net.nodes[b])[0] == "Conv / s2"
    for bad in (0, (2,), (1, 2, 3), (2, 0), 1.5, True):
        with pytest.raises(ValueError, match="stride"):
            net.conv("input", 8, 3, bad, name=f"bad{bad!r}")


def test_pairs_agree_in_both_frameworks():
    """A network of every windowed op with unequal strides, pools and kernels: three views."""
    torch = pytest.importorskip("torch")
    from mobilecnn import keras_backend, parity, torch_backend

    net = Net((13, 12, 3))
    x = net.conv("input", 6, (3, 1), (2, 1), name="conv")
    x = net.depthwise(x, (1, 3), (1, 2), name="dw")
    x = net.maxpool(x, (2, 3), (1, 2), padding="same", name="max")
    x = net.avgpool(x, (3, 2), (2, 1), padding="same", name="avg")
    x = net.leaky_relu(x, 0.1)
    km, tm = keras_backend.build(net), torch_backend.build(net).eval()
    parity.randomize_keras(km, seed=0)
    torch_backend.copy_from_keras(km, tm)
    inputs = np.random.default_rng(0).normal(size=(2, 13, 12, 3)).astype("float32")
    k = km(inputs).numpy()
    with torch.no_grad():
        t = tm(torch.from_numpy(inputs).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert k.shape == t.shape == (2,) + net.shape(x)
    assert np.abs(k - t).max() < 1e-5 * max(1.0, np.abs(k).max())


# ---- LeakyReLU and flatten -------------------------------------------------------------------------

def test_leaky_relu_in_every_interpreter():
    torch = pytest.importorskip("torch")
    from mobilecnn import keras_backend, torch_backend

    net = Net((2, 2, 3))
    net.leaky_relu("input", 0.2, name="leaky")
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, -1.0] * 2, "float32").reshape(1, 2, 2, 3)
    expected = np.where(x > 0, x, 0.2 * x)
    k = keras_backend.build(net)(x).numpy()
    t = torch_backend.build(net)(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    assert np.allclose(k, expected) and np.allclose(t.numpy(), expected)
    assert mobilecnn.profiler.live_elements(net)["leaky"] == 12      # in place, no weights
    assert net.nodes["leaky"].weights == net.nodes["leaky"].macs == 0
    with pytest.raises(ValueError, match="negative_slope"):
        net.leaky_relu("input", 1.5, name="bad")
    with pytest.raises(ValueError, match="leaky_relu"):
        net.act("input", "gelu")


def test_flatten_is_channels_last_in_both_frameworks():
    torch = pytest.importorskip("torch")
    from mobilecnn import keras_backend, torch_backend

    net = Net((2, 3, 4))
    net.flatten("input")
    x = np.arange(24, dtype="float32").reshape(1, 2, 3, 4)
    k = keras_backend.build(net)(x).numpy()
    t = torch_backend.build(net)(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert (k == x.reshape(1, -1)).all() and (t == x.reshape(1, -1)).all()


@pytest.mark.slow
def test_leaky_relu_converts_to_tflite_and_onnx():
    from mobilecnn import deploy, deploy_torch, parity

    model = mobilecnn.keras_model("effnet", alpha=0.25, image_size=16)
    parity.randomize_keras(model, seed=0)
    x = np.random.default_rng(0).uniform(size=(32, 16, 16, 3)).astype("float32")
    for mode in ("float32", "int8"):
        operators = deploy.TFLiteClassifier(deploy.convert(model, mode, x)).operators()
        assert operators["LEAKY_RELU"] == 12, (mode, operators)
    torch_model = mobilecnn.copy_keras_to_torch(model, mobilecnn.torch_model(
        "effnet", alpha=0.25, image_size=16))
    onnx_file = deploy_torch.export(torch_model, "float32", cache=False)
    p = deploy_torch.ONNXClassifier(onnx_file).predict(x)
    assert np.abs(p - model(x, training=False).numpy()).max() < 1e-5


# ---- three views, errors, training ----------------------------------------------------------------

@pytest.mark.parametrize("meta", [
    dict(mobilecnn.architectures.get("effnet").smoke),
    dict(alpha=1.5, image_size=27, num_classes=4),
    dict(alpha=0.25, image_size=8, num_classes=3),
], ids=["smoke", "odd-size", "smallest"])
def test_three_views_agree(meta):
    pytest.importorskip("torch")
    from mobilecnn import parity

    parity.check("effnet", **meta).assert_ok()


@pytest.mark.parametrize("bad, param", [
    (dict(alpha=0.0), "alpha"),
    (dict(alpha=0.02), "alpha"),
    (dict(alpha=2.5), "alpha"),
    (dict(image_size=7), "rho"),
    (dict(image_size=129), "rho"),
    (dict(rho=4.5), "rho"),
    (dict(num_classes=0), "num_classes"),
    (dict(middle_repeats=2), "middle_repeats"),
])
def test_bad_input_names_the_parameter(bad, param):
    with pytest.raises(ValueError, match=param):
        mobilecnn.profile("effnet", **bad)


def test_the_explorer_grid_profiles_and_fits_the_page():
    from mobilecnn import static

    assert static.page_weight("effnet") < static.EXPLORER_BUDGET
    assert static.page_weight("xception") < static.EXPLORER_BUDGET


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_trains_in_both_frameworks(framework, tmp_path, monkeypatch):
    """A (smoke-mode) run of the book's recipe on the digits: it trains and predicts."""
    pytest.importorskip("torch")
    from mobilecnn import train

    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path))
    result = train.fit("effnet", framework, image_size=32, alpha=0.5, seed=0, verbose=False)
    assert np.isfinite(result.history["loss"]).all()
    assert 0.0 <= result.test_accuracy <= 1.0
    x = np.random.default_rng(0).uniform(size=(3, 32, 32, 3)).astype("float32")
    p = train.predict(result.model, x)
    assert p.shape == (3, 10) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
