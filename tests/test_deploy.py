"""mobilecnn.deploy: conversion in every mode, the interpreter wrapper, and measurements.

A MobileNet v1 (alpha 0.25, 32 pixels) is trained for a few epochs on scikit-learn's digits at
the start of this module (about half a minute on one thread) and converted once in every mode;
the tests compare the converted files with it and with each other.
"""

import os

import numpy as np
import pytest

import mobilecnn
from mobilecnn import deploy, parity

SEED = 0
IMAGE_SIZE = 32


def digits(image_size=IMAGE_SIZE):
    """A fixed 80/20 split of sklearn's digits as 3-channel float images in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float32) / 16.0
    x = np.kron(x, np.ones((1, image_size // 8, image_size // 8), np.float32))  # nearest upsampling
    x = np.repeat(x[..., None], 3, axis=-1)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2, stratify=d.target,
                            random_state=SEED)


@pytest.fixture(scope="module")
def data():
    x_train, x_test, y_train, y_test = digits()
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def trained(data):
    """A small MobileNet v1 trained for a few epochs: good enough that agreement means something."""
    import keras

    from mobilecnn import keras_backend

    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(SEED)
    model = mobilecnn.keras_model("mobilenet_v1", alpha=0.25, image_size=IMAGE_SIZE,
                                  num_classes=10, dropout=0.0)
    # Short runs need fast-moving batch-norm statistics (see mobilecnn.train.Recipe).
    keras_backend.set_batchnorm_momentum(model, 0.9)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=6, verbose=0, shuffle=True)
    return model


@pytest.fixture(scope="module")
def files(trained, data):
    return deploy.convert_all(trained, representative_data=data[0][:200])


# ---- affine quantization ------------------------------------------------------------------------

def test_affine_quantization_round_trip():
    rng = np.random.default_rng(SEED)
    r = rng.uniform(-1.5, 4.0, size=1000)
    scale, zero_point = deploy.affine_parameters(r.min(), r.max())
    assert scale == pytest.approx((r.max() - r.min()) / 255)
    q = deploy.quantize(r, scale, zero_point)
    assert q.dtype == np.int8 and q.min() >= -128 and q.max() <= 127
    back = deploy.dequantize(q, scale, zero_point)
    # round to nearest: half a step, plus float64's rounding of r / scale (1e-16 relative)
    assert np.abs(back - r).max() <= scale / 2 * (1 + 1e-12)
    # zero is exact, and a range that excludes zero is widened to include it
    assert deploy.dequantize(deploy.quantize(0.0, scale, zero_point), scale, zero_point) == 0.0
    s, z = deploy.affine_parameters(2.0, 6.0, "uint8")
    assert z == 0 and s == pytest.approx(6.0 / 255)
    with pytest.raises(ValueError, match="rmin <= rmax"):
        deploy.affine_parameters(1.0, -1.0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        deploy.affine_parameters(0.0, 1.0, "int4")


# ---- conversion errors --------------------------------------------------------------------------

def test_unknown_mode_lists_the_modes():
    with pytest.raises(ValueError, match="'float32', 'dynamic', 'float16', 'int8'"):
        deploy.convert(object(), "int4")


def test_int8_needs_representative_data(trained):
    with pytest.raises(ValueError, match="representative_data"):
        deploy.convert(trained, "int8")
    shape_error = r"representative_data must be an array of shape \(N, 32, 32, 3\)"
    with pytest.raises(ValueError, match=shape_error):
        deploy.convert(trained, "int8", representative_data=np.zeros((4, 16, 16, 3)))


def test_convert_rejects_non_keras_models():
    with pytest.raises(ValueError, match="model must be a Keras model"):
        deploy.convert("model.keras", "float32")


# ---- every architecture, every mode -------------------------------------------------------------

SMALL = {name: mobilecnn.architectures.get(name).smoke_setting
         for name in mobilecnn.list_architectures()}
"""Every architecture's own small setting (``Architecture.smoke``): fast, yet every op kind."""


def test_every_architecture_has_a_small_setting_that_builds():
    for name, setting in SMALL.items():
        assert "image_size" in setting, name
        mobilecnn.profile(name, num_classes=10, **setting)   # raises on a setting that does not fit


# Known, not yet diagnosed: in these two the int8 file holds about 3% and 6% more int8 bytes than
# a quarter of the float32 file's weights (the channel shuffles' constants are the suspects).
# Strict: the day the count agrees, the mark must go.
INT8_BYTES_UNEXPLAINED = {"igcv1", "igcv2"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="int8 weight bytes exceed a "
                                            "quarter of the float32 weights; not yet explained"))
    if n in INT8_BYTES_UNEXPLAINED else n for n in sorted(SMALL)])
