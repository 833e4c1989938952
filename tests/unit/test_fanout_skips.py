"""A room's flush when senders do not get their own lines back (IRC without
echo-message): whoever sent what, in one render or two, each member gets the batch in
order less exactly its own such lines, in one write, and no empty write."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from registry import Member, Room
from rooms import RoomManager
from tests.unit.test_fanout_devices import IRC, TEXT, Later
from tests.unit.test_rooms import Inbox

# (speaker, echo, text): who says it, whether it comes back to them, what it is.
Said = tuple[int, bool, str]
SIZE = 4

said = st.tuples(st.integers(0, SIZE - 1), st.booleans(), st.text("abcé ", min_size=1, max_size=12))


async def _room(irc: list[bool]) -> tuple[Room, list[Member], list[Inbox], Later]:
    later = Later()
    rooms = RoomManager(clock=lambda: 0.0, defer=later)
    members, inboxes = [], []
    for n, on_irc in enumerate(irc):
        inbox = Inbox()
        members.append(await rooms.claim(f"m{n}", inbox, IRC if on_irc else TEXT))
        inboxes.append(inbox)
    room = await rooms.create(members[0], "den")
    for member in members[1:]:
        await rooms.join(member, "den")
    later.run()
    for inbox in inboxes:
        inbox.writes.clear()
    return room, members, inboxes, later


@settings(max_examples=150, deadline=None)
@given(
    irc=st.lists(st.booleans(), min_size=SIZE, max_size=SIZE),
    passes=st.lists(st.lists(said, max_size=8), min_size=1, max_size=3),
)
def test_each_member_gets_the_batch_less_its_own_unechoed_lines(
    irc: list[bool], passes: list[list[Said]]
) -> None:
    room, members, inboxes, later = asyncio.run(_room(irc))
    for lines in passes:
        for speaker, echo, text in lines:
            room.say(members[speaker], text, echo=echo)
        later.run()
        for n, inbox in enumerate(inboxes):
            door = "irc" if irc[n] else "text"
            expected = [
                f"{door} ('Said', 'm{speaker}', '{text}', 'den')"
                for speaker, echo, text in lines
                if echo or speaker != n
            ]
            assert inbox.events() == expected
            assert len(inbox.writes) == (1 if expected else 0)
            assert all(inbox.writes)
            inbox.writes.clear()
