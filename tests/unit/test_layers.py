"""The layers of clinic/ (its rooms), actions/ and dev/, and no import cycles among them.

Which room may import which is ALLOWED_ROOMS below: the decisions (rules, nlu) and knowledge
import nothing of storage, Rasa or the applications, nor Rasa, SQLAlchemy or Sanic themselves.

Every ``import`` counts, including one inside a function: an import moved into a function
to dodge a cycle still leaves the two modules depending on each other. Imports under
``if TYPE_CHECKING:`` are left out (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("clinic", "actions", "dev")

# Cycles known and being removed, each as its sorted tuple of modules. It must be empty by the
# end of issue 12: do not add to it.
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def module_files(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
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


# ---------------------------------------------------------------- the layers (issue 19)
# Each room of clinic/ (and actions/, dev/) with the rooms it may import. Decisions (rules,
# nlu) and knowledge sit low and read no storage, Rasa or application; adapters (rasa,
# actions) and applications (sms, console, cli) use decisions and services, not each other.
LOW = {"config", "knowledge"}
DECISIONS = LOW | {"nlu", "rules"}
ALLOWED_ROOMS: dict[str, set[str]] = {
    "knowledge": {"knowledge"},
    "config": {"config", "knowledge"},
    "nlu": DECISIONS,
    "rules": DECISIONS,
    # The schema checks the rules' vocabulary (the booking statuses), nothing more.
    "store": LOW | {"store", "rules"},
    "services": DECISIONS | {"store", "services"},
    "rasa": DECISIONS | {"store", "services", "rasa"},
    "sms": DECISIONS | {"store", "services", "sms"},
    "console": DECISIONS | {"store", "services", "console"},
    # The staff command line is the composition root of the apps' sub-commands.
    "cli": DECISIONS | {"store", "services", "cli", "console", "sms"},
    "clinic": set(),  # clinic/__init__.py
    "actions": DECISIONS | {"store", "services", "actions.tracker_reading", "actions"},
    "dev": {"config", "knowledge", "nlu", "rules", "store", "services", "rasa", "sms", "console", "cli",
            "dev"},
}
# Libraries a room must not import: storage, Rasa and web servers stay out of the decisions.
HEAVY = {"rasa", "rasa_sdk", "sanic", "sanic_cors", "socketio", "sqlalchemy", "alembic", "twilio",
         "aiohttp", "redis", "psycopg2"}
FORBIDDEN_LIBRARIES: dict[str, set[str]] = {
    "knowledge": HEAVY, "config": HEAVY, "nlu": HEAVY, "rules": HEAVY,
    "store": HEAVY - {"sqlalchemy", "alembic", "psycopg2"},
    "services": HEAVY - {"sqlalchemy", "psycopg2"},
}
# Imports across the layers that exist today, each with why; being removed, do not add to it.
# (importer, imported module): a test below fails when an entry no longer occurs.
KNOWN_CROSSINGS: dict[tuple[str, str], str] = {
    ("clinic.knowledge.medicines", "clinic.nlu.input_kind"):
        "a dictionary name that is a common English word is not taken for a medicine",
    ("clinic.services.visit_notify", "clinic.console.takeover"):
        "a visit's news reaches an open widget the way a staff reply does (append_events)",
    ("clinic.services.appointments", "clinic.sms"):
        "a confirmed visit queues its texts; consent and opt-out are read by the SMS app's store",
    ("clinic.services.appointments", "clinic.sms.store"):
        "a confirmed visit queues its texts; consent and opt-out are read by the SMS app's store",
    ("actions.booking", "actions.visits"):
        "a saved booking request goes on to the offer of free times",
    ("actions.conversation", "actions.safety"):
        "a correction after the result reopens the safety answers (correction_events)",
    ("clinic.console.app", "clinic.cli.output"):
        "the console's CSV export uses the CLI's spreadsheet-safe cell",
    ("clinic.console.cli", "clinic.cli.output"):
        "the console's sub-commands print the CLI's tables",
    ("clinic.sms.cli", "clinic.cli.output"):
        "the SMS sub-commands print the CLI's tables",
    ("clinic.console.takeover", "clinic.sms"):
        "staff replies by text go through the SMS app's store and transport",
    ("clinic.console.takeover", "clinic.sms.store"):
        "staff replies by text go through the SMS app's store",
    ("clinic.console.takeover", "clinic.sms.transport"):
        "staff replies by text go through the SMS app's transport",
    ("clinic.rasa.channels.twilio", "clinic.sms"):
        "the Twilio channel records inbound texts through the SMS app",
    ("clinic.rasa.channels.twilio", "clinic.sms.inbound"):
        "the Twilio channel records inbound texts through the SMS app",
    ("clinic.rasa.channels.twilio", "clinic.sms.format"):
        "the Twilio channel formats replies as the SMS app does",
    ("clinic.rasa.channels.twilio", "clinic.sms.store"):
        "the Twilio channel checks numbers with the SMS store",
    ("actions.booking", "actions.promotion"):
        "extract_code and handle_typed_code",
    ("actions.booking", "actions.safety"):
        "BOOKING_SLOTS, the slot names",
    ("actions.conversation", "actions.faq"):
        "FALLBACKS and ActionOutOfScope",
    ("actions.screening", "actions.conversation"):
        "the offers (OFFER_BOOK, OFFER_RESUME, offer)",
    ("actions.screening", "actions.promotion"):
        "extract_code",
    ("actions.screening", "actions.safety"):
        "reaction_to_mention, record_mention, stop_active_form",
}


def room_of(module: str) -> str:
    """clinic.rules.screening -> rules; actions.tracker_reading -> actions.tracker_reading."""
    parts = module.split(".")
    if parts[0] == "clinic":
        return parts[1] if len(parts) > 1 else "clinic"
    if module == "actions.tracker_reading":
        return module
    return parts[0]


def crossings(root: Path) -> list[tuple[str, str, int, str]]:
    """(importer, imported, line, why it is refused) for every import that breaks the layers."""
    files = module_files(root)
    found = []
    for module, path in files.items():
        importer = room_of(module)
        if importer == "actions.tracker_reading":
            importer = "actions"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[str] = set()
        for name, line in imported_names(tree, module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if name in files and name != module and name not in seen:
                seen.add(name)
                target = room_of(name)
                if target != importer and target not in ALLOWED_ROOMS.get(importer, ()):
                    found.append((module, name, line, f"{importer} may not import {target}"))
                elif importer == "actions" and target == "actions" and name not in (
                        "actions", "actions.tracker_reading") and module != "actions":
                    found.append((module, name, line, "one action module imports another"))
            elif top in FORBIDDEN_LIBRARIES.get(importer, ()) and top not in seen:
                seen.add(top)
                found.append((module, top, line, f"{importer} may not import the library {top}"))
    return found


def layer_message(found: list[tuple[str, str, int, str]], root: Path) -> str:
    lines = [f"{module.replace('.', '/')}.py line {line}: imports {name} ({why})"
             for module, name, line, why in found]
    return ("imports across the layers (clinic/__init__.py and docs/architecture.md name them):\n  "
            + "\n  ".join(lines) + "\nMove the decision down into rules/ or nlu/, or the I/O up into "
            "services/; an adapter or application calls decisions and services, not another adapter.")


def test_every_import_respects_the_layers() -> None:
    found = [c for c in crossings(ROOT) if (c[0], c[1]) not in KNOWN_CROSSINGS]
    assert not found, layer_message(found, ROOT)


def test_the_known_crossings_still_exist() -> None:
    present = {(c[0], c[1]) for c in crossings(ROOT)}
    gone = set(KNOWN_CROSSINGS) - present
    assert not gone, f"remove from KNOWN_CROSSINGS (fixed): {sorted(gone)}"


def test_every_module_is_in_a_room() -> None:
    rooms = {room_of(m) for m in module_files(ROOT)}
    outside = rooms - set(ALLOWED_ROOMS) - {"actions.tracker_reading"}
    assert not outside, (f"modules outside the rooms: {sorted(outside)}; put them in one "
                         "(clinic/<room>/) and give the room its rules in ALLOWED_ROOMS")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_rule_that_reads_the_database_fails_with_the_offending_line(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "clinic/__init__.py": "",
        "clinic/store/__init__.py": "", "clinic/store/db.py": "x = 1\n",
        "clinic/rules/__init__.py": "",
        "clinic/rules/bad.py": "import re\n\ndef f():\n    from clinic.store.db import x\n    return x\n",
        "clinic/rules/rasa_too.py": "from rasa.shared.core.events import SlotSet\n",
        "clinic/rules/fine.py":
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy\n",
    })
    found = crossings(root)
    assert [(c[0], c[1], c[2]) for c in found] == [
        ("clinic.rules.bad", "clinic.store.db", 4), ("clinic.rules.rasa_too", "rasa", 1)]
    message = layer_message(found, root)
    assert "clinic/rules/bad.py line 4: imports clinic.store.db (rules may not import store)" in message
    assert "clinic/rules/rasa_too.py line 1: imports rasa (rules may not import the library rasa)" in message


def test_adapters_and_applications_do_not_import_each_other(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "clinic/rasa/__init__.py": "", "clinic/rasa/channel.py": "from clinic.console import app\n",
        "clinic/console/__init__.py": "", "clinic/console/app.py": "from clinic.rules import hours\n",
        "clinic/rules/__init__.py": "", "clinic/rules/hours.py": "",
        "actions/__init__.py": "", "actions/faq.py": "",
        "actions/booking.py": "from actions.faq import x\nfrom actions.tracker_reading import y\n",
        "actions/tracker_reading.py": "",
    })
    refused = {(c[0], c[1]) for c in crossings(root)}
    assert refused == {("clinic.rasa.channel", "clinic.console"),
                       ("clinic.rasa.channel", "clinic.console.app"), ("actions.booking", "actions.faq")}
