"""MobileNet v3 Large and Small against keras.applications, the paper and torchvision.

* counts: Keras ``count_params()`` and the trainable count equal
  ``keras.applications.MobileNetV3Large/Small(weights=None, include_preprocessing=False)`` for
  alpha in {0.75, 1.0}, with and without ``minimalistic``;
* outputs: with our model's weights randomized and copied layer by layer (by name) into the
  reference, both give the same logits, also at odd input sizes (the stride-2 padding);
* the published figures (the paper's Table 3, torchvision's model cards) agree;
* the three views (profile, Keras, PyTorch) agree at two small settings each;
* bad input names the parameter; the original last stage costs what the docstring says;
* a saved ``.keras`` file reloads; TF Lite converts in all four modes and int8 agrees with float.
"""

import numpy as np
import pytest

import mobilecnn
from mobilecnn.architectures import mobilenet_v3
from mobilecnn.architectures.common import make_divisible

keras = pytest.importorskip("keras")

NAMES = ("mobilenet_v3_large", "mobilenet_v3_small")


def reference(name, **kwargs):
    builder = {"mobilenet_v3_large": keras.applications.MobileNetV3Large,
               "mobilenet_v3_small": keras.applications.MobileNetV3Small}[name]
    return builder(weights=None, include_preprocessing=False, **kwargs)


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def weighted_layers(model) -> dict:
    return {layer.name: layer for layer in model.layers if layer.weights}


# ---- keras.applications -------------------------------------------------------------------------

@pytest.mark.parametrize("minimalistic", [False, True])
@pytest.mark.parametrize("alpha", [0.75, 1.0])
@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_keras_applications(name, alpha, minimalistic):
    ours = mobilecnn.keras_model(name, alpha=alpha, minimalistic=minimalistic)
    ref = reference(name, alpha=alpha, minimalistic=minimalistic, input_shape=(224, 224, 3))
    assert ours.count_params() == ref.count_params()
    assert trainable(ours) == trainable(ref)
    p = mobilecnn.profile(name, alpha=alpha, minimalistic=minimalistic)
    assert (p.params, p.trainable_params) == (ref.count_params(), trainable(ref))
    # the same weighted layers under the same names, holding the same shapes
    ours_w, ref_w = weighted_layers(ours), weighted_layers(ref)
    assert set(ours_w) == set(ref_w)
    for layer_name, layer in ref_w.items():
        assert [w.shape for w in ours_w[layer_name].weights] == [w.shape for w in layer.weights]


@pytest.mark.parametrize("name, alpha, minimalistic, size", [
    ("mobilenet_v3_large", 1.0, False, 96),
    ("mobilenet_v3_large", 0.75, True, 75),     # odd sizes: correct_pad must equal "same"
    ("mobilenet_v3_small", 1.0, False, 75),
    ("mobilenet_v3_small", 0.75, True, 64),
    ("mobilenet_v3_small", 0.75, False, 101),
])
def test_outputs_equal_keras_applications(name, alpha, minimalistic, size):
    from mobilecnn import parity

    ours = mobilecnn.keras_model(name, alpha=alpha, minimalistic=minimalistic, image_size=size,
                                 num_classes=10)
    ref = reference(name, alpha=alpha, minimalistic=minimalistic, input_shape=(size, size, 3),
                    classes=10)
    parity.randomize_keras(ours, seed=3)
    ours_w = weighted_layers(ours)
    for layer_name, layer in weighted_layers(ref).items():       # the mapping: by layer name
        layer.set_weights(ours_w[layer_name].get_weights())
    x = np.random.default_rng(4).uniform(-1, 1, (3, size, size, 3)).astype("float32")
    a = keras.Model(ours.input, ours.get_layer("logits").output)(x, training=False).numpy()
    b = keras.Model(ref.input, ref.get_layer("logits").output)(x, training=False).numpy()
    assert a.shape == b.shape == (3, 1, 1, 10)
    # Two float32 graphs of the same function (explicit padding against "same", other op
    # orders): they differ by float32 rounding, which parity.rounding_tolerance bounds from each
    # layer's accumulation length (randomize_keras keeps every layer at unit scale).
    scale = max(1.0, np.abs(b).max())
    tolerance = parity.rounding_tolerance(mobilecnn.profile(
        name, alpha=alpha, minimalistic=minimalistic, image_size=size, num_classes=10))
    assert np.abs(a - b).max() <= tolerance * scale
    # softmax moves by at most half its input's change (max norm); the rest is its own rounding
    assert np.abs(ours(x).numpy() - ref(x).numpy()).max() <= tolerance * scale
    # every stride-2 depthwise layer has the reference's output size
    for layer in ref.layers:
        if layer.name.endswith("depthwise") and layer.name in ours_w:
            assert ours.get_layer(layer.name).output.shape == layer.output.shape, layer.name


# ---- published figures --------------------------------------------------------------------------

FIGURES = [(name, figure) for name in NAMES for figure in mobilecnn.architecture(name).published]


def test_torchvision_counts_exactly():
    """torchvision's cards print exact parameter counts: ours are theirs to the unit."""
    assert mobilecnn.profile("mobilenet_v3_large").trainable_params == 5_483_032
    assert mobilecnn.profile("mobilenet_v3_small").trainable_params == 2_542_856


def test_architectures_are_registered_from_one_module():
    large, small = mobilenet_v3.ARCHITECTURES
    assert mobilecnn.architecture("mobilenet_v3_large") is large
    assert mobilecnn.architecture("mobilenet_v3_small") is small
    names = mobilecnn.list_architectures()
    assert names.index("mobilenet_v3_large") < names.index("mobilenet_v3_small")
    assert large.width == small.width == "alpha" and large.bib == "howard2019searching"


