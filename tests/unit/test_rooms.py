"""RoomManager and Room, driven directly: atomicity, snapshots, fan-out batching."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from registry import (
    AlreadyInRoom,
    Event,
    Joined,
    Left,
    Member,
    NameTaken,
    NoSuchRoom,
    Quit,
    Room,
    RoomExists,
    Said,
    TooManyRooms,
    Wallops,
)
from registry.history import History
from rooms import RoomManager


def render(event: Event) -> bytes:
    """The event's kind and its words: who, where, what (no masks or message ids)."""
    return repr(plain(event)).encode() + b"\n"


def plain(event: Event) -> tuple[object, ...]:
    keep = ("name", "sender", "text", "room", "reason", "old", "new")
    return (type(event).__name__, *(getattr(event, k) for k in keep if hasattr(event, k)))


class Inbox:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.writes.append(data)

    def events(self) -> list[str]:
        return b"".join(self.writes).decode().splitlines()


async def member(rooms: RoomManager, name: str) -> tuple[Member, Inbox]:
    inbox = Inbox()
    return await rooms.claim(name, inbox, render), inbox


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(clock=lambda: 0.0, defer=lambda flush: flush())


async def test_fifty_clients_creating_one_room_at_once_give_exactly_one_success() -> None:
    rooms = RoomManager()
    members = [await rooms.claim(f"u{i}", Inbox(), render) for i in range(50)]
    results = await asyncio.gather(
        *(rooms.create(m, "General") for m in members), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, RoomExists) for r in results if isinstance(r, Exception))
    assert await rooms.listing() == [("General", 1)]


async def test_names_are_unique_whatever_the_case(rooms: RoomManager) -> None:
    await member(rooms, "Alice")
    with pytest.raises(NameTaken):
        await member(rooms, "aLICE")


async def test_room_names_are_unique_whatever_the_case(rooms: RoomManager) -> None:
    alice, _ = await member(rooms, "alice")
    bob, _ = await member(rooms, "bob")
    await rooms.create(alice, "Lobby")
    with pytest.raises(RoomExists):
        await rooms.create(bob, "LOBBY")
    assert (await rooms.join(bob, "lobby"))[0].name == "Lobby"


async def test_listing_is_a_snapshot_not_the_live_registry(rooms: RoomManager) -> None:
    alice, _ = await member(rooms, "alice")
    one = await rooms.create(alice, "one")
    listing = await rooms.listing()
    await rooms.create(alice, "two", leave=one)
    assert listing == [("one", 1)]
    assert await rooms.listing() == [("two", 1)]


async def test_a_room_is_removed_when_its_last_member_leaves(rooms: RoomManager) -> None:
    alice, _ = await member(rooms, "alice")
    bob, _ = await member(rooms, "bob")
    await rooms.create(alice, "lobby")
    room, _ = await rooms.join(bob, "lobby")
    await rooms.leave(alice, room)
    assert await rooms.listing() == [("lobby", 1)]
    await rooms.release(bob)
    assert await rooms.listing() == []
    assert rooms.snapshot() == ({"alice": alice}, {})


async def test_joining_a_missing_room_or_the_same_room_is_refused(rooms: RoomManager) -> None:
    alice, _ = await member(rooms, "alice")
    with pytest.raises(NoSuchRoom):
        await rooms.join(alice, "nowhere")
    await rooms.create(alice, "lobby")
    with pytest.raises(AlreadyInRoom):
        await rooms.join(alice, "LOBBY")


async def test_room_count_is_capped() -> None:
    rooms = RoomManager(max_rooms=2, defer=lambda flush: flush())
    a, _ = await member(rooms, "a")
    b, _ = await member(rooms, "b")
    c, _ = await member(rooms, "c")
    await rooms.create(a, "one")
    await rooms.create(b, "two")
    with pytest.raises(TooManyRooms):
        await rooms.create(c, "three")


async def test_the_room_is_told_of_joins_leaves_and_quits_but_not_the_mover(
    rooms: RoomManager,
) -> None:
    alice, alice_inbox = await member(rooms, "alice")
    bob, bob_inbox = await member(rooms, "bob")
    await rooms.create(alice, "lobby")
    room, _ = await rooms.join(bob, "lobby")
    await rooms.leave(bob, room)
    await rooms.join(bob, "lobby")
    await rooms.release(bob, "reset")
    assert alice_inbox.events() == [
        repr(plain(Joined("bob", "lobby"))),
        repr(plain(Left("bob", "lobby"))),
        repr(plain(Joined("bob", "lobby"))),
        repr(plain(Quit("bob", "reset"))),
    ]
    assert bob_inbox.events() == []


