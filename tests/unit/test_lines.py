"""The line splitter without a socket: bytes in, lines out (docs/protocol.md, Transport)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from net.lines import LineSplitter

LIMIT = 10
TOO_LONG = None  # what next_line() gives for a line over the limit


def taken(splitter: LineSplitter) -> list[bytes | None]:
    """Every line the splitter has to give, in order."""
    lines: list[bytes | None] = []
    while splitter.has_line:
        lines.append(splitter.next_line())
    return lines


def split(*reads: bytes, limit: int = LIMIT, telnet: bool = True) -> list[bytes | None]:
    """The lines of `reads` fed one by one, as a connection's reads would be."""
    splitter = LineSplitter(limit, strip_telnet=telnet)
    lines: list[bytes | None] = []
    for data in reads:
        splitter.feed(data)
        lines += taken(splitter)
    return lines


# --- Splitting ---


def test_lines_end_at_lf_and_keep_a_cr_for_the_session() -> None:
    assert split(b"one\ntwo\r\nthree\n") == [b"one", b"two\r", b"three"]


def test_nothing_is_given_before_the_newline() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"half")
    assert not splitter.has_line
    assert splitter.partial == b"half"
    splitter.feed(b" c\n")
    assert taken(splitter) == [b"half c"]
    assert splitter.partial == b""


def test_a_line_split_across_many_reads_arrives_whole() -> None:
    assert split(*(bytes([c]) for c in b"a line\nnext\n"), limit=100) == [b"a line", b"next"]


def test_an_empty_line_is_a_line() -> None:
    assert split(b"\n\r\nx\n") == [b"", b"\r", b"x"]


def test_lines_are_cut_only_when_taken_and_keep_their_order() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"a\nb\n")
    splitter.feed(b"c\nd")
    assert splitter.next_line() == b"a"
    splitter.feed(b"\ne\n")
    assert taken(splitter) == [b"b", b"c", b"d", b"e"]


def test_a_run_of_short_lines_costs_what_was_read_not_an_object_per_line() -> None:
    splitter = LineSplitter(LIMIT)
    flood = b"ab\n" * 100_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, len(flood), 64 * 1024):
            splitter.feed(flood[start : start + 64 * 1024])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1.5 * len(flood), f"{held} bytes held for {len(flood)} read"
    assert splitter.next_line() == b"ab"
    assert len(taken(splitter)) == 99_999


# --- The limit ---


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_line_of_exactly_the_limit_is_a_line(ending: bytes) -> None:
    assert split(b"x" * LIMIT + ending) == [b"x" * LIMIT + ending[:-1]]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_one_byte_over_the_limit_is_too_long_and_the_next_line_is_read(ending: bytes) -> None:
    assert split(b"x" * (LIMIT + 1) + ending + b"next\n") == [TOO_LONG, b"next"]


def test_only_one_cr_before_the_newline_is_free() -> None:
    line = b"x" * LIMIT + b"\r\r"
    assert split(line + b"\n") == [TOO_LONG]
    assert split(line + b"\n", limit=LIMIT + 1) == [line]


def test_a_partial_line_of_the_limit_and_a_cr_waits_for_its_newline() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"x" * LIMIT + b"\r")
    assert not splitter.has_line
    splitter.feed(b"\n")
    assert taken(splitter) == [b"x" * LIMIT + b"\r"]


def test_a_long_line_is_reported_once_before_its_newline_comes() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"x" * (LIMIT + 2))
    assert taken(splitter) == [TOO_LONG]
    for _ in range(1000):
        splitter.feed(b"y" * 4096)
        assert not splitter.has_line
        assert splitter.partial == b""
    splitter.feed(b"yyy\nafter\n")
    assert taken(splitter) == [b"after"]


def test_a_partial_line_is_never_held_past_the_limit() -> None:
    splitter = LineSplitter(LIMIT)
    for _ in range(LIMIT * 3):
        splitter.feed(b"z")
        assert len(splitter.partial) <= LIMIT + 1
    assert taken(splitter) == [TOO_LONG]


def test_the_discard_ends_at_the_newline_even_in_a_later_read() -> None:
    assert split(b"x" * 20, b"x" * 20, b"x\nok\npart", b"ial\n") == [TOO_LONG, b"ok", b"partial"]


def test_whole_lines_over_the_limit_in_one_read_are_each_too_long() -> None:
    long = b"x" * (LIMIT + 5) + b"\n"
    assert split(long + b"a\n" + long + b"b\n") == [TOO_LONG, b"a", TOO_LONG, b"b"]


# --- Telnet (text door) ---

IAC, SB, SE, WILL, DO = b"\xff", b"\xfa", b"\xf0", b"\xfb", b"\xfd"
NAWS = IAC + SB + b"\x1f\x00\x0a\x00\x18" + IAC + SE  # a window size: its 0x0a is no newline


