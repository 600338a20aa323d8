"""Tests of the helpers behind chapters 1 and 2: mobilecnn.costs and the paper-figure helpers."""

from __future__ import annotations

import math

import pytest

import mobilecnn
from mobilecnn import costs
from mobilecnn.architectures import mobilenet_v1
from mobilecnn.architectures.common import agrees, printed_precision
from mobilecnn.graph import Net

SHAPES = [((14, 14, 512), 512, 3, 1), ((15, 9, 24), 48, 3, 2), ((8, 8, 12), 36, 5, 1),
          ((7, 7, 1024), 1024, 3, 1), ((32, 32, 3), 32, 3, 2)]


def _out(h, stride):
    return -(-h // stride)


@pytest.mark.parametrize("shape,filters,kernel,stride", SHAPES)
def test_single_layer_costs_follow_the_closed_forms(shape, filters, kernel, stride):
    h, w, m = shape
    ho, wo, n, k = _out(h, stride), _out(w, stride), filters, kernel
    standard = costs.layers(costs.single_layer("standard", shape, n, k, stride))[0]
    assert standard.out_shape == (ho, wo, n)
    assert standard.weights == k * k * m * n
    assert standard.macs == ho * wo * k * k * m * n
    dw, pw = costs.layers(costs.single_layer("separable", shape, n, k, stride))
    assert (dw.weights, dw.macs) == (k * k * m, ho * wo * k * k * m)
    assert (pw.weights, pw.macs) == (m * n, ho * wo * m * n)
    sep = costs.total(costs.single_layer("separable", shape, n, k, stride))
    # an exact identity of integers, divided in float64: isclose's relative 1e-9 is rounding
    assert math.isclose(sep / standard.macs, 1 / n + 1 / k ** 2)


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_group_convolution_divides_by_groups(groups):
    net = costs.single_layer("group", (14, 14, 64), 128, 3, groups=groups)
    node = costs.layers(net)[0]
    full = costs.layers(costs.single_layer("standard", (14, 14, 64), 128, 3))[0]
    assert node.weights * groups == full.weights
    assert node.macs * groups == full.macs


def test_dense_layer_costs_one_mac_per_weight():
    node = costs.layers(costs.single_layer("dense", (1024,), 1000))[0]
    assert node.weights == node.macs == 1024 * 1000
    assert costs.memory_access(node) == 1024 + 1000 + 1024 * 1000


def test_memory_access_and_intensity_separate_depthwise_from_pointwise():
    dw, pw = costs.layers(costs.single_layer("separable", (14, 14, 512), 512))
    assert costs.memory_access(dw) == 2 * 14 * 14 * 512 + 9 * 512
    assert costs.arithmetic_intensity(dw) < 2 < costs.arithmetic_intensity(pw)
    relu = Net((4, 4, 8))
    relu.relu("input", name="r")
    assert costs.arithmetic_intensity(costs.layers(relu)[0]) == 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="deep", input_shape=(8, 8, 8), filters=8), "kind"),
    (dict(kind="standard", input_shape=(8, 8, 8), filters=None), "filters"),
    (dict(kind="standard", input_shape=(8, 8, 8), filters=0), "filters"),
    (dict(kind="dense", input_shape=(8, 8, 8), filters=4), "input_shape"),
    (dict(kind="depthwise", input_shape=(8, 8), filters=4), "input_shape"),
    (dict(kind="standard", input_shape=(8, 8, 8), filters=8, stride=0), "stride"),
    (dict(kind="group", input_shape=(8, 8, 6), filters=8, groups=4), "groups"),
])
def test_single_layer_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        costs.single_layer(**kwargs)


def test_total_rejects_unknown_key():
    with pytest.raises(ValueError, match="key"):
        costs.total(costs.single_layer("depthwise", (4, 4, 4)), "flops")


def test_paper_table_3_is_reproduced():
    for (kind, alpha, rho), (macs, params) in mobilenet_v1.TABLE_3.items():
        c = int(512 * alpha)
        size = round(14 * rho)
        net = costs.single_layer(kind, (size, size, c), c)
        assert agrees(costs.total(net, "macs") / 1e6, macs), (kind, alpha, rho)
        assert agrees(costs.total(net, "kernel_weights") / 1e6, params), (kind, alpha, rho)


def test_printed_precision():
    # half a unit of the last printed digit, computed in float64 (approx: relative 1e-6)
    assert printed_precision(4.2) == pytest.approx(0.05)
    assert printed_precision(569) == pytest.approx(0.5)
    assert printed_precision(0.27) == pytest.approx(0.005)
    assert agrees(4.21, 4.2) and not agrees(4.26, 4.2)


def test_layer_table_matches_paper_table_1():
    rows = costs.layer_table(mobilecnn.describe("mobilenet_v1"))
    assert (rows[0]["type"], rows[0]["filter"], rows[0]["input"]) == \
        ("Conv / s2", "3 \u00d7 3 \u00d7 3 \u00d7 32", "224 \u00d7 224 \u00d7 3")
    assert (rows[1]["type"], rows[1]["filter"]) == ("Conv dw / s1", "3 \u00d7 3 \u00d7 32 dw")
    convs = [r for r in rows if r["type"].startswith("Conv")]
    assert len(convs) == 28  # 1 full conv, 13 depthwise, 13 pointwise, 1 classifier conv
    last_dw = [r for r in rows if r["type"].startswith("Conv dw")][-1]
    assert last_dw["type"] == "Conv dw / s1" and last_dw["input"].startswith("7 \u00d7 7")
    assert rows[-1]["type"] == "Softmax"
    assert sum(r["macs"] for r in rows) == mobilecnn.profile("mobilenet_v1").macs


def test_describe_node_prints_group_convolutions_and_pools():
    net = Net((16, 16, 24))
    x = net.conv("input", 48, 1, groups=3, name="g")
    net.maxpool(x, 3, 2, name="pool")
    rows = costs.layer_table(net)
    assert rows[0]["type"] == "GConv g3 / s1" and rows[0]["filter"] == "1 \u00d7 1 \u00d7 8 \u00d7 48"
    assert rows[1]["type"] == "Max Pool / s2"




def test_single_layers_count_the_same_in_keras_and_torch():
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from mobilecnn import keras_backend, torch_backend

    for kind in costs.LAYER_KINDS:
        shape = (64,) if kind == "dense" else (6, 6, 8)
        net = costs.single_layer(kind, shape, 16, groups=2)
        km = keras_backend.build(net)
        tm = torch_backend.build(net)
        assert km.count_params() == costs.total(net, "params")
        assert sum(p.numel() for p in tm.parameters()) == costs.total(net, "weights")
