"""Shared test set-up: quiet TensorFlow, one thread per worker, deterministic seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MOBILECNN_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, os.environ["MOBILECNN_THREADS"])

import pathlib  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root():
    return ROOT


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                  ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_configure(config):
    # TensorFlow and PyTorch each start thread pools; one thread each keeps two xdist workers
    # from oversubscribing a 2-core machine.
    threads = int(os.environ["MOBILECNN_THREADS"])
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


# ---- the browser tests' Chromium (Debian's package; the project never downloads a browser) ---------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# Page errors that come from the book theme, not from the explorer: sphinx-thebe declares a
# global twice when a single page is built.
THEME_ERRORS = ("THEBE_JS_URL",)


def unavailable(reason):
    """Skip a browser test on a reader's machine without Chromium; never on CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test may not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} not found; install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright for Python is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def offline(page, log=None):
    """Let ``page`` load local files only. Refused requests and page errors are recorded in
    ``log.refused`` and ``log.errors`` (``log`` defaults to the page itself)."""
    log = page if log is None else log
    if not hasattr(log, "refused"):
        log.refused, log.errors = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            log.refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda err: log.errors.append(str(err)))
    return page
