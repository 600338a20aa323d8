"""IGCV1's L/M study (mobilecnn.igc_study, benchmarks/igcv_study.py), the IGC block's cost
formulas and the interleaved picture (grouped.interleaved_edges)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_fashion_mnist import needs_dataset

import mobilecnn
from mobilecnn import grouped, igc_study, stats
from mobilecnn.architectures import describe, igcv


# ---- the cost formulas ---------------------------------------------------------------------------
@pytest.mark.parametrize("L, M, size", [(2, 3, 8), (4, 8, 16), (24, 2, 32), (1, 16, 5), (16, 1, 7)])
def test_igc_block_macs_are_the_profilers(L, M, size):
    p = mobilecnn.profile("igcv1", primary_groups=L, secondary_groups=M, depth=8,
                          image_size=size if size >= 8 else 8)
    h, w = next(r.output_shape[:2] for r in p.layers if r.block == "stage1_block2")
    block = sum(r.macs for r in p.layers if r.block == "stage1_block2")
    assert block == igcv.igc_block_macs(L, M, h, w) == h * w * L * M * (9 * M + L)


@pytest.mark.parametrize("L, M", [(2, 2), (4, 8), (24, 2), (8, 1)])
def test_regular_width_has_the_same_weights(L, M):
    c = igcv.regular_width(L, M)
    assert 9 * c * c == pytest.approx(igcv.igc_block_params(L, M))
    # the seed's form, C^2 = G^2 (1/L + 1/(9M)), and C < G once L > 1
    assert c ** 2 == pytest.approx((L * M) ** 2 * (1 / L + 1 / (9 * M)))
    assert c < L * M


def test_regular_width_at_l_equal_one_is_wider_than_the_block():
    # L = 1: a regular 3x3 convolution plus a channel-wise 1x1; the equal-weight regular
    # convolution is (slightly) wider than the block: the case the seed's "always wider" excludes
    assert igcv.regular_width(1, 12) > 12


# ---- the interleaved picture ---------------------------------------------------------------------
@pytest.mark.parametrize("L, M", [(2, 3), (4, 2), (3, 5), (1, 6), (6, 1)])
def test_interleaved_edges_compose_to_the_library_block(L, M):
    layers = grouped.interleaved_edges(L, M)
    c = L * M
    product = np.eye(c, dtype=np.int64)
    for _, edges in layers:
        product = grouped.edges_matrix(edges, c) @ product
    net = describe("igcv1", primary_groups=L, secondary_groups=M, depth=8)
    assert (product == grouped.composed_connectivity(net, "stage1_block2")).all()
    assert (product == 1).all()                       # dense, exactly one path
    names = [n for n, _ in layers]
    assert names == ["primary", "permute", "secondary", "permute back"]
    assert len(layers[0][1]) == L * M * M and len(layers[2][1]) == M * L * L


def test_interleaved_edges_reject_bad_groups():
    with pytest.raises(ValueError, match="primary_groups"):
        grouped.interleaved_edges(0, 3)
    with pytest.raises(ValueError, match="secondary_groups"):
        grouped.interleaved_edges(2, 1.5)


def test_draw_interleaved_highlights_every_input_once():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = grouped.draw_interleaved(2, 3, highlight=4)
    from matplotlib.colors import same_color

    red = [ln for ln in ax.lines if len(ln.get_xdata()) == 2
           and same_color(ln.get_color(), "tab:red")]
    # one red edge per input channel in the primary layer, 2 + 1 + 1 on the later layers
    starts = sorted(ln.get_xdata()[0] for ln in red)
    assert starts.count(0) == 6 and starts.count(1) == 2 and starts.count(3) == 1
    plt.close("all")
    with pytest.raises(ValueError, match="highlight"):
        grouped.draw_interleaved(2, 3, highlight=6)


# ---- equal budgets -------------------------------------------------------------------------------
def test_equal_budget_picks_the_closest_m():
    settings = igc_study.equal_budget((1, 4, 16), 29_000, depth=8, image_size=16)
    for s in settings:
        assert s.width == s.primary_groups * s.secondary_groups
        p = mobilecnn.profile("igcv1", **s.metaparams(8), image_size=16, num_classes=10)
        assert s.params == p.trainable_params and s.macs == p.macs
        for other in (s.secondary_groups - 1, s.secondary_groups + 1):
            if other < 1:
                continue
            q = mobilecnn.profile("igcv1", primary_groups=s.primary_groups,
                                  secondary_groups=other, depth=8, image_size=16, num_classes=10)
            assert abs(q.trainable_params - 29_000) >= abs(s.params - 29_000)
    assert [s.width for s in settings] == sorted(s.width for s in settings)   # wider with L


def test_equal_budget_rejects_bad_input():
    with pytest.raises(ValueError, match="budget"):
        igc_study.equal_budget((1,), 0)
    with pytest.raises(ValueError, match="primary_groups"):
        igc_study.equal_budget((0,), 1000)


# ---- summary and finding -------------------------------------------------------------------------
Y = np.arange(2000) % 10


def _runs(means: dict, noise: float = 0.002, loss: float = 0.5, seed_effect=(0.0, 0.01, -0.01)):
    """Synthetic runs: each (L, M) gets per-seed accuracies mean + a shared seed effect + noise,
    and predictions with exactly that many right answers."""
    rng = np.random.default_rng(0)
    runs = []
    for (L, M), mean in means.items():
        for seed, effect in enumerate(seed_effect):
            acc = mean + effect + rng.normal(0, noise)
            right = rng.permutation(len(Y)) < round(acc * len(Y))
            predicted = np.where(right, Y, (Y + 1) % 10)
            runs.append({"metaparams": {"primary_groups": L, "secondary_groups": M, "depth": 8},
                         "seed": seed, "test_accuracy": float(right.mean()),
                         "test_loss": loss if mean > 0.2 else 2.30, "params": 1000,
                         "macs": 10, "predictions": "".join(map(str, predicted))})
    return runs


def test_rise_then_fall_is_found():
    runs = _runs({(1, 10): 0.70, (2, 7): 0.78, (8, 3): 0.82, (32, 1): 0.75})
    summary = igc_study.summarize(runs, Y)
    assert [r["label"] for r in summary["rows"]] == ["L = 1, M = 10", "L = 2, M = 7",
                                                     "L = 8, M = 3", "L = 32, M = 1"]
    assert len(summary["neighbours"]) == 3
    row = summary["rows"][0]
    interval = stats.mean_interval(row["test_accuracies"])
    assert row["mean"] == pytest.approx(interval.mean) and row["half"] == pytest.approx(
        interval.half)
    f = igc_study.finding(summary)
    assert f.best == "L = 8, M = 3" and f.rises and f.falls
    assert "up to a point" in f.sentence


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_known_null_gives_no_difference(noise):
    # equal means; the seed effect is shared by all settings and the per-run noise (if any) is
    # as large as any setting effect in the study: nothing to detect
    runs = _runs({(1, 10): 0.80, (4, 5): 0.80, (32, 1): 0.80}, noise=noise)
    f = igc_study.finding(igc_study.summarize(runs, Y))
    assert not f.rises and not f.falls
    assert "no difference we can detect between the extremes and the best setting" in f.sentence


def test_a_setting_that_did_not_train_is_named_and_left_out():
    runs = _runs({(1, 10): 0.10, (2, 7): 0.78, (8, 3): 0.82, (32, 1): 0.75})
    summary = igc_study.summarize(runs, Y)
    assert summary["rows"][0]["did_not_train"] == [0, 1, 2]
    f = igc_study.finding(summary)
    assert f.untrained == ("L = 1, M = 10",) and "Did not train" in f.sentence
    assert f.best == "L = 8, M = 3"


def test_the_neighbours_carry_both_tests():
    summary = igc_study.summarize(_runs({(1, 10): 0.70, (2, 7): 0.78}), Y)
    (n,) = summary["neighbours"]
    assert n["by_seed"]["significant"] and n["by_seed"]["better"] == "L = 2, M = 7"
    assert n["models"]["seed"] == 0 and n["models"]["significant"]


# ---- the script ----------------------------------------------------------------------------------
@needs_dataset
def test_smoke_run_of_the_study(root, tmp_path):
    out = tmp_path / "igc.json"
    env = dict(os.environ, MOBILECNN_THREADS="1", MOBILECNN_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "igcv_study.py"), "--smoke",
                           "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["complete"] and report["smoke"]
    assert {"provenance", "machine_details", "finding"} <= report.keys()
    assert {"command", "date", "machine", "versions"} <= report["provenance"].keys()
    runs = report["runs"]
    assert len(runs) == 4 and {r["seed"] for r in runs} == {0, 1}
    assert all(len(r["predictions"]) == 10000 for r in runs)
    assert len(report["summary"]["rows"]) == 2 and len(report["summary"]["neighbours"]) == 1


@needs_dataset
def test_committed_results(root):
    path = root / "benchmarks" / "results" / "igcv_study.json"
    report = json.loads(path.read_text())
    assert report["complete"] and not report["smoke"]
    assert {"command", "date", "machine"} <= report.keys()
    settings = report["settings"]
    assert len(settings["seeds"]) >= 3 and settings["subset"] == 10000
    for s in settings["settings"]:                       # the budget held within 15%
        assert abs(s["off"]) < 0.15
    # the maps the claim concerns: the last stage runs on at least 3x3
    p = mobilecnn.profile("igcv1", primary_groups=1, secondary_groups=10, depth=8,
                          image_size=settings["image_size"])
    assert min(r.output_shape[0] for r in p.layers if r.stage.startswith("stage")) >= 3
    for r in report["runs"]:
        assert len(r["predictions"]) == 10000
    summary = igc_study.summarize(report["runs"], _labels())
    assert report["finding"] == igc_study.finding(summary).sentence


def _labels():
    from mobilecnn import data

    _, (_, y) = data.load("fashion_mnist", 28)
    return y
