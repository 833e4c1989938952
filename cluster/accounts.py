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

from typing import Any, Protocol

from cluster.records import HashLink, RedisHash
from registry import AccountRecord
from utils import name_key


class Link(HashLink, Protocol):
    """What of cluster/link.py's ClusterLink this needs (which imports this module)."""

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


class RedisAccounts(RedisHash[AccountRecord]):
    """The accounts of a cluster, in Redis (registry.AccountStore)."""

    def __init__(self, link: Link) -> None:
        super().__init__(link, "accounts", "account", decode_record)
        self._link = link

    def records(self) -> list[AccountRecord]:
        return self._taken()

    def save_account(self, record: AccountRecord) -> None:
        self._save(name_key(record.name), encode_record(record), self._link.account_saved)

    def forget_account(self, key: str) -> None:
        self._forget(key, self._link.account_forgotten)
