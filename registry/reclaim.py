"""Reclaim codes: how a user whose connection dropped takes its name back.

Each logged-in user is given a secret code; only its SHA-256 is kept. The code stays
good while the user is connected and for `ttl_s` after it disconnects, and is
replaced whenever it is used. Attempts are limited per address (a token bucket) and
compared in constant time. No I/O and no asyncio here; the clock is injected.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from registry.attempts import Attempts


@dataclass(slots=True)
class _Code:
    digest: bytes
    name: str  # the name as its holder wrote it
    expires: float | None  # None while its holder is connected


def same_secret(given: str, expected: str) -> bool:
    """Whether two secrets (a server password) match, compared in constant time."""
    return hmac.compare_digest(_digest(given), _digest(expected))


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("utf-8", "surrogateescape")).digest()


class Reclaims:
    """The codes by name key, and the attempts by address."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        ttl_s: float = 600.0,
        attempts: int = 5,
        refill_s: float = 60.0,
        max_addresses: int = 10_000,
    ) -> None:
        self._clock = clock
        self.ttl_s = ttl_s
        self.refill_s = refill_s
        # Tries at a secret (a code, the server password) per address.
        self._tries = Attempts(clock, burst=attempts, refill_s=refill_s, max_keys=max_addresses)
        # By name key: a connected holder whose name is its own key ("alice") has only its
        # code's digest here (56 bytes fewer for each idle connection); a _Code says the
        # name as written ("Alice"), or when a code runs out.
        self._codes: dict[str, _Code | bytes] = {}

    def issue(self, key: str, name: str) -> str:
        """A new code for the holder of this name; any older one stops working."""
        code = secrets.token_urlsafe(12)
        digest = _digest(code)
        self._codes[key] = digest if name == key else _Code(digest, name, None)
        return code

    def _entry(self, key: str) -> _Code | None:
        """The key's code as a _Code (made from a bare digest, its name the key)."""
        entry = self._codes.get(key)
        if isinstance(entry, bytes):
            entry = self._codes[key] = _Code(entry, key, None)
        return entry

    def disconnected(self, key: str) -> None:
        """The holder left: its code works for ttl_s more."""
        entry = self._entry(key)
        if entry is not None:
            entry.expires = self._clock() + self.ttl_s
        self._expire()

    def forget(self, key: str) -> None:
        """The holder was put off the server: its code stops working at once."""
        self._codes.pop(key, None)

    def renamed(self, old_key: str, new_key: str, name: str) -> None:
        entry = self._codes.pop(old_key, None)
        if isinstance(entry, bytes):
            self._codes[new_key] = entry if name == new_key else _Code(entry, name, None)
        elif entry is not None:
            entry.name = name
            self._codes[new_key] = entry

    def allow(self, address: str) -> bool:
        """Take one attempt at a secret (a code, the server password) from this
        address's allowance; False when it has none."""
        return self._tries.take(address)

    def blocked(self, address: str) -> bool:
        """Whether this address has no attempt left just now (nothing is taken)."""
        return self._tries.blocked(address)

    def check(self, key: str, code: str) -> str | None:
        """The name, if `code` is this name's current code; the code is then used up."""
        entry = self._entry(key)
        if entry is None or (entry.expires is not None and entry.expires < self._clock()):
            _digest(code)  # the same work either way
            return None
        if not hmac.compare_digest(entry.digest, _digest(code)):
            return None
        del self._codes[key]
        return entry.name

    def _expire(self) -> None:
        now = self._clock()
        gone = [
            k
            for k, e in self._codes.items()
            if isinstance(e, _Code) and e.expires is not None and e.expires < now
        ]
        for key in gone:
            del self._codes[key]
