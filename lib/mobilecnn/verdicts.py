"""Verdicts on small multi-seed experiments, worded from the numbers (pure Python).

The architecture chapters train a few variants over a few seeds and then say whether one
variant beat another. That sentence must follow from the measurement, so it is computed here,
once, and every chapter glues its result:

* :func:`compare` and :func:`compare_summaries` set a mean difference against the spread
  between seeds. The rule the chapters state is descriptive, not a significance test: a
  difference counts as *separated* when it is larger than ``factor`` (2) times the standard
  deviation of a single difference (of the paired differences when runs are paired by seed,
  otherwise the root sum of squares of the two samples' standard deviations). Two single runs
  whose noise is normal differ by more than twice that standard deviation about 5% of the time.
  With three seeds this is not a test at any stated level; the chapters say so.
* :func:`trend` applies the same rule to each step of a line of means (a sweep), so that "rises
  at every step" is said only when every step is separated.
* :func:`did_not_train` flags runs that learned (almost) nothing: test loss close to
  ``ln(classes)``, the cross-entropy of a uniform guess, which any network reaches by predicting
  nothing. Such a run measures trainability with the recipe, not the effect a paper claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The rule of the chapters: separated means larger than twice the spread of one difference.
FACTOR = 2.0


def _numbers(values, name: str) -> list:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise ValueError(f"{name} must hold finite numbers, got {out!r}")
    return out


def _mean(xs: list) -> float:
    return sum(xs) / len(xs)


def _std(xs: list) -> float:
    """Sample standard deviation (n - 1), as pandas' ``std``; 0 for one value."""
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _check_factor(factor) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"factor must be a number > 0, got {factor!r}")
    return float(factor)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``: ``difference`` is mean(a) - mean(b); ``spread`` the standard
    deviation of one difference; ``wins`` and ``pairs`` count the pairs in which a > b (paired
    comparisons only, else ``None``)."""

    mean_a: float
    mean_b: float
    spread: float
    factor: float = FACTOR
    wins: int | None = None
    pairs: int | None = None

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def separated(self) -> bool:
        """The difference is larger than ``factor`` times the spread (and not zero)."""
        return self.difference != 0 and abs(self.difference) > self.factor * self.spread

    @property
    def direction(self) -> int:
        """+1 if a is higher and separated, -1 if b is, 0 if the difference is within the
        spread (the null result)."""
        if not self.separated:
            return 0
        return 1 if self.difference > 0 else -1

    def sentence(self, a: str, b: str, unit: str = " points") -> str:
        """One sentence, e.g. "linear beat ReLU6 by +20.1 points, more than twice the spread
        between seeds (3.2), in 6 of 6 pairs"."""
        d = self.difference
        times = "twice" if self.factor == 2 else f"{self.factor:g} times"
        if self.direction > 0:
            head = f"{a} beat {b} by {d:+.1f}{unit}, more than {times} the spread between seeds"
        elif self.direction < 0:
            head = (f"{a} fell behind {b} by {d:+.1f}{unit}, more than {times} the spread "
                    "between seeds")
        else:
            head = (f"{a} and {b} differ by {d:+.1f}{unit}, within {times} the spread between "
                    "seeds")
        tail = f" ({self.spread:.1f})"
        if self.pairs is not None:
            tail += f", {a} ahead in {self.wins} of {self.pairs} pairs"
        return head + tail


def compare(a, b, paired: bool = False, factor: float = FACTOR) -> Comparison:
    """:class:`Comparison` of two samples of a measurement (e.g. test accuracy per seed).

    ``paired=True``: ``a[i]`` and ``b[i]`` share a seed (same data order, same initialization
    scheme); the spread is then the standard deviation of the differences ``a[i] - b[i]``, and
    the pairs in which ``a`` is higher are counted. Otherwise the spread is
    ``hypot(std(a), std(b))``, the standard deviation of the difference of two single runs.
    Raises ``ValueError`` for fewer than two values per sample or unequal lengths when paired.
    """
    factor = _check_factor(factor)
    a, b = _numbers(a, "a"), _numbers(b, "b")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a and b need at least 2 values each to have a spread, got "
                         f"{len(a)} and {len(b)}")
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired=True needs a and b of equal length, got {len(a)} and "
                             f"{len(b)}")
        diffs = [x - y for x, y in zip(a, b)]
        return Comparison(_mean(a), _mean(b), _std(diffs), factor,
                          wins=sum(d > 0 for d in diffs), pairs=len(diffs))
    return Comparison(_mean(a), _mean(b), math.hypot(_std(a), _std(b)), factor)


