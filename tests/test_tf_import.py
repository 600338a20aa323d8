"""TensorFlow's oneDNN start-up notice never reaches a chapter's output; real stderr still does.

The strict book build fails on any stderr output of a cell. ``TF_ENABLE_ONEDNN_OPTS=1`` makes
TensorFlow print its oneDNN notice on every x86 CPU (without it, only on CPUs with AVX-512 VNNI
or BF16), so these tests reproduce the problem everywhere. They run cells in a real Jupyter
kernel, as the book build does, because the notice is written to file descriptor 2, not to
``sys.stderr``, and only a kernel turns that into a cell output. (ipykernel does not forward
descriptor 2 when ``PYTEST_CURRENT_TEST`` is set, as it is in nbmake's kernels: that is why the
notebook tests passed where the book build failed.)
"""

import os
import pathlib

import pytest

from mobilecnn import tf_import

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parents[1]

NOTICE = ("I0000 00:00:1795437906.595544    3968 port.cc:153] oneDNN custom operations are on. "
          "You may see slightly different numerical results due to floating-point round-off "
          "errors from different computation orders. To turn them off, set the environment "
          "variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")
OLD_NOTICE = ("2024-01-08 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom "
              "operations are on. You may see slightly different numerical results.\n")


def run_cells(*sources, env=None):
    """Execute ``sources`` as the cells of one notebook in a fresh python3 kernel, which
    forwards descriptor 2 into the cells' outputs as in the book build (so it does not get
    ``PYTEST_CURRENT_TEST``)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3")
    kernel_env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    client.execute(env={**kernel_env, **(env or {})})
    return nb.cells


def stderr(cell) -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == "stderr")


def test_the_filter_drops_only_the_notice_and_its_preamble():
    text = (tf_import.ABSL_PREAMBLE + "\n" + NOTICE + OLD_NOTICE
            + tf_import.ABSL_PREAMBLE + "\n"
            + "E0000 00:00:1795437906.6   3968 foo.cc:1] a real error\n"
            + "a Python warning mentioning oneDNN custom operations are on.\n")
    assert tf_import.without_notices(text) == (
        tf_import.ABSL_PREAMBLE + "\n"
        + "E0000 00:00:1795437906.6   3968 foo.cc:1] a real error\n"
        + "a Python warning mentioning oneDNN custom operations are on.\n")
    assert tf_import.without_notices("no newline at the end") == "no newline at the end"


@pytest.fixture(scope="module")
def onednn_env():
    return {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def test_a_bare_import_shows_the_notice(onednn_env):
    """The control: without the book's setup, the notice is a stderr output of the cell."""
    (cell,) = run_cells("import tensorflow", env=onednn_env)
    assert "oneDNN custom operations are on" in stderr(cell)


def test_the_books_setup_imports_tensorflow_without_stderr(onednn_env):
    """The first cell of a chapter, then Keras and TensorFlow, as chapters use them."""
    setup, use, after = run_cells(
        "from mobilecnn import book\nbook.setup(seed=0)",
        "import sys\nimport keras\nimport tensorflow as tf\n"
        "print(tf.constant([1.0, 2.0]).numpy().sum(), 'tensorflow' in sys.modules)",
        "import os\nos.write(2, b'a line written to fd 2 after the import\\n')",
        env=onednn_env)
    assert stderr(setup) == "" and stderr(use) == ""
    assert [o["text"] for o in use.outputs] == ["3.0 True\n"]
    # Descriptor 2 is the kernel's again: later output still reaches the cell.
    assert stderr(after) == "a line written to fd 2 after the import\n"


def test_real_stderr_passes_through_the_filter(onednn_env):
    code = ("import os, sys\nfrom mobilecnn import tf_import\n"
            "with tf_import.filtered_stderr():\n"
            f"    os.write(2, {(tf_import.ABSL_PREAMBLE + chr(10) + NOTICE).encode()!r})\n"
            "    os.write(2, b'a real warning on fd 2\\n')\n"
            "    print('a warning on sys.stderr', file=sys.stderr)\n")
    (cell,) = run_cells(code, env=onednn_env)
    assert "oneDNN" not in stderr(cell) and "absl" not in stderr(cell)
    assert "a real warning on fd 2\n" in stderr(cell)
    assert "a warning on sys.stderr\n" in stderr(cell)


def test_an_error_inside_the_block_still_restores_stderr_and_reemits(capfd):
    with pytest.raises(RuntimeError, match="boom"):
        with tf_import.filtered_stderr():
            os.write(2, NOTICE.encode())
            os.write(2, b"kept\n")
            raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "kept\nafter\n"


PAGES = sorted((ROOT / "chapters").glob("*.ipynb")) + [ROOT / "intro.md"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_page_calls_the_books_setup_before_anything_else(path):
    """So that TensorFlow is first imported by setup, quietly, whatever the page does later."""
    if path.suffix == ".md":
        from myst_nb.core.read import read_myst_markdown_notebook

        cells = read_myst_markdown_notebook(path.read_text()).cells
    else:
        cells = nbformat.read(path, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    lines = [line.strip() for line in code[0].splitlines() if line.strip()]
    assert lines[0] == "from mobilecnn import book" and lines[1].startswith("book.setup("), \
        f"{path.name} must start with book.setup(), not {lines[:2]}"
    assert "tensorflow=False" not in lines[1], f"{path.name}: a chapter lets setup import TF"
