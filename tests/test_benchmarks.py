"""benchmarks/train_digits.py: the table of fit's time against each framework's plain baseline.

``--quick`` trains a thin MobileNet for one epoch on 128 images in fresh processes (fit, then the
baselines); the PyTorch run takes seconds, the Keras one longer (TensorFlow's import and one trace
per process), so it is marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def script(root):
    return root / "benchmarks" / "train_digits.py"


@pytest.fixture(scope="module")
def bench(script):
    return load_benchmark("train_digits")


def run_quick(script, tmp_path, framework):
    out_json = tmp_path / "rows.json"
    env = dict(os.environ, MOBILECNN_THREADS="1", MOBILECNN_SMOKE="1",
               MOBILECNN_CACHE=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, str(script), "--quick", "--frameworks", framework,
                          "--json", str(out_json)], env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout, json.loads(out_json.read_text())


def check_row(row, framework, modes, bench):
    quick = bench.QUICK
    assert (row["name"], row["framework"]) == ("mobilenet_v1", framework)
    assert row["metaparams"] == quick["configs"]["mobilenet_v1"]
    # The worker dropped MOBILECNN_SMOKE: fit ran the quick setting, not smoke mode's own.
    assert not row["smoke"]
    assert (row["epochs"], row["images"], row["repeats"]) == (quick["epochs"], quick["subset"], 1)
    assert len(row["history"]) == quick["epochs"]
    for mode in modes:
        assert row[mode]["seconds"] > 0 and row[mode]["cpu_seconds"] > 0
        assert 0 <= row[mode]["test_accuracy"] <= 1
    for mode in modes[1:]:
        # the same division of the same two floats: approx's default (relative 1e-6) only
        # absorbs float64 rounding (1e-16)
        assert row[f"ratio_{mode}"] == pytest.approx(row["fit"]["seconds"] / row[mode]["seconds"])
        assert row[f"cpu_ratio_{mode}"] > 0


def test_quick_torch(script, bench, tmp_path):
    stdout, rows = run_quick(script, tmp_path, "torch")
    assert len(rows) == 1
    check_row(rows[0], "torch", ("fit", "plain", "plain-cl"), bench)
    assert "quick setting" in stdout and "fit/plain" in stdout
    line = next(l for l in stdout.splitlines() if l.startswith("mobilenet_v1"))
    assert f"{rows[0]['ratio_plain']:.2f}" in line and f"{rows[0]['ratio_plain-cl']:.2f}" in line


@pytest.mark.slow
def test_quick_keras(script, bench, tmp_path):
    stdout, rows = run_quick(script, tmp_path, "keras")
    check_row(rows[0], "keras", ("fit", "plain"), bench)
    line = next(l for l in stdout.splitlines() if l.startswith("mobilenet_v1"))
    assert "keras" in line and f"{rows[0]['ratio_plain']:.2f}" in line


def _run(mode, seconds, cpu, **kw):
    return {"name": "mobilenet_v1", "framework": "torch", "mode": mode, "image_size": 32,
            "metaparams": {"alpha": 0.5}, "epochs": 4, "images": 1437, "seconds": seconds,
            "cpu_seconds": cpu, "test_accuracy": 0.9, "smoke": False, "params": 1, "macs": 2,
            "history": [0.9], **kw}


def test_summary_takes_medians_and_ratios(bench):
    runs = [_run("fit", 10.0, 9.0), _run("plain", 8.0, 8.0), _run("plain-cl", 9.0, 9.0),
            _run("plain-cl", 11.0, 9.0), _run("plain", 9.0, 7.0), _run("fit", 30.0, 10.0),
            _run("fit", 12.0, 8.0), _run("plain", 10.0, 9.0), _run("plain-cl", 10.0, 10.0)]
    row = bench.summarize(runs)
    assert row["repeats"] == 3
    assert row["fit"]["seconds"] == 12.0 and row["plain"]["seconds"] == 9.0   # medians
    # ratios of medians in float64: approx's default (relative 1e-6) absorbs the last bit
    assert row["ratio_plain"] == pytest.approx(12.0 / 9.0)
    assert row["ratio_plain-cl"] == pytest.approx(12.0 / 10.0)
    assert row["cpu_ratio_plain"] == pytest.approx(9.0 / 8.0)
    with pytest.raises(ValueError, match="same network on the same data"):
        bench.summarize(runs + [_run("plain", 1.0, 1.0, images=128)])
