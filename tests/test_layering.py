"""The package's layers, kept by a test rather than by habit.

An AST walk of ``lib/mobilecnn`` collects every import between the package's modules, including
the lazy ones inside functions (they are dependencies all the same). Each module sits on a
floor; a module may import its own floor or floors below it, never one above. Also refused: an
import cycle, a private name (``_x``) taken from another module, an import of the package front
(``mobilecnn/__init__``) by a module inside it, and a framework import (TensorFlow, Keras,
PyTorch, ONNX, LiteRT) below the frameworks floor.

``ALLOWED`` lists today's exceptions, each with the step of the redesign that removes it
(``../shared/design/layout.md`` §5.5); an entry that no longer occurs fails too, so the list
only shrinks.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "mobilecnn"

# floor: what a module of that floor may import (its own floor and below)
FLOORS = ("core", "analysis", "frameworks", "train", "deploy", "explore", "experiments", "book")
LAYER = {
    "ops": "core", "graph": "core", "architectures": "core",
    "profiler": "analysis", "costs": "analysis", "memory": "analysis", "verdicts": "analysis",
    "stats": "analysis",
    "tf_import": "frameworks", "keras_backend": "frameworks", "torch_backend": "frameworks",
    "parity": "frameworks",
    "data": "train", "train": "train", "condense": "train",
    "deploy": "deploy", "deploy_torch": "deploy", "latency": "deploy", "microcontroller": "deploy",
    "tflm": "deploy",
    "reading": "explore", "static": "explore", "widgets": "explore", "diagrams": "explore",
    "activations": "experiments", "compress": "experiments", "experiments": "experiments",
    "grouped": "experiments", "guidelines": "experiments", "search": "experiments",
    "compare": "experiments", "igc_study": "experiments",
    "book": "book",
}
FRAMEWORKS = {"tensorflow", "keras", "torch", "onnx", "onnxruntime", "onnxscript", "ai_edge_litert",
              "torchao", "tflite_runtime"}
LOWEST_FRAMEWORK_FLOOR = FLOORS.index("frameworks")

# (kind, importer, imported): today's exceptions, each removed by a step of the redesign
ALLOWED = {
    ("cycle", "deploy", "latency"),         # step 3: TFLiteClassifier.runner() breaks it
    ("facade", "parity", "mobilecnn"),      # step 4: build through the interpreters, not the front
    ("facade", "train", "mobilecnn"),       # step 4
    ("private", "deploy_torch", "deploy._silenced"),     # step 2: one fd-silencer in tf_import
    ("private", "search", "train._threads"),             # step 2: settings.py owns thread counts
    ("private", "static", "reading._checked_profile"),   # step 2: reading.checked_profile
    ("upward", "train", "book"),            # step 1: settings.py owns the environment
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts) or "mobilecnn"


def top(name: str) -> str:
    """The unit the floors are given for: a top-level module or subpackage."""
    return name.split(".")[0]


def imports(path: Path):
    """(imported module, names) for every import of the package's own modules in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else ".".join(name.split(".")[:-1])
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package and package != "mobilecnn" else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                names = [a.name for a in node.names]
                if not node.module:          # from . import x, y: modules, or names of the front
                    for n in names:
                        full = ".".join(base + [n])
                        if _is_module(full):
                            yield full, []
                        else:
                            yield ".".join(base) or "mobilecnn", [n]
                else:
                    yield target or "mobilecnn", names
            elif node.module and node.module.split(".")[0] == "mobilecnn":
                yield node.module[len("mobilecnn."):] or "mobilecnn", [a.name for a in node.names]
            elif node.module:
                yield ("external", node.module), []
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield ("external", alias.name), []


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def walk():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[module_name(path)] = list(imports(path))
    return found


def private_reaches(path: Path):
    """``module._name`` attribute uses, where ``module`` is another of the package's modules."""
    tree = ast.parse(path.read_text())
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and not node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            yield aliases[node.value.id], node.attr


GRAPH = walk()
REACHES = {}
for _path in sorted(PACKAGE.rglob("*.py")):
    REACHES.setdefault(top(module_name(_path)), set()).update(private_reaches(_path))


def violations():
    out = set()
    edges = {}
    for importer, targets in GRAPH.items():
        src = top(importer)
        if src == "mobilecnn":
            continue                       # the package front may import anything
        for target, names in targets:
            if isinstance(target, tuple):  # a third-party import
                if target[1].split(".")[0] in FRAMEWORKS and \
                        FLOORS.index(LAYER[src]) < LOWEST_FRAMEWORK_FLOOR:
                    out.add(("framework", src, target[1].split(".")[0]))
                continue
            if target == "mobilecnn":      # a name defined by the package front
                out.add(("facade", src, "mobilecnn"))
                continue
            dst = top(target)
            for n in names:
                if n.startswith("_") and dst != src and not n.startswith("__"):
                    out.add(("private", src, f"{target.split('.')[-1]}.{n}"))
            if dst == src:
                continue
            edges.setdefault(src, set()).add(dst)
            _floor(out, src, dst)
    for src, reaches in REACHES.items():
        for module, name in reaches:
            if top(module) != src:
                out.add(("private", src, f"{module}.{name}"))
    for cycle in _cycles(edges):
        out.add(("cycle",) + tuple(sorted(cycle))[:2])
    return out


def _floor(out, src, dst):
    if FLOORS.index(LAYER[dst]) > FLOORS.index(LAYER[src]):
        out.add(("upward", src, dst))


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(component)

    for v in list(edges):
        if v not in index:
            visit(v)
    return result


def test_every_module_has_a_floor():
    missing = sorted({top(m) for m in GRAPH} - set(LAYER) - {"mobilecnn"})
    assert not missing, (f"give {missing} a floor in tests/test_layering.py's LAYER "
                         f"(one of {', '.join(FLOORS)})")


def test_no_import_breaks_the_layers():
    new = sorted(violations() - ALLOWED)
    assert not new, "imports that break the layering: " + "; ".join(
        f"{kind}: {a} -> {b}" for kind, a, b in new)


def test_the_allow_list_only_shrinks():
    stale = sorted(ALLOWED - violations())
    assert not stale, f"remove these from ALLOWED, they no longer occur: {stale}"


def test_the_walk_sees_lazy_imports_and_cycles():
    assert "latency" in {top(t) for t, _ in GRAPH["deploy"] if not isinstance(t, tuple)}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) != []
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []


@pytest.mark.parametrize("core", ["ops", "graph", "architectures", "profiler"])
def test_the_core_imports_no_framework(core):
    for name, targets in GRAPH.items():
        if top(name) == core:
            for target, _ in targets:
                if isinstance(target, tuple):
                    assert target[1].split(".")[0] not in FRAMEWORKS, (name, target)
