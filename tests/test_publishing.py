"""Publishing the book: the GitHub Pages workflow, `make serve`, and the per-page time report."""

import datetime
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def readme_build_command() -> str:
    """The command the README's "Two commands" block gives for building the book."""
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    (build,) = [c for c in commands if "book" in c]
    return build


def test_the_workflow_builds_with_the_readmes_command_and_publishes_build_html():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # PyYAML reads the key "on" as True (YAML 1.1).
    trigger = workflow.get("on", workflow.get(True))
    assert trigger["push"]["branches"] == ["main"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = build["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    runs = [s.get("run", "").strip() for s in steps]

    python = steps[uses.index("actions/setup-python")]["with"]
    assert str(python["python-version"]) == "3.11" and python["cache"] == "pip"
    cached = steps[uses.index("actions/cache")]["with"]["path"].split()
    assert {".mobilecnn_cache", "_build/.jupyter_cache"} <= set(cached)
    assert readme_build_command() == "make book"
    assert "make book" in runs
    assert runs.index("make book") > uses.index("actions/cache")   # caches restored first
    upload = steps[uses.index("actions/upload-pages-artifact")]
    assert uses.index("actions/upload-pages-artifact") > runs.index("make book")
    assert upload["with"]["path"] == "_build/html"

    assert deploy["needs"] == "build"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_make_serve_serves_the_built_book_on_localhost():
    done = subprocess.run(["make", "-n", "serve", "PYTHON=python3"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert re.search(r"python3 -m http\.server \d+ --bind 127\.0\.0\.1 --directory _build/html",
                     done.stdout), done.stdout


def synthetic_cache(folder: pathlib.Path, pages: dict) -> None:
    """A jupyter-cache holding one executed notebook per page, with the given seconds."""
    nbformat = pytest.importorskip("nbformat")
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(folder / "cache"))
    for name, seconds in pages.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {seconds!r}")])
        nbformat.write(nb, path)
        cache.add_nb_to_project(str(path))
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(path),
                                                  data={"execution_seconds": seconds}),
                                    check_validity=False)
    # The last page changes after its execution: it is reported as out of date.
    changed = folder / list(pages)[-1]
    nb = nbformat.read(changed, as_version=4)
    nb.cells[0].source += " + 1"
    nbformat.write(nb, changed)


def test_book_time_reports_each_page_and_the_total(tmp_path):
    pages = {"chapters/a.ipynb": 12.25, "chapters/b.ipynb": 100.5, "intro.ipynb": 3.0}
    synthetic_cache(tmp_path, pages)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import book_time
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = book_time.page_times(tmp_path / "cache")
    assert [pathlib.Path(r["page"]).name for r in rows] == ["a.ipynb", "b.ipynb", "intro.ipynb"]
    assert [r["seconds"] for r in rows] == list(pages.values())
    assert [r["current"] for r in rows] == [True, True, False]
    assert all(isinstance(r["executed"], datetime.datetime) for r in rows)

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "book_time.py"),
                           "--cache", str(tmp_path / "cache")],
                          capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 1 + len(pages) + 1
    assert "12.2" in lines[1] and "100.5" in lines[2] and "changed since" in lines[3]
    total = sum(pages.values())
    assert lines[-1].split()[:2] == ["total", f"{total:.1f}"]


def test_book_time_without_a_cache_says_so(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "book_time.py"),
                           "--cache", str(tmp_path / "none")], capture_output=True, text=True)
    assert done.returncode == 1 and "make book" in done.stderr
