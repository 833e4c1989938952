"""Who holds which name now, and who held a name before (WHOWAS).

One duty: the table from a name's key (utils.name_key: any case) to its member, and
the ring of departed names. Only the registry (rooms.py) changes it, in synchronous
code; everyone else reads it through RoomManager (find, users, whowas). A name given
or taken back is told to those who watch it (watch.py), here, where it happens.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import NamedTuple

from registry.room import Departed, Member
from registry.watch import Watches
from utils import name_key


class Census(NamedTuple):
    """What LUSERS tells: users in all, users here, the cluster's other servers with
    users, and how many users are server operators."""

    users: int
    local: int
    servers: frozenset[str]
    opers: int


class Names:
    """The connected users (this server's and, in a cluster, the others') by name key."""

    def __init__(self, clock: Callable[[], float], whowas: int, watches: Watches) -> None:
        self._by_key: dict[str, Member] = {}
        self._servers: Counter[str] = Counter()  # users per server ("" this one)
        self._opers: set[Member] = set()  # users with user mode +o
        self._clock = clock
        self._watches = watches
        self.whowas: deque[Departed] = deque(maxlen=whowas)

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def find(self, name: str) -> Member | None:
        """The user with this name (any case), if any."""
        return self._by_key.get(name_key(name))

    def by_account(self, account: str) -> Member | None:
        """The user of this server logged in to `account`, under any name (at login:
        a scan, as logins are rare next to lines)."""
        key = name_key(account)
        holder = self._by_key.get(key)
        if holder is not None and name_key(holder.account) == key and not holder.server:
            return holder
        for member in self._by_key.values():
            if member.account and name_key(member.account) == key and not member.server:
                return member
        return None

    def holds(self, member: Member) -> bool:
        """Whether the member holds its name here (not a ghost replaced, not gone)."""
        return self._by_key.get(name_key(member.name)) is member

    def add(self, member: Member) -> None:
        """Give the member its name (the caller has checked it is free); its watchers
        hear it is online."""
        self._by_key[name_key(member.name)] = member
        self._servers[member.server] += 1
        self.moded(member)
        self._watches.came(member)

    def drop(self, member: Member) -> bool:
        """Take the name back from a member leaving, and its watch list; whether it held
        the name (then WHOWAS remembers it, and its watchers hear it is offline)."""
        self._watches.forget(member)
        key = name_key(member.name)
        if self._by_key.get(key) is not member:
            return False
        del self._by_key[key]
        self._servers[member.server] -= 1
        if not self._servers[member.server]:
            del self._servers[member.server]
        self._opers.discard(member)
        self.remember(member)
        self._watches.went(member)
        return True

    def rekey(self, member: Member, new_name: str) -> None:
        """File the member under its new name (the caller renames it, then tells its
        watchers: Watches.renamed, once the member has its new mask)."""
        del self._by_key[name_key(member.name)]
        self._by_key[name_key(new_name)] = member

    def remember(self, member: Member) -> None:
        """Note who had this name, for WHOWAS (newest first)."""
        self.whowas.appendleft(
            Departed(member.name, member.user, member.host, member.realname, self._clock())
        )

    def moded(self, member: Member) -> None:
        """Note the member's user modes anew (after the registry set them)."""
        if "o" in member.modes:
            self._opers.add(member)
        else:
            self._opers.discard(member)

    def census(self) -> Census:
        """How many users, here and in all, on which servers, and how many operators:
        counted as users come and go, so a registration's LUSERS does not walk them."""
        servers = frozenset(self._servers) - {""}
        return Census(len(self._by_key), self._servers.get("", 0), servers, len(self._opers))

    def users(self) -> list[Member]:
        """A snapshot of every user, sorted by name."""
        return sorted(self._by_key.values(), key=lambda m: name_key(m.name))

    def snapshot(self) -> dict[str, Member]:
        """A copy of the table."""
        return dict(self._by_key)
