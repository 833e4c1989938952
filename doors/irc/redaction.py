"""REDACT (IRCv3 draft/message-redaction): a client takes back a message it sent, or
one of a channel it runs. The rules are the registry's (registry/redaction.py); here
the command is read and its refusals worded as the specification's `FAIL REDACT`
codes. Who hears it: the channel's members, or both sides of the private message,
that negotiated the capability (render.py words `REDACT` for them alone).
"""

from __future__ import annotations

from collections.abc import Awaitable

import registry as r
from doors.irc.client import REDACTION, IrcClient, IrcError
from doors.irc.message import Message, line
from registry.history import HistoryUnavailable

UNKNOWN = "This message does not exist or is too old"


def on_redact(s: IrcClient, msg: Message) -> Awaitable[None]:
    if REDACTION not in s.caps:  # the specification: only with the capability
        raise IrcError("421", "REDACT", "Unknown command")
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.params[2][: s.config.max_topic_chars] if len(msg.params) > 2 else ""
    return _redact(s, target, msgid, reason)


async def _redact(s: IrcClient, target: str, msgid: str, reason: str) -> None:
    member = s.require_member()
    labeled = s._labeled is not None  # the REDACT back is the labeled reply: sent here
    try:
        if target.startswith("#"):
            event = await s.rooms.redact(
                member, target[1:], msgid, reason, echo=not labeled, device=s.device
            )
        else:
            event = await s.rooms.redact_private(
                member, target, msgid, reason, echo=not labeled, device=s.device
            )
    except (r.NoSuchRoom, r.NotInRoom, r.NoSuchUser):
        _fail(s, "INVALID_TARGET", target, f"You cannot delete messages from {target}")
        return
    except r.NoSuchMessage:
        _fail(s, "UNKNOWN_MSGID", target, msgid, UNKNOWN)
        return
    except HistoryUnavailable as exc:
        _fail(s, "UNKNOWN_MSGID", target, msgid, f"{UNKNOWN}: {exc}")
        return
    except r.RedactForbidden:
        why = "You are not authorised to delete this message"
        _fail(s, "REDACT_FORBIDDEN", target, msgid, why)
        return
    if labeled:
        member.flush_rooms()  # what its rooms said before it first
        s.send(s.render.line(event))


def _fail(s: IrcClient, code: str, *params: str) -> None:
    s.send(line(s.door.name, "FAIL", "REDACT", code, *params))
