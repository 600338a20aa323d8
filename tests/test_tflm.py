"""mobilecnn.tflm: every architecture's int8 file in TensorFlow Lite for Microcontrollers.

Each architecture of the registry (``mobilecnn.list_architectures()``, so networks added later
are tested too) is built at its ``Architecture.smoke`` setting with random weights whose batch
norms take the statistics of random images (``keras_backend.calibrate_batchnorm``: without it the
activations of an untrained network die and the file computes nothing worth comparing), and
converted once for a microcontroller (int8, batch 1). Each file then loads into TFLM's own
interpreter, runs, and its arena is measured and set beside the analytic peak.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

import mobilecnn
from mobilecnn import microcontroller

pytest.importorskip("tflite_micro")
pytest.importorskip("tensorflow")

from mobilecnn import deploy, tflm  # noqa: E402

SEED = 0
CALIBRATION = 16
IMAGES = 8
NAMES = mobilecnn.list_architectures()


@pytest.fixture(scope="module")
def converted():
    """``converted(name)``: :func:`mobilecnn.tflm.untrained_file` of ``name`` at its smoke
    setting (the file, its profile, its calibration images), converted once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = tflm.untrained_file(name, seed=SEED, calibration=CALIBRATION)
        return cache[name]

    return get


def litert_reference(model_bytes, q):
    """LiteRT's int8 outputs with its reference kernels (no XNNPACK), one image per call."""
    return tflm.litert_outputs(model_bytes, q, reference=True)


# One quantization step. TFLM's kernels are copies of TF Lite's reference kernels: the same
# integer arithmetic (int32 accumulation, fixed-point requantization with the same rounding), so
# the two interpreters agree exactly on every file and image of this module as it stands. One
# run with other random weights gave a single one-step difference in ShuffleNet v1's output
# that could not be traced to an operator; more than one step would mean different arithmetic.
# LiteRT's default kernels (XNNPACK) requantize in floating point and differ by many steps on
# these untrained networks (benchmarks/tflm.py reports it), so they are not the reference here.
STEPS = 1


@pytest.mark.parametrize("name", NAMES)
def test_every_architecture_runs_in_tflm_as_in_litert(converted, name):
    model_bytes, prof, images = converted(name)
    tflm.check_file(model_bytes)                      # int8 in and out, batch fixed at one
    assert "SHAPE" not in tflm.operators(model_bytes)
    q = deploy.TFLiteClassifier(model_bytes).quantize_input(images[:IMAGES])
    micro = tflm.run(model_bytes, q).astype(int)
    lite = litert_reference(model_bytes, q).astype(int)
    assert micro.shape == (IMAGES, 10)
    assert np.abs(micro - lite).max() <= STEPS
    assert len(set(map(tuple, micro))) > 1            # the images give different outputs


@pytest.mark.parametrize("name", NAMES)
def test_arena_beside_the_analytic_peak(converted, name):
    model_bytes, prof, _ = converted(name)
    arena = tflm.arena(model_bytes)
    assert arena.head_bytes + arena.tail_bytes == arena.total_bytes
    d = tflm.difference(model_bytes, prof, arena)
    assert d.analytic == prof.peak_activation_bytes(8)
    assert d.analytic + d.kept_alive + d.alignment + d.planner == d.head == arena.head_bytes
    assert d.requantization + d.other_persistent + d.records == d.tail == arena.tail_bytes
    # No planner fits tensors that are alive together into fewer bytes than their sum, and TFLM
    # shares no buffer between two such tensors; rounding up never shrinks a buffer.
    assert d.planner >= 0 and d.alignment >= 0
    # The per-channel requantization data is in the kernels' persistent buffers (8 bytes per
    # convolution output channel), beside some small per-kernel structs.
    assert d.requantization > 0 and d.other_persistent > 0
    # On this 64-bit host a TfLiteEvalTensor (two pointers and an enum) takes 24 bytes, one per
    # tensor of the file; on a 32-bit microcontroller it takes 12.
    evals = arena.allocation("TfLiteEvalTensor data")
    schema, model = tflm._model(model_bytes)
    assert evals.count == model.Subgraphs(0).TensorsLength()
    assert evals.used_bytes == 24 * evals.count
    assert arena.tail_32bit_estimate_bytes < arena.tail_bytes


def test_nothing_the_interpreter_prints_reaches_the_descriptors(converted, capfd):
    model_bytes, _, images = converted(NAMES[0])
    capfd.readouterr()
    arena = tflm.arena(model_bytes)
    tflm.run(model_bytes, deploy.TFLiteClassifier(model_bytes).quantize_input(images[:1]))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert "RecordingMicroAllocator" in arena.report      # what TFLM printed was captured


def test_operator_tflm_lacks_is_a_value_error_naming_it():
    import keras

    keras.utils.set_random_seed(SEED)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Activation("gelu")(keras.layers.Conv2D(4, 3)(x))
    y = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(y))
    images = np.random.default_rng(SEED).uniform(size=(8, 8, 8, 3)).astype("float32")
    model_bytes = tflm.convert(keras.Model(x, y), images, cache=False)
    assert "GELU" in tflm.operators(model_bytes)        # LiteRT has an int8 GELU; TFLM has not
    with pytest.raises(ValueError, match="no kernel for GELU"):
        tflm.interpreter(model_bytes)


def test_softmax_scale_below_tflm_limit_is_a_value_error_not_an_abort():
    import keras

    x = keras.Input((4, 4, 3))
    y = keras.layers.Dense(3, kernel_initializer="zeros", activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(x))     # constant logits: an empty range
    images = np.random.default_rng(SEED).uniform(size=(8, 4, 4, 3)).astype("float32")
    model_bytes = tflm.convert(keras.Model(x, y), images, cache=False)
    with pytest.raises(ValueError, match=r"2\*\*-26"):
        tflm.interpreter(model_bytes)


