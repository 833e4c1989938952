"""Property-based tests: the text helpers, and the session core under any input at all.

The core runs without sockets: `Session` writes lines to a list and the registry fans
out at once (`defer=lambda f: f()`). Several sessions get generated lines and drops in
any order, their registry work interleaving as it would under the server, and after
every step the registry must still make sense.
"""

from __future__ import annotations

import asyncio
import itertools
import unicodedata
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config.settings import Config
from doors.text.session import RESERVED_NAMES, Session, State
from registry import Member
from rooms import RoomManager
from utils import (
    clean,
    name_key,
    name_problem,
    normalize_name,
    strip_telnet,
    strip_telnet_stream,
)

# --- The text helpers ---

ESCAPE_PIECES = st.sampled_from(
    ["\x1b", "[", "]", "P", "\\", "\x07", "\x9b", "\x9d", "\x9c", "\x90", "0", ";", "m", "?"]
)
HOSTILE_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(ESCAPE_PIECES, st.characters(max_codepoint=0x3000))).map("".join),
)


def is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


@settings(max_examples=500, deadline=None)
@given(HOSTILE_TEXT)
def test_clean_leaves_no_control_character_and_is_idempotent(text: str) -> None:
    cleaned = clean(text)
    assert not any(is_control(c) for c in cleaned), repr(cleaned)
    assert "\x1b" not in cleaned
    assert "\u2028" not in cleaned and "\u2029" not in cleaned
    assert clean(cleaned) == cleaned


@settings(max_examples=500, deadline=None)
@given(HOSTILE_TEXT)
def test_clean_of_a_crlf_line_is_the_clean_of_the_line(text: str) -> None:
    # nc and telnet end a line with CR LF; the connection cuts at LF, the CR is left
    assert clean(text + "\r") == clean(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"])))
def test_clean_keeps_printable_text_as_it_is(text: str) -> None:
    if text.isprintable():
        assert clean(text) == text


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_strip_telnet_only_ever_removes_bytes(raw: bytes) -> None:
    stripped = strip_telnet(raw)
    assert len(stripped) <= len(raw)
    if 0xFF not in raw:
        assert stripped == raw
    clean(stripped.decode("utf-8", "replace"))  # and whatever is left decodes


PLAIN_BYTES = st.binary(max_size=12).map(lambda b: b.replace(b"\xff", b""))
TELNET = st.one_of(
    st.builds(lambda verb, option: bytes((0xFF, verb, option)), st.integers(0xFB, 0xFE),
              st.integers(0, 0xFE)),
    st.builds(lambda body: b"\xff\xfa" + body + b"\xff\xf0", PLAIN_BYTES),
    st.integers(0xF1, 0xF9).map(lambda command: bytes((0xFF, command))),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.tuples(PLAIN_BYTES, st.just(True)), st.tuples(TELNET, st.just(False)))),
    st.lists(st.integers(0, 200), max_size=6),
)
def test_telnet_is_stripped_from_a_stream_however_it_is_cut_into_reads(
    segments: list[tuple[bytes, bool]], cuts: list[int]
) -> None:
    stream = b"".join(segment for segment, _ in segments)
    text = b"".join(segment for segment, is_text in segments if is_text)
    assert strip_telnet_stream(stream) == (text, b"")
    out, carry = bytearray(), b""
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    for start, end in itertools.pairwise(bounds):
        piece, carry = strip_telnet_stream(stream[start:end], carry)
        out += piece
    assert (bytes(out), carry) == (text, b""), "a sequence cut between reads leaked or ate text"


def test_an_escaped_255_survives_and_a_stray_255_eats_no_newline() -> None:
    assert strip_telnet_stream(b"a\xff\xffb") == (b"a\xffb", b"")
    assert strip_telnet_stream(b"caf\xff\nnext\n") == (b"caf\nnext\n", b"")
    assert strip_telnet_stream(b"x\xff") == (b"x", b"\xff")
    assert strip_telnet_stream(b"\xfa\x1f\x00", b"\xff") == (b"", b"\xff\xfa")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_name_forms_are_stable_and_valid_names_are_visible(text: str) -> None:
    name = normalize_name(text)
    assert normalize_name(name) == name
    assert name_key(name_key(name)) == name_key(name)
    if name_problem(name, 24) is None:
        assert 1 <= len(name) <= 24
        for char in name:
            assert unicodedata.category(char) not in ("Cc", "Cf", "Zs", "Zl", "Zp", "Cn"), (
                f"{name!r} holds {char!r}"
            )


# --- The session core under any sequence of lines and drops ---

