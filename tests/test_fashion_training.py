"""The seeds' networks train on Fashion-MNIST in both frameworks (a smoke run of each).

A smoke run (``MOBILECNN_SMOKE=1``: one epoch on a stratified 256-image subset) cannot say what a
network reaches; it shows that the whole path works for every architecture: the IDX files read,
resized and given three channels, the network built at its small setting with ten classes, a
training step taken in Keras and in PyTorch, and all 10,000 test images classified. The
accuracies that mean something are in ``benchmarks/results/fashion_baseline.json``, whose
runs cover MobileNet v1 and v2, ShuffleNet v2 and SqueezeNet; this test covers the six networks
added from the seed texts (a smoke run costs about 13 s of CPU).
"""

import math

import numpy as np
import pytest

import mobilecnn
from mobilecnn import data, train

from test_fashion_mnist import needs_dataset

NAMES = ["xception", "effnet", "igcv1", "igcv2", "igcv3", "condensenet"]


@pytest.fixture(scope="module")
def fashion_test_labels():
    _, (_, y_test) = data.load("fashion_mnist", image_size=8)
    return y_test


@pytest.mark.slow
@needs_dataset
@pytest.mark.parametrize("framework", ["keras", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_trains_on_fashion_mnist(name, framework, monkeypatch, tmp_path, fashion_test_labels):
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path))
    setting = mobilecnn.architectures.get(name).smoke_setting
    size = setting.pop("image_size")
    result = train.fit(name, framework, dataset="fashion_mnist", image_size=size, **setting)
    assert result.dataset == "fashion_mnist" and result.smoke
    assert result.image_size == size and result.metaparams["num_classes"] == 10
    assert len(result.history["loss"]) == result.epochs >= 1
    assert all(math.isfinite(v) for v in result.history["loss"]), result.history
    # every one of the 10,000 test images was classified: the accuracy is a multiple of 1/10,000
    accuracy = result.test_accuracy
    assert 0.0 <= accuracy <= 1.0
    assert abs(accuracy * len(fashion_test_labels) - round(accuracy * len(fashion_test_labels))) \
        < 1e-6 * len(fashion_test_labels)
    assert len(fashion_test_labels) == 10_000 and set(np.unique(fashion_test_labels)) == set(range(10))
