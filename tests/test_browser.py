"""The explorer page as readers get it: built by jupyter-book, opened in headless Chromium.

The test builds ``chapters/explorer.ipynb`` alone (``jupyter-book build <page> --path-output``),
opens the HTML with no network (every request that is not a local file is refused and recorded),
moves every slider and menu of every explorer through its grid, and checks after each move that
the page shows exactly what ``mobilecnn.profile`` gives for the setting. It uses Debian's
``chromium`` through Playwright (never ``playwright install``); without it the test is skipped,
unless the environment variable ``CI`` is set, where it fails.

Set ``MOBILECNN_SCREENSHOT=path.png`` to keep a screenshot of the page.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import mobilecnn
from mobilecnn import static

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
from conftest import THEME_ERRORS, offline  # noqa: E402  (conftest also gives the browser fixture)


@pytest.fixture(scope="module")
def explorer_page(tmp_path_factory):
    """Build the explorer chapter alone; return the path of its HTML page."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else shutil.which("jupyter-book"),
               "build", str(ROOT / "chapters" / "explorer.ipynb"), "--path-output", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    pages = list(out.glob("_build/_page/*/html/explorer.html"))
    assert done.returncode == 0 and pages, done.stdout[-3000:] + done.stderr[-3000:]
    return pages[0]


@pytest.fixture(scope="module")
def page(browser, explorer_page):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    offline(page)
    page.goto(explorer_page.as_uri())
    yield page
    context.close()


def shown(box) -> dict:
    """The summary fields an explorer shows, or ``{"error": message}``."""
    return box.evaluate("""root => {
        const out = {};
        root.querySelectorAll('.mcnn-out [data-field]').forEach(el => {
            if (!el.closest('[hidden]')) out[el.getAttribute('data-field')] = el.textContent; });
        return out; }""")


def table(box) -> list:
    return box.evaluate("""root => Array.from(root.querySelectorAll('.mcnn-table:not([hidden]) tbody tr:not([hidden])'))
        .map(tr => [tr.className, tr.cells[0].textContent.replace(/^[\\u25b8\\u25be] /, '')]
            .concat(['params', 'trainable_params', 'macs'].map(
                k => Number(tr.querySelector('[data-field="' + k + '"]').textContent
                            .replace(/,/g, '')))))""")


def move(box, control, position):
    """Move a slider (set the range input and dispatch input and change) or pick a menu entry."""
    widget = box.locator(f'[data-param="{control.name}"]')
    if control.kind == "choice":
        widget.select_option(label=control.labels[position])
    else:
        widget.evaluate("""(el, v) => { el.value = v;
            el.dispatchEvent(new Event('input', {bubbles: true}));
            el.dispatchEvent(new Event('change', {bubbles: true})); }""", str(position))


def check(box, name, settings):
    """The explorer shows exactly ``mobilecnn.profile(name, **settings)`` (or its error)."""
    got = shown(box)
    try:
        expected = mobilecnn.profile(name, **settings)
    except ValueError as err:
        assert got == {"error": str(err)}, settings
        assert table(box) == []
        return
    number = lambda key: int(got[key].replace(",", ""))  # noqa: E731
    assert (number("params"), number("trainable_params"), number("macs"), number("flops")) == \
        (expected.params, expected.trainable_params, expected.macs, expected.flops), settings
    assert got["image_size"] == f"{expected.image_size}\u00d7{expected.image_size}"
    stages = [(row[1], row[2], row[4]) for row in table(box) if row[0] == "mcnn-stage"]
    assert stages == expected.by_stage(), settings


def test_explorer_page_in_chromium(page, tmp_path):
    """One test, so that parallel workers (pytest -n) build the page once, not once each.

    Every slider of every architecture is moved through its grid in test_explorer_page.py; this
    test reads the explorer chapter as the book publishes it."""
    first_explorer_shows_the_exact_profile(page)
    invalid_setting_then_valid_again_and_keyboard(page)
    a_stage_opens_to_its_blocks(page, tmp_path)
    fits_a_phone(page)
    assert not page.refused, f"the page tried to load {page.refused}"
    assert [e for e in page.errors if not any(t in e for t in THEME_ERRORS)] == []


def first_explorer_shows_the_exact_profile(page):
    names = page.locator(".mobilecnn-explorer").evaluate_all(
        "els => els.map(e => e.getAttribute('data-architecture'))")
    assert set(names) <= set(mobilecnn.list_architectures()) and "mobilenet_v1" in names
    box = page.locator('.mobilecnn-explorer[data-architecture="mobilenet_v1"]')
    check(box, "mobilenet_v1", {})


