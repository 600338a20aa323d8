"""The book's contract with the library: every ``{literalinclude}`` in a chapter resolves.

A chapter shows library code by reference, never by copy. When a function moves or is renamed,
Sphinx only warns at build time; this test makes the move fail ``make test`` instead. For each
directive in ``chapters/*.ipynb`` (and the Markdown pages), the file exists, its ``:pyobject:``
(``name`` or ``Class.method``) is defined there, and its ``:start-at:`` / ``:end-at:`` strings
occur in it, the end after the start.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r"```\{literalinclude\}\s+(\S+)\n((?::[a-z-]+:.*\n)*)")
OPTION = re.compile(r":([a-z-]+):\s*(.*)")


def _pages():
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for path in sorted(ROOT.glob("*.md")) + sorted((ROOT / "chapters").glob("*.md")):
        yield path, path.read_text()


def includes():
    found = []
    for page, text in _pages():
        for match in DIRECTIVE.finditer(text + "\n"):
            options = dict(OPTION.match(line).groups() for line in match.group(2).splitlines())
            found.append((page.relative_to(ROOT), match.group(1), options))
    return found


INCLUDES = includes()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def defined(tree: ast.Module, dotted: str) -> bool:
    """``name`` or ``Class.method`` is defined at module level (function, class or assignment)."""
    scope = tree.body
    for part in dotted.split("."):
        for node in scope:
            names = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            if part in names:
                scope = getattr(node, "body", [])
                break
        else:
            return False
    return True


def test_the_chapters_include_library_code():
    assert len(INCLUDES) >= 50   # the chapters show the library by reference


@pytest.mark.parametrize("page, target, options", INCLUDES,
                         ids=[f"{p.name}:{t.rsplit('/', 1)[-1]}:{o.get('pyobject', o.get('start-at', ''))}"
                              for p, t, o in INCLUDES])
def test_literalinclude_resolves(page, target, options):
    path = (ROOT / page).parent / target
    assert path.is_file(), f"{page} includes {target}, which does not exist"
    source = path.read_text()
    if "pyobject" in options:
        assert defined(ast.parse(source), options["pyobject"]), (
            f"{page} includes :pyobject: {options['pyobject']} from {target}, not defined there")
    start = 0
    if "start-at" in options:
        start = source.find(_unquote(options["start-at"]))
        assert start >= 0, f"{page}: :start-at: {options['start-at']} not in {target}"
    if "end-at" in options:
        assert source.find(_unquote(options["end-at"]), start) >= 0, (
            f"{page}: :end-at: {options['end-at']} not after the start in {target}")


def test_a_moved_object_is_caught(tmp_path):
    tree = ast.parse("class A:\n    def f(self):\n        pass\nX = 1\ndef g():\n    pass\n")
    assert defined(tree, "A.f") and defined(tree, "X") and defined(tree, "g")
    assert not defined(tree, "A.h") and not defined(tree, "h")