def compare_summaries(mean_a: float, std_a: float, mean_b: float, std_b: float,
                      factor: float = FACTOR) -> Comparison:
    """:func:`compare` (unpaired) from means and standard deviations already computed."""
    factor = _check_factor(factor)
    mean_a, std_a, mean_b, std_b = _numbers((mean_a, std_a, mean_b, std_b), "the summaries")
    if std_a < 0 or std_b < 0:
        raise ValueError(f"std_a and std_b must be >= 0, got {std_a!r} and {std_b!r}")
    return Comparison(mean_a, mean_b, math.hypot(std_a, std_b), factor)


@dataclass(frozen=True)
class Trend:
    """A line of means (a sweep): each step, and first against last, as :class:`Comparison`."""

    steps: tuple
    overall: Comparison

    @property
    def shape(self) -> str:
        """"rises at every step" / "falls at every step" only when every step is separated in
        that direction; otherwise how many steps are separated."""
        directions = [s.direction for s in self.steps]
        if all(d > 0 for d in directions):
            return "rises at every step"
        if all(d < 0 for d in directions):
            return "falls at every step"
        moved = sum(d != 0 for d in directions)
        if moved == 0:
            return "moves within the spread between seeds at every step"
        return f"moves beyond the spread between seeds at {moved} of {len(directions)} steps"

    def sentence(self, label: str, unit: str = " points") -> str:
        o = self.overall
        times = "twice" if o.factor == 2 else f"{o.factor:g} times"
        size = "more than" if o.separated else "within"
        return (f"Along {label}, mean accuracy {self.shape}: {o.difference:+.1f}{unit} from the "
                f"first point to the last, {size} {times} the spread between seeds at the two "
                f"ends ({o.spread:.1f}).")


def trend(means, stds, factor: float = FACTOR) -> Trend:
    """:class:`Trend` of a sweep: ``means[i]`` and ``stds[i]`` at its successive points."""
    means, stds = _numbers(means, "means"), _numbers(stds, "stds")
    if len(means) < 2 or len(means) != len(stds):
        raise ValueError(f"means and stds need equal lengths of at least 2, got {len(means)} "
                         f"and {len(stds)}")
    steps = tuple(compare_summaries(means[i + 1], stds[i + 1], means[i], stds[i], factor)
                  for i in range(len(means) - 1))
    return Trend(steps, compare_summaries(means[-1], stds[-1], means[0], stds[0], factor))


#: A run "did not train" if its test loss is at least this fraction of ln(classes). A
#: network that predicts a uniform distribution has loss ln(classes) exactly; at 0.9 it has
#: removed less than a tenth of a guess's cross-entropy (for 10 classes, a loss above 2.07
#: nats, where the chapters' trained networks reach 0.4). The value is a stated convention,
#: not a test; the chapters print the losses beside it.
UNTRAINED_LOSS_FRACTION = 0.9


def chance_loss(classes: int) -> float:
    """``ln(classes)``: the cross-entropy of a uniform guess over ``classes`` classes."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be a whole number >= 2, got {classes!r}")
    return math.log(classes)


def did_not_train(test_loss: float, classes: int,
                  fraction: float = UNTRAINED_LOSS_FRACTION) -> bool:
    """True if ``test_loss`` is at least ``fraction`` of :func:`chance_loss` (see
    :data:`UNTRAINED_LOSS_FRACTION`)."""
    (test_loss,) = _numbers((test_loss,), "test_loss")
    if test_loss < 0:
        raise ValueError(f"test_loss must be >= 0, got {test_loss!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return test_loss >= fraction * chance_loss(classes)


def underfitting(train_accuracy: float, test_accuracy: float) -> bool:
    """True if the training accuracy is no higher than the test accuracy: the network has not
    begun to fit its training set better than unseen data, so it is still underfitting (the
    training accuracy here is the running mean over the last epoch, which lags the weights)."""
    train_accuracy, test_accuracy = _numbers((train_accuracy, test_accuracy), "the accuracies")
    for name, v in (("train_accuracy", train_accuracy), ("test_accuracy", test_accuracy)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v!r}")
    return train_accuracy <= test_accuracy
