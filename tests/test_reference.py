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
