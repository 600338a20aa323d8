"""What the SqueezeNet chapter relies on: magnitude pruning, the compression stand-in, the size
arithmetic of Deep Compression, and the design-space benchmark on a tiny setting."""

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import mobilecnn
from mobilecnn import compress
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


# ---- pruning -------------------------------------------------------------------------------------

def test_magnitude_mask_keeps_the_largest_weights():
    w = np.array([[0.1, -5.0, 0.3], [2.0, -0.2, 0.0]])
    assert compress.magnitude_mask(w, 0.5).tolist() == [[False, True, True], [True, False, False]]
    assert compress.magnitude_mask(w, 1.0).all()
    assert compress.magnitude_mask(w, 1e-6).sum() == 1          # at least one weight survives


@pytest.mark.parametrize("density", [0.05, 1 / 3, 0.5, 0.9])
def test_magnitude_mask_keeps_exactly_the_share_asked_for(density):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 16, 24)).astype("float32")
    w.ravel()[:40] = 0.25                                       # ties at the threshold
    mask = compress.magnitude_mask(w, density)
    assert mask.shape == w.shape and mask.sum() == round(density * w.size)
    # every kept weight is at least as large as every dropped one
    assert np.abs(w[mask]).min() >= np.abs(w[~mask]).max()


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, True, "half", None])
def test_density_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match=r"density .*\(0, 1\]"):
        compress.magnitude_mask(np.ones(4), bad)


def test_pruned_copy_prunes_kernels_not_biases_and_leaves_the_model_alone():
    pytest.importorskip("keras")
    model = mobilecnn.keras_model("squeezenet", version="1.1", image_size=32, num_classes=10,
                                  base_e=32, incr_e=32)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    before = [w.copy() for w in model.get_weights()]
    copy, report = compress.pruned_copy(model, 0.25, skip=("conv1",))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    p = mobilecnn.profile("squeezenet", version="1.1", image_size=32, num_classes=10, base_e=32,
                          incr_e=32)
    convs = [r.name for r in p.layers if r.kind.startswith("conv")]
    assert sorted(report.layers) == sorted(convs)
    assert report.total == p.kernel_weights
    for layer in copy.layers:
        if layer.name not in report.layers:
            continue
        kernel, bias = (np.asarray(w) for w in layer.get_weights())
        kept, total = report.layers[layer.name]
        assert np.count_nonzero(kernel) == kept and kernel.size == total
        if layer.name == "conv1":
            assert kept == total
        else:
            assert kept == round(0.25 * total)
        assert np.count_nonzero(bias) == bias.size                 # biases untouched
    x = rng.uniform(size=(2, 32, 32, 3)).astype("float32")
    assert copy(x).shape == (2, 10)
    with pytest.raises(ValueError, match="skip"):
        compress.pruned_copy(model, 0.5, skip=("fire42_squeeze",))


# ---- sizes ---------------------------------------------------------------------------------------

def test_zlib_size_is_deflate_and_shrinks_zeros():
    rng = np.random.default_rng(2)
    noise = rng.integers(-128, 128, size=20_000, dtype=np.int8).tobytes()
    sparse = np.where(rng.random(20_000) < 1 / 3, rng.integers(-128, 128, 20_000), 0)
    sparse = sparse.astype(np.int8).tobytes()
    assert compress.zlib_size(noise) == len(zlib.compress(noise, 9))
    assert compress.zlib_size(noise) > 0.99 * len(noise)          # random bytes do not compress
    assert compress.zlib_size(sparse) < 0.6 * len(sparse)         # two thirds zeros do
    with pytest.raises(ValueError, match="bytes"):
        compress.zlib_size("text")


def test_the_papers_arithmetic():
    # 1,248,424 float32 weights: 4.99 MB, the paper's "4.8 MB" in MiB
    assert compress.PARAMS_BEFORE_PRUNING == mobilecnn.profile("squeezenet").params
    full = compress.storage_mb(compress.PARAMS_BEFORE_PRUNING, 32)
    assert round(full, 2) == 4.99 and round(full * 1e6 / 2**20, 1) == compress.PAPER_SIZES["none"][2]
    # dense 6-bit weights alone are 0.94 MB: without pruning there is no "< 0.5 MB"
    assert round(compress.storage_mb(compress.PARAMS_BEFORE_PRUNING, 6), 2) == 0.94
    # the kept third at 6 bits is 0.32 MB; the printed 0.47 MB leaves ~2.9 bits of index each
    density = compress.PARAMS_AFTER_PRUNING / compress.PARAMS_BEFORE_PRUNING
    assert round(density, 3) == 0.337
    kept = compress.storage_mb(compress.PARAMS_BEFORE_PRUNING, 6, density)
    assert abs(kept - compress.PARAMS_AFTER_PRUNING * 6 / 8 / 1e6) < 1e-9    # float64, ~0.3
    bits = compress.implied_bits(compress.PAPER_SIZES["6-bit"][2], compress.PARAMS_AFTER_PRUNING)
    assert 8.9 < bits < 9.0
    # "50x" and "510x" smaller than AlexNet's 240 MB
    assert round(compress.ALEXNET_MB / compress.PAPER_SIZES["none"][2]) == 50
    assert int(compress.ALEXNET_MB / compress.PAPER_SIZES["6-bit"][2]) == 510
    with pytest.raises(ValueError, match="bits"):
        compress.storage_mb(10, 0)
    with pytest.raises(ValueError, match="size_mb"):
        compress.implied_bits(0, 10)


# ---- the benchmark -------------------------------------------------------------------------------

def _bench():
    return load_benchmark("squeezenet_design_space")


def test_benchmark_studies_share_their_common_points():
    bench = _bench()
    plan = bench.studies()
    assert [s["SR"] for s in plan["SR"]] == list(bench.SQUEEZE_RATIOS)
    assert all(s["pct3x3"] == 0.5 and s["bypass"] == "none" for s in plan["SR"])
    assert all(s["SR"] == 0.5 for s in plan["pct3x3"])
    assert [s["bypass"] for s in plan["bypass"]] == ["none", "simple", "complex"]
    distinct = bench.distinct_settings(plan)
    # 3 + 3 + 3 points, of which SR=0.5/pct=0.5 and SqueezeNet itself are shared
    assert len(distinct) == 7 == len({bench.settings_key(s) for s in distinct})
    sizes = bench.model_size(**bench.BASE)
    assert sizes["paper_params"] == 1_248_424 and sizes["paper_mib"] == pytest.approx(4.762, 1e-3)


def test_benchmark_runs_on_a_tiny_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    out = tmp_path / "result.json"
    _bench().main(["--seeds", "0", "--squeeze-ratios", "0.125", "--pct3x3", "0.5",
                   "--bypasses", "none", "simple", "--subset", "64", "--jobs", "1",
                   "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["complete"] and result["settings"]["version"] == "1.1"
    runs = result["runs"]
    assert [(r["SR"], r["pct3x3"], r["bypass"]) for r in runs] == [
        (0.125, 0.5, "none"), (0.5, 0.5, "none"), (0.125, 0.5, "simple")]
    assert all(r["smoke"] and r["framework"] == "torch" and 0 <= r["test_accuracy"] <= 1
               for r in runs)
    params = {(r["SR"], r["bypass"]): r["params"] for r in runs}
    assert params[0.5, "none"] > params[0.125, "none"] == params[0.125, "simple"]
    assert result["studies"]["pct3x3"] == [[0.5, 0.5, "none"]]
