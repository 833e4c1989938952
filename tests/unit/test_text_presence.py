"""The text door's /watch and /unwatch, socket-free: exact docs/protocol.md lines."""

from __future__ import annotations

import pytest

from config.settings import Config
from rooms import RoomManager
from tests.unit.test_irc_core import registered
from tests.unit.test_session import User, in_room, named


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush())


def heard(user: User) -> list[str]:
    """What the user got since its last line (others' doings), then forgotten."""
    lines, user.out[:] = list(user.out), []
    return lines


async def test_a_watched_name_coming_and_going_is_told_in_the_menu_and_in_a_room(
    rooms: RoomManager,
) -> None:
    alice = await named(rooms, "alice")
    assert await alice.say("/watch BOB") == [
        "* You are now watching BOB (offline).",
        "Enter your choice:",
    ]
    heard(alice)
    bob = await named(rooms, "bob")
    assert heard(alice) == ["* bob is online"]
    await alice.say("/create lobby")
    heard(alice)
    await bob.say("/nick robert")
    assert heard(alice) == ["* bob went offline"]
    assert await alice.say("/watch robert") == ["* You are now watching robert (online)."]
    heard(alice)
    await bob.say("/quit")
    await bob.session.close()
    assert heard(alice) == ["* robert went offline"]


async def test_watch_alone_lists_the_names_with_who_is_online(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "lobby")
    assert await alice.say("/watch") == [
        "* You are watching nobody. Watch a name with /watch NAME."
    ]
    await named(rooms, "carol")
    await alice.say("/watch dave", "/watch Carol", "/watch carol")
    assert alice.out[-1] == "* You are watching carol already."
    assert await alice.say("/watch") == ["* You are watching (2): Carol (online), dave (offline)"]
    assert await alice.say("/unwatch CAROL") == ["* You are no longer watching CAROL."]
    assert await alice.say("/unwatch carol") == ["* You are not watching carol."]
    assert await alice.say("/watch") == ["* You are watching (1): dave (offline)"]


async def test_watch_refuses_a_bad_name_and_a_full_list(rooms: RoomManager) -> None:
    rooms = RoomManager(defer=lambda flush: flush(), max_watch=1)
    alice = await in_room(rooms, "alice", "lobby")
    assert await alice.say("/watch a b") == [
        '! Invalid name "a b": cannot contain spaces, invisible or direction-changing characters.'
    ]
    assert await alice.say("/watch NickServ") == ['! The name "NickServ" is reserved.']
    await alice.say("/watch bob")
    assert await alice.say("/watch carol") == ["! Your watch list is full (1 name)."]
    assert await alice.say("/unwatch") == ["! Usage: /unwatch NAME"]


async def test_an_irc_user_is_watched_from_the_text_door(rooms: RoomManager) -> None:
    from doors.irc.session import IrcDoor

    alice = await named(rooms, "alice")
    await alice.say("/watch ircbob")
    heard(alice)
    door = IrcDoor(rooms, Config(irc_server_name="irc.test"))
    bob = await registered(door, "IrcBob")
    assert heard(alice) == ["* IrcBob is online"]
    await bob.send("AWAY :gone", "SETNAME :Bob")  # a text watcher hears no more than this
    await bob.send("QUIT")
    assert heard(alice) == ["* IrcBob went offline"]


async def test_help_lists_watch_and_unwatch(rooms: RoomManager) -> None:
    alice = User(rooms)
    alice.session.start()
    await alice.say("alice")
    out = await alice.say("/help")
    assert any(line.startswith("/watch [NAME]  ") for line in out)
    assert any(line.startswith("/unwatch NAME  ") for line in out)