async def test_a_burst_within_one_loop_pass_costs_each_member_one_write() -> None:
    rooms = RoomManager(clock=lambda: 0.0)
    alice, alice_inbox = await member(rooms, "alice")
    bob, bob_inbox = await member(rooms, "bob")
    room = await rooms.create(alice, "lobby")
    await rooms.join(bob, "lobby")
    room.flush()  # the join notice; this test is about what follows
    alice_inbox.writes.clear()
    for i in range(100):
        room.say(alice, f"m{i}")
    assert bob_inbox.writes == []
    flushed = asyncio.Event()
    asyncio.get_running_loop().call_soon(flushed.set)
    await flushed.wait()
    assert len(alice_inbox.writes) == len(bob_inbox.writes) == 1
    said = [Said("alice", f"m{i}", 0.0, "lobby") for i in range(100)]
    assert bob_inbox.events() == [repr(plain(event)) for event in said]


async def test_a_direct_message_never_overtakes_what_the_room_has_pending() -> None:
    rooms = RoomManager(clock=lambda: 0.0)
    alice, _ = await member(rooms, "alice")
    bob, bob_inbox = await member(rooms, "bob")
    room = await rooms.create(alice, "lobby")
    await rooms.join(bob, "lobby")
    room.say(alice, "first")
    bob.send(Said("alice", "second", 0.0, "lobby"))
    assert bob_inbox.events()[-2:] == [
        repr(plain(Said("alice", "first", 0.0, "lobby"))),
        repr(plain(Said("alice", "second", 0.0, "lobby"))),
    ]


async def test_a_leaver_gets_everything_said_before_it_left() -> None:
    rooms = RoomManager(clock=lambda: 0.0)
    alice, _ = await member(rooms, "alice")
    bob, bob_inbox = await member(rooms, "bob")
    room = await rooms.create(alice, "lobby")
    await rooms.join(bob, "lobby")
    room.say(bob, "bye")
    await rooms.leave(bob, room)
    assert bob_inbox.events()[-1] == repr(plain(Said("bob", "bye", 0.0, "lobby")))


class Elsewhere(Member):
    """A user of another server of a cluster, as cluster/link.py's RemoteMember is."""

    @property
    def server(self) -> str:
        return "node-b"


class SlowRelay:
    """A cluster whose claims wait for `answer`: meanwhile, another server's news
    (`meanwhile`) is applied, as the bus applies it between two awaits."""

    def __init__(self, meanwhile: Callable[[], object]) -> None:
        self.meanwhile = meanwhile
        self.answer = asyncio.Event()
        self.unclaimed: list[str] = []

    async def _wait(self) -> bool:
        self.meanwhile()
        await self.answer.wait()
        return True

    async def claim(self, name: str) -> bool:
        return await self._wait()

    async def claim_room(self, name: str) -> bool:
        return await self._wait()

    async def find_room(self, name: str) -> None:
        pass

    def unclaim(self, name: str) -> None:
        self.unclaimed.append(name)

    def claimed(self, member: Member) -> None: ...
    def logged(self, member: Member) -> None: ...
    def released(self, member: Member, reason: str) -> None: ...
    def renamed(self, member: Member, old: str) -> None: ...
    def away(self, member: Member) -> None: ...
    def logged_in(self, member: Member) -> None: ...
    def user_modes(self, member: Member) -> None: ...
    def realname(self, member: Member) -> None: ...
    def reconnected(self, member: Member) -> None: ...
    def created(self, room: Room, member: Member) -> None: ...
    def room_event(self, room: Room, event: Event) -> None: ...
    def closed(self, room: Room) -> None: ...
    def kill(self, target: Member, by: Member, reason: str) -> None: ...
    def wallops(self, event: Wallops) -> None: ...


def elsewhere(name: str) -> Elsewhere:
    return Elsewhere(name, Inbox(), lambda event: b"")


async def test_a_name_another_server_takes_while_the_cluster_answers_is_refused(
    rooms: RoomManager,
) -> None:
    remote = elsewhere("Alice")
    relay = rooms.relay = SlowRelay(lambda: rooms.add_user(remote))
    claiming = asyncio.create_task(rooms.claim("alice", Inbox(), render))
    await asyncio.sleep(0)  # the claim is waiting for the cluster now
    relay.answer.set()
    with pytest.raises(NameTaken):
        await claiming
    assert rooms.find("ALICE") is remote
    assert relay.unclaimed == ["alice"]  # the grant is given back


async def test_a_rename_to_a_name_another_server_takes_meanwhile_is_refused(
    rooms: RoomManager,
) -> None:
    bob, _ = await member(rooms, "bob")
    remote = elsewhere("carol")
    relay = rooms.relay = SlowRelay(lambda: rooms.add_user(remote))
    relay.answer.set()
    with pytest.raises(NameTaken):
        await rooms.rename(bob, "Carol")
    assert (bob.name, rooms.find("bob"), rooms.find("carol")) == ("bob", bob, remote)
    assert relay.unclaimed == ["Carol"]


async def test_a_room_another_server_makes_while_the_cluster_answers_is_joined_not_made(
    rooms: RoomManager,
) -> None:
    alice, _ = await member(rooms, "alice")
    remote = elsewhere("dave")
    rooms.add_user(remote)

    def made_elsewhere() -> None:
        rooms.enter(remote, rooms.ensure_room("Lobby", 1.0, {}), op=True, shown=False)

    relay = rooms.relay = SlowRelay(made_elsewhere)
    relay.answer.set()
    room, made = await rooms.join(alice, "lobby", create=True)
    assert (room.name, made, room.names()) == ("Lobby", False, ["alice", "dave"])
    assert alice not in room.ops


