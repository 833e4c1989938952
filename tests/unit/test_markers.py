"""Read markers in the registry (registry/markers.py), without sockets: forward only,
bounded, kept in the account's settings and written coalesced, told to the account's
other connections; a text connection's marker follows the room it shows."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TypeVar

import pytest

import registry as r
from registry.accounts import AccountRecord, Accounts
from registry.events import Said
from registry.history import ring_keeper
from rooms import RoomManager

T = TypeVar("T")
NOON = 1_796_000_000.0  # seconds since the epoch
NOON_MS = int(NOON * 1000)


async def inline(work: Callable[[], T], /) -> T:
    return work()


class Store:
    """An account store that keeps what it is asked to save, as a list."""

    def __init__(self) -> None:
        self.saved: list[AccountRecord] = []

    def records(self) -> list[AccountRecord]:
        return []

    def save_account(self, record: AccountRecord) -> None:
        self.saved.append(record)

    def forget_account(self, key: str) -> None:
        pass


class Timers:
    """`later` for the registry's timers: each callback waits here until the test runs it."""

    def __init__(self) -> None:
        self.waiting: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay_s: float, callback: Callable[[], None]) -> None:
        self.waiting.append((delay_s, callback))

    def run(self) -> None:
        waiting, self.waiting = self.waiting, []
        for _, callback in waiting:
            callback()