def test_every_mode_converts_and_runs(name):
    import keras

    keras.utils.set_random_seed(SEED)
    model = mobilecnn.keras_model(name, num_classes=10, **SMALL[name])
    rng = np.random.default_rng(SEED)
    size = SMALL[name]["image_size"]
    x = rng.uniform(size=(16, size, size, 3)).astype(np.float32)
    # batch-norm statistics away from (0, 1), so that folding them into the kernels is
    # exercised, and every layer at unit scale (the premise of the tolerances below)
    parity.randomize_keras(model, seed=SEED)
    reference = np.asarray(model(x, training=False))
    logits = np.asarray(keras.Model(model.input, model.layers[-1].input)(x, training=False))
    scale = max(1.0, float(np.abs(logits).max()))
    profile = mobilecnn.profile(name, num_classes=10, **SMALL[name])
    files = deploy.convert_all(model, representative_data=x)
    assert set(files) == set(deploy.MODES)
    outputs = {}
    for mode, flatbuffer in files.items():
        classifier = deploy.TFLiteClassifier(flatbuffer)
        assert classifier.input_dtype == ("int8" if mode == "int8" else "float32")
        p = classifier.predict(x)
        assert p.shape == (16, 10) and p.dtype == np.float32
        # int8 softmax: ten outputs each rounded by half a step of 1/256 (0.02 in all) plus the
        # quantized softmax's own error; float outputs: ten terms within a few eps (1e-5)
        assert np.allclose(p.sum(axis=1), 1.0, atol=0.05 if mode == "int8" else 1e-5), mode
        outputs[mode] = p
    # float32: XNNPACK against TensorFlow, two float32 runs (softmax halves the logits' change)
    assert np.abs(outputs["float32"] - reference).max() <= parity.rounding_tolerance(profile) * scale
    # float16 weights: each rounded once, by at most 2**-11 relative
    assert np.abs(outputs["float16"] - reference).max() <= \
        parity.float16_weight_tolerance(profile) * scale
    # the stored weights shrink exactly with the bit width: float16 halves them; int8 quarters
    # the kernels, and the biases (batch norm folded in) become int32
    stored = {mode: weight_bytes(flatbuffer) for mode, flatbuffer in files.items()}
    f32 = stored["float32"]["float32"]
    assert stored["float16"]["float16"] == f32 / 2
    # int32 constants that the float32 file holds too are not weights (shapes, index lists)
    biases = stored["int8"]["int32"] - stored["float32"].get("int32", 0)
    assert stored["int8"]["int8"] + biases / 4 == pytest.approx(f32 / 4, rel=0.01)
    assert "float32" not in stored["int8"]
    assert all(len(files[mode]) < 0.7 * len(files["float32"])
               for mode in ("dynamic", "float16", "int8"))
    if name == "shufflenet_v1":
        # the grouped 1x1 convolutions stay single CONV_2D operators in every mode
        for flatbuffer in files.values():
            assert deploy.TFLiteClassifier(flatbuffer).operators()["CONV_2D"] > 0


def weight_bytes(flatbuffer) -> dict:
    """Bytes of constant tensors in a .tflite file, by dtype."""
    total = {}
    for t in deploy.TFLiteClassifier(flatbuffer).tensors():
        if t.constant:
            total[t.dtype] = total.get(t.dtype, 0) + t.bytes
    return total


# ---- a trained model -----------------------------------------------------------------------------

def test_trained_model_learned_something(trained, data):
    x_test, y_test = data[2], data[3]
    accuracy = np.mean(np.asarray(trained(x_test, training=False)).argmax(1) == y_test)
    assert accuracy > 0.6  # otherwise the agreement tests below would test little


def test_int8_agrees_with_float(trained, files, data):
    x_test, y_test = data[2], data[3]
    float_labels = np.asarray(trained(x_test, training=False)).argmax(1)
    for mode in ("float16", "dynamic", "int8"):
        labels = deploy.TFLiteClassifier(files[mode]).predict(x_test).argmax(1)
        agreement = np.mean(labels == float_labels)
        assert agreement >= 0.9, (mode, agreement)
    int8 = deploy.TFLiteClassifier(files["int8"]).predict(x_test).argmax(1)
    # 5 points of 360 test images: three binomial standard errors of a 90 % classifier (1.6)
    assert abs(np.mean(int8 == y_test) - np.mean(float_labels == y_test)) <= 0.05


