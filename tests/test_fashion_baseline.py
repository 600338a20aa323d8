"""benchmarks/fashion_baseline.py on its smoke setting, and the committed results file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import load_benchmark
from test_fashion_mnist import needs_dataset

from mobilecnn import data, stats


@needs_dataset
def test_smoke_run_writes_predictions_and_intervals(root, tmp_path):
    out = tmp_path / "fashion.json"
    env = dict(os.environ, MOBILECNN_THREADS="1", MOBILECNN_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "fashion_baseline.py"),
                           "--smoke", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    bench = load_benchmark("fashion_baseline")
    assert report["complete"] and report["smoke"]
    assert {"command", "date", "machine", "machine_details"} <= report.keys()
    runs = report["runs"]
    assert [r["seed"] for r in runs] == bench.SMOKE["seeds"]
    _, (_, y_test) = data.load("fashion_mnist", 28)
    for r in runs:
        assert len(r["predictions"]) == r["test_images"] == 10000
        predicted = np.array([int(c) for c in r["predictions"]])
        # The stored predictions are the run's: they give its accuracy, image by image.
        assert r["test_accuracy"] == pytest.approx(stats.correct(predicted, y_test).mean())
    (row,) = report["summary"]["rows"]
    interval = stats.mean_interval([r["test_accuracy"] for r in runs])
    assert row["mean"] == pytest.approx(interval.mean) and row["half"] == pytest.approx(
        interval.half)
    assert "fashion_mnist" == runs[0]["dataset"] and "test accuracy" in done.stdout


def test_committed_results(root):
    path = root / "benchmarks" / "results" / "fashion_baseline.json"
    report = json.loads(path.read_text())
    assert report["complete"] and not report["smoke"]
    assert {"command", "date", "machine", "machine_details"} <= report.keys()
    assert not any(r["smoke"] for r in report["runs"])
    rows = report["summary"]["rows"]
    assert {(r["name"], r["framework"]) for r in rows} >= {
        (n, fw) for n in ("mobilenet_v1", "mobilenet_v2", "shufflenet_v2", "squeezenet")
        for fw in ("keras", "torch")}
    for r in rows:
        assert len(r["seeds"]) >= 3 and r["low"] <= r["mean"] <= r["high"]
        assert r["mean"] == pytest.approx(np.mean(r["test_accuracies"]))
    for run in report["runs"]:
        assert len(run["predictions"]) == 10000
