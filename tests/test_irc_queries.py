"""The IRC door's questions (WHO, WHOIS, WHOWAS, LIST, ...), socket-free: IrcSessions
over one registry, lines in, exact lines out. Text-door users are asked about too."""

from __future__ import annotations

import time

import pytest

import doors.irc.door  # noqa: F401  (fills the command table)
from config import Config
from doors.irc.session import IrcDoor, IrcSession
from doors.text.session import Session
from rooms import RoomManager

NOON = time.mktime((2026, 11, 25, 12, 34, 0, 0, 0, -1))


class Client:
    """An IRC session with its output captured."""

    def __init__(self, door: IrcDoor, host: str = "127.0.0.1") -> None:
        self.out: list[str] = []
        self.session = IrcSession(door, self.out.append, host=host)

    async def send(self, *lines: str) -> list[str]:
        """Feed lines; return what came out for them."""
        self.out.clear()
        for text in lines:
            pending = self.session.feed_nowait(text)
            if pending is not None:
                await pending
        return list(self.out)


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(clock=lambda: NOON, defer=lambda flush: flush())


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


async def irc(door: IrcDoor, nick: str, *chans: str, realname: str = "Real Name") -> Client:
    """A registered IRC client in these channels, its output cleared."""
    client = Client(door)
    await client.send(f"NICK {nick}", f"USER u{nick} 0 * :{realname}")
    assert client.out[0].startswith(f":irc.test 001 {nick} "), client.out
    for chan in chans:
        await client.send(f"JOIN {chan}")
    client.out.clear()
    return client


async def text_user(rooms: RoomManager, name: str, room: str) -> Session:
    """A text-door user who made `room`."""
    out: list[str] = []
    session = Session(rooms, Config(), out.append, peer="10.0.0.7:5555")
    session.start()
    await session.feed(name)
    await session.feed(f"/create {room}")
    return session


async def test_a_line_s_carriage_return_is_not_part_of_its_last_parameter(
    door: IrcDoor,
) -> None:
    alice = await irc(door, "alice")
    bob = await irc(door, "bob")
    await alice.send("PRIVMSG bob :hi there\r")
    assert bob.out == [":alice!~ualice@127.0.0.1 PRIVMSG bob :hi there"]
