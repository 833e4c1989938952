"""Accounts in cluster mode: the registry's AccountStore in Redis, so every node knows
every account.

One hash, `PREFIX:accounts` (name key -> JSON {name, credentials, registered,
settings}), read once at start-up. A change goes through the bus's queue as an HSET or
HDEL (never awaited: a registration does not wait on Redis), and the link publishes it
("account", "unaccount") so that the other nodes change their accounts in memory
(Accounts.remember, Accounts.forget); what a node applies it does not write or publish
again. A password is here only as its salted, slow record (registry/credentials.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from cluster.bus import Bus
from registry import AccountRecord
from utils import counted, name_key

log = logging.getLogger("chatroom.cluster")


class Link(Protocol):
    """What of cluster/link.py's ClusterLink this needs (which imports this module)."""

    prefix: str
    bus: Bus
    applying: bool

    def account_saved(self, record: dict[str, Any]) -> None: ...
    def account_forgotten(self, key: str) -> None: ...


def encode_record(record: AccountRecord) -> dict[str, Any]:
    """An account as plain JSON values (the hash's value, the message's body)."""
    return {
        "name": record.name, "credentials": record.credentials,
        "registered": record.registered, "settings": record.settings,
    }  # fmt: skip


def decode_record(value: Any) -> AccountRecord:
    """The account a JSON value holds; ValueError if it holds none."""
    if not isinstance(value, dict):
        raise ValueError("not an account")
    name, credentials = value.get("name"), value.get("credentials")
    registered, settings = value.get("registered", 0.0), value.get("settings", {})
    if not isinstance(name, str) or not name or not isinstance(credentials, str):
        raise ValueError("not an account")
    if not isinstance(registered, int | float) or not isinstance(settings, dict):
        raise ValueError("not an account")
    return AccountRecord(name, credentials, float(registered), settings)


class RedisAccounts:
    """The accounts of a cluster, in Redis (registry.AccountStore)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.key = f"{link.prefix}:accounts"
        self._records: list[AccountRecord] = []

    async def load(self) -> None:
        """Read every account (at start-up, before the accounts are made)."""
        found = await self.link.bus.redis.hgetall(self.key)
        damaged = 0
        for raw in found.values():
            try:
                self._records.append(decode_record(json.loads(raw)))
            except ValueError:
                damaged += 1
        if damaged:
            log.warning("%s in Redis could not be read; skipped", counted(damaged, "account"))

    def records(self) -> list[AccountRecord]:
        records, self._records = self._records, []
        return records

    def save_account(self, record: AccountRecord) -> None:
        if self.link.applying:
            return
        value = encode_record(record)
        data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.link.bus.command_raw("HSET", self.key, name_key(record.name), data)
        self.link.account_saved(value)

    def forget_account(self, key: str) -> None:
        if self.link.applying:
            return
        self.link.bus.command_raw("HDEL", self.key, key)
        self.link.account_forgotten(key)