@pytest.mark.parametrize("mode", deploy.MODES)
def test_batch_equals_single(files, data, mode):
    x = data[2][:23]
    classifier = deploy.TFLiteClassifier(files[mode], batch_size=8)  # chunks of 8, 8 and 7
    batched = classifier.predict(x)
    single = np.concatenate([classifier.predict(image[None]) for image in x])
    assert np.array_equal(batched, single)
    whole = deploy.TFLiteClassifier(files[mode], batch_size=64).predict(x)
    assert np.array_equal(whole, single)
    assert sorted(classifier._interpreters) == [1, 7, 8]


def test_predict_checks_its_input(files):
    classifier = deploy.TFLiteClassifier(files["int8"])
    with pytest.raises(ValueError, match=r"x must be a batch of images of shape \(N, 32, 32, 3\)"):
        classifier.predict(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="model must be .tflite bytes"):
        deploy.TFLiteClassifier(12)
    with pytest.raises(ValueError, match="num_threads"):
        deploy.TFLiteClassifier(files["int8"], num_threads=0)
    assert classifier.predict(np.zeros((0, 32, 32, 3), np.float32)).shape == (0, 10)


def test_classifier_reads_a_file(files, tmp_path, data):
    path = tmp_path / "model.tflite"
    path.write_bytes(files["int8"])
    from_file = deploy.TFLiteClassifier(path)
    assert from_file.size == len(files["int8"]) == os.path.getsize(path)
    assert np.array_equal(from_file.predict(data[2][:5]),
                          deploy.TFLiteClassifier(files["int8"]).predict(data[2][:5]))


def test_int8_quantizes_its_input_and_output(files, data):
    classifier = deploy.TFLiteClassifier(files["int8"])
    scale, zero_point = classifier.input_details["quantization"]
    # images in [0, 1] fill the int8 range: scale 1/255, zero point -128
    # the calibration images span exactly [0, 1]; the scale is stored as float32 (6e-8 relative)
    assert scale == pytest.approx(1 / 255, rel=1e-6) and zero_point == -128
    q = classifier.quantize_input(data[2][:4])
    assert q.dtype == np.int8 and q.min() == -128
    out_scale, out_zero = classifier.output_details["quantization"]
    assert out_scale == pytest.approx(1 / 256) and out_zero == -128  # softmax output in [0, 1)


def test_tensors_show_types_and_quantization(files):
    int8 = deploy.TFLiteClassifier(files["int8"]).tensors()
    kernels = [t for t in int8 if t.constant and len(t.shape) == 4]
    assert kernels and all(t.dtype == "int8" for t in kernels)
    # per-channel quantization: one scale per output channel of each kernel
    for t in kernels:
        assert len(t.scales) == t.shape[t.quantized_dimension] and np.all(t.zero_points == 0)
    # every activation is int8 with one scale, except the int32 shape arithmetic of the final
    # Reshape (its batch size is only known at run time)
    activations = [t for t in int8 if not t.constant and t.dtype != "int32"]
    assert len(activations) > 20
    assert all(t.dtype == "int8" and len(t.scales) == 1 for t in activations)
    float16 = deploy.TFLiteClassifier(files["float16"]).tensors()
    assert {t.dtype for t in float16 if t.constant and len(t.shape) == 4} == {"float16"}
    assert deploy.TFLiteClassifier(files["float16"]).operators()["DEQUANTIZE"] > 0
    for mode, flatbuffer in files.items():
        stored = sum(t.bytes for t in deploy.TFLiteClassifier(flatbuffer).tensors() if t.constant)
        assert 0.5 * len(flatbuffer) < stored < len(flatbuffer), mode


def test_evaluate_measures_both_kinds_alike(trained, files, data):
    x_test, y_test = data[2][:100], data[3][:100]
    keras_eval = deploy.evaluate(trained, x_test, y_test, runs=5, warmup=1)
    lite_eval = deploy.evaluate(files["int8"], x_test, y_test, runs=5, warmup=1)
    assert keras_eval.size == 4 * trained.count_params()
    assert lite_eval.size == len(files["int8"])
    for e in (keras_eval, lite_eval):
        assert e.accuracy == np.mean(e.probabilities.argmax(1) == y_test)
        assert e.latency_ms > 0 and e.throughput > 0 and e.runs == 5
    # the same model in batches of 64 instead of one batch: only the kernels' blocking differs,
    # so float32 rounding (parity.rounding_tolerance, relative to the logits' scale)
    import keras

    logits = np.asarray(keras.Model(trained.input, trained.layers[-1].input)(x_test))
    tolerance = parity.rounding_tolerance(mobilecnn.profile(
        "mobilenet_v1", alpha=0.25, image_size=IMAGE_SIZE, num_classes=10))
    assert np.abs(keras_eval.probabilities - np.asarray(trained(x_test, training=False))).max() \
        <= tolerance * max(1.0, float(np.abs(logits).max()))
    with pytest.raises(ValueError, match="runs must be a whole number >= 1"):
        deploy.evaluate(files["int8"], x_test, y_test, runs=0)
    with pytest.raises(ValueError, match="y its N labels"):
        deploy.evaluate(files["int8"], x_test, y_test[:-1])


