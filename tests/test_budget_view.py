"""The comparison chapter's budget view in headless Chromium: every slider and the runtime menu
move through their values, and after each move the page marks exactly the rows that
``mobilecnn.compare.fits`` accepts, and counts them."""

import itertools

import pytest

from mobilecnn import compare

pytestmark = pytest.mark.browser

from conftest import THEME_ERRORS, offline  # noqa: E402  (conftest also gives the browser fixture)


def rows():
    """Rows spread over the sliders' ranges, different in every runtime."""
    out = []
    for k, (kb, ms) in enumerate(itertools.product((40, 300, 3000), (0.08, 3, 150))):
        out.append({"architecture": f"net{k}", "class": "c", "setting_text": "s",
                    "macs": ms * 1e5, "int8_bytes": kb * 1024,
                    "tflm_arena_32bit_bytes": kb * 1024 // 3,
                    **{f"latency_ms {r}": ms * (i + 1) for i, r in enumerate(compare.RUNTIMES)}})
    return tuple(compare.BudgetView(tuple(out), "m").rows)   # with their device fields


def test_budget_view_follows_every_control(browser, tmp_path):
    view = compare.BudgetView(rows(), "test machine")
    path = tmp_path / "budget.html"
    path.write_text(f"<!doctype html><html><body>{view.html()}</body></html>")
    page = browser.new_page()
    offline(page)
    page.goto(path.as_uri())

    def check(runtime, latency, flash, sram):
        marked = page.eval_on_selector_all("table.mb-table tbody tr",
                                           "trs => trs.map(t => t.className === 'mb-fit')")
        expected = [compare.fits(r, runtime, latency, 1024 * flash, 1024 * sram) for r in rows()]
        assert marked == expected, (runtime, latency, flash, sram)
        assert page.inner_text('[data-shows="count"]') == str(sum(expected))
        shown = page.eval_on_selector_all("td[data-latency]", "tds => tds.map(t => t.textContent)")
        assert shown == [f"{r[f'latency_ms {runtime}']:.2f}" for r in rows()]

    check(view.runtime, view.latency_ms, view.flash_kb, view.sram_kb)   # before any move
    settings = {"latency": view.latency_ms, "flash": view.flash_kb, "sram": view.sram_kb}
    runtime = view.runtime
    for name, steps in (("latency", compare.LATENCY_STEPS_MS), ("flash", compare.MEMORY_STEPS_KB),
                        ("sram", compare.MEMORY_STEPS_KB)):
        for i, value in enumerate(steps):
            page.eval_on_selector(f'[data-budget="{name}"]',
                                  "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                                  str(i))
            settings[name] = value
            check(runtime, settings["latency"], settings["flash"], settings["sram"])
    for runtime in compare.BUDGET_RUNTIMES:
        page.select_option('[data-budget="runtime"]', runtime)
        check(runtime, settings["latency"], settings["flash"], settings["sram"])
    assert not page.refused
    assert [e for e in page.errors if not any(t in e for t in THEME_ERRORS)] == []