def test_check_file_rejects_a_dynamic_batch_and_float_input():
    import keras

    x = keras.Input((4, 4, 3))
    y = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(x, y)
    images = np.random.default_rng(SEED).uniform(size=(8, 4, 4, 3)).astype("float32")
    dynamic = deploy.convert(model, "int8", images, cache=False)
    with pytest.raises(ValueError, match="dynamic batch.*SHAPE"):
        tflm.check_file(dynamic)
    with pytest.raises(ValueError, match="input 0 is float32, not int8"):
        tflm.check_file(deploy.convert(model, "float32", cache=False, batch=1))
    tflm.check_file(tflm.convert(model, images, cache=False))


def test_c_array_is_what_xxd_writes(converted, tmp_path):
    model_bytes = converted(NAMES[0])[0]
    source = tflm.c_array(model_bytes, "g_model")
    assert source.startswith("alignas(16) const unsigned char g_model[] = {\n")
    assert f"const unsigned int g_model_len = {len(model_bytes)};" in source
    values = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", source))
    assert values == model_bytes
    if shutil.which("xxd"):
        path = tmp_path / "g_model"
        path.write_bytes(model_bytes)
        xxd = subprocess.run(["xxd", "-i", "g_model"], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout
        ours = source.replace("alignas(16) const ", "").replace("const unsigned int",
                                                                "unsigned int")
        assert ours == xxd
    with pytest.raises(ValueError, match="C identifier"):
        tflm.c_array(model_bytes, "2model")


def test_op_resolver_registers_each_operator_once(converted):
    model_bytes = converted(NAMES[0])[0]
    ops = tflm.operators(model_bytes)
    code = tflm.op_resolver(model_bytes)
    assert f"tflite::MicroMutableOpResolver<{len(ops)}> op_resolver;" in code
    assert [line.split(".")[1] for line in code.splitlines() if line.startswith("op_resolver.")] \
        == [tflm.resolver_method(op) + "();" for op in ops]
    # Method names as TFLM's micro_mutable_op_resolver.h spells them.
    for op, method in (("CONV_2D", "AddConv2D"), ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"),
                       ("AVERAGE_POOL_2D", "AddAveragePool2D"), ("HARD_SWISH", "AddHardSwish"),
                       ("FULLY_CONNECTED", "AddFullyConnected"), ("L2_POOL_2D", "AddL2Pool2D"),
                       ("BATCH_TO_SPACE_ND", "AddBatchToSpaceNd"), ("PADV2", "AddPadV2"),
                       ("SPLIT_V", "AddSplitV"), ("STRIDED_SLICE", "AddStridedSlice"),
                       ("CUMSUM", "AddCumSum")):
        assert tflm.resolver_method(op) == method


def test_camera_pixels_are_the_int8_input_minus_128(converted):
    model_bytes = converted(NAMES[0])[0]
    pixels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(tflm.quantize_pixels(model_bytes, pixels),
                          (pixels.astype(int) - 128).astype(np.int8))
    with pytest.raises(ValueError, match="uint8"):
        tflm.quantize_pixels(model_bytes, pixels.astype(float))


def test_device_need_adds_the_runtime_the_bootloader_and_the_stack():
    board = microcontroller.BUDGET
    need = microcontroller.device_need(300_000, 50_000, 2e6, board)
    assert need["flash_bytes"] == 300_000 + microcontroller.RUNTIME_FLASH + 64 * 1024
    assert need["sram_bytes"] == 50_000 + microcontroller.STACK_SRAM
    assert need["latency_ms_estimate"] == pytest.approx(
        1000 * 2e6 / (board.macs_per_cycle * board.clock_hz))
    big = microcontroller.device_need(board.flash_bytes, 0, 1, board)
    assert not big["fits_flash"] and not big["fits"] and big["fits_sram"]
    with pytest.raises(ValueError, match="arena_bytes"):
        microcontroller.device_need(1, -1, 1, board)


def test_core_throughput_is_known_or_refused():
    m7 = microcontroller.macs_per_cycle("Cortex-M7")
    rates = [a.macs_per_cycle for a in microcontroller.ANCHORS]
    assert min(rates) <= m7 <= max(rates)
    assert microcontroller.macs_per_cycle("Cortex-M4F") == m7 / 2
    with pytest.raises(ValueError, match="core must be one of"):
        microcontroller.macs_per_cycle("Cortex-M0")


def test_benchmark_writes_its_results_on_a_tiny_setting(tmp_path):
    from conftest import load_benchmark

    bench = load_benchmark("tflm")
    out = tmp_path / "tflm.json"
    assert bench.main(["--architectures", "mobilenet_v1", "--image-size", "32", "--no-anchors",
                       "--out", str(out)]) == 0
    import json

    doc = json.loads(out.read_text())
    assert {"command", "date", "machine", "versions", "rows", "executorch"} <= set(doc)
    assert doc["versions"]["tflite-micro"]
    (row,) = doc["rows"]
    assert row["architecture"] == "mobilenet_v1" and row["operators"][0] == "CONV_2D"
    assert row["arena"]["head_bytes"] + row["arena"]["tail_bytes"] == row["arena"]["total_bytes"]
    assert row["peak_activation_bytes_int8"] == mobilecnn.profile(
        "mobilenet_v1", num_classes=10, **row["setting"]).peak_activation_bytes(8)
    nano = row["boards"][microcontroller.BUDGET.name]
    assert nano["sram_bytes"] == (row["arena_total_32bit_estimate_bytes"]
                                  + microcontroller.STACK_SRAM)
