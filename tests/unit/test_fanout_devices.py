"""A room's fan-out when a member is on several connections (registry Devices): each
connection gets one write per flush, in its own render's words, less only the lines it
sent itself without echo; nobody gets an empty write."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry import Event, Said
from rooms import RoomManager
from tests.unit.test_rooms import Inbox, plain


def wording(door: str) -> Callable[[Event], bytes]:
    """A door's render: says which door worded the event, and only chat lines."""

    def render(event: Event) -> bytes:
        if not isinstance(event, Said):
            return b""  # a door that shows nothing of joins, as if silent
        return f"{door} {plain(event)}\n".encode()

    return render


TEXT, IRC = wording("text"), wording("irc")


class Later:
    """The rooms' defer: the flush runs when the test says (one event-loop pass)."""

    def __init__(self) -> None:
        self.due: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> object:
        self.due.append(callback)
        return None

    def run(self) -> None:
        due, self.due = self.due, []
        for callback in due:
            callback()


@pytest.fixture
def later() -> Later:
    return Later()


@pytest.fixture
def rooms(later: Later) -> RoomManager:
    return RoomManager(clock=lambda: 0.0, defer=later)


def said(door: str, *lines: tuple[str, str]) -> list[str]:
    return [f"{door} ('Said', '{name}', '{text}', 'den')" for name, text in lines]


async def test_every_connection_of_a_member_gets_the_batch_in_one_write(
    rooms: RoomManager, later: Later
) -> None:
    laptop, phone, tablet, bob_inbox = Inbox(), Inbox(), Inbox(), Inbox()
    alice, _ = await rooms.log_in_as("alice", laptop, TEXT)
    bob = await rooms.claim("bob", bob_inbox, TEXT)
    room = await rooms.create(alice, "den")
    await rooms.join(bob, "den")
    _, on_phone = await rooms.log_in_as("alice", phone, TEXT)
    _, on_tablet = await rooms.log_in_as("alice", tablet, TEXT)
    assert on_phone is not None and on_tablet is not None and room.multi
    later.run()
    for inbox in (laptop, phone, tablet, bob_inbox):
        inbox.writes.clear()
    room.say(bob, "one")
    room.say(alice, "two", device=on_phone)
    room.say(alice, "three")
    later.run()
    lines = said("text", ("bob", "one"), ("alice", "two"), ("alice", "three"))
    for inbox in (laptop, phone, tablet, bob_inbox):
        assert len(inbox.writes) == 1 and inbox.events() == lines


async def test_a_connection_without_echo_misses_only_its_own_lines(
    rooms: RoomManager, later: Later
) -> None:
    laptop, phone, bob_inbox = Inbox(), Inbox(), Inbox()
    alice, _ = await rooms.log_in_as("alice", laptop, TEXT)
    bob = await rooms.claim("bob", bob_inbox, IRC)
    room = await rooms.create(alice, "den")
    await rooms.join(bob, "den")
    _, on_phone = await rooms.log_in_as("alice", phone, IRC)
    later.run()
    room.say(alice, "typed on the phone", echo=False, device=on_phone)
    room.say(bob, "hi", echo=False)
    room.say(alice, "typed on the laptop", echo=False)
    later.run()
    phone_said, laptop_said, hi = (
        ("alice", "typed on the phone"),
        ("alice", "typed on the laptop"),
        ("bob", "hi"),
    )
    assert laptop.events() == said("text", phone_said, hi)
    assert phone.events() == said("irc", hi, laptop_said)
    assert bob_inbox.events() == said("irc", phone_said, laptop_said)
    assert [len(i.writes) for i in (laptop, phone, bob_inbox)] == [1, 1, 1]


async def test_a_connection_whose_render_shows_nothing_gets_no_write(
    rooms: RoomManager, later: Later
) -> None:
    laptop, phone, bob_inbox = Inbox(), Inbox(), Inbox()
    alice, _ = await rooms.log_in_as("alice", laptop, TEXT)
    bob = await rooms.claim("bob", bob_inbox, TEXT)
    room = await rooms.create(alice, "den")
    await rooms.log_in_as("alice", phone, IRC)
    later.run()
    await rooms.join(bob, "den")  # both renders word a join as nothing
    later.run()
    assert laptop.writes == phone.writes == bob_inbox.writes == []
    room.say(bob, "hello", echo=False)  # bob's only line: nothing left for him
    later.run()
    assert bob_inbox.writes == []
    assert laptop.events() == said("text", ("bob", "hello"))
    assert phone.events() == said("irc", ("bob", "hello"))


async def test_one_door_and_one_sender_without_echo_the_usual_on_irc(
    rooms: RoomManager, later: Later
) -> None:
    laptop, phone, bob_inbox = Inbox(), Inbox(), Inbox()
    alice, _ = await rooms.log_in_as("alice", laptop, IRC)
    bob = await rooms.claim("bob", bob_inbox, IRC)
    room = await rooms.create(alice, "den")
    await rooms.join(bob, "den")
    _, on_phone = await rooms.log_in_as("alice", phone, IRC)
    later.run()
    for inbox in (laptop, phone, bob_inbox):
        inbox.writes.clear()
    room.say(bob, "before")
    room.say(alice, "from the phone", echo=False, device=on_phone)
    room.say(bob, "after")
    later.run()
    before, mine, after = ("bob", "before"), ("alice", "from the phone"), ("bob", "after")
    assert phone.events() == said("irc", before, after)
    assert laptop.events() == bob_inbox.events() == said("irc", before, mine, after)
    room.say(alice, "alone", echo=False)  # the first connection's line, alone in its batch
    later.run()
    assert laptop.events() == said("irc", before, mine, after)  # no empty write either
    assert [len(i.writes) for i in (laptop, phone, bob_inbox)] == [1, 2, 2]
