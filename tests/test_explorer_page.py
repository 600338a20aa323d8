"""Every architecture's static explorer in a real book page, in headless Chromium at phone width.

The test writes a small book into a temporary directory whose one page is a notebook with
``static_explorer(name)`` for every architecture in the registry (the explorer chapter's cells),
builds it with jupyter-book, and opens it in Debian's ``/usr/bin/chromium`` through Playwright
with every non-local request refused. On every architecture it moves each control through its
grid and checks what the page shows (summary, stage rows, an opened stage's blocks) against
``mobilecnn.profile`` and the reading model; it measures the time from a slider move to the
updated page at a 500-pixel-wide viewport (budget: 100 ms) and prints the page's weight (its own
HTML and images; the theme's shared static files aside), which must stay under 1 MB.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

import mobilecnn
from mobilecnn import reading, static

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
from conftest import THEME_ERRORS, offline  # noqa: E402  (conftest also gives the browser fixture)

PHONE = {"width": 500, "height": 900}
UPDATE_BUDGET_MS = 100.0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A one-page book with every architecture's explorer; returns (page path, html dir)."""
    src = tmp_path_factory.mktemp("explorers")
    (src / "_config.yml").write_text(textwrap.dedent("""\
        title: explorers
        execute:
          execute_notebooks: force
          timeout: 600
        sphinx:
          config:
            html_show_copyright: false
        """))
    (src / "_toc.yml").write_text("format: jb-book\nroot: explorers\n")
    cells = [nbformat.v4.new_markdown_cell("# Every explorer"),
             nbformat.v4.new_code_cell("from mobilecnn import widgets")]
    for name in mobilecnn.list_architectures():
        cells.append(nbformat.v4.new_markdown_cell(f"## {name}"))
        cells.append(nbformat.v4.new_code_cell(f'widgets.static_explorer("{name}")'))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, src / "explorers.ipynb")
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else shutil.which("jupyter-book"),
               "build", str(src)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=src, capture_output=True, text=True, env=env, timeout=900)
    page = src / "_build" / "html" / "explorers.html"
    assert done.returncode == 0 and page.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return page, page.parent


def page_weight(page: pathlib.Path, html_dir: pathlib.Path) -> int:
    """Bytes of the page's own HTML plus the images it alone uses (``_images/``)."""
    images = html_dir / "_images"
    own = sum(f.stat().st_size for f in images.iterdir()) if images.exists() else 0
    return page.stat().st_size + own


@pytest.fixture(scope="module")
def page(browser, built):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    offline(page)
    page.goto(built[0].as_uri())
    yield page
    context.close()


VIEW = """root => {
    const visible = el => !el.closest('[hidden]');
    const out = {summary: {}, stages: [], blocks: []};
    root.querySelectorAll('.mcnn-out [data-field]').forEach(el => {
        if (visible(el)) { out.summary[el.getAttribute('data-field')] = el.textContent; } });
    const cells = tr => ['shape', 'params', 'trainable_params', 'macs'].map(
        k => tr.querySelector('[data-field="' + k + '"]').textContent);
    root.querySelectorAll('.mcnn-table tr.mcnn-stage').forEach(tr => {
        if (visible(tr)) { out.stages.push([tr.getAttribute('data-stage')].concat(cells(tr))); } });
    root.querySelectorAll('.mcnn-table tr.mcnn-block').forEach(tr => {
        if (visible(tr)) { out.blocks.push([tr.getAttribute('data-block')].concat(cells(tr))); } });
    return out; }"""


def expected(name: str, settings: dict, open_stages=()) -> dict:
    """What the page must show, from ``profile`` through the reading model."""
    got = reading.read(name, settings)
    if got.profile is None:
        return {"summary": {"error": got.error}, "stages": [], "blocks": []}
    p = got.profile
    n = lambda x: f"{x:,}"  # noqa: E731
    return {"summary": reading.summary_values(got),
            "stages": [[k, reading.shape_text(s), n(pp), n(t), n(m)]
                       for k, _, s, pp, t, m in reading.rollup(p, "stage")],
            "blocks": [[k, reading.shape_text(s), n(pp), n(t), n(m)]
                       for k, st, s, pp, t, m in reading.rollup(p, "block")
                       if st in open_stages]}


def move(box, control, position) -> float:
    """Move a control; return the milliseconds from the event to the page's updated fields."""
    widget = box.locator(f'[data-param="{control.name}"]')
    if control.kind == "choice":
        return widget.evaluate("""(el, i) => { const t = performance.now();
            el.selectedIndex = i; el.dispatchEvent(new Event('change', {bubbles: true}));
            el.closest('.mobilecnn-explorer').getBoundingClientRect();   // forces layout
            return performance.now() - t; }""", position)
    return widget.evaluate("""(el, v) => { const t = performance.now(); el.value = v;
        el.dispatchEvent(new Event('input', {bubbles: true}));
        el.closest('.mobilecnn-explorer').getBoundingClientRect();       // forces layout
        return performance.now() - t; }""", str(position))


def test_every_explorer_in_chromium_at_phone_width(page, built):
    times = []
    names = page.locator(".mobilecnn-explorer").evaluate_all(
        "els => els.map(e => e.getAttribute('data-architecture'))")
    assert names == mobilecnn.list_architectures()
    for name in names:
        box = page.locator(f'.mobilecnn-explorer[data-architecture="{name}"]')
        ctrls = static.controls(name, static=True)
        defaults = reading.defaults(name)
        positions = {c.name: c.index(defaults[c.name]) for c in ctrls}
        assert box.evaluate(VIEW) == expected(name, {})
        for control in ctrls:
            for position in [*range(len(control.values)), positions[control.name]]:
                times.append(move(box, control, position))
                positions[control.name] = position
                settings = {c.name: c.values[positions[c.name]] for c in ctrls}
                assert box.evaluate(VIEW) == expected(name, settings), (name, settings)
                label = box.locator(f'output[data-value="{control.name}"]').text_content()
                assert label == control.labels[position]
        # A stage opens to its blocks, and stays open when a slider moves.
        stage = reading.rollup(mobilecnn.profile(name), "stage")[1][0]
        box.locator(f'.mcnn-table:not([hidden]) tr[data-stage="{stage}"] button').click()
        assert box.evaluate(VIEW) == expected(name, {}, {stage})
        rho = next(c for c in ctrls if c.name == "rho")
        if len(rho.values) > 1:     # EffNet's explorer keeps its paper's 32 px only
            times.append(move(box, rho, len(rho.values) - 2))
            assert box.evaluate(VIEW) == expected(name, {"rho": rho.values[-2]}, {stage})
            move(box, rho, len(rho.values) - 1)
        box.locator(f'.mcnn-table:not([hidden]) tr[data-stage="{stage}"] button').click()
    times.sort()
    median, worst = times[len(times) // 2], times[-1]
    weight = page_weight(*built)
    print(f"\n{len(times)} slider moves at {PHONE['width']} px: median {median:.2f} ms, "
          f"slowest {worst:.2f} ms (budget {UPDATE_BUDGET_MS:.0f} ms)")
    print(f"page weight: {weight / 1000:.1f} kB (HTML {built[0].stat().st_size / 1000:.1f} kB "
          f"with {len(names)} explorers; budget 1000 kB)")
    for name in names:
        print(f"  {name:<22}{static.page_weight(name) / 1000:8.1f} kB")
    assert worst < UPDATE_BUDGET_MS
    assert weight < static.PAGE_BUDGET
    assert not page.refused, f"the page tried to load {page.refused}"
    assert [e for e in page.errors if not any(t in e for t in THEME_ERRORS)] == []
