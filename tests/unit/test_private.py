"""Private messages through the registry's verb (registry/private.py): who gets one,
what is kept of it and where, what waits for an offline account and is handed over
once. The store is an in-memory one that implements the history port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import pytest

from registry import (
    Accounts,
    HistoryUnavailable,
    Member,
    NoSuchUser,
    NotLoggedIn,
    OfflineFull,
    OfflineGuest,
    OfflineNotKept,
    Query,
    Whispered,
)
from registry.history import History, newest_inside, pair_key, select
from rooms import RoomManager
from tests.unit.test_rooms import Inbox, render

T = TypeVar("T")


async def inline(work: Callable[[], T], /) -> T:
    return work()


class MemoryStore(History):
    """The history port's private side, in lists; `slow` makes `hold` wait for it."""

    is_on = True

    def __init__(self) -> None:
        self.kept: dict[str, list[Whispered]] = {}
        self.held: dict[str, list[Whispered]] = {}
        self.slow: asyncio.Event | None = None

    def keep_private(self, pair: str, event: Whispered) -> None:
        self.kept.setdefault(pair, []).append(event)

    async def hold(
        self, receiver: str, pair: str, event: Whispered, *, kept: bool, limit: int
    ) -> bool:
        if self.slow is not None:
            await self.slow.wait()
        waiting = self.held.setdefault(receiver, [])
        if len(waiting) >= limit:
            return False
        waiting.append(event)
        if kept:
            self.keep_private(pair, event)
        return True

    async def collect(self, receiver: str) -> list[Whispered]:
        await asyncio.sleep(0)  # a store answers later: two logins at once interleave
        return self.held.pop(receiver, [])

    async def fetch_private(self, pair: str, query: Query) -> list[Whispered]:
        entries = [(i, int(e.ts * 1000), e) for i, e in enumerate(self.kept.get(pair, []))]
        return [e for _, _, e in select(entries, query)]

    async def private_targets(
        self, account: str, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        found = []
        for pair, events in self.kept.items():
            a, b = pair.split(" ")
            newest = int(events[-1].ts * 1000)
            if account in (a, b) and newest_inside(newest, after_ms, before_ms):
                found.append((b if a == account else a, newest))
        return sorted(found, key=lambda item: item[1])[:limit]

    def forget_private(self, account: str) -> None:
        self.held.pop(account, None)
        for pair in [p for p in self.kept if account in p.split(" ")]:
            del self.kept[pair]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def rooms(store: MemoryStore) -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096)
    for name in ("alice", "bob", "dave"):
        await accounts.register(name, "sesame", f"192.0.2.{len(name)}")
    rooms = RoomManager(clock=Clock(), defer=lambda flush: flush(), accounts=accounts, max_held=2)
    rooms.history = store
    return rooms


async def user(rooms: RoomManager, name: str, *, account: bool = True) -> tuple[Member, Inbox]:
    inbox = Inbox()
    member = await rooms.claim(name, inbox, render, account=name if account else "")
    return member, inbox


LATEST = Query("", "latest", 50)


