"""Server operators: who may become one, and the check of an oper's password.

The table comes from the settings (`--oper NAME:PASSWORD`, `[[oper]]` in the config
file): an oper name and its password as a SCRAM-SHA-256 record (registry/credentials.py),
derived once at start from a password given in clear. Checking a password is slow on
purpose (PBKDF2), so it runs off the event loop (`run_slow`, a thread by default) and
chat never waits on it; the comparison is in constant time. Wrong tries (an unknown
oper name too) are limited per address. Nothing here logs a password.

`Opers` only decides who is an oper; the server bans opers set are registry/bans.py's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from registry.accounts import RunSlow
from registry.attempts import Attempts
from registry.credentials import Credentials, CredentialsError, check, derive
from registry.errors import NoOperHost, OperLimited, OperRefused
from utils import name_key

log = logging.getLogger(__name__)

RECORD_PREFIX = "scram-sha-256$"  # a secret that starts so is a record, not a password


def credentials_for(secret: str) -> Credentials:
    """The record a configured secret stands for: a record as given (CredentialsError if
    it is not a valid one), or one derived from a password in clear (slow)."""
    if secret.startswith(RECORD_PREFIX):
        return Credentials.decode(secret)
    return derive(secret)


class Opers:
    """The server operators this server knows, by oper name (any case)."""

    def __init__(
        self,
        table: Iterable[tuple[str, str]] = (),
        *,
        clock: Callable[[], float],
        run_slow: RunSlow = asyncio.to_thread,
        burst: int = 5,
        refill_s: float = 60.0,
    ) -> None:
        self._table: dict[str, tuple[str, Credentials]] = {}
        for name, secret in table:
            try:
                self._table[name_key(name)] = (name, credentials_for(secret))
            except CredentialsError as exc:  # the options checked its shape; still:
                log.error("oper %s: its password hash cannot be used: %s", name, exc)
        self._run_slow = run_slow
        self.attempts = Attempts(clock, burst=burst, refill_s=refill_s)

    def __len__(self) -> int:
        return len(self._table)

    async def verify(self, name: str, password: str, address: str) -> str:
        """The oper name as configured, if `password` is its password. NoOperHost for an
        unknown name, OperRefused for a wrong password (both count against the
        address), OperLimited when the address has no try left."""
        if self.attempts.blocked(address):
            raise OperLimited(name, int(self.attempts.wait_s(address)) + 1)
        entry = self._table.get(name_key(name))
        if entry is None:
            self.attempts.take(address)
            raise NoOperHost(name)
        configured, credentials = entry
        if not await self._run_slow(lambda: check(password, credentials)):
            self.attempts.take(address)
            log.warning("a wrong password for oper %s from %s", configured, address)
            raise OperRefused(name)
        return configured
