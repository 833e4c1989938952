"""The doors' wiring: each door's one command table is the one its session reads, /help
is printed from it, and no module of a door imports the table that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from config.settings import Config
from doors.irc import commands as irc_commands
from doors.irc.session import IrcSession
from doors.text import commands as text_commands
from doors.text.session import Session
from rooms import RoomManager

DOORS = Path(__file__).resolve().parents[2] / "doors"


def imports(path: Path) -> set[str]:
    """The project modules a file imports, at run time or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def door_modules() -> dict[str, set[str]]:
    """Each module of doors/, by dotted name, with the modules of doors/ it imports."""
    graph: dict[str, set[str]] = {}
    for path in DOORS.rglob("*.py"):
        parts = path.relative_to(DOORS.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = imports(path)
    return {name: {d for d in deps if d in graph and d != name} for name, deps in graph.items()}


def test_each_session_reads_the_table_its_door_holds() -> None:
    assert Session.commands is text_commands.COMMANDS
    assert IrcSession.commands is irc_commands.COMMANDS


async def test_help_prints_each_usage_of_the_table_in_its_order() -> None:
    out: list[str] = []
    session = Session(RoomManager(), Config(), out.append)
    await session.feed("alice")
    out.clear()
    await session.feed("/help")
    usages = [c.usage.split("  ", 1) for c in text_commands.COMMANDS.values()]
    width = max(len(usage) for usage, _ in usages)
    assert out == ["Commands", *(f"{u:<{width}}  {what}" for u, what in usages), out[-1]]


def test_only_the_irc_registration_commands_are_read_before_the_welcome() -> None:
    early = {name for name, c in irc_commands.COMMANDS.items() if c.before_registration}
    logging_in = {"AUTHENTICATE", "REGISTER", "VERIFY"}  # SASL, account-registration
    assert early == {"CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"} | logging_in


def test_no_handler_imports_the_command_table() -> None:
    graph = door_modules()
    for door in ("text", "irc"):
        table = f"doors.{door}.commands"
        readers = {name for name, deps in graph.items() if table in deps}
        assert readers == {f"doors.{door}.session"}, readers


def test_the_doors_modules_import_one_another_without_a_cycle() -> None:
    graph = door_modules()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path, name])
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