def test_telnet_negotiation_is_removed_before_the_split() -> None:
    assert split(IAC + WILL + b"\x01hi" + NAWS + b" there\n", limit=100) == [b"hi there"]


def test_a_telnet_sequence_split_across_reads_is_removed_whole() -> None:
    stream = b"a" + IAC + DO + b"\x03b" + NAWS + b"c\n"
    for cut in range(1, len(stream)):
        assert split(stream[:cut], stream[cut:], limit=100) == [b"abc"], cut


def test_a_telnet_sequence_read_a_byte_at_a_time_is_removed() -> None:
    stream = NAWS + b"x" + IAC + IAC + b"y\n"
    assert split(*(bytes([c]) for c in stream), limit=100) == [b"x\xffy"]


def test_the_irc_door_keeps_byte_255() -> None:
    assert split(b"a" + IAC + WILL + b"\x01\n", telnet=False) == [b"a\xff\xfb\x01"]


# --- TLS sniffing ---

HELLO = b"\x16\x03\x01\x02\x00\x01"


def test_a_tls_client_hello_in_the_first_read_is_noticed_and_nothing_is_taken() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(HELLO + b"\n")
    assert splitter.is_tls_hello
    assert not splitter.has_line
    splitter.feed(b"more\n")
    assert not splitter.has_line


def test_a_0x16_byte_after_the_first_read_is_just_text() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"hi\n")
    splitter.feed(HELLO[:3] + b"\n")
    assert not splitter.is_tls_hello
    assert taken(splitter) == [b"hi", HELLO[:3]]


def test_without_sniffing_a_first_0x16_byte_is_just_text() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.sniff_tls = False  # under TLS: the handshake is over
    splitter.feed(HELLO[:3] + b"\n")
    assert not splitter.is_tls_hello
    assert taken(splitter) == [HELLO[:3]]


# --- The end of the input ---


def test_at_eof_a_last_line_without_its_newline_is_a_line() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"one\nlast")
    splitter.feed_eof()
    assert splitter.is_eof
    assert taken(splitter) == [b"one", b"last"]


def test_at_eof_with_no_partial_line_nothing_more_comes() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"one\n")
    splitter.feed_eof()
    assert taken(splitter) == [b"one"]


def test_at_eof_inside_a_discarded_line_nothing_more_comes() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed(b"x" * 50)
    splitter.feed_eof()
    assert taken(splitter) == [TOO_LONG]


def test_bytes_after_eof_are_ignored() -> None:
    splitter = LineSplitter(LIMIT)
    splitter.feed_eof()
    splitter.feed(b"late\n")
    assert not splitter.has_line


# --- The one-line read (is_one_line): what the connection feeds without the queue ---

piece = st.sampled_from([b"a", b"bb", b"\r", b"\n", b"\r\n", b"\xff", b"\xff\xfb\x01", b"\x16"])
chunk = st.lists(piece, max_size=14).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(before=st.lists(chunk, max_size=3), data=chunk.filter(bool), telnet=st.booleans())
def test_a_one_line_read_is_exactly_the_line_feed_would_give(
    before: list[bytes], data: bytes, telnet: bool
) -> None:
    """Whatever came before (a partial line, a long one, a telnet sequence cut off, the
    first read's TLS sniffing), is_one_line says yes only when feeding the read would
    give that one line and leave nothing behind."""
    splitter = LineSplitter(LIMIT, strip_telnet=telnet)
    for read in before:
        splitter.feed(read)
        taken(splitter)  # the connection takes what it can before the next read
    if splitter.is_one_line(data):
        splitter.feed(data)
        assert taken(splitter) == [data[:-1]]
        assert splitter.partial == b"" and not splitter.is_tls_hello


def test_a_lone_whole_line_is_one_line_and_nothing_else_is() -> None:
    def fresh(telnet: bool = True) -> LineSplitter:
        splitter = LineSplitter(LIMIT, strip_telnet=telnet)
        splitter.feed(b"x\n")  # the first read, TLS sniffed
        taken(splitter)
        return splitter

    assert fresh().is_one_line(b"hello\r\n") and fresh().is_one_line(b"a" * (LIMIT - 1) + b"\r\n")
    assert not LineSplitter(LIMIT).is_one_line(b"hi\n")  # the first read: sniffed for TLS
    assert not fresh().is_one_line(b"a" * (LIMIT + 1) + b"\n")  # over the limit
    assert not fresh().is_one_line(b"one\ntwo\n") and not fresh().is_one_line(b"half")
    assert not fresh().is_one_line(b"\xff\xfb\x01hi\n") and fresh(False).is_one_line(b"\xffhi\n")
    waiting = fresh()
    waiting.feed(b"par")
    assert not waiting.is_one_line(b"tial\n")
