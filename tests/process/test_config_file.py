"""`--config FILE`: every option from a TOML file, the command line winning, one line
for a bad key or value; and contrib/chatroom.toml holds every option with its default."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.options import parse_args
from tests.rigs.tlsfiles import make_tls_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "contrib" / "chatroom.toml"
NOT_IN_A_FILE = {"--help", "--config", "--hash-password"}  # commands, not settings


def long_options() -> set[str]:
    """Every long option `server.py --help` lists."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", out)) - NOT_IN_A_FILE


def test_the_example_config_names_every_option_of_help() -> None:
    keys = set(re.findall(r"^#? ?\[?\[?([a-z][a-z0-9-]*)(?: =|\]\])", EXAMPLE.read_text(), re.M))
    missing = sorted(flag for flag in long_options() if flag[2:] not in keys)
    assert not missing, f"contrib/chatroom.toml lacks {missing}"


def test_the_example_config_is_the_defaults() -> None:
    assert parse_args(["--config", str(EXAMPLE)]) == parse_args([])


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "chatroom.toml"
    path.write_text(text)
    return str(path)


def test_options_come_from_the_file_and_the_command_line_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'port = 9000\nmax_clients = 7\nrate = 2\nlog-level = "debug"\nno-irc = true\n'
        'irc-server-info = "from the file"\nburst = 3\n',
    )
    config = parse_args(["--config", path, "--burst", "4", "--port", "9001"])
    assert (config.port, config.max_clients, config.rate_lines_per_s) == (9001, 7, 2.0)
    assert (config.log_level, config.irc_port, config.burst_lines) == ("DEBUG", None, 4)
    assert config.irc_server_info == "from the file"


def test_file_values_pass_the_same_checks_as_flags(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls")
    path = write(tmp_path, f'tls-cert = "{files.cert}"\ntls_key = "{files.key}"\nno-plain = true\n')
    config = parse_args(["--config", path])
    assert (config.tls_cert, config.plain, config.tls_port) == (files.cert, False, 8443)
    secret = tmp_path / "secret"
    secret.write_text("from a file\n")
    both = write(tmp_path, f'password-file = "{secret}"\n')
    assert parse_args(["--config", both]).password == "from a file"
    # A group's other member on the command line wins over the file's, with no conflict.
    assert parse_args(["--config", both, "--password", "flag"]).password == "flag"


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("prot = 80\n", "unknown option 'prot' (see --help for the options)"),
        ('port = "8080"\n', "port: expected an integer, not a string"),
        ("port = 70000\n", "port: port must be 0 to 65535, not 70000"),
        ("no-irc = 1\n", "no-irc: expected true or false, not an integer"),
        ("rate = true\n", "rate: expected a number, not true"),
        ("host = 5\n", "host: expected a string, not an integer"),
        ("max-line = [1, 2]\n", "max-line: expected one value, not a list"),
        ("config = 'x.toml'\n", "unknown option 'config'"),
        ("[server]\nport = 1\n", "unknown option 'server'"),
        ("port = \n", "not valid TOML"),
        ('password-file = "/nonexistent/secret"\n', "password-file: cannot read /nonexistent"),
    ],
    ids=["unknown key", "string for a number", "port too big", "number for a flag",
         "flag for a number", "number for a string", "list", "config in config", "table",
         "bad toml", "unreadable password file"],
)  # fmt: skip
def test_a_bad_key_or_value_is_one_line_naming_it(
    tmp_path: Path, text: str, wanted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--config", path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and wanted in err and path in err, err


def test_a_missing_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--config", str(tmp_path / "none.toml")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err and "no such file" in err


def test_checks_across_options_apply_to_file_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--config", write(tmp_path, "max-clients = 0\n")])
    assert "--max-clients must be at least 1" in capsys.readouterr().err
