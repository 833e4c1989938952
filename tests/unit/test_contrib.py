"""What contrib/ and the README promise an operator: the systemd unit's settings, and
the very openssl command the TLS tests use to make a self-signed certificate."""

from __future__ import annotations

from pathlib import Path

from tests.rigs.tlsfiles import SELF_SIGNED_COMMAND

ROOT = Path(__file__).resolve().parents[2]


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (ROOT / "contrib" / "chatroom.service").read_text().splitlines():
        if line and line[0] not in "#[" and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_runs_unprivileged_restarts_reloads_and_binds_low_ports() -> None:
    unit = unit_settings()
    assert unit["User"] == ["chatroom"] and unit["Group"] == ["chatroom"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert unit["StateDirectory"] == ["chatroom"]
    assert unit["StandardError"] == ["journal"]
    assert unit["ExecStart"][0].endswith("chatroom-server --config /etc/chatroom/chatroom.toml")


def test_the_readme_shows_the_self_signed_command_the_tests_run() -> None:
    assert SELF_SIGNED_COMMAND in (ROOT / "README.md").read_text()
