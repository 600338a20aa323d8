"""MobileNet v2's chapter: the ablation metaparameters, Figure 1's experiment, Table 3's memory
convention and the ablation benchmark (run on a tiny setting)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mobilecnn
from mobilecnn import experiments, memory, parity
from mobilecnn.architectures import mobilenet_v2
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


# ---- the ablation metaparameters ---------------------------------------------------------------

def _after_projection(p) -> list:
    """The kind of the layer after each projection's batch norm."""
    kinds = [r.kind for r in p.layers]
    return [kinds[i + 2] for i, r in enumerate(p.layers[:-2]) if r.name.endswith("_project")]


def test_defaults_are_the_papers_network():
    p = mobilecnn.profile("mobilenet_v2")
    assert dict(p.metaparams)["projection"] == "linear"
    assert dict(p.metaparams)["residual"] == "add"
    # 10 shortcuts: the blocks of Table 2 that keep stride 1 and width (17 blocks - 7 rows)
    assert sum(r.kind == "add" for r in p.layers) == 10
    after = _after_projection(p)
    assert len(after) == 17 and "relu6" not in after
    assert _after_projection(mobilecnn.profile("mobilenet_v2", projection="relu6")) == \
        ["relu6"] * 17


def test_ablations_change_activations_and_shortcuts_not_costs():
    base = mobilecnn.profile("mobilenet_v2", alpha=0.5)
    relu = mobilecnn.profile("mobilenet_v2", alpha=0.5, projection="relu6")
    plain = mobilecnn.profile("mobilenet_v2", alpha=0.5, residual="none")
    for p in (relu, plain):
        assert (p.params, p.trainable_params, p.macs) == (base.params, base.trainable_params,
                                                          base.macs)
    kinds = lambda p: [r.kind for r in p.layers]  # noqa: E731
    assert kinds(relu).count("relu6") == kinds(base).count("relu6") + 17
    assert kinds(plain).count("add") == 0 and kinds(base).count("add") == 10
    # without shortcuts no block input waits for an addition: never more memory alive
    assert plain.peak_activation_elements <= base.peak_activation_elements


@pytest.mark.parametrize("bad", [dict(projection="relu"), dict(residual=True),
                                 dict(residual="yes")])
def test_bad_ablation_values_name_the_parameter(bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=key):
        mobilecnn.profile("mobilenet_v2", **bad)


@pytest.mark.parametrize("meta", [dict(projection="relu6"), dict(residual="none")])
def test_ablated_networks_agree_in_all_three_views(meta):
    parity.check("mobilenet_v2", alpha=0.35, image_size=32, num_classes=10,
                           **meta).assert_ok()


def test_table_2_has_seventeen_blocks_in_seven_rows():
    rows = [r for r in mobilenet_v2.TABLE if r.kind == "inverted"]
    assert len(rows) == 7 and sum(r.repeats for r in rows) == 17
    printed = [r for r in mobilenet_v2.TABLE_2 if r[1] == "bottleneck"]
    assert [(t, c, n, s) for _, _, t, c, n, s in printed] == \
        [(r.expansion, r.channels, r.repeats, r.stride) for r in rows]
    blocks = {r.block for r in mobilecnn.profile("mobilenet_v2").layers}
    assert {f"block_{i}" for i in range(17)} <= blocks and "block_17" not in blocks


# ---- Figure 1: ReLU on a spiral ------------------------------------------------------------------

def test_relu_manifold_is_the_papers_map_and_invertible_points_are_recoverable():
    x = experiments.spiral(300)
    r = experiments.relu_manifold(x, 5, seed=3)
    t = np.random.default_rng(3).normal(size=(5, 2))      # the same seeded matrix
    relu = np.maximum(x @ t.T, 0)
    # float64 least squares on a 5x2 Gaussian matrix (condition number below 10): errors near
    # 1e-15; allclose's defaults (1e-5 relative, 1e-8 absolute) only say "the same numbers"
    assert np.allclose(r.recovered, relu @ np.linalg.pinv(t).T)
    # where at least 2 rows stay positive, those rows alone give the point back exactly
    active = relu > 0
    ok = active.sum(axis=1) >= 2
    assert r.invertible == pytest.approx(ok.mean()) and 0 < ok.mean() < 1    # a mean, float64
    for point, rows, y in zip(x[ok], active[ok], relu[ok]):
        assert np.allclose(np.linalg.pinv(t[rows]) @ y[rows], point)


def test_relu_manifold_by_hand_in_two_dimensions():
    """n = 2 with T = I: ReLU(x) itself; a point with both coordinates negative collapses."""
    x = np.array([[1.0, 2.0], [-1.0, 2.0], [-1.0, -2.0]])
    r = experiments.relu_manifold(x, 2, seed=0)
    t = np.random.default_rng(0).normal(size=(2, 2))
    assert np.allclose(r.recovered, np.linalg.solve(t, np.maximum(x @ t.T, 0).T).T)
    positive = (x @ t.T > 0).sum(axis=1)
    assert r.invertible == pytest.approx((positive >= 2).mean())
    assert r.collapsed == pytest.approx((positive == 0).mean())