NAMES = [
    "alice", "Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "bob", "Bob", "\uff42\uff4f\uff42",
    "stra\u00dfe", "STRASSE", "e\u0301", "\u00e9", "server", "SERVER", "*star", "al ice",
    "x" * 25, "a\u202eb", "a\ufe0f", "\x1b[31mred", "",
]  # fmt: skip
ROOMS = [
    "general", "General", "\uff47\uff45\uff4e\uff45\uff52\uff41\uff4c", "lobby", "LOBBY",
    "r1", "r2", "y" * 33, "two words", "",
]  # fmt: skip
PLAIN = [
    "1", "2", "3", "4", "5", "0", " 1 ", "exit", "EXIT", " exit ", "hello", "//slash",
    "/help", "/rooms", "/who", "/leave", "/quit", "/bogus", "/", "/me waves", "/me",
    "/msg", "/create", "/join", "/nick", "\x00", "\x1b]0;x\x07", "\ufffd", "\u202e", "\r",
    "a\tb", "\x9b2J", " ",
]  # fmt: skip
COMMON = [
    "alice", "Bob", "carol", "\uff24\uff21\uff36\uff25", "ALICE", "bob", "1", "2", "3",
    "general", "lobby", "/create general", "/create General", "/join general",
    "/join \uff47\uff45\uff4e\uff45\uff52\uff41\uff4c", "/create lobby", "/join LOBBY",
    "hi", "exit", "/leave", "/nick bob", "/nick erin", "/nick ALICE", "/msg alice hi",
    "/who", "/rooms",
]  # fmt: skip
OTHER_LINES = st.one_of(
    st.sampled_from(PLAIN + NAMES + ROOMS),
    st.builds("/create {}".format, st.sampled_from(ROOMS)),
    st.builds("/join {}".format, st.sampled_from(ROOMS)),
    st.builds("/nick {}".format, st.sampled_from(NAMES)),
    st.builds("/msg {} hi".format, st.sampled_from(NAMES)),
    st.text(max_size=8),
)
SESSIONS = 4
PASS = "<a pass of the event loop>"  # longer than any generated text
Step = tuple[int, str | None]  # (i, line): session i gets a line; (i, None): it drops


@st.composite
def steps(draw: st.DrawFn) -> Step:
    """Mostly a walk through the menu and rooms; sometimes junk, a drop or a loop pass."""
    who, roll = draw(st.integers(0, SESSIONS - 1)), draw(st.integers(0, 99))
    if roll < 6:
        return who, None
    if roll < 12:
        return who, PASS
    if roll < 70:
        return who, draw(st.sampled_from(COMMON))
    return who, draw(OTHER_LINES)


@dataclass
class Peer:
    """One connection of the core, as server.py drives it: a line at a time."""

    session: Session
    out: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    checked: int = 0  # lines of `out` already checked

    async def settle(self) -> None:
        if self.task is not None:
            task, self.task = self.task, None
            await task


def new_peer(rooms: RoomManager) -> Peer:
    out: list[str] = []
    peer = Peer(Session(rooms, Config(), out.append), out)
    peer.session.start()
    return peer


def check(rooms: RoomManager, peers: list[Peer]) -> None:
    """The registry's invariants, which must hold whenever the loop is between steps."""
    users, by_key = rooms.snapshot()
    live: dict[Member, Peer] = {p.session.member: p for p in peers if p.session.member}
    assert set(users.values()) == set(live), "the users are not the connected named sessions"
    for key, member in users.items():
        assert key == name_key(member.name), f"{member.name!r} filed under {key!r}"
        assert name_problem(member.name, 24) is None and key not in RESERVED_NAMES
    memberships: dict[Member, int] = {}
    for key, room in by_key.items():
        assert key == room.key == name_key(room.name)
        assert room.members, f"room {room.name} is empty"
        assert not room.pending, "published but not delivered"
        for member in room.members:
            assert member in live, f"{member.name} is in {room.name} but not connected"
            assert set(member.rooms) == {room}
            memberships[member] = memberships.get(member, 0) + 1
    assert all(n == 1 for n in memberships.values())
    for member in live:
        assert bool(member.rooms) == (member in memberships)
        assert all(by_key.get(room.key) is room for room in member.rooms)
    for peer in peers:
        s = peer.session
        assert s.member is not None or s.state in (State.NAME, State.CLOSED)
        if peer.task is None and s.state is not State.CLOSED:
            assert (s.state is State.IN_ROOM) == (s.member is not None and s.room is not None)
        for line in peer.out[peer.checked :]:
            assert not any(is_control(c) for c in line), f"{line!r} reached a terminal"
            assert line != "! Internal error."
        peer.checked = len(peer.out)


async def play(steps: list[Step]) -> None:
    rooms = RoomManager(defer=lambda flush: flush())
    peers = [new_peer(rooms) for _ in range(SESSIONS)]
    most_in_rooms = 0
    for i, action in steps:
        peer = peers[i]
        if action == PASS:
            await asyncio.sleep(0)  # other sessions' registry work moves on
        elif action is None or peer.session.state is State.CLOSED:
            await peer.settle()  # the server waits for the line in hand, then cleans up
            await peer.session.close("connection reset" if action is None else "")
            peers[i] = new_peer(rooms)  # and the user connects again
        else:
            await peer.settle()  # the server feeds the next line once the last is done
            pending = peer.session.feed_nowait(action)
            if pending is not None:
                peer.task = asyncio.get_running_loop().create_task(pending)
        check(rooms, peers)
        most_in_rooms = max(
            most_in_rooms, sum(len(r.members) for r in rooms.snapshot()[1].values())
        )
    event(f"at most {most_in_rooms} sessions in rooms at once")
    for peer in peers:
        await peer.settle()
    check(rooms, peers)
    for peer in peers:
        await peer.session.close()
    check(rooms, peers)
    assert rooms.snapshot() == ({}, {})


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(steps(), min_size=20, max_size=80))
def test_any_lines_and_drops_keep_the_registry_consistent(
    steps: list[Step],
) -> None:
    asyncio.run(play(steps))


def test_the_driver_sees_a_broken_registry() -> None:
    """The invariants are not vacuous: a member left behind by a dropped session fails them."""
    rooms = RoomManager(defer=lambda flush: flush())
    peer = new_peer(rooms)

    async def orphan() -> None:
        await peer.session.feed("alice")
        await peer.session.feed("/create r")
        peer.session.member = None  # forgotten by the session, still in the registry

    asyncio.run(orphan())
    try:
        check(rooms, [peer])
    except AssertionError:
        return
    raise AssertionError("check() accepted a registry with an orphaned member")
