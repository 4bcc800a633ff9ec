"""The layers, checked from the source (ast; nothing is imported or run): which package may import which,
no cycles, no private names borrowed across modules, SQL only in the store modules, topics spelled only in
protocol/topics.py, and no oversized modules. docs/architecture.md opens with a picture of the same graph,
checked here arrow by arrow, and names every module (checked here too).

    process   plumbing every process shares; imports nothing of ours
    language  the texts people read and hear, per language; imports nothing of ours
    protocol  the contract; imports only process
    kiosk, hub, display, web, notifier, archive   the apps; each imports only protocol, process, language and itself
    hubprocess  the hub's process: the one package that knows two apps (hub and web), and only them
    devtools  what tests, bench and demo share (not shipped)
    tests, bench, demo   import everything above but never each other
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "process", "language", "kiosk", "hub", "display", "web", "notifier", "archive", "hubprocess",
            "devtools", "demo", "bench", "tests")
APPS = ("kiosk", "hub", "display", "web", "notifier", "archive")
TOOLS = ("tests", "bench", "demo")
MAX_LINES = 400

# Modules (outside tests/ and bench/) over MAX_LINES: none any more (issue 12 split them). Do not add to it.
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


@functools.cache
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


ARCHITECTURE_MD = ROOT / "docs" / "architecture.md"
ARROW_ROW = re.compile(r"^(\w+) ─*▶ (.+)$")
LEAF_ROW = re.compile(r"^(\w+) +\(imports nothing of ours\)$")


def picture_rows() -> list[str]:
    """The lines of the picture docs/architecture.md opens with: its first fenced block, before any section."""
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    opening = text.split("\n## ", 1)[0]
    block = re.search(r"^```\n(.*?)^```$", opening, re.S | re.M)
    assert block, "docs/architecture.md must open (before its first section) with the picture of the packages"
    return block.group(1).splitlines()


def picture_edges() -> tuple[list[str], set[tuple[str, str]]]:
    """The packages in the picture's order (top row first) and its arrows, (package, package it imports)."""
    order: list[str] = []
    arrows: set[tuple[str, str]] = set()
    columns: dict[str, int] = {}
    for line in picture_rows():
        row = ARROW_ROW.match(line) or LEAF_ROW.match(line)
        assert row, f"a line of the picture that is neither a package's arrows nor a leaf: {line!r}"
        source = row.group(1)
        assert source not in order, f"{source} has two rows in the picture"
        order.append(source)
        if row.re is ARROW_ROW:
            for target in row.group(2).split():
                arrows.add((source, target))
                column = [m.start() for m in re.finditer(rf"(?<!\w){target}(?!\w)", line)][-1]
                assert columns.setdefault(target, column) == column, f"{target} leaves its column in {line!r}"
    return order, arrows


def test_the_picture_in_architecture_md_shows_exactly_the_imports_of_the_source() -> None:
    order, arrows = picture_edges()
    assert sorted(order) == sorted(PACKAGES), "the picture must show every package, once"
    graph = edges()
    missing = sorted(f"{a} ──▶ {b}  ({', '.join(sorted(graph[(a, b)]))})" for a, b in set(graph) - arrows)
    extra = sorted(f"{a} ──▶ {b}" for a, b in arrows - set(graph))
    assert not missing and not extra, ("docs/architecture.md's picture is out of date:\n"
                                       f"imports it does not draw: {missing}\narrows no module has: {extra}")
    upward = sorted(f"{a} ──▶ {b}" for a, b in arrows if order.index(b) <= order.index(a))
    assert not upward, f"every arrow points to a row below its package: {upward}"


def package_sections() -> dict[str, str]:
    """docs/architecture.md's text under each "### `package/`" heading, up to the next heading."""
    parts = re.split(r"^(#{2,3} .*)$", ARCHITECTURE_MD.read_text(encoding="utf-8"), flags=re.M)
    return {m.group(1): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)
            if (m := re.fullmatch(r"### `(\w+)/`", heading.strip()))}


