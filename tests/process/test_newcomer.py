"""What a newcomer tripped over (defects found following only the README); each test
here failed before its fix."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import Config
from doors.text.session import MENU
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import in_room

ROOT = Path(__file__).resolve().parents[2]
PACED = Config(port=0, rate_lines_per_s=20, burst_lines=5)


@pytest.mark.parametrize("typed", ["  exit  ", "   exit", " exit  ", "exit   ", "\tEXIT "])
async def test_exit_with_any_surrounding_spaces_leaves_the_room(
    connect: Connect, typed: str
) -> None:
    bob = await in_room(connect, "bob", "cafe", create=True)
    await bob.send(typed)
    assert await bob.line() == "* You left cafe."


@pytest.mark.parametrize("program", ["server.py", "client.py"])
@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(program: str, port: str) -> None:
    result = subprocess.run(
        [sys.executable, program, "--port", port],
        cwd=ROOT, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    assert "--port" in result.stderr


async def test_after_a_command_in_the_menu_only_the_prompt_comes_again(connect: Connect) -> None:
    alice = await connect("alice")
    for command, answer in (("/rooms", "* No rooms yet. Create one with 1 or /create NAME."),
                            ("/who", "* Users online (1): alice"),
                            ("/nick alicia", "* You are now known as alicia.")):  # fmt: skip
        await alice.send(command)
        assert await alice.line() == answer
        assert await alice.line() == "Enter your choice:"
    await alice.send("3")  # the protocol asks for the whole menu after 3
    assert await alice.expect("Enter your choice:") == [
        "* No rooms yet. Create one with 1 or /create NAME.",
        *MENU,
    ]


async def test_one_member_is_one_user(connect: Connect) -> None:
    await in_room(connect, "bob", "general", create=True)
    alice = await connect("alice")
    await alice.send("/rooms")
    assert await alice.expect("general (1 user)") == ["Rooms (1)", "general (1 user)"]


async def test_help_prints_two_aligned_columns(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send("/help")
    lines = (await alice.expect("Enter your choice:"))[1:-1]
    starts = {re.search(r"\S  +(\S)", line).start(1) for line in lines}  # type: ignore[union-attr]
    assert len(starts) == 1, lines


async def test_a_taken_name_is_reported_as_typed_normalized(connect: Connect) -> None:
    await connect("alice")
    newcomer = await connect()
    await newcomer.expect("Enter your username:")
    await newcomer.send("ALICE")
    assert await newcomer.line() == '! The name "ALICE" is taken.'
    await newcomer.expect("Enter your username:")
    await newcomer.send("\uff41\uff4c\uff49\uff43\uff45")  # full-width: typed, then normalized
    assert await newcomer.line() == '! The name "alice" is taken.'


def test_the_readme_and_help_point_to_the_protocol_reference_that_exists() -> None:
    assert (ROOT / "docs" / "protocol.md").is_file()
    assert "docs/protocol.md" in (ROOT / "README.md").read_text()
    result = subprocess.run(
        [sys.executable, "server.py", "--help"], cwd=ROOT, capture_output=True, text=True,
        timeout=20,
    )  # fmt: skip
    assert "docs/protocol.md" in result.stdout
    assert "PROTOCOL.md" not in result.stdout


@pytest.mark.timeout(20)
@pytest.mark.parametrize("config", [PACED], ids=["rate 20, burst 5"])
async def test_limits_hit_are_logged_once_per_episode_with_address_and_name(
    connect: Connect, server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await in_room(connect, "alice", "paste", create=True)
    await alice.send(*(["x" * 3000] * 3))
    for _ in range(3):
        assert await alice.line() == "! Line too long (limit 2048 bytes)."
    await alice.send(*(f"line {n}" for n in range(20)))
    await alice.expect(re.compile(r"\[\d\d:\d\d\] <alice> line 19"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "over 2048 bytes" in w]) == 1, warnings
    assert len([w for w in warnings if "pacing its lines" in w]) == 1, warnings
    assert all("(alice)" in w and "127.0.0.1:" in w for w in warnings)