def test_wider_embeddings_keep_the_spiral():
    sweep = experiments.relu_manifold_sweep(dims=(2, 3, 15, 30), seeds=range(10), points=300)
    mean = {n: np.mean([r.invertible for r in runs]) for n, runs in sweep.items()}
    assert mean[2] < 0.5 < mean[15]
    assert mean[2] < mean[3] < mean[15] <= mean[30] == 1.0
    assert all(r.collapsed > 0 for r in sweep[2])


@pytest.mark.parametrize("call", [lambda: experiments.spiral(1),
                                  lambda: experiments.relu_manifold(np.zeros(4), 3),
                                  lambda: experiments.relu_manifold(np.zeros((4, 2)), 0)])
def test_experiment_arguments_are_checked(call):
    with pytest.raises(ValueError):
        call()


# ---- Table 3: memory the paper's way ------------------------------------------------------------

def test_papers_max_memory_row_at_224_pixels():
    """1600K for MobileNet v1, 400K for v2 (16-bit activations; the paper rounds)."""
    v1, v2 = mobilecnn.profile("mobilenet_v1"), mobilecnn.profile("mobilenet_v2")
    assert memory.largest_tensor_bytes(v1, 16) == 112 * 112 * 64 * 2
    fused = mobilenet_v2.streamed_blocks(v2)
    assert memory.largest_tensor_bytes(v2, 16, fused) == 112 * 112 * 16 * 2
    for computed, printed in ((memory.largest_tensor_bytes(v1, 16), 1600),
                              (memory.largest_tensor_bytes(v2, 16, fused), 400)):
        assert abs(computed / 1000 - printed) / printed < 0.01
    # without streaming, v2's expanded tensors are materialized and it needs more than v1
    assert memory.largest_tensor_bytes(v2, 16) > memory.largest_tensor_bytes(v1, 16)


def test_streamed_units_keep_only_block_outputs():
    v2 = mobilecnn.profile("mobilenet_v2", alpha=0.5, rho=128 / 224)
    fused = mobilenet_v2.streamed_blocks(v2)
    assert fused[0] == ("conv1", "block_0") and len(fused) == 17
    kept = [t.layer for t in memory.materialized(v2, fused)]
    assert kept[:3] == ["input", "block_0_project", "block_1_project"]
    assert "block_2_add" in kept and "block_2_project" not in kept
    assert not any(k.endswith(("_expand", "_depthwise")) for k in kept)


def test_v1_rows_per_resolution():
    rows = memory.by_resolution(mobilecnn.profile("mobilenet_v1"), 16)
    assert [(h, c) for h, _, c, _ in rows] == [(224, 3), (112, 64), (56, 128), (28, 256),
                                               (14, 512), (7, 1024), (1, 1024)]
    assert rows[1][3] == 1_605_632


def test_memory_arguments_are_checked():
    p = mobilecnn.profile("mobilenet_v2")
    with pytest.raises(ValueError, match="bits"):
        memory.largest_tensor_bytes(p, 4)
    with pytest.raises(ValueError, match="no block"):
        memory.materialized(p, [("block_99",)])
    with pytest.raises(ValueError, match="two groups"):
        memory.materialized(p, [("block_1",), ("block_1", "block_2")])


# ---- the benchmark, on a tiny setting -----------------------------------------------------------

def _load_script():
    return load_benchmark("mobilenet_v2_ablation")


def test_ablation_script_writes_every_variant(tmp_path):
    script = _load_script()
    out = script.main(["--frameworks", "torch", "--seeds", "0", "--epochs", "1", "--subset", "64",
                       "--jobs", "1", "--out", str(tmp_path / "ablation.json")])
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert {(r["projection"], r["residual"]) for r in runs} == {
        ("linear", "add"), ("linear", "none"), ("relu6", "add"), ("relu6", "none")}
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["seconds"] > 0 for r in runs)
    assert len({(r["params"], r["macs"]) for r in runs}) == 1
    assert report["settings"]["epochs"] == 1 and report["provenance"]["machine"]["cpu"] and report["complete"]


def test_committed_ablation_results_cover_the_grid():
    path = ROOT / "benchmarks" / "results" / "mobilenet_v2_ablation.json"
    report = json.loads(path.read_text())
    runs = report["runs"]
    assert not any(r["smoke"] for r in runs)
    grid = {(r["framework"], r["projection"], r["residual"], r["seed"]) for r in runs}
    seeds = {r["seed"] for r in runs}
    assert len(seeds) >= 3 and len(grid) == len(runs) == 2 * 4 * len(seeds)
