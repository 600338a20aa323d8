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
