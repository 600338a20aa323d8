"""The library code of the MobileNet v3 chapter: ``mobilecnn.activations`` (swish and hard-swish,
their timing and int8 error), ``mobilecnn.search`` (the platform-aware reward, its kernel-free
widget and the NetAdapt pieces) and a smoke run of ``benchmarks/mobilenet_v3.py``."""

import json
from pathlib import Path

import numpy as np
import pytest

import mobilecnn
from mobilecnn import activations, search
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


# ---- activations --------------------------------------------------------------------------------

def test_hard_swish_is_the_papers_formula_and_keras():
    x = np.linspace(-10, 10, 2001)
    assert np.allclose(activations.hard_swish(x), x * np.clip(x + 3, 0, 6) / 6)
    assert np.all(activations.hard_swish(x[x <= -3]) == 0)
    assert np.array_equal(activations.hard_swish(x[x >= 3]), x[x >= 3])
    keras = pytest.importorskip("keras")
    ours = activations.hard_swish(x.astype("float32"))
    theirs = np.asarray(keras.activations.hard_swish(x.astype("float32")))
    # float32, |x| <= 10: a few roundings of values below 10 (spacing 9.5e-7); 1e-5 is 10 spacings
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.abs(activations.swish(x) - np.asarray(keras.activations.silu(x))).max() < 1e-5


def test_largest_gap_between_swish_and_hard_swish():
    x, gap = activations.largest_gap()
    grid = np.linspace(-8, 8, 16001)
    assert abs(gap) == pytest.approx(np.abs(activations.swish(grid)
                                            - activations.hard_swish(grid)).max())
    assert 0.1 < abs(gap) < 0.2 and -4 < x < 4      # close, but not the same function


def test_int8_error_is_bounded_by_the_quantization_steps():
    for name in ("swish", "hard_swish"):
        r = activations.int8_error(name)
        # half an output step, plus one input step (rounding, and the zero-point's nudge of the
        # range's ends) through the steepest slope (hard-swish: 1.5 at x = 3)
        assert r.max_error <= r.step / 2 + 1.5 * (16 / 255) + 1e-9
        assert r.mean_error < r.max_error
    exact = activations.int8_error("hard_swish", approximate=activations.hard_swish)
    assert exact.max_error == activations.int8_error("hard_swish").max_error
    # a crude integer sigmoid (a 16-entry table) makes swish's int8 error grow
    table = np.linspace(-8, 8, 16)
    crude = activations.int8_error(
        "swish", approximate=lambda v: v * np.interp(v, table, activations.sigmoid(table)))
    assert crude.max_error > activations.int8_error("swish").max_error


def test_timing_and_bad_names():
    t = activations.time_activation("hard_swish", elements=10_000, repeats=3)
    assert len(t.seconds) == 3 and t.ns_per_element > 0
    with pytest.raises(ValueError, match="name"):
        activations.time_activation("gelu")
    with pytest.raises(ValueError, match="elements"):
        activations.time_activation("swish", elements=0)
    with pytest.raises(ValueError, match="lo and hi"):
        activations.int8_error("swish", lo=1, hi=2)


# ---- the reward ---------------------------------------------------------------------------------

def test_reward_formula_and_choice():
    assert search.reward(75.0, 10.0, 10.0) == pytest.approx(75.0)
    assert search.reward(75.0, 20.0, 10.0, -0.15) == pytest.approx(75.0 * 2 ** -0.15)
    acc, lat = [70.0, 74.0, 75.0], [5.0, 10.0, 20.0]
    assert search.choose(acc, lat, 10.0, w=0.0) == 2          # no penalty: the most accurate
    assert search.choose(acc, lat, 10.0, w=-1.0) == 0         # a steep one: the fastest
    grid = search.reward_grid(acc, lat, [-1.0, 0.0], [5.0, 10.0, 20.0])
    assert grid.shape == (2, 3) and set(grid[1]) == {2}
    with pytest.raises(ValueError, match="target"):
        search.reward(70, 5, 0)
    with pytest.raises(ValueError, match="w must"):
        search.reward(70, 5, 5, w=0.3)


def test_reward_widget_is_self_contained():
    widget = search.reward_widget(["a", "b", "c"], [70.0, 74.0, 75.0], [5.0, 10.0, 20.0],
                                  uid="t1")
    page = widget.html()
    assert "http" not in page.replace('xmlns="http', "")   # no CDN, no remote script
    assert "np.float" not in page                           # plain numbers for the script
    data = json.loads(page.split('class="r-data">')[1].split("</script>")[0])
    assert data["grid"] == search.reward_grid(data["acc"], data["lat"], data["ws"],
                                              data["targets"]).tolist()
    assert widget.ws[widget.initial[0]] == pytest.approx(-0.15)
    with pytest.raises(ValueError, match="equal length"):
        search.reward_widget(["a"], [1.0, 2.0], [1.0])


