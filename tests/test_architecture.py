"""The layers, checked from the source (ast; nothing is imported or run): which package may import which,
no cycles, no private names borrowed across modules, SQL only in the store modules, and no oversized
modules. docs/architecture.md draws the same picture.

    process   plumbing every process shares; imports nothing of ours
    language  the texts people read and hear, per language; imports nothing of ours
    protocol  the contract; imports only process
    kiosk, hub, display, web, archive   the apps; each imports only protocol, process, language and itself
    hubprocess  the hub's process: the one package that knows two apps (hub and web), and only them
    devtools  what tests, bench and demo share (not shipped)
    tests, bench, demo   import everything above but never each other
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "process", "language", "kiosk", "hub", "display", "web", "archive", "hubprocess", "devtools",
            "demo", "bench", "tests")
APPS = ("kiosk", "hub", "display", "web", "archive")
TOOLS = ("tests", "bench", "demo")
MAX_LINES = 400

# Modules (outside tests/, bench/ and devtools/, which hold test and benchmark code) over MAX_LINES:
# none any more (issue 12 split them). Do not add to it.
TOO_LONG_TODAY: set[str] = set()


def modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a module imports, anywhere in it (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found


def edges() -> dict[tuple[str, str], set[str]]:
    """(package, package it imports) → the modules (relative paths) with such an import."""
    graph: dict[tuple[str, str], set[str]] = {}
    for package in PACKAGES:
        for path in modules(package):
            for target in imported_packages(path) - {package}:
                graph.setdefault((package, target), set()).add(path.relative_to(ROOT).as_posix())
    return graph


def allowed(source: str, target: str) -> bool:
    if source in ("process", "language"):
        return False
    if source == "protocol":
        return target == "process"
    if source in APPS:
        return target in ("protocol", "process", "language")
    if source == "hubprocess":  # runs the hub with its web in one process: wires the two together
        return target in ("hub", "web", "protocol", "process", "language")
    if source == "devtools":
        return target not in TOOLS
    return target not in TOOLS  # tests, bench and demo: anything but each other


def test_the_source_tree_has_the_packages_the_test_knows() -> None:
    found = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert found == set(PACKAGES), "a new top-level package needs its place in the layers (and here)"


def test_each_package_imports_only_the_layers_below_it() -> None:
    wrong = sorted(f"{module} imports {target}" for (source, target), where in edges().items()
                   if not allowed(source, target) for module in where)
    assert not wrong, "\n".join(wrong)


def test_the_package_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for source, target in edges():
        graph[source].add(target)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        return False

    cycles = [(a, b) for a, b in itertools.combinations(PACKAGES, 2) if reaches(a, b) and reaches(b, a)]
    assert not cycles, f"packages that import each other (directly or not): {cycles}"


def test_no_shipped_module_imports_another_modules_private_names() -> None:
    """`from web.staff import _field` is a seam in the wrong place: what two modules share is public in the
    module it belongs to (an HTTP helper, the session guard, …), not borrowed from a page."""
    shipped = [p for p in PACKAGES if p not in ("tests", "bench", "devtools", "demo")]
    borrowed = sorted(f"{path.relative_to(ROOT).as_posix()}: {node.module}.{alias.name}"
                      for package in shipped for path in modules(package)
                      for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                      if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                      and node.module.split(".")[0] in PACKAGES
                      for alias in node.names if alias.name.startswith("_"))
    assert not borrowed, "\n".join(borrowed)


SQLITE_PLUMBING = "process/sqlite.py"  # opens a database and runs transactions; touches no table


def runs_sql(path: Path) -> bool:
    """Imports sqlite3 or calls execute/executemany/executescript on anything."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import) and any(alias.name == "sqlite3" for alias in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript"):
            return True
    return False


def test_sql_lives_in_the_store_modules_only() -> None:
    """Each app's SQLite file has one owner (kiosk/store.py, hub/store.py): the web asks the hub's accounts
    through an interface of its own, never the hub's tables. process/sqlite.py, the plumbing both stores
    open and commit with, names no table."""
    shipped = [p for p in PACKAGES if p not in ("tests", "bench", "devtools", "demo")]
    outside = sorted(path.relative_to(ROOT).as_posix() for package in shipped for path in modules(package)
                     if path.name != "store.py" and path.relative_to(ROOT).as_posix() != SQLITE_PLUMBING
                     and runs_sql(path))
    assert not outside, f"SQL outside the store modules: {outside}"


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("tests", "bench", "devtools")])
def test_no_module_is_over_400_lines(package: str) -> None:
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in modules(package)}
    too_long = {module: n for module, n in lengths.items() if n > MAX_LINES and module not in TOO_LONG_TODAY}
    assert not too_long, f"split these by what they are: {too_long}"
    shrunk = {module for module in TOO_LONG_TODAY if module in lengths and lengths[module] <= MAX_LINES}
    assert not shrunk, f"delete from TOO_LONG_TODAY: {sorted(shrunk)}"
