"""IRCv3 draft/multiline on the IRC door (docs/irc.md, "Multiline messages"): a client's
`BATCH +REF draft/multiline TARGET`, then its PRIVMSG (or NOTICE) lines tagged
`batch=REF` (and `draft/multiline-concat` on a piece of a long line), then `BATCH -REF`,
gathered into one message: the registry's `Multiline`, one msgid, kept in history as one.
It goes to a channel or a user as channels.py sends a line, worded by each recipient's
render: as one batch, or line by line.

The limits are the server's (Config.max_multiline_bytes and max_multiline_lines, offered
in the capability's value). A batch over one, or malformed, is refused whole with
`FAIL BATCH <code>`, and the rest of its lines are ignored. While a batch is open its
lines are not paced one by one: the connection counts them, and charges them all when
the batch ends, so the message arrives whole and the wait comes after it.
"""

from __future__ import annotations

import re

import registry as r
from doors import services
from doors.irc.channels import post, speaking_room, tell
from doors.irc.client import BOT_MODE, MULTILINE, Draft, IrcClient, IrcError
from doors.irc.message import Message, client_tags, line
from utils import name_key

CONCAT = "draft/multiline-concat"
_REF = re.compile(r"[A-Za-z0-9-]+")  # IRCv3 batch: a reference tag's characters
_MEANWHILE = frozenset({"BATCH", "PING", "PONG"})  # not part of a batch, yet no harm to it


def on_batch(s: IrcClient, msg: Message) -> None:
    """BATCH +REF draft/multiline TARGET opens a message; BATCH -REF sends it."""
    sign, ref = msg.params[0][:1], msg.params[0][1:]
    if sign == "+":
        _open(s, ref, msg)
    elif sign == "-":
        _close(s, ref)
    else:
        _fail(s, None, "INVALID_PARAMS", msg.params[0], "Invalid batch reference")


def absorbed(s: IrcClient, msg: Message) -> bool:
    """Whether a line was a multiline batch's: taken into the open one, or refused (a
    FAIL) or ignored (a batch refused already); False: the session handles it as usual.
    A line that is no batch's ends the open batch, refused: a client must not send
    anything else while one is open (IRCv3 client-batch), PING and PONG aside."""
    ref, draft = msg.tags.get("batch"), s.draft
    is_open = draft is not None and draft.is_open
    if ref is None:
        if is_open and msg.command not in _MEANWHILE:
            refuse(s, "MULTILINE_INVALID", "Only the batch's lines may come while it is open")
        return False
    if draft is None or ref != draft.ref:
        if is_open:
            refuse(s, "MULTILINE_INVALID", "Incorrect batch tag sent")
        else:
            _fail(s, None, "MULTILINE_INVALID", "No such batch is open")
    elif is_open:
        _take(s, draft, msg)
    return True  # (a line of a refused batch: ignored)


def refuse(s: IrcClient, code: str, *params: str) -> None:
    """Refuse the open batch: `FAIL BATCH code params...`; its lines are ignored from now."""
    draft = s.draft
    if draft is None or not draft.is_open:
        return
    draft.is_open = False
    _settle(s)
    _fail(s, draft.label, code, *params)


def _open(s: IrcClient, ref: str, msg: Message) -> None:
    if s.draft is not None and s.draft.is_open:
        refuse(s, "MULTILINE_INVALID", "A multiline batch is open already")
        s.draft = Draft(ref, is_open=False)
        return
    if not _REF.fullmatch(ref):
        _fail(s, None, "INVALID_PARAMS", msg.params[0], "Invalid batch reference")
        return
    s.draft = Draft(ref, is_open=False)  # until it is found good: its lines are ignored
    kind = msg.params[1] if len(msg.params) > 1 else ""
    if kind != MULTILINE:
        _fail(s, None, "INVALID_PARAMS", kind or "*", "Unknown batch type")
        return
    target = msg.params[2] if len(msg.params) > 2 else ""
    if not target or "," in target or target[0] in "@+" or services.service_name(target):
        _fail(s, None, "MULTILINE_INVALID", "A multiline message goes to one channel or user")
        return
    tags = client_tags(msg.tags) if "message-tags" in s.caps else ""  # on the BATCH line
    s.draft = Draft(ref, target, s.hold_label(msg), tags)
    s.chat_rooms.clear()  # no line of the batch's time skips the checks
    if s.pacing is not None:
        s.pacing.defer_pacing(s.config.max_multiline_lines + 1)  # its lines, its end


