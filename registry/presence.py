"""Always-on presence kept across restarts: for each always-on account whose user is on
this server, the name it goes by, the rooms it is in (in order) and the user, host and
realname its mask and WHOIS show, in the account's settings (`settings["present"]`),
so that the next start brings the user back in them (RoomManager.restore_always_on).

The registry says when a user's presence may have changed (`changed`: a join, a part,
a kick, a rename, a login, a quit, always-on turned on or off); what is written is
worked out at the save, from the user as it is then (`compute`), and only when it
differs from what the account keeps: a user that is gone, or no longer always on,
leaves no entry. Saves are coalesced: the accounts that changed are written together
SAVE_AFTER_S later (a client joining fifty rooms at once costs one write), at once when
the user's last connection goes, and at shutdown. Nothing here knows a door, a store
or a socket; the account's settings reach the store through the AccountStore port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.accounts import Accounts
from utils import name_key

PRESENT = "present"  # the account's setting that holds its user's presence
SAVE_AFTER_S = 1.0  # a presence that changed is written at most this much later

Later = Callable[[float, Callable[[], None]], object]  # call_later: a handle, or None


@dataclass(frozen=True, slots=True)
class Presence:
    """An always-on user as a restart brings it back: plain values only."""

    name: str
    rooms: tuple[str, ...] = ()
    user: str = ""
    host: str = ""
    realname: str = ""

    def value(self) -> dict[str, Any]:
        """As the account's settings keep it (JSON)."""
        return {
            "name": self.name, "rooms": list(self.rooms), "user": self.user,
            "host": self.host, "realname": self.realname,
        }  # fmt: skip


def presence_of(settings: Mapping[str, Any]) -> Presence | None:
    """The presence an account's settings keep, or None (none, or malformed)."""
    value = settings.get(PRESENT)
    if not isinstance(value, dict):
        return None
    name, rooms = value.get("name"), value.get("rooms")
    words = [value.get(k, "") for k in ("user", "host", "realname")]
    if not isinstance(name, str) or not name or not isinstance(rooms, list):
        return None
    if not all(isinstance(room, str) and room for room in rooms):
        return None
    if not all(isinstance(word, str) for word in words):
        return None
    return Presence(name, tuple(rooms), *words)


def _later(delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay_s, callback)


class Presences:
    """Which accounts' presence changed since the last save, and the save itself."""

    def __init__(
        self,
        accounts: Accounts,
        compute: Callable[[str], Presence | None],
        *,
        later: Later = _later,
        save_after_s: float = SAVE_AFTER_S,
    ) -> None:
        self.accounts = accounts
        self.compute = compute  # an account's name -> its user's presence now, or None
        self._later = later
        self.save_after_s = save_after_s
        self._dirty: dict[str, str] = {}  # account key -> name
        self._timer: object = None  # a save is scheduled (its handle)

    def changed(self, account: str) -> None:
        """The presence of the account's user may have changed: saved with the next
        save."""
        self._dirty[name_key(account)] = account
        if self._timer is None:
            self._timer = self._later(self.save_after_s, self._due) or True

    def _due(self) -> None:
        self._timer = None
        self.save()

    def save(self, account: str = "") -> None:
        """Write the presences that changed: of one account (now), or of every one."""
        if account:
            names = [name] if (name := self._dirty.pop(name_key(account), None)) else []
        else:
            names, self._dirty = list(self._dirty.values()), {}
        for name in names:
            self.write(name)

    def write(self, name: str) -> None:
        """Make the account keep its user's presence as it is now (none: no entry)."""
        found = self.accounts.find(name)
        if found is None:
            return  # dropped: its settings went with it
        presence = self.compute(found.name)
        value = presence.value() if presence is not None else None
        if found.settings.get(PRESENT) == value:
            return
        if value is None:
            self.accounts.clear_setting(found, PRESENT)
        else:
            self.accounts.change_settings(found, **{PRESENT: value})

    def close(self) -> None:
        """At shutdown, after the connections closed: write what changed, and schedule
        nothing more."""
        if isinstance(self._timer, asyncio.TimerHandle):
            self._timer.cancel()
        self._timer = None
        self.save()
