"""Taking a message back (IRCv3 draft/message-redaction): where it is found, who may
take it back, and what goes with it. The registry's part: RoomManager's verbs
(rooms.py: redact, redact_private, private_redacted) are these; the doors word what
they return.

The rules, written once:
- A message can be taken back while history keeps it: a room's chat line, action or
  multiline message (in the room's replay ring, else in the store), a private message
  between two accounts (the store) or with a guest (the account side's session,
  `Member.private`). Nothing else is known: a notice, a TAGMSG, a CTCP, a topic, a
  message gone from history (expired, or history off): NoSuchMessage.
- Its sender may take it back: a message sent from an account by whoever is logged in
  to that account now (any connection, any name); a guest's by the same user, under
  the name it said it with (`Member.named`: not a later holder of the name). In a
  room, its operators (and a server operator in it) may take back anyone's message;
  in private, only the sender.
- Taken back, it leaves the replay ring, the store (History.redact, redact_private:
  the copy waiting for an offline account too) and the sessions; the room, or both
  sides of the conversation, hear Redacted (each door words it); the other servers of
  a cluster take it out of their rings (RoomManager.apply).
Nothing here words a line, knows a door, or logs a message's text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from registry.accounts import Accounts
from registry.errors import NoSuchMessage, NoSuchRoom, NoSuchUser, NotInRoom, RedactForbidden
from registry.events import Acted, Multiline, Redacted, Said, Whispered
from registry.history import History, Kept, Query, Ref, pair_key
from registry.room import Device, Member, Room
from utils import name_key

log = logging.getLogger(__name__)

Taken = Said | Acted | Multiline  # what a room's history keeps that may be taken back


class Registry(Protocol):
    """What of the registry (RoomManager) redaction uses."""

    accounts: Accounts
    history: History
    clock: Callable[[], float]
    new_id: Callable[[], str]

    def room(self, name: str) -> Room | None: ...
    def find(self, name: str) -> Member | None: ...
    def runs(self, member: Member, room: Room) -> bool: ...
    def history_since(self) -> float: ...


def is_author(member: Member, name: str, account: str, ts: float) -> bool:
    """Whether the member sent a message said by `name` (logged in to `account`, ""
    none) at `ts`: by its account, or, a guest's, under its present name since it took
    it."""
    if account:
        return bool(member.account) and name_key(member.account) == name_key(account)
    return name_key(member.name) == name_key(name) and ts >= member.named


def forget_line(room: Room, msgid: str) -> bool:
    """Take a line out of the room's replay ring; whether it was there."""
    for kept in room.recent:
        if kept.msgid == msgid:
            room.recent.remove(kept)
            return True
    return False


def _taken(kept: Kept | None) -> Taken | None:
    """The line, if it is a message that may be taken back (not a topic change)."""
    if type(kept) is Said or type(kept) is Acted:
        return kept
    if type(kept) is Multiline and kept.kind == "msg":
        return kept
    return None


def _forget_in_session(member: Member, msgid: str) -> None:
    if member.private is not None:
        for event in member.private:
            if event.msgid == msgid:
                member.private.remove(event)
                return


def _is_ref(msgid: str) -> bool:
    """Whether a store can hold a message with this id (ids are numbers)."""
    return msgid.isascii() and msgid.isdigit() and len(msgid) < 20


