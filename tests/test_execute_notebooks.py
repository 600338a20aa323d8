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
