"""What the cluster keeps of a registry port in one Redis hash (accounts.py, bans.py):
read whole at start-up; each change an HSET or HDEL through the bus's queue (never
awaited), which the link publishes so that the other nodes change theirs in memory;
what a node applies it neither writes nor publishes again."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from cluster.bus import Bus
from utils import counted

log = logging.getLogger("chatroom.cluster")

R = TypeVar("R")


class HashLink(Protocol):
    """What of cluster/link.py's ClusterLink a hash needs (which imports this module)."""

    prefix: str
    bus: Bus
    applying: bool


class RedisHash(Generic[R]):
    """Records of one kind in the hash `PREFIX:NAME`, by key, as JSON."""

    def __init__(self, link: HashLink, name: str, noun: str, decode: Callable[[Any], R]) -> None:
        self.link = link
        self.key = f"{link.prefix}:{name}"
        self._noun = noun  # what one record is, for the log
        self._decode = decode  # ValueError for a value that holds no record
        self._records: list[R] = []

    async def load(self) -> None:
        """Read every record (at start-up, before any user); a damaged one is skipped."""
        found = await self.link.bus.redis.hgetall(self.key)
        damaged = 0
        for raw in found.values():
            try:
                self._records.append(self._decode(json.loads(raw)))
            except ValueError:
                damaged += 1
        if damaged:
            log.warning("%s in Redis could not be read; skipped", counted(damaged, self._noun))

    def _taken(self) -> list[R]:
        """What load() read, once."""
        records, self._records = self._records, []
        return records

    def _save(
        self, field: str, value: dict[str, Any], told: Callable[[dict[str, Any]], None]
    ) -> None:
        if self.link.applying:
            return
        data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.link.bus.command_raw("HSET", self.key, field, data)
        told(value)

    def _forget(self, field: str, told: Callable[[str], None]) -> None:
        if self.link.applying:
            return
        self.link.bus.command_raw("HDEL", self.key, field)
        told(field)
