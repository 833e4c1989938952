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

import json
import logging
from typing import Any, Protocol

from cluster.bus import Bus
from registry import BanRecord
from utils import counted

log = logging.getLogger("chatroom.cluster")


class Link(Protocol):
    """What of cluster/link.py's ClusterLink this needs (which imports this module)."""

    prefix: str
    bus: Bus
    applying: bool

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


class RedisBans:
    """The server bans of a cluster, in Redis (registry.BanStore)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.key = f"{link.prefix}:bans"
        self._records: list[BanRecord] = []

    async def load(self) -> None:
        """Read every ban (at start-up, before any user)."""
        found = await self.link.bus.redis.hgetall(self.key)
        damaged = 0
        for raw in found.values():
            try:
                self._records.append(decode_ban(json.loads(raw)))
            except ValueError:
                damaged += 1
        if damaged:
            log.warning("%s in Redis could not be read; skipped", counted(damaged, "server ban"))

    def ban_records(self) -> list[BanRecord]:
        records, self._records = self._records, []
        return records

    def save_ban(self, record: BanRecord) -> None:
        if self.link.applying:
            return
        value = encode_ban(record)
        data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.link.bus.command_raw("HSET", self.key, record.key, data)
        self.link.ban_saved(value)

    def forget_ban(self, key: str) -> None:
        if self.link.applying:
            return
        self.link.bus.command_raw("HDEL", self.key, key)
        self.link.ban_forgotten(key)
