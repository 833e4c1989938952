"""Accounts without a socket: register, log in, change and drop, the limits on tries,
the same answer for a wrong password and no account, and what a store is given."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import pytest

from registry.accounts import (
    AccountExists,
    AccountRecord,
    Accounts,
    BadPassword,
    LoginLimited,
    LoginRefused,
    RegistrationClosed,
    RegistrationLimited,
)
from registry.attempts import Attempts
from registry.credentials import Credentials

T = TypeVar("T")
ADDRESS = "192.0.2.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryStore:
    def __init__(self, records: list[AccountRecord] | None = None) -> None:
        self.saved: dict[str, AccountRecord] = {r.name.lower(): r for r in records or []}

    def records(self) -> list[AccountRecord]:
        return list(self.saved.values())

    def save_account(self, record: AccountRecord) -> None:
        self.saved[record.name.lower()] = record

    def forget_account(self, key: str) -> None:
        del self.saved[key]


async def inline(work: Callable[[], T], /) -> T:
    return work()


def accounts(store: MemoryStore | None = None, clock: Clock | None = None) -> Accounts:
    return Accounts(store, clock=clock or Clock(), run_slow=inline, iterations=4096)


async def test_a_registered_name_logs_in_with_its_password_in_any_case() -> None:
    registry = accounts()
    alice = await registry.register("Alice", "sesame", ADDRESS)
    assert await registry.verify("alice", "sesame", ADDRESS) is alice
    assert registry.find("ALICE") is alice and alice.name == "Alice"


async def test_a_wrong_password_and_no_account_are_refused_alike() -> None:
    registry = accounts()
    await registry.register("alice", "sesame", ADDRESS)
    with pytest.raises(LoginRefused) as wrong:
        await registry.verify("alice", "Sesame", ADDRESS)
    with pytest.raises(LoginRefused) as nobody:
        await registry.verify("bob", "sesame", ADDRESS)
    assert type(wrong.value) is type(nobody.value)


async def test_wrong_tries_from_one_address_are_limited_and_come_back_with_time() -> None:
    clock = Clock()
    registry = accounts(clock=clock)
    await registry.register("alice", "sesame", "198.51.100.7")
    for _ in range(registry.by_address.burst):
        with pytest.raises(LoginRefused):
            await registry.verify("alice", "guess", ADDRESS)
    with pytest.raises(LoginLimited) as limited:
        await registry.verify("alice", "sesame", ADDRESS)  # even the right one, for now
    assert limited.value.wait_s > 0
    assert await registry.verify("alice", "sesame", "198.51.100.7")  # another address
    clock.now += registry.by_address.refill_s
    assert await registry.verify("alice", "sesame", ADDRESS)


async def test_wrong_tries_at_one_account_from_many_addresses_are_limited() -> None:
    registry = accounts()
    await registry.register("alice", "sesame", ADDRESS)
    for n in range(registry.by_account.burst):
        with pytest.raises(LoginRefused):
            await registry.verify("alice", "guess", f"203.0.113.{n}")
    with pytest.raises(LoginLimited):
        await registry.verify("alice", "sesame", "203.0.113.250")


async def test_registration_refuses_a_taken_name_a_bad_password_and_a_flood() -> None:
    registry = accounts()
    await registry.register("alice", "sesame", ADDRESS)
    with pytest.raises(AccountExists):
        await registry.register("ALICE", "other", "198.51.100.1")
    for bad in ("", "x" * 301, "tab\there"):
        with pytest.raises(BadPassword):
            await registry.register("carol", bad, "198.51.100.2")
    for n in range(registry.registrations.burst - 1):
        await registry.register(f"user{n}", "pw", ADDRESS)
    with pytest.raises(RegistrationLimited):
        await registry.register("one-too-many", "pw", ADDRESS)


async def test_closed_registration_registers_nobody() -> None:
    registry = accounts()
    registry.registration_open = False
    with pytest.raises(RegistrationClosed):
        await registry.register("alice", "sesame", ADDRESS)
    assert registry.find("alice") is None


async def test_two_registrations_of_one_name_at_once_make_one_account() -> None:
    gate, both_waiting, waiting = asyncio.Event(), asyncio.Event(), [0]

    async def slow(work: Callable[[], T], /) -> T:
        waiting[0] += 1
        if waiting[0] == 2:
            both_waiting.set()
        await gate.wait()
        return work()

    registry = Accounts(run_slow=slow, iterations=4096)
    first = asyncio.create_task(registry.register("alice", "one", ADDRESS))
    second = asyncio.create_task(registry.register("alice", "two", "198.51.100.9"))
    await both_waiting.wait()  # both checked the name was free, and both are deriving
    gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert sum(isinstance(r, AccountExists) for r in results) == 1
    assert await registry.verify("alice", "one", ADDRESS)


async def test_the_store_keeps_plain_records_and_gives_them_back() -> None:
    store = MemoryStore()
    registry = accounts(store)
    alice = await registry.register("alice", "sesame", ADDRESS)
    record = store.saved["alice"]
    assert "sesame" not in repr(record) and Credentials.decode(record.credentials)
    await registry.change_password(alice, "sesame", "open sesame", ADDRESS)
    again = accounts(store)
    assert await again.verify("alice", "open sesame", ADDRESS)
    with pytest.raises(LoginRefused):
        await again.verify("alice", "sesame", ADDRESS)
    account = again.find("alice")
    assert account is not None
    await again.drop(account, "open sesame", ADDRESS)
    assert again.find("alice") is None and store.saved == {}


async def test_a_damaged_record_is_skipped() -> None:
    store = MemoryStore([AccountRecord("alice", "not a record", 1.0)])
    assert accounts(store).find("alice") is None


def test_attempts_refill_one_try_per_period_up_to_the_burst() -> None:
    clock = Clock()
    attempts = Attempts(clock, burst=2, refill_s=10.0, max_keys=2)
    assert attempts.take("a") and attempts.take("a") and not attempts.take("a")
    assert attempts.blocked("a") and attempts.wait_s("a") == pytest.approx(10.0)
    clock.now += 10
    assert attempts.take("a") and not attempts.take("a")
    attempts.take("b")
    attempts.take("c")  # a third key: the oldest is forgotten, with its debt
    assert not attempts.blocked("a")


async def test_an_account_from_another_server_is_remembered_and_forgotten_without_saving() -> None:
    there, store = accounts(), MemoryStore()
    here = accounts(store)
    alice = await there.register("alice", "sesame", ADDRESS)
    here.remember(alice.record())
    assert await here.verify("ALICE", "sesame", ADDRESS) and store.saved == {}
    known = here.find("alice")
    await there.change_password(alice, "sesame", "new", ADDRESS)
    here.remember(alice.record())
    assert here.find("alice") is known, "changed in place: whoever is logged in stays so"
    assert await here.verify("alice", "new", ADDRESS)
    here.forget("alice")
    assert here.find("alice") is None and store.saved == {}


async def test_accounts_attached_to_a_store_take_what_it_holds_and_write_to_it() -> None:
    store = MemoryStore()
    await accounts(store).register("alice", "sesame", ADDRESS)
    registry = accounts()
    registry.attach(store)
    assert await registry.verify("alice", "sesame", ADDRESS)
    await registry.register("bob", "secret", ADDRESS)
    assert set(store.saved) == {"alice", "bob"}
