"""Execute the book's notebooks into Jupyter Book's execution cache: first in parallel, then the
pages that time things one at a time.

``jupyter-book build`` executes notebooks one after another. This script runs them first,
through jupyter-cache (the library Jupyter Book uses for ``execute_notebooks: cache``) and into
the same cache folder; the build that follows then finds every notebook already executed and
only renders. It runs in two phases:

1. **Parallel**: every page that does not time anything, one per core at a time, with one
   thread each (``MOBILECNN_THREADS`` defaults to 1 here). On this book's 2-core machine that
   halves the time of a cold build.
2. **Timed, one at a time**: the pages whose notebook metadata says
   ``"mobilecnn": {"times": true}``. Nothing else executes while one of them runs, so no latency
   on the page is taken while another chapter trains on the other core. Each runs with the
   threads it asks for, ``"mobilecnn": {"times": true, "threads": N}`` (``"all"``: every core);
   the default is 1, because the book's latencies are single-thread figures (one core of a
   phone, and comparable between runtimes that pin one thread). The kernel sees
   ``MOBILECNN_THREADS=N`` and ``MOBILECNN_TIMED_ALONE=1``, and the page prints both through
   :func:`mobilecnn.book.timing_conditions`.

A notebook whose code did not change since its last run is not run again; one that fails is
reported, left out of the cache, and makes this script exit with status 1 (the build would then
run it again and show the traceback).

    python tools/execute_notebooks.py [--cache _build/.jupyter_cache] [NOTEBOOK ...]

By default it runs every ``.ipynb`` listed in ``_toc.yml``. The environment is passed on to the
kernels.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from mobilecnn.book import TIMED_ALONE   # the variable book.timing_conditions reads

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks(root: Path = ROOT) -> list:
    """The ``.ipynb`` files that ``_toc.yml`` lists, in book order."""
    files = re.findall(r"file:\s*(\S+)", (root / "_toc.yml").read_text())
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def timing(path: Path):
    """The threads a page that times things asks for (``"all"`` gives the core count), or None
    for a page that times nothing: its notebook metadata ``"mobilecnn": {"times": ...}``."""
    import json

    meta = json.loads(Path(path).read_text()).get("metadata", {}).get("mobilecnn", {})
    if not meta.get("times"):
        return None
    threads = meta.get("threads", 1)
    if threads == "all":
        return os.cpu_count() or 1
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{path}: metadata mobilecnn.threads must be a positive integer or "
                         f"'all', not {threads!r}")
    return threads


def partition(paths) -> tuple:
    """``(parallel, timed)``: the pages that may run side by side, in the given order, and the
    ``(page, threads)`` of those that time things and run alone, after them."""
    parallel, timed = [], []
    for path in paths:
        threads = timing(path)
        if threads is None:
            parallel.append(path)
        else:
            timed.append((path, threads))
    return parallel, timed


def _short(uri: str) -> str:
    path = Path(uri)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / ".jupyter_cache")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOBILECNN_THREADS", "1")

    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    notebooks = [p.resolve() for p in (args.notebooks or toc_notebooks())]
    cache = get_cache(args.cache)
    for path in notebooks:
        cache.add_nb_to_project(str(path))
    parallel, timed = partition(notebooks)
    workers = min(os.cpu_count() or 1, max(len(parallel), 1))
    start = time.perf_counter()
    results = []
    if parallel:               # jupyter-cache's parallel pool has one process per core
        executor = load_executor("local-parallel" if workers > 1 else "local-serial", cache=cache)
        results.append(executor.run_and_cache(filter_uris=[str(p) for p in parallel],
                                              timeout=args.timeout, allow_errors=False))
    serial = load_executor("local-serial", cache=cache)
    for path, threads in timed:            # alone, with the threads the page asks for
        os.environ.update({"MOBILECNN_THREADS": str(threads), TIMED_ALONE: "1"})
        print(f"timing    {_short(str(path))} alone, {threads} thread(s)", flush=True)
        results.append(serial.run_and_cache(filter_uris=[str(path)], timeout=args.timeout,
                                            allow_errors=False))
    seconds = time.perf_counter() - start
    succeeded = [uri for r in results for uri in r.succeeded]
    failed = [uri for r in results for uri in r.excepted + r.errored]
    for uri in succeeded:
        print(f"executed  {_short(uri)}")
    for uri in failed:
        print(f"FAILED    {_short(uri)}", file=sys.stderr)
    print(f"{len(succeeded)} executed, {len(failed)} "
          f"failed, the rest cached, in {seconds:.0f} s: {len(parallel)} page(s) on {workers} "
          f"workers, then {len(timed)} timed page(s) one at a time")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
