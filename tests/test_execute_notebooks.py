"""tools/execute_notebooks.py fills the cache that the book build then reads instead of executing."""

import subprocess
import sys

import nbformat
import pytest

jupyter_cache = pytest.importorskip("jupyter_cache")


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# page"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_parallel_execution_fills_the_books_cache(root, tmp_path):
    good = [_notebook(tmp_path / f"page{i}.ipynb", f"import os\nprint({i} * 7, os.environ['MOBILECNN_THREADS'])")
            for i in range(2)]
    bad = _notebook(tmp_path / "broken.ipynb", "raise RuntimeError('a chapter that fails')")
    cache_dir = tmp_path / "cache"
    done = subprocess.run([sys.executable, str(root / "tools" / "execute_notebooks.py"),
                           "--cache", str(cache_dir), *map(str, good + [bad])],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr      # the broken page is reported
    assert "FAILED" in done.stderr and "broken.ipynb" in done.stderr
    cache = jupyter_cache.get_cache(cache_dir)
    for i, path in enumerate(good):
        # what myst-nb does in "cache" mode: match the notebook's code against the cache
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        executed = cache.get_cache_bundle(record.pk).nb
        code = [c for c in executed.cells if c.cell_type == "code"]      # the cache keeps code cells
        assert code[0].outputs[0]["text"] == f"{i * 7} 1\n"
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(bad, as_version=4))


def _timed(path, code, **meta):
    _notebook(path, code)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["mobilecnn"] = meta
    nbformat.write(nb, path)
    return path


def test_partition_runs_timing_pages_alone_with_their_threads(root, tmp_path, monkeypatch):
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("execute_notebooks",
                                                  root / "tools" / "execute_notebooks.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    plain = _notebook(tmp_path / "plain.ipynb", "1")
    untimed = _timed(tmp_path / "untimed.ipynb", "1", times=False)
    one = _timed(tmp_path / "one.ipynb", "1", times=True)
    two = _timed(tmp_path / "two.ipynb", "1", times=True, threads=2)
    every = _timed(tmp_path / "every.ipynb", "1", times=True, threads="all")
    parallel, timed = tool.partition([one, plain, two, untimed, every])
    assert parallel == [plain, untimed]
    assert timed == [(one, 1), (two, 2), (every, os.cpu_count())]
    bad = _timed(tmp_path / "bad.ipynb", "1", times=True, threads=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        tool.partition([bad])


def test_the_book_declares_its_timing_pages(root):
    """Every chapter that calls a timing function is in the timed phase."""
    import importlib.util
    import json
    import re

    spec = importlib.util.spec_from_file_location("execute_notebooks",
                                                  root / "tools" / "execute_notebooks.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    timers = re.compile(r"latency\.measure|time_calls|compare\.table|deploy\.evaluate|"
                        r"guidelines\.sweep|layer_times|activations\.time|paired_latencies")
    for path in tool.toc_notebooks(root):
        nb = json.loads(path.read_text())
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        if timers.search(code):
            assert tool.timing(path) is not None, f"{path.name} times things but is not declared"
            assert "timing_conditions()" in code, f"{path.name} does not print its threads"


def test_timed_pages_run_after_the_others_and_alone(root, tmp_path):
    stamp = ("import os, time\nprint(os.environ['MOBILECNN_THREADS'], "
             "os.environ.get('MOBILECNN_TIMED_ALONE'), time.time())")
    pages = [_notebook(tmp_path / f"page{i}.ipynb", stamp + f"  # {i}") for i in range(2)]
    timed = _timed(tmp_path / "timed.ipynb", stamp, times=True, threads=2)
    cache_dir = tmp_path / "cache"
    done = subprocess.run([sys.executable, str(root / "tools" / "execute_notebooks.py"),
                           "--cache", str(cache_dir), *map(str, [timed, *pages])],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    cache = jupyter_cache.get_cache(cache_dir)

    def printed(path):
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        code = [c for c in cache.get_cache_bundle(record.pk).nb.cells if c.cell_type == "code"]
        threads, alone, when = code[0].outputs[0]["text"].split()
        return threads, alone, float(when)

    parallel = [printed(p) for p in pages]
    assert all(p[:2] == ("1", "None") for p in parallel)
    threads, alone, when = printed(timed)
    assert (threads, alone) == ("2", "1") and when > max(p[2] for p in parallel)


def test_the_book_ends_with_an_execution_status_page(root):
    """``{nb-exec-table}`` lists every executed page with its run time and whether it came from
    the cache (checked by building a throwaway book once; here: the page is there and last)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    assert toc["parts"][-1]["chapters"][-1]["file"] == "execution"
    assert "```{nb-exec-table}\n```" in (root / "execution.md").read_text()
