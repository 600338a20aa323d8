"""The statistics every experiment of the book reports: intervals over seeds, paired tests on images.

Three questions, three tools:

* **How much does a result move from seed to seed?** :func:`mean_interval`: the mean of a few
  runs (seeds) and its 95% confidence interval from Student's t distribution with ``n - 1``
  degrees of freedom (``mean +- t * sd / sqrt(n)``). With 3 seeds ``t`` is 4.30, not 1.96: three
  runs say little, and the interval says so.
* **Is classifier B more accurate than A on these test images?** Both classified the *same*
  images, so the comparison is paired: only the images on which they disagree carry
  information. :func:`mcnemar` is McNemar's exact test: of the ``b + c`` images exactly one of
  the two got right, ``b`` went to A; under "equally accurate" ``b`` is binomial
  ``(b + c, 1/2)``, and the two-sided p-value is twice the smaller tail (at most 1).
  :func:`paired_bootstrap` gives an interval for the accuracy difference by resampling test
  images (with replacement, the same images for both, seeded).
* **Does setting B train better networks than setting A?** :func:`verdict` compares two
  *trained models*; two runs of the same setting with different seeds already differ by
  several points on Fashion-MNIST after a short schedule, and McNemar calls that significant
  (it is: those two models differ). To compare two *settings*, train each with the same seeds
  and use :func:`seed_difference`: the per-seed differences, their mean and Student-t interval.
* **What do we say?** :func:`verdict` runs both and returns a :class:`Verdict` whose
  ``sentence`` reads "B is more accurate than A by 1.2 points (95% CI 0.4 to 2.0, McNemar
  p = 0.003)", or "no difference we can detect between A and B (...)" when McNemar's p is not
  below ``alpha``.

Only NumPy and SciPy (a dependency of scikit-learn, installed with the book) are used: SciPy's
``t.ppf`` for Student's quantiles and ``binom.cdf`` for McNemar's tail; both are imported when
called, so ``import mobilecnn.stats`` is as light as NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
BOOTSTRAP_SAMPLES = 10_000


def _check_confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return float(confidence)


def t_quantile(q: float, df: int) -> float:
    """Student's t quantile: the ``t`` with ``P(T <= t) = q`` for ``df`` degrees of freedom
    (``t_quantile(0.975, 2)`` = 4.303, the factor of a 95% interval over 3 seeds)."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be a whole number >= 1, got {df!r}")
    from scipy.stats import t

    return float(t.ppf(q, df))


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` runs and its confidence interval ``[low, high]`` (``mean +- half``)."""

    mean: float
    low: float
    high: float
    half: float
    sd: float
    n: int
    confidence: float

    def text(self, scale: float = 100.0, digits: int = 1, unit: str = "") -> str:
        """``"91.2 ± 0.8"`` (values times ``scale``; 100 turns accuracies into percent)."""
        return (f"{self.mean * scale:.{digits}f} ± {self.half * scale:.{digits}f}{unit}")


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` (one per seed) and its Student-t confidence interval.

    ``values`` needs at least two numbers: one run has no spread to estimate, and an interval
    from it would be a made-up number.
    """
    confidence = _check_confidence(confidence)
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) < 2:
        raise ValueError(f"values must hold at least 2 runs (seeds) to give an interval, got "
                         f"{len(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite numbers, got {x.tolist()}")
    n = len(x)
    sd = float(x.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    mean = float(x.mean())
    return Interval(mean, mean - half, mean + half, half, sd, n, confidence)


def _paired(correct_a, correct_b) -> tuple:
    """Two equally long 1-D boolean arrays (``True`` = that image was classified right)."""
    arrays = []
    for label, c in (("correct_a", correct_a), ("correct_b", correct_b)):
        c = np.asarray(c)
        if c.ndim != 1 or len(c) == 0:
            raise ValueError(f"{label} must be a 1-D array with one entry per test image, got "
                             f"shape {c.shape}")
        if c.dtype != bool:
            if not np.isin(c, (0, 1)).all():
                raise ValueError(f"{label} must hold booleans (or 0/1): whether each test image "
                                 f"was classified correctly")
            c = c.astype(bool)
        arrays.append(c)
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(f"correct_a and correct_b must cover the same test images, got "
                         f"{len(arrays[0])} and {len(arrays[1])} entries")
    return tuple(arrays)


def correct(predictions, labels) -> np.ndarray:
    """Per-image correctness: ``predictions`` (class indices, or ``(N, classes)`` scores) == labels."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions and labels must have one entry per image, got shapes "
                         f"{predictions.shape} and {labels.shape}")
    return predictions == labels


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``only_a`` images only A got right, ``only_b`` only B; ``p``."""

    only_a: int
    only_b: int
    n: int
    p: float


def mcnemar(correct_a, correct_b) -> McNemar:
    """McNemar's exact (binomial) two-sided test of "A and B are equally accurate" on paired
    per-image correctness. With no discordant image, ``p`` is 1."""
    a, b = _paired(correct_a, correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(0, 0, len(a), 1.0)
    from scipy.stats import binom

    p = min(1.0, 2.0 * float(binom.cdf(min(only_a, only_b), discordant, 0.5)))
    return McNemar(only_a, only_b, len(a), p)


def paired_bootstrap(correct_a, correct_b, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> tuple:
    """``(difference, low, high)``: accuracy of B minus accuracy of A, and its percentile
    bootstrap interval from ``samples`` resamplings of the test images (the same resampled
    images for both classifiers; ``seed`` fixes them)."""
    a, b = _paired(correct_a, correct_b)
    confidence = _check_confidence(confidence)
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 100:
        raise ValueError(f"samples must be a whole number >= 100, got {samples!r}")
    diff = b.astype(np.int8) - a.astype(np.int8)          # -1, 0 or +1 per image
    rng = np.random.default_rng(seed)
    n = len(diff)
    # Only the counts of -1 and +1 in a resample matter: draw them (multinomially) instead of
    # n indices per sample, which is the same distribution and far cheaper for 10,000 images.
    counts = np.array([np.sum(diff == -1), np.sum(diff == 0), np.sum(diff == 1)])
    draws = rng.multinomial(n, counts / n, size=samples)
    boot = (draws[:, 2] - draws[:, 0]) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return float(diff.mean()), float(low), float(high)


@dataclass(frozen=True)
class Verdict:
    """What :func:`verdict` concluded. ``difference`` is accuracy B minus accuracy A (a
    fraction), ``low``/``high`` its bootstrap interval, ``p`` McNemar's; ``better`` is the name
    of the more accurate classifier when ``significant``, else None."""

    a: str
    b: str
    accuracy_a: float
    accuracy_b: float
    difference: float
    low: float
    high: float
    p: float
    only_a: int
    only_b: int
    n: int
    significant: bool
    better: str | None
    confidence: float
    alpha: float
    sentence: str

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict(correct_a, correct_b, a: str = "A", b: str = "B", alpha: float = ALPHA,
            confidence: float = CONFIDENCE, samples: int = BOOTSTRAP_SAMPLES,
            seed: int = 0) -> Verdict:
    """Compare classifiers ``a`` and ``b`` on the same test images from their per-image
    correctness: McNemar's exact test decides (``p < alpha``), the paired bootstrap gives the
    interval of the difference, and the sentence states both in points (percent)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    ca, cb = _paired(correct_a, correct_b)
    test = mcnemar(ca, cb)
    diff, low, high = paired_bootstrap(ca, cb, samples, seed, confidence)
    significant = test.p < alpha
    interval = (f"{confidence:.0%} CI {low * 100:.1f} to {high * 100:.1f}, McNemar "
                f"{_p_text(test.p)}, {test.n:,} images")
    if significant:
        better, worse = (b, a) if diff > 0 else (a, b)
        if diff < 0:
            interval = (f"{confidence:.0%} CI {-high * 100:.1f} to {-low * 100:.1f}, McNemar "
                        f"{_p_text(test.p)}, {test.n:,} images")
        sentence = (f"{better} is more accurate than {worse} by {abs(diff) * 100:.1f} points "
                    f"({interval})")
    else:
        better = None
        sentence = (f"no difference we can detect between {a} and {b} ({b} - {a} = "
                    f"{diff * 100:+.1f} points, {interval})")
    return Verdict(a, b, float(ca.mean()), float(cb.mean()), diff, low, high, test.p,
                   test.only_a, test.only_b, test.n, significant, better, confidence, alpha,
                   sentence)


