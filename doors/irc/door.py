"""The IRC door's part in a connection: its session factory and its limits."""

from __future__ import annotations

from doors import services
from doors.door import Door, Link
from doors.irc.client import SASL_MECHANISMS
from doors.irc.message import line
from doors.irc.session import MAX_LINE_BYTES, MAX_TAG_BYTES, IrcDoor, IrcSession


def irc_door(door: IrcDoor, *, sts: bool = True) -> Door:
    """The door a listener serves: an `IrcSession` for each connection, on the shared
    `door` (its settings, its name, and the sts policy the listeners set, offered to
    its sessions unless `sts` is false: a browser's cannot follow it)."""
    config = door.config

    def session(conn: Link) -> IrcSession:
        return IrcSession(
            door, None, write=conn.write, host=conn.ip, peer=conn.peer, is_tls=conn.is_tls,
            pacing=conn, offers_sts=sts, link=conn,
        )  # fmt: skip

    return Door(
        "IRC",
        session,
        max_line_bytes=MAX_LINE_BYTES + MAX_TAG_BYTES + 1,
        refusal=lambda text: line("", "ERROR", text),
        errors="surrogateescape",
        strip_telnet=False,
        ping_interval_s=config.ping_interval_s,
        ping_timeout_s=config.ping_timeout_s,
        sendq_reason="SendQ exceeded",
        redact=_redact_secrets,
        redact_sent=_redact_sent,
    )


def _redact_secrets(raw: bytes) -> bytes:
    """A line as the debug log may show it: never the server password (nor an account's,
    which `PASS account:password` carries), an oper's, a SASL payload, nor the password
    of an account registration (a client's tags are dropped from such a line too)."""
    words = raw.split(b" ")
    while words and words[0][:1] in (b"@", b":"):  # tags, a source
        words = words[1:]
    verb = words[0].upper() if words else b""
    if verb == b"PASS":
        return b"PASS <password>"
    if verb == b"OPER":
        return b"OPER " + (words[1] if len(words) > 1 else b"") + b" <password>"
    if verb == b"AUTHENTICATE":
        said = words[1].rstrip(b"\r") if len(words) > 1 else b""
        if said.decode("utf-8", "replace").upper() in SASL_MECHANISMS:
            return b"AUTHENTICATE " + said  # a mechanism's name: no base64 chunk spells one
        return b"AUTHENTICATE <payload>"
    if verb in (b"REGISTER", b"VERIFY"):
        return verb + b" <redacted>"
    if verb in (b"NS", b"NICKSERV", b"CS", b"CHANSERV"):
        return verb + b" " + _to_service(b" ".join(words[1:]))
    if verb in (b"PRIVMSG", b"NOTICE") and len(words) > 2:
        targets = words[1].decode("utf-8", "replace").split(",")
        if any(services.service_name(target) for target in targets):
            return verb + b" " + words[1] + b" :" + _to_service(b" ".join(words[2:]))
    return raw


def _redact_sent(text: str) -> str:
    """A line to a client as the debug log may show it: never a SASL message from the
    server, whose SCRAM salt, rounds and signature would let whoever reads the log try
    passwords offline (only the `+` that asks for more is shown)."""
    words = text.split(" ")
    at = 0
    while at < len(words) and words[at][:1] in ("@", ":"):  # tags, a source
        at += 1
    if at + 1 < len(words) and words[at] == "AUTHENTICATE" and words[at + 1] != "+":
        return " ".join([*words[: at + 1], "<payload>"])
    return text


def _to_service(text: bytes) -> bytes:
    """A line's text to a service as the log may show it: never a password."""
    shown = services.redact(text.removeprefix(b":").decode("utf-8", "replace"))
    return shown.encode()
