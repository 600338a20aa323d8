"""The explorers' memory line: peak activations in KB (rounded up), defined, and judged against
the microcontroller budget's SRAM, the same in the live reading and the static page's data."""

import html
import json

import pytest

import mobilecnn
from mobilecnn import microcontroller, reading, static


def test_kilobytes_round_up_and_the_budget_is_judged_both_ways():
    assert reading.kb_text(1) == "1" and reading.kb_text(1024) == "1"
    assert reading.kb_text(1025) == "2" and reading.kb_text(1_204_224) == "1,176"
    sram = microcontroller.BUDGET.sram_bytes
    assert reading.sram_fit_text(sram) == "within"
    assert reading.sram_fit_text(sram + 1) == "over"


@pytest.mark.parametrize("settings, fits", [({"alpha": 0.25, "rho": 64 / 224}, True),
                                            ({}, False)])
def test_summary_shows_kb_bytes_and_the_verdict(settings, fits):
    got = reading.read("mobilenet_v1", settings)
    peak = got.profile.peak_activation_bytes(8)
    assert (peak <= microcontroller.BUDGET.sram_bytes) is fits
    values = reading.summary_values(got)
    assert values["peak_kb"] == f"{-(-peak // 1024):,}"
    assert values["sram_fit"] == ("within" if fits else "over")
    markup = reading.summary_html(got)
    assert html.escape(reading.PEAK_DEFINITION, quote=True) in markup
    assert "in place" in reading.PEAK_DEFINITION
    assert f"{microcontroller.BUDGET.sram_bytes // 1024} KB SRAM" in markup


def test_static_page_evaluates_the_same_fields_as_the_live_reading():
    data = static.precompute("mobilenet_v1")
    assert data["sram_budget"] == microcontroller.BUDGET.sram_bytes
    ctrls = static.controls("mobilenet_v1", static=True)
    for alpha in (0.25, 1.0):
        settings = {"alpha": alpha, "rho": 96 / 224}
        start = {**static.defaults("mobilenet_v1"), **settings}
        shown = static.evaluate(data, [c.index(start[c.name]) for c in ctrls])["summary"]
        live = reading.summary_values(reading.read("mobilenet_v1", settings))
        assert set(shown) == set(reading.SUMMARY_FIELDS) == set(live)
        assert shown == live
    assert json.loads(json.dumps(data)) == data


def test_squeezenet_rho_grid_offers_the_smallest_input_of_every_version():
    """35 px is the default network's smallest input; 32 px that of version 1.1 and ceil pooling."""
    rho = next(m for m in mobilecnn.architecture("squeezenet").metaparameters if m.name == "rho")
    sizes = [round(227 * r) for r in rho.grid]
    assert mobilecnn.minimum_image_size("squeezenet") == 35 and 35 in sizes
    assert min(mobilecnn.minimum_image_size("squeezenet", version=v, pooling=p)
               for v in ("1.0", "1.1") for p in ("floor", "ceil")) == 32 == min(sizes)
    assert sizes == sorted(sizes) and sizes[-2:] == [224, 227]
