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


# The files that take longest, longest first (measured with --durations on 2 cores). `make test`
# hands whole files to its two workers in collection order (--dist loadfile), so these start
# first and the short ones fill in at the end, instead of a five-minute notebook starting last
# while the other worker idles. Only the order depends on this list; a file missing from it
# runs after these, in pytest's own order.
LONGEST_FIRST = (
    "tests/test_deploy_torch.py", "chapters/08_comparison.ipynb", "tests/test_frameworks.py",
    "chapters/09_deployment.ipynb", "tests/test_deploy.py", "chapters/04_squeezenet.ipynb",
    "tests/test_numerics.py", "chapters/05_shufflenet_v1.ipynb", "tests/test_mobilenet_v3_chapter.py",
    "chapters/03_mobilenet_v2.ipynb", "chapters/07_mobilenet_v3.ipynb", "tests/test_train.py",
    "chapters/06_shufflenet_v2.ipynb", "tests/test_explorer_page.py", "tests/test_widgets.py",
    "tests/test_mobilenet_v3.py", "chapters/02_mobilenet_v1.ipynb", "chapters/explorer.ipynb",
    "tests/test_benchmarks.py", "tests/test_profile.py", "tests/test_tf_import.py",
    "chapters/01_convolution_cost.ipynb",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    # a stable sort: each file's tests stay together and in their order (module fixtures)
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


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
