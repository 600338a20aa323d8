"""Xception against keras.applications and the paper.

* counts: ``count_params()`` and the trainable count equal
  ``keras.applications.Xception(weights=None)``; the trainable count is the paper's Table 3;
* outputs: our model's random weights copied into keras.applications' (each of our
  depthwise + pointwise pairs into one ``SeparableConv2D``, the unnamed residual layers in
  order) give the same logits;
* structure: where the ReLUs sit, the separable convolutions have nothing between their two
  halves, the halving blocks' shapes;
* the three views agree, bad input names the parameter, the max pool pads with minus infinity.
"""

import numpy as np
import pytest

import mobilecnn
from mobilecnn.architectures import xception

keras = pytest.importorskip("keras")


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def reference(**kwargs):
    return keras.applications.Xception(weights=None, **kwargs)


def copy_into_reference(ours, ref) -> int:
    """Copy ``ours``' weights into keras.applications' Xception; returns the layers filled.

    The map: ``<sep>_depthwise`` and ``<sep>_pointwise`` -> ``SeparableConv2D`` ``<sep>``
    (depthwise kernel, pointwise kernel); ``fc`` -> ``predictions``; the residual projections
    (Keras leaves them unnamed) in network order; everything else by its shared name."""
    ref_residuals = [layer for layer in ref.layers if layer.weights
                     and not layer.name.startswith("block") and layer.name != "predictions"]
    our_residuals = [layer for layer in ours.layers if "_residual" in layer.name]
    assert len(ref_residuals) == len(our_residuals) == 8   # 4 projections, each with its BN
    pairs = dict(zip((layer.name for layer in ref_residuals), our_residuals))
    filled = 0
    for layer in ref.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.SeparableConv2D):
            weights = (ours.get_layer(f"{layer.name}_depthwise").get_weights()
                       + ours.get_layer(f"{layer.name}_pointwise").get_weights())
        elif layer.name in pairs:
            weights = pairs[layer.name].get_weights()
        else:
            weights = ours.get_layer("fc" if layer.name == "predictions" else layer.name
                                     ).get_weights()
        layer.set_weights(weights)
        filled += 1
    return filled


# ---- keras.applications and the paper ------------------------------------------------------------

def test_counts_equal_keras_applications_and_table_3():
    ours = mobilecnn.keras_model("xception")
    ref = reference()
    p = mobilecnn.profile("xception")
    assert ours.count_params() == ref.count_params() == p.params
    assert trainable(ours) == trainable(ref) == p.trainable_params
    # Table 3 of the paper (seed 004 §4.5): "Xception 22,855,952"
    assert p.trainable_params == 22_855_952
    assert p.image_size == 299


@pytest.mark.parametrize("size", [71, 100])
def test_outputs_equal_keras_applications(size):
    """With the weights of our model (randomized) copied into Keras', the logits agree.

    Tolerance: both run the same float32 kernels in a different order of layers and additions
    (our separable pair is two TensorFlow ops, Keras' one fused op). The logits are sums of
    about 2048 products after 36 convolutions; the rounding error of float32 accumulation
    (unit roundoff 6e-8) grows roughly with the square root of the terms summed per layer and
    with depth, so agreement to 1e-4 of the logits' scale is the float32 expectation (measured:
    about 1e-6), while a wrong layer, padding or weight layout changes them at order 1."""
    from mobilecnn import parity

    ours = mobilecnn.keras_model("xception", image_size=size, num_classes=10)
    ref = reference(input_shape=(size, size, 3), classes=10, classifier_activation=None)
    parity.randomize_keras(ours, seed=3)
    assert copy_into_reference(ours, ref) == len([layer for layer in ref.layers if layer.weights])
    x = np.random.default_rng(4).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    ours_logits = keras.Model(ours.input, ours.get_layer("fc").output)(x, training=False).numpy()
    ref_logits = ref(x, training=False).numpy()
    scale = max(1.0, float(np.abs(ref_logits).max()))
    assert np.abs(ours_logits - ref_logits).max() <= 1e-4 * scale
    # the halving blocks' outputs have the reference's shapes
    for index in (2, 3, 4, 13):
        assert (tuple(ours.get_layer(f"block{index}_pool").output.shape)
                == tuple(ref.get_layer(f"block{index}_pool").output.shape))


# ---- structure ------------------------------------------------------------------------------------

