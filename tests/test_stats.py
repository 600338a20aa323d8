"""mobilecnn.stats: intervals over seeds, McNemar's exact test, the paired bootstrap, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mobilecnn import stats


def test_t_quantiles_match_the_printed_table():
    # Student's table (any statistics textbook): t_{0.975} for 1, 2, 4, 9 degrees of freedom.
    for df, printed in ((1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262)):
        assert stats.t_quantile(0.975, df) == pytest.approx(printed, abs=5e-4)   # 3 decimals
    assert stats.t_quantile(0.975, 10**6) == pytest.approx(1.95996, abs=1e-4)  # -> normal
    with pytest.raises(ValueError, match="df"):
        stats.t_quantile(0.975, 0)


def test_mean_interval_by_hand():
    interval = stats.mean_interval([0.90, 0.91, 0.92])
    # mean 0.91, sd 0.01, half = t(0.975, 2) * 0.01 / sqrt(3)
    assert interval.mean == pytest.approx(0.91, abs=1e-12)
    assert interval.sd == pytest.approx(0.01, abs=1e-12)
    assert interval.half == pytest.approx(stats.t_quantile(0.975, 2) * 0.01 / math.sqrt(3),
                                          rel=1e-12)
    assert (interval.low, interval.high) == pytest.approx((0.91 - interval.half,
                                                           0.91 + interval.half))
    assert interval.n == 3 and interval.text() == "91.0 ± 2.5"


def test_mean_interval_covers_the_true_mean_at_its_rate():
    """Over 2,000 simulated 3-seed experiments, the 95% interval covers the true mean in 95% of
    them; the bound is the binomial 99.9% interval around 95% of 2,000 (about +-1.6 points)."""
    rng = np.random.default_rng(0)
    runs = rng.normal(0.9, 0.01, (2000, 3))
    covered = sum(i.low <= 0.9 <= i.high for i in map(stats.mean_interval, runs))
    half = 3.29 * math.sqrt(0.95 * 0.05 / 2000)
    assert abs(covered / 2000 - 0.95) < half


def test_one_seed_has_no_interval():
    with pytest.raises(ValueError, match="values must hold at least 2"):
        stats.mean_interval([0.9])
    with pytest.raises(ValueError, match="confidence"):
        stats.mean_interval([0.9, 0.8], confidence=95)


def test_mcnemar_exact_by_hand():
    # 3 images only A got right, 0 only B: p = 2 * P(X <= 0 | n=3) = 2 / 8 = 0.25.
    a = np.array([1, 1, 1, 1, 0], bool)
    b = np.array([0, 0, 0, 1, 0], bool)
    test = stats.mcnemar(a, b)
    assert (test.only_a, test.only_b, test.n) == (3, 0, 5)
    assert test.p == pytest.approx(0.25, abs=1e-12)
    # 10 against 2: 2 * sum_{k<=2} C(12, k) / 2^12
    a = np.r_[np.ones(10), np.zeros(2), np.ones(50)].astype(bool)
    b = np.r_[np.zeros(10), np.ones(2), np.ones(50)].astype(bool)
    expected = 2 * sum(math.comb(12, k) for k in range(3)) / 2**12
    assert stats.mcnemar(a, b).p == pytest.approx(expected, rel=1e-9)
    assert stats.mcnemar(b, a).p == pytest.approx(expected, rel=1e-9)      # symmetric


def _null_pair(rng, n=1000):
    """Two classifiers of the same accuracy on the same images, wrong at random: each image
    has its own difficulty, and each classifier gets it right with that probability."""
    p = rng.uniform(0.6, 1.0, n)
    return rng.random(n) < p, rng.random(n) < p


def test_known_null_false_positive_rate():
    """400 simulated null pairs: the verdict calls a difference in about 5% of them, no more.

    McNemar's exact test is conservative (its size is at most alpha), so the count of false
    positives is at most binomial(400, 0.05): its 99.9% upper bound is 34 (5% + 3.29 standard
    deviations, sqrt(400 * 0.05 * 0.95) = 4.36). The lower bound, 1%, says the test is not
    degenerate (it still rejects sometimes).
    """
    rng = np.random.default_rng(0)
    rejected = sum(stats.verdict(*_null_pair(rng), samples=200).significant for _ in range(400))
    assert 4 <= rejected <= 34, rejected


def test_known_effect_is_found():
    rng = np.random.default_rng(1)
    n = 2000
    a = rng.random(n) < 0.80
    b = a | (rng.random(n) < 0.5)      # B fixes half of A's mistakes: +10 points expected
    v = stats.verdict(a, b, "A", "B")
    assert v.significant and v.better == "B" and v.p < 1e-6 and v.only_a == 0
    assert v.low > 0.05 and v.high < 0.15 and v.low < v.difference < v.high
    assert v.sentence.startswith(f"B is more accurate than A by {v.difference * 100:.1f} points")
    assert "McNemar p < 0.001" in v.sentence
    # The other way round: the same numbers, A named as the better one, interval positive.
    w = stats.verdict(b, a, "B", "A")
    assert w.better == "B" and w.difference == pytest.approx(-v.difference)
    assert w.sentence.startswith(f"B is more accurate than A by {v.difference * 100:.1f} points")
    assert f"CI {-w.high * 100:.1f} to {-w.low * 100:.1f}" in w.sentence


def test_all_agree():
    a = np.array([True, False, True, True])
    v = stats.verdict(a, a.copy(), "v1", "v2")
    assert v.p == 1.0 and v.difference == 0 and (v.low, v.high) == (0, 0)
    assert not v.significant and v.better is None
    assert v.sentence.startswith("no difference we can detect between v1 and v2")


def test_bootstrap_is_seeded_and_matches_the_index_bootstrap():
    rng = np.random.default_rng(2)
    a, b = rng.random(500) < 0.7, rng.random(500) < 0.75
    first = stats.paired_bootstrap(a, b, samples=4000, seed=5)
    assert first == stats.paired_bootstrap(a, b, samples=4000, seed=5)
    # The same interval as resampling the images one by one (the textbook bootstrap). Both are
    # estimates from 4,000 draws: the standard error of a 2.5% quantile is
    # sqrt(0.025 * 0.975 / 4000) / density ~ 0.0012 here (the difference's spread is 0.028),
    # 0.0017 for the gap between two estimates, and values move in steps of 1/500 = 0.002;
    # 0.006 is 3.5 standard errors.
    idx = np.random.default_rng(9).integers(0, 500, (4000, 500))
    boot = b[idx].mean(1) - a[idx].mean(1)
    assert first[1] == pytest.approx(np.quantile(boot, 0.025), abs=0.006)
    assert first[2] == pytest.approx(np.quantile(boot, 0.975), abs=0.006)
    assert first[0] == pytest.approx(b.mean() - a.mean())


@pytest.mark.parametrize("a, b, match", [
    ([1, 0, 1], [1, 0], "same test images"),
    ([[1, 0]], [[1, 0]], "correct_a must be a 1-D"),
    ([1, 2, 0], [1, 0, 0], "correct_a must hold booleans"),
])
def test_bad_inputs(a, b, match):
    with pytest.raises(ValueError, match=match):
        stats.verdict(a, b)


def test_correct_from_scores_or_labels():
    labels = np.array([0, 2, 1])
    scores = np.array([[0.9, 0.1, 0], [0.2, 0.3, 0.5], [0.6, 0.4, 0]])
    assert stats.correct(scores, labels).tolist() == [True, True, False]
    assert stats.correct([0, 1, 1], labels).tolist() == [True, False, True]


def test_seed_difference_paired_t():
    a = [0.70, 0.75, 0.72]
    same_shift = stats.seed_difference(a, [x + 0.02 for x in a], "old", "new")
    # Every seed gains exactly 2 points: sd 0, the interval is the point itself (to rounding).
    assert same_shift.significant and same_shift.better == "new"
    assert same_shift.interval.mean == pytest.approx(0.02)
    assert same_shift.sentence.startswith("new trains more accurate networks than old, by 2.0")
    noisy = stats.seed_difference(a, [0.74, 0.71, 0.73], "old", "new")
    # differences +4, -4, +1 points: mean +0.33, sd 4.04, half 4.30 * 4.04 / sqrt(3) = 10.0
    assert not noisy.significant and noisy.better is None
    assert noisy.interval.half == pytest.approx(stats.t_quantile(0.975, 2)
                                                * np.std([0.04, -0.04, 0.01], ddof=1)
                                                / math.sqrt(3))
    assert noisy.sentence.startswith("no difference we can detect between old and new")
    with pytest.raises(ValueError, match="one value per seed"):
        stats.seed_difference([0.7, 0.8], [0.7])
    with pytest.raises(ValueError, match="values must hold at least 2"):
        stats.seed_difference([0.7], [0.8])
