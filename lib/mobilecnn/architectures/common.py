"""What every architecture description shares: table rows, metaparameters, rounding, conv-BN-act."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

from ..graph import Net

BASE_RESOLUTION = 224
MIN_RESOLUTION = 32


@dataclass(frozen=True)
class Row:
    """One row of a paper's architecture table.

    ``kind`` names the block function that reads the row; ``channels`` is the unthinned output
    width; ``repeats`` how many blocks the row stands for; ``stride`` the stride of the first of
    them (the rest have stride 1). ``expansion`` and ``groups`` are used by the block kinds that
    have them (MobileNet v2's inverted block, ShuffleNet's unit). ``squeeze`` is SqueezeNet's
    squeeze width (its expand layers are ``channels / 2`` wide each).
    """

    kind: str
    channels: int
    repeats: int = 1
    stride: int = 1
    expansion: int = 1
    groups: int = 1
    squeeze: int = 0


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` without losing more than 10%.

    This is the rounding of the MobileNet v2 reference implementations (TensorFlow's slim and
    Keras applications), so our widths, and therefore our counts, match theirs exactly.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn(net: Net, x: str, filters: int, kernel: int = 1, stride: int = 1, groups: int = 1,
            act: str | None = "relu6", *, name: str) -> str:
    """Convolution without bias, batch normalization, then an optional ReLU or ReLU6.

    The seed code put a bias in front of batch normalization; batch norm subtracts the mean right
    after, so such a bias is dead weight (and makes parameter counts disagree with the papers').
    """
    x = net.conv(x, filters, kernel, stride, groups, name=name)
    x = net.bn(x)
    if act == "relu6":
        x = net.relu6(x)
    elif act == "relu":
        x = net.relu(x)
    return x


# ---- metaparameters -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Metaparameter:
    """A knob of an architecture: its default, what values it accepts, and the slider's grid.

    Numeric metaparameters give ``low``/``high`` (``low_open`` excludes ``low``); discrete ones
    give ``choices``. ``grid`` is what sliders offer (a subset of the allowed values).
    """

    name: str
    default: object
    doc: str
    kind: str = "float"          # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    grid: tuple = ()

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "(" if self.low_open else "["
        hi = f"{self.high}]" if self.high is not None else "inf)"
        return f"in {lo}{self.low}, {hi}"

    def check(self, value):
        """Return ``value`` (normalized) or raise ``ValueError`` naming the allowed values."""
        if self.kind == "choice":
            for choice in self.choices:
                if _same_choice(value, choice):
                    return choice
            raise ValueError(f"{self.name}={value!r} is not allowed; {self.name} must be "
                             f"{self.allowed()}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{self.name} must be a number {self.allowed()}, got {value!r}")
        if self.kind == "int":
            if int(value) != value:
                raise ValueError(f"{self.name} must be a whole number {self.allowed()}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            raise ValueError(f"{self.name}={value!r} is out of range; {self.name} must be "
                             f"{self.allowed()}")
        return value


def _same_choice(value, choice) -> bool:
    if isinstance(choice, str) or isinstance(value, str):
        return value == choice
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isclose(value, choice, rel_tol=1e-9, abs_tol=1e-12)


RESOLUTIONS = (32, 64, 96, 128, 160, 192, 224)

RHO = Metaparameter(
    "rho", 1.0, "resolution multiplier: the input is round(224 * rho) pixels square",
    low=0.0, high=1.0, low_open=True, grid=tuple(r / BASE_RESOLUTION for r in RESOLUTIONS))
NUM_CLASSES = Metaparameter("num_classes", 1000, "number of output classes", kind="int", low=1,
                            grid=(10, 100, 1000))


def dropout_param(default: float) -> Metaparameter:
    return Metaparameter("dropout", default, "dropout rate before the classifier", low=0.0,
                         high=0.99, grid=(0.0, 0.2, 0.5))


@dataclass(frozen=True)
class Architecture:
    """An architecture: its name, its paper, its metaparameters and its description function.

    ``describe(net, **metaparams)`` writes the network into ``net`` (a :class:`~mobilecnn.graph.Net`
    whose input is already sized from ``rho``).
    """

    name: str
    title: str
    paper: str
    metaparameters: tuple
    describe: Callable

    def metaparameter(self, name: str) -> Metaparameter:
        for m in self.metaparameters:
            if m.name == name:
                return m
        raise KeyError(name)
