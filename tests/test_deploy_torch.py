"""mobilecnn.deploy_torch: PyTorch -> ONNX -> ONNX Runtime, float32 and int8, like the Keras path.

A PyTorch MobileNet v1 (alpha 0.25, 32 pixels) is trained for a few epochs with the book's
recipe at the start of this module (full mode whatever ``MOBILECNN_SMOKE`` says: agreement
between float and int8 means little on an untrained model) and exported once in both modes.
"""

import json
import os

import numpy as np
import pytest

import mobilecnn
import mobilecnn.data
from mobilecnn import deploy, deploy_torch, parity
from mobilecnn.data import to_channels_first
from test_deploy import IMAGE_SIZE, SEED, SMALL
from conftest import load_benchmark

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def data():
    """The book's digits (``mobilecnn.data.load``): what ``train.fit`` trains and tests on."""
    (x_train, y_train), (x_test, y_test) = mobilecnn.data.load("digits", image_size=IMAGE_SIZE)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained run (TrainResult) in a private cache, trained in full mode for 6 epochs."""
    from mobilecnn import train

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOBILECNN_SMOKE", "0")
        mp.setenv("MOBILECNN_CACHE", str(tmp_path_factory.mktemp("cache")))
        result = train.fit_or_load("mobilenet_v1", "torch", image_size=IMAGE_SIZE, alpha=0.25,
                                   epochs=6, seed=SEED, verbose=False)
    return result


@pytest.fixture(scope="module")
def trained(run):
    return run.model.eval()


@pytest.fixture(scope="module")
def files(trained, data):
    return deploy_torch.export_all(trained, representative_data=data[0][:200])


def torch_probabilities(module, x):
    with torch.inference_mode():
        return module(torch.from_numpy(to_channels_first(x))).numpy()


# ---- errors -------------------------------------------------------------------------------------

def test_unknown_mode_lists_the_modes():
    with pytest.raises(ValueError, match="'float32', 'int8'"):
        deploy_torch.export(object(), "float16")


def test_int8_needs_representative_data(trained):
    with pytest.raises(ValueError, match="representative_data"):
        deploy_torch.export(trained, "int8")
    with pytest.raises(ValueError, match=r"representative_data must be an array of shape "
                                         r"\(N, 32, 32, 3\)"):
        deploy_torch.export(trained, "int8", representative_data=np.zeros((4, 3, 32, 32)))


def test_export_rejects_other_models():
    with pytest.raises(ValueError, match="model must be a PyTorch module built by"):
        deploy_torch.export(torch.nn.Linear(3, 2), "float32")


# ---- every architecture, both modes -------------------------------------------------------------

# Known, not yet diagnosed: ONNX Runtime's static int8 quantization leaves the IGCV networks'
# files at 0.58 to 1.02 of the float file's size (their weights are not all quantized), so the
# "int8 file is under half the float file" check fails. Strict: the mark must go when it passes.
ONNX_INT8_NOT_SMALLER = {"igcv1", "igcv2", "igcv3"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="ONNX Runtime's int8 file is "
                                            "not under half the float file; not yet explained"))
    if n in ONNX_INT8_NOT_SMALLER else n for n in sorted(SMALL)])
def test_every_mode_exports_and_runs(name):
    torch.manual_seed(SEED)
    meta = dict(SMALL[name])
    module = mobilecnn.torch_model(name, num_classes=10, **meta).eval()
    # batch-norm statistics away from (0, 1), so that folding them into the kernels is
    # exercised, and every layer at unit scale (the premise of the tolerance below): the
    # shared random weights, set in the Keras twin and copied
    keras_twin = mobilecnn.keras_model(name, num_classes=10, **meta)
    parity.randomize_keras(keras_twin, seed=SEED)
    mobilecnn.copy_keras_to_torch(keras_twin, module)
    rng = np.random.default_rng(SEED)
    size = meta["image_size"]
    x = rng.uniform(size=(16, size, size, 3)).astype(np.float32)
    reference = torch_probabilities(module, x)
    files = deploy_torch.export_all(module, representative_data=x)
    assert list(files) == list(deploy_torch.MODES)
    outputs = {}
    for mode, onnx_bytes in files.items():
        classifier = deploy_torch.ONNXClassifier(onnx_bytes)
        assert classifier.image_shape == (size, size, 3) and classifier.num_classes == 10
        p = classifier.predict(x)
        assert p.shape == (16, 10) and p.dtype == np.float32
        # ONNX Runtime quantizes the softmax's output too: steps of 1/255
        # float32: ten terms, each within a few eps (1e-5 is 8x that); int8: ten outputs each
        # rounded by up to half a step, 0.02, plus the quantized softmax's own step per class
        assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5 if mode == "float32" else 0.05), mode
        outputs[mode] = p
    # ONNX Runtime against PyTorch: two float32 runs (softmax halves the logits' change)
    with torch.inference_mode():
        logits = module.feature_maps(torch.from_numpy(to_channels_first(x)))[
            module.nodes[-1].inputs[0]].numpy()
    tolerance = parity.rounding_tolerance(mobilecnn.profile(name, num_classes=10, **meta))
    assert np.abs(outputs["float32"] - reference).max() <= \
        tolerance * max(1.0, float(np.abs(logits).max()))
    float_ops = deploy_torch.ONNXClassifier(files["float32"]).operators()
    int8 = deploy_torch.ONNXClassifier(files["int8"])
    assert "QuantizeLinear" not in float_ops
    assert int8.operators()["QuantizeLinear"] > 0 and int8.operators()["DequantizeLinear"] > 0
    # the convolution kernels are stored as int8: a quarter of the float32 bytes, or less
    stored = int8.weight_bytes()
    assert stored["int8"] > 0.6 * stored.get("float32", 0)
    assert len(files["int8"]) < 0.5 * len(files["float32"])


# ---- a trained model ----------------------------------------------------------------------------

def test_trained_model_learned_something(trained, data):
    accuracy = np.mean(torch_probabilities(trained, data[2]).argmax(1) == data[3])
    assert accuracy > 0.6  # otherwise the agreement tests below would test little


def test_float_agrees_with_pytorch(trained, files, data):
    onnx_p = deploy_torch.ONNXClassifier(files["float32"]).predict(data[2])
    assert np.abs(onnx_p - torch_probabilities(trained, data[2])).max() < 1e-4


def test_int8_agrees_with_float(files, data):
    x_test, y_test = data[2], data[3]
    float_labels = deploy_torch.ONNXClassifier(files["float32"]).predict(x_test).argmax(1)
    int8_labels = deploy_torch.ONNXClassifier(files["int8"]).predict(x_test).argmax(1)
    assert np.mean(int8_labels == float_labels) >= 0.9
    assert abs(np.mean(int8_labels == y_test) - np.mean(float_labels == y_test)) <= 0.05


@pytest.mark.parametrize("mode", deploy_torch.MODES)
def test_batch_equals_single(files, data, mode):
    x = data[2][:23]
    classifier = deploy_torch.ONNXClassifier(files[mode], batch_size=8)  # chunks of 8, 8 and 7
    batched = classifier.predict(x)
    single = np.concatenate([classifier.predict(image[None]) for image in x])
    assert np.array_equal(batched, single)
    assert np.array_equal(deploy_torch.ONNXClassifier(files[mode], batch_size=64).predict(x),
                          single)


def test_predict_checks_its_input(files):
    classifier = deploy_torch.ONNXClassifier(files["int8"])
    with pytest.raises(ValueError, match=r"x must be a batch of images of shape \(N, 32, 32, 3\)"):
        classifier.predict(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="model must be ONNX bytes"):
        deploy_torch.ONNXClassifier(12)
    with pytest.raises(ValueError, match="num_threads"):
        deploy_torch.ONNXClassifier(files["int8"], num_threads=0)
    assert classifier.predict(np.zeros((0, 32, 32, 3), np.float32)).shape == (0, 10)


def test_classifier_reads_a_file(files, tmp_path, data):
    path = tmp_path / "model.onnx"
    path.write_bytes(files["int8"])
    from_file = deploy_torch.ONNXClassifier(path)
    assert from_file.size == len(files["int8"]) == os.path.getsize(path)
    assert np.array_equal(from_file.predict(data[2][:5]),
                          deploy_torch.ONNXClassifier(files["int8"]).predict(data[2][:5]))


def test_evaluate_measures_both_kinds_alike(trained, files, data):
    x_test, y_test = data[2][:100], data[3][:100]
    torch_eval = deploy_torch.evaluate(trained, x_test, y_test, runs=5, warmup=1)
    onnx_eval = deploy_torch.evaluate(files["int8"], x_test, y_test, runs=5, warmup=1)
    n_float = sum(v.numel() for v in trained.state_dict().values() if v.is_floating_point())
    assert torch_eval.size == 4 * n_float == 4 * mobilecnn.profile(
        "mobilenet_v1", alpha=0.25, image_size=IMAGE_SIZE, num_classes=10).params
    assert onnx_eval.size == len(files["int8"])
    assert (torch_eval.label, onnx_eval.label) == ("PyTorch", "ONNX Runtime")
    for e in (torch_eval, onnx_eval):
        assert isinstance(e, deploy.Evaluation)
        assert e.accuracy == np.mean(e.probabilities.argmax(1) == y_test)
        assert e.latency_ms > 0 and e.throughput > 0 and e.runs == 5
    assert np.allclose(torch_eval.probabilities, torch_probabilities(trained, x_test))
    with pytest.raises(ValueError, match="runs must be a whole number >= 1"):
        deploy_torch.evaluate(files["int8"], x_test, y_test, runs=0)


# ---- the ONNX cache -----------------------------------------------------------------------------

def test_onnx_cache_exports_once_per_model_and_mode(run, data, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path / "cache"))
    calls = []
    real_export, real_quantize = deploy_torch._export_float, deploy_torch.quantize_int8
    monkeypatch.setattr(deploy_torch, "_export_float",
                        lambda m: calls.append("export") or real_export(m))
    monkeypatch.setattr(deploy_torch, "quantize_int8",
                        lambda b, r: calls.append("quantize") or real_quantize(b, r))
    representative = data[0][:50]
    first = deploy_torch.export_all(run, representative_data=representative)
    assert calls == ["export", "quantize"]
    names = sorted(p.name for p in (tmp_path / "cache" / "onnx").iterdir())
    assert len(names) == 2 and all(run.key in n for n in names)
    again = deploy_torch.export_all(run, ("int8", "float32"), representative)
    assert again == first and calls == ["export", "quantize"]
    deploy_torch.export(run, "int8", data[0][50:100])        # other calibration images
    assert calls == ["export", "quantize", "quantize"]        # the float file came from the cache
    deploy_torch.export(run.model, "float32")                 # a bare module: no run to key on
    assert calls[-1] == "export" and len(list((tmp_path / "cache" / "onnx").iterdir())) == 3


# ---- PT2E post-training quantization and quantization-aware training -----------------------------

@pytest.mark.slow
def test_pt2e_ptq_and_qat_run_in_onnx_runtime(run, files, data):
    pytest.importorskip("torchao")
    x_train, y_train, x_test, y_test = data
    float_labels = deploy_torch.ONNXClassifier(files["float32"]).predict(x_test).argmax(1)
    float_accuracy = np.mean(float_labels == y_test)
    ptq = deploy_torch.pt2e_int8(run, x_train[:200])
    qat = deploy_torch.pt2e_int8(run, x_train[:200], x_train, y_train, epochs=1)
    labels = {}
    for kind, onnx_bytes in (("ptq", ptq), ("qat", qat)):
        classifier = deploy_torch.ONNXClassifier(onnx_bytes)
        assert classifier.operators()["QuantizeLinear"] > 0
        p = classifier.predict(x_test)
        assert np.allclose(p.sum(axis=1), 1.0, atol=1e-3)
        labels[kind] = p.argmax(1)
    # post-training: the float model's decisions, rounded
    assert np.mean(labels["ptq"] == float_labels) >= 0.9
    # QAT trains on (the fixture's model is short of converged, so its decisions move): it
    # must not lose accuracy, and it must have changed the weights
    assert np.mean(labels["qat"] == y_test) >= float_accuracy - 0.05
    assert ptq != qat
    with pytest.raises(ValueError, match="needs x_train and y_train"):
        deploy_torch.pt2e_int8(run, x_train[:200], epochs=1)


# ---- the benchmark script ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bench(root):
    return load_benchmark("deploy")


def test_benchmark_settings_are_the_architectures_small_settings(bench):
    """``Architecture.smoke``, except SqueezeNet: the SqueezeNet chapter's setting, which trains
    (see the script's docstring)."""
    assert list(bench.SETTINGS) == mobilecnn.list_architectures()
    for name, setting in bench.SETTINGS.items():
        if name != "squeezenet":
            assert setting == SMALL[name], name
    meta = {k: v for k, v in bench.SETTINGS["squeezenet"].items() if k != "image_size"}
    assert bench.SETTINGS["squeezenet"]["image_size"] >= mobilecnn.minimum_image_size(
        "squeezenet", **meta)


@pytest.mark.slow
def test_benchmark_script_runs_on_a_tiny_setting(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "deploy.json"
    bench.main(["--architectures", "mobilenet_v1", "--runs", "3", "--framework-runs", "2",
                "--qat", "mobilenet_v1", "--qat-epochs", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["smoke"] is True and result["threads"] >= 1
    assert result["provenance"]["machine"]["cores"] >= 1 and "deploy.py" in result["provenance"]["command"]
    runtimes = {(r["runtime"], r["mode"]) for r in result["rows"]}
    assert runtimes == {("Keras", "float32"), ("LiteRT", "float32"), ("LiteRT", "int8"),
                        ("PyTorch", "float32"), ("ONNX Runtime", "float32"),
                        ("ONNX Runtime", "int8")}
    for r in result["rows"]:
        assert r["bytes"] > 0 and 0 <= r["accuracy"] <= 1 and r["latency_ms"] > 0
        assert r["peak_activation_bytes_int8"] == mobilecnn.profile(
            "mobilenet_v1", alpha=0.25, image_size=32, num_classes=10).peak_activation_bytes(8)
    lite_int8 = next(r for r in result["rows"] if r["runtime"] == "LiteRT" and r["mode"] == "int8")
    assert 0 < lite_int8["stripped_bytes"] < lite_int8["bytes"]
    assert {c["runtime"] for c in result["checks"]} == {"LiteRT", "ONNX Runtime"}
    assert result["qat"][0]["architecture"] == "mobilenet_v1"
    assert {"pt2e_ptq", "pt2e_qat", "ort_float32", "ort_int8"} <= set(result["qat"][0])
