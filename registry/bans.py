"""Server bans (IRC's K-lines): who may not be on this server at all, whatever room.

A ban is a mask, `nick!user@host` as a room's bans are (registry/masks.py: `*!*@ADDRESS`
for an address, `10.0.0.0/8` for a network, `bob` for a name), or `a:ACCOUNT` for an
account (`*` and `?` allowed in either). Each keeps who set it, when, a reason and
when it expires (never, or after a duration such as `1h` or `7d`). `ServerBans` is the
registry's one owner of them; a store keeps them through the `BanStore` port (the
database on one server, Redis in a cluster; with neither, they last until the server
stops). What a ban does to whom it matches (refused at the door, disconnected when it
is set) is rooms.py's. Pure bookkeeping: no asyncio, no sockets, no wording of a door.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from registry.errors import BadDuration, BadServerBan
from registry.masks import MUTE_BAN, complete, glob, mask_problem, matcher
from utils import name_key

ACCOUNT_PREFIX = "a:"
MAX_MASK_CHARS = 160
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION_S = 10 * 365 * 86400  # longer is a typo: say `permanent` by giving none
_DURATION = re.compile(r"(?:\d{1,7}[smhdw])+")


@dataclass(frozen=True, slots=True)
class BanRecord:
    """A server ban as a store keeps it: plain values only. `expires` is a time (seconds
    since the epoch), 0 for never."""

    mask: str
    reason: str
    by: str
    set_at: float
    expires: float = 0.0

    @property
    def why(self) -> str:
        """The reason as users are told it."""
        return self.reason or "no reason"

    @property
    def key(self) -> str:
        """What two masks that mean the same compare as (case, width, lookalikes)."""
        return ban_key(self.mask)


class BanStore(Protocol):
    """What a store does for server bans. Each write is queued and never blocks;
    `ban_records()` is read once, at start-up."""

    def ban_records(self) -> list[BanRecord]: ...
    def save_ban(self, record: BanRecord) -> None: ...
    def forget_ban(self, key: str) -> None: ...


class NoBanStore:
    """The store of a server that keeps nothing: bans last until it stops."""

    def ban_records(self) -> list[BanRecord]:
        return []

    def save_ban(self, record: BanRecord) -> None:
        pass

    def forget_ban(self, key: str) -> None:
        pass


def parse_duration(word: str) -> float | None:
    """A duration's seconds (`90s`, `30m`, `1h`, `7d`, `2w`, `1d12h`), or None when the
    word is not one. BadDuration for one over ten years (or of nothing)."""
    if not _DURATION.fullmatch(word.lower()):
        return None
    total = sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", word.lower()))
    if not 0 < total <= MAX_DURATION_S:
        raise BadDuration(word, MAX_DURATION_S // 86400)
    return float(total)


def word_duration(seconds: float) -> str:
    """Seconds as the largest whole units: 3600 -> `1h`, 129600 -> `1d12h`."""
    left, words = round(seconds), []
    for unit, size in (("w", UNITS["w"]), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            words.append(f"{left // size}{unit}")
            left %= size
    return "".join(words) or "0s"


def ban_mask(text: str) -> str:
    """The mask a server ban is set on, from what an oper typed: `a:ACCOUNT` as given,
    anything else completed (`bob` -> `bob!*@*`, `10.0.0.7` -> `*!*@10.0.0.7`).
    BadServerBan when it cannot be one."""
    problem = mask_problem(text, MAX_MASK_CHARS)
    if problem:
        raise BadServerBan(text, problem)
    if is_account_mask(text):
        if not text[2:] or "!" in text or "@" in text:
            raise BadServerBan(text, "an account's mask is a:ACCOUNT")
        return ACCOUNT_PREFIX + text[2:]
    if text[:2].lower() == MUTE_BAN:
        raise BadServerBan(text, "a mute (m:) is a room's ban, not the server's")
    return complete(text)


def is_account_mask(text: str) -> bool:
    """Whether a mask names an account (`a:NAME`; never an IPv6 address such as
    `a:b::1`: a name has no colon)."""
    return text[:2].lower() == ACCOUNT_PREFIX and ":" not in text[2:]


def ban_key(mask: str) -> str:
    """The key of a completed mask (ban_mask's): the same for every spelling of it."""
    if is_account_mask(mask):
        return ACCOUNT_PREFIX + name_key(mask[2:])
    return name_key(mask)


def is_address_mask(mask: str) -> bool:
    """Whether a completed mask names only an address (any nick, any user): then it is
    checked as a connection comes, before a name is asked for."""
    return mask.startswith("*!*@")


def record_matches(record: BanRecord, name: str, user: str, host: str, account: str) -> bool:
    """Whether the ban matches a user with this name, user, host and account."""
    mask = record.mask
    if is_account_mask(mask):
        return bool(account) and glob(name_key(mask[2:]), name_key(account))
    return matcher(mask)(name, user, host)


class ServerBans:
    """The server's bans by key; an expired one goes the first time it is looked at."""

    def __init__(
        self, store: BanStore | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store: BanStore = NoBanStore()
        self.is_kept = False  # whether a store keeps them past a restart
        self._clock = clock
        self._bans: dict[str, BanRecord] = {}
        if store is not None:
            self.attach(store)

    def attach(self, store: BanStore) -> None:
        """Keep the bans in this store from now on (at start-up, before any user): what
        it holds is read (expired ones forgotten there too), and each change goes to it."""
        self.store, self.is_kept = store, True
        for record in store.ban_records():
            if self._expired(record):
                store.forget_ban(record.key)
            else:
                self._bans[record.key] = record

    def __len__(self) -> int:
        return len(self.listing())

    def _expired(self, record: BanRecord) -> bool:
        return bool(record.expires) and record.expires <= self._clock()

    def _sweep(self) -> None:
        for key, record in list(self._bans.items()):
            if self._expired(record):
                del self._bans[key]
                self.store.forget_ban(key)

    def add(
        self, mask: str, reason: str, by: str, duration_s: float | None = None
    ) -> tuple[BanRecord, bool]:
        """Set a ban on a completed mask (ban_mask's), for `duration_s` or for ever; the
        record and whether it replaced one on the same mask (its reason, its expiry)."""
        now = self._clock()
        record = BanRecord(mask, reason, by, now, now + duration_s if duration_s else 0.0)
        self._sweep()
        replaced = record.key in self._bans
        self._bans[record.key] = record
        self.store.save_ban(record)
        return record, replaced

    def remove(self, mask: str) -> BanRecord | None:
        """Lift the ban on this mask (as typed, or completed); the ban lifted, if any."""
        self._sweep()
        try:
            key = ban_key(ban_mask(mask))
        except BadServerBan:
            return None
        record = self._bans.pop(key, None)
        if record is not None:
            self.store.forget_ban(key)
        return record

    def remember(self, record: BanRecord) -> None:
        """Take a ban another server of the cluster set (the cluster calls this);
        nothing is saved or published again."""
        if not self._expired(record):
            self._bans[record.key] = record

    def forget(self, key: str) -> None:
        """Forget a ban another server of the cluster lifted (by its key)."""
        self._bans.pop(key, None)

    def listing(self) -> list[BanRecord]:
        """The bans in force, oldest first."""
        self._sweep()
        return sorted(self._bans.values(), key=lambda r: (r.set_at, r.key))

    def match(self, name: str, user: str, host: str, account: str = "") -> BanRecord | None:
        """The ban that matches a user with this name, user, host and account, if any
        (the first set; no sort: this runs for every connection)."""
        if not self._bans:
            return None
        self._sweep()
        found = self._bans.values()
        return next((r for r in found if record_matches(r, name, user, host, account)), None)

    def match_address(self, host: str) -> BanRecord | None:
        """The address ban (`*!*@...`) that matches a connection from `host`, if any."""
        if not self._bans:
            return None
        self._sweep()
        found = (r for r in self._bans.values() if is_address_mask(r.mask))
        return next((r for r in found if matcher(r.mask)("", "", host)), None)
