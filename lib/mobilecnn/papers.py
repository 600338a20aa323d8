"""Figures as the papers print them, to set next to what the library computes.

These are quotations, not results: every number here is copied from a table of the cited paper
(with its table number), in the paper's units (millions, rounded as printed). Chapters put them
beside :func:`mobilecnn.profile` and test that the two agree within the paper's rounding.
"""

from __future__ import annotations

MOBILENET_V1 = "howard2017mobilenets"

#: MobileNet v1, Table 3: one 3x3 layer on a 14x14x512 map with 512 outputs, in millions.
#: Keys: (layer kind, alpha, rho); values: (Mult-Adds, parameters).
MOBILENET_V1_TABLE_3 = {
    ("standard", 1.0, 1.0): (462.0, 2.36),
    ("separable", 1.0, 1.0): (52.3, 0.27),
    ("separable", 0.75, 1.0): (29.6, 0.15),
    ("separable", 0.75, 0.714): (15.1, 0.15),
}

#: MobileNet v1, Table 2: share of Mult-Adds and of parameters per layer type, in percent.
MOBILENET_V1_TABLE_2 = {
    "Conv 1x1": (94.86, 74.59),
    "Conv DW 3x3": (3.06, 1.06),
    "Conv 3x3": (1.19, 0.02),
    "Fully Connected": (0.18, 24.33),
}

#: MobileNet v1, Tables 6 and 7 (ImageNet, 1000 classes): (alpha, resolution) ->
#: (top-1 accuracy %, million Mult-Adds, million parameters). Table 6 varies alpha at 224
#: pixels, Table 7 varies the resolution at alpha 1. The paper prints no table for the other
#: nine combinations (its Figures 4 and 5 plot them), so they are not here.
MOBILENET_V1_TABLES_6_7 = {
    (1.0, 224): (70.6, 569, 4.2),
    (0.75, 224): (68.4, 325, 2.6),
    (0.5, 224): (63.7, 149, 1.3),
    (0.25, 224): (50.6, 41, 0.5),
    (1.0, 192): (69.1, 418, 4.2),
    (1.0, 160): (67.2, 290, 4.2),
    (1.0, 128): (64.4, 186, 4.2),
}

#: MobileNet v1, Table 4: the same network with full convolutions instead of separable ones.
#: (top-1 %, million Mult-Adds, million parameters)
MOBILENET_V1_TABLE_4 = {
    "Conv MobileNet": (71.7, 4866, 29.3),
    "MobileNet": (70.6, 569, 4.2),
}


def printed_precision(value: float) -> float:
    """Half a unit in the last printed digit of ``value`` (the paper's rounding error).

    ``4.2`` -> 0.05, ``569`` -> 0.5, ``0.27`` -> 0.005.
    """
    fraction = repr(float(value)).split(".")[1]
    decimals = 0 if fraction == "0" else len(fraction)
    return 0.5 * 10 ** (-decimals)


def agrees(computed: float, printed: float) -> bool:
    """True when ``computed`` rounds to what the paper printed (within its printed precision)."""
    return abs(computed - printed) <= printed_precision(printed) + 1e-12
