"""No import cycles among the project's modules (clinic/, actions/).

Every ``import`` counts, including one inside a function: an import moved into a function
to dodge a cycle still leaves the two modules depending on each other. Imports under
``if TYPE_CHECKING:`` are left out (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("clinic", "actions")

# Cycles known and being removed, each as its sorted tuple of modules. It must be empty by the
# end of issue 12: do not add to it.
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(dotted name, line) of every import that runs, absolute or relative, anywhere in ``tree``."""
    found: list[tuple[str, int]] = []
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from a import b`` names either a module a.b or a name in a.
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
            found.append((base, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {project module it imports: line of the first such import}."""
    files = module_files()
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        names = imported_names(tree, module, path.name == "__init__.py")
        for name, line in names:
            # ``from a import b`` lists both a.b and a: a.b counts where it is a module.
            if name in files and name != module:
                edges.setdefault(name, line)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle per strongly connected group of modules, as a path a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)

    found: list[list[str]] = []
    for group in groups:
        for start in sorted(group):
            cycle = _shortest_cycle(graph, group, start)
            if sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in found]:
                found.append(cycle)
    return found


def _shortest_cycle(graph: dict[str, dict[str, int]], group: set[str], start: str) -> list[str]:
    """Breadth-first within ``group``: the shortest way from ``start`` back to it."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for succ in sorted(graph[current]):
            if succ == start:
                return paths[current] + [start]
            if succ in group and succ not in paths:
                paths[succ] = paths[current] + [succ]
                queue.append(succ)
    raise AssertionError(f"{start} is not on a cycle of {sorted(group)}")


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "import cycle: " + "; ".join(steps)


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = [c for c in cycles(graph) if tuple(sorted(set(c))) not in ALLOWED_CYCLES]
    assert not found, "\n".join(describe(c, graph) for c in found) + (
        "\nBreak the cycle by moving what both modules need into a third one (not by an "
        "import inside a function).")


def test_the_allow_list_names_only_cycles_that_exist() -> None:
    present = {tuple(sorted(set(c))) for c in cycles(import_graph())}
    assert ALLOWED_CYCLES <= present, f"remove from ALLOWED_CYCLES: {ALLOWED_CYCLES - present}"


def test_the_finder_sees_an_import_inside_a_function() -> None:
    tree = ast.parse("def f():\n    from clinic import b\n")
    assert ("clinic.b", 2) in imported_names(tree, "clinic.a", False)
    graph = {"clinic.a": {"clinic.b": 2}, "clinic.b": {"clinic.c": 1}, "clinic.c": {"clinic.a": 5},
             "clinic.d": {"clinic.a": 1}}
    assert cycles(graph) == [["clinic.a", "clinic.b", "clinic.c", "clinic.a"]]
    graph["clinic.b"]["clinic.a"] = 3
    assert cycles(graph) == [["clinic.a", "clinic.b", "clinic.a"],
                             ["clinic.c", "clinic.a", "clinic.b", "clinic.c"]]


def test_the_finder_skips_type_checking_imports() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import clinic.b\n")
    assert all(name != "clinic.b" for name, _ in imported_names(tree, "clinic.a", False))


def test_relative_imports_resolve() -> None:
    tree = ast.parse("from . import b\nfrom .c import d\nfrom .. import e\n")
    names = {name for name, _ in imported_names(tree, "clinic.sms.a", False)}
    assert {"clinic.sms.b", "clinic.sms.c", "clinic.sms.c.d", "clinic.e"} <= names
