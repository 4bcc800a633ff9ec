"""The layers, checked from the source (ast; nothing is imported or run): which package may import which,
no cycles, and no oversized modules. docs/architecture.md draws the same picture.

    process   plumbing every process shares; imports nothing of ours
    protocol  the contract; imports only process
    kiosk, hub, display, web   the apps; each imports only protocol, process and itself
    devtools  what tests, bench and demo share (not shipped)
    tests, bench, demo   import the apps and devtools, never each other
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "process", "kiosk", "hub", "display", "web", "devtools", "demo", "bench", "tests")
APPS = ("kiosk", "hub", "display", "web")
TOOLS = ("tests", "bench", "demo")
MAX_LINES = 400

# The hub and the web still import each other. A later stage of issue 12 removes this cycle (the web
# defines the account directory it needs, the hub implements it, only the hub's entry point knows both)
# and then deletes this list. Do not add to it.
CYCLE_TO_REMOVE = {
    ("hub/app.py", "web"),  # the web tier in the hub's process
    ("hub/config.py", "web"),  # reads [web] with web.config
    ("web/account.py", "hub"),  # accounts in the hub's database
    ("web/internal.py", "hub"),
    ("web/staff.py", "hub"),
}

# Modules (outside tests/, bench/ and devtools/, which hold test and benchmark code) over MAX_LINES
# today; later stages of issue 12 split them and empty this list. Do not add to it.
TOO_LONG_TODAY = {"display/sound.py", "kiosk/app.py"}


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
    if source == "process":
        return False
    if source == "protocol":
        return target == "process"
    if source in APPS:
        return target in ("protocol", "process")
    if source == "devtools":
        return target not in TOOLS
    return target not in TOOLS  # tests, bench and demo: anything but each other


def test_the_source_tree_has_the_packages_the_test_knows() -> None:
    found = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert found == set(PACKAGES), "a new top-level package needs its place in the layers (and here)"


def test_each_package_imports_only_the_layers_below_it() -> None:
    wrong = sorted(f"{module} imports {target}" for (source, target), where in edges().items()
                   if not allowed(source, target) for module in where if (module, target) not in CYCLE_TO_REMOVE)
    assert not wrong, "\n".join(wrong)


def test_the_cycle_still_to_remove_is_exactly_what_remains() -> None:
    """The allow-list may only shrink: an entry that no longer imports is deleted from it."""
    actual = {(module, target) for (_, target), where in edges().items() for module in where}
    assert not CYCLE_TO_REMOVE - actual, f"delete from CYCLE_TO_REMOVE: {sorted(CYCLE_TO_REMOVE - actual)}"


def test_the_package_graph_has_no_cycle_beyond_the_listed_one() -> None:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for (source, target), where in edges().items():
        if where - {module for module, t in CYCLE_TO_REMOVE if t == target}:
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


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("tests", "bench", "devtools")])
def test_no_module_is_over_400_lines(package: str) -> None:
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in modules(package)}
    too_long = {module: n for module, n in lengths.items() if n > MAX_LINES and module not in TOO_LONG_TODAY}
    assert not too_long, f"split these by what they are: {too_long}"
    shrunk = {module for module in TOO_LONG_TODAY if module in lengths and lengths[module] <= MAX_LINES}
    assert not shrunk, f"delete from TOO_LONG_TODAY: {sorted(shrunk)}"
