"""Accounts: registered names, what they keep of their passwords, and the limits on
trying them. `Accounts` is the registry's one owner of accounts; doors ask it, a store
keeps them through the `AccountStore` port.

Checking a password is slow on purpose (PBKDF2, registry/credentials.py), so it never
runs on the event loop: `run_slow` (a thread, where hashlib lets go of the GIL; the
server's are registry/hashing.py's, behind the loop for a CPU) does it, and a storm of
logins leaves chat alone. Failed tries are limited per
address and per account; registrations per address. An unknown account and a wrong
password are refused in the same words, after the same work. The rule for awaits is
the registry's: what was checked before the slow part is checked again after it,
before anything is written. Nothing here logs a password or a key.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from registry.attempts import Attempts
from registry.credentials import Credentials, CredentialsError, ScramExchange, check, derive
from utils import name_key

T = TypeVar("T")


class RunSlow(Protocol):
    """Runs slow work (a password's hash) off the event loop."""

    def __call__(self, work: Callable[[], T], /) -> Awaitable[T]: ...


MAX_PASSWORD_CHARS = 300


class AccountError(Exception):
    """Why an account verb was refused; `wait_s` says how long a limit lasts."""

    def __init__(self, name: str = "", wait_s: float = 0.0) -> None:
        super().__init__(name)
        self.name = name
        self.wait_s = wait_s


class AccountExists(AccountError):
    pass


class NoSuchAccount(AccountError):
    pass


class RegistrationClosed(AccountError):
    pass


class RegistrationLimited(AccountError):
    """Too many registrations from this address lately; `wait_s` until the next."""


class LoginRefused(AccountError):
    """A wrong password, or no such account: the same to whoever asks."""


class LoginLimited(AccountError):
    """Too many wrong tries from this address or at this account; `wait_s` to wait."""


class BadPassword(AccountError):
    """A password that cannot be used: empty, too long, or with control characters."""


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account as a store keeps it: plain values only."""

    name: str
    credentials: str  # Credentials.encode()
    registered: float
    settings: dict[str, Any] = field(default_factory=dict)


class AccountStore(Protocol):
    """What a store does for accounts (SQLite on one server, Redis in a cluster). Each
    write is queued and never blocks; `records()` is read once, at start-up."""

    def records(self) -> list[AccountRecord]: ...
    def save_account(self, record: AccountRecord) -> None: ...
    def forget_account(self, key: str) -> None: ...


class NoAccounts:
    """The store of a server that keeps nothing: accounts last until it stops."""

    def records(self) -> list[AccountRecord]:
        return []

    def save_account(self, record: AccountRecord) -> None:
        pass

    def forget_account(self, key: str) -> None:
        pass


@dataclass(eq=False, slots=True)
class Account:
    """A registered name."""

    name: str
    credentials: Credentials = field(repr=False)
    registered: float
    settings: dict[str, Any] = field(default_factory=dict)

    def record(self) -> AccountRecord:
        return AccountRecord(self.name, self.credentials.encode(), self.registered, self.settings)


def password_problem(password: str) -> str | None:
    """Why a new password cannot be used, or None."""
    if not password:
        return "it is empty"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"it is longer than {MAX_PASSWORD_CHARS} characters"
    if not password.isprintable():
        return "it has a control character"
    return None


def _in_thread(work: Callable[[], T], /) -> Awaitable[T]:
    return asyncio.to_thread(work)


class Accounts:
    """Accounts by name key, with the limits on trying them."""

    def __init__(
        self,
        store: AccountStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        run_slow: RunSlow = _in_thread,
        registration_open: bool = True,
        iterations: int | None = None,
    ) -> None:
        self.store: AccountStore = store or NoAccounts()
        self.registration_open = registration_open
        self._clock = clock
        self._run_slow = run_slow
        self._iterations = iterations  # None: registry/credentials.py's own
        self._accounts: dict[str, Account] = {}
        self._decoy_credentials: Credentials | None = None
        self.by_address = Attempts(clock, burst=10, refill_s=30.0)  # wrong passwords
        self.by_account = Attempts(clock, burst=20, refill_s=30.0)
        self.registrations = Attempts(clock, burst=3, refill_s=600.0)
        for record in self.store.records():
            self._restore(record)

    def attach(self, store: AccountStore) -> None:
        """Keep the accounts in this store from now on (at start-up, before any user):
        what it holds is read, and each change goes to it."""
        self.store = store
        for record in store.records():
            self._restore(record)

    def _restore(self, record: AccountRecord) -> None:
        try:
            credentials = Credentials.decode(record.credentials)
        except CredentialsError:
            return  # a damaged record is skipped: its name can be registered again
        account = Account(record.name, credentials, record.registered, dict(record.settings))
        self._accounts[name_key(record.name)] = account

    def remember(self, record: AccountRecord) -> None:
        """Take an account another server of the cluster registered or changed (the
        cluster calls this); nothing is saved or published again. A known account is
        changed in place, so whoever is logged in to it stays so."""
        account = self.find(record.name)
        if account is None:
            self._restore(record)
            return
        try:
            account.credentials = Credentials.decode(record.credentials)
        except CredentialsError:
            return
        account.settings = dict(record.settings)

    def forget(self, key: str) -> None:
        """Forget an account another server of the cluster dropped (by its name key);
        nothing is saved or published again."""
        self._accounts.pop(key, None)

    def find(self, name: str) -> Account | None:
        """The account registered under this name (any case), if any."""
        return self._accounts.get(name_key(name))

    def __len__(self) -> int:
        return len(self._accounts)

    async def _decoy(self) -> Credentials:
        """What a password for no account is checked against, so that the answer takes
        as long as for a real one (made once, off the event loop)."""
        if self._decoy_credentials is None:
            self._decoy_credentials = await self._derive(secrets.token_urlsafe(16))
        return self._decoy_credentials

    async def _derive(self, password: str) -> Credentials:
        iterations = self._iterations
        if iterations is None:
            return await self._run_slow(lambda: derive(password))
        return await self._run_slow(lambda: derive(password, iterations=iterations))

    async def register(self, name: str, password: str, address: str) -> Account:
        """A new account for this name. AccountExists, RegistrationClosed,
        RegistrationLimited, BadPassword."""
        if not self.registration_open:
            raise RegistrationClosed(name)
        if self.find(name) is not None:
            raise AccountExists(name)
        problem = password_problem(password)
        if problem is not None:
            raise BadPassword(problem)
        if not self.registrations.take(address):
            raise RegistrationLimited(name, self.registrations.wait_s(address))
        credentials = await self._derive(password)
        if self.find(name) is not None:  # registered by another while this one derived
            raise AccountExists(name)
        account = Account(name, credentials, self._clock())
        self._accounts[name_key(name)] = account
        self.store.save_account(account.record())
        return account

    def _check_limits(self, name: str, address: str) -> None:
        key = name_key(name)
        for attempts, which in ((self.by_address, address), (self.by_account, key)):
            if attempts.blocked(which):
                raise LoginLimited(name, attempts.wait_s(which))

    def _failed(self, name: str, address: str) -> LoginRefused:
        self.by_address.take(address)
        self.by_account.take(name_key(name))
        return LoginRefused(name)

    async def verify(self, name: str, password: str, address: str) -> Account:
        """The account, if the password is its own. LoginRefused (wrong, or no such
        account), LoginLimited (too many wrong tries lately)."""
        self._check_limits(name, address)
        account = self.find(name)
        credentials = account.credentials if account is not None else await self._decoy()
        right = await self._run_slow(lambda: check(password, credentials))
        if not right or account is None or self.find(name) is not account:
            raise self._failed(name, address)
        return account

    def scram(self, address: str) -> ScramExchange:
        """A SCRAM-SHA-256 exchange against these accounts. Before it, the door asks
        `check_scram_limits`; a failed one it counts with `scram_failed`."""

        def lookup(name: str) -> Credentials | None:
            account = self.find(name)
            return account.credentials if account is not None else None

        return ScramExchange(lookup)

    def check_scram_limits(self, name: str, address: str) -> None:
        """LoginLimited if this address or account may not try now."""
        self._check_limits(name, address)

    def scram_failed(self, name: str, address: str) -> LoginRefused:
        """Count a failed SCRAM exchange; the error to raise."""
        return self._failed(name, address)

    async def change_password(self, account: Account, old: str, new: str, address: str) -> None:
        """Set a new password after checking the old one. LoginRefused, LoginLimited,
        BadPassword."""
        problem = password_problem(new)
        if problem is not None:
            raise BadPassword(problem)
        await self.verify(account.name, old, address)
        credentials = await self._derive(new)
        if self.find(account.name) is account:  # not dropped meanwhile
            account.credentials = credentials
            self.store.save_account(account.record())

    async def drop(self, account: Account, password: str, address: str) -> None:
        """Forget an account after checking its password. LoginRefused, LoginLimited."""
        await self.verify(account.name, password, address)
        key = name_key(account.name)
        if self._accounts.get(key) is account:
            del self._accounts[key]
            self.store.forget_account(key)

    def change_settings(self, account: Account, **settings: Any) -> None:
        """Change an account's own settings (always-on, private history ...)."""
        account.settings.update(settings)
        self.store.save_account(account.record())

    def clear_setting(self, account: Account, name: str) -> None:
        """Take one of an account's settings away (it had it)."""
        if account.settings.pop(name, None) is not None:
            self.store.save_account(account.record())

    def all(self) -> list[Account]:
        """Every account, in no order (a snapshot: at start-up, not on a hot path)."""
        return list(self._accounts.values())
