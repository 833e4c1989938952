"""The history database's reads and the rows they turn into events.

Plain functions of a sqlite3 connection; the caller runs them off the event loop.
Messages come back oldest first, as CHATHISTORY and replay show them. A room's lines
(`messages`) and a conversation's (`private_messages`) are read by the same queries,
each through its `Source`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry import (
    AccountRecord,
    Acted,
    BanRecord,
    Kept,
    Multiline,
    Query,
    Ref,
    Said,
    SavedRoom,
    TopicSet,
    Whispered,
    is_owned,
)

COLUMNS = "id, ts, kind, name, mask, text, tags, concat, account"
KINDS: dict[type, str] = {Said: "say", Acted: "act", TopicSet: "topic", Multiline: "lines"}
Row = tuple[int, float, str, str, str, str, str, str, str]
PRIVATE_COLUMNS = "id, ts, kind, name, account, target, mask, text, tags"
PrivateRow = tuple[int, float, str, str, str, str, str, str, str]


def row_of(event: Kept, key: str) -> tuple[Any, ...]:
    """The messages row for an event of room `key`."""
    kind = KINDS[type(event)]
    ts = event.ts
    if type(event) is TopicSet:
        return (int(event.msgid), key, ts, int(ts * 1000), kind, event.name, event.mask,
                event.text, "", "", "")  # fmt: skip
    assert not isinstance(event, TopicSet)
    concat = ",".join(map(str, event.concat)) if type(event) is Multiline else ""
    return (int(event.msgid), key, ts, int(ts * 1000), kind, event.name, event.mask,
            event.text, event.tags, concat, event.account)  # fmt: skip


def event_of(row: Row, room: str) -> Kept:
    """The event a messages row holds; `room` is the room's name as events show it."""
    msgid, ts, kind, name, mask, text, tags, concat, account = row
    if kind == "topic":
        return TopicSet(name, room, text, ts, mask, str(msgid))
    if kind == "act":
        return Acted(name, text, ts, room, mask, str(msgid), tags, account)
    if kind == "lines":
        at = tuple(int(i) for i in concat.split(",") if i.isdigit())
        return Multiline(name, text, ts, room, mask, str(msgid), tags, account, concat=at)
    return Said(name, text, ts, room, mask, str(msgid), tags, account)


def _settings(text: str) -> dict[str, Any]:
    try:
        values = json.loads(text)
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def unkept_rooms(con: sqlite3.Connection) -> list[str]:
    """The keys of the rooms nothing keeps: no message left, not registered."""
    found = con.execute(
        "SELECT key, settings FROM rooms WHERE NOT EXISTS "
        "(SELECT 1 FROM messages WHERE room = rooms.key)"
    ).fetchall()
    return [key for key, settings in found if not is_owned(_settings(settings))]


def saved_rooms(con: sqlite3.Connection, recent: int, since_ms: int) -> list[SavedRoom]:
    """Every room that still holds history (messages since `since_ms`) or is registered,
    with its `recent` newest lines."""
    rooms: list[SavedRoom] = []
    found = con.execute(
        "SELECT key, name, created, settings, EXISTS "
        "(SELECT 1 FROM messages WHERE room = rooms.key AND ts_ms >= ?) FROM rooms ORDER BY key",
        (since_ms,),
    ).fetchall()
    for key, name, created, settings, has_lines in found:
        values = _settings(settings)
        if not has_lines and not is_owned(values):
            continue
        rows = con.execute(
            f"SELECT {COLUMNS} FROM messages WHERE room = ? AND ts_ms >= ? "
            "ORDER BY id DESC LIMIT ?",
            (key, since_ms, max(recent, 1)),
        ).fetchall()
        lines = [event_of(row, name) for row in reversed(rows)]
        rooms.append(SavedRoom(name, created, values, lines))
    return rooms


