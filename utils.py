"""Pure text helpers: telnet stripping, control-character hygiene, name rules.

No I/O and no asyncio here; every function is a pure function of its arguments.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import time
import unicodedata

# Escape sequences a terminal would act on (docs/protocol.md, Transport): CSI, OSC, DCS,
# SOS/PM/APC strings and two-byte ESC sequences, in their 7-bit and 8-bit forms.
_ESCAPE_START = re.compile("[\x1b\x90-\x9f]")  # where an escape sequence can begin
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit strings
)

# Characters dropped from everything a client sends: C0, DEL and C1 controls, the
# line and paragraph separators, and the bidirectional controls that reorder how a
# line is shown. A tab becomes a space.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_DROP: dict[int, str | None] = {
    c: None for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *_BIDI)
}
_DROP[0x09] = " "

# Default-ignorable characters that are not format (Cf) characters: marks and fillers
# that show as nothing, so "alice" plus one of them would pass for "alice".
_INVISIBLE = frozenset(
    (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x3164,
     *range(0xFE00, 0xFE10), 0xFFA0, *range(0xE0100, 0xE01F0))
)  # fmt: skip
# Cyrillic and Greek letters (and Latin's dotless i) that look like Latin letters, in
# lower case since name_key case-folds first: names that differ only by these look the
# same on screen, so they compare equal. Whole-script lookalikes ("alice" in Cyrillic)
# are caught here; names mixing the scripts are refused by name_problem.
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕһӏԁԛԝѵүοινκρυϲϳαı[]\\",
    "aeopcyxijshldqwvyoivkpucjai{}|",
)  # and IRC's rfc1459 case mapping: [ ] \ are the capitals of { } |
# Text names allowed "_", "-" and "."; IRC nicks commonly use []\\`^{|} too, so both
# doors allow all of them (a name must be reachable and typeable from either door).
_NAME_PUNCTUATION = frozenset("_-.[]\\`^{|}")
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
_MAX_MARKS_IN_A_ROW = 2

IAC, SB, SE = 0xFF, 0xFA, 0xF0
_WILL_WONT_DO_DONT = range(0xFB, 0xFF)


class UserError(Exception):
    """A mistake the user can fix; shown as one `! ...` line, nothing else changes."""


def strip_telnet(raw: bytes) -> bytes:
    """Remove telnet IAC negotiation from one line of bytes; IAC IAC is a literal 255."""
    if IAC not in raw:
        return raw
    return strip_telnet_stream(raw)[0]


def strip_telnet_stream(data: bytes, carry: bytes = b"") -> tuple[bytes, bytes]:
    """Remove telnet IAC negotiation from a stream read in pieces, before it is split
    into lines (a window size can hold a b"\\n"). Returns the bytes left and the carry:
    a sequence cut off at the end of `data`, to pass in with the next piece."""
    if not carry and IAC not in data:
        return data, b""
    raw = carry + data
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        j = raw.find(IAC, i)
        if j < 0:
            out += raw[i:]
            break
        out += raw[i:j]
        command = raw[j + 1] if j + 1 < n else None
        if command is None or (command in _WILL_WONT_DO_DONT and j + 2 >= n):
            return bytes(out), raw[j:]  # the rest of the sequence comes with the next piece
        if command == IAC:
            out.append(IAC)
            i = j + 2
        elif command in _WILL_WONT_DO_DONT:
            i = j + 3
        elif command == SB:
            end = raw.find(bytes((IAC, SE)), j + 2)
            if end < 0:  # still inside: carry the state, never what it holds
                return bytes(out), bytes((IAC, SB, IAC) if raw[-1] == IAC else (IAC, SB))
            i = end + 2
        else:  # a two-byte command; IAC before a byte that is no command is not telnet
            i = j + 2 if command >= SE else j + 1
    return bytes(out), b""


def has_direction_controls(text: str) -> bool:
    """Whether `text` holds a bidirectional control, which clean() would drop unseen."""
    return not text.isprintable() and any(ord(c) in _BIDI for c in text)


def clean(text: str) -> str:
    """Text safe to show on anyone's terminal: escape sequences and controls removed."""
    if text.isprintable():
        return text
    if text[-1:] == "\r" and text[:-1].isprintable():  # a CR LF line (nc, telnet)
        return text[:-1]
    if _ESCAPE_START.search(text) is not None:
        text = _ESCAPES.sub("", text)
    return text.translate(_DROP)


