"""Server bans in cluster mode: the registry's BanStore in Redis, so every node knows
every ban and a node started later reads them all.

One hash, `PREFIX:bans` (ban key -> JSON {mask, reason, by, set_at, expires}), read
once at start-up. A change goes through the bus's queue as an HSET or HDEL (never
awaited: a KLINE does not wait on Redis), and the link publishes it ("kline",
"unkline") so that the other nodes change their bans in memory and disconnect their
own users the ban matches (RoomManager.apply_server_ban); what a node applies it does
not write or publish again.
"""

from __future__ import annotations

from typing import Any, Protocol

from cluster.records import HashLink, RedisHash
from registry import BanRecord


class Link(HashLink, Protocol):
    """What of cluster/link.py's ClusterLink this needs (which imports this module)."""

    def ban_saved(self, record: dict[str, Any]) -> None: ...
    def ban_forgotten(self, key: str) -> None: ...


def encode_ban(record: BanRecord) -> dict[str, Any]:
    """A ban as plain JSON values (the hash's value, the message's body)."""
    return {
        "mask": record.mask, "reason": record.reason, "by": record.by,
        "set_at": record.set_at, "expires": record.expires,
    }  # fmt: skip


def decode_ban(value: Any) -> BanRecord:
    """The ban a JSON value holds; ValueError if it holds none."""
    if not isinstance(value, dict):
        raise ValueError("not a server ban")
    mask, reason, by = value.get("mask"), value.get("reason", ""), value.get("by", "")
    set_at, expires = value.get("set_at", 0.0), value.get("expires", 0.0)
    if not isinstance(mask, str) or not mask or not isinstance(reason, str):
        raise ValueError("not a server ban")
    if not isinstance(by, str) or not all(isinstance(t, int | float) for t in (set_at, expires)):
        raise ValueError("not a server ban")
    return BanRecord(mask, reason, by, float(set_at), float(expires))


class RedisBans(RedisHash[BanRecord]):
    """The server bans of a cluster, in Redis (registry.BanStore)."""

    def __init__(self, link: Link) -> None:
        super().__init__(link, "bans", "server ban", decode_ban)
        self._link = link

    def ban_records(self) -> list[BanRecord]:
        return self._taken()

    def save_ban(self, record: BanRecord) -> None:
        self._save(record.key, encode_ban(record), self._link.ban_saved)

    def forget_ban(self, key: str) -> None:
        self._forget(key, self._link.ban_forgotten)
