"""Private messages in the SQLite store (store/sqlite.py, schema version 3): a
conversation's history and the messages that wait for an offline account, across
restarts of the store; a version 2 file migrated; expiry; a dropped account; the
CHATHISTORY TARGETS window. No sockets."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from registry import Said, Whispered
from registry.history import Query, Ref, pair_key
from store import reads, schema
from store.schema import VERSION, migrate
from store.sqlite import SqliteHistory, open_history

LATEST = Query("", "latest", 50)


def whisper(
    msgid: int, text: str, *, sender: str = "alice", target: str = "bob", ts: float = 0.0
) -> Whispered:
    when = ts or time.time()
    return Whispered(sender, text, when, target, f"{sender}!~{sender}@h", "msg", str(msgid),
                     "+draft/reply=1", sender)  # fmt: skip


def opened(path: Path, retention_s: float = 0) -> SqliteHistory:
    return open_history(str(path), recent=5, retention_s=retention_s)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute(sql).fetchall()


async def test_a_version_2_file_is_migrated_keeping_its_accounts_rooms_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v2.db"
    with monkeypatch.context() as v2:  # the program as it was: two migrations, version 2
        v2.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        v2.setattr(schema, "VERSION", 2)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            assert migrate(con, str(path)) == 0
            said = Said("alice", "before private history", 1000.0, "General", "alice!a@h", "7")
            con.execute("INSERT INTO rooms VALUES ('general', 'General', 999.0, '{}')")
            con.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        reads.row_of(said, "general")[:9])  # version 2: no concat  # fmt: skip
            con.execute("INSERT INTO accounts VALUES ('alice', 'Alice', 'x', 5.0, '{}')")
    assert rows(path, "PRAGMA user_version") == [(2,)]
    history = opened(path)
    [room] = history.restored()
    assert [e.text for e in room.recent] == ["before private history"]
    assert [a.name for a in history.records()] == ["Alice"]
    assert await history.fetch_private("alice bob", LATEST) == []
    await history.aclose()
    assert rows(path, "PRAGMA user_version") == [(VERSION,)]
    assert rows(path, "SELECT COUNT(*) FROM private_messages") == [(0,)]


async def test_a_conversation_comes_back_whole_after_a_restart(tmp_path: Path) -> None:
    history = opened(tmp_path / "h.db")
    sent = [whisper(10, "hi bob"), whisper(11, "hi alice", sender="bob", target="alice")]
    for event in sent:
        history.keep_private(pair_key("bob", "alice"), event)
    history.keep_private(pair_key("alice", "carol"), whisper(12, "another conversation"))
    await history.aclose()
    again = opened(tmp_path / "h.db")
    assert await again.fetch_private("alice bob", LATEST) == sent
    older = Query("", "before", 5, Ref(msgid=11))
    assert [e.text for e in await again.fetch_private("alice bob", older)] == ["hi bob"]
    await again.aclose()


async def test_a_held_message_survives_a_restart_and_is_handed_over_once(
    tmp_path: Path,
) -> None:
    history = opened(tmp_path / "h.db")
    kept, unkept = whisper(20, "kept too", target="dave"), whisper(21, "not kept", target="dave")
    assert await history.hold("dave", "alice dave", kept, kept=True, limit=5)
    assert await history.hold("dave", "alice dave", unkept, kept=False, limit=5)
    await history.aclose()
    again = opened(tmp_path / "h.db")
    assert await again.collect("dave") == [kept, unkept]
    assert await again.collect("dave") == []
    await again.aclose()
    third = opened(tmp_path / "h.db")
    assert await third.collect("dave") == []
    assert await third.fetch_private("alice dave", LATEST) == [kept]  # the unkept one is gone
    await third.aclose()
    assert rows(tmp_path / "h.db", "SELECT id, held_for FROM private_messages") == [(20, None)]


async def test_the_limit_of_waiting_messages_holds_across_a_restart(tmp_path: Path) -> None:
    history = opened(tmp_path / "h.db")
    for i in range(2):
        assert await history.hold("dave", "alice dave", whisper(30 + i, "x"), kept=True, limit=2)
    assert not await history.hold("dave", "alice dave", whisper(32, "x"), kept=True, limit=2)
    await history.aclose()
    again = opened(tmp_path / "h.db")
    assert not await again.hold("dave", "alice dave", whisper(33, "x"), kept=True, limit=2)
    assert len(await again.collect("dave")) == 2
    assert await again.hold("dave", "alice dave", whisper(34, "x"), kept=True, limit=2)
    await again.aclose()


async def test_private_messages_expire_with_the_rooms_lines(tmp_path: Path) -> None:
    history = opened(tmp_path / "h.db")
    old = time.time() - 3 * 86400
    history.keep_private("alice bob", whisper(40, "old", ts=old))
    history.keep_private("alice bob", whisper(41, "new"))
    assert await history.hold("dave", "alice dave", whisper(42, "old", ts=old), kept=True, limit=5)
    await history.aclose()
    again = opened(tmp_path / "h.db", retention_s=86400)
    assert [e.text for e in await again.fetch_private("alice bob", LATEST)] == ["new"]
    assert await again.collect("dave") == []
    await again.aclose()


async def test_a_dropped_accounts_conversations_go_but_what_it_sent_still_waits(
    tmp_path: Path,
) -> None:
    history = opened(tmp_path / "h.db")
    history.keep_private("alice bob", whisper(50, "about to go"))
    assert await history.hold("dave", "alice dave", whisper(51, "for dave"), kept=True, limit=5)
    for_alice = whisper(52, "for alice", sender="dave", target="alice")
    assert await history.hold("alice", "alice dave", for_alice, kept=True, limit=5)
    history.forget_private("alice")
    # The accounts' queue is written in order: a message held after the forget is
    # written after it, so once it is, the forget is too (reads see the database).
    assert await history.hold(
        "zed", "dave zed", whisper(53, "after", target="zed"), kept=False, limit=5
    )
    assert await history.fetch_private("alice bob", LATEST) == []
    assert await history.fetch_private("alice dave", LATEST) == []
    assert [e.text for e in await history.collect("dave")] == ["for dave"]  # delivered, unkept
    assert await history.collect("alice") == []
    assert [e.text for e in await history.collect("zed")] == ["after"]
    await history.aclose()
    assert rows(tmp_path / "h.db", "SELECT COUNT(*) FROM private_messages") == [(0,)]


async def test_targets_are_the_conversations_and_rooms_whose_newest_line_is_inside(
    tmp_path: Path,
) -> None:
    history = opened(tmp_path / "h.db")
    t = 1_700_000_000.0
    history.keep_private("alice bob", whisper(60, "a", ts=t))
    history.keep_private("alice bob", whisper(61, "b", ts=t + 10))
    history.keep_private("alice carol", whisper(62, "c", target="carol", ts=t + 5))
    for i, when in enumerate((t, t + 10)):
        history.keeper("general")(Said("ann", "hi", when, "general", "ann!a@h", str(70 + i)))
    ms = int(t * 1000)
    everything = await history.private_targets("alice", 0, 2**62, 10)
    assert everything == [("carol", ms + 5000), ("bob", ms + 10_000)]
    assert await history.private_targets("bob", 2**62, 0, 10) == [("alice", ms + 10_000)]
    # bob's conversation has a line inside (t) but its newest (t + 10) is past the window
    assert await history.private_targets("alice", 0, ms + 6000, 10) == [("carol", ms + 5000)]
    assert await history.targets(["general"], 0, ms + 6000, 10) == []
    assert await history.targets(["general"], 0, ms + 20_000, 10) == [("general", ms + 10_000)]
    await history.aclose()


async def test_a_message_taken_back_leaves_its_conversation_and_the_receivers_wait(
    tmp_path: Path,
) -> None:
    history = opened(tmp_path / "h.db")
    history.keep_private("alice bob", whisper(50, "stays"))
    history.keep_private("alice bob", whisper(51, "taken back"))
    history.redact_private("alice bob", "51", "bob")  # in the same pass as its insert
    history.redact_private("alice carol", "50", "carol")  # another conversation's id: none
    assert await history.hold("dave", "alice dave", whisper(52, "x"), kept=True, limit=5)
    history.redact_private("alice dave", "52", "dave")
    assert [e.text for e in await history.fetch_private("alice bob", LATEST)] == ["stays"]
    assert await history.fetch_private("alice dave", LATEST) == []
    await history.aclose()
    again = opened(tmp_path / "h.db")
    assert await again.collect("dave") == []
    await again.aclose()
