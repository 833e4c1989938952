"""MONITOR (IRCv3 monitor, extended-monitor) and SETNAME (IRCv3 setname), socket-free:
IrcSessions over one registry, lines in, exact lines out; text-door users watched too."""

from __future__ import annotations

import pytest

from config.settings import Config
from doors.irc.session import IrcDoor
from rooms import RoomManager
from tests.unit.test_irc_core import Client, registered
from tests.unit.test_session import in_room, named


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush(), max_watch=3, server_name="irc.test")


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test", max_watch=3))


async def test_isupport_offers_monitor_with_its_limit_and_the_realname_length(
    door: IrcDoor,
) -> None:
    out = await Client(door).send("NICK a", "USER a 0 * :a")
    tokens = [t for text in out if text.split()[1] == "005" for t in text.split(" :")[0].split()]
    assert "MONITOR=3" in tokens and "NAMELEN=100" in tokens


async def test_monitor_plus_answers_who_is_online_and_then_who_comes_and_goes(
    door: IrcDoor,
) -> None:
    foo = await registered(door, "foo")
    await registered(door, "bar")
    assert await foo.send("MONITOR + BAR,baz,*!u@h,baz") == [
        ":irc.test 730 foo bar!~bar@localhost",
        ":irc.test 731 foo baz",
    ]
    baz = await registered(door, "Baz")
    assert foo.take() == [":irc.test 730 foo Baz!~Baz@localhost"]
    await baz.send("NICK BAZ")  # the same name: nothing to tell
    assert foo.take() == []
    await baz.send("NICK qux")
    assert foo.take() == [":irc.test 731 foo BAZ"]
    await baz.send("QUIT :bye")
    assert foo.take() == []  # qux is not watched


async def test_monitor_lists_reports_removes_and_clears(door: IrcDoor) -> None:
    foo = await registered(door, "foo")
    await registered(door, "bar")
    await foo.send("MONITOR + bar,baz")
    assert await foo.send("MONITOR L") == [
        ":irc.test 732 foo bar,baz",
        ":irc.test 733 foo :End of MONITOR list",
    ]
    assert await foo.send("MONITOR s") == [
        ":irc.test 730 foo bar!~bar@localhost",
        ":irc.test 731 foo baz",
    ]
    assert await foo.send("MONITOR - BAR") == []
    assert await foo.send("MONITOR L") == [
        ":irc.test 732 foo baz",
        ":irc.test 733 foo :End of MONITOR list",
    ]
    assert await foo.send("MONITOR C") == []
    assert await foo.send("MONITOR L", "MONITOR S") == [":irc.test 733 foo :End of MONITOR list"]


async def test_monitor_refuses_what_would_overfill_the_list_with_734(door: IrcDoor) -> None:
    foo = await registered(door, "foo")
    assert await foo.send("MONITOR + a,b,c,d,e") == [
        ":irc.test 731 foo a,b,c",
        ":irc.test 734 foo 3 d,e :Monitor list is full.",
    ]
    assert await foo.send("MONITOR + A") == [":irc.test 731 foo A"]  # there already


async def test_monitor_needs_a_known_modifier_and_targets(door: IrcDoor) -> None:
    foo = await registered(door, "foo")
    assert await foo.send("MONITOR +") == [":irc.test 461 foo MONITOR :Not enough parameters"]
    assert await foo.send("MONITOR X") == [
        ":irc.test FAIL MONITOR UNKNOWN_COMMAND X :Unknown MONITOR modifier; use +, -, C, L or S"
    ]


async def test_a_long_status_is_cut_into_lines(door: IrcDoor) -> None:
    rooms = RoomManager(defer=lambda flush: flush(), server_name="irc.test")
    door = IrcDoor(rooms, Config(irc_server_name="irc.test"))
    foo = await registered(door, "foo")
    names = [f"name{i:02d}" + "x" * 14 for i in range(40)]
    await foo.send("MONITOR + " + ",".join(names[:20]), "MONITOR + " + ",".join(names[20:]))
    out = await foo.send("MONITOR S")
    assert len(out) > 1
    assert all(text.startswith(":irc.test 731 foo ") and len(text) <= 512 for text in out)
    assert ",".join(text.split()[3] for text in out) == ",".join(names)


async def test_a_text_user_is_watched_like_any_other(door: IrcDoor) -> None:
    foo = await registered(door, "foo")
    await foo.send("MONITOR + alice")
    alice = await named(door.rooms, "alice")
    assert foo.take() == [f":irc.test 730 foo {door.rooms.find('alice').mask}"]  # type: ignore[union-attr]
    await alice.say("/quit")
    await alice.session.close()
    assert foo.take() == [":irc.test 731 foo alice"]


async def test_extended_monitor_brings_away_and_setname_of_a_watched_nick_sharing_no_room(
    door: IrcDoor,
) -> None:
    eager = await registered(door, "eager", "extended-monitor", "away-notify", "setname")
    half = await registered(door, "half", "away-notify", "setname")  # no extended-monitor
    bar = await registered(door, "bar")
    await eager.send("MONITOR + bar")
    await half.send("MONITOR + bar")
    await bar.send("AWAY :afk", "SETNAME :Mr Bar")
    assert eager.take() == [":bar!~bar@localhost AWAY afk", ":bar!~bar@localhost SETNAME :Mr Bar"]
    assert half.take() == []
    await eager.send("CAP REQ :-extended-monitor")
    await bar.send("AWAY")
    assert eager.take() == []


async def test_setname_changes_the_realname_told_to_peers_with_the_cap_only(
    door: IrcDoor,
) -> None:
    foo = await registered(door, "foo", "setname")
    peer = await registered(door, "peer", "setname")
    plain = await registered(door, "plain")
    for client in (foo, peer, plain):
        await client.send("JOIN #chan")
    text = await in_room(door.rooms, "alice", "chan")
    foo.take(), peer.take(), plain.take()
    assert await foo.send("SETNAME :Foo Bar") == [":foo!~foo@localhost SETNAME :Foo Bar"]
    assert peer.take() == [":foo!~foo@localhost SETNAME :Foo Bar"]
    assert plain.take() == text.out == []
    whois = await plain.send("WHOIS foo")
    assert whois[0] == ":irc.test 311 plain foo ~foo localhost * :Foo Bar"
    assert await plain.send("SETNAME Plain") == []  # without the cap: silent, but done
    assert door.rooms.find("plain").realname == "Plain"  # type: ignore[union-attr]


@pytest.mark.parametrize("realname", ["", "x" * 101])
async def test_setname_refuses_an_empty_or_too_long_realname(door: IrcDoor, realname: str) -> None:
    foo = await registered(door, "foo", "setname")
    assert await foo.send(f"SETNAME :{realname}") == [
        ":irc.test FAIL SETNAME INVALID_REALNAME :Realname must be 1 to 100 characters"
    ]
    assert door.rooms.find("foo").realname == "foo"  # type: ignore[union-attr]
