"""How long did each page of the book take to execute, and all of them together?

``make book`` executes the pages through jupyter-cache (``execute_notebooks: cache`` in
``_config.yml``), which records the execution time of every notebook it runs. This script reads
those records and prints one line per page: the seconds its last execution took, when that was,
and whether the page has changed since (then the next build executes it again). The total is
what a cold build spends executing pages; a rebuild with nothing changed executes nothing.

    python benchmarks/book_time.py [--cache _build/.jupyter_cache]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "_build" / ".jupyter_cache"


def page_times(cache_path: Path) -> list[dict]:
    """One row per executed page: ``page``, ``seconds``, ``executed`` (UTC), ``current``.

    ``current`` is False when the page's text no longer matches the executed version, and None
    when the page is not in the cache's project (it cannot be checked).
    """
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    latest = {}
    for record in cache.list_cache_records():
        if record.uri not in latest or record.created > latest[record.uri].created:
            latest[record.uri] = record
    current = {}
    for project in cache.list_project_records():
        if not Path(project.uri).exists():
            continue
        # The record that matches the page as it is now, if any (jupyter-cache hashes the code).
        matching = cache.get_cached_project_nb(project.pk)
        newest = latest.get(project.uri)
        current[project.uri] = matching is not None and newest is not None \
            and matching.pk == newest.pk
    rows = []
    for uri, record in latest.items():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is None:
            continue
        rows.append({"page": _relative(uri), "seconds": float(seconds),
                     "executed": record.created, "current": current.get(uri)})
    return sorted(rows, key=lambda r: r["page"])


def _relative(uri: str) -> str:
    path = Path(uri)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def report(rows: list[dict]) -> str:
    width = max([len("page"), *(len(r["page"]) for r in rows)])
    lines = [f"{'page':<{width}}  {'seconds':>8}  {'executed (UTC)':<16}  note"]
    for r in rows:
        note = {True: "", False: "changed since: executes again on the next build",
                None: "not in the book's project"}[r["current"]]
        lines.append(f"{r['page']:<{width}}  {r['seconds']:8.1f}  "
                     f"{r['executed']:%Y-%m-%d %H:%M}  {note}".rstrip())
    total = sum(r["seconds"] for r in rows)
    lines.append(f"{'total':<{width}}  {total:8.1f}  ({len(rows)} pages, {total / 60:.1f} min)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="jupyter-cache folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (args.cache / "global.db").is_file():
        print(f"no execution cache at {args.cache}: build the book first (make book)",
              file=sys.stderr)
        return 1
    rows = page_times(args.cache)
    if not rows:
        print(f"the cache at {args.cache} holds no executed page", file=sys.stderr)
        return 1
    print(report(rows))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