def test_relu_placement_and_nothing_inside_a_separable_convolution():
    net = mobilecnn.architectures.describe("xception")
    nodes = {n.name: n for n in net}
    after = {}
    for n in net:
        for i in n.inputs:
            after.setdefault(i, []).append(n)
    pointwise = [n for n in net if n.name.endswith("_pointwise")]
    assert len(pointwise) == 2 + 2 + 2 + 3 * 8 + 2 + 2 == 34
    for n in pointwise:
        # the pointwise convolution reads the depthwise one directly: no BN, no nonlinearity
        assert nodes[n.inputs[0]].op == "depthwise"
        depthwise = nodes[n.inputs[0]]
        before = nodes[depthwise.inputs[0]].op
        name = n.name[:-len("_pointwise")]
        if name == "block14_sepconv1":          # the exit flow's last stage reads the addition
            assert before == "add", name
        else:
            assert before == "relu", name
    # block 2 has no ReLU of its own before its first separable convolution: the stem's
    assert nodes["block2_sepconv1_depthwise"].inputs == ("block1_conv2_act",)
    assert "block2_sepconv1_act" not in nodes and "block3_sepconv1_act" in nodes
    assert [m.op for m in after["block14_sepconv1_bn"]] == ["relu"]
    assert [m.op for m in after["block14_sepconv2_bn"]] == ["relu"]
    # the residual projections: 1x1, stride 2, batch norm, no activation, from the block input
    for index in (2, 3, 4, 13):
        r = nodes[f"block{index}_residual"]
        assert r.attr("kernel") == (1, 1) and r.attr("stride") == (2, 2)
        assert [m.op for m in after[r.name]] == ["bn"]
        assert [m.op for m in after[f"block{index}_residual_bn"]] == ["add"]
        pool = nodes[f"block{index}_pool"]
        assert pool.attr("kernel") == (3, 3) and pool.attr("stride") == (2, 2)


@pytest.mark.parametrize("repeats", [0, 3, 8])
def test_middle_repeats(repeats):
    p = mobilecnn.profile("xception", middle_repeats=repeats)
    middle = [r for r in p.layers if r.stage == "middle_flow"]
    assert sum(r.name.endswith("_add") for r in middle) == repeats
    one_block = 3 * (9 * 728 + 728 * 728 + 4 * 728)     # three separable convs and their BN
    assert p.params == mobilecnn.profile("xception", middle_repeats=0).params + repeats * one_block
    assert f"block{6 + repeats}_sepconv2_act" == p.layers[-4].name


def test_alpha_thins_every_layer():
    full = {r.name: r for r in mobilecnn.profile("xception").layers}
    half = {r.name: r for r in mobilecnn.profile("xception", alpha=0.5).layers}
    assert set(full) == set(half)
    for name, row in full.items():
        if row.kind.startswith("conv") and name != "fc":
            assert half[name].output_shape[-1] == int(row.output_shape[-1] * 0.5), name


# ---- max pooling pads with minus infinity ------------------------------------------------------

def test_same_max_pool_ignores_padding_in_both_frameworks():
    """On an all-negative map a zero-padded pool would return 0 at the border; ours must not."""
    torch = pytest.importorskip("torch")
    from mobilecnn import keras_backend, torch_backend
    from mobilecnn.graph import Net

    net = Net((4, 4, 2))
    net.maxpool("input", 3, 2, padding="same", name="pool")
    assert net.nodes["pool"].attr("pad") == (0, 1, 0, 1)
    x = -1.0 - np.random.default_rng(0).random((1, 4, 4, 2)).astype("float32")
    k = keras_backend.build(net)(x).numpy()
    t = torch_backend.build(net)(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    # "same": windows start at rows and columns 0 and 2; the last one hangs over the border
    expected = np.stack([[x[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(0, 1))
                          for j in range(2)] for i in range(2)])[None]
    assert (k < 0).all() and np.allclose(k, expected) and np.allclose(t.numpy(), expected)


# ---- three views and errors ---------------------------------------------------------------------

@pytest.mark.parametrize("meta", [
    dict(xception.ARCHITECTURE.smoke),
    dict(alpha=0.5, middle_repeats=0, image_size=75, num_classes=7),
], ids=["smoke", "odd-size"])
def test_three_views_agree(meta):
    pytest.importorskip("torch")
    from mobilecnn import parity

    parity.check("xception", **meta).assert_ok()


@pytest.mark.parametrize("bad, param", [
    (dict(alpha=0.0), "alpha"),
    (dict(alpha=1.5), "alpha"),
    (dict(alpha=0.02), "alpha"),
    (dict(middle_repeats=-1), "middle_repeats"),
    (dict(middle_repeats=2.5), "middle_repeats"),
    (dict(middle_repeats=17), "middle_repeats"),
    (dict(num_classes=0), "num_classes"),
    (dict(image_size=16), "rho"),
    (dict(rho=1.2), "rho"),
    (dict(dropout=0.5), "dropout"),
])
def test_bad_input_names_the_parameter(bad, param):
    with pytest.raises(ValueError, match=param):
        mobilecnn.profile("xception", **bad)
