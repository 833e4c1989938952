"""How the client shows server lines: sanitize, classify (docs/protocol.md's line kinds), style.

Pure functions of their arguments (`chatclient.conversation` follows where the user
is). No I/O, no terminal control beyond SGR colors, no asyncio here.
"""

from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass

# Escape sequences a terminal would act on: CSI, OSC/DCS/SOS/PM/APC strings and other
# ESC sequences, in 7-bit and 8-bit forms. Removed before anything else.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
# C0, DEL, C1, line/paragraph separators and bidi controls are dropped; tab is a space.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_DROP: dict[int, str | None] = {
    c: None for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *_BIDI)
}
_DROP[0x09] = " "

PROMPTS = frozenset(
    {
        "Enter the server password:",
        "Enter your username:",
        "Enter your choice:",
        "Enter new room name:",
        "Enter room name to join:",
    }
)
USERNAME_PROMPT = "Enter your username:"
PASSWORD_PROMPT = "Enter the server password:"
MENU_HEADING = "--- Chat Menu ---"


def is_prompt(line: str) -> bool:
    """Whether `line` (sanitized) is a server prompt: one of PROMPTS, or any other line
    ending in `:` that is no chat line, notice or error (docs/protocol.md: no other line
    ends in `:`), such as a later `Enter the password for NAME:`."""
    return line in PROMPTS or (line.endswith(":") and not line.startswith(("[", "* ", "! ")))


_SECRET_COMMANDS = {"/register": 1, "/password": 1, "/oper": 2}  # words kept: the rest hides
_SERVICES = ("nickserv", "chanserv")
_SERVICE_SECRETS = ("identify", "register", "passwd", "drop")


def without_secret(line: str) -> str | None:
    """A typed command with its password left out (`/register`, `/oper NAME`,
    `/msg NickServ IDENTIFY`), as the screen may echo it; None when it holds none."""
    words = line.split()
    if not words:
        return None
    keep = _SECRET_COMMANDS.get(words[0].casefold())
    to_service = len(words) > 3 and words[0].casefold() == "/msg"
    if to_service and words[1].casefold() in _SERVICES and words[2].casefold() in _SERVICE_SECRETS:
        keep = 3
    if keep is None or len(words) <= keep:
        return None
    return " ".join(words[:keep])


def is_password_prompt(line: str) -> bool:
    """Whether `line` is a prompt that asks for a password (its answer is a secret)."""
    return is_prompt(line) and "password" in line.casefold()


_STAMP = r"\[((?:\d{4}-\d\d-\d\d )?\d\d:\d\d)\] "  # a replayed line may carry its date
_FORMS = (
    ("chat", re.compile(_STAMP + r"<([^>\s]+)> ?(.*)\Z", re.S)),
    ("action", re.compile(_STAMP + r"\* (\S+) ?(.*)\Z", re.S)),
    ("private_in", re.compile(_STAMP + r"\*([^*\s]+)\* ?(.*)\Z", re.S)),
    ("private_out", re.compile(_STAMP + r"-> \*([^*\s]+)\* ?(.*)\Z", re.S)),
)

RESET = "\x1b[0m"
BOLD, DIM, ITALIC, REVERSE, RED, MAGENTA = "1", "2", "3", "7", "31", "35"
# Name colors: readable on dark and light backgrounds; red is kept for errors and
# magenta for private messages.
NAME_COLORS = ("32", "33", "36", "92", "93", "94", "96")
BELL = "\a"


class Kind(enum.Enum):
    """The kinds of line in docs/protocol.md's table, private split by direction."""

    CHAT = "chat"
    ACTION = "action"
    PRIVATE_IN = "private_in"
    PRIVATE_OUT = "private_out"
    NOTICE = "notice"
    ERROR = "error"
    PROMPT = "prompt"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Line:
    """One classified server line: `stamp` and `name` are set for timestamped kinds."""

    kind: Kind
    text: str
    stamp: str = ""
    name: str = ""


def sanitize(text: str) -> str:
    """`text` with every escape sequence and control character removed (tab: a space)."""
    if text.isprintable():
        return text
    return _ESCAPES.sub("", text).translate(_DROP)


