"""The package's layering, read from its source (ast): dependencies point down only, no import cycles,
and a function-local import of an fklib module says why (``# lazy: <reason>``).

Layers, lowest first (docs/architecture.md):

    foundations  paths, files, convert, colors, data, models, losses, metrics, parsing, degrade, faces
    config       config, checkpoint
    engine       engine
    studies      studies
    report       report
    apps         __main__, cli, locate, export, pipeline, widgets, data.__main__, parsing.__main__
"""

from __future__ import annotations

import ast
from pathlib import Path


PACKAGE = Path(__file__).resolve().parent.parent / "fklib"
LAYERS = {
    "foundations": ("fklib", "fklib.paths", "fklib.files", "fklib.convert", "fklib.colors", "fklib.data", "fklib.models", "fklib.losses",
                    "fklib.metrics", "fklib.parsing", "fklib.degrade", "fklib.faces"),
    "config": ("fklib.config", "fklib.checkpoint"),
    "engine": ("fklib.engine",),
    "studies": ("fklib.studies",),
    "report": ("fklib.report",),
    "apps": ("fklib.__main__", "fklib.cli", "fklib.locate", "fklib.export", "fklib.pipeline", "fklib.widgets",
             "fklib.data.__main__", "fklib.parsing.__main__"),
}
RANK = {name: i for i, name in enumerate(LAYERS)}
#: The rooms the issue names: they never import the engine, studies, report, pipeline or CLI.
FOUNDATION_ROOMS = ("fklib.data", "fklib.models", "fklib.losses", "fklib.metrics")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    best, found = -1, None
    for name, prefixes in LAYERS.items():
        for pre in prefixes:
            if (module == pre or module.startswith(pre + ".")) and len(pre) > best:
                best, found = len(pre), name
    assert found is not None, f"{module}: in no layer of tests/test_layers.py"
    return found


def _function_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    lines.add(sub.lineno)
    return lines


def imports(module: str) -> list[tuple[str, int, bool]]:
    """``(target module, line, function-local)`` of every import of an fklib module in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    local = _function_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, node.lineno in local) for a in node.names if a.name.split(".")[0] == "fklib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "fklib":
                continue
            for a in node.names:
                target = f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source
                out.append((target, node.lineno, node.lineno in local))
    return out


GRAPH = {m: imports(m) for m in MODULES}


def upward_imports(graph: dict) -> list[tuple[str, str, int]]:
    """(importer, target, line) of every import of a higher layer."""
    return [(m, t, line) for m, edges in graph.items() for t, line, _ in edges if RANK[layer(t)] > RANK[layer(m)]]


def find_cycles(graph: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), over every import."""
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w, _, _ in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_every_module_has_a_layer():
    for m in MODULES:
        layer(m)


def test_dependencies_point_down():
    assert not upward_imports(GRAPH), f"imports of a higher layer: {upward_imports(GRAPH)}"


def test_foundation_rooms_never_import_the_orchestration():
    banned = ("fklib.config", "fklib.checkpoint", "fklib.engine", "fklib.studies", "fklib.report", "fklib.pipeline",
              "fklib.__main__", "fklib.locate", "fklib.export", "fklib.widgets")
    for module in MODULES:
        if module.startswith(FOUNDATION_ROOMS):
            bad = [t for t, _, _ in GRAPH[module] if t.startswith(banned)]
            assert not bad, f"{module} imports {bad}"


def test_no_import_cycles():
    assert not find_cycles(GRAPH), f"import cycles: {find_cycles(GRAPH)}"


def test_function_local_imports_say_why():
    undocumented = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for target, line, local in GRAPH[module]:
            context = lines[line - 1] + (lines[line - 2] if line >= 2 else "")
            if local and "# lazy:" not in context:
                undocumented.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({target})")
    assert not undocumented, "function-local fklib imports without a '# lazy: <reason>' comment: " + \
        ", ".join(undocumented)


def test_the_checks_catch_an_upward_import_and_a_cycle():
    graph = {"fklib.metrics.x": [("fklib.engine.y", 3, False)], "fklib.engine.y": [("fklib.metrics.x", 5, True)],
             "fklib.data.z": []}
    assert upward_imports(graph) == [("fklib.metrics.x", "fklib.engine.y", 3)]
    assert find_cycles(graph) == [["fklib.engine.y", "fklib.metrics.x"]]
    assert imports("fklib.engine.train")          # the parser finds the real imports