class Redactions:
    """The rules above, over the registry's rooms, users and store."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def in_room(
        self, member: Member, room_name: str, msgid: str, reason: str, skip: Member | Device | None
    ) -> Redacted:
        """Take back the message `msgid` of a room the member is in; the room hears it
        (but `skip`). NoSuchRoom, NotInRoom, NoSuchMessage, RedactForbidden;
        HistoryUnavailable from the store."""
        reg = self.registry
        room = reg.room(room_name)
        if room is None:
            raise NoSuchRoom(room_name)
        if room not in member.rooms:
            raise NotInRoom(room.name)
        said = await self._find_in_room(room, msgid)
        if room not in member.rooms:  # it left while the store answered
            raise NotInRoom(room.name)
        if said is None:
            raise NoSuchMessage(msgid)
        if not reg.runs(member, room) and not is_author(member, said.name, said.account, said.ts):
            raise RedactForbidden(msgid)
        forget_line(room, said.msgid)
        reg.history.redact(room.key, said.msgid)
        event = Redacted(member.name, said.msgid, said.name, said.ts, reg.clock(), room.name,
                         "", reason, member.mask, reg.new_id(), member.account)  # fmt: skip
        room.publish(event, skip)
        log.info("%s deleted a message of %s in %s", member.name, said.name, room.name)
        return event

    async def _find_in_room(self, room: Room, msgid: str) -> Taken | None:
        """The room's message with this id: in its ring, else in the store."""
        since = self.registry.history_since()
        line = next((kept for kept in room.recent if kept.msgid == msgid), None)
        history = self.registry.history
        if line is None and history.is_on and _is_ref(msgid):
            found = await history.fetch(Query(room.key, "around", 1, Ref(msgid=int(msgid))))
            line = found[0] if found and found[0].msgid == msgid else None
        return _taken(line) if line is not None and line.ts >= since else None

    async def in_private(
        self, member: Member, name: str, msgid: str, reason: str, skip: Member | Device | None
    ) -> Redacted:
        """Take back the member's private message `msgid` to `name` (a user, or an
        account); both sides hear it (the member's connections but `skip`). NoSuchUser,
        NoSuchMessage, RedactForbidden; HistoryUnavailable from the store."""
        reg = self.registry
        peer = reg.find(name)
        account = reg.accounts.find(name) if peer is None else None
        if peer is None and account is None:
            raise NoSuchUser(name)
        peer_account = peer.account if peer is not None else account.name if account else ""
        target = peer.name if peer is not None else account.name if account else name
        said = self._find_in_sessions(member, peer, target, msgid)
        pair = pair_key(member.account, peer_account) if member.account and peer_account else ""
        if said is None and pair and reg.history.is_on and _is_ref(msgid):
            query = Query("", "around", 1, Ref(msgid=int(msgid)))
            found = await reg.history.fetch_private(pair, query)
            said = found[0] if found and found[0].msgid == msgid else None
        if said is None or said.ts < reg.history_since() or said.kind not in ("msg", "action"):
            raise NoSuchMessage(msgid)
        if not is_author(member, said.sender, said.account, said.ts):
            raise RedactForbidden(msgid)
        if pair and reg.history.is_on:
            reg.history.redact_private(pair, said.msgid, name_key(peer_account))
        for side in (member, peer):
            if side is not None and not side.server:
                _forget_in_session(side, said.msgid)
        event = Redacted(member.name, said.msgid, said.sender, said.ts, reg.clock(), "", target,
                         reason, member.mask, reg.new_id(), member.account)  # fmt: skip
        if peer is not None and peer is not member:
            peer.send(event)
        member.send(event, skip)
        log.info("%s deleted a private message to %s", member.name, target)
        return event

    @staticmethod
    def _find_in_sessions(
        member: Member, peer: Member | None, target: str, msgid: str
    ) -> Whispered | None:
        """A message of the conversation held in a session of this server: the member's
        own, or the peer's (a guest's message to an account is in the account's)."""
        for side, other in ((member, target), (peer, member.name)):
            if side is None or side.server or side.private is None:
                continue
            for event in side.private:
                if event.msgid == msgid and name_key(other) in (
                    name_key(event.sender),
                    name_key(event.target),
                ):
                    return event
        return None

    @staticmethod
    def received(target: Member, event: Redacted) -> None:
        """Another server's user took back its private message to `target`, of this
        server: out of the target's session, and told."""
        _forget_in_session(target, event.target_msgid)
        target.send(event)