# ---- three views --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("meta", [
    dict(image_size=64, num_classes=10),
    dict(alpha=0.5, minimalistic=True, last_stage="original", image_size=63, num_classes=7,
         dropout=0.0),
], ids=["default-64px", "minimal-original-63px"])
def test_three_views_agree(name, meta):
    pytest.importorskip("torch")
    from mobilecnn import parity

    parity.check(name, **meta).assert_ok()


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, param", [
    (dict(alpha=2.0), "alpha"),
    (dict(alpha=0.1), "alpha"),
    (dict(minimalistic="yes"), "minimalistic"),
    (dict(minimalistic=1), "minimalistic"),
    (dict(last_stage="new"), "last_stage"),
    (dict(dropout=1.0), "dropout"),
    (dict(num_classes=0), "num_classes"),
    (dict(image_size=16), "rho"),
    (dict(kernel=5), "kernel"),
])
def test_bad_input_names_the_parameter(name, bad, param):
    with pytest.raises(ValueError, match=param):
        mobilecnn.profile(name, **bad)


# ---- the last stage -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha, size", [(1.0, 224), (0.75, 224), (1.0, 160), (1.25, 96)])
def test_original_last_stage_costs_what_the_docstring_says(name, alpha, size):
    efficient = mobilecnn.profile(name, alpha=alpha, image_size=size)
    original = mobilecnn.profile(name, alpha=alpha, image_size=size, last_stage="original")
    rows = {row.name: row for row in original.layers}
    h, w, e = rows["conv_1"].output_shape
    c = [row for row in original.layers if row.name.endswith("_project")][-2].output_shape[-1]
    p = make_divisible(2 * c, 8)
    last = rows["conv_2"].output_shape[-1]
    assert rows["conv_1_project"].output_shape == (h, w, p)
    assert rows["conv_2"].output_shape == (h, w, last)
    assert original.macs - efficient.macs == h * w * (9 * e + e * p + p * last) - e * last > 0
    # everything up to conv_1 is the same network
    same = [r for r in efficient.layers if r.name.startswith(("conv_1", "conv_bn", "expanded"))
            or r.name == "conv"]
    assert len(same) > 50 and all(rows[r.name].output_shape == r.output_shape for r in same)


def test_original_last_stage_of_large_is_34_million_macs_more():
    """The docstring's figure: 34.3M at 224 px (the paper rounds it to 30M)."""
    d = (mobilecnn.profile("mobilenet_v3_large", last_stage="original").macs
         - mobilecnn.profile("mobilenet_v3_large").macs)
    assert d == 7 * 7 * (9 * 960 + 960 * 320 + 320 * 1280) - 960 * 1280 == 34_317_760


# ---- saving and TF Lite -------------------------------------------------------------------------

def test_saved_model_reloads(tmp_path):
    from mobilecnn import parity

    model = mobilecnn.keras_model("mobilenet_v3_small", alpha=0.5, image_size=48, num_classes=5)
    parity.randomize_keras(model, seed=1)
    path = tmp_path / "v3.keras"
    model.save(path)
    again = keras.models.load_model(path)
    x = np.random.default_rng(2).random((2, 48, 48, 3)).astype("float32")
    # the same float32 weights through the same kernels: the same numbers, bit for bit
    assert np.array_equal(model(x).numpy(), again(x).numpy())
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]


@pytest.mark.slow
def test_tflite_converts_in_every_mode_and_int8_agrees():
    from mobilecnn import deploy, parity

    size = 64
    keras.utils.set_random_seed(0)
    model = mobilecnn.keras_model("mobilenet_v3_small", alpha=0.5, image_size=size,
                                  num_classes=10)
    parity.randomize_keras(model, seed=0)
    rng = np.random.default_rng(0)
    calibration = rng.uniform(size=(64, size, size, 3)).astype(np.float32)
    x = rng.uniform(size=(64, size, size, 3)).astype(np.float32)
    reference = model(x, training=False).numpy()
    files = deploy.convert_all(model, representative_data=calibration)
    assert set(files) == set(deploy.MODES)
    labels = {}
    for mode, flatbuffer in files.items():
        classifier = deploy.TFLiteClassifier(flatbuffer)
        p = classifier.predict(x)
        # int8: ten outputs each rounded by up to half a step of 1/256 (0.02 in all), plus the
        # quantized softmax's own step per class; float outputs: a few eps
        assert p.shape == (64, 10) and np.allclose(p.sum(axis=1), 1.0, atol=0.05), mode
        labels[mode] = p.argmax(1)
        if mode == "float32":
            # XNNPACK against TensorFlow, two float32 runs of unit-scale layers
            profile = mobilecnn.profile("mobilenet_v3_small", alpha=0.5, image_size=size,
                                        num_classes=10)
            assert np.abs(p - reference).max() <= parity.rounding_tolerance(profile) * max(
                1.0, float(np.abs(keras.Model(model.input, model.layers[-1].input)(
                    x, training=False)).max()))
    operators = deploy.TFLiteClassifier(files["int8"]).operators()
    assert operators["HARD_SWISH"] > 0 and operators["MUL"] > 0       # h-swish and SE survive
    # Random weights give near-ties between classes, which any rounding can flip. The floor:
    # of 64 images, at most 6 (float16, dynamic) or 9 (int8, coarser) may change their label.
    for mode in ("float16", "dynamic", "int8"):
        agreement = np.mean(labels[mode] == reference.argmax(1))
        assert agreement >= (0.85 if mode == "int8" else 0.9), (mode, agreement)
