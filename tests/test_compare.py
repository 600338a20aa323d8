"""The comparison chapter's library: settings, Pareto front, budgets, and the page's view."""

import json
import math
import pathlib

import pytest

import mobilecnn
from mobilecnn import compare

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEPLOY = json.loads((ROOT / "benchmarks" / "results" / "deploy.json").read_text())


def test_closest_setting_is_closest_on_a_log_scale():
    for name in mobilecnn.list_architectures():
        for target in (40e6, 150e6):
            best = compare.closest_setting(name, target)
            macs = mobilecnn.profile(name, num_classes=1000, **best).macs
            for other in compare.microcontroller.grid(name):
                m = mobilecnn.profile(name, num_classes=1000, **other).macs
                # a tie (two settings equally far) differs only by the logs' float64
                # rounding, 1e-16 of values below 10; 1e-12 absorbs that and nothing else
                assert abs(math.log(macs / target)) <= abs(math.log(m / target)) + 1e-12
    with pytest.raises(ValueError, match="target_macs"):
        compare.closest_setting("mobilenet_v1", 0)


def test_default_setting_is_the_paper_network():
    s = compare.default_setting("mobilenet_v1")
    assert s == {"alpha": 1.0, "image_size": 224}
    # the paper's Table 1 prints 569 million Mult-Adds: agreement to its printed digits
    assert round(mobilecnn.profile("mobilenet_v1", **s).macs / 1e6) == 569
    assert compare.default_setting("squeezenet") == {"image_size": 227}


def test_comparable_settings_cover_every_architecture_and_class():
    rows = compare.comparable_settings()
    names = mobilecnn.list_architectures()
    assert len(rows) == len(names) * len(compare.CLASSES)
    forty = [r for r in rows if r["class"] == "~40M MACs"]
    assert all(20e6 < r["macs"] < 80e6 for r in forty)
    assert all(r["peak_activation_bytes_int8"] > 0 and r["params"] > 0 for r in rows)


def test_digits_settings_read_the_deploy_results():
    untrained = compare.untrained_names(DEPLOY)
    trained = [n for n in mobilecnn.list_architectures() if n not in untrained]
    assert set(untrained).isdisjoint(DEPLOY["trained"]) and set(trained) <= set(DEPLOY["trained"])
    rows = compare.digits_settings(DEPLOY, trained)
    assert [r["architecture"] for r in rows] == trained
    v1 = rows[0]
    assert v1["setting"] == DEPLOY["trained"]["mobilenet_v1"]["setting"]
    assert v1["accuracy_keras"] == DEPLOY["trained"]["mobilenet_v1"]["keras"]["test_accuracy"]
    assert v1["accuracy_torch"] == DEPLOY["trained"]["mobilenet_v1"]["torch"]["test_accuracy"]
    with pytest.raises(ValueError, match="smoke"):
        compare.digits_settings({**DEPLOY, "smoke": True})
    with pytest.raises(ValueError, match="not in the deploy results"):
        compare.digits_settings({**DEPLOY, "trained": {}})


def test_pareto_front():
    points = [(1, 50), (2, 60), (2, 55), (3, 58), (0.5, 40), (4, 70), (4, 70)]
    assert compare.pareto_front(points) == [4, 0, 1, 5]
    assert compare.pareto_front([]) == []


def row(**kw):
    base = {"architecture": "a", "class": "c", "setting_text": "s", "macs": 1e6,
            "int8_bytes": 100 * 1024, "peak_activation_bytes_int8": 50 * 1024,
            "tflm_arena_32bit_bytes": 60 * 1024}
    base.update({f"latency_ms {r}": 1.0 for r in compare.RUNTIMES})
    base.update(kw)
    return base | compare.device_fields(base)


def test_fits_tests_all_three_budgets():
    r = row(**{"latency_ms TF Lite int8": 3.0})
    flash, sram = r["flash_bytes"], r["sram_bytes"]
    assert compare.fits(r, "TF Lite int8", 3.0, flash, sram)
    assert not compare.fits(r, "TF Lite int8", 2.9, flash, sram)
    assert not compare.fits(r, "Keras", 10, flash - 1, sram)
    assert not compare.fits(r, "Keras", 10, flash, sram - 1)
    board = compare.microcontroller.BUDGET
    assert compare.fits(r, compare.BOARD_ESTIMATE, board.latency_estimate_ms(1e6), flash, sram)
    assert not compare.fits(r, compare.BOARD_ESTIMATE, 0.99 * board.latency_estimate_ms(1e6),
                            flash, sram)
    with pytest.raises(ValueError, match="runtime"):
        compare.fits(r, "ONNX", 1, 1, 1)


