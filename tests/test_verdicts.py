"""mobilecnn.verdicts: the mean-difference-against-spread rule, sweeps, untrained runs."""

import math

import pytest

from mobilecnn import verdicts


def test_paired_comparison_counts_wins_and_uses_the_spread_of_the_differences():
    a = [88.0, 84.0, 86.0]
    b = [53.0, 48.0, 37.0]
    c = verdicts.compare(a, b, paired=True)
    diffs = [35.0, 36.0, 49.0]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    assert c.difference == pytest.approx(mean)
    assert c.spread == pytest.approx(sd)
    assert (c.wins, c.pairs) == (3, 3)
    assert c.separated and c.direction == 1
    assert "beat" in c.sentence("linear", "ReLU6") and "3 of 3 pairs" in c.sentence("x", "y")


def test_data_pointing_the_other_way_gives_the_other_direction():
    a = [53.0, 48.0, 37.0]
    b = [88.0, 84.0, 86.0]
    c = verdicts.compare(a, b, paired=True)
    assert c.direction == -1 and c.wins == 0
    assert "fell behind" in c.sentence("a", "b")
    u = verdicts.compare(a, b)
    assert u.direction == -1


def test_null_case_is_within_the_spread():
    same = verdicts.compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], paired=True)
    assert same.difference == 0 and same.direction == 0 and not same.separated
    assert "within twice" in same.sentence("a", "b")
    # a difference of one point against a spread of several: not separated either way
    noisy = verdicts.compare([90.0, 95.0, 85.0], [91.0, 84.0, 92.0])
    assert abs(noisy.difference) < 2 * noisy.spread and noisy.direction == 0
    # zero spread, zero difference: still the null result, not a division by zero
    assert verdicts.compare([5.0, 5.0], [5.0, 5.0]).direction == 0


def test_unpaired_spread_is_the_root_sum_of_squares():
    c = verdicts.compare([0.0, 2.0], [10.0, 14.0])
    assert c.spread == pytest.approx(math.hypot(math.sqrt(2), math.sqrt(8)))
    assert c.wins is None and c.pairs is None
    s = verdicts.compare_summaries(3.0, 0.3, 1.0, 0.4)
    assert s.spread == pytest.approx(0.5) and s.direction == 1


def test_the_factor_decides_the_boundary():
    # difference 2, spread 1: separated at factor 1.5, not at factor 2 (not "> 2 * spread")
    assert verdicts.compare_summaries(2.0, 1.0, 0.0, 0.0, factor=1.5).separated
    assert not verdicts.compare_summaries(2.0, 1.0, 0.0, 0.0).separated


def test_trend_says_rises_only_when_every_step_is_separated():
    # chapter 4's SR line: 92.6 / 93.7 / 93.9 with spreads up to 4: not "rises at every step"
    t = verdicts.trend([92.6, 93.7, 93.9], [1.0, 4.0, 1.0])
    assert t.shape == "moves within the spread between seeds at every step"
    assert "within twice" in t.sentence("the squeeze ratio")
    up = verdicts.trend([50.0, 70.0, 90.0], [1.0, 1.0, 1.0])
    assert up.shape == "rises at every step" and up.overall.direction == 1
    down = verdicts.trend([90.0, 70.0, 50.0], [1.0, 1.0, 1.0])
    assert down.shape == "falls at every step" and down.overall.direction == -1
    mixed = verdicts.trend([50.0, 70.0, 70.5], [1.0, 1.0, 1.0])
    assert mixed.shape == "moves beyond the spread between seeds at 1 of 2 steps"


def test_did_not_train_is_measured_against_a_uniform_guess():
    assert verdicts.chance_loss(10) == pytest.approx(math.log(10))
    assert verdicts.did_not_train(2.30, 10)          # uniform guess
    assert verdicts.did_not_train(2.16, 10)          # 94% of ln 10
    assert not verdicts.did_not_train(0.44, 10)      # the trained network of chapter 3
    assert not verdicts.did_not_train(1.88, 10)      # learned something (82% of ln 10)
    assert verdicts.underfitting(0.78, 0.88) and not verdicts.underfitting(0.99, 0.90)


@pytest.mark.parametrize("call, name", [
    (lambda: verdicts.compare([1.0], [1.0, 2.0]), "at least 2"),
    (lambda: verdicts.compare([1.0, 2.0], [1.0, 2.0, 3.0], paired=True), "paired"),
    (lambda: verdicts.compare(["x", 1], [1.0, 2.0]), "a must"),
    (lambda: verdicts.compare([1.0, float("nan")], [1.0, 2.0]), "finite"),
    (lambda: verdicts.compare([1.0, 2.0], [1.0, 2.0], factor=0), "factor"),
    (lambda: verdicts.compare_summaries(1.0, -1.0, 0.0, 0.0), "std_a"),
    (lambda: verdicts.trend([1.0], [1.0]), "means and stds"),
    (lambda: verdicts.chance_loss(1), "classes"),
    (lambda: verdicts.did_not_train(-0.1, 10), "test_loss"),
    (lambda: verdicts.did_not_train(1.0, 10, fraction=1.5), "fraction"),
    (lambda: verdicts.underfitting(1.5, 0.5), "train_accuracy"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