def invalid_setting_then_valid_again_and_keyboard(page):
    box = page.locator('.mobilecnn-explorer[data-architecture="squeezenet"]')
    rho = next(c for c in static.controls("squeezenet", static=True) if c.name == "rho")
    move(box, rho, rho.index(32 / 227))
    check(box, "squeezenet", {"rho": 32 / 227})
    assert "rho must be at least" in shown(box)["error"]
    # The keyboard moves a slider too: one step right from 32 px is 35 px, the default's smallest.
    box.locator('[data-param="rho"]').focus()
    page.keyboard.press("ArrowRight")
    check(box, "squeezenet", {"rho": 35 / 227})
    move(box, rho, rho.index(1.0))
    check(box, "squeezenet", {})


def a_stage_opens_to_its_blocks(page, tmp_path):
    box = page.locator('.mobilecnn-explorer[data-architecture="mobilenet_v1"]')
    controls = static.controls("mobilenet_v1", static=True)
    alpha = controls[0]
    move(box, alpha, alpha.index(0.5))
    box.locator('.mcnn-table:not([hidden]) tr[data-stage="group_1"] button').click()
    expected = mobilecnn.profile("mobilenet_v1", alpha=0.5)
    blocks = [(r[1], r[2], r[3], r[4]) for r in table(box) if r[0] == "mcnn-block"]
    assert blocks == [(key, p, t, m) for key, stage, _, p, t, m in static.rollup(expected, "block")
                      if stage == "group_1"]
    move(box, alpha, alpha.index(0.75))          # an open stage stays open after a move
    blocks = [r[1:] for r in table(box) if r[0] == "mcnn-block"]
    expected = mobilecnn.profile("mobilenet_v1", alpha=0.75)
    assert blocks == [[key, p, t, m] for key, stage, _, p, t, m in static.rollup(expected, "block")
                      if stage == "group_1"]
    box.scroll_into_view_if_needed()
    shot = pathlib.Path(os.environ.get("MOBILECNN_SCREENSHOT") or tmp_path / "explorer.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


# What runs off the right edge of the window: the page itself (a horizontal scrollbar), any
# table that is not inside a box of its own that scrolls and itself fits the window, and any part
# of an explorer other than its table (the table scrolls inside its box).
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const tables = Array.from(document.querySelectorAll('.bd-article table')).map(table => {
        let box = table.parentElement;
        while (box && box !== document.body && !scrolls(box)) box = box.parentElement;
        box = box && box !== document.body ? box : null;
        const edge = (box || table).getBoundingClientRect().right;
        // An explorer's table scrolls inside the explorer's own frame, not the page's output box.
        const explorer = table.closest('.mobilecnn-explorer');
        const owned = !explorer || (box !== null && explorer.contains(box));
        return {table: (table.className || table.parentElement.className) + '',
                scrollBox: box && owned ? box.className + '' : null, right: Math.round(edge)}; });
    // An explorer's box, controls and summary must be whole in the window, not scrolled to.
    const explorers = Array.from(document.querySelectorAll('.mobilecnn-explorer')).flatMap(
        root => [root, ...root.querySelectorAll('.mcnn-control, .mcnn-out, .mcnn-tablebox')])
        .filter(el => el.getBoundingClientRect().right > width + 1)
        .map(el => el.className + ' ' + (el.closest('.mobilecnn-explorer')
                                         .getAttribute('data-architecture')));
    return {width, scrollWidth: document.documentElement.scrollWidth,
            tables: tables.filter(t => t.scrollBox === null || t.right > width + 1),
            explorers, count: tables.length}; }"""


def fits_a_phone(page):
    """At 500 px nothing runs off the right edge; tables scroll inside their box.

    The page is opened afresh in a 500-px window (as a phone would), not resized, so that the
    theme's side panels are where they start on a narrow screen, not sliding away."""
    phone = page.context.new_page()
    phone.set_viewport_size({"width": 500, "height": 900})
    offline(phone, log=page)
    try:
        phone.goto(page.url)
        box = phone.locator('.mobilecnn-explorer[data-architecture="mobilenet_v1"]')
        box.locator('tr[data-stage="group_3"] button').click()   # a stage opened to its blocks
        found = phone.evaluate(OVERFLOW)
        assert found["count"] >= phone.locator(".mobilecnn-explorer").count() > 0
        assert found["scrollWidth"] <= found["width"], found
        assert found["tables"] == [] and found["explorers"] == [], found
    finally:
        phone.close()