def classify(line: str) -> Line:
    """Which kind of docs/protocol.md line `line` (already sanitized) is."""
    if line.startswith("["):
        for kind, form in _FORMS:
            match = form.match(line)
            if match:
                return Line(Kind(kind), match[3], match[1], match[2])
    if is_prompt(line):
        return Line(Kind.PROMPT, line)
    if line.startswith("* "):
        return Line(Kind.NOTICE, line)
    if line.startswith("! "):
        return Line(Kind.ERROR, line)
    return Line(Kind.OTHER, line)


def name_color(name: str) -> str:
    """A stable SGR color for `name`: CRC-32 of its casefolded form (not `hash()`)."""
    return NAME_COLORS[zlib.crc32(name.casefold().encode()) % len(NAME_COLORS)]


def is_me(name: str, me: str | None) -> bool:
    """Whether `name` is the user's own name, compared case-insensitively."""
    return me is not None and name.casefold() == me.casefold()


def _mention_pattern(me: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(me)}(?!\w)", re.IGNORECASE)


def mentions(text: str, me: str | None) -> bool:
    """Whether `text` names `me` as a whole word, whatever the case."""
    return bool(me) and _mention_pattern(me or "").search(text) is not None


def wants_attention(line: Line, me: str | None) -> bool:
    """Whether `line` should ring the bell: a private message to me, or a mention."""
    if line.kind is Kind.PRIVATE_IN:
        return not is_me(line.name, me)
    if line.kind in (Kind.CHAT, Kind.ACTION):
        return not is_me(line.name, me) and mentions(line.text, me)
    return False


def paint(text: str, *codes: str) -> str:
    """`text` wrapped in one SGR sequence and a reset; unchanged with no codes."""
    return f"\x1b[{';'.join(codes)}m{text}{RESET}" if codes and text else text


def _highlight_mentions(text: str, me: str | None, *base: str) -> str:
    if not me:
        return paint(text, *base)
    pieces, last = [], 0
    for match in _mention_pattern(me).finditer(text):
        pieces += [paint(text[last : match.start()], *base), paint(match[0], BOLD, REVERSE)]
        last = match.end()
    return "".join([*pieces, paint(text[last:], *base)])


def _style_stamped(line: Line, me: str | None) -> str:
    stamp = paint(f"[{line.stamp}]", DIM) + " "
    mine = is_me(line.name, me)
    color = name_color(line.name)
    if line.kind is Kind.CHAT:
        name = paint(f"<{line.name}>", color, BOLD) if mine else paint(f"<{line.name}>", color)
        text = paint(line.text, BOLD) if mine else _highlight_mentions(line.text, me)
        return f"{stamp}{name} {text}"
    if line.kind is Kind.ACTION:
        if mine:
            return f"{stamp}{paint(f'* {line.name} {line.text}', color, BOLD, ITALIC)}"
        text = _highlight_mentions(line.text, me, ITALIC)
        return f"{stamp}{paint('* ', ITALIC)}{paint(line.name, color, ITALIC)} {text}"
    if line.kind is Kind.PRIVATE_IN:
        return f"{stamp}{paint(f'*{line.name}*', MAGENTA, BOLD)} {paint(line.text, BOLD)}"
    return f"{stamp}{paint(f'-> *{line.name}*', MAGENTA)} {line.text}"


def style(line: Line, me: str | None, color: bool) -> str:
    """The text to show for `line`: SGR colors by kind when `color`, else the line as is."""
    if not color:
        return line.text if not line.stamp else _plain(line)
    if line.stamp:
        return _style_stamped(line, me)
    if line.kind is Kind.NOTICE:
        return paint(line.text, DIM)
    if line.kind is Kind.ERROR:
        return paint(line.text, RED)
    if line.kind is Kind.PROMPT or line.text.startswith("---"):
        return paint(line.text, BOLD)
    return line.text


def _plain(line: Line) -> str:
    forms = {
        Kind.CHAT: "[{s}] <{n}> {t}",
        Kind.ACTION: "[{s}] * {n} {t}",
        Kind.PRIVATE_IN: "[{s}] *{n}* {t}",
        Kind.PRIVATE_OUT: "[{s}] -> *{n}* {t}",
    }
    return forms[line.kind].format(s=line.stamp, n=line.name, t=line.text)


def render(raw: str, me: str | None, color: bool) -> tuple[str, bool]:
    """A raw server line (its CR LF already stripped) as (styled text, ring the bell?)."""
    line = classify(sanitize(raw))
    return style(line, me, color), wants_attention(line, me)