# IRC formatting: bold, italics, underline, strike, monospace, reverse, reset, and the
# colour codes with their digits (\x03 and the hex \x04 form).
_IRC_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def safe_text(text: str) -> str:
    """What an IRC user sent, fit for a text-door terminal: formatting codes (with
    their colour digits) and every other control or escape removed."""
    if text.isprintable():
        return text
    return clean(_IRC_FORMATTING.sub("", text))


def name_key(name: str) -> str:
    """The form names are compared in: NFKC, case-folded, NFKC again, lookalikes folded."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    key = folded.translate(_LOOKALIKES)
    return name if key == name else key  # a name that is its own key: no second copy kept


def loose_key(name: str) -> str:
    """`name_key` without accents: for suggesting the name someone meant."""
    decomposed = unicodedata.normalize("NFKD", name_key(name))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize_name(name: str) -> str:
    """The form a valid name is shown in (fullwidth and compatibility forms folded)."""
    # Strip again after NFKC: it turns some characters into a space and a mark ("\u00a8").
    return unicodedata.normalize("NFKC", name.strip()).strip()


def name_problem(name: str, max_chars: int) -> str | None:
    """Why `name` (already normalized) is not a valid user or room name, or None."""
    if not 1 <= len(name) <= max_chars:
        return f"must be 1 to {max_chars} characters"
    marks = 0
    scripts: set[str] = set()
    for i, char in enumerate(name):
        if ord(char) in _INVISIBLE:
            return "cannot contain spaces, invisible or direction-changing characters"
        category = unicodedata.category(char)
        if category[0] == "M":
            marks += 1
            if i == 0 or marks > _MAX_MARKS_IN_A_ROW:
                return "has misplaced combining marks"
            continue
        marks = 0
        if category in ("Cf", "Zs", "Zl", "Zp", "Cc"):
            return "cannot contain spaces, invisible or direction-changing characters"
        if category[0] == "L":
            script = unicodedata.name(char, "").split(" ", 1)[0]
            if script in _LOOKALIKE_SCRIPTS:
                scripts.add(script)
        elif category != "Nd" and char not in _NAME_PUNCTUATION:
            return "may only use letters, digits and _ - . [ ] \\ ` ^ { | }"
    if len(scripts) > 1:
        return "mixes Latin, Greek or Cyrillic letters"
    return None


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address, an IPv4-mapped IPv6 address as the IPv4 one it maps."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_loopback(ip: str) -> bool:
    address = _address(ip)
    return bool(address and address.is_loopback)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_in(ip: str, networks: tuple[Network, ...]) -> bool:
    """Whether the address is in one of the networks (an IPv4-mapped one as its IPv4)."""
    address = _address(ip)
    return address is not None and any(address in network for network in networks)


def canonical_ip(text: str) -> str | None:
    """An address as the server writes a peer's (`203.0.113.7`, `2001:db8::1`; an
    IPv4-mapped IPv6 address as its IPv4), or None if `text` is none."""
    address = _address(text)
    return str(address) if address is not None and "%" not in text else None


def address_group(ip: str) -> str:
    """What --max-per-ip counts as one address: an IPv4 address, or an IPv6 /64,
    which is one site's network (a host there may use any address in it)."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address else ip


def utc_ms(ms: int) -> str:
    """A time in ms since the epoch as IRCv3 server-time words it (UTC):
    `2026-12-01T10:20:30.123Z`. Read markers and `/replay since` count in ms."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def counted(count: int, noun: str, plural: str = "") -> str:
    """`1 user`, `2 users`: a count and its noun, for log lines (`plural` if not +s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def port_number(text: str, lowest: int = 0) -> int:
    """A TCP port from the command line (argparse type): `lowest` to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be {lowest} to 65535, not {port}")
    return port


def os_reason(exc: OSError) -> str:
    """An OS error's reason in a few words, for a one-line message."""
    if isinstance(exc, socket.gaierror):  # its errno is the resolver's, not the OS's
        return f"no such address ({(exc.strerror or str(exc)).lower()})"
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)
