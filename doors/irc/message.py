"""IRC lines: parsing what a client sends, formatting what the server sends.

Pure functions of strings; no I/O. Tags follow the IRCv3 message-tags escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


@dataclass(frozen=True, slots=True)
class Message:
    command: str
    params: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""
    raw_tags: str = ""  # the tag section as sent, without its "@"


def parse(line: str) -> Message | None:
    """One line (no CRLF) as a Message, or None for a line with no command."""
    raw_tags = ""
    tags: dict[str, str] = {}
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = parse_tags(raw_tags)
        rest = rest.lstrip(" ")
    source = ""
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    words = [word for word in rest.split(" ") if word]  # RFC 1459: SPACE, only
    if trailing is not None:
        words.append(trailing)
    if not words:
        return None
    return Message(words[0].upper(), words[1:], tags, source, raw_tags)


def is_utf8(text: str) -> bool:
    """Whether text decoded with surrogateescape was valid UTF-8 (it has no escapes)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def repaired(text: str) -> str:
    """Text with each undecodable byte (an escape) as U+FFFD, so that it can go out."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def parse_tags(raw: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        tags[key] = unescape_tag(value)
    return tags


def unescape_tag(value: str) -> str:
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            i += 1
            if i < len(value):
                out.append(_UNESCAPES.get(value[i], value[i]))
        else:
            out.append(char)
        i += 1
    return "".join(out)


def escape_tag(value: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in value) if value else ""


def format_tags(tags: dict[str, str]) -> str:
    """`@a=1;b ` for non-empty tags, else ""."""
    if not tags:
        return ""
    items = (f"{k}={escape_tag(v)}" if v else k for k, v in tags.items())
    return "@" + ";".join(items) + " "


def line(source: str, command: str, *params: str) -> str:
    """`:source COMMAND p1 p2 :last`; the last parameter gets a colon when it needs one."""
    head = f":{source} {command}" if source else command
    if not params:
        return head
    *middle, last = params
    if not last or " " in last or last[0] == ":":
        last = ":" + last
    return " ".join((head, *middle, last))


def add_tags(text: str, tags: dict[str, str]) -> str:
    """A formatted line with more tags, merged into any it has."""
    if not tags:
        return text
    extra = format_tags(tags)
    if text.startswith("@"):
        return extra[:-1] + ";" + text[1:]
    return extra + text


def in_batch(text: str, ref: str) -> str:
    """Lines (CRLF between them) as members of batch `ref`: each gets its `batch` tag,
    but the lines inside a batch nested in it (which open with `@batch=`: the renders
    put that tag first) keep theirs; the nested batch's own BATCH lines get `ref`."""
    if "\r\n" not in text:
        return text if text.startswith("@batch=") else add_tags(text, {"batch": ref})
    return "\r\n".join(in_batch(part, ref) for part in text.split("\r\n"))


def client_tags(tags: dict[str, str]) -> str:
    """The client-only tags (`+name`) of a message, formatted for relaying ("" if none)."""
    relayed = {k: v for k, v in tags.items() if k.startswith("+")}
    return format_tags(relayed)[1:-1] if relayed else ""


def relayed_bytes(mask: str, command: str, target: str, text: str) -> int:
    """How long a client's message is as relayed to others, without tags and CRLF (RFC
    1459 allows 510 bytes): its command, target and text, the sender's mask before."""
    return len(line(mask, command, target, text).encode("utf-8", "surrogateescape"))