def _take(s: IrcClient, draft: Draft, msg: Message) -> None:
    """One line of the open batch, checked as it comes: the limits are hit at once."""
    if msg.command not in ("PRIVMSG", "NOTICE") or draft.command not in ("", msg.command):
        refuse(s, "MULTILINE_INVALID", "A multiline batch holds PRIVMSG lines or NOTICE lines")
        return
    if len(msg.params) < 2:
        refuse(s, "MULTILINE_INVALID", "A line of the batch has no text")
        return
    target, text = msg.params[0], msg.params[1]
    if name_key(target) != name_key(draft.target):
        refuse(s, "MULTILINE_INVALID_TARGET", draft.target, target, "Invalid multiline target")
        return
    concat = CONCAT in msg.tags and bool(draft.lines)
    if concat and not text:
        refuse(s, "MULTILINE_INVALID", "A blank line cannot continue the line before it")
        return
    draft.command = msg.command
    if concat:
        draft.concat.append(len(draft.lines))
    draft.size += len(text.encode()) + (1 if draft.lines and not concat else 0)
    draft.lines.append(text)
    config = s.config
    if draft.size > config.max_multiline_bytes:
        limit = str(config.max_multiline_bytes)
        refuse(s, "MULTILINE_MAX_BYTES", limit, f"Multiline batch max-bytes ({limit}) exceeded")
    elif len(draft.lines) > config.max_multiline_lines:
        limit = str(config.max_multiline_lines)
        refuse(s, "MULTILINE_MAX_LINES", limit, f"Multiline batch max-lines ({limit}) exceeded")


def _close(s: IrcClient, ref: str) -> None:
    draft = s.draft
    if draft is None or ref != draft.ref:
        if draft is not None and draft.is_open:
            refuse(s, "MULTILINE_INVALID", "Incorrect batch tag sent")
        else:
            _fail(s, None, "MULTILINE_INVALID", "No such batch is open")
        return
    if not draft.is_open:
        s.draft = None  # refused already; its lines are over
        return
    if not any(draft.lines):
        refuse(s, "MULTILINE_INVALID", "A multiline message needs a line that is not blank")
        return
    s.draft = None
    _settle(s)
    label = draft.label
    if label is not None:
        s.start_label()
    try:
        _deliver(s, draft)
    except IrcError as exc:
        if draft.command != "NOTICE":  # RFC 2812 3.3.2: no error reply to a NOTICE
            s.numeric(exc.code, *exc.params)
    if label is not None:
        s.end_label(label)


def _deliver(s: IrcClient, draft: Draft) -> None:
    """The gathered message to its channel or user, as one `Multiline`."""
    member = s.require_member()
    kind = "notice" if draft.command == "NOTICE" else "msg"
    tags = draft.tags
    if BOT_MODE in member.modes:  # IRCv3 bot-mode: a server tag, never forged
        tags = f"bot;{tags}" if tags else "bot"
    member.spoke = ts = s.rooms.clock()
    text, concat = "\n".join(draft.lines), tuple(draft.concat)
    name, mask, account = member.name, member.mask, member.account
    if draft.target.startswith("#"):
        room = speaking_room(s, draft.target)
        event = r.Multiline(
            name, text, ts, room.name, mask, s.rooms.new_id(), tags, account,
            kind=kind, concat=concat,
        )  # fmt: skip
        post(s, room, event)
        return
    peer = s.rooms.find(draft.target)
    if peer is None:
        raise IrcError("401", draft.target, "No such nick/channel")
    event = r.Multiline(
        name, text, ts, "", mask, s.rooms.new_id(), tags, account,
        target=peer.name, kind=kind, concat=concat,
    )  # fmt: skip
    tell(s, peer, event, kind)


def _settle(s: IrcClient) -> None:
    """The open batch is over: its lines are charged to flood control at once."""
    if s.pacing is not None:
        s.pacing.charge_deferred()


def _fail(s: IrcClient, label: str | None, code: str, *params: str) -> None:
    """`FAIL BATCH code params...`, answering the opening BATCH's label if it had one."""
    if label is not None:
        s.start_label()
    s.send(line(s.door.name, "FAIL", "BATCH", code, *params))
    if label is not None:
        s.end_label(label)