# ---- NetAdapt's pieces --------------------------------------------------------------------------

def test_searched_net_is_mobilenet_v3_small():
    e = search.default_expansions()
    ref = mobilecnn.describe("mobilenet_v3_small", image_size=32, num_classes=10, dropout=0.0)
    expand = [n.out_shape[-1] for n in ref if n.name.endswith("_expand")]
    assert list(e[1:]) == expand and e[0] == 16
    ours = search.searched_net(e, 32)
    assert [(n.name, n.out_shape) for n in ours] == [(n.name, n.out_shape) for n in ref]
    thin = search.default_expansions(0.75)
    ref75 = mobilecnn.describe("mobilenet_v3_small", alpha=0.75, image_size=32, num_classes=10)
    assert list(thin[1:]) == [n.out_shape[-1] for n in ref75 if n.name.endswith("_expand")]
    with pytest.raises(ValueError, match="expansions"):
        search.searched_net(e[:3])
    with pytest.raises(ValueError, match=r"expansions\[2\]"):
        search.searched_net(e[:2] + (60,) + e[3:])


def test_block_net_costs_its_share_and_shrink():
    e = search.default_expansions()
    full = {n.name: n for n in search.searched_net(e, 224)}
    for index in (1, 5, 10):
        block = search.block_net(e, index, 224)
        assert sum(n.macs for n in block) == sum(
            n.macs for name, n in full.items() if name.startswith(f"expanded_conv_{index}_"))
    assert search.shrink(96) == 72 and search.shrink(16) == 8 and search.shrink(8) == 0
    assert all(search.shrink(w) % 8 == 0 for w in range(8, 600, 8))


def test_pruning_removes_exactly_the_dropped_channels():
    torch = pytest.importorskip("torch")
    from mobilecnn import torch_backend

    e = search.default_expansions()
    block, width = 2, search.shrink(e[2])                  # block 2: no squeeze-and-excite
    model = torch_backend.build(search.searched_net(e, 32)).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        prefix = f"expanded_conv_{block}_"
        dropped = torch.arange(width, e[block])
        model.layers[prefix + "expand"].weight[dropped] = 0        # smallest L1 norms
        model.layers[prefix + "project"].weight[:, dropped] = 0    # and no effect downstream
    small = torch_backend.build(search.searched_net(e[:block] + (width,) + e[block + 1:], 32))
    small.load_state_dict(search.pruned_state(model, small, block))
    small.eval()
    x = torch.rand(2, 3, 32, 32, generator=gen)
    with torch.no_grad():
        # zeroed channels add exact zeros, so only summation order differs: float32 rounding
        # of probabilities below 1 (spacing 6e-8); 1e-6 is 16 spacings
        assert torch.allclose(model(x), small(x), atol=1e-6)
    assert small.layers[prefix + "expand"].weight.shape[0] == width
    # a block with squeeze-and-excite prunes its hidden layer too, and loads
    se_block = 5
    e5 = e[:se_block] + (search.shrink(e[se_block]),) + e[se_block + 1:]
    small5 = torch_backend.build(search.searched_net(e5, 32))
    small5.load_state_dict(search.pruned_state(model, small5, se_block))


# ---- the benchmark script -----------------------------------------------------------------------

def test_benchmark_smoke(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    bench = load_benchmark("mobilenet_v3")
    out = bench.main(["--tiny", "--out", str(tmp_path / "r.json")])
    results = json.loads(out.read_text())
    assert set(results) == set(bench.PARTS)
    stage = results["last_stage"]
    assert stage["macs"]["original"] > stage["macs"]["efficient"]
    assert all(v > 0 for v in stage["latency_ms"]["original"])
    runs = results["quantization"]["runs"]
    assert [r["name"] for r in runs] == ["mobilenet_v2", "mobilenet_v3_small"]
    for run in runs:
        assert 0 <= run["int8_accuracy"] <= 1 and run["int8_bytes"] < run["float32_bytes"]
    na = results["netadapt"]
    assert len(na["proposals"]) == 2 and len(na["steps"]) in (1, 2)
    if len(na["steps"]) == 2:     # a proposal is accepted only if it saves time
        assert na["steps"][1]["latency_ms"] < na["steps"][0]["latency_ms"]
        assert na["steps"][1]["macs"] < na["steps"][0]["macs"]
    assert "final_test_accuracy" in na["steps"][-1] and na["steps"][-1]["whole_ms"] > 0
    assert results["netadapt"]["tiny"] is True and "mobilenet_v3.py" in results["netadapt"]["provenance"]["command"]
