"""Where the server keeps accounts: in its database, across a restart; in memory only
with --no-history, which it says once at start."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from registry.accounts import LoginRefused

WARNING = "accounts last until the server stops: --no-history keeps no database"


async def test_a_server_restarted_on_the_same_database_knows_its_accounts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = Config(port=0, irc_port=None, db_path=str(tmp_path / "chatroom.db"))
    server = ChatServer(config)
    await server.start()
    await server.rooms.accounts.register("alice", "sesame", "192.0.2.1")
    await server.aclose()
    again = ChatServer(config)
    await again.start()
    try:
        account = await again.rooms.accounts.verify("ALICE", "sesame", "192.0.2.1")
        assert account.name == "alice"
        with pytest.raises(LoginRefused):
            await again.rooms.accounts.verify("alice", "wrong", "192.0.2.1")
    finally:
        await again.aclose()
    said = [r.getMessage() for r in caplog.records]
    assert f"accounts in {config.db_path} (1 account)" in said
    assert not [line for line in said if "sesame" in line or "scram-sha-256$" in line]


async def test_without_a_database_accounts_live_in_memory_and_the_log_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = ChatServer(Config(port=0, irc_port=None))
    await server.start()
    await server.rooms.accounts.register("alice", "sesame", "192.0.2.1")
    await server.aclose()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [WARNING]
    again = ChatServer(Config(port=0, irc_port=None))
    await again.start()
    assert again.rooms.accounts.find("alice") is None
    await again.aclose()


async def test_closed_registration_needs_no_warning_without_a_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ChatServer(replace(Config(port=0, irc_port=None), registration_open=False))
    await server.start()
    assert not server.rooms.accounts.registration_open
    await server.aclose()
    assert WARNING not in [r.getMessage() for r in caplog.records]


async def test_a_registered_room_with_no_line_and_no_member_is_kept_across_a_restart(
    tmp_path: Path,
) -> None:
    config = Config(port=0, irc_port=None, db_path=str(tmp_path / "chatroom.db"))
    server = ChatServer(config)
    await server.start()
    rooms = server.rooms
    await rooms.accounts.register("alice", "sesame", "192.0.2.1")
    await rooms.accounts.register("bob", "sesame", "192.0.2.1")
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"", account="alice")
    den = await rooms.create(alice, "Den")
    await rooms.create(alice, "attic")  # not registered, no line: gone at the restart
    rooms.register_room(alice, "den")
    rooms.set_access(alice, "den", "v", "bob")
    await rooms.leave(alice, den)
    assert rooms.room("den") is den
    await server.aclose()
    again = ChatServer(config)
    await again.start()
    try:
        kept = again.rooms.room("den")
        assert kept is not None and kept.name == "Den" and not kept.members
        assert kept.owner is not None and kept.owner.founder == "alice"
        assert kept.owner.entries() == [("bob", "v")] and "t" in kept.modes
        assert again.rooms.room("attic") is None
    finally:
        await again.aclose()
