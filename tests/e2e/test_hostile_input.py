"""Hostile input over real sockets: long lines, bad UTF-8, escape sequences, telnet, names.

Nothing a client sends may crash its session, grow the server's memory with the size of
what it sent, or reach another user's terminal as a control sequence (docs/protocol.md,
Transport). Names are compared after NFKC and case folding, and names and room names
refuse characters that would let one user pass for another by look.
"""

from __future__ import annotations

import asyncio
import re
import tracemalloc
import unicodedata

import pytest

from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, connection_of, in_room
from utils import name_key, name_problem, normalize_name

CHAT = re.compile(r"\[\d\d:\d\d\] <(?P<name>[^>]+)> (?P<text>.*)")
TOO_LONG = "! Line too long (limit 2048 bytes)."
MIB = 1 << 20

# Characters that show as nothing (or as nothing but a gap), so that "alice" + one of
# them looks exactly like "alice" (Unicode's Default_Ignorable_Code_Point and fillers).
INVISIBLE = {
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "combining grapheme joiner": "\u034f",
    "variation selector 16": "\ufe0f",
    "variation selector 1": "\ufe00",
    "hangul filler": "\u3164",
    "hangul jungseong filler": "\u1160",
    "hangul choseong filler": "\u115f",
    "halfwidth hangul filler": "\uffa0",
    "khmer vowel inherent aq": "\u17b4",
    "mongolian free variation selector": "\u180b",
    "tag latin small a": "\U000e0061",
}
BIDI = {
    "right-to-left override": "\u202e",
    "right-to-left isolate": "\u2067",
    "right-to-left mark": "\u200f",
}


async def chat_text(client: ChatClient) -> str:
    """The text of the next line, which must be a chat message."""
    line = await client.line()
    match = CHAT.fullmatch(line)
    assert match, f"not a chat line: {line!r}"
    return match["text"]


async def name_reply(client: ChatClient, raw: bytes) -> str:
    """Send `raw` at the name prompt; the first line the server answers with."""
    await client.expect("Enter your username:")
    await client.send_bytes(raw)
    return await client.line()


# --- Long lines ---


