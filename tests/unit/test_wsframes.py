"""A client's frames (net/wsframes.py): every frame form, split at every byte, and each
error's close code, against what the websockets package's own protocol does."""

from __future__ import annotations

import os
import random

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask

from net.wsframes import FrameReader, close_frame, frame, unmask

pytestmark = pytest.mark.timeout(30)

MAX = 70_000


def masked(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None,
           rsv: int = 0, masking: bool = True, length: int | None = None) -> bytes:  # fmt: skip
    """A client's frame, built byte by byte (websockets' own serializer refuses the
    broken ones)."""
    size = len(payload) if length is None else length
    head = bytes(((0x80 if fin else 0) | rsv << 4 | opcode,))
    bit = 0x80 if masking else 0
    if size < 126:
        head += bytes((bit | size,))
    elif size < 65536:
        head += bytes((bit | 126,)) + size.to_bytes(2, "big")
    else:
        head += bytes((bit | 127,)) + size.to_bytes(8, "big")
    if not masking:
        return head + payload
    mask = os.urandom(4) if mask is None else mask
    return head + mask + apply_mask(payload, mask)


def read(stream: bytes, max_size: int = MAX, step: int = 0) -> tuple[FrameReader, list[bytes]]:
    reader = FrameReader(max_size)
    got: list[bytes] = []
    if step:
        for i in range(0, len(stream), step):
            got += reader.feed(stream[i : i + step])
    else:
        got = reader.feed(stream)
    return reader, got


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 1000, 65535, 65536, 69_999])
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
@pytest.mark.parametrize("mask", [None, b"\x00\x00\x00\x00"])
def test_every_length_form_reads_back_as_websockets_serializes_it(
    size: int, opcode: Opcode, mask: bytes | None
) -> None:
    payload = (b"abcdefghij" * (size // 10 + 1))[:size]
    data = Frame(opcode, payload).serialize(mask=True) if mask is None else masked(
        opcode, payload, mask=mask
    )  # fmt: skip
    reader = FrameReader(MAX)
    assert reader.feed(data) == [payload]
    assert not reader.is_done and reader.replies == []


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 110, 8706])
def test_the_standard_library_xor_is_the_packages(size: int) -> None:
    data, mask = os.urandom(size), os.urandom(4)
    assert unmask(data, mask) == apply_mask(data, mask)


STREAM_PARTS = [
    masked(Opcode.TEXT, b"PRIVMSG #a :hi"),
    masked(Opcode.BINARY, b"x" * 300),  # a 16-bit length
    masked(Opcode.TEXT, b"PRIVMSG #a :caf", fin=False),
    masked(Opcode.PING, b"tick"),
    masked(Opcode.CONT, "é and more".encode()[:1], fin=False),  # é split between frames
    masked(Opcode.PONG, b"ignored"),
    masked(Opcode.CONT, "é and more".encode()[1:]),
    masked(Opcode.BINARY, b"x" * 66_000),  # a 64-bit length
    masked(Opcode.TEXT, b""),
]
STREAM = b"".join(STREAM_PARTS)
MESSAGES = [b"PRIVMSG #a :hi", b"x" * 300, "PRIVMSG #a :café and more".encode(), b"x" * 66_000, b""]


def test_a_fragmented_message_with_pings_between_is_one_message_and_pings_are_answered() -> None:
    reader, got = read(STREAM)
    assert got == MESSAGES
    assert reader.replies == [frame(Opcode.PING + 1, b"tick")]
    assert reader.replies[0] == Frame(Opcode.PONG, b"tick").serialize(mask=False)


def test_a_stream_split_at_every_byte_reads_the_same() -> None:
    head = b"".join(STREAM_PARTS[:7])  # the 64-bit frame alone would make this slow
    expected = MESSAGES[:3]
    for cut in range(len(head) + 1):
        reader = FrameReader(MAX)
        got = reader.feed(head[:cut]) + reader.feed(head[cut:])
        assert got == expected, cut
        assert len(reader.replies) == 1, cut


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_a_stream_fed_in_small_reads_reads_the_same(step: int) -> None:
    reader, got = read(STREAM, step=step)
    assert got == MESSAGES
    assert not reader.is_done