def saved_accounts(con: sqlite3.Connection) -> list[AccountRecord]:
    """Every account kept, by name key."""
    accounts: list[AccountRecord] = []
    found = con.execute(
        "SELECT name, credentials, registered, settings FROM accounts ORDER BY key"
    ).fetchall()
    for name, credentials, registered, settings in found:
        try:
            values = json.loads(settings)
        except ValueError:
            values = {}
        values = values if isinstance(values, dict) else {}
        accounts.append(AccountRecord(name, credentials, float(registered), values))
    return accounts


def saved_bans(con: sqlite3.Connection) -> list[BanRecord]:
    """Every server ban kept, oldest first (an expired one too: ServerBans forgets it)."""
    found = con.execute(
        "SELECT mask, reason, setter, set_at, expires FROM server_bans ORDER BY set_at, key"
    ).fetchall()
    return [BanRecord(mask, reason, setter, float(at), float(until))
            for mask, reason, setter, at, until in found]  # fmt: skip


def private_row(
    pair: str, event: Whispered, *, kept: bool, held_for: str | None
) -> tuple[Any, ...]:
    """The private_messages row for a message of the conversation `pair` (pair_key)."""
    a, b = pair.split(" ")
    ts = event.ts
    return (int(event.msgid), a, b, ts, int(ts * 1000), event.kind, event.sender,
            event.account, event.target, event.mask, event.text, event.tags, int(kept),
            held_for)  # fmt: skip


def private_event(row: PrivateRow) -> Whispered:
    """The message a private_messages row holds."""
    msgid, ts, kind, name, account, target, mask, text, tags = row
    return Whispered(name, text, ts, target, mask, kind, str(msgid), tags, account)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a query reads: a table, its columns, the condition naming one room or one
    conversation and its values, and what a row becomes."""

    table: str
    columns: str
    key: str
    values: tuple[str, ...]
    event: Callable[[Any], Any]


def room_source(key: str, room_name: str) -> Source:
    """A room's lines; `room_name` is the room's name as events show it."""
    return Source("messages", COLUMNS, "room = ?", (key,), lambda row: event_of(row, room_name))


def private_source(pair: str) -> Source:
    """A conversation's kept messages."""
    a, b = pair.split(" ")
    return Source("private_messages", PRIVATE_COLUMNS, "a = ? AND b = ? AND kept = 1", (a, b),
                  private_event)  # fmt: skip


def _bound(ref: Ref, op: str) -> tuple[str, int]:
    """The condition `message op ref`: by id for a msgid, by ms for a time."""
    if ref.msgid is not None:
        return f"id {op} ?", ref.msgid
    assert ref.ts_ms is not None
    return f"ts_ms {op} ?", ref.ts_ms


def _select(
    con: sqlite3.Connection,
    src: Source,
    q: Query,
    where: list[tuple[str, int]],
    newest: bool,
    limit: int,
) -> list[Any]:
    conditions = [src.key, *(c for c, _ in where)]
    values: list[Any] = [*src.values, *(v for _, v in where)]
    if q.upto is not None:
        conditions.append("id <= ?")
        values.append(q.upto)
    order = "DESC" if newest else "ASC"
    sql = (
        f"SELECT {src.columns} FROM {src.table} WHERE {' AND '.join(conditions)} "
        f"ORDER BY id {order} LIMIT ?"
    )
    rows: list[Any] = con.execute(sql, (*values, limit)).fetchall()
    return rows[::-1] if newest else rows


def resolve(con: sqlite3.Connection, ref: Ref | None, table: str = "messages") -> Ref | None:
    """A msgid reference with its time too (BETWEEN compares the two ends)."""
    if ref is None or ref.msgid is None:
        return ref
    found = con.execute(f"SELECT ts_ms FROM {table} WHERE id = ?", (ref.msgid,)).fetchone()
    return Ref(ref.msgid, found[0] if found else None)


def fetch(con: sqlite3.Connection, q: Query, room_name: str) -> list[Kept]:
    """The room's messages a query asks for, oldest first."""
    events: list[Kept] = query(con, room_source(q.room, room_name), q)
    return events


def fetch_private(con: sqlite3.Connection, pair: str, q: Query) -> list[Whispered]:
    """The conversation's (`pair`: its pair_key) kept messages a query asks for."""
    events: list[Whispered] = query(con, private_source(pair), q)
    return events


