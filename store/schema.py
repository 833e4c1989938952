"""The history database's schema, versioned by `PRAGMA user_version`.

MIGRATIONS[i] takes a database from version i to i + 1; a new version appends one
entry and never edits an old one. An entry is SQL statements, or a function of the
connection that makes its own tables (self-contained: it does not depend on its
number, so branches that each add one can be merged in either order). A database from
a newer version is refused: this program cannot know what its tables mean. No
threads here: the caller owns `con`. (No `;` in a comment of an SQL entry:
statements are split on it.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from registry import StoreError

Migration = str | Callable[[sqlite3.Connection], None]


def private_messages(con: sqlite3.Connection) -> None:
    """Private messages between accounts (registry/private.py): a conversation's history,
    and the messages that wait for an offline account's next login."""
    con.execute("""
        CREATE TABLE private_messages (
            id       INTEGER PRIMARY KEY,   -- the msgid: larger is later
            a        TEXT NOT NULL,         -- the conversation: its accounts' keys, a <= b
            b        TEXT NOT NULL,
            ts       REAL NOT NULL,         -- seconds since the epoch
            ts_ms    INTEGER NOT NULL,      -- the same, in ms, as server-time shows it
            kind     TEXT NOT NULL,         -- 'msg' or 'action'
            name     TEXT NOT NULL,         -- the sender's name
            account  TEXT NOT NULL,         -- the sender's account
            target   TEXT NOT NULL,         -- the receiver's name, as addressed
            mask     TEXT NOT NULL,         -- the sender's nick!user@host
            text     TEXT NOT NULL,
            tags     TEXT NOT NULL DEFAULT '',  -- the client's own IRCv3 tags
            kept     INTEGER NOT NULL,      -- 1: in the conversation's history
            held_for TEXT                   -- the receiver's account key until its login
        )""")  # fmt: skip
    con.execute("CREATE INDEX private_by_pair ON private_messages (a, b, id)")
    con.execute("CREATE INDEX private_by_time ON private_messages (a, b, ts_ms)")
    con.execute(
        "CREATE INDEX private_held ON private_messages (held_for, id) WHERE held_for IS NOT NULL"
    )


MIGRATIONS: tuple[Migration, ...] = (
    # 0 -> 1: rooms (settings as JSON, so a new setting needs no migration) and messages.
    """
    CREATE TABLE rooms (
        key      TEXT PRIMARY KEY,          -- the room's name, casefolded
        name     TEXT NOT NULL,
        created  REAL NOT NULL,             -- seconds since the epoch
        settings TEXT NOT NULL DEFAULT '{}' -- Room.settings(): topic, modes, ...
    );
    CREATE TABLE messages (
        id    INTEGER PRIMARY KEY,          -- the msgid: larger is later
        room  TEXT NOT NULL,                -- rooms.key
        ts    REAL NOT NULL,                -- seconds since the epoch
        ts_ms INTEGER NOT NULL,             -- the same, in ms, as server-time shows it
        kind  TEXT NOT NULL,                -- 'say', 'act' or 'topic'
        name  TEXT NOT NULL,                -- the sender's name
        mask  TEXT NOT NULL,                -- nick!user@host
        text  TEXT NOT NULL,
        tags  TEXT NOT NULL DEFAULT ''      -- the client's own IRCv3 tags
    );
    CREATE INDEX messages_by_room ON messages (room, id);
    CREATE INDEX messages_by_time ON messages (room, ts_ms);
    """,
    # 1 -> 2: accounts (registry/accounts.py); a password only as its salted, slow
    # record (registry/credentials.py), never in clear.
    """
    CREATE TABLE accounts (
        key         TEXT PRIMARY KEY,       -- the account's name, casefolded
        name        TEXT NOT NULL,
        credentials TEXT NOT NULL,          -- Credentials.encode(): salt, stored and server keys
        registered  REAL NOT NULL,          -- seconds since the epoch
        settings    TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2 -> 3: server bans (registry/bans.py), each with who set it, when, why, and until.
    """
    CREATE TABLE server_bans (
        key     TEXT PRIMARY KEY,           -- the mask as masks compare (registry.bans.ban_key)
        mask    TEXT NOT NULL,              -- nick!user@host, or a:ACCOUNT
        reason  TEXT NOT NULL DEFAULT '',
        setter  TEXT NOT NULL,              -- the server operator who set it
        set_at  REAL NOT NULL,              -- seconds since the epoch
        expires REAL NOT NULL DEFAULT 0     -- seconds since the epoch, 0 for never
    );
    """,
    private_messages,  # 3 -> 4
    # 4 -> 5: multiline messages (IRCv3 draft/multiline), kind 'lines': one row, its text
    # the lines as sent joined by "\n", and `concat` the lines that continue the one
    # before ('2,5': lines 2 and 5). (No SQL comment here: SQLite keeps the column's
    # text in the table's CREATE statement.)
    """
    ALTER TABLE messages ADD COLUMN concat TEXT NOT NULL DEFAULT ''
    """,
    # 5 -> 6: the account a message's sender was logged in to ('' a guest, or a line
    # kept before this version), as IRCv3 account-tag shows it and as the sender's
    # right to delete its own message (IRCv3 draft/message-redaction) is checked.
    """
    ALTER TABLE messages ADD COLUMN account TEXT NOT NULL DEFAULT ''
    """,
)
VERSION = len(MIGRATIONS)


def migrate(con: sqlite3.Connection, path: str) -> int:
    """Bring the database to VERSION (in one transaction); return the version found.
    StoreError for a database from a newer program."""
    found = int(con.execute("PRAGMA user_version").fetchone()[0])
    if found > VERSION:
        raise StoreError(
            f"cannot use the history database {path}: it has schema version {found}, newer "
            f"than this chatroom's {VERSION} (run the newer chatroom, or --no-history)"
        )
    con.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[found:]:
            if callable(step):
                step(con)
                continue
            for statement in step.split(";"):
                if statement.strip():
                    con.execute(statement)
        # Written even when nothing changed: the start-up's proof that the file is writable.
        con.execute(f"PRAGMA user_version = {VERSION}")
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return found
