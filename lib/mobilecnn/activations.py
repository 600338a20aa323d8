"""Swish and hard-swish (Howard et al. 2019, Section 5.2), as NumPy functions, and two
measurements of why MobileNet v3 prefers the hard version on phones: its cost and its error in
8-bit integers.

* ``swish(x) = x * sigmoid(x)`` (Ramachandran et al. 2017; Elfwing et al.'s SiLU) needs an
  exponential per element;
* ``hard_swish(x) = x * relu6(x + 3) / 6`` replaces the sigmoid by ``hard_sigmoid(x) =
  relu6(x + 3) / 6``, a piecewise linear function: a comparison, a clip, an add and a multiply.
  It equals 0 for x <= -3 and x for x >= 3, so large activations pass exactly.

:func:`time_activation` times one function on a large float32 array; :func:`int8_error`
quantizes a function's input and output to int8 the way TF Lite does (one affine scale and
zero-point per tensor, :func:`mobilecnn.deploy.affine_parameters`) and reports its error against
the float function.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from . import latency
from .deploy import affine_parameters, dequantize, quantize


def relu6(x):
    return np.minimum(np.maximum(x, 0), 6)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def hard_sigmoid(x):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, a straight line between."""
    return relu6(x + 3) / 6


def swish(x):
    return x * sigmoid(x)


def hard_swish(x):
    """x * relu6(x + 3) / 6."""
    return x * hard_sigmoid(x)


def relu(x):
    return np.maximum(x, 0)


FUNCTIONS = {"relu": relu, "relu6": relu6, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid,
             "swish": swish, "hard_swish": hard_swish}


def _function(name: str):
    if name not in FUNCTIONS:
        raise ValueError(f"name must be one of {', '.join(FUNCTIONS)}, got {name!r}")
    return FUNCTIONS[name]


def largest_gap(lo: float = -8.0, hi: float = 8.0, points: int = 16001) -> tuple:
    """``(x, swish(x) - hard_swish(x))`` where the two curves differ most on ``[lo, hi]``."""
    x = np.linspace(lo, hi, points)
    diff = swish(x) - hard_swish(x)
    i = int(np.abs(diff).argmax())
    return float(x[i]), float(diff[i])


@dataclass(frozen=True)
class ActivationTiming:
    name: str
    elements: int
    seconds: tuple

    @property
    def ns_per_element(self) -> float:
        """The median time per element in nanoseconds."""
        return 1e9 * statistics.median(self.seconds) / self.elements


def time_activation(name: str, elements: int = 1_000_000, repeats: int = 15,
                    seed: int = 0) -> ActivationTiming:
    """Time ``FUNCTIONS[name]`` on ``elements`` float32 numbers drawn from N(0, 3), ``repeats``
    times (after one untimed call); NumPy evaluates each function as its formula reads, so the
    exponential of swish is paid as such."""
    fn = _function(name)
    if isinstance(elements, bool) or not isinstance(elements, int) or elements < 1:
        raise ValueError(f"elements must be a whole number >= 1, got {elements!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a whole number >= 1, got {repeats!r}")
    x = np.random.default_rng(seed).normal(0, 3, elements).astype(np.float32)
    return ActivationTiming(name, elements, latency.time_calls(lambda: fn(x), repeats, 1))


@dataclass(frozen=True)
class Int8Error:
    """The error of an activation computed between int8 tensors, against the float function.

    ``x`` are the test inputs, ``exact`` the float function on them, ``int8`` what an int8
    pipeline returns (input rounded to int8, function, output rounded to int8, dequantized).
    ``max_error`` and ``mean_error`` are over all inputs; ``step`` is the output's quantization
    step (its scale), the least error any int8 output must accept.
    """

    name: str
    x: np.ndarray
    exact: np.ndarray
    int8: np.ndarray
    step: float

    @property
    def error(self) -> np.ndarray:
        return self.int8 - self.exact

    @property
    def max_error(self) -> float:
        return float(np.abs(self.error).max())

    @property
    def mean_error(self) -> float:
        return float(np.abs(self.error).mean())


