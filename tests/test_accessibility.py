"""The book's interactive elements pass an accessibility check, in light and in dark mode.

The test writes a one-page book whose page holds what the chapters put on pages with controls:
two static explorers (sliders and a menu), the comparison chapter's budget view and MobileNet
v3's reward widget, plus one matplotlib figure. It builds it with jupyter-book (the book's
theme, with its light/dark switch), opens it in Debian's Chromium with no network, and in each
mode:

* runs axe-core (vendored by the ``axe-playwright-python`` package; nothing is downloaded) over
  the three kinds of element: every slider and menu has an accessible name, text has enough
  contrast (WCAG AA), ARIA is valid;
* checks that every control can be reached with Tab and moved with the arrow keys, and that the
  shown value follows;
* checks that the page really is in that mode and that the figure keeps a white background in
  dark mode (a transparent matplotlib PNG would put black labels on a dark page).
"""

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
from conftest import THEME_ERRORS, offline  # noqa: E402  (conftest also gives the browser fixture)

WIDGETS = (".mobilecnn-explorer", ".mobilecnn-budget", ".mobilecnn-reward")
CONTROLS = ", ".join(f"{w} input, {w} select" for w in WIDGETS)

CELLS = [
    "from mobilecnn import widgets",
    'widgets.static_explorer("mobilenet_v1")',
    'widgets.static_explorer("shufflenet_v1")',
    textwrap.dedent("""\
        from mobilecnn import compare
        rows = [{"architecture": f"net{k}", "class": "c", "setting_text": "s", "macs": 1e6 * k,
                 "int8_bytes": 1024 * 100 * k, "peak_activation_bytes_int8": 1024 * 30 * k,
                 "tflm_arena_32bit_bytes": 1024 * 40 * k,
                 **{f"latency_ms {r}": 2.0 * k * (i + 1) for i, r in enumerate(compare.RUNTIMES)}}
                for k in range(1, 7)]
        compare.BudgetView(rows, "a test machine", latency_ms=20, flash_kb=1024, sram_kb=256)"""),
    textwrap.dedent("""\
        from mobilecnn import search
        search.reward_widget(["a", "b", "c", "d"], [60.0, 65.0, 70.0, 72.0], [1.0, 2.0, 4.0, 8.0],
                             title="reward", uid="reward-test")"""),
    textwrap.dedent("""\
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([1, 2, 3], [1, 4, 9])
        ax.set(xlabel="x", ylabel="y")
        plt.show()"""),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = tmp_path_factory.mktemp("a11y")
    (src / "_config.yml").write_text(textwrap.dedent("""\
        title: accessibility
        execute:
          execute_notebooks: force
          timeout: 600
        sphinx:
          config:
            html_show_copyright: false
        """))
    (src / "_toc.yml").write_text("format: jb-book\nroot: controls\n")
    cells = [nbformat.v4.new_markdown_cell("# Controls")]
    cells += [nbformat.v4.new_code_cell(code) for code in CELLS]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, src / "controls.ipynb")
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else shutil.which("jupyter-book"),
               "build", str(src)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=src, capture_output=True, text=True, env=env, timeout=900)
    page = src / "_build" / "html" / "controls.html"
    assert done.returncode == 0 and page.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return page


@pytest.fixture(params=["light", "dark"])
def page(request, browser, built):
    """The page in one mode, chosen the way the theme's switch stores it (``localStorage``)."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    context.add_init_script(f"localStorage.setItem('theme', '{request.param}');"
                            f"localStorage.setItem('mode', '{request.param}');")
    page = context.new_page()
    offline(page)
    page.goto(built.as_uri())
    page.wait_for_function("document.querySelector('.mobilecnn-reward .r-out').textContent")
    page.mode, page.axe = request.param, axe.Axe()
    yield page
    assert not page.refused, page.refused
    assert not [e for e in page.errors if not any(t in e for t in THEME_ERRORS)], page.errors
    context.close()


def test_the_page_is_in_the_mode_asked_for(page):
    assert page.evaluate("document.documentElement.dataset.theme") == page.mode
    for selector in WIDGETS:
        assert page.locator(selector).count() >= 1, selector
    background = page.evaluate("""() => getComputedStyle(
        document.querySelector('.cell_output img')).backgroundColor""")
    if page.mode == "dark":
        # myst-nb puts output images on an opaque light ground in dark mode, so the black labels
        # of a matplotlib figure (transparent PNG) keep their contrast: at least AAA's 7:1.
        rgb = [int(v) for v in background[background.index("(") + 1:-1].split(",")[:3]]
        assert not background.startswith("rgba"), background
        assert contrast(rgb, (0, 0, 0)) >= 7, background


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (0-255)."""
    def luminance(rgb):
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_axe_finds_no_violation(page):
    results = page.axe.run(page, context={"include": [[w] for w in WIDGETS]},
                           options={"resultTypes": ["violations"],
                                    "runOnly": {"type": "tag",
                                                "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                           "wcag21aa", "best-practice"]}})
    # region: the page is a bare notebook page; landmarks are the theme's business, not ours
    violations = [v for v in results.response["violations"] if v["id"] != "region"]
    report = "\n".join(f"{v['id']} ({v['impact']}): {v['help']}: "
                       + "; ".join(n["html"][:120] for n in v["nodes"][:4]) for v in violations)
    assert not violations, f"{page.mode} mode:\n{report}"


def test_every_control_has_a_visible_name(page):
    unnamed = page.eval_on_selector_all(CONTROLS, """els => els.filter(el => {
        const label = el.closest('label');
        return !(label && label.textContent.trim()) && !el.getAttribute('aria-label'); })
        .map(el => el.outerHTML.slice(0, 100))""")
    assert not unnamed, unnamed


def test_every_control_works_from_the_keyboard(page):
    total = page.locator(CONTROLS).count()
    page.evaluate("document.activeElement && document.activeElement.blur()")  # from the top
    reached = set()
    for _ in range(400):                              # the theme's links come first
        page.keyboard.press("Tab")
        key = page.evaluate(f"""() => {{ const el = document.activeElement;
            const all = Array.from(document.querySelectorAll({CONTROLS!r}));
            return all.indexOf(el); }}""")
        if key >= 0:
            reached.add(key)
        if len(reached) == total:
            break
    assert len(reached) == total, f"{total - len(reached)} of {total} controls not reachable by Tab"
    # A slider moves with the arrow keys and its shown value follows.
    for widget, shows in ((".mobilecnn-explorer", ".mcnn-value"),
                          (".mobilecnn-budget", "output"), (".mobilecnn-reward", "output")):
        box = page.locator(widget).first
        slider = box.locator("input[type=range]").first
        label = slider.locator("xpath=ancestor::label").locator(shows)
        before = (slider.input_value(), label.text_content())
        slider.focus()
        page.keyboard.press("ArrowLeft" if before[0] != slider.get_attribute("min") else "ArrowRight")
        after = (slider.input_value(), label.text_content())
        assert after[0] != before[0] and after[1] != before[1], (widget, before, after)
    menu = page.locator(".mobilecnn-budget select").first
    before = menu.input_value()
    menu.focus()
    last = menu.evaluate("el => el.selectedIndex == el.options.length - 1")
    page.keyboard.press("ArrowUp" if last else "ArrowDown")
    assert menu.input_value() != before
