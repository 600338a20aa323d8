"""The book's frame: table of contents against chapters/, stripped notebooks, the intro page."""

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def resolve(entry):
    for suffix in (".ipynb", ".md"):
        path = ROOT / (entry + suffix)
        if path.exists():
            return path
    return None


def test_every_toc_entry_exists():
    missing = [f for f in toc_files() if resolve(f) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_chapter_is_listed():
    listed = {resolve(f) for f in toc_files()}
    unlisted = [p.name for p in (ROOT / "chapters").glob("*.ipynb") if p not in listed]
    assert not unlisted, f"chapters missing from _toc.yml: {unlisted}"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{path.name} carries outputs"
            assert cell.get("execution_count") is None, f"{path.name} carries execution counts"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapters_import_the_library_instead_of_copying_it(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in code)
    assert "mobilecnn" in source
    # a cell tagged seed-code reproduces a seed text's code to show its defect (ShuffleNet v1's
    # Lambda closure bug); no other cell may build a Lambda layer
    ours = "\n".join("".join(c["source"]) for c in code
                     if "seed-code" not in c.get("metadata", {}).get("tags", []))
    assert "Lambda(" not in ours


def test_intro_page_executes():
    """intro.md is a MyST text notebook; run its cells the way the book build does."""
    nbformat = pytest.importorskip("nbformat")
    from myst_nb.core.read import read_myst_markdown_notebook
    from nbclient import NotebookClient

    nb = read_myst_markdown_notebook((ROOT / "intro.md").read_text())
    nb = nbformat.from_dict(nb) if not isinstance(nb, nbformat.NotebookNode) else nb
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    glued = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            glued |= set(output.get("metadata", {}).get("scrapbook", {}).get("name", "").split())
    keys = set(re.findall(r"\{glue:text\}`(\w+)`", (ROOT / "intro.md").read_text()))
    assert keys and keys <= glued, f"intro.md pastes values that were never glued: {keys - glued}"


def pages():
    out = {}
    for entry in toc_files():
        path = resolve(entry)
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text())
            out[path.name] = "\n".join("".join(c["source"]) for c in nb["cells"]
                                       if c["cell_type"] == "markdown")
        else:
            out[path.name] = path.read_text()
    return out


def test_citations_use_one_prefix_per_page():
    """Each page keeps its own bibliography; sphinxcontrib-bibtex rejects a key cited on two
    pages unless each page's keys carry that page's ``:keyprefix:``."""
    import re

    prefixes = {}
    for name, text in pages().items():
        keys = [k.strip() for group in re.findall(r"\{cite(?::[pt])?\}`([^`]*)`", text)
                for k in group.split(",")]
        if not keys:
            continue
        assert "{bibliography}" in text, f"{name} cites but has no bibliography"
        found = re.search(r":keyprefix:\s*(\S+)", text)
        assert found, f"{name} has a bibliography without :keyprefix:"
        prefix = found.group(1)
        assert prefix not in prefixes.values(), f"{name} reuses the prefix {prefix}"
        prefixes[name] = prefix
        bib = (ROOT / "references.bib").read_text()
        for key in keys:
            assert key.startswith(prefix), f"{name} cites {key} without its prefix {prefix}"
            assert "{" + key[len(prefix):] + "," in bib, f"{name} cites unknown key {key}"


def test_chapter_and_exercise_numbers_come_from_references():
    """Chapters are numbered by _toc.yml and every page refers to them, their sections and
    exercises by label ({numref}, {ref}), so the strict build catches a dangling reference and a
    new chapter renumbers the book. Typed numbers ("chapter 4", "Exercise 9.1") are not allowed,
    nor "the next chapter" (it changes when chapters are added)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["defaults"]["numbered"] is True
    # The book's own numbers; "Figure 1" or "Section 5" of a paper are the paper's.
    typed = re.compile(r"\b(?:chapter|exercise)s? \d", re.I)
    for name, text in pages().items():
        prose = re.sub(r"\{(?:numref|ref|doc)\}`[^`]*`", "", text)
        assert not typed.findall(prose), f"{name} types a number: {typed.findall(prose)}"
        assert not re.search(r"\b(?:next|previous) chapter\b", prose), name
        for label in re.findall(r"\{numref\}`(?:[^`<]*<)?([\w-]+)>?`", text):
            defined = any(f"({label})=" in t or f":label: {label}" in t for t in pages().values())
            assert defined, f"{name} refers to {label}, which no page defines"


def test_machine_describes_the_cpu_without_importing_frameworks():
    import subprocess
    import sys

    code = ("import sys; from mobilecnn import book; m = book.machine(); "
            "assert m['cores'] >= 1 and m['cpu'] and str(m['cores']) in m['text'], m; "
            "assert not {'tensorflow', 'torch', 'keras'} & set(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
