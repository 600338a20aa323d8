"""costs.speedup_factors: the glued explanation of chapter 1's measured speed-up, in both cases
(effects in the same direction and in opposite directions), and its exact decomposition."""

import math

import pytest

from mobilecnn import costs

# The chapter's 14x14x512 layers: MACs from the library, not typed.
MACS = {kind: costs.total(costs.single_layer(kind, (14, 14, 512), 512))
        for kind in ("standard", "depthwise", "pointwise")}


def seconds_at(rates):
    """Times for given GMAC/s rates."""
    return {k: MACS[k] / (rates[k] * 1e9) for k in MACS}


def test_factors_multiply_to_the_measured_over_the_predicted_speedup():
    s = seconds_at({"standard": 80.0, "depthwise": 7.0, "pointwise": 50.0})
    f = costs.speedup_factors(MACS, s)
    # Exact algebra; the only error is float rounding of a few products (~1e-16 relative each).
    assert f["predicted"] * f["standard"] * f["depthwise"] == pytest.approx(f["measured"],
                                                                           rel=1e-12)
    assert f["predicted"] == pytest.approx(1 / (1 / 512 + 1 / 9), rel=1e-12)


def test_standard_faster_per_mac_pushes_the_same_way_as_a_slow_depthwise():
    """This build's case in the review: 3x3 at 123.5, 1x1 at 105.3 GMAC/s (Keras)."""
    f = costs.speedup_factors(MACS, seconds_at({"standard": 123.5, "depthwise": 10.0,
                                                "pointwise": 105.3}))
    assert costs.direction(f["standard"]) == "below"
    assert costs.direction(f["depthwise"]) == "below"
    assert f["directions"] == "the same direction"
    assert f["measured"] < f["predicted"]


def test_standard_slower_per_mac_pushes_the_other_way():
    f = costs.speedup_factors(MACS, seconds_at({"standard": 40.0, "depthwise": 10.0,
                                                "pointwise": 100.0}))
    assert costs.direction(f["standard"]) == "above"
    assert costs.direction(f["depthwise"]) == "below"
    assert f["directions"] == "opposite directions"
    assert math.isclose(f["standard"], 100.0 / 40.0)


def test_equal_rates_push_nowhere():
    f = costs.speedup_factors(MACS, seconds_at({"standard": 50.0, "depthwise": 50.0,
                                                "pointwise": 50.0}))
    assert f["standard"] == pytest.approx(1.0, rel=1e-12)
    assert f["measured"] == pytest.approx(f["predicted"], rel=1e-12)
    exact = costs.speedup_factors({"standard": 2, "depthwise": 1, "pointwise": 1},
                                  {"standard": 2.0, "depthwise": 1.0, "pointwise": 1.0})
    assert exact["directions"] == "no direction"
    one = costs.speedup_factors({"standard": 2, "depthwise": 1, "pointwise": 1},
                                {"standard": 2.0, "depthwise": 2.0, "pointwise": 1.0})
    assert one["directions"] == "one direction" and costs.direction(one["depthwise"]) == "below"


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="seconds.*missing pointwise"):
        costs.speedup_factors(MACS, {"standard": 1.0, "depthwise": 1.0})
    with pytest.raises(ValueError, match=r"macs must be positive.*depthwise"):
        costs.speedup_factors({**MACS, "depthwise": 0}, seconds_at(
            {"standard": 1.0, "depthwise": 1.0, "pointwise": 1.0}))


def test_faster_names_whichever_is_faster():
    assert costs.faster({"Keras": 1.0, "PyTorch": 2.2}) == ("Keras", "PyTorch", 2.2)
    fast, slow, ratio = costs.faster({"Keras": 3.0, "PyTorch": 1.5})
    assert (fast, slow) == ("PyTorch", "Keras") and ratio == 2.0
    with pytest.raises(ValueError, match="seconds"):
        costs.faster({"Keras": 1.0})
    with pytest.raises(ValueError, match="seconds"):
        costs.faster({"Keras": 1.0, "PyTorch": 0.0})


def test_single_layer_takes_a_nodes_stride_pair():
    """A node's stride attribute is a (height, width) pair; chapter 2 rebuilds layers from it."""
    (dw,) = costs.layers(costs.single_layer("depthwise", (14, 14, 8), stride=2))
    again = costs.single_layer("standard", dw.in_shape, 8, kernel=dw.attr("kernel"),
                               stride=dw.attr("stride"))
    assert costs.layers(again)[0].out_shape == dw.out_shape == (7, 7, 8)
    with pytest.raises(ValueError, match="stride"):
        costs.single_layer("standard", (14, 14, 8), 8, stride=0)
