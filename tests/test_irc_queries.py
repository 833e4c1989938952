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


# --- WHO and WHOX. ---
@pytest.fixture
async def lobby(rooms: RoomManager, door: IrcDoor) -> tuple[Client, Client]:
    """carol (text door) made room lobby; alice and bob (IRC) joined #lobby after."""
    await text_user(rooms, "carol", "lobby")
    return await irc(door, "alice", "#lobby"), await irc(door, "bob", "#lobby")


async def test_who_a_channel_lists_users_of_both_doors_with_flags(
    lobby: tuple[Client, Client],
) -> None:
    alice, bob = lobby
    await alice.send("AWAY :lunch")
    assert await bob.send("WHO #LOBBY") == [
        ":irc.test 352 bob #lobby ~ualice 127.0.0.1 irc.test alice G :0 Real Name",
        ":irc.test 352 bob #lobby ~ubob 127.0.0.1 irc.test bob H :0 Real Name",
        ":irc.test 352 bob #lobby ~carol 10.0.0.7 irc.test carol H@ :0 ",
        ":irc.test 315 bob #LOBBY :End of /WHO list",
    ]


async def test_who_shows_every_prefix_only_with_multi_prefix(
    rooms: RoomManager, lobby: tuple[Client, Client]
) -> None:
    _, bob = lobby
    room, carol = rooms.room("lobby"), rooms.find("carol")
    assert room is not None and carol is not None
    room.voiced.add(carol)
    assert (await bob.send("WHO carol"))[0].split()[8] == "H@"
    await bob.send("CAP REQ multi-prefix")
    assert (await bob.send("WHO carol"))[0].split()[8] == "H@+"


@pytest.mark.parametrize(
    ("mask", "nicks"),
    [
        ("ALICE", ["alice"]),
        ("a*", ["alice"]),
        ("?o?", ["bob"]),
        ("*real*", ["alice", "bob"]),
        ("10.0.0.*", ["carol"]),
        ("~c*", ["carol"]),
        ("*", ["alice", "bob", "carol"]),
        ("nobody", []),
    ],
)
async def test_who_a_mask_matches_nick_user_host_or_realname_in_any_case(
    lobby: tuple[Client, Client], mask: str, nicks: list[str]
) -> None:
    _, bob = lobby
    *replies, end = await bob.send(f"WHO {mask}")
    assert [reply.split()[7] for reply in replies] == nicks
    assert end == f":irc.test 315 bob {mask} :End of /WHO list"


async def test_who_outside_a_channel_shows_the_member_s_channel_or_a_star(
    rooms: RoomManager, door: IrcDoor
) -> None:
    alice = await irc(door, "alice", "#a", "#b")
    loner = await irc(door, "loner")
    assert (await loner.send("WHO alice"))[0].split()[3] == "#a"
    assert (await alice.send("WHO loner"))[0].split()[3] == "*"


async def test_who_for_operators_finds_none(lobby: tuple[Client, Client]) -> None:
    _, bob = lobby
    assert await bob.send("WHO * o") == [":irc.test 315 bob * :End of /WHO list"]


async def test_whox_gives_the_fields_asked_for_in_the_spec_s_order(
    lobby: tuple[Client, Client],
) -> None:
    _, bob = lobby
    assert await bob.send("WHO alice %ronlfdahsiuct,42") == [
        ":irc.test 354 bob 42 #lobby ~ualice 127.0.0.1 127.0.0.1 irc.test alice H 0 0 0 n/a "
        ":Real Name",
        ":irc.test 315 bob alice :End of /WHO list",
    ]
    assert (await bob.send("WHO carol %nr"))[0] == ":irc.test 354 bob carol :"
    assert (await bob.send("WHO carol %tn"))[0] == ":irc.test 354 bob 0 carol"
    assert (await bob.send("WHO #lobby %n,7"))[:-1] == [
        ":irc.test 354 bob alice",
        ":irc.test 354 bob bob",
        ":irc.test 354 bob carol",
    ]
