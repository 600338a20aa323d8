"""Parity with the reference implementations that can be built offline (Keras applications)."""

import pytest

import mobilecnn

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 1.0])
def test_mobilenet_v1_matches_keras_applications(alpha):
    ours = mobilecnn.keras_model("mobilenet_v1", alpha=alpha)
    reference = keras.applications.MobileNet(weights=None, alpha=alpha)
    assert ours.count_params() == reference.count_params()
    assert mobilecnn.profile("mobilenet_v1", alpha=alpha).params == reference.count_params()


@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.75, 1.0, 1.3, 1.4])
def test_mobilenet_v2_matches_keras_applications(alpha):
    ours = mobilecnn.keras_model("mobilenet_v2", alpha=alpha)
    reference = keras.applications.MobileNetV2(weights=None, alpha=alpha)
    assert ours.count_params() == reference.count_params()
    assert mobilecnn.profile("mobilenet_v2", alpha=alpha).params == reference.count_params()


def test_mobilenet_v2_feature_map_shapes_match_keras_applications():
    ours = mobilecnn.profile("mobilenet_v2", rho=160 / 224)
    reference = keras.applications.MobileNetV2(weights=None, input_shape=(160, 160, 3))
    assert (ours.layers[-5].output_shape ==
            tuple(reference.get_layer("out_relu").output.shape[1:]))


@pytest.mark.parametrize("size", [75, 101, 200])
def test_mobilenet_v1_equals_keras_applications_at_odd_sizes(size):
    """keras.applications pads (0, 1) before every stride-2 depthwise layer, whatever the size;
    "same" padding agrees with that only on even sizes (at 200 px conv_dw_6 would give 13x13
    instead of 12x12). Same shapes layer by layer, and the same function with copied weights."""
    import numpy as np

    from mobilecnn import parity

    ours = mobilecnn.keras_model("mobilenet_v1", alpha=0.25, image_size=size, num_classes=10)
    reference = keras.applications.MobileNet(weights=None, alpha=0.25, classes=10,
                                             input_shape=(size, size, 3))
    assert ours.count_params() == reference.count_params()
    profile = {r.name: r for r in mobilecnn.profile("mobilenet_v1", alpha=0.25, image_size=size,
                                                    num_classes=10).layers}
    for i in range(1, 14):
        for name in (f"conv_dw_{i}", f"conv_pw_{i}"):
            expected = tuple(reference.get_layer(name).output.shape[1:])
            assert tuple(ours.get_layer(name).output.shape[1:]) == expected == \
                profile[name].output_shape, name
    parity.randomize_keras(ours)
    for layer in ours.layers:
        if layer.get_weights():
            reference.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, size, size, 3)).astype("float32")
    # probabilities of two float32 graphs of one function: softmax moves by at most half the
    # logits' change, which float32 rounding bounds (parity.rounding_tolerance, unit-scale logits)
    logits = keras.Model(reference.input, reference.layers[-1].input)(x, training=False)
    tolerance = parity.rounding_tolerance(mobilecnn.profile(
        "mobilenet_v1", alpha=0.25, image_size=size, num_classes=10))
    assert np.abs(ours(x, training=False) - reference(x, training=False)).max() <= \
        tolerance * max(1.0, float(np.abs(logits).max()))
