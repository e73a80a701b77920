"""Each command's handler is found by searching for the command's name: every command of the
menus and of the roles table is registered as `CommandHandler("<name>", ...)` with its name
written out, in bot/handlers (not through a dict or a constant)."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.handlers.menus import CITIZEN_COMMANDS
from bot.services.roles import ROLE_COMMANDS

HANDLERS = Path(__file__).resolve().parents[2] / "bot" / "handlers"


def registered_by_name() -> dict[str, set[str]]:
    """Command name -> the handler modules that register it with the name written out."""
    found: dict[str, set[str]] = {}
    for path in HANDLERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "CommandHandler"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.setdefault(node.args[0].value, set()).add(path.name)
    return found


def test_every_command_is_registered_with_its_name_written_out() -> None:
    registered = registered_by_name()
    missing = sorted((set(CITIZEN_COMMANDS) | set(ROLE_COMMANDS)) - set(registered))
    assert missing == []


def test_the_scan_sees_a_command_handler() -> None:
    assert "staff.py" in registered_by_name()["hari_ini"]
