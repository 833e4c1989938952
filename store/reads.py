"""The history database's reads and the rows they turn into events.

Plain functions of a sqlite3 connection; the caller runs them off the event loop.
Messages come back oldest first, as CHATHISTORY and replay show them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from registry import (
    AccountRecord,
    Acted,
    Kept,
    Multiline,
    Query,
    Ref,
    Said,
    SavedRoom,
    TopicSet,
)

COLUMNS = "id, ts, kind, name, mask, text, tags, concat"
KINDS: dict[type, str] = {Said: "say", Acted: "act", TopicSet: "topic", Multiline: "lines"}
Row = tuple[int, float, str, str, str, str, str, str]


def row_of(event: Kept, key: str) -> tuple[Any, ...]:
    """The messages row for an event of room `key`."""
    kind = KINDS[type(event)]
    ts = event.ts
    if type(event) is TopicSet:
        return (int(event.msgid), key, ts, int(ts * 1000), kind, event.name, event.mask,
                event.text, "", "")  # fmt: skip
    assert not isinstance(event, TopicSet)
    concat = ",".join(map(str, event.concat)) if type(event) is Multiline else ""
    return (int(event.msgid), key, ts, int(ts * 1000), kind, event.name, event.mask,
            event.text, event.tags, concat)  # fmt: skip


def event_of(row: Row, room: str) -> Kept:
    """The event a messages row holds; `room` is the room's name as events show it."""
    msgid, ts, kind, name, mask, text, tags, concat = row
    if kind == "topic":
        return TopicSet(name, room, text, ts, mask, str(msgid))
    if kind == "act":
        return Acted(name, text, ts, room, mask, str(msgid), tags)
    if kind == "lines":
        at = tuple(int(i) for i in concat.split(",") if i.isdigit())
        return Multiline(name, text, ts, room, mask, str(msgid), tags, concat=at)
    return Said(name, text, ts, room, mask, str(msgid), tags)


def saved_rooms(con: sqlite3.Connection, recent: int, since_ms: int) -> list[SavedRoom]:
    """Every room that still holds history (messages since `since_ms`), with its
    `recent` newest lines."""
    rooms: list[SavedRoom] = []
    found = con.execute(
        "SELECT key, name, created, settings FROM rooms WHERE EXISTS "
        "(SELECT 1 FROM messages WHERE room = rooms.key AND ts_ms >= ?) ORDER BY key",
        (since_ms,),
    ).fetchall()
    for key, name, created, settings in found:
        rows = con.execute(
            f"SELECT {COLUMNS} FROM messages WHERE room = ? AND ts_ms >= ? "
            "ORDER BY id DESC LIMIT ?",
            (key, since_ms, max(recent, 1)),
        ).fetchall()
        try:
            values = json.loads(settings)
        except ValueError:
            values = {}
        lines = [event_of(row, name) for row in reversed(rows)]
        rooms.append(SavedRoom(name, created, values if isinstance(values, dict) else {}, lines))
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


def _bound(ref: Ref, op: str) -> tuple[str, int]:
    """The condition `message op ref`: by id for a msgid, by ms for a time."""
    if ref.msgid is not None:
        return f"id {op} ?", ref.msgid
    assert ref.ts_ms is not None
    return f"ts_ms {op} ?", ref.ts_ms


def _select(
    con: sqlite3.Connection, q: Query, where: list[tuple[str, int]], newest: bool, limit: int
) -> list[Row]:
    conditions = ["room = ?", *(c for c, _ in where)]
    values: list[Any] = [q.room, *(v for _, v in where)]
    if q.upto is not None:
        conditions.append("id <= ?")
        values.append(q.upto)
    order = "DESC" if newest else "ASC"
    sql = (
        f"SELECT {COLUMNS} FROM messages WHERE {' AND '.join(conditions)} "
        f"ORDER BY id {order} LIMIT ?"
    )
    rows: list[Row] = con.execute(sql, (*values, limit)).fetchall()
    return rows[::-1] if newest else rows


def resolve(con: sqlite3.Connection, ref: Ref | None) -> Ref | None:
    """A msgid reference with its time too (BETWEEN compares the two ends)."""
    if ref is None or ref.msgid is None:
        return ref
    found = con.execute("SELECT ts_ms FROM messages WHERE id = ?", (ref.msgid,)).fetchone()
    return Ref(ref.msgid, found[0] if found else None)


def fetch(con: sqlite3.Connection, q: Query, room_name: str) -> list[Kept]:
    """The messages a query asks for, oldest first."""
    rows: list[Row]
    if q.kind == "latest":
        where = [] if q.ref is None else [_bound(q.ref, ">")]
        rows = _select(con, q, where, True, q.limit)
    elif q.kind == "before" and q.ref is not None:
        rows = _select(con, q, [_bound(q.ref, "<")], True, q.limit)
    elif q.kind == "after" and q.ref is not None:
        rows = _select(con, q, [_bound(q.ref, ">")], False, q.limit)
    elif q.kind == "around" and q.ref is not None:
        older = _select(con, q, [_bound(q.ref, "<")], True, (q.limit - 1) // 2)
        newer = _select(con, q, [_bound(q.ref, ">=")], False, q.limit - len(older))
        rows = older + newer
    elif q.kind == "between" and q.ref is not None and q.until is not None:
        rows = _between(con, q, q.ref, q.until)
    else:
        raise ValueError(f"bad query {q!r}")
    return [event_of(row, room_name) for row in rows]


def _between(con: sqlite3.Connection, q: Query, start: Ref, end: Ref) -> list[Row]:
    """Strictly between the two; from `start`'s side when the limit cuts."""
    a, b = resolve(con, start), resolve(con, end)
    assert a is not None and b is not None
    if a.ts_ms is None or b.ts_ms is None:
        return []  # a msgid that names no message of this room
    forward = (a.ts_ms, a.msgid or 0) <= (b.ts_ms, b.msgid or 0)
    low, high = (a, b) if forward else (b, a)
    return _select(con, q, [_bound(low, ">"), _bound(high, "<")], not forward, q.limit)


def targets(
    con: sqlite3.Connection, rooms: list[str], after_ms: int, before_ms: int, limit: int
) -> list[tuple[str, int]]:
    """(room key, newest ms) of these rooms with messages strictly inside the window,
    the least recently active first."""
    if not rooms:
        return []
    low, high = min(after_ms, before_ms), max(after_ms, before_ms)
    marks = ",".join("?" * len(rooms))
    found: list[tuple[str, int]] = con.execute(
        f"SELECT room, MAX(ts_ms) AS last FROM messages WHERE room IN ({marks}) "
        "AND ts_ms > ? AND ts_ms < ? GROUP BY room ORDER BY last LIMIT ?",
        (*rooms, low, high, limit),
    ).fetchall()
    return found
