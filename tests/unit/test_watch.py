"""Watch lists (registry/watch.py) through RoomManager: every way onto a name and off
it tells the name's watchers, once, whatever the case; the lists are bounded; and a
watcher who asked hears the watched user's own changes (IRCv3 extended-monitor)."""

from __future__ import annotations

import pytest

from registry import Event, Member
from rooms import RoomManager
from tests.unit.test_rooms import Elsewhere, Inbox


def render(event: Event) -> bytes:
    """The event's kind, then its fields, one line."""
    fields = getattr(event, "__slots__", ())
    return (" ".join([type(event).__name__, *(str(getattr(event, f)) for f in fields)])).encode()


def told(inbox: Inbox) -> list[str]:
    lines, inbox.writes[:] = [w.decode() for w in inbox.writes], []
    return lines


async def member(rooms: RoomManager, name: str) -> tuple[Member, Inbox]:
    inbox = Inbox()
    return await rooms.claim(name, inbox, render, user="~" + name, host="h"), inbox


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(clock=lambda: 0.0, defer=lambda flush: flush(), server_name="srv")


async def test_a_watcher_hears_a_name_come_online_and_go_offline_whatever_the_case(
    rooms: RoomManager,
) -> None:
    watcher, inbox = await member(rooms, "wat")
    assert rooms.watches.add(watcher, ["ALICE"]) == []
    alice, _ = await member(rooms, "Alice")
    assert told(inbox) == ["Online Alice Alice!~Alice@h srv wat"]
    await rooms.release(alice, "bye")
    assert told(inbox) == ["Offline Alice srv wat"]


async def test_a_rename_is_the_old_name_going_and_the_new_one_coming(
    rooms: RoomManager,
) -> None:
    old_watcher, old_inbox = await member(rooms, "w1")
    new_watcher, new_inbox = await member(rooms, "w2")
    rooms.watches.add(old_watcher, ["bob"])
    rooms.watches.add(new_watcher, ["robert"])
    bob, _ = await member(rooms, "bob")
    told(old_inbox)
    await rooms.rename(bob, "Robert")
    assert told(old_inbox) == ["Offline bob srv w1"]
    assert told(new_inbox) == ["Online Robert Robert!~bob@h srv w2"]
    await rooms.rename(bob, "ROBERT")  # a change of case only: the same name
    assert told(old_inbox) == told(new_inbox) == []
    await rooms.rename(bob, "bob")  # its last spelling is the name that goes offline
    assert told(new_inbox) == ["Offline ROBERT srv w2"]
    assert told(old_inbox) == ["Online bob bob!~bob@h srv w1"]


async def test_a_killed_user_goes_offline(rooms: RoomManager) -> None:
    watcher, inbox = await member(rooms, "wat")
    oper, _ = await member(rooms, "oper")
    oper.oper = "oper"
    await member(rooms, "eve")
    rooms.watches.add(watcher, ["eve"])
    rooms.kill(oper, "eve", "spam")
    assert told(inbox) == ["Offline eve srv wat"]


async def test_a_user_of_another_server_comes_renames_and_goes(rooms: RoomManager) -> None:
    watcher, inbox = await member(rooms, "wat")
    rooms.watches.add(watcher, ["dave", "david"])
    dave = Elsewhere("dave", Inbox(), render, "~dave", "far")
    assert rooms.add_user(dave)
    assert rooms.rename_user(dave, "David")
    rooms.drop_user(dave, "node-b lost touch with the cluster")
    assert told(inbox) == [
        "Online dave dave!~dave@far srv wat",
        "Offline dave srv wat",
        "Online David David!~dave@far srv wat",
        "Offline David srv wat",
    ]


async def test_nobody_is_told_of_itself_and_a_gone_watcher_is_forgotten(
    rooms: RoomManager,
) -> None:
    alice, inbox = await member(rooms, "alice")
    rooms.watches.add(alice, ["alice", "bob"])
    await rooms.rename(alice, "alicia")
    await rooms.rename(alice, "alice")
    assert told(inbox) == []  # a client knows its own name
    await rooms.release(alice)
    assert rooms.watches.names(alice) == []
    await member(rooms, "bob")
    assert told(inbox) == []


async def test_a_list_holds_at_most_the_limit_and_a_name_once() -> None:
    rooms = RoomManager(defer=lambda flush: flush(), max_watch=2)
    alice, _ = await member(rooms, "alice")
    assert rooms.watches.add(alice, ["a", "B", "b", "c", "d"]) == ["c", "d"]
    assert rooms.watches.names(alice) == ["a", "B"]
    assert rooms.watches.remove(alice, ["A", "x"]) == ["a"]
    assert rooms.watches.add(alice, ["c"]) == []
    rooms.watches.clear(alice)
    assert rooms.watches.names(alice) == []


async def test_only_a_watcher_who_asked_hears_the_watched_users_changes_once(
    rooms: RoomManager,
) -> None:
    eager, eager_inbox = await member(rooms, "eager")
    plain, plain_inbox = await member(rooms, "plain")
    peer, peer_inbox = await member(rooms, "peer")
    bob, _ = await member(rooms, "bob")
    for watcher in (eager, plain, peer):
        rooms.watches.add(watcher, ["bob"])
    rooms.watches.hear_changes(eager, True)
    rooms.watches.hear_changes(peer, True)
    room = await rooms.create(bob, "lobby")
    await rooms.join(peer, "lobby")
    for inbox in (eager_inbox, plain_inbox, peer_inbox):
        told(inbox)
    rooms.set_away(bob, "lunch")
    rooms.log_in(bob, "bob")
    rooms.set_realname(bob, "Bob B.")
    changes = [
        "AwayChanged bob lunch bob!~bob@h",
        "AccountChanged bob bob bob!~bob@h",
        "RealnameChanged bob Bob B. bob!~bob@h",
    ]
    assert told(eager_inbox) == changes
    assert told(peer_inbox) == changes  # once, though it shares a room too
    assert told(plain_inbox) == []
    assert bob.realname == "Bob B." and room.members
    rooms.watches.hear_changes(eager, False)
    rooms.set_away(bob, "")
    assert told(eager_inbox) == []


async def test_a_change_heard_by_watching_comes_after_what_the_watchers_rooms_said_first() -> None:
    rooms = RoomManager(defer=lambda flush: None)  # a room's batch waits for its flush
    watcher, inbox = await member(rooms, "wat")
    carol, _ = await member(rooms, "carol")
    bob, _ = await member(rooms, "bob")
    room = await rooms.create(watcher, "lobby")
    await rooms.join(carol, "lobby")
    room.flush()
    rooms.watches.add(watcher, ["bob"])
    rooms.watches.hear_changes(watcher, True)
    told(inbox)
    room.say(carol, "hi")  # batched, not written yet
    rooms.set_away(bob, "lunch")
    assert [line.split()[0] for line in told(inbox)] == ["Said", "AwayChanged"]