async def test_a_message_reaches_its_receiver_once_and_says_whom_it_reached(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    bob, inbox = await user(rooms, "bob")
    sent = await rooms.whisper(alice, "BOB", "psst")
    assert sent.to is bob
    assert (sent.event.sender, sent.event.target, sent.event.text) == ("alice", "bob", "psst")
    assert sent.event.account == "alice" and sent.event.msgid
    assert inbox.events() == ["('Whispered', 'alice', 'psst')"]
    assert alice.spoke == sent.event.ts  # WHOIS idle counts from it


async def test_between_two_accounts_it_is_kept_under_the_pair_whoever_sends(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    bob, _ = await user(rooms, "bob")
    await rooms.whisper(alice, "bob", "hi bob")
    await rooms.whisper(bob, "alice", "\x01ACTION waves", "action")
    assert [e.text for e in store.kept[pair_key("Bob", "ALICE")]] == ["hi bob", "\x01ACTION waves"]
    assert [e.text for e in await rooms.conversation(bob, "alice", LATEST)] == [
        "hi bob",
        "\x01ACTION waves",
    ]
    assert await rooms.conversation(alice, "bob", LATEST) == store.kept["alice bob"]


@pytest.mark.parametrize("kind", ["notice", "ctcp", "tagmsg"])
async def test_notices_ctcp_and_tags_are_delivered_but_never_kept(
    rooms: RoomManager, store: MemoryStore, kind: str
) -> None:
    alice, _ = await user(rooms, "alice")
    _, inbox = await user(rooms, "bob")
    await rooms.whisper(alice, "bob", "x", kind)
    assert inbox.events() == ["('Whispered', 'alice', 'x')"]
    assert store.kept == {} and alice.private is None


async def test_a_guests_messages_reach_no_store_only_the_account_sides_session(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    carol, _ = await user(rooms, "carol", account=False)
    await rooms.whisper(alice, "carol", "to the guest")
    await rooms.whisper(carol, "alice", "from the guest")
    assert store.kept == {} and carol.private is None
    got = await rooms.conversation(alice, "carol", LATEST)
    assert [e.text for e in got] == ["to the guest", "from the guest"]
    with pytest.raises(NotLoggedIn):
        await rooms.conversation(carol, "alice", LATEST)
    rooms.log_out(alice)  # a guest now: its session keeps nothing
    assert alice.private is None


async def test_two_guests_keep_nothing_anywhere(rooms: RoomManager, store: MemoryStore) -> None:
    carol, _ = await user(rooms, "carol", account=False)
    erin, _ = await user(rooms, "erin", account=False)
    await rooms.whisper(carol, "erin", "psst")
    assert store.kept == {} and carol.private is None and erin.private is None


@pytest.mark.parametrize("off", ["alice", "bob"])
async def test_dm_history_off_on_either_side_keeps_nothing_anywhere(
    rooms: RoomManager, store: MemoryStore, off: str
) -> None:
    account = rooms.accounts.find(off)
    assert account is not None
    rooms.accounts.change_settings(account, **{"dm-history": False})
    alice, _ = await user(rooms, "alice")
    bob, inbox = await user(rooms, "bob")
    carol, _ = await user(rooms, "carol", account=False)
    await rooms.whisper(alice, "bob", "not kept")
    await rooms.whisper(carol, off, "nor this")
    assert inbox.events()[0] == "('Whispered', 'alice', 'not kept')"  # delivered all the same
    assert store.kept == {} and alice.private is None and bob.private is None


async def test_an_offline_accounts_message_waits_and_is_handed_over_once(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    sent = await rooms.whisper(alice, "Dave", "while you were out")
    assert sent.to is None and sent.event.target == "dave"
    assert [e.text for e in store.kept["alice dave"]] == ["while you were out"]
    dave, _ = await user(rooms, "dave")
    assert [e.text for e in await rooms.held_for(dave)] == ["while you were out"]
    assert await rooms.held_for(dave) == []


async def test_two_logins_at_once_get_the_waiting_messages_once_between_them(
    rooms: RoomManager,
) -> None:
    alice, _ = await user(rooms, "alice")
    await rooms.whisper(alice, "dave", "once")
    dave, _ = await user(rooms, "dave")
    first, second = await asyncio.gather(rooms.held_for(dave), rooms.held_for(dave))
    assert sorted([len(first), len(second)]) == [0, 1]
    assert rooms.private._collecting == {}


async def test_with_dm_history_off_an_offline_message_waits_but_is_not_kept(
    rooms: RoomManager, store: MemoryStore
) -> None:
    account = rooms.accounts.find("dave")
    assert account is not None
    rooms.accounts.change_settings(account, **{"dm-history": False})
    alice, _ = await user(rooms, "alice")
    await rooms.whisper(alice, "dave", "delivered, not kept")
    assert store.kept == {} and len(store.held["dave"]) == 1


async def test_who_may_leave_a_message_for_an_offline_name(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    carol, _ = await user(rooms, "carol", account=False)
    with pytest.raises(NoSuchUser):
        await rooms.whisper(alice, "nobody", "a name neither online nor registered")
    with pytest.raises(NoSuchUser):
        await rooms.whisper(alice, "dave", "a notice does not wait", "notice")
    with pytest.raises(OfflineGuest):
        await rooms.whisper(carol, "dave", "a guest may not leave one")
    await rooms.whisper(alice, "dave", "one")
    await rooms.whisper(alice, "dave", "two")
    with pytest.raises(OfflineFull) as full:
        await rooms.whisper(alice, "dave", "three: past the limit")
    assert (full.value.name, full.value.limit) == ("dave", 2)
    assert [e.text for e in store.held["dave"]] == ["one", "two"]


async def test_without_a_store_nothing_waits(rooms: RoomManager) -> None:
    rooms.history = History()
    alice, _ = await user(rooms, "alice")
    with pytest.raises(OfflineNotKept):
        await rooms.whisper(alice, "dave", "nowhere to keep it")
    with pytest.raises(HistoryUnavailable):
        await rooms.conversation(alice, "bob", LATEST)


async def test_a_receiver_who_logs_in_while_the_store_takes_it_gets_it_at_once(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    store.slow = asyncio.Event()
    sending = asyncio.create_task(rooms.whisper(alice, "dave", "just in time"))
    await asyncio.sleep(0)
    _, inbox = await user(rooms, "dave")  # logged in, its own collect found nothing yet
    store.slow.set()
    assert (await sending).to is None
    assert inbox.events() == ["('Whispered', 'alice', 'just in time')"]
    assert store.held == {}


async def test_an_account_online_under_another_name_gets_it_live(rooms: RoomManager) -> None:
    alice, _ = await user(rooms, "alice")
    inbox = Inbox()
    dee = await rooms.claim("dee", inbox, render, account="dave")  # NickServ IDENTIFY dave
    sent = await rooms.whisper(alice, "dave", "found you")
    assert sent.to is dee and sent.event.target == "dee"
    assert inbox.events() == ["('Whispered', 'alice', 'found you')"]


async def test_conversation_targets_name_accounts_and_guests_by_their_newest_message(
    rooms: RoomManager,
) -> None:
    alice, _ = await user(rooms, "alice")
    await user(rooms, "bob")
    await user(rooms, "carol", account=False)
    first = (await rooms.whisper(alice, "bob", "a")).event
    second = (await rooms.whisper(alice, "carol", "b")).event
    everything = await rooms.conversation_targets(alice, 0, 2**62, 10)
    assert everything == [("bob", int(first.ts * 1000)), ("carol", int(second.ts * 1000))]
    assert await rooms.conversation_targets(alice, 0, int(second.ts * 1000), 10) == [
        ("bob", int(first.ts * 1000))
    ]


async def test_a_dropped_accounts_conversations_and_waiting_messages_go(
    rooms: RoomManager, store: MemoryStore
) -> None:
    alice, _ = await user(rooms, "alice")
    await user(rooms, "bob")
    await rooms.whisper(alice, "bob", "kept")
    await rooms.whisper(alice, "dave", "waiting")
    rooms.forget_conversations("Bob")
    rooms.forget_conversations("dave")
    assert store.kept == {} and store.held == {}