@pytest.mark.parametrize("mode", deploy.MODES)
def test_stripping_names_keeps_the_model(files, data, mode):
    """strip_strings drops names only: smaller file, same predictions, no names left."""
    x_test = data[2]
    stripped = deploy.strip_strings(files[mode])
    assert len(stripped) < len(files[mode])
    full, small = deploy.TFLiteClassifier(files[mode]), deploy.TFLiteClassifier(stripped)
    assert np.array_equal(full.predict(x_test[:16]), small.predict(x_test[:16]))
    assert all(t.name == "" for t in small.tensors())


# ---- the TF Lite cache ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_result(tmp_path_factory):
    """A tiny trained run (a TrainResult, with its cache key), and a private cache folder."""
    from mobilecnn import train

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOBILECNN_CACHE", str(tmp_path_factory.mktemp("cache")))
        result = train.fit("mobilenet_v1", "keras", image_size=IMAGE_SIZE, alpha=0.25,
                           epochs=1, subset=64, seed=SEED, verbose=False)
    return result


@pytest.fixture
def conversions(monkeypatch, tmp_path):
    """The modes the converter is asked for, in order (a cache hit asks for none)."""
    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path / "cache"))
    calls = []
    real = deploy._converter

    def counting(tf, saved_model, mode, representative_data):
        calls.append(mode)
        return real(tf, saved_model, mode, representative_data)

    monkeypatch.setattr(deploy, "_converter", counting)
    return calls


def cached_files(tmp_path):
    folder = tmp_path / "cache" / "tflite"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_tflite_cache_converts_once_per_model_and_mode(run_result, conversions, data, tmp_path):
    representative = data[0][:50]
    first = deploy.convert_all(run_result, ("float32", "int8"), representative)
    assert conversions == ["float32", "int8"]
    names = cached_files(tmp_path)
    assert len(names) == 2 and all(run_result.key in n for n in names)
    assert [n for n in names if "_int8_" in n] and [n for n in names if "_float32_" in n]
    # Later calls, from convert or convert_all and in any order of modes, read the files.
    again = deploy.convert_all(run_result, ("int8", "float32"), representative)
    assert again == first and list(again) == ["int8", "float32"]
    assert deploy.convert(run_result, "float32") == first["float32"]
    assert conversions == ["float32", "int8"]
    # Only the missing mode is converted when some are cached.
    both = deploy.convert_all(run_result, ("float32", "float16"))
    assert both["float32"] == first["float32"] and conversions[2:] == ["float16"]
    # What it read is what a fresh conversion gives.
    fresh = deploy.convert(run_result, "int8", representative, cache=False)
    assert conversions[3:] == ["int8"]
    assert deploy.TFLiteClassifier(fresh).predict(data[2][:20]).tolist() == \
        deploy.TFLiteClassifier(first["int8"]).predict(data[2][:20]).tolist()
    assert len(cached_files(tmp_path)) == 3


@pytest.mark.slow
def test_tflite_cache_keys_on_what_decides_the_file(run_result, conversions, data, tmp_path):
    representative = data[0][:50]
    deploy.convert(run_result, "int8", representative)
    deploy.convert(run_result, "int8", data[0][50:100])          # other calibration images
    deploy.convert(run_result, "int8", representative, strip=True)
    assert conversions == ["int8", "int8", "int8"] and len(cached_files(tmp_path)) == 3
    # A model trained further after fit_or_load is another model (the weights are hashed).
    kernel = next(w for w in run_result.model.weights if "kernel" in w.path)
    original = np.asarray(kernel)
    try:
        kernel.assign(original * 1.5)
        deploy.convert(run_result, "int8", representative)
        assert conversions == ["int8"] * 4
    finally:
        kernel.assign(original)
    deploy.convert(run_result, "int8", representative)             # the original again: a hit
    assert conversions == ["int8"] * 4


def test_tflite_cache_needs_a_trained_run(trained, conversions, tmp_path):
    """A bare Keras model has no training run to key on: converted every time, nothing stored."""
    deploy.convert(trained, "float32")
    deploy.convert(trained, "float32")
    assert conversions == ["float32", "float32"] and cached_files(tmp_path) == []
