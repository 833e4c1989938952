"""Who watches which names, to hear when each comes online and goes offline (IRCv3
MONITOR on IRC, /watch on the text door).

One duty: the table from a name's key (utils.name_key: any case) to the members
watching it, each member's own list, bounded, and the telling. The name table
(names.py) calls `came` and `went` whenever a name is given or taken back, whatever
the cause (a login, a quit, a kill, a cluster's user), and RoomManager's rename calls
`renamed`; so no way onto or off a name can forget the watchers. Doors change a
member's list through RoomManager.watches (add, remove, clear). No asyncio here.
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.events import Offline, Online
from registry.room import Member
from utils import name_key


class Watches:
    """The watch lists of the members of this server: at most `limit` names each."""

    def __init__(self, limit: int, server: str) -> None:
        self.limit = limit
        self.server = server  # the source of Online and Offline (IRC numerics)
        self._watchers: dict[str, dict[Member, None]] = {}  # name key -> who watches it
        self._lists: dict[Member, dict[str, str]] = {}  # member -> key -> name as given
        self._hearing: set[Member] = set()  # asked for more than comings and goings

    # --- A member's own list. ---
    def add(self, member: Member, names: Iterable[str]) -> list[str]:
        """Watch these names (valid ones: the door checked), in order, up to the limit;
        the names refused for the limit. A name watched already is no new entry."""
        mine = self._lists.setdefault(member, {})
        refused: list[str] = []
        for name in names:
            key = name_key(name)
            if key in mine:
                continue
            if len(mine) >= self.limit:
                refused.append(name)
                continue
            mine[key] = name
            self._watchers.setdefault(key, {})[member] = None
        if not mine:
            del self._lists[member]
        return refused

    def remove(self, member: Member, names: Iterable[str]) -> list[str]:
        """Watch these names no more; those that were watched, as they were given."""
        mine = self._lists.get(member, {})
        removed = [mine.pop(key) for key in map(name_key, names) if key in mine]
        for name in removed:
            self._unwatch(member, name_key(name))
        if not mine:
            self._lists.pop(member, None)
        return removed

    def clear(self, member: Member) -> None:
        """Watch nothing any more."""
        for key in self._lists.pop(member, {}):
            self._unwatch(member, key)

    def names(self, member: Member) -> list[str]:
        """What the member watches, as it gave the names, oldest first."""
        return list(self._lists.get(member, {}).values())

    def hear_changes(self, member: Member, on: bool) -> None:
        """Whether the member also hears the away, account and realname changes of the
        users it watches, as if it shared a room with them (IRCv3 extended-monitor)."""
        (self._hearing.add if on else self._hearing.discard)(member)

    def forget(self, member: Member) -> None:
        """The member is gone: its list with it."""
        self.clear(member)
        self._hearing.discard(member)

    def _unwatch(self, member: Member, key: str) -> None:
        watchers = self._watchers[key]
        del watchers[member]
        if not watchers:
            del self._watchers[key]

    # --- Telling the watchers. ---
    def hearing(self, member: Member) -> list[Member]:
        """Who watches the member's name and asked to hear its changes (not itself)."""
        if not self._hearing:  # nobody asked: no name to fold for each away or login
            return []
        watchers = self._watchers.get(name_key(member.name), ())
        return [w for w in watchers if w in self._hearing and w is not member]

    def came(self, member: Member) -> None:
        """The member holds its name now: its watchers hear it is online."""
        if not self._watchers:  # nobody watches anything: no name to fold
            return
        for watcher in list(self._watchers.get(name_key(member.name), ())):
            if watcher is not member:  # a client knows its own name
                watcher.send(Online(member.name, member.mask, self.server, watcher.name))

    def went(self, member: Member) -> None:
        """The member holds its name no more: its watchers hear it is offline."""
        if not self._watchers:
            return
        for watcher in list(self._watchers.get(name_key(member.name), ())):
            if watcher is not member:
                watcher.send(Offline(member.name, self.server, watcher.name))

    def renamed(self, member: Member, old: str) -> None:
        """The member, renamed (its name and mask are the new ones), went from `old`
        to its name: watchers of the old one hear it offline, of the new one online;
        nobody hears anything of a change of case only (the same name)."""
        if not self._watchers:
            return
        old_key = name_key(old)
        if old_key == name_key(member.name):
            return
        for watcher in list(self._watchers.get(old_key, ())):
            if watcher is not member:
                watcher.send(Offline(old, self.server, watcher.name))
        self.came(member)