DOCUMENTED = ("protocol", "process", "language", "kiosk", "hub", "display", "web", "hubprocess", "devtools")


@pytest.mark.parametrize("package", DOCUMENTED)
def test_architecture_md_names_each_module_of_a_package_and_no_module_that_is_gone(package: str) -> None:
    """A newcomer reads a package's section to find its modules: each is named there (a file name, or its
    path inside the package), and each `….py` the section names exists (in the package, or at the path
    it gives from the repository's root)."""
    section = package_sections()[package]
    named = set(re.findall(r"`([\w/]+\.py)`", section))
    ours = {path.relative_to(ROOT / package).as_posix() for path in modules(package)
            if path.name not in ("__init__.py", "__main__.py")}
    unnamed = sorted(m for m in ours if m not in named and m.rpartition("/")[2] not in named)
    assert not unnamed, f"docs/architecture.md's `{package}/` section does not name: {unnamed}"
    gone = sorted(n for n in named if not (ROOT / n).is_file()
                  and not any(m == n or m.endswith("/" + n) for m in ours))
    assert not gone, f"docs/architecture.md's `{package}/` section names modules that do not exist: {gone}"


def test_every_module_architecture_md_names_exists() -> None:
    """Also outside the packages' sections (decisions, the wait estimates): no module that is gone."""
    ours = {path.relative_to(ROOT).as_posix() for package in PACKAGES for path in modules(package)}
    named = set(re.findall(r"`([\w/]+\.py)`", ARCHITECTURE_MD.read_text(encoding="utf-8")))
    gone = sorted(n for n in named if not any(m == n or m.endswith("/" + n) for m in ours))
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"


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


def borrowed_private_names(path: Path) -> list[str]:
    """`from web.staff import _field`, or `scenarios._SPECS` on a module imported as `scenarios`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    modules_bound: set[str] = set()  # local names of our modules imported whole (`from devtools.eta import x`)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in PACKAGES:
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
            modules_bound |= {alias.asname or alias.name for alias in node.names
                              if (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").is_file()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules_bound \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{node.value.id}.{node.attr}")
    return [f"{path.relative_to(ROOT).as_posix()}: {name}" for name in found]


def test_no_module_borrows_another_modules_private_names() -> None:
    """`from web.staff import _field` is a seam in the wrong place: what two modules share is public in the
    module it belongs to (an HTTP helper, the session guard, the random draws of the simulated days, …),
    not borrowed from a page. Tests may look inside what they test."""
    borrowed = sorted(found for package in PACKAGES if package != "tests" for path in modules(package)
                      for found in borrowed_private_names(path))
    assert not borrowed, "\n".join(borrowed)


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (a module's, a class's, a function's)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def builds_topics(path: Path) -> list[str]:
    """Where a module spells a topic itself: the tree's root as a string, or `office_root(…)` + a suffix."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = docstrings(tree)
    return [f"{path.relative_to(ROOT).as_posix()}:{node.lineno}" for node in ast.walk(tree)
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                and "wartemarke/v1" in node.value)
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "office_root")]


def test_topics_are_built_only_in_protocol_topics() -> None:
    """architecture.md: topics.py is the only place topic strings and filters are built (tests may spell
    raw topics: they probe what the contract refuses)."""
    outside = sorted(where for package in PACKAGES if package != "tests" for path in modules(package)
                     if path.relative_to(ROOT).as_posix() != "protocol/topics.py" for where in builds_topics(path))
    assert not outside, f"topics spelled outside protocol/topics.py: {outside}"


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


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("tests", "bench")])
def test_no_module_is_over_400_lines(package: str) -> None:
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in modules(package)}
    too_long = {module: n for module, n in lengths.items() if n > MAX_LINES and module not in TOO_LONG_TODAY}
    assert not too_long, f"split these by what they are: {too_long}"
    shrunk = {module for module in TOO_LONG_TODAY if module in lengths and lengths[module] <= MAX_LINES}
    assert not shrunk, f"delete from TOO_LONG_TODAY: {sorted(shrunk)}"
