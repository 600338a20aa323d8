"""The live explorer in a real JupyterLab, as the README tells readers to run it.

The test starts ``jupyter lab`` (the venv's, as ``.venv/bin/jupyter lab chapters/`` would) on
127.0.0.1 with a token, in a temporary folder holding a two-line notebook, and drives it with
Debian's Chromium through Playwright: run the cell, check the explorer shows
``mobilecnn.profile``'s numbers, move a slider with the keyboard, check the numbers follow, and
check that every slider's value label is shown whole and does not run into the next control.
Requests to any other host are refused and recorded. Skipped without Chromium (fails under CI).
"""

import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import mobilecnn
from mobilecnn import static


pytestmark = pytest.mark.browser

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": ['import mobilecnn.widgets\n', 'mobilecnn.widgets.explorer("mobilenet_v1")']}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1; yields its base URL and token."""
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    if not (jupyter.exists() and jupyter.with_name("jupyter-lab").exists()):
        pytest.fail("JupyterLab is not installed: requirements.txt lists it (make install)")
    home = tmp_path_factory.mktemp("lab")
    (home / "notebooks").mkdir()
    (home / "notebooks" / "explorer.ipynb").write_text(json.dumps(NOTEBOOK))
    port, token = free_port(), secrets.token_hex(16)
    # Keep the reader's own Jupyter settings and workspaces out of it, and it out of them.
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    env.pop("PYTEST_CURRENT_TEST", None)
    log = open(home / "server.log", "w")
    command = [str(jupyter), "lab", str(home / "notebooks"), "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               # no server-side requests either: no news feed, no extension index
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(f"{url}/api/status",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "JupyterLab did not start within 60 s"
            time.sleep(0.5)
        yield url, token, home
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def readouts(page) -> list:
    """Each slider's value label: its text, whether it is cut off, and where it ends."""
    return page.locator(".mcnn-live").evaluate("""root => {
        const controls = Array.from(root.querySelector('.widget-hbox').children);
        return Array.from(root.querySelectorAll('.mcnn-readout')).map(el => {
            const group = controls.find(c => c.contains(el));
            const next = controls[controls.indexOf(group) + 1];
            const box = el.getBoundingClientRect(), text = el.querySelector('*') || el;
            const after = next ? next.getBoundingClientRect() : null;
            return {text: el.textContent.trim(),
                    clipped: text.scrollWidth > text.clientWidth + 1 || el.scrollWidth > el.clientWidth + 1,
                    overlaps: !!after && after.top < box.bottom && after.left < box.right}; }); }""")


def summary(page) -> dict:
    return page.locator(".mcnn-live .mcnn-summary").evaluate("""el => {
        const out = {};
        el.querySelectorAll('[data-field]').forEach(f => {
            out[f.getAttribute('data-field')] = f.textContent; });
        return out; }""")


def expected(settings):
    p = mobilecnn.profile("mobilenet_v1", **settings)
    return {"params": f"{p.params:,}", "macs": f"{p.macs:,}"}


def test_live_explorer_in_jupyterlab(browser, lab):  # noqa: F811
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, token, _ = lab
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused, errors = [], []

    def route(r):
        if r.request.url.startswith(url + "/"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(f"{url}/lab/tree/explorer.ipynb?token={token}")
        # Run the cell once its kernel is up (the toolbar's indicator says "idle"). A run asked
        # for while the kernel's session is still connecting can be dropped, so ask again until
        # the cell's prompt shows it queued or run ("[*]", "[1]").
        page.locator('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]'
                     ).wait_for(timeout=60_000)
        first = page.locator(".jp-NotebookPanel .jp-Cell").first
        for attempt in range(4):
            first.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            try:
                first.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[[*0-9]")
                                                        ).wait_for(timeout=15_000)
                break
            except PlaywrightTimeout:
                assert attempt < 3, "JupyterLab never ran the cell"
        try:
            page.locator(".mcnn-live .mcnn-summary").wait_for(timeout=90_000)
        except Exception:
            page.screenshot(path=str(pathlib.Path(lab[2]) / "failed.png"))
            raise

        specs = {c.name: c for c in static.controls("mobilenet_v1")}
        defaults = static.defaults("mobilenet_v1")
        assert [r["text"] for r in readouts(page)] == [
            c.labels[c.index(defaults[c.name])] for c in specs.values() if c.kind != "choice"]
        shown = summary(page)
        assert {k: shown[k] for k in ("params", "macs")} == expected({})

        # One step left on the alpha slider, with the keyboard as a reader would.
        page.locator(".mcnn-live .widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            "old => document.querySelector('.mcnn-live .mcnn-summary [data-field=macs]')"
            ".textContent !== old", arg=shown["macs"], timeout=30_000)
        alpha = specs["alpha"]
        step_left = alpha.values[alpha.index(1.0) - 1]
        shown = summary(page)
        assert {k: shown[k] for k in ("params", "macs")} == expected({"alpha": step_left})
        assert alpha.labels[alpha.index(step_left)] in {r["text"] for r in readouts(page)}

        # Every value label is shown whole and stays clear of the next control's label.
        for readout in readouts(page):
            assert not readout["clipped"] and not readout["overlaps"], readout
        if os.environ.get("MOBILECNN_SCREENSHOT"):
            page.screenshot(path=os.environ["MOBILECNN_SCREENSHOT"].replace(".png", "-lab.png"))
    finally:
        context.close()
    assert not refused, f"JupyterLab tried to load {refused}"
    assert errors == []
