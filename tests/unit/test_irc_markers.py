"""MARKREAD on the socket-free IRC session (IRCv3 draft/read-marker): a guest's markers
are its connection's own; they move forward only; the marker comes right after the
client's own JOIN, before the end of NAMES; refusals are FAIL MARKREAD."""

from __future__ import annotations

import pytest

from config.settings import Config
from doors.irc.session import IrcDoor
from rooms import RoomManager
from tests.unit.test_irc_core import Client, registered

CAP = "draft/read-marker"
NOON_MS = 1_796_000_000_000


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush(), clock=lambda: NOON_MS / 1000)


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


async def guest(door: IrcDoor, nick: str = "alice") -> Client:
    return await registered(door, nick, CAP)


async def test_a_guest_has_no_marker_until_it_sets_one_and_then_only_forward(
    door: IrcDoor,
) -> None:
    alice = await guest(door)
    assert await alice.send("MARKREAD #den") == [":irc.test MARKREAD #den *"]
    ts, older = "2026-11-30T00:10:00.250Z", "2026-11-30T00:05:00.000Z"
    assert await alice.send(f"MARKREAD #den timestamp={ts}") == [
        f":irc.test MARKREAD #den timestamp={ts}"
    ]
    assert await alice.send(f"MARKREAD #den timestamp={older}") == [
        f":irc.test MARKREAD #den timestamp={ts}"
    ]
    assert await alice.send("MARKREAD #DEN") == [f":irc.test MARKREAD #DEN timestamp={ts}"]
    other = await guest(door, "bob")  # another connection: markers of its own
    assert await other.send("MARKREAD #den") == [":irc.test MARKREAD #den *"]


async def test_a_nick_has_a_marker_too_and_a_time_to_come_counts_as_now(door: IrcDoor) -> None:
    alice = await guest(door)
    await guest(door, "Bob")
    assert await alice.send("MARKREAD bob timestamp=2099-01-01T00:00:00.000Z") == [
        ":irc.test MARKREAD Bob timestamp=2026-11-30T00:53:20.000Z"  # its name as it is now
    ]


async def test_the_marker_follows_the_clients_own_join_before_the_end_of_names(
    door: IrcDoor,
) -> None:
    alice = await guest(door)
    await alice.send("MARKREAD #den timestamp=2026-11-30T00:20:00.000Z")
    out = await alice.send("JOIN #den")
    assert out[0].endswith(" JOIN #den")
    assert out[1] == ":irc.test MARKREAD #den timestamp=2026-11-30T00:20:00.000Z"
    assert out[-1].split()[1] == "366"
    plain = await registered(door, "carol")  # without the capability: nothing
    assert not any("MARKREAD" in x for x in await plain.send("JOIN #den"))


@pytest.mark.parametrize(
    ("line", "fail"),
    [
        ("MARKREAD", "FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters"),
        ("MARKREAD #den *", "FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp"),
        (
            "MARKREAD #den timestamp=yesterday",
            "FAIL MARKREAD INVALID_PARAMS timestamp=yesterday :Invalid timestamp",
        ),
        ("MARKREAD #den 2026-11-30T00:20:00.000Z", "FAIL MARKREAD INVALID_PARAMS"),
        ("MARKREAD #a,b", "FAIL MARKREAD INVALID_PARAMS #a,b :Invalid target"),
        ("MARKREAD a!b", "FAIL MARKREAD INVALID_PARAMS a!b :Invalid target"),
    ],
)
async def test_refusals_are_fail_markread(door: IrcDoor, line: str, fail: str) -> None:
    alice = await guest(door)
    out = await alice.send(line)
    assert len(out) == 1 and out[0].startswith(f":irc.test {fail}")