def int8_error(name: str, lo: float = -8.0, hi: float = 8.0, points: int = 4001,
               approximate=None) -> Int8Error:
    """Run activation ``name`` between int8 tensors, as a fully quantized TF Lite model does.

    The input range ``[lo, hi]`` gets one int8 scale and zero-point; the output range is the
    function's range over the quantized inputs and gets its own. Each input is rounded to int8,
    the function is applied (``approximate``, if given, stands for the function an integer
    kernel actually evaluates, e.g. a sigmoid from a lookup table), and the result is rounded to
    int8 and dequantized. The error is measured against the float function at the *exact* input.
    """
    fn = _function(name)
    if not lo < 0 < hi:
        raise ValueError(f"lo and hi must satisfy lo < 0 < hi, got lo={lo!r}, hi={hi!r}")
    x = np.linspace(lo, hi, points)
    s_in, z_in = affine_parameters(lo, hi)
    x_q = dequantize(quantize(x, s_in, z_in), s_in, z_in)
    inner = approximate or fn
    y = inner(x_q)
    s_out, z_out = affine_parameters(float(y.min()), float(y.max()))
    y_q = dequantize(quantize(y, s_out, z_out), s_out, z_out)
    return Int8Error(name, x, fn(x), y_q, float(s_out))


# ---- what a measurement says, in words computed from it -------------------------------------

def speed_sentence(timings: dict) -> str:
    """Which of swish and hard-swish NumPy ran faster, from ``{name: ActivationTiming}`` (or
    ns per element): the direction comes from the measured ratio, never from the expectation."""
    ns = {k: (v.ns_per_element if isinstance(v, ActivationTiming) else float(v))
          for k, v in timings.items()}
    if not {"swish", "hard_swish"} <= set(ns) or min(ns["swish"], ns["hard_swish"]) <= 0:
        raise ValueError("timings must give positive times for 'swish' and 'hard_swish'")
    ratio = ns["swish"] / ns["hard_swish"]
    if abs(ratio - 1) < 0.05:
        verdict = "the two took the same time to within 5%"
    elif ratio > 1:
        verdict = f"hard-swish was the faster, swish taking {ratio:.2f} times as long"
    else:
        verdict = f"swish was the faster, hard-swish taking {1 / ratio:.2f} times as long"
    return (f"{verdict}. NumPy computes each formula as separate passes over the array (swish: "
            f"an exponential, an add, a division and a multiplication; hard-swish: an add, a "
            f"clip, a multiplication and a division), so this counts passes over memory as much "
            f"as arithmetic: weak evidence, either way, about a fused kernel on a phone")


@dataclass(frozen=True)
class LossComparison:
    """Accuracy lost to int8 by two networks, in a paper and in our runs (points)."""

    a: str
    b: str
    paper: tuple                 # (a's loss, b's loss), as printed
    ours: tuple                  # (a's losses per seed, b's losses per seed), same seeds in order

    @property
    def mean(self) -> tuple:
        return tuple(statistics.fmean(v) for v in self.ours)

    @property
    def seeds_a_lost_more(self) -> int:
        return sum(x > y for x, y in zip(*self.ours))

    def sentence(self) -> str:
        def rel(x, y):
            return "more than" if x > y else ("less than" if x < y else "as much as")

        pa, pb = self.paper
        ma, mb = self.mean
        same = (pa > pb) == (ma > mb) and pa != pb and ma != mb
        overlap = (min(self.ours[0]) <= max(self.ours[1])
                   and min(self.ours[1]) <= max(self.ours[0]))
        n = len(self.ours[0])
        text = (f"In the paper {self.a} loses {pa:.1f} points and {self.b} {pb:.1f}: {self.a} "
                f"loses {rel(pa, pb)} {self.b}. Here {self.a} lost {ma:.1f} points on average "
                f"and {self.b} {mb:.1f}: {self.a} lost {rel(ma, mb)} {self.b}, "
                f"{'the same direction as' if same else 'the opposite of'} the paper; "
                f"{self.a} lost more in {self.seeds_a_lost_more} of {n} seeds")
        if overlap:
            text += (", and the per-seed losses of the two overlap, so this run does not "
                     "separate them")
        return text


def compare_losses(a: str, b: str, paper: tuple, ours_a, ours_b) -> LossComparison:
    """``LossComparison`` of networks ``a`` and ``b``; ``ours_a``/``ours_b`` are per-seed losses
    in points, paired by seed (the same seeds, in the same order)."""
    ours_a, ours_b = tuple(float(v) for v in ours_a), tuple(float(v) for v in ours_b)
    if not ours_a or len(ours_a) != len(ours_b):
        raise ValueError(f"ours_a and ours_b must be non-empty and of equal length (paired by "
                         f"seed), got {len(ours_a)} and {len(ours_b)}")
    if len(paper) != 2:
        raise ValueError(f"paper must be (a's loss, b's loss), got {paper!r}")
    return LossComparison(a, b, (float(paper[0]), float(paper[1])), (ours_a, ours_b))
