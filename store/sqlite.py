"""History in an embedded SQLite database: one writer thread, one reader thread.

The event loop only appends finished events to a bounded deque (no lock, no wake-up:
the fastest hand-over there is); the writer thread owns its connection, drains the
deque every `interval_s` in one transaction (WAL, synchronous=NORMAL), so `kill -9`
loses at most that much and never corrupts the file. Reads run on a thread of their
own, after asking the writer to commit what is queued, so they see every line said
before them. A fault while running stops history with one log line; chat goes on.
The deque is bounded in entries and in bytes (about: a line's characters and an
entry's overhead), so a flood of long lines waits for the disk in a few megabytes; what
does not fit is dropped and counted. Accounts (AccountStore), server bans (BanStore)
and the private messages that wait for an offline account have a small queue of their
own, written before the lines at each pass: a flood of chat that fills the lines' queue
never drops a registration, a new password, a ban or a message the sender was told
will be delivered. A kept private message between two online users is a line like any
other. One server per file: the file is locked (`flock`) for as long as the history
is open, and a second server is refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry import (
    AccountRecord,
    BanRecord,
    History,
    HistoryUnavailable,
    Keep,
    Kept,
    Query,
    SavedRoom,
    StoreError,
    Whispered,
)
from store import reads
from store.schema import migrate
from utils import counted, name_key

log = logging.getLogger(__name__)

# What the writer's deque holds besides events: a room's settings, a room to forget,
# a message taken back, a barrier (a reader waiting for everything before it to be
# committed).
SaveRoom = tuple[str, str, str, float, str]  # ("room", key, name, created, settings)
ForgetRoom = tuple[str, str]  # ("forget", key)
Redact = tuple[str, str, str, int]  # ("redact", room key, "", id), ("redact-private", a, b, id)
Item = Any  # Kept | SaveRoom | ForgetRoom | Redact | PrivateEntry | threading.Event

# An account's save or forget: ("account", key, name, credentials, registered,
# settings) or ("forget", key); a server ban's: ("ban", key, mask, reason, setter,
# set_at, expires) or ("unban", key); a message held for an offline account: ("held",
# row, the future told whether it was written); an account's conversations forgotten:
# ("forget-private", key). Registrations are limited per address, bans are set by
# opers and held messages limited per receiver, so this queue fills only if the disk
# stops for long; then a write is dropped and logged (a held message is refused: its
# sender is told).
AccountItem = tuple[Any, ...]
ACCOUNT_QUEUE_MAX = 10_000

SMALL_WRITES = {  # the statement each kind of the accounts' queue runs
    "account": "INSERT INTO accounts (key, name, credentials, registered, settings) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
    "credentials = excluded.credentials, settings = excluded.settings",
    "forget": "DELETE FROM accounts WHERE key = ?",
    "ban": "INSERT INTO server_bans (key, mask, reason, setter, set_at, expires) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET mask = excluded.mask, "
    "reason = excluded.reason, setter = excluded.setter, set_at = excluded.set_at, "
    "expires = excluded.expires",
    "unban": "DELETE FROM server_bans WHERE key = ?",
}

WRITER_NICE = 19
ENTRY_BYTES = 200  # what a queued line holds besides its text: the event, its id, a slot

HINTS = {
    "file is not a database": " (not a chatroom database, or damaged: restore a backup)",
    "database is locked": " (another program holds it: is another server running on it?)",
    "attempt to write a readonly database": " (the file or its directory is read-only)",
    "unable to open database file": " (check the path and its directory's permissions)",
    "database or disk is full": " (free some space)",
    "disk I/O error": " (the disk failed, is full, or the file is over a size limit)",
}


@dataclass(slots=True)
class PrivateEntry:
    """A kept private message in the lines' queue: its row, and its text (the queue
    counts its bytes as a line's)."""

    row: tuple[Any, ...]
    text: str


def reason(exc: BaseException) -> str:
    """The sqlite error as one clear phrase, with a hint at what to do."""
    text = str(exc) or type(exc).__name__
    return text + next((hint for key, hint in HINTS.items() if key in text), "")


