"""The command line's mistakes: one line naming the option (and the file it came from),
then a pointer to --help; never the whole usage block."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from config.options import default_server_name, parse_args
from utils import os_reason


@pytest.fixture(autouse=True)
def program_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["server.py"])


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    with pytest.raises(SystemExit) as exited:
        parse_args(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err.splitlines()


def test_a_bad_option_is_one_line_and_a_pointer_to_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert refusal(capsys, "--log-level", "LOUD") == [
        "server.py: error: --log-level: unknown level 'LOUD' (one of DEBUG, INFO, WARNING, ERROR)",
        "Try 'server.py --help' for the options.",
    ]


def test_a_bad_value_from_the_config_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chatroom.toml"
    path.write_text('log-level = "LOUD"\n')
    lines = refusal(capsys, "--config", str(path))
    assert lines[0].startswith(f"server.py: error: {path}: --log-level: unknown level 'LOUD'")
    assert len(lines) == 2


def test_a_database_path_that_is_a_directory_is_refused_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (line, _) = refusal(capsys, "--db", str(tmp_path))
    assert line == (
        f"server.py: error: --db: {tmp_path} is a directory; give the database file's path, "
        f"such as {tmp_path / 'chatroom.db'}"
    )


def test_a_name_that_resolves_to_nothing_is_said_so() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert os_reason(error) == "no such address (name or service not known)"


def test_the_server_name_is_the_hosts_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda: "localhost")
    assert default_server_name() == "localhost"
    monkeypatch.setattr(socket, "getfqdn", lambda: "chat.example.org")
    assert default_server_name() == "chat.example.org"


def test_registration_is_open_unless_closed_on_the_command_line_or_in_the_file(
    tmp_path: Path,
) -> None:
    assert parse_args([]).registration_open
    assert not parse_args(["--registration", "closed"]).registration_open
    config = tmp_path / "chatroom.toml"
    config.write_text('registration = "closed"\n')
    assert not parse_args(["--config", str(config)]).registration_open
    assert parse_args(["--config", str(config), "--registration", "open"]).registration_open


def test_always_on_is_off_unless_turned_on_on_the_command_line_or_in_the_file(
    tmp_path: Path,
) -> None:
    assert not parse_args([]).always_on
    assert parse_args(["--always-on", "on"]).always_on
    config = tmp_path / "chatroom.toml"
    config.write_text('always-on = "on"\n')
    assert parse_args(["--config", str(config)]).always_on