def query(con: sqlite3.Connection, src: Source, q: Query) -> list[Any]:
    """What a query asks for from `src`, as events, oldest first."""
    rows: list[Any]
    if q.kind == "latest":
        where = [] if q.ref is None else [_bound(q.ref, ">")]
        rows = _select(con, src, q, where, True, q.limit)
    elif q.kind == "before" and q.ref is not None:
        rows = _select(con, src, q, [_bound(q.ref, "<")], True, q.limit)
    elif q.kind == "after" and q.ref is not None:
        rows = _select(con, src, q, [_bound(q.ref, ">")], False, q.limit)
    elif q.kind == "around" and q.ref is not None:
        older = _select(con, src, q, [_bound(q.ref, "<")], True, (q.limit - 1) // 2)
        newer = _select(con, src, q, [_bound(q.ref, ">=")], False, q.limit - len(older))
        rows = older + newer
    elif q.kind == "between" and q.ref is not None and q.until is not None:
        rows = _between(con, src, q, q.ref, q.until)
    else:
        raise ValueError(f"bad query {q!r}")
    return [src.event(row) for row in rows]


def _between(con: sqlite3.Connection, src: Source, q: Query, start: Ref, end: Ref) -> list[Any]:
    """Strictly between the two; from `start`'s side when the limit cuts."""
    a, b = resolve(con, start, src.table), resolve(con, end, src.table)
    assert a is not None and b is not None
    if a.ts_ms is None or b.ts_ms is None:
        return []  # a msgid that names no message of this room
    forward = (a.ts_ms, a.msgid or 0) <= (b.ts_ms, b.msgid or 0)
    low, high = (a, b) if forward else (b, a)
    return _select(con, src, q, [_bound(low, ">"), _bound(high, "<")], not forward, q.limit)


def targets(
    con: sqlite3.Connection, rooms: list[str], after_ms: int, before_ms: int, limit: int
) -> list[tuple[str, int]]:
    """(room key, newest ms) of these rooms whose newest message is strictly inside the
    window, the least recently active first."""
    if not rooms:
        return []
    low, high = min(after_ms, before_ms), max(after_ms, before_ms)
    marks = ",".join("?" * len(rooms))
    found: list[tuple[str, int]] = con.execute(
        f"SELECT room, MAX(ts_ms) AS last FROM messages WHERE room IN ({marks}) "
        "GROUP BY room HAVING last > ? AND last < ? ORDER BY last LIMIT ?",
        (*rooms, low, high, limit),
    ).fetchall()
    return found


def private_targets(
    con: sqlite3.Connection, account: str, after_ms: int, before_ms: int, limit: int
) -> list[tuple[str, int]]:
    """(the other account's key, newest ms) of the account's conversations whose newest
    kept message is strictly inside the window, the least recently active first."""
    low, high = min(after_ms, before_ms), max(after_ms, before_ms)
    found = con.execute(
        "SELECT a, b, MAX(ts_ms) AS last FROM private_messages WHERE (a = ? OR b = ?) "
        "AND kept = 1 GROUP BY a, b HAVING last > ? AND last < ? ORDER BY last LIMIT ?",
        (account, account, low, high, limit),
    ).fetchall()
    return [(b if a == account else a, last) for a, b, last in found]


def held(con: sqlite3.Connection, account: str) -> list[Whispered]:
    """The messages waiting for the account's login, oldest first."""
    rows = con.execute(
        f"SELECT {PRIVATE_COLUMNS} FROM private_messages WHERE held_for = ? ORDER BY id",
        (account,),
    ).fetchall()
    return [private_event(row) for row in rows]


def held_counts(con: sqlite3.Connection) -> dict[str, int]:
    """How many messages wait for each account."""
    found = con.execute(
        "SELECT held_for, COUNT(*) FROM private_messages WHERE held_for IS NOT NULL "
        "GROUP BY held_for"
    ).fetchall()
    return dict(found)