class SqliteHistory(History):
    """The history of rooms in `path`; made by open_history()."""

    is_on = True

    def __init__(
        self,
        path: str,
        con: sqlite3.Connection,
        saved: list[SavedRoom],
        *,
        accounts: list[AccountRecord] | None = None,
        bans: list[BanRecord] | None = None,
        held: dict[str, int] | None = None,
        retention_s: float,
        queue_max: int,
        queue_bytes: int,
        interval_s: float,
        expire_every_s: float,
        lock_timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.path = path
        self.retention_s = retention_s
        self.queue_max = queue_max
        self.queue_bytes = queue_bytes
        self.interval_s = interval_s
        self.expire_every_s = expire_every_s
        self.lock_timeout_s = lock_timeout_s
        self.clock = clock
        self.queue: deque[Item] = deque()
        self.failed = ""  # why history stopped while running
        self.dropped = 0
        self.unwritten = 0  # lines not written because history stopped
        self.unwritten_accounts = 0  # account changes not written because it stopped
        self._dropping = False
        # The bytes queued are `_bytes_in - _bytes_out`: each counter has one writer (the
        # loop, the writer thread), so neither needs a lock. A batch counts until written.
        self._bytes_in = 0
        self._bytes_out = 0
        self._lock_fd = -1  # the flock on the file (open_history takes it)
        self._saved = saved
        self._accounts = accounts or []
        self._bans = bans or []
        self.account_queue: deque[AccountItem] = deque()
        self._held = held or {}  # account key -> messages waiting for it (at most: expiry)
        self.accounts_dropped = 0
        self._con = con
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._on_sweep: Callable[[], None] = lambda: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_expiry = clock()
        self._keys: dict[str, str] = {}  # room name -> key, for the writer
        self._reader = concurrent.futures.ThreadPoolExecutor(1, "history-read")
        self._read_con: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="history-write", daemon=True)
        self._thread.start()

    @property
    def problem(self) -> str:
        return f"History is unavailable: {self.failed}." if self.failed else ""

    # --- The event loop's side: never blocks. ---
    def keeper(self, key: str) -> Keep:
        queue, cap, cap_bytes, overflow = (
            self.queue,
            self.queue_max,
            self.queue_bytes,
            self._overflow,
        )

        def keep(event: Kept) -> None:  # on Room.say's path: keep it so
            size = len(event.text) + ENTRY_BYTES
            if len(queue) < cap and self._bytes_in - self._bytes_out + size <= cap_bytes:
                queue.append(event)
                self._bytes_in += size
            else:
                overflow()

        return keep

    def queued_bytes(self) -> int:
        """About how many bytes of lines wait for the disk (the batch being written too)."""
        return self._bytes_in - self._bytes_out

    def _overflow(self) -> None:
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning(
                "history: the disk is not keeping up; dropping history entries (chat goes on)"
            )

    def save_room(self, key: str, name: str, created: float, settings: dict[str, Any]) -> None:
        data = json.dumps(settings, ensure_ascii=False, sort_keys=True)
        self.queue.append(("room", key, name, created, data))

    def forget_room(self, key: str) -> None:
        self.queue.append(("forget", key))

    def redact(self, key: str, msgid: str) -> None:
        self.queue.append(("redact", key, "", int(msgid)))  # after the line's own insert

    # --- AccountStore: the accounts, in the same file. ---
    def records(self) -> list[AccountRecord]:
        """The accounts kept, read with the rooms when the database was opened."""
        records, self._accounts = self._accounts, []
        return records

    def save_account(self, record: AccountRecord) -> None:
        data = json.dumps(record.settings, ensure_ascii=False, sort_keys=True)
        key = name_key(record.name)
        self._queue_account(("account", key, record.name, record.credentials,
                             record.registered, data))  # fmt: skip

    def forget_account(self, key: str) -> None:
        self._queue_account(("forget", key))

    # --- BanStore: the server bans, in the same file, through the accounts' queue. ---
    def ban_records(self) -> list[BanRecord]:
        """The server bans kept, read when the database was opened."""
        records, self._bans = self._bans, []
        return records

    def save_ban(self, record: BanRecord) -> None:
        self._queue_account(("ban", record.key, record.mask, record.reason, record.by,
                             record.set_at, record.expires))  # fmt: skip

    def forget_ban(self, key: str) -> None:
        self._queue_account(("unban", key))

    def _queue_account(self, item: AccountItem) -> None:
        if len(self.account_queue) >= ACCOUNT_QUEUE_MAX:
            self.accounts_dropped += 1
            what = "a server ban" if item[0] in ("ban", "unban") else "an account"
            log.warning("history: the disk is not keeping up; a change to %s is dropped", what)
            return
        self.account_queue.append(item)
        self._wake.set()  # written at once, not at the next pass

    def restored(self) -> list[SavedRoom]:
        saved, self._saved = self._saved, []
        return saved

    # --- Private messages, in the same file. ---
    def keep_private(self, pair: str, event: Whispered) -> None:
        size = len(event.text) + ENTRY_BYTES
        if len(self.queue) < self.queue_max and self.queued_bytes() + size <= self.queue_bytes:
            row = reads.private_row(pair, event, kept=True, held_for=None)
            self.queue.append(PrivateEntry(row, event.text))
            self._bytes_in += size
        else:
            self._overflow()

    async def hold(
        self, receiver: str, pair: str, event: Whispered, *, kept: bool, limit: int
    ) -> bool:
        if self.failed or self._stop.is_set():
            raise HistoryUnavailable(self.problem or "History is unavailable: stopping.")
        count = self._held.get(receiver, 0)
        if count >= limit:  # some may have expired since they were counted
            count = await self._read(self._count_held, receiver)
            self._held[receiver] = count
        if count >= limit or len(self.account_queue) >= ACCOUNT_QUEUE_MAX:
            return False
        self._held[receiver] = count + 1
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        row = reads.private_row(pair, event, kept=kept, held_for=receiver)
        self.account_queue.append(("held", row, written))
        self._wake.set()  # written at once, not at the next pass
        # Its sender is told it will be delivered once it is on disk: a crash, even
        # kill -9, after that loses nothing (the writer commits within a few ms).
        try:
            async with asyncio.timeout(self.lock_timeout_s + 10.0):
                if await written:
                    return True
        except TimeoutError:
            log.warning("history: a message for an offline account waits for the disk")
        raise HistoryUnavailable(self.problem or "History is unavailable: the disk is slow.")

    async def collect(self, receiver: str) -> list[Whispered]:
        if not self._held.get(receiver):
            return []  # none waits: no read
        found: list[Whispered] = await self._read(self._collect, receiver)
        self._held.pop(receiver, None)
        return found

    async def fetch_private(self, pair: str, query: Query) -> list[Whispered]:
        found: list[Whispered] = await self._read(self._fetch_private, pair, query)
        return found

    async def private_targets(
        self, account: str, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = await self._read(
            self._private_targets, account, after_ms, before_ms, limit
        )
        return found

    def forget_private(self, account: str) -> None:
        self._held.pop(account, None)
        self._queue_account(("forget-private", account))

    def redact_private(self, pair: str, msgid: str, receiver: str) -> None:
        a, b = pair.split(" ")
        # One row: the conversation's message and, while it waits, the receiver's (the
        # held count stays an upper bound, as after an expiry). Through the lines' queue,
        # after the message's own insert; a held one is written before any line.
        self.queue.append(("redact-private", a, b, int(msgid)))

    def attach(self, on_sweep: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_sweep = on_sweep

    async def fetch(self, query: Query) -> list[Kept]:
        found: list[Kept] = await self._read(self._fetch, query)
        return found

    async def targets(
        self, rooms: list[str], after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = await self._read(
            self._targets, rooms, after_ms, before_ms, limit
        )
        return found

    async def _read(self, work: Callable[..., Any], *args: Any) -> Any:
        if self.failed:
            raise HistoryUnavailable(self.problem)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reader, work, *args)
        except sqlite3.Error as exc:
            log.warning("history: cannot read %s: %s", self.path, reason(exc))
            raise HistoryUnavailable(f"History is unavailable: {reason(exc)}.") from None

    async def aclose(self) -> None:
        """Write everything queued, then close (a graceful shutdown loses nothing)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        await asyncio.to_thread(self._thread.join)
        await asyncio.get_running_loop().run_in_executor(self._reader, self._close_reading)
        self._reader.shutdown(wait=True)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # the flock goes with it
            self._lock_fd = -1
        if self.failed:
            lines = counted(self.unwritten, "line")
            log.warning("history stopped at %s: %s not written", self.path, lines)
            if self.unwritten_accounts:
                changes = counted(self.unwritten_accounts, "account change")
                log.warning("history stopped at %s: %s not written", self.path, changes)
        elif self.dropped:
            lost = counted(self.dropped, "line")
            log.info(
                "history written to %s (%s dropped while the disk fell behind)", self.path, lost
            )
        else:
            log.info("history written to %s", self.path)

    # --- The reader thread. ---
    def _reading(self) -> sqlite3.Connection:
        if self._read_con is None:
            self._read_con = sqlite3.connect(self.path, timeout=self.lock_timeout_s)
        return self._read_con

    def _close_reading(self) -> None:
        if self._read_con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._read_con.close()
            self._read_con = None

    def _sync(self) -> None:
        """Wait until the writer has committed everything queued before now."""
        barrier = threading.Event()
        self.queue.append(barrier)
        self._wake.set()
        barrier.wait(self.lock_timeout_s + 1.0)

    def _fetch(self, query: Query) -> list[Kept]:
        self._sync()
        con = self._reading()
        found = con.execute("SELECT name FROM rooms WHERE key = ?", (query.room,)).fetchone()
        return reads.fetch(con, query, found[0] if found else query.room)

    def _targets(
        self, rooms: list[str], after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        self._sync()
        return reads.targets(self._reading(), rooms, after_ms, before_ms, limit)

    def _fetch_private(self, pair: str, query: Query) -> list[Whispered]:
        self._sync()
        return reads.fetch_private(self._reading(), pair, query)

    def _private_targets(
        self, account: str, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        self._sync()
        return reads.private_targets(self._reading(), account, after_ms, before_ms, limit)

    def _count_held(self, receiver: str) -> int:
        self._sync()
        found = self._reading().execute(
            "SELECT COUNT(*) FROM private_messages WHERE held_for = ?", (receiver,)
        )
        count: int = found.fetchone()[0]
        return count

    def _collect(self, receiver: str) -> list[Whispered]:
        """The held messages, no longer held, in one transaction committed before they
        are shown: a message is handed over once (a crash right after loses its showing;
        a kept one stays in its conversation)."""
        self._sync()
        con = self._reading()
        con.execute("BEGIN IMMEDIATE")
        try:
            found = reads.held(con, receiver)
            con.execute(
                "UPDATE private_messages SET held_for = NULL WHERE held_for = ?", (receiver,)
            )
            con.execute("DELETE FROM private_messages WHERE held_for IS NULL AND kept = 0")
            con.commit()
        except BaseException:
            con.rollback()
            raise
        return found

    # --- The writer thread. ---
    def _run(self) -> None:
        # Chat before history: on a busy core the writer gets what the loop leaves, and
        # if that is too little the queue fills and entries are dropped (and counted).
        with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's own nice
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)
        try:
            while True:
                self._wake.wait(self.interval_s)
                self._wake.clear()
                stopping = self._stop.is_set()  # set before the wake-up: drain, then go
                self._drain()
                if self.retention_s and self.clock() - self._last_expiry >= self.expire_every_s:
                    self._expire()
                if stopping and not self.queue and not self.account_queue:
                    break
        finally:
            self._release_all()
            with contextlib.suppress(sqlite3.Error):
                self._con.close()

    def _drain(self) -> None:
        """Write what is queued, a transaction per 10,000 entries; then wake the
        readers waiting for it."""
        queue, barriers = self.queue, []
        self._write_accounts()
        while queue:
            batch: list[Item] = []
            lines = size = 0
            while queue and len(batch) < 10_000:
                item = queue.popleft()
                if isinstance(item, threading.Event):
                    barriers.append(item)
                else:
                    batch.append(item)
                    if type(item) is not tuple:
                        lines += 1
                        size += len(item.text) + ENTRY_BYTES
            if batch and not self.failed:
                self._write(batch)
            if self.failed:
                self.unwritten += lines
            del batch
            self._bytes_out += size  # only now: the batch held them until written
        for barrier in barriers:
            barrier.set()
        half_full = (
            len(queue) >= self.queue_max // 2 or self.queued_bytes() >= self.queue_bytes // 2
        )
        if self._dropping and not half_full:
            self._dropping = False
            dropped = counted(self.dropped, "entry", "entries")
            log.warning("history: %s dropped so far while the disk fell behind", dropped)

    def _write(self, batch: list[Item]) -> None:
        messages: list[tuple[Any, ...]] = []
        private: list[tuple[Any, ...]] = []
        con, keys = self._con, self._keys
        if len(keys) > 10_000:  # names of rooms long gone
            keys.clear()
        try:
            con.execute("BEGIN IMMEDIATE")
            for item in batch:
                if type(item) is tuple:
                    self._insert(messages)  # keep the order: the lines before it first
                    self._insert_private(private)
                    private.clear()
                    self._write_room(item)
                elif type(item) is PrivateEntry:
                    private.append(item.row)
                else:
                    key = keys.get(item.room)
                    if key is None:
                        key = keys[item.room] = name_key(item.room)
                    messages.append(reads.row_of(item, key))
                    if len(messages) >= 256:  # the GIL goes back to the loop in between
                        self._insert(messages)
            self._insert(messages)
            self._insert_private(private)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail(exc)

    def _insert_private(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._con.executemany(
                "INSERT OR IGNORE INTO private_messages (id, a, b, ts, ts_ms, kind, name, "
                "account, target, mask, text, tags, kept, held_for) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _write_accounts(self) -> None:
        """Write the accounts queued, in one transaction (before the lines)."""
        queue = self.account_queue
        if not queue:
            return
        items = [queue.popleft() for _ in range(len(queue))]
        if not self.failed:
            self._write_account_items(items)
        if self.failed:
            self.unwritten_accounts += len(items)
        for item in items:
            if item[0] == "held":
                self._tell(item[2], not self.failed)

    def _tell(self, written: asyncio.Future[bool], result: bool) -> None:
        """From the writer thread: tell the loop whether a held message was written."""
        with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
            written.get_loop().call_soon_threadsafe(_settle, written, result)

    def _write_account_items(self, items: list[AccountItem]) -> None:
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")
            for item in items:
                if item[0] == "held":
                    self._insert_private([item[1]])
                elif item[0] == "forget-private":
                    self._forget_private(item[1])
                else:
                    con.execute(SMALL_WRITES[item[0]], item[1:])
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail(exc)

    def _forget_private(self, key: str) -> None:
        """A dropped account: its conversations and what waits for it go; what it sent
        that waits for another stays until delivered, unkept."""
        con = self._con
        con.execute("DELETE FROM private_messages WHERE held_for = ?", (key,))
        con.execute(
            "DELETE FROM private_messages WHERE (a = ? OR b = ?) AND held_for IS NULL", (key, key)
        )
        con.execute("UPDATE private_messages SET kept = 0 WHERE a = ? OR b = ?", (key, key))

    def _write_room(self, item: tuple[Any, ...]) -> None:
        """A room's row saved or forgotten, or a message taken back."""
        con = self._con
        if item[0] == "room":
            _, key, name, created, settings = item
            con.execute(
                "INSERT INTO rooms (key, name, created, settings) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
                "settings = excluded.settings",
                (key, name, created, settings),
            )
        elif item[0] == "redact":
            con.execute("DELETE FROM messages WHERE id = ? AND room = ?", (item[3], item[1]))
        elif item[0] == "redact-private":
            con.execute(
                "DELETE FROM private_messages WHERE id = ? AND a = ? AND b = ?",
                (item[3], item[1], item[2]),
            )
        else:
            con.execute("DELETE FROM messages WHERE room = ?", (item[1],))
            con.execute("DELETE FROM rooms WHERE key = ?", (item[1],))

    def _insert(self, messages: list[tuple[Any, ...]]) -> None:
        if messages:
            self._con.executemany(
                "INSERT OR IGNORE INTO messages (id, room, ts, ts_ms, kind, name, mask, "
                "text, tags, concat, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                messages,
            )
            messages.clear()

    def _expire(self) -> None:
        self._last_expiry = self.clock()
        if self.failed:
            return
        cutoff = int((self.clock() - self.retention_s) * 1000)
        try:
            with self._con:
                gone = self._con.execute("DELETE FROM messages WHERE ts_ms < ?", (cutoff,))
                self._con.execute("DELETE FROM private_messages WHERE ts_ms < ?", (cutoff,))
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        if gone.rowcount > 0:
            expired = counted(gone.rowcount, "message")
            log.info("history: %s older than the retention expired", expired)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                self._loop.call_soon_threadsafe(self._on_sweep)

    def _fail(self, exc: sqlite3.Error) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._con.in_transaction:
                self._con.execute("ROLLBACK")
        why = reason(exc)
        log.error(
            "history stopped: cannot write %s: %s; chat goes on without history", self.path, why
        )
        self.failed = why  # only now: whoever sees it may count on the line being logged

    def _release_all(self) -> None:
        """Wake any reader still waiting (the writer is gone)."""
        for item in list(self.queue):
            if isinstance(item, threading.Event):
                item.set()


def _settle(written: asyncio.Future[bool], result: bool) -> None:
    if not written.done():
        written.set_result(result)


def _lock(path: str) -> int:
    """Lock the database file for this server (an exclusive flock, held until closed):
    the descriptor, or StoreError if another server holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreError(f"cannot open the history database {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(
            f"cannot use the history database {path}: another chatroom server is using it "
            "(give each server its own --db)"
        ) from None
    return fd


def open_history(
    path: str,
    *,
    recent: int,
    retention_s: float,
    queue_max: int = 20_000,
    queue_bytes: int = 4 << 20,
    interval_s: float = 0.1,
    expire_every_s: float = 3600.0,
    lock_timeout_s: float = 2.0,
    clock: Callable[[], float] = time.time,
) -> SqliteHistory:
    """Open (or make) the database, migrate it, expire old lines, read the rooms
    to restore. StoreError, with the line to log, if it cannot be used (another server
    holds the file, for one)."""
    try:
        con = sqlite3.connect(
            path, timeout=lock_timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the history database {path}: {reason(exc)}") from None
    try:
        lock_fd = _lock(path)  # before anything is written: the file exists now
    except StoreError:
        con.close()
        raise
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        migrate(con, path)
        since_ms = int((clock() - retention_s) * 1000) if retention_s else 0
        with con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM messages WHERE ts_ms < ?", (since_ms,))
            con.execute("DELETE FROM private_messages WHERE ts_ms < ?", (since_ms,))
            con.executemany(
                "DELETE FROM rooms WHERE key = ?", [(key,) for key in reads.unkept_rooms(con)]
            )
        saved = reads.saved_rooms(con, recent, since_ms)
        accounts = reads.saved_accounts(con)
        bans = reads.saved_bans(con)
        held = reads.held_counts(con)
    except StoreError:
        con.close()
        os.close(lock_fd)
        raise
    except sqlite3.Error as exc:
        con.close()
        os.close(lock_fd)
        raise StoreError(f"cannot use the history database {path}: {reason(exc)}") from None
    history = SqliteHistory(
        path, con, saved, accounts=accounts, bans=bans, held=held, retention_s=retention_s,
        queue_max=queue_max, queue_bytes=queue_bytes, interval_s=interval_s,
        expire_every_s=expire_every_s, lock_timeout_s=lock_timeout_s, clock=clock,
    )  # fmt: skip
    history._lock_fd = lock_fd
    return history
