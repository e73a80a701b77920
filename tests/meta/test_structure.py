"""The house rules a newcomer relies on: no import cycle anywhere under bot/, imports only run
downwards (handlers and jobs -> services -> storage), and handlers stay short.

Imports are read with `ast`, so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bot"
HANDLER_LINES = 25
# (importer prefix, imported prefix) pairs that would make a layer depend on one above it.
UPWARD = [
    ("bot.jobs", "bot.handlers"),
    ("bot.services", "bot.handlers"),
    ("bot.storage", "bot.handlers"),
    ("bot.storage", "bot.services"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_by(name: str, path: Path) -> set[str]:
    """The modules of bot/ that `name` imports anywhere in its body. `from bot.x import y`
    imports the module bot.x.y when there is one, else bot.x."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            targets = submodules if len(submodules) == len(node.names) else [base, *submodules]
        else:
            continue
        for target in targets:
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != name:
                found.add(target)
    return found


GRAPH = {name: imported_by(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_reader_sees_imports_inside_functions() -> None:
    """The scan itself: a lazy import is found, and a planted cycle is reported."""
    assert "bot.handlers.common" in GRAPH["bot.handlers.start"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_under_bot() -> None:
    assert find_cycle(GRAPH) is None


@pytest.mark.parametrize(("lower", "upper"), UPWARD)
def test_imports_only_run_downwards(lower: str, upper: str) -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.startswith(lower)
        for target in targets
        if target.startswith(upper)
    )
    assert upward == []


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the body, without the docstring."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return 0
    end = body[-1].end_lineno
    assert end is not None
    return end - body[0].lineno + 1


def test_handlers_are_short() -> None:
    """Parse, call a service, render, send: no handler body over 25 lines, except the wiring
    (`register`) that adds the module's handlers to the application."""
    long = sorted(
        f"{path.relative_to(ROOT)}::{node.name} ({body_lines(node)} lines)"
        for path in (PACKAGE / "handlers").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name != "register"
        and body_lines(node) > HANDLER_LINES
    )
    assert long == []
