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
    squeeze width (its expand layers are ``channels / 2`` wide each). MobileNet v3's tables add
    ``kernel`` (the depthwise kernel), ``exp`` (the expansion *size*, a width, not a factor),
    ``se`` (squeeze-and-excite) and ``nl`` (the nonlinearity, ``"RE"`` or ``"HS"``).
    """

    kind: str
    channels: int
    repeats: int = 1
    stride: int = 1
    expansion: int = 1
    groups: int = 1
    squeeze: int = 0
    kernel: int = 0
    exp: int = 0
    se: bool = False
    nl: str = ""


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

    No bias: batch normalization subtracts the mean right after, so a bias would be dead weight.
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
    symbol: str = ""             # how the book writes it (alpha -> "\u03b1"); default: the name

    @property
    def sign(self) -> str:
        return self.symbol or self.name

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
    if isinstance(choice, bool) or isinstance(value, bool):
        return value is choice
    if isinstance(choice, str) or isinstance(value, str):
        return value == choice
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isclose(value, choice, rel_tol=1e-9, abs_tol=1e-12)


RESOLUTIONS = (32, 64, 96, 128, 160, 192, 224)


def rho_param(base: int = BASE_RESOLUTION, sizes: tuple = RESOLUTIONS) -> Metaparameter:
    """The resolution multiplier of an architecture whose published input is ``base`` pixels."""
    return Metaparameter(
        "rho", 1.0, f"resolution multiplier: the input is round({base} * rho) pixels square",
        low=0.0, high=1.0, low_open=True, grid=tuple(r / base for r in sizes if r < base) + (1.0,),
        symbol="\u03c1")


RHO = rho_param()
NUM_CLASSES = Metaparameter("num_classes", 1000, "number of output classes", kind="int", low=1,
                            grid=(10, 100, 1000))


def dropout_param(default: float) -> Metaparameter:
    return Metaparameter("dropout", default, "dropout rate before the classifier", low=0.0,
                         high=0.99, grid=(0.0, 0.2, 0.5))


@dataclass(frozen=True)
class Figure:
    """A figure as a paper (or a reference implementation) prints it, for one configuration.

    A quotation, not a result: ``macs`` and ``params`` are in millions, rounded as printed.
    ``params_counts`` says which of the profile's counts the paper's parameters are
    (``"kernel_weights"``, ``"trainable_params"`` or ``"params"``; see the book's introduction).
    ``tolerance`` is a relative slack beyond the printed precision, for figures that differ
    from the paper's own table for a reason ``note`` gives; it is 0 for figures we reproduce.
    """

    label: str
    settings: tuple                 # ((metaparameter, value), ...)
    source: str                     # bibliography key, table: "howard2017mobilenets, Table 6"
    macs: float | None = None
    params: float | None = None
    params_counts: str = "trainable_params"
    top1: float | None = None
    tolerance: float = 0.0
    note: str = ""


def printed_precision(value: float) -> float:
    """Half a unit in the last printed digit of ``value`` (the paper's rounding error).

    ``4.2`` -> 0.05, ``569`` -> 0.5, ``0.27`` -> 0.005.
    """
    fraction = repr(float(value)).split(".")[1]
    decimals = 0 if fraction == "0" else len(fraction)
    return 0.5 * 10 ** (-decimals)


def agrees(computed: float, printed: float, tolerance: float = 0.0) -> bool:
    """True when ``computed`` rounds to what the paper printed (within its printed precision,
    plus ``tolerance`` relative to the printed value)."""
    return abs(computed - printed) <= printed_precision(printed) + tolerance * abs(printed) + 1e-12


@dataclass(frozen=True)
class Architecture:
    """An architecture and its facts: its paper, metaparameters, published figures, plot colour.

    ``describe(net, **metaparams)`` writes the network into ``net`` (a :class:`~mobilecnn.graph.Net`
    whose input is already sized from ``rho``). ``width`` names the metaparameter that thins
    every layer (MobileNet's alpha, ShuffleNet's scale), or is ``None``; the papers' rule of thumb
    says parameters grow with its square. ``base_resolution`` is the paper's input size (rho = 1).
    ``published`` holds the paper's figures that the tests and chapters compare against; an
    architecture without any that can be verified says why in ``unpublished`` instead.
    """

    name: str
    title: str
    paper: str
    bib: str                        # key in references.bib
    metaparameters: tuple
    describe: Callable
    width: str | None = None
    color: str = "#555555"
    published: tuple = ()           # Figure, ...
    base_resolution: int = BASE_RESOLUTION
    min_resolution: int = MIN_RESOLUTION
    order: int = 100                # place in listings: the book's chapter order
    smoke: tuple = ()               # ((metaparameter, value), ...): the small setting tests and
                                    # benchmarks build (fast, yet every op kind of the network)
    parity_tolerance: float = 1e-4  # logits agreement of Keras and PyTorch (parity.check)
    unpublished: str = ""           # why ``published`` is empty: which of the paper's figures
                                    # could not be read or pinned to a network (never a guess)

    @property
    def defaults(self) -> dict:
        return {m.name: m.default for m in self.metaparameters}

    @property
    def smoke_setting(self) -> dict:
        """The architecture's small setting (metaparameters plus ``image_size``), as a new dict."""
        return dict(self.smoke)
