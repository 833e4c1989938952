"""The store on its own: the writer's bounded queue, expiry while running, a disk that
fills, the schema's migrations; no sockets."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from registry import AccountRecord, Member, Multiline, Said, ServerBans, TopicSet
from registry.history import HistoryUnavailable, Query, StoreError
from registry.masks import parse_changes
from rooms import RoomManager
from store import reads, schema
from store import sqlite as sqlite_module
from store.schema import VERSION, migrate
from store.sqlite import open_history
from tests.rigs.chat import wait_until
from utils import counted

CREDS = "scram-sha-256$4096$c2FsdA==$c3RvcmVk$c2VydmVy"


def member(name: str) -> Member:
    return Member(name, lambda data: None, lambda event: b"")


async def test_a_queue_the_disk_cannot_keep_up_with_drops_counts_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The writer wakes only every 60 s here: the queue fills as if the disk were stuck.
    history = open_history(
        str(tmp_path / "h.db"), recent=5, retention_s=0, queue_max=10, interval_s=60
    )
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    for i in range(30):
        room.say(alice, f"line {i}")
    assert history.dropped == 30 - 9  # the room's own row took one place
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "history: the disk is not keeping up; dropping history entries (chat goes on)"
    ]
    assert [e.text for e in room.replay(5)] == [f"line {i}" for i in range(25, 30)]
    await history.aclose()  # writes what was queued
    con = sqlite3.connect(tmp_path / "h.db")
    assert con.execute("SELECT COUNT(*) FROM messages").fetchone() == (9,)
    con.close()


async def test_lines_expire_while_running_and_an_empty_room_with_none_left_goes(
    tmp_path: Path,
) -> None:
    now = [1_000_000.0]
    history = open_history(
        str(tmp_path / "h.db"), recent=5, retention_s=100, interval_s=0.01,
        expire_every_s=10, clock=lambda: now[0],
    )  # fmt: skip
    rooms = RoomManager(history=history, replay_lines=5, clock=lambda: now[0])
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    room.say(alice, "soon old")
    await rooms.leave(alice, room)
    assert rooms.room("general") is room  # it holds history: it stays, empty
    now[0] += 150  # past the retention: the writer's next expiry sweeps it
    await wait_until(lambda: rooms.room("general") is None)
    await history.aclose()
    con = sqlite3.connect(tmp_path / "h.db")
    assert con.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
    assert con.execute("SELECT COUNT(*) FROM rooms").fetchone() == (0,)
    con.close()


async def test_a_full_disk_while_running_stops_history_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = open_history(str(tmp_path / "h.db"), recent=5, retention_s=0, interval_s=0.01)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    room.say(alice, "fits")
    assert [e.text for e in await history.fetch(Query(room.key, "latest", 5))] == ["fits"]
    pages = history._con.execute("PRAGMA page_count").fetchone()[0]
    history._con.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
    for i in range(200):
        room.say(alice, f"{i} " + "x" * 500)
    await wait_until(lambda: bool(history.failed))
    with pytest.raises(HistoryUnavailable, match="database or disk is full"):
        await history.fetch(Query(room.key, "latest", 5))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"history stopped: cannot write {tmp_path / 'h.db'}: database or disk is full "
        "(free some space); chat goes on without history"
    ]
    assert not errors[0].exc_info
    caplog.clear()  # the one error this test expects
    room.say(alice, "chat goes on")
    assert room.replay(1)[0].text == "chat goes on"
    await history.aclose()


def test_a_new_database_gets_the_latest_schema_and_an_old_one_is_migrated(
    tmp_path: Path,
) -> None:
    con = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    assert migrate(con, "h.db") == 0
    assert con.execute("PRAGMA user_version").fetchone() == (VERSION,)
    assert migrate(con, "h.db") == VERSION  # a second time: nothing to do
    tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master")}
    assert {"rooms", "messages"} <= tables
    con.close()


async def test_a_version_1_database_is_migrated_keeping_its_rooms_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "h.db")
    with monkeypatch.context() as v1:  # the program as it was: one migration, version 1
        v1.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        v1.setattr(schema, "VERSION", 1)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            assert migrate(con, path) == 0
            said = Said("alice", "before accounts", 1000.0, "General", "alice!a@h", "7")
            con.execute("INSERT INTO rooms VALUES ('general', 'General', 999.0, '{}')")
            con.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        reads.row_of(said, "general")[:9])  # version 1's: no concat  # fmt: skip
            assert con.execute("PRAGMA user_version").fetchone() == (1,)
    history = open_history(path, recent=5, retention_s=0)
    [room] = history.restored()
    assert (room.name, [e.text for e in room.recent]) == ("General", ["before accounts"])
    assert history.records() == []
    await history.aclose()
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (VERSION,)
        assert con.execute("SELECT COUNT(*) FROM accounts").fetchone() == (0,)


async def test_a_version_2_database_is_migrated_keeping_its_accounts_and_rooms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "h.db")
    with monkeypatch.context() as v2:  # the program as it was: accounts, no server bans
        v2.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        v2.setattr(schema, "VERSION", 2)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            assert migrate(con, path) == 0
            said = Said("alice", "before server bans", 1000.0, "General", "alice!a@h", "7")
            con.execute("INSERT INTO rooms VALUES ('general', 'General', 999.0, '{}')")
            con.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        reads.row_of(said, "general")[:9])  # version 2: no concat  # fmt: skip
            con.execute("INSERT INTO accounts VALUES ('alice', 'Alice', ?, 5.0, '{}')", (CREDS,))
            assert con.execute("PRAGMA user_version").fetchone() == (2,)
            tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master")}
            assert "server_bans" not in tables
    again = open_history(path, recent=5, retention_s=0)
    [saved] = again.restored()
    assert [e.text for e in saved.recent] == ["before server bans"]
    assert [a.name for a in again.records()] == ["Alice"]
    assert again.ban_records() == []
    await again.aclose()
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (VERSION,) == (6,)
        assert con.execute("SELECT COUNT(*) FROM server_bans").fetchone() == (0,)


async def test_server_bans_are_kept_in_the_database_across_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    now = [1_000_000.0]
    history = open_history(path, recent=5, retention_s=0)
    bans = ServerBans(history, clock=lambda: now[0])
    bans.add("*!*@203.0.113.0/24", "spam", "root", 3600)
    bans.add("a:Mallory", "", "root")
    bans.add("bob!*@*", "gone soon", "root")
    bans.remove("bob")
    await history.aclose()
    with contextlib.closing(sqlite3.connect(path)) as con:
        rows = con.execute("SELECT key, mask, reason, setter, expires FROM server_bans")
        assert sorted(rows) == [
            ("*!*@203.0.113.0/24", "*!*@203.0.113.0/24", "spam", "root", 1_003_600.0),
            ("a:mallory", "a:Mallory", "", "root", 0.0),
        ]
    now[0] += 3600  # the address ban expires while the server is down
    again = open_history(path, recent=5, retention_s=0)
    back = ServerBans(again, clock=lambda: now[0])
    assert [(b.mask, b.by, b.set_at) for b in back.listing()] == [("a:Mallory", "root", 1e6)]
    await again.aclose()
    with contextlib.closing(sqlite3.connect(path)) as con:  # forgotten there too
        assert con.execute("SELECT mask FROM server_bans").fetchall() == [("a:Mallory",)]


async def test_accounts_are_kept_in_the_database_across_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=history)
    rooms.attach_history(history)
    rooms.attach_accounts(history)
    alice = await rooms.accounts.register("Alice", "sesame", "192.0.2.1")
    bob = await rooms.accounts.register("bob", "secret", "192.0.2.2")
    rooms.accounts.change_settings(alice, always_on=True)
    await rooms.accounts.drop(bob, "secret", "192.0.2.2")
    await history.aclose()
    with contextlib.closing(sqlite3.connect(path)) as con:
        [(key, name, credentials, _, settings)] = con.execute("SELECT * FROM accounts")
    assert (key, name, settings) == ("alice", "Alice", '{"always_on": true}')
    assert credentials.startswith("scram-sha-256$") and "sesame" not in credentials
    again = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=again)
    rooms.attach_history(again)
    rooms.attach_accounts(again)
    back = await rooms.accounts.verify("alice", "sesame", "192.0.2.1")
    assert (back.name, back.registered, back.settings) == ("Alice", alice.registered,
                                                           {"always_on": True})  # fmt: skip
    assert rooms.accounts.find("bob") is None
    await again.aclose()


async def test_an_account_write_is_not_dropped_when_chat_lines_fill_the_queue(
    tmp_path: Path,
) -> None:
    # Accounts have a queue of their own: lines that fill theirs drop lines, not accounts.
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0, queue_max=10, interval_s=60)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    for i in range(30):
        room.say(alice, f"line {i}")
    assert history.dropped > 0
    history.save_account(AccountRecord("alice", "scram-sha-256$4096$s$k$k", 5.0))
    assert history.accounts_dropped == 0
    await history.aclose()
    again = open_history(path, recent=5, retention_s=0)
    assert [r.name for r in again.records()] == ["alice"]
    await again.aclose()


async def test_a_rooms_settings_come_back_after_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "General")
    room.modes.add("t")
    rooms.set_topic(alice, room, "kept")
    await history.aclose()
    again = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=again, replay_lines=5)
    rooms.attach_history(again)
    back = rooms.room("general")
    assert back is not None and back.name == "General" and not back.members
    assert (back.topic, back.topic_by, back.modes) == ("kept", alice.mask, {"n", "t"})
    assert back.created == room.created
    await again.aclose()


async def test_a_multiline_message_is_one_row_that_comes_back_with_its_pieces(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "General")
    sent = Multiline("alice", "one\n\ntwo \nthree", 5.0, "General", alice.mask,
                     rooms.new_id(), "+draft/reply=1", concat=(3,))  # fmt: skip
    room.post(sent)
    room.say(alice, "after")
    await history.aclose()
    again = open_history(path, recent=5, retention_s=0)
    [saved] = again.restored()
    assert [type(e) for e in saved.recent] == [Multiline, Said]
    assert saved.recent[0] == sent
    assert await again.fetch(Query("general", "latest", 1, upto=int(sent.msgid))) == [sent]
    await again.aclose()


async def test_a_version_2_database_gains_the_concat_column_keeping_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "h.db")
    with monkeypatch.context() as v2:  # the program before multiline messages
        v2.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        v2.setattr(schema, "VERSION", 2)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            migrate(con, path)
            said = Said("alice", "before multiline", 1000.0, "General", "alice!a@h", "7")
            con.execute("INSERT INTO rooms VALUES ('general', 'General', 999.0, '{}')")
            con.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        reads.row_of(said, "general")[:9])  # fmt: skip
    history = open_history(path, recent=5, retention_s=0)
    [room] = history.restored()
    assert room.recent == [said]
    await history.aclose()


async def test_a_lines_account_is_kept_and_a_version_5_database_gains_the_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "h.db")
    old = Said("alice", "before accounts were kept", 1000.0, "General", "alice!a@h", "7")
    with monkeypatch.context() as v5:  # the program before the lines' accounts
        v5.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:5])
        v5.setattr(schema, "VERSION", 5)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            migrate(con, path)
            con.execute("INSERT INTO rooms VALUES ('general', 'General', 999.0, '{}')")
            con.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        reads.row_of(old, "general")[:10])  # fmt: skip
    history = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"", account="Alice")
    room = await rooms.join(alice, "General")
    room[0].say(alice, "logged in")
    await history.aclose()
    again = open_history(path, recent=5, retention_s=0)
    [saved] = again.restored()
    assert [(e.text, e.account) for e in saved.recent if not isinstance(e, TopicSet)] == [
        ("before accounts were kept", ""), ("logged in", "Alice"),
    ]  # fmt: skip
    await again.aclose()


async def test_a_rooms_moderation_comes_back_after_a_restart(tmp_path: Path) -> None:
    """Bans, exceptions, the key, the limit and the modes outlive a restart; who was an
    operator does not (no accounts: the first to join the empty room runs it)."""
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    changes, _, _ = parse_changes("+bekli", ["*!*@10.0.0.1", "carol!*@*", "sesame", "5"])
    rooms.change_modes(alice, room, changes)
    room.say(alice, "kept")  # a room that holds history stays
    await rooms.release(alice)
    await history.aclose()
    again = open_history(path, recent=5, retention_s=0)
    rooms = RoomManager(history=again, replay_lines=5)
    rooms.attach_history(again)
    back = rooms.room("general")
    assert back is not None
    assert [entry.mask for entry in back.lists["b"]] == ["*!*@10.0.0.1"]
    assert [entry.mask for entry in back.lists["e"]] == ["carol!*@*"]
    assert back.lists["b"][0].by == alice.mask
    assert (back.join_key, back.limit, back.modes) == ("sesame", 5, {"i", "n"})
    assert not back.ops
    await again.aclose()


async def test_the_writers_queue_is_bounded_in_bytes_as_well_as_in_entries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Long lines fill the bytes long before the entries: what waits for the disk stays
    # under the byte bound, and what does not fit is dropped and counted, as a full count.
    history = open_history(
        str(tmp_path / "h.db"), recent=5, retention_s=0, queue_max=10_000,
        queue_bytes=64 * 1024, interval_s=60,
    )  # fmt: skip
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    for i in range(200):
        room.say(alice, f"{i} " + "x" * 1500)
        assert history.queued_bytes() <= 64 * 1024
    kept = len(history.queue) - 1  # the room's own row is not a line
    assert 0 < kept < 64 * 1024 // 1500 and history.dropped == 200 - kept
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "history: the disk is not keeping up; dropping history entries (chat goes on)"
    ]
    await history.aclose()
    assert history.queued_bytes() == 0  # the writer counted back what it wrote
    con = sqlite3.connect(tmp_path / "h.db")
    assert con.execute("SELECT COUNT(*) FROM messages").fetchone() == (kept,)
    con.close()


async def test_a_second_history_on_the_same_file_is_refused_with_the_files_name(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "h.db")
    first = open_history(path, recent=5, retention_s=0)
    with pytest.raises(StoreError) as refused:
        open_history(path, recent=5, retention_s=0)
    assert str(refused.value) == (
        f"cannot use the history database {path}: another chatroom server is using it "
        "(give each server its own --db)"
    )
    await first.aclose()  # the lock goes with it
    again = open_history(path, recent=5, retention_s=0)
    await again.aclose()


async def test_history_stopped_while_running_says_so_at_shutdown_not_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0, interval_s=0.01)
    rooms = RoomManager(history=history, replay_lines=5)
    rooms.attach_history(history)
    alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
    room = await rooms.create(alice, "general")
    room.say(alice, "written")
    assert [e.text for e in await history.fetch(Query(room.key, "latest", 5))] == ["written"]
    with contextlib.closing(sqlite3.connect(path)) as other:  # damage it behind its back
        other.execute("DROP TABLE messages")
    for i in range(3):
        room.say(alice, f"lost {i}")
    await wait_until(lambda: bool(history.failed))
    room.say(alice, "lost too")
    caplog.clear()  # the ERROR the failure logs is this test's own
    await history.aclose()
    said = [r.getMessage() for r in caplog.records]
    assert f"history written to {path}" not in said
    assert said == [f"history stopped at {path}: 4 lines not written"]


async def test_account_changes_after_history_stopped_are_counted_at_shutdown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0, interval_s=0.01)
    with contextlib.closing(sqlite3.connect(path)) as other:  # damage it behind its back
        other.execute("DROP TABLE accounts")
    history.save_account(AccountRecord("alice", "scram-sha-256$4096$s$k$k", 5.0))
    await wait_until(lambda: bool(history.failed))
    history.forget_account("alice")
    caplog.clear()  # the ERROR the failure logs is this test's own
    await history.aclose()
    assert [r.getMessage() for r in caplog.records] == [
        f"history stopped at {path}: 0 lines not written",
        f"history stopped at {path}: 2 account changes not written",
    ]
    assert all("scram" not in r.getMessage() for r in caplog.records)


async def test_history_is_marked_failed_only_once_its_error_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader that sees `failed` may count on the ERROR being out already: the test
    # above clears the log once it sees `failed`, and lost that race in a loaded run.
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=5, retention_s=0, interval_s=0.01)
    seen: list[str] = []
    error = sqlite_module.log.error

    def logged(*args: object) -> None:
        seen.append(history.failed)
        error(*args)

    monkeypatch.setattr(sqlite_module.log, "error", logged)
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("DROP TABLE accounts")
    history.save_account(AccountRecord("alice", "scram-sha-256$4096$s$k$k", 5.0))
    await wait_until(lambda: bool(history.failed))
    assert seen == [""]
    caplog.clear()
    await history.aclose()


def test_log_lines_count_in_good_english() -> None:
    assert [counted(n, "user") for n in (0, 1, 2)] == ["0 users", "1 user", "2 users"]
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == (
        "3 entries"
    )
    # No log line of the server's own parts puts a bare count before a plural noun.
    root = Path(__file__).resolve().parents[2]
    sources = [root / "rooms.py", *(root / d for d in ("cluster", "net", "store", "registry"))]
    files = [p for s in sources for p in ([s] if s.is_file() else sorted(s.glob("*.py")))]
    bare = re.compile(r"log\.\w+\(\s*f?\"[^\"]*(%d|\{[^}]*\}) (?!bytes)[a-z]+s\b")
    found = [f"{p.name}: {m[0]}" for p in files for m in bare.finditer(p.read_text())]
    assert found == []