async def test_a_line_of_exactly_the_limit_is_accepted_with_either_line_ending(
    connect: Connect,
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    await alice.send_bytes(b"a" * 2048 + b"\n" + b"b" * 2048 + b"\r\n")
    assert await chat_text(alice) == "a" * 2048
    assert await chat_text(alice) == "b" * 2048


@pytest.mark.parametrize(
    "line",
    [
        b"a" * 2049 + b"\n",
        b"a" * 2049 + b"\r\n",
        b"a" * 4000 + b"\n",
        "\u00e9".encode() * 1025 + b"\n",
    ],
    ids=["one byte over, LF", "one byte over, CRLF", "far over", "over in bytes, not chars"],
)
async def test_a_line_over_the_limit_gets_an_error_and_the_next_line_is_read(
    connect: Connect, line: bytes
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    await alice.send_bytes(line + b"hello\n")
    assert await alice.line() == TOO_LONG
    assert await chat_text(alice) == "hello"


async def test_a_long_line_is_refused_before_its_newline_arrives(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    await alice.send_bytes(b"x" * 3000)
    assert await alice.line() == TOO_LONG
    await alice.send_bytes(b"y" * 3000 + b"\nafter\n")
    assert await chat_text(alice) == "after"


async def test_eight_mebibytes_without_a_newline_are_discarded_as_they_arrive(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    conn = connection_of(server, "alice")
    chunk = b"z" * (64 * 1024)
    tracemalloc.start()
    try:
        biggest = 0
        for _ in range(8 * MIB // len(chunk)):
            await alice.send_bytes(chunk)
            biggest = max(biggest, len(conn.lines.partial))
        await alice.send_bytes(b"\nhello\n")
        assert await alice.line() == TOO_LONG
        assert await chat_text(alice) == "hello"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert biggest <= 2049, "the server buffered the over-long line"
    assert len(conn.lines.partial) <= 2049
    assert peak < 2 * MIB, f"memory peaked at {peak} bytes while 8 MiB went by"


# --- Bytes that are not UTF-8 ---


async def test_bytes_that_are_not_utf8_become_replacement_characters(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    await alice.send_bytes(b"bad \xc3\x28 \x80 \xfe\xfe \xed\xa0\x80 end\n")
    assert await chat_text(alice) == "bad \ufffd( \ufffd \ufffd\ufffd \ufffd\ufffd\ufffd end"
    await alice.send("still fine")
    assert await chat_text(alice) == "still fine"


async def test_a_character_split_across_two_reads_arrives_whole(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    conn = connection_of(server, "alice")
    euro = "\u20ac".encode()
    await alice.send_bytes(b"price " + euro[:1])
    async with asyncio.timeout(5):  # the server has read the first half on its own
        while not conn.lines.partial.endswith(euro[:1]):
            await asyncio.sleep(0.001)
    await alice.send_bytes(euro[1:] + b"5\n")
    assert await chat_text(alice) == "price \u20ac5"


async def test_a_name_that_is_not_utf8_is_refused_not_crashed(connect: Connect) -> None:
    client = await connect()
    reply = await name_reply(client, b"al\xc3ice\n")
    assert reply.startswith('! Invalid name "al\ufffdice"')
    assert await client.line() == "Enter your username:"


# --- Escape sequences and control characters ---

HOSTILE_TEXT = {
    "clear screen": (b"hi \x1b[2J\x1b[Hthere", "hi there"),
    "window title": (b"a\x1b]0;pwned\x07b\x1b]2;x\x1b\\c", "abc"),
    "alternate screen": (b"q\x1b[?1049hr", "qr"),
    "charset switch": (b"e\x1b(0f", "ef"),
    "8-bit CSI": ("x\u009b31my".encode(), "xy"),
    "8-bit OSC and NEL": ("x\u0085y\u009dosc\u009cz".encode(), "xyz"),
    "DCS string": (b"x\x1bPdcs\x1b\\y", "xy"),
    "NUL, DEL, BS, BEL": (b"a\x00b\x7fc\x08d\x07e", "abcde"),
    "bare carriage return": (b"real\rfake", "realfake"),
    "vertical tab and form feed": (b"v\x0bw\x0cx", "vwx"),
    "tab": (b"tab\there", "tab here"),
    "bidirectional override": ("a\u202eb\u2066c\u200fd".encode(), "abcd"),
    "line separator": ("one\u2028two\u2029three".encode(), "onetwothree"),
}


@pytest.mark.parametrize("raw,shown", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
async def test_control_sequences_in_chat_never_reach_another_users_terminal(
    connect: Connect, raw: bytes, shown: str
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await in_room(connect, "bob", "r")
    await alice.expect("* bob has joined r")
    await bob.send_bytes(raw + b"\n")
    assert await chat_text(alice) == shown


def assert_terminal_safe(line: str) -> None:
    """No control character or escape introducer survives in a line the server sent."""
    bad = [c for c in line if unicodedata.category(c) == "Cc" or c in "\u2028\u2029"]
    assert not bad, f"control characters {bad!r} reached a terminal in {line!r}"


async def test_every_path_to_another_terminal_is_cleaned(connect: Connect) -> None:
    esc = "\x1b[31m\x1b]0;t\x07\u009b2J\x00\x7f"
    alice = await in_room(connect, "alice", "lobby", create=True)
    mallory = await connect()
    await mallory.expect("Enter your username:")
    await mallory.send(f"mal{esc}lory")
    await mallory.expect("Enter your choice:")
    await mallory.send(f"/create ev{esc}il")
    await mallory.expect("Joined room [evil]. Type 'exit' to leave, /help for commands.")
    await alice.send("/rooms")
    seen = await alice.expect("lobby (1 user)")
    await mallory.send(
        f"/join lob{esc}by",
        f"chat {esc}text",
        f"/me act{esc}s",
        f"/msg alice whi{esc}sper",
        f"/nick mal{esc}lory2",
    )
    seen += await alice.expect("* mallory is now known as mallory2")
    await alice.send("/who")
    seen += await alice.expect(re.compile(r"\* Users in lobby: .*"))
    for line in seen:
        assert_terminal_safe(line)
    assert "evil (1 user)" in seen
    assert "* mallory has joined lobby" in seen
    assert any(CHAT.fullmatch(line) and line.endswith("<mallory> chat text") for line in seen)
    assert any(line.endswith("] * mallory acts") for line in seen)
    assert any(line.endswith("] *mallory* whisper") for line in seen)
    assert seen[-1] == "* Users in lobby: @alice, mallory2"
    for line in mallory.seen:
        assert_terminal_safe(line)


async def test_telnet_negotiation_is_stripped_and_never_answered(connect: Connect) -> None:
    client = await connect()
    await client.expect("Enter your username:")
    negotiation = (
        b"\xff\xfb\x01"  # IAC WILL ECHO
        b"\xff\xfd\x03"  # IAC DO SUPPRESS-GO-AHEAD
        b"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0"  # IAC SB NAWS 80x24 IAC SE
        b"\xff\xf1"  # IAC NOP
    )
    await client.send_bytes(negotiation)
    await client.send_bytes(b"ali" + negotiation + b"ce\r\n")
    raw = await asyncio.wait_for(client.reader.readuntil(b"Enter your choice:\r\n"), 5)
    assert b"\xff" not in raw, "the server answered telnet negotiation"
    assert raw.startswith(b"* Hello, alice!\r\n")
    await client.send("/create r")
    await client.expect(re.compile(r"\* Users in r: @alice"))
    await client.send_bytes(b"hi\xff\xf4\xff\xfd\x18 there\xff\xfa\x18\x01\xff\xf0\n")
    assert await chat_text(client) == "hi there"


NAWS = {  # IAC SB NAWS width height IAC SE, as telnet sends it on connect and resize
    "266 columns": b"\xff\xfa\x1f\x01\x0a\x00\x18\xff\xf0",
    "10 rows": b"\xff\xfa\x1f\x00\x50\x00\x0a\xff\xf0",
    "13 rows": b"\xff\xfa\x1f\x00\x50\x00\x0d\xff\xf0",
}


@pytest.mark.parametrize("naws", NAWS.values(), ids=NAWS.keys())
async def test_a_telnet_window_size_holding_a_newline_byte_is_not_read_as_a_line(
    connect: Connect, naws: bytes
) -> None:
    client = await connect()
    await client.expect("Enter your username:")
    await client.send_bytes(naws)
    await client.send_bytes(b"alice\r\n")
    assert await client.line() == "* Hello, alice!"
    await client.expect("Enter your choice:")
    await client.send_bytes(naws)  # the window is resized at the menu
    await client.send_bytes(b"3\r\n")
    assert await client.line() == "* No rooms yet. Create one with 1 or /create NAME."


async def test_an_escaped_telnet_255_is_a_byte_not_a_command(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    await alice.send_bytes(b"a\xff\xffb\n")
    assert await chat_text(alice) == "a\ufffdb"


# --- Names: one name however it is written; nobody passes for another by look ---


@pytest.mark.parametrize("variant", ["alice", "ALICE", "Alice", "\uff41\uff4c\uff49\uff43\uff45"])
async def test_a_name_is_the_same_name_in_any_case_or_width(connect: Connect, variant: str) -> None:
    await connect("Alice")
    client = await connect()
    reply = await name_reply(client, variant.encode() + b"\n")
    assert reply == f'! The name "{normalize_name(variant)}" is taken.'


async def test_fullwidth_and_case_variants_reach_the_same_user_and_room(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "General", create=True)
    bob = await connect("bob")
    await bob.send("/join \uff47\uff45\uff4e\uff45\uff52\uff41\uff4c")
    await bob.expect("Joined room [General]. Type 'exit' to leave, /help for commands.")
    assert await bob.line() == "* Users in General: @alice, bob"
    await alice.expect("* bob has joined General")
    await bob.send("/msg \uff21\uff2c\uff29\uff23\uff25 psst")
    assert (await alice.line()).endswith("] *bob* psst")
    assert (await bob.line()).endswith("] -> *alice* psst")
    await bob.send("/nick \uff21lice")
    assert await bob.line() == '! The name "Alice" is taken.'
    await bob.send("/create GENERAL")
    assert await bob.line() == '! Room "General" already exists.'


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_name_with_an_invisible_character_is_invalid(char: str) -> None:
    for name in (f"alice{char}", f"ali{char}ce"):
        assert name_problem(normalize_name(name), 24) is not None, f"{name!r} was accepted"


@pytest.mark.parametrize("char", ["\ufe0f", "\u3164", "\u034f", "\u200b"], ids=repr)
async def test_nobody_can_log_in_as_a_lookalike_with_an_invisible_character(
    connect: Connect, server: ChatServer, char: str
) -> None:
    await connect("alice")
    client = await connect()
    reply = await name_reply(client, f"alice{char}".encode() + b"\n")
    assert reply.startswith("! "), f"a lookalike of alice logged in: {reply!r}"
    assert len(server.rooms.snapshot()[0]) == 1


@pytest.mark.parametrize("char", ["\ufe0f", "\u3164", "\u200b"], ids=repr)
async def test_a_room_name_with_an_invisible_character_is_refused(
    connect: Connect, server: ChatServer, char: str
) -> None:
    alice = await in_room(connect, "alice", "lobby", create=True)
    await alice.send(f"/create lobby{char}")
    assert (await alice.line()).startswith('! Invalid room name "lobby')
    assert list(server.rooms.snapshot()[1]) == ["lobby"]


@pytest.mark.parametrize("char", BIDI.values(), ids=BIDI.keys())
async def test_a_name_with_a_direction_control_is_refused(connect: Connect, char: str) -> None:
    client = await connect()
    reply = await name_reply(client, f"ecil{char}a".encode() + b"\n")
    assert reply.startswith('! Invalid name "'), f"accepted: {reply!r}"
    assert await client.line() == "Enter your username:"


@pytest.mark.parametrize("char", BIDI.values(), ids=BIDI.keys())
async def test_no_registered_name_or_room_holds_a_direction_control(
    connect: Connect, server: ChatServer, char: str
) -> None:
    client = await connect()
    await client.expect("Enter your username:")
    await client.send(f"mal{char}lory", "mallory", f"/create ro{char}om", "/create room")
    await client.expect(re.compile(r"Joined room \[.*"))
    users, rooms = server.rooms.snapshot()
    for name in [*(m.name for m in users.values()), *(r.name for r in rooms.values())]:
        assert char not in name


def test_names_compare_equal_after_nfkc_and_case_folding() -> None:
    same = ["Alice", "alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\uff21lice"]
    assert {name_key(normalize_name(n)) for n in same} == {"alice"}
    assert name_key("Stra\u00dfe") == name_key("STRASSE")
    assert name_key("\ufb01sh") == name_key("FISH")
    assert name_key("bob") != name_key("alice")


@pytest.mark.parametrize(
    "lookalike",
    ["\u0430\u04cf\u0456\u0441\u0435", "\u0410\u04c0\u0406\u0421\u0415", "al\u0131ce"],
    ids=["cyrillic", "cyrillic capitals", "dotless i"],
)
async def test_a_whole_name_in_lookalike_letters_is_taken_by_the_latin_one(
    connect: Connect, lookalike: str
) -> None:
    await connect("alice")
    client = await connect()
    await client.expect("Enter your username:")
    await client.send(lookalike)
    assert await client.line() == f'! The name "{lookalike}" is taken.'


async def test_greek_and_cyrillic_names_that_look_like_nothing_latin_are_welcome(
    connect: Connect,
) -> None:
    for name in (
        "\u0421\u0435\u0440\u0433\u0435\u0439",
        "\u0394\u03b7\u03bc\u03ae\u03c4\u03c1\u03b7\u03c2",
    ):
        client = await connect()
        await client.expect("Enter your username:")
        await client.send(name)
        assert await client.line() == f"* Hello, {name}!"
