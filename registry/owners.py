"""Owned rooms: a registered room's founder and access list (ChanServ's REGISTER,
AMODE, TRANSFER). Plain values only, so a store keeps them in the room's settings and
a cluster's nodes send them as they are.

A registered room stays when it empties and across restarts; its founder and the
accounts on its access list get their status on every join and at login; a stranger
who walks into it empty is nobody. An unregistered room keeps the old rule: whoever
is alone in a room with no operator becomes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from utils import name_key

CHANSERV, CHANSERV_MASK = "ChanServ", "ChanServ!ChanServ@services"  # who grants status
LEVELS = ("o", "v")  # what an access entry gives: operator, voice


@dataclass(slots=True)
class Ownership:
    """Who owns a registered room: its founder's account (as registered) and the
    accounts given a status on join, by name key: (account, level)."""

    founder: str
    registered: float
    access: dict[str, tuple[str, str]] = field(default_factory=dict)

    def level(self, account: str) -> str:
        """The status `account` gets here: "o" (the founder too), "v", or ""."""
        if not account:
            return ""
        key = name_key(account)
        if key == name_key(self.founder):
            return "o"
        entry = self.access.get(key)
        return entry[1] if entry else ""

    def is_founder(self, account: str) -> bool:
        return bool(account) and name_key(account) == name_key(self.founder)

    def entries(self) -> list[tuple[str, str]]:
        """The access list as (account, level), by account."""
        return sorted(self.access.values(), key=lambda entry: name_key(entry[0]))

    def words(self) -> tuple[str, ...]:
        """The access list as `LEVEL:ACCOUNT` words (how settings and events carry it)."""
        return tuple(f"{level}:{account}" for account, level in self.entries())

    def settings(self) -> dict[str, Any]:
        return {"founder": self.founder, "registered": self.registered, "access": self.words()}


def from_words(words: tuple[str, ...] | list[Any]) -> dict[str, tuple[str, str]]:
    """An access list from its `LEVEL:ACCOUNT` words, skipping malformed ones."""
    access: dict[str, tuple[str, str]] = {}
    for word in words:
        if isinstance(word, str):
            level, _, account = word.partition(":")
            if level in LEVELS and account:
                access[name_key(account)] = (account, level)
    return access


def from_settings(settings: dict[str, Any]) -> Ownership | None:
    """The ownership a room's stored settings hold; None if it is not registered."""
    founder, registered = settings.get("founder"), settings.get("registered", 0.0)
    if not isinstance(founder, str) or not founder:
        return None
    access = settings.get("access")
    return Ownership(
        founder,
        float(registered) if isinstance(registered, int | float) else 0.0,
        from_words(access) if isinstance(access, list | tuple) else {},
    )


def is_owned(settings: dict[str, Any]) -> bool:
    """Whether stored settings are a registered room's: a store keeps such a room even
    with no lines."""
    return from_settings(settings) is not None
