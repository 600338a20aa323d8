"""The book's one timing path: mobilecnn.latency."""

import numpy as np
import pytest

from mobilecnn import costs, latency


def small_net():
    return costs.single_layer("separable", (8, 8, 16), 16)


def test_time_calls_warms_up_then_times_each_call():
    calls = []
    seconds = latency.time_calls(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(seconds) == 4 and all(s >= 0 for s in seconds)
    with pytest.raises(ValueError, match="repeats"):
        latency.time_calls(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        latency.time_calls(lambda: None, warmup=-1)


def test_timing_statistics():
    t = latency.Timing("torch", (0.001, 0.002, 0.003, 0.004, 0.100), 1, 1)
    # the outlier does not move it; ms = 1000 * seconds in float64 (approx: relative 1e-6)
    assert t.median == 0.003 and t.ms == pytest.approx(3.0)
    even = latency.Timing("torch", tuple(0.001 * k for k in range(1, 9)), 1, 1)
    assert even.spread == pytest.approx((0.00675 - 0.00225) / 2 / 0.0045)
    assert np.isnan(latency.Timing("torch", (1.0,), 1, 1).spread)


def test_measure_a_net_in_torch_caps_and_restores_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    t = latency.measure(small_net(), "torch", repeats=3, warmup=1, threads=1)
    assert t.framework == "torch" and len(t.seconds) == 3 and t.median > 0 and t.threads == 1
    assert torch.get_num_threads() == before


def test_measure_reads_the_runtime_from_the_model():
    pytest.importorskip("torch")
    import mobilecnn

    module = mobilecnn.torch_model("mobilenet_v1", alpha=0.25, rho=32 / 224, num_classes=10)
    assert latency.runtime_of(module) == "torch"
    assert latency.measure(module, repeats=2, warmup=0, threads=1).framework == "torch"
    assert latency.runtime_of(b"\x00") == "tflite"
    with pytest.raises(ValueError, match="runtime is required"):
        latency.runtime_of(small_net())
    with pytest.raises(ValueError, match="cannot tell"):
        latency.runtime_of(object())


def test_measure_keras_and_tflite_float32_and_int8():
    pytest.importorskip("tensorflow")
    from mobilecnn import deploy, keras_backend

    net = small_net()
    assert latency.measure(net, "keras", repeats=2, warmup=1).framework == "keras"
    t = latency.measure(net, "tflite", repeats=2, warmup=1, threads=1)
    assert t.framework == "tflite" and t.threads == 1 and t.median > 0
    model = keras_backend.build(net)
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 16)).astype("float32")
    int8 = deploy.convert(model, "int8", representative_data=x, cache=False)
    assert latency.measure(int8, repeats=2, warmup=1).framework == "tflite"   # int8 input
    t4 = latency.measure(net, "tflite", batch=4, repeats=2, warmup=0)
    assert t4.batch == 4


def test_interleaved_alternates_models_and_keeps_every_call():
    pytest.importorskip("torch")
    order = []

    def fake_runner(model, runtime=None, **kw):
        return (lambda: order.append(model)), 1, (lambda: None)

    original = latency.runner
    latency.runner = fake_runner
    try:
        timings = latency.interleaved({"a": "A", "b": "B"}, "torch", rounds=3, repeats=2,
                                      warmup=1)
    finally:
        latency.runner = original
    assert order == ["A", "B"] + ["A", "A", "B", "B"] * 3
    assert {k: len(t.seconds) for k, t in timings.items()} == {"a": 6, "b": 6}


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="runtime"):
        latency.measure(small_net(), "jax")
    with pytest.raises(ValueError, match="threads"):
        latency.measure(small_net(), "torch", threads=0)
    with pytest.raises(ValueError, match="batch"):
        latency.measure(small_net(), "torch", batch=0)
    with pytest.raises(ValueError, match="rounds"):
        latency.interleaved({}, "torch", rounds=0)


def test_import_mobilecnn_latency_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys, mobilecnn.latency; "
            "print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
