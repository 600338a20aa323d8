"""mobilecnn.microcontroller: boards, the flash estimate, the sweep over widths and resolutions."""

import json

import numpy as np
import pytest

import mobilecnn
from mobilecnn import microcontroller as mcu
from test_deploy import SMALL


@pytest.fixture(scope="module")
def committed(root):
    """The benchmark's stripped int8 LiteRT files: (profiles, sizes)."""
    results = json.loads((root / "benchmarks" / "results" / "deploy.json").read_text())
    rows = [r for r in results["rows"] if r["runtime"] == "LiteRT" and r["mode"] == "int8"]
    profiles = [mobilecnn.profile(r["architecture"], num_classes=10,
                                  **results["trained"][r["architecture"]]["setting"])
                for r in rows]
    return profiles, [r["stripped_bytes"] for r in rows]


def test_boards_and_budget():
    nano = mcu.BOARDS[0]
    assert (nano.mcu, nano.sram_bytes, nano.flash_bytes) == ("nRF52840", 256 * 1024, 1024 ** 2)
    assert mcu.BUDGET is nano
    assert [b.sram_bytes for b in mcu.BOARDS] == sorted(b.sram_bytes for b in mcu.BOARDS)
    assert all(b.source for b in mcu.BOARDS)
    assert "256 KB SRAM, 1 MB flash" in nano.label


def test_flash_features_count_what_int8_stores():
    prof = mobilecnn.profile("mobilenet_v1", alpha=0.25, image_size=32, num_classes=10)
    f = mcu.flash_features(prof)
    assert f["kernel_weights"] == prof.kernel_weights
    # MobileNet v1: 1 stem conv, 13 depthwise and 13 pointwise convs, 1 classifier (1x1 conv)
    weighted = [r for r in prof.layers if r.params > 0 and r.kind != "bn"]
    assert len(weighted) == 28
    assert f["channels"] == sum(r.output_shape[-1] for r in weighted)
    assert f["layers"] == len(prof.layers)


def test_fit_recovers_known_overheads():
    profiles = [mobilecnn.profile(name, num_classes=10, **SMALL[name]) for name in sorted(SMALL)]
    truth = mcu.FlashModel(per_channel=28.0, per_layer=55.0, fixed=3000.0)
    fitted = mcu.fit_flash_model(profiles, [truth(p) for p in profiles])
    assert fitted.per_channel == pytest.approx(28.0, abs=0.01)
    assert fitted.per_layer == pytest.approx(55.0, abs=0.05)
    assert fitted.fixed == pytest.approx(3000.0, abs=5)
    assert mcu.flash_estimate(profiles[0], fitted) == truth(profiles[0])
    with pytest.raises(ValueError, match="at least 3"):
        mcu.fit_flash_model(profiles[:2], [1, 2])


# The flash model (kernel weights + a cost per channel and per layer + a constant) misses what
# the IGCV networks' many channel shuffles store: each is a RESHAPE, TRANSPOSE, RESHAPE chain with
# its own int32 shape constants. On these two small networks that is 22% and 12% of the file;
# the model needs a per-shuffle term (not done yet). Listed so that the gap is shown, not hidden:
# the test below checks that these two are still outside 10%, so the list must go when fixed.
SHUFFLE_HEAVY = {"igcv1", "igcv2"}


def test_flash_model_fits_the_committed_files(committed):
    profiles, sizes = committed
    model = mcu.fit_flash_model(profiles, sizes)
    assert model.per_channel > 0  # an int32 bias and quantization parameters per channel
    outside = set()
    for prof, size in zip(profiles, sizes):
        if mcu.flash_estimate(prof, model) != pytest.approx(size, rel=0.10):
            outside.add(prof.name)
    assert outside == SHUFFLE_HEAVY & {p.name for p in profiles}, outside


@pytest.mark.slow
@pytest.mark.parametrize("name, setting", [
    ("mobilenet_v1", dict(alpha=0.5, image_size=64)),
    ("mobilenet_v3_small", dict(alpha=0.75, image_size=64)),
])
def test_flash_estimate_predicts_a_new_conversion(committed, name, setting):
    """Settings the model was not fitted on: convert an untrained network and compare."""
    import keras

    from mobilecnn import deploy

    model = mcu.fit_flash_model(*committed)
    keras.utils.set_random_seed(0)
    net = mobilecnn.keras_model(name, num_classes=10, **setting)
    size = setting["image_size"]
    x = np.random.default_rng(0).uniform(size=(8, size, size, 3)).astype(np.float32)
    stripped = len(deploy.convert(net, "int8", x, strip=True))
    estimate = mcu.flash_estimate(mobilecnn.profile(name, num_classes=10, **setting), model)
    assert estimate == pytest.approx(stripped, rel=0.15)


def test_grid_crosses_widths_and_resolutions():
    grid = mcu.grid("mobilenet_v1")
    alphas = {s["alpha"] for s in grid}
    assert alphas == set(mobilecnn.architecture("mobilenet_v1").metaparameters[0].grid)
    assert {s["image_size"] for s in grid} == {32, 64, 96, 128, 160, 192, 224}
    assert len(grid) == len(alphas) * 7
    squeeze = mcu.grid("squeezenet")     # no width knob; its smallest input is above 32
    assert all(set(s) == {"image_size"} for s in squeeze)
    assert min(s["image_size"] for s in squeeze) == mobilecnn.minimum_image_size("squeezenet")
    assert max(s["image_size"] for s in squeeze) == 227


def test_sweep_judges_both_budgets():
    model = mcu.FlashModel(per_channel=28.0, per_layer=50.0, fixed=2000.0)
    rows = mcu.sweep("mobilenet_v1", model, settings=[
        {"alpha": 0.25, "image_size": 32}, {"alpha": 0.25, "image_size": 224},
        {"alpha": 1.0, "image_size": 32}])
    small, high_res, wide = rows
    assert small["fits"] and small["fits_sram"] and small["fits_flash"]
    # 224 pixels: the first layers' activations alone exceed 256 KB at one byte each
    assert not high_res["fits_sram"] and high_res["fits_flash"] and not high_res["fits"]
    assert high_res["sram"] == mobilecnn.profile(
        "mobilenet_v1", alpha=0.25, image_size=224, num_classes=10).peak_activation_bytes(8)
    assert high_res["flash"] == small["flash"]       # the weights do not depend on resolution
    # alpha 1: 3.2 million weights do not fit 1 MB of flash
    assert not wide["fits_flash"] and wide["fits_sram"]
    # SRAM grows with resolution at every width
    for alpha in (0.25, 0.5, 1.0):
        sram = [r["sram"] for r in mcu.sweep("mobilenet_v1", model, settings=[
            {"alpha": alpha, "image_size": s} for s in (32, 96, 160, 224)])]
        assert sram == sorted(sram) and sram[0] < sram[-1]
