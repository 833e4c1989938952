"""A sender's own batch on the WebSocket door (net/websocket.py's Framer): the room notes
how it cut the batch (registry/room.py's OWN_CUTS), and the framer cuts the shared
batch's frames the same way instead of framing the own batch again; the frames are
always those of framing what was written."""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import Event, Member, Room, Said
from registry.room import OWN_CUTS
from rooms import RoomManager
from tests.unit.test_fanout_devices import Later
from tests.unit.test_rooms import plain

pytestmark = pytest.mark.timeout(60)

# An IRC line's bytes: anything but a CRLF (so some of 126 bytes and more, some not UTF-8).
LINE = st.binary(max_size=200).filter(lambda line: b"\r\n" not in line) | st.sampled_from(
    [
        b"",
        b":a PRIVMSG #r :hi",
        b":b PRIVMSG #r :caf\xc3\xa9",
        b":c PRIVMSG #r :caf\xe9",
        b"x" * 125,
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(LINE, min_size=1, max_size=12),
    data=st.data(),
    binary=st.booleans(),
    framed_first=st.booleans(),
)
def test_the_cut_out_copy_equals_framing_the_remaining_lines(
    lines: list[bytes], data: st.DataObject, binary: bool, framed_first: bool
) -> None:
    from net.websocket import Framer, frame_lines

    dropped = data.draw(st.sets(st.integers(0, len(lines) - 1)))
    whole = b"".join(line + b"\r\n" for line in lines)
    starts = [0, *accumulate(len(line) + 2 for line in lines)]
    cut: list[int] = []
    for index in sorted(dropped):  # as the room cuts: adjacent lines one range
        if cut and cut[-1] == starts[index]:
            cut[-1] = starts[index + 1]
        else:
            cut += (starts[index], starts[index + 1])
    mine = b"".join([line + b"\r\n" for n, line in enumerate(lines) if n not in dropped])
    OWN_CUTS.clear()
    OWN_CUTS[id(mine)] = (mine, whole, cut)
    framer = Framer()
    if framed_first:  # another member got the shared batch first
        framer.frames(whole, binary)
    assert framer.frames(mine, binary) == frame_lines(mine, binary)
    assert framer.frames(whole, binary) == frame_lines(whole, binary)
    OWN_CUTS.clear()


Written = list[tuple[bytes, bytes]]  # (what the room wrote, its frames)


def irc(event: Event) -> bytes:
    return f"{plain(event)}\r\n".encode() if isinstance(event, Said) else b""


async def room_of_five() -> tuple[Room, list[Member], Later, dict[str, Written]]:
    """Five members in a room whose writes are framed by one Framer, as the door's
    connections' are; each write kept with its frames."""
    from net.websocket import Framer

    framer, later = Framer(), Later()
    rooms = RoomManager(clock=lambda: 0.0, defer=later)
    written: dict[str, Written] = {}

    def connection(name: str) -> Callable[[bytes], None]:
        written[name] = []
        return lambda data: written[name].append((data, framer.frames(data, False)))

    members = [await rooms.claim(f"n{n}", connection(f"n{n}"), irc) for n in range(5)]
    room = await rooms.create(members[0], "den")
    for m in members[1:]:
        await rooms.join(m, "den")
    later.run()
    for batches in written.values():
        batches.clear()
    return room, members, later, written


@pytest.mark.parametrize("long", [False, True])  # a frame header of 4 bytes: framed whole
@pytest.mark.parametrize("senders", [2, 4])
async def test_a_rooms_own_batches_are_noted_as_cut_and_framed_as_written(
    senders: int, long: bool
) -> None:
    from net.websocket import frame_lines

    room, members, later, written = await room_of_five()
    for turn in range(3):  # adjacent lines of one sender (one range), and interleaved ones
        for n in range(senders):
            room.say(members[n], f"line {turn} " + "x" * (long * turn * 60), echo=False)
            room.say(members[n], f"again {turn}", echo=False)
    later.run()
    ((whole, _),) = written["n4"]  # a member that did not send: the shared batch
    for n in range(5):
        ((data, framed),) = written[f"n{n}"]
        assert framed == frame_lines(data, False)
        if n < senders:
            mine, noted, cut = OWN_CUTS[id(data)]
            assert mine is data and noted is whole and len(cut) == 6
            kept = [
                whole[a:b] for a, b in zip([0, *cut[1::2]], [*cut[::2], len(whole)], strict=True)
            ]
            assert b"".join(kept) == data
            assert f"'n{n}'" not in data.decode()
        else:
            assert data is whole


async def test_one_senders_own_batch_is_noted_too() -> None:
    from net.websocket import frame_lines

    room, members, later, written = await room_of_five()
    room.say(members[1], "first")
    room.say(members[0], "mine", echo=False)
    room.say(members[2], "last")
    later.run()
    ((data, framed),) = written["n0"]
    assert framed == frame_lines(data, False) and b"mine" not in data
    mine, whole, cut = OWN_CUTS[id(data)]
    assert mine is data and whole is written["n1"][0][0]
    assert whole[: cut[0]] + whole[cut[1] :] == data