class Sink:
    """A connection: what is written to it, and a render that words MarkerMoved."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, data: bytes) -> None:
        self.lines += data.decode().splitlines()

    @staticmethod
    def render(event: r.Event) -> bytes:
        if isinstance(event, r.MarkerMoved):
            return f"{event.room or event.nick} {event.ms}\n".encode()
        if isinstance(event, Said):
            return f"<{event.name}> {event.text}\n".encode()
        return b""


@pytest.fixture
async def store() -> Store:
    return Store()


@pytest.fixture
async def rooms(store: Store) -> RoomManager:
    accounts = Accounts(store, run_slow=inline, iterations=4096, clock=lambda: NOON)
    await accounts.register("Alice", "sesame", "192.0.2.1")
    store.saved.clear()
    manager = RoomManager(clock=lambda: NOON, defer=lambda flush: flush(), accounts=accounts)
    manager.markers = r.ReadMarkers(accounts, server_name="irc.test", clock=lambda: NOON)
    return manager


def keeping(room: r.Room) -> None:
    """The room keeps its lines in memory, as with history on."""
    room.recent = deque(maxlen=20)
    room.keep = ring_keeper(room.recent, lambda event: None)


def book() -> r.Book:
    return r.Book({}, limit=3)


def test_a_marker_moves_forward_never_back() -> None:
    marks = book()
    assert marks.move("#general", r.Mark(2000)) == (r.Mark(2000), True)
    assert marks.move("#general", r.Mark(1000)) == (r.Mark(2000), False)
    assert marks.move("#general", r.Mark(2000)) == (r.Mark(2000), False)
    assert marks.move("#general", r.Mark(2001)) == (r.Mark(2001), True)
    assert marks.get("#general") == r.Mark(2001) and marks.get("bob") is None


def test_within_one_ms_a_later_message_is_further_and_the_whole_ms_furthest() -> None:
    marks = book()
    assert marks.move("#g", r.Mark(5, "100"))[1]
    assert marks.move("#g", r.Mark(5, "101"))[1]
    assert not marks.move("#g", r.Mark(5, "99"))[1]
    assert marks.move("#g", r.Mark(5))[1]  # everything said in that ms
    assert not marks.move("#g", r.Mark(5, "102"))[1]
    assert marks.get("#g") == r.Mark(5)


def test_a_book_keeps_at_most_its_limit_forgetting_the_one_read_longest_ago() -> None:
    marks = book()
    for target, ms in (("#a", 30), ("#b", 10), ("c", 20)):
        marks.move(target, r.Mark(ms))
    marks.move("#d", r.Mark(5))  # a new one: the oldest of the others goes
    assert sorted(marks.marks) == ["#a", "#d", "c"]
    marks.move("#a", r.Mark(40))  # an old one moving forgets nothing
    assert len(marks.marks) == 3


def test_a_malformed_stored_marker_reads_as_none_and_goes_first() -> None:
    marks = r.Book({"#a": "junk", "#b": [1, 2], "#c": 7, "#d": [8, "9"]}, limit=3)
    assert (marks.get("#a"), marks.get("#b")) == (None, None)
    assert (marks.get("#c"), marks.get("#d")) == (r.Mark(7), r.Mark(8, "9"))
    marks.move("#e", r.Mark(1))
    assert sorted(marks.marks) == ["#c", "#d", "#e"]


def test_unread_is_what_follows_the_marked_message_or_time() -> None:
    lines = [Said("bob", f"m{i}", (NOON_MS + i // 2) / 1000, msgid=str(100 + i)) for i in range(6)]
    assert [e.text for e in r.unread(lines, r.Mark(NOON_MS + 1, "103"))] == ["m4", "m5"]
    assert [e.text for e in r.unread(lines, r.Mark(NOON_MS + 1))] == ["m4", "m5"]
    assert [e.text for e in r.unread(lines, r.Mark(NOON_MS + 1, "102"))] == ["m3", "m4", "m5"]
    assert [e.text for e in r.unread(lines[4:], r.Mark(NOON_MS + 1, "102"))] == ["m4", "m5"]
    assert r.unread(lines, r.Mark(NOON_MS + 9)) == []


async def test_a_move_is_kept_in_the_account_and_told_to_its_other_connections(
    rooms: RoomManager,
) -> None:
    laptop, phone = Sink(), Sink()
    alice, _ = await rooms.log_in_as("Alice", laptop.write, laptop.render)
    _, device = await rooms.log_in_as("Alice", phone.write, phone.render, door="irc")
    stored, moved = rooms.markers.move(
        alice, r.room_target("General"), r.Mark(NOON_MS - 5), room="General", skip=device
    )
    assert (stored, moved) == (r.Mark(NOON_MS - 5), True)
    assert laptop.lines == [f"General {NOON_MS - 5}"] and phone.lines == []
    assert rooms.markers.get("alice", "#general") == r.Mark(NOON_MS - 5)
    account = rooms.accounts.find("alice")
    assert account is not None and account.settings["read"] == {"#general": [NOON_MS - 5, ""]}
    assert rooms.markers.move(alice, "#general", r.Mark(1)) == (r.Mark(NOON_MS - 5), False)
    assert laptop.lines == [f"General {NOON_MS - 5}"]  # nothing moved, nobody told


async def test_a_time_in_the_future_counts_as_now_and_a_guest_keeps_nothing(
    rooms: RoomManager,
) -> None:
    sink = Sink()
    alice, _ = await rooms.log_in_as("Alice", sink.write, sink.render)
    assert rooms.markers.move(alice, "bob", r.Mark(NOON_MS + 10**9), nick="bob")[0] == r.Mark(
        NOON_MS
    )
    guest = await rooms.claim("carol", sink.write, sink.render)
    assert rooms.markers.move(guest, "bob", r.Mark(1)) == (None, False)
    assert rooms.markers.get("", "bob") is None


async def test_moves_are_saved_once_per_interval_and_when_the_user_leaves(
    rooms: RoomManager, store: Store
) -> None:
    timers = Timers()
    rooms.markers = r.ReadMarkers(rooms.accounts, clock=lambda: NOON, later=timers)
    sink = Sink()
    alice, _ = await rooms.log_in_as("Alice", sink.write, sink.render)
    for ms in range(1000, 1100):
        rooms.markers.move(alice, "#general", r.Mark(ms))
        rooms.markers.move(alice, "bob", r.Mark(ms))
    assert store.saved == [] and len(timers.waiting) == 1  # one save, due later
    assert timers.waiting[0][0] == r.markers.SAVE_EVERY_S
    timers.run()
    assert len(store.saved) == 1
    assert store.saved[0].settings["read"] == {"#general": [1099, ""], "bob": [1099, ""]}
    timers.run()
    rooms.markers.move(alice, "#general", r.Mark(5))  # not forward: nothing to write
    assert timers.waiting == [] and len(store.saved) == 1
    rooms.markers.move(alice, "#general", r.Mark(2000))
    await rooms.disconnect(alice, None)  # its last connection: written now
    assert len(store.saved) == 2 and store.saved[1].settings["read"]["#general"] == [2000, ""]
    timers.run()  # the save that was due finds nothing left to write
    assert len(store.saved) == 2


async def test_a_text_connection_moves_the_marker_to_what_its_room_delivered(
    rooms: RoomManager, store: Store
) -> None:
    timers = Timers()
    rooms.markers = r.ReadMarkers(rooms.accounts, clock=lambda: NOON, later=timers)
    laptop, phone = Sink(), Sink()
    alice, _ = await rooms.log_in_as("Alice", laptop.write, laptop.render)
    room = await rooms.create(alice, "general")
    await rooms.log_in_as("Alice", phone.write, phone.render, door="irc")
    keeping(room)
    connection = object()
    rooms.markers.follow(connection, alice, room)
    room.say(alice, "one")
    timers.run()  # a tick: the marker follows the room's newest line delivered
    newest = room.recent[-1]
    assert rooms.markers.get("alice", "#general") == r.Mark(int(newest.ts * 1000), newest.msgid)
    assert phone.lines[-1] == f"general {int(newest.ts * 1000)}"
    assert len(timers.waiting) == 2  # the next tick, and the save
    room.say(alice, "two")
    rooms.markers.unfollow(connection)  # left, or gone: where its lines were delivered
    assert rooms.markers.get("alice", "#general") == r.Mark(NOON_MS, room.recent[-1].msgid)
    timers.run()
    assert len(timers.waiting) == 0  # nobody follows a room: no more ticks


async def test_a_connection_that_left_does_not_move_past_what_came_after(
    rooms: RoomManager,
) -> None:
    sink = Sink()
    alice, _ = await rooms.log_in_as("Alice", sink.write, sink.render)
    bob = await rooms.claim("bob", sink.write, sink.render)
    room = await rooms.create(bob, "general")
    await rooms.join(alice, "general")
    keeping(room)
    rooms.markers.follow("laptop", alice, room)
    room._defer = lambda flush: None  # what is said stays pending
    room.say(bob, "before")
    room.flush()
    await rooms.leave(alice, room)
    room.say(bob, "after she left")
    rooms.markers.unfollow("laptop")
    assert rooms.markers.get("alice", "#general") is None