def test_budget_view_marks_what_fits_and_checks_its_arguments():
    rows = (row(architecture="small"), row(architecture="big", int8_bytes=4096 * 1024))
    view = compare.BudgetView(rows, "a test machine", latency_ms=100, flash_kb=1024, sram_kb=256)
    assert [r["architecture"] for r in view.fitting()] == ["small"]
    page = view.html()
    assert page.count('class="mb-fit"') == 1 and page.count('class="mb-out"') == 1
    assert '<span data-shows="count">1</span> of 2' in page and "a test machine" in page
    with pytest.raises(ValueError, match="latency_ms must be one of"):
        compare.BudgetView(rows, "m", latency_ms=3)
    with pytest.raises(ValueError, match="flash_kb"):
        compare.BudgetView(rows, "m", flash_kb=1000)
    with pytest.raises(ValueError, match="runtime"):
        compare.BudgetView(rows, "m", runtime="ONNX")


def test_table_measures_every_row(monkeypatch):
    seen = []

    def fake_measure(name, setting, num_classes, **timing):
        seen.append((name, num_classes, timing))
        return {f"latency_ms {r}": 1.0 for r in compare.RUNTIMES} | {"int8_bytes": 1}

    monkeypatch.setattr(compare, "measure", fake_measure)
    rows = compare.table(DEPLOY, ["mobilenet_v1"], rounds=1)
    assert [r["class"] for r in rows] == ["digits (trained)"] + [c for c, _ in compare.CLASSES]
    assert seen[0] == ("mobilenet_v1", 10, {"rounds": 1}) and seen[1][1] == 1000
    assert rows[1]["setting_text"] == "alpha=1, 224 px"


def test_measure_one_small_setting():
    pytest.importorskip("tensorflow")
    pytest.importorskip("torch")
    m = compare.measure("mobilenet_v1", {"alpha": 0.25, "image_size": 32}, 10, rounds=1,
                        repeats=2, warmup=1)
    assert m["int8_bytes"] < m["float32_bytes"]
    assert all(m[f"latency_ms {r}"] > 0 and m[f"threads {r}"] >= 1 for r in compare.RUNTIMES)


def test_benchmark_script_prints_the_table_on_a_tiny_setting(tmp_path):
    import os
    import subprocess
    import sys

    out_json = tmp_path / "rows.json"
    env = dict(os.environ, MOBILECNN_THREADS="1")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"),
                          "--architectures", "mobilenet_v1", "--classes", "--rounds", "1",
                          "--repeats", "1", "--warmup", "0", "--json", str(out_json)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["class"] for r in rows] == ["digits (trained)"]
    line = next(l for l in out.stdout.splitlines() if l.startswith("digits (trained)"))
    assert rows[0]["setting_text"] in line
    assert f"{rows[0]['latency_ms TF Lite int8']:.2f}" in line


def test_probe_nets_isolate_one_operator():
    ops = {t: [n.op for n in compare.probe_net(t, (8, 8, 16)) if n.op != "input"]
           for t in compare.PROBE_TAILS}
    assert ops["none"] == ["conv"]
    assert ops["hard_swish"] == ["conv", "hard_swish"] and ops["relu"] == ["conv", "relu"]
    assert "multiply" in ops["squeeze_excite"] and ops["squeeze_excite"][0] == "conv"
    with pytest.raises(ValueError, match="tail must be one of"):
        compare.probe_net("gelu")


def test_operator_probe_times_both_files():
    pytest.importorskip("tensorflow")
    rows = compare.operator_probe(("relu", "hard_swish"), (8, 8, 16), rounds=1, repeats=2)
    assert [r["tail"] for r in rows] == ["relu", "hard_swish"]
    for r in rows:
        assert r["float32_us"] > 0 and r["int8_us"] > 0
        # the same division of the same floats (approx: relative 1e-6, float64 rounding)
        assert r["speedup"] == pytest.approx(r["float32_us"] / r["int8_us"])
