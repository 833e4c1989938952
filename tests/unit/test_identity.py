"""Owned names in the registry: a registered account's name is only ever used by a
user logged in to that account, when claimed and when renamed to; logging in and out
is told to those who share a room."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from registry import NameReserved, NameTaken
from registry.accounts import Accounts
from rooms import RoomManager
from tests.unit.test_rooms import Inbox, render

T = TypeVar("T")


async def inline(work: Callable[[], T], /) -> T:
    return work()


@pytest.fixture
async def rooms() -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096)
    await accounts.register("Alice", "sesame", "192.0.2.1")
    return RoomManager(clock=lambda: 0.0, defer=lambda flush: flush(), accounts=accounts)


async def test_a_registered_name_is_refused_to_a_guest_in_any_case(rooms: RoomManager) -> None:
    for name in ("alice", "ALICE"):
        with pytest.raises(NameReserved):
            await rooms.claim(name, Inbox(), render)
    assert rooms.find("alice") is None


async def test_the_accounts_own_user_gets_its_name(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render, account="Alice")
    assert alice.account == "Alice" and rooms.find("ALICE") is alice


async def test_another_account_may_not_take_it_either(rooms: RoomManager) -> None:
    await rooms.accounts.register("bob", "pw", "192.0.2.2")
    with pytest.raises(NameReserved):
        await rooms.claim("alice", Inbox(), render, account="bob")


async def test_a_rename_to_a_registered_name_is_refused_unless_logged_in_to_it(
    rooms: RoomManager,
) -> None:
    guest = await rooms.claim("guest", Inbox(), render)
    with pytest.raises(NameReserved):
        await rooms.rename(guest, "Alice")
    assert guest.name == "guest"
    rooms.log_in(guest, "Alice")
    await rooms.rename(guest, "alice")
    assert rooms.find("alice") is guest


async def test_a_reserved_name_reads_as_taken_to_a_door_that_says_no_more() -> None:
    assert issubclass(NameReserved, NameTaken)


async def test_logging_in_and_out_is_told_to_those_who_share_a_room(rooms: RoomManager) -> None:
    inbox = Inbox()
    carol = await rooms.claim("carol", Inbox(), render)
    dave = await rooms.claim("dave", inbox, render)
    room = await rooms.create(carol, "den")
    await rooms.join(dave, "den")
    inbox.writes.clear()
    rooms.log_in(carol, "Alice")
    rooms.log_out(carol)
    rooms.log_out(carol)  # not logged in: nothing more to tell
    assert inbox.events() == ["('AccountChanged', 'carol')", "('AccountChanged', 'carol')"]
    assert carol.account == "" and room.members