async def test_creating_a_room_another_server_makes_meanwhile_is_refused(
    rooms: RoomManager,
) -> None:
    alice, _ = await member(rooms, "alice")
    remote = elsewhere("dave")
    rooms.add_user(remote)

    def made_elsewhere() -> None:
        rooms.enter(remote, rooms.ensure_room("Lobby", 1.0, {}), op=True, shown=False)

    relay = rooms.relay = SlowRelay(made_elsewhere)
    relay.answer.set()
    with pytest.raises(RoomExists):
        await rooms.create(alice, "lobby")
    assert alice.rooms == {}


class KeepingHistory(History):
    """A store that keeps every line (nowhere): rooms that hold lines stay when empty."""

    is_on = True
    forgotten: list[str]

    def forget_room(self, key: str) -> None:
        self.forgotten.append(key)


async def test_empty_rooms_kept_for_their_history_give_way_to_new_rooms_stalest_first() -> None:
    """--max-rooms protects memory from live rooms: at the limit, the empty room kept
    longest without a line leaves memory (its lines stay in the store) for a new one;
    rooms with members never give way."""
    now = [1000.0]
    history = KeepingHistory()
    history.forgotten = []
    rooms = RoomManager(max_rooms=3, clock=lambda: now[0], defer=lambda flush: flush())
    rooms.attach_history(history)
    alice, _ = await member(rooms, "alice")
    for name in ("quiet", "busy", "live"):
        room = await rooms.create(alice, name)
        room.say(alice, f"said in {name}")
        now[0] += 1
        if name != "live":
            await rooms.leave(alice, room)
    assert [r.name for r in rooms.rooms()] == ["busy", "live", "quiet"]  # two kept, empty
    await rooms.create(alice, "new")  # at the limit: the stalest kept room gives way
    assert [r.name for r in rooms.rooms()] == ["busy", "live", "new"]
    assert history.forgotten == []  # out of memory only: its lines stay in the store
    bob, _ = await member(rooms, "bob")
    await rooms.create(bob, "newer")  # "busy" gives way too
    assert [r.name for r in rooms.rooms()] == ["live", "new", "newer"]
    carol, _ = await member(rooms, "carol")
    with pytest.raises(TooManyRooms):  # three live rooms: the limit holds
        await rooms.create(carol, "newest")


async def test_a_server_notice_reaches_every_user_here_worded_by_each_door() -> None:
    from doors.irc.render import render_for
    from doors.text.render import TextRender

    rooms = RoomManager(server_name="chat.example", defer=lambda flush: flush())
    alice_inbox, bob_inbox = Inbox(), Inbox()
    await rooms.claim("alice", alice_inbox, TextRender())
    await rooms.claim("bob", bob_inbox, render_for(False, False, False))
    rooms.notify_all("Cross-server chat stopped.")
    assert alice_inbox.writes == [b"* Cross-server chat stopped.\r\n"]
    assert bob_inbox.writes == [b":chat.example NOTICE bob :Cross-server chat stopped.\r\n"]


async def test_an_idle_room_holds_no_replay_ring_until_it_keeps_a_line() -> None:
    """An empty deque is 0.6 KB: a room that kept nothing shares one empty ring, and
    gets its own, as long as the server replays, with its first line kept."""
    history = KeepingHistory()
    history.forgotten = []
    rooms = RoomManager(clock=lambda: 0.0, defer=lambda flush: flush(), replay_lines=3)
    rooms.attach_history(history)
    alice, _ = await member(rooms, "alice")
    quiet, busy = await rooms.create(alice, "quiet"), await rooms.create(alice, "busy")
    assert quiet.recent is busy.recent and not quiet.recent
    for n in range(5):
        busy.say(alice, f"line {n}")
    assert quiet.recent is not busy.recent and not quiet.recent
    assert [event.text for event in busy.recent] == ["line 2", "line 3", "line 4"]
    assert busy.recent.maxlen == 3


async def test_voiced_and_muted_are_one_shared_empty_set_until_someone_is_in_them(
    rooms: RoomManager,
) -> None:
    alice, _ = await member(rooms, "alice")
    bob, _ = await member(rooms, "bob")
    lobby, hall = await rooms.create(alice, "lobby"), await rooms.create(alice, "hall")
    await rooms.join(bob, "lobby")
    assert lobby.voiced is hall.voiced is lobby.muted and not lobby.voiced
    lobby.set_voiced(bob, True)
    lobby.set_muted(bob, True)
    assert lobby.voiced == {bob} and lobby.muted == {bob} and hall.voiced == set()
    lobby.set_voiced(bob, False)
    assert lobby.voiced == set() and lobby.voiced is hall.voiced  # nobody: shared again
    await rooms.leave(bob, lobby)
    assert lobby.muted == set() and lobby.muted is hall.muted
