"""Private messages: who gets one, what is kept of it, and what waits for a login.
The registry's part: RoomManager's verbs (rooms.py: whisper, held_for, conversation,
conversation_targets) are these; the doors word what they return.

The rules, written once:
- A message to a user who is online reaches it at once, by one call: `Member.send`
  (a member with several connections delivers it to each).
- A msg or an action (never a notice, a CTCP request or a TAGMSG) between two users
  logged in to accounts is kept in the store under the pair of accounts (`pair_key`),
  for --history-days, unless either account turned DM-HISTORY off. With a guest on one
  side, it is kept in no store: only in the memory of the account side's session
  (`Member.private`), so that it can scroll back until it disconnects or logs out. A
  guest keeps nothing, and DM-HISTORY off keeps nothing anywhere.
- A msg or an action from an account to a registered account nobody is logged in to
  waits in the store (at most `max_held` for one receiver) and is handed to the
  receiver's next login once (`collect`); kept in the conversation as above.
- A message to a name that is neither online nor registered: NoSuchUser.
Nothing here words a line, knows a door, or logs a message's text.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from registry.accounts import Account, Accounts
from registry.errors import NoSuchUser, NotLoggedIn, OfflineFull, OfflineGuest, OfflineNotKept
from registry.events import Whispered
from registry.history import (
    Entry,
    History,
    HistoryUnavailable,
    Query,
    newest_inside,
    pair_key,
    select,
)
from registry.room import Member
from utils import counted, name_key

log = logging.getLogger(__name__)

KEPT_KINDS = frozenset({"msg", "action"})  # what a conversation keeps and a login gets
SESSION_LINES = 100  # the messages with guests a session holds, newest last
DM_HISTORY = "dm-history"  # the account setting (NickServ SET DM-HISTORY): False is off


@dataclass(frozen=True, slots=True)
class Delivery:
    """What `whisper` did: the message, and the member it reached (None: it waits for
    the account `event.target`'s next login)."""

    event: Whispered
    to: Member | None


class Registry(Protocol):
    """What of the registry (RoomManager) private messages use."""

    accounts: Accounts
    history: History
    clock: Callable[[], float]
    new_id: Callable[[], str]

    def find(self, name: str) -> Member | None: ...
    def users(self) -> list[Member]: ...
    def connected(self, member: Member) -> bool: ...


def keeps_history(account: Account | None) -> bool:
    """Whether an account keeps its private messages (DM-HISTORY on, the default); a
    guest (None) does not refuse."""
    return account is None or account.settings.get(DM_HISTORY, True) is not False


class PrivateMessages:
    """The rules above, over the registry's users, accounts and store."""

    def __init__(self, registry: Registry, *, max_held: int = 100) -> None:
        self.registry = registry
        self.max_held = max_held  # messages waiting for one offline account; 0: none wait
        self._collecting: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # account key ->

    # --- Sending. ---
    async def whisper(
        self, member: Member, target_name: str, text: str, kind: str = "msg", tags: str = ""
    ) -> Delivery:
        """A private message from `member` to the user (or account) `target_name`;
        `kind` is msg, action, notice, ctcp or tagmsg. NoSuchUser; for an offline
        account, OfflineGuest, OfflineNotKept, OfflineFull."""
        reg = self.registry
        ts = reg.clock()
        target = reg.find(target_name)
        account = None
        if target is None:
            account = reg.accounts.find(target_name)
            if account is not None:  # online under another name?
                target = self._logged_in(account.name)
        if target is not None and not target.server and not reg.connected(target):
            account = reg.accounts.find(target.account)  # always on, no connection now
            if account is not None and kind in KEPT_KINDS:
                target = None  # it waits for the next login, as for an offline account
        if target is not None:
            event = Whispered(member.name, text, ts, target.name, member.mask, kind,
                              reg.new_id(), tags, member.account)  # fmt: skip
            target.send(event)
            self._keep(member, target, event)
            _spoke(member, event)
            return Delivery(event, target)
        if account is None or kind not in KEPT_KINDS:
            raise NoSuchUser(target_name)
        event = Whispered(member.name, text, ts, account.name, member.mask, kind,
                          reg.new_id(), tags, member.account)  # fmt: skip
        await self._hold(member, account, event)
        _spoke(member, event)
        return Delivery(event, None)

    async def _hold(self, member: Member, account: Account, event: Whispered) -> None:
        """Leave `event` for the offline `account`'s next login."""
        reg = self.registry
        if not member.account:
            raise OfflineGuest(account.name)
        if not reg.history.is_on or self.max_held <= 0:
            raise OfflineNotKept(account.name)
        kept = self._keeps(member.account, account.name)
        receiver = name_key(account.name)
        pair = pair_key(member.account, account.name)
        try:
            held = await reg.history.hold(receiver, pair, event, kept=kept, limit=self.max_held)
        except HistoryUnavailable:
            raise OfflineNotKept(account.name) from None
        if not held:
            raise OfflineFull(account.name, self.max_held)
        log.debug("%s left a message for %s (offline)", member.name, account.name)
        late = self._logged_in(account.name)
        if late is not None:  # it logged in while the store took it: hand it over now
            for waiting in await self.collect(late):
                late.send(waiting)

    def _logged_in(self, account: str) -> Member | None:
        """A user logged in to `account`, under whatever name, with a connection (an
        always-on user with none is as offline: the rare way, a scan)."""
        key = name_key(account)
        reg = self.registry
        return next(
            (m for m in reg.users() if name_key(m.account) == key and reg.connected(m)), None
        )

    def _keeps(self, *accounts: str) -> bool:
        """Whether none of these accounts (a guest: "") turned DM-HISTORY off."""
        find = self.registry.accounts.find
        return all(keeps_history(find(account)) for account in accounts if account)

    def _keep(self, sender: Member, target: Member, event: Whispered) -> None:
        """What is kept of a message that reached its receiver (the module's rules)."""
        history = self.registry.history
        if event.kind not in KEPT_KINDS or not history.is_on:
            return
        if not self._keeps(sender.account, target.account):
            return
        if sender.account and target.account:
            history.keep_private(pair_key(sender.account, target.account), event)
            return
        for side in (sender, target):  # a guest's: in the account side's session only
            if side.account and not side.server:
                remember(side, event)

    def received(self, target: Member, event: Whispered) -> None:
        """A private message another server of the cluster delivers to this server's
        `target` (that server kept what a store keeps): delivered, and held in the
        target's session if it came from a guest."""
        target.send(event)
        from_guest = event.kind in KEPT_KINDS and not event.account
        on = self.registry.history.is_on and self._keeps(target.account)
        if from_guest and target.account and on:
            remember(target, event)

    # --- At login. ---
    async def collect(self, member: Member) -> list[Whispered]:
        """The messages that waited for the member's account, oldest first: each is
        handed over once (two logins at once: the second gets none)."""
        history = self.registry.history
        if not member.account or not history.is_on:
            return []
        key = name_key(member.account)
        lock, users = self._collecting.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                events = await history.collect(key)
        except HistoryUnavailable as exc:
            log.warning("cannot hand %s its messages: %s", member.name, exc)
            return []
        finally:
            users[0] -= 1
            if not users[0]:
                del self._collecting[key]
        if events:
            log.info(
                "%s got %s held while it was offline", member.name, counted(len(events), "message")
            )
        return events

    # --- Reading. ---
    async def conversation(self, member: Member, name: str, query: Query) -> list[Whispered]:
        """The member's kept messages with `name` (a user or an account), oldest first.
        NotLoggedIn for a guest (it keeps none); HistoryUnavailable."""
        if not member.account:
            raise NotLoggedIn(member.name)
        peer = self._peer_account(name)
        if peer:
            pair = pair_key(member.account, peer)
            found = await self.registry.history.fetch_private(pair, query)
        else:
            entries = self._session(member, name)
            found = [event for _, _, event in select(entries, query)]
        since = self.since()
        return [event for event in found if event.ts >= since]

    async def targets(
        self, member: Member, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        """(name, newest ms) of the member's conversations whose newest message is in
        the window, the least recently active first. HistoryUnavailable."""
        if not member.account:
            return []
        found: dict[str, tuple[str, int]] = {}
        history, accounts = self.registry.history, self.registry.accounts
        stored = await history.private_targets(name_key(member.account), after_ms, before_ms, limit)
        for key, ms in stored:
            account = accounts.find(key)
            found[key] = (account.name if account is not None else key, ms)
        newest: dict[str, tuple[str, int]] = {}
        for event in member.private or ():
            peer = _peer(member, event)
            newest[name_key(peer)] = (peer, int(event.ts * 1000))
        for key, (peer, ms) in newest.items():
            if newest_inside(ms, after_ms, before_ms) and key not in found:
                found[key] = (peer, ms)
        return sorted(found.values(), key=lambda pair: pair[1])[:limit]

    def _peer_account(self, name: str) -> str:
        """The account a conversation with `name` is kept under: the account of the
        user online with that name, or the account registered with it ("": a guest)."""
        online = self.registry.find(name)
        if online is not None:
            return online.account
        account = self.registry.accounts.find(name)
        return account.name if account is not None else ""

    def _session(self, member: Member, name: str) -> list[Entry]:
        """The messages with `name` the member's session holds, as select() reads them."""
        key = name_key(name)
        held = [e for e in member.private or () if name_key(_peer(member, e)) == key]
        return [(at, int(event.ts * 1000), event) for at, event in enumerate(held)]

    def since(self) -> float:
        """The time before which kept messages have expired (0: none expire)."""
        retention = self.registry.history.retention_s
        return self.registry.clock() - retention if retention else 0.0

    def forget(self, account: str) -> None:
        """An account was dropped: its conversations go, and what waits for it (so that
        whoever registers the name again reads none of them)."""
        self.registry.history.forget_private(name_key(account))


def remember(member: Member, event: Whispered) -> None:
    """Hold a message in the member's session (a conversation with a guest)."""
    if member.private is None:
        member.private = deque(maxlen=SESSION_LINES)
    member.private.append(event)


def _peer(member: Member, event: Whispered) -> str:
    """Whom a message of the member's conversations was with: its receiver if the
    member sent it, else its sender."""
    mine = bool(event.account) and name_key(event.account) == name_key(member.account)
    return event.target if mine else event.sender


def _spoke(member: Member, event: Whispered) -> None:
    """WHOIS idle counts from a message sent (a typing notification is not speaking)."""
    if event.kind != "tagmsg":
        member.spoke = event.ts