@dataclass(frozen=True)
class SeedDifference:
    """Setting B minus setting A, paired by seed: ``interval`` of the per-seed differences of
    accuracy; ``significant`` when it excludes 0; ``sentence`` says so in points."""

    a: str
    b: str
    differences: tuple
    interval: Interval
    significant: bool
    better: str | None
    sentence: str


def seed_difference(accuracies_a, accuracies_b, a: str = "A", b: str = "B",
                    confidence: float = CONFIDENCE) -> SeedDifference:
    """Compare two training settings run with the same seeds (``accuracies_a[i]`` and
    ``accuracies_b[i]`` from seed ``i``): the mean per-seed difference B - A and its Student-t
    interval (a paired t-test at level ``1 - confidence``)."""
    xa = np.asarray(accuracies_a, dtype=np.float64).ravel()
    xb = np.asarray(accuracies_b, dtype=np.float64).ravel()
    if len(xa) != len(xb):
        raise ValueError(f"accuracies_a and accuracies_b must hold one value per seed, the same "
                         f"seeds, got {len(xa)} and {len(xb)}")
    interval = mean_interval(xb - xa, confidence)
    significant = interval.low > 0 or interval.high < 0
    ci = (f"{confidence:.0%} CI {interval.low * 100:.1f} to {interval.high * 100:.1f} over "
          f"{interval.n} seeds")
    if significant:
        better, worse = (b, a) if interval.mean > 0 else (a, b)
        if interval.mean < 0:
            ci = (f"{confidence:.0%} CI {-interval.high * 100:.1f} to "
                  f"{-interval.low * 100:.1f} over {interval.n} seeds")
        sentence = (f"{better} trains more accurate networks than {worse}, by "
                    f"{abs(interval.mean) * 100:.1f} points ({ci})")
    else:
        better = None
        sentence = (f"no difference we can detect between {a} and {b} ({b} - {a} = "
                    f"{interval.mean * 100:+.1f} points, {ci})")
    return SeedDifference(a, b, tuple(float(d) for d in xb - xa), interval, significant, better,
                          sentence)
