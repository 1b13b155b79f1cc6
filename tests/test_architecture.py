"""The shape of the house: imports only point down, only the services touch the database,
modules stay small, and every cog module says what it owns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "db")
MAX_LINES = 400
# the database is reached only by the use cases (bot/services), db/ and the migrations
DATABASE_TOKENS = re.compile(
    r"AsyncSession|sessions|reads\(\)|(?<![\w.])select\(|(?<![\w])text\(|execute\("
)
DATABASE_HOMES = ("bot/services/", "db/", "migrations/")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every project module ``name`` imports, anywhere in the file (type-only and
    function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import module`` imports the module (and runs the package's
            # __init__, as every submodule import does; that is not an edge of its own)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            named = [m for m in submodules if m in known]
            targets = named if len(named) == len(submodules) else [base, *named]
        for imported in targets:
            module = imported
            while module and module not in known:
                module = module.rpartition(".")[0]
            if module and module != name:
                out.add(module)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_sees_a_loop() -> None:
    """The cycle walk itself finds a loop, and none in a chain."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_the_projects_modules() -> None:
    """No module of bot/, cogs/ or db/ reaches itself through its imports."""
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    assert _cycle(graph) is None


def test_only_services_db_and_migrations_touch_the_database() -> None:
    """No session, read, select, text or execute outside bot/services, db and migrations."""
    offenders = []
    for package in ("bot", "cogs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(DATABASE_HOMES):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if DATABASE_TOKENS.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_no_module_over_400_lines() -> None:
    """Every module of bot/ and cogs/ stays within 400 lines."""
    long = [
        f"{path.relative_to(ROOT)}: {count}"
        for package in ("bot", "cogs")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert long == []


def test_every_cog_module_says_what_it_owns() -> None:
    """Each module under cogs/ opens with a docstring whose first line names what it owns."""
    silent = []
    for path in sorted((ROOT / "cogs").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        first = source.splitlines()[0] if source else ""
        if not first.startswith('"""') or len(first.strip('" ')) < 10:
            silent.append(str(path.relative_to(ROOT)))
    assert silent == []