BAD = {
    "unmasked": (masked(Opcode.TEXT, b"hi", masking=False), 1002),
    "reserved bit": (masked(Opcode.TEXT, b"hi", rsv=4), 1002),
    "the last reserved bit": (masked(Opcode.TEXT, b"hi", rsv=1), 1002),
    "opcode 3": (masked(3, b"hi"), 1002),
    "opcode 11": (masked(11, b"hi"), 1002),
    "a long ping": (masked(Opcode.PING, b"p" * 126), 1002),
    "a fragmented ping": (masked(Opcode.PING, b"p", fin=False), 1002),
    "a lone continuation": (masked(Opcode.CONT, b"hi"), 1002),
    "text inside a message": (
        masked(Opcode.TEXT, b"a", fin=False) + masked(Opcode.TEXT, b"b"),
        1002,
    ),
    "a message too big": (masked(Opcode.BINARY, b"x" * (MAX + 1)), 1009),
    "fragments too big": (
        masked(Opcode.BINARY, b"x" * MAX, fin=False) + masked(Opcode.CONT, b"x"),
        1009,
    ),
    "text not UTF-8": (masked(Opcode.TEXT, b"caf\xe9"), 1007),
    "fragmented text not UTF-8": (
        masked(Opcode.TEXT, b"caf", fin=False) + masked(Opcode.CONT, b"\xe9"),
        1007,
    ),
    "a close of one byte": (masked(Opcode.CLOSE, b"\x03"), 1002),
    "a close code never sent": (masked(Opcode.CLOSE, (1005).to_bytes(2, "big")), 1002),
    "a close reason not UTF-8": (masked(Opcode.CLOSE, b"\x03\xe8\xff"), 1007),
}


def websockets_close_code(data: bytes) -> int | None:
    """The close code websockets' own server protocol fails `data` with."""
    protocol = ServerProtocol(state=State.OPEN, max_size=MAX)
    protocol.receive_data(data)
    sent = b"".join(protocol.data_to_send())
    if not sent:
        return None
    close = Close.parse(sent[2:])  # a server's frame: unmasked, short
    return close.code


@pytest.mark.parametrize("case", BAD)
def test_each_error_fails_with_its_close_code_as_websockets_does(case: str) -> None:
    data, code = BAD[case]
    reader = FrameReader(MAX)
    messages = reader.feed(masked(Opcode.TEXT, b"before") + data)
    assert messages == [b"before"]  # what came before the error is read
    assert reader.is_done and reader.error is not None
    assert reader.error[0] == code
    assert reader.feed(masked(Opcode.TEXT, b"after")) == []  # and nothing after it
    if case not in ("text not UTF-8", "fragmented text not UTF-8"):
        assert websockets_close_code(data) == code  # (its sans-I/O protocol checks no UTF-8)


def test_a_message_too_big_fails_on_its_header_before_its_payload() -> None:
    reader = FrameReader(8706)
    assert reader.feed(masked(Opcode.BINARY, b"", length=2**40)[:14]) == []
    assert reader.error == (1009, "message over 8706 bytes")


@pytest.mark.parametrize(
    "payload", [b"", (1000).to_bytes(2, "big"), (1001).to_bytes(2, "big") + "bye é".encode()]
)
def test_a_close_frame_ends_the_input_and_its_payload_is_kept_to_echo(payload: bytes) -> None:
    reader = FrameReader(MAX)
    got = reader.feed(
        masked(Opcode.TEXT, b"last") + masked(Opcode.CLOSE, payload) + masked(Opcode.TEXT, b"x")
    )
    assert got == [b"last"]
    assert reader.is_done and reader.close == payload and reader.error is None


def test_a_close_between_fragments_still_closes_cleanly() -> None:
    reader, got = read(masked(Opcode.TEXT, b"a", fin=False) + masked(Opcode.CLOSE, b""))
    assert got == [] and reader.close == b""


def test_the_servers_frames_are_websockets_own() -> None:
    for size in (0, 125, 126, 65535, 65536):
        payload = b"p" * size
        assert frame(Opcode.BINARY, payload) == Frame(Opcode.BINARY, payload).serialize(mask=False)
    assert close_frame(1002, "why") == Frame(
        Opcode.CLOSE, Close(1002, "why").serialize()
    ).serialize(mask=False)


def test_any_bytes_end_in_messages_or_a_close_code_never_an_exception() -> None:
    rng = random.Random(23)
    valid = STREAM_PARTS[:7]
    for _ in range(3000):
        data = b"".join(rng.choice(valid) for _ in range(rng.randrange(4)))
        if rng.random() < 0.7:  # a byte changed somewhere, or random bytes after
            data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
            spot = rng.randrange(len(data))
            data = data[:spot] + bytes((rng.randrange(256),)) + data[spot + 1 :]
        reader = FrameReader(200)
        cut = rng.randrange(len(data) + 1)
        reader.feed(data[:cut])
        reader.feed(data[cut:])
        assert reader.error is None or reader.error[0] in (1002, 1007, 1009)
