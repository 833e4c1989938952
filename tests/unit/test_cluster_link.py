"""cluster/link.py without Redis: batches out, batches in (the socket-free core)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pytest

import registry as r
from registry.credentials import derive
from registry.opers import Opers
from rooms import RoomManager
from tests.rigs.clusterrig import needs_redis

if TYPE_CHECKING:
    from cluster.link import ClusterLink

pytestmark = needs_redis()
T = TypeVar("T")
OPER_HASH = derive("hunter2", iterations=4096).encode()


async def inline(work: Callable[[], T], /) -> T:
    return work()


def link_capturing(node: str) -> tuple[ClusterLink, list[bytes]]:
    from cluster.link import ClusterLink

    opers = Opers([("root", OPER_HASH)], clock=time.time, run_slow=inline)
    rooms = RoomManager(defer=lambda flush: flush(), opers=opers)
    link = ClusterLink(rooms, "redis://127.0.0.1:1/0", node)  # never connected
    rooms.relay = link  # as start() does
    sent: list[bytes] = []
    link.bus.publish = lambda data, seq=0: sent.append(data)  # type: ignore[method-assign]
    return link, sent


def carry(sent: list[bytes], *links: ClusterLink) -> None:
    """What one link published so far, received by the others (as Redis would)."""
    for link in links:
        for batch in sent:
            link._received(batch)
    sent.clear()


class User:
    """A user of one link's server: the events it hears, and whether it was killed."""

    def __init__(self) -> None:
        self.heard: list[r.Event] = []
        self.killed: list[str] = []

    def render(self, event: r.Event) -> bytes:
        self.heard.append(event)
        return b""

    async def claim(self, link: ClusterLink, name: str, account: str = "") -> r.Member:
        member = await link.rooms.claim(name, lambda data: None, self.render, account=account)
        member.killed = self.killed.append
        link.flush()
        return member


@pytest.mark.timeout(10)
async def test_a_pass_goes_out_as_one_batch_and_comes_back_to_nobody_but_others() -> None:
    a, sent = link_capturing("a")
    b, _ = link_capturing("b")
    a._send("user", u={"name": "alice", "signon": 1.0})
    a._send("user", u={"name": "carol", "signon": 2.0})
    a.flush()
    assert len(sent) == 1  # one PUBLISH for the pass
    batch = json.loads(sent[0])
    assert batch[1:4] == ["a", a.epoch, 1] and len(batch[4]) == 2
    a._received(sent[0])  # its own: skipped
    assert a.rooms.find("alice") is None
    b._received(sent[0])  # another's: applied
    assert b.rooms.find("alice") is not None and b.rooms.find("carol") is not None
    b._received(sent[0])  # again: a duplicate, dropped and counted
    assert b.duplicates == 2


@pytest.mark.timeout(10)
async def test_a_batch_of_another_version_is_ignored_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    b, _ = link_capturing("b")
    other = json.dumps(["0" * 12, "a", 1, 1, [{"k": "user", "u": {"name": "x"}}]]).encode()
    b._received(other)
    b._received(other)
    assert b.rooms.find("x") is None
    assert len([r for r in caplog.records if "another version" in r.message]) == 1


@pytest.mark.timeout(10)
async def test_an_account_travels_with_its_user_and_its_logins_and_logouts() -> None:
    a, to_b = link_capturing("a")
    b, to_a = link_capturing("b")
    alice, carol = User(), User()
    alice_a = await alice.claim(a, "alice", account="alice")
    carol_b = await carol.claim(b, "carol")
    await b.rooms.create(carol_b, "lobby")
    carry(to_a, a)
    carry(to_b, b)
    await a.rooms.join(alice_a, "lobby")
    a.flush()
    carry(to_b, b)
    remote = b.rooms.find("alice")
    assert remote is not None and remote.account == "alice"
    assert r.Joined("alice", "lobby", alice_a.mask, "alice") in carol.heard
    a.rooms.log_out(alice_a)
    a.flush()
    carry(to_b, b)
    assert remote.account == "" and carol.heard[-1] == r.AccountChanged("alice", "", remote.mask)
    a.rooms.log_in(alice_a, "alice")
    a.flush()
    carry(to_b, b)
    assert remote.account == "alice"
    assert carol.heard[-1] == r.AccountChanged("alice", "alice", remote.mask)
    assert b.state()["users"][0]["account"] == ""  # carol: logged in to nothing
    assert a.state()["users"][0]["account"] == "alice"


@pytest.mark.timeout(10)
async def test_an_oper_kills_a_user_of_another_server_and_each_room_sees_one_quit() -> None:
    a, to_b = link_capturing("a")
    b, to_a = link_capturing("b")
    root, bob, carol, dave = User(), User(), User(), User()
    root_a = await root.claim(a, "root")
    carol_a = await carol.claim(a, "carol")
    bob_b = await bob.claim(b, "bob")
    await dave.claim(b, "dave")
    await b.rooms.create(bob_b, "lobby")
    carry(to_b, b)
    carry(to_a, a)
    await a.rooms.join(carol_a, "lobby")
    a.flush()
    carry(to_b, b)
    assert await a.rooms.make_oper(root_a, "root", "hunter2", "192.0.2.1")
    carol.heard.clear()
    killed = a.rooms.kill(root_a, "bob", "spam")
    assert killed.name == "bob" and a.rooms.find("bob") is not None  # its server puts it off
    a.flush()
    carry(to_b, b)
    why = "Killed (root (spam))"
    assert bob.killed == [why] and b.rooms.find("bob") is None
    assert dave.heard == []  # not in bob's room
    b.flush()
    carry(to_a, a)
    assert a.rooms.find("bob") is None
    assert carol.heard == [
        r.Quit("bob", why, bob_b.mask),
        r.ModeChanged("", "lobby", "+o", ("carol",), "server"),  # bob's server names the heir
    ]
    with pytest.raises(r.NoSuchUser):
        a.rooms.kill(root_a, "bob", "again")


@pytest.mark.timeout(10)
async def test_wallops_reach_the_opers_and_w_users_of_every_server() -> None:
    a, to_b = link_capturing("a")
    b, _ = link_capturing("b")
    root, wendy, nobody = User(), User(), User()
    root_a = await root.claim(a, "root")
    wendy_b = await wendy.claim(b, "wendy")
    await nobody.claim(b, "nobody")
    b.rooms.set_user_modes(wendy_b, {"w"})
    assert await a.rooms.make_oper(root_a, "root", "hunter2", "192.0.2.1")
    assert a.rooms.wallops(root_a, "rebooting soon") == 1  # the sender, here
    a.flush()
    carry(to_b, b)
    wallops = r.Wallops("root", "rebooting soon", root_a.mask)
    assert root.heard == [wallops] and wendy.heard == [wallops] and nobody.heard == []


@pytest.mark.timeout(10)
async def test_user_modes_are_shown_on_every_server_but_an_opers_powers_stay_home() -> None:
    a, to_b = link_capturing("a")
    b, _ = link_capturing("b")
    root = await User().claim(a, "root")
    carry(to_b, b)
    remote = b.rooms.find("root")
    assert remote is not None and remote.modes == set()
    assert await a.rooms.make_oper(root, "root", "hunter2", "192.0.2.1")
    a.rooms.set_user_modes(root, root.modes | {"i"})
    a.flush()
    carry(to_b, b)
    assert remote.modes == {"i", "o"} and not remote.oper
    a.rooms.set_user_modes(root, {"i"})
    a.flush()
    carry(to_b, b)
    assert remote.modes == {"i"}


async def test_a_remote_user_coming_changing_its_realname_and_going_reaches_watchers() -> None:
    from registry import Member
    from tests.unit.test_rooms import Inbox
    from tests.unit.test_watch import render, told

    a, sent = link_capturing("a")
    b, _ = link_capturing("b")
    inbox = Inbox()
    watcher = await b.rooms.claim("wat", inbox, render)
    b.rooms.watches.add(watcher, ["alice"])
    b.rooms.watches.hear_changes(watcher, True)
    alice = Member("alice", Inbox(), render, "~alice", "h", "Alice")
    a.claimed(alice)
    alice.realname = "Alice L."
    a.realname(alice)
    a.released(alice, "bye")
    a.flush()
    b._received(sent[0])
    assert told(inbox) == [
        "Online alice alice!~alice@h server wat",
        "RealnameChanged alice Alice L. alice!~alice@h",
        "Offline alice server wat",
    ]


@pytest.mark.timeout(10)
async def test_a_gap_is_filled_from_the_senders_log_before_what_follows_it() -> None:
    import asyncio

    a, sent = link_capturing("a")
    b, _ = link_capturing("b")
    a._send("user", u={"name": "x", "signon": 1.0})
    for old, new in (("x", "y"), ("y", "z"), ("z", "w")):
        a.flush()
        a._send("rename", old=old, new=new)
    a.flush()
    one, two, three, four = sent  # b hears 1 and 4; 2 and 3 are only in a's log
    logged = [json.loads(batch) for batch in (two, three, four)]
    asked: list[int] = []

    async def log_entries(node: str, epoch: int, start: int) -> list[tuple[int, list[object]]]:
        asked.append(start)
        await asyncio.sleep(0)
        return [(batch[3], batch[4]) for batch in logged if batch[3] >= start]

    b._log_entries = log_entries  # type: ignore[method-assign]
    b._received(one)
    b._received(four)  # a gap: held while the log is read
    assert b.rooms.find("x") is not None and b.rooms.find("w") is None
    b._received(four)  # again, while the log is read: once only
    while b._fills:
        await asyncio.sleep(0)
    assert asked == [2]
    assert b.rooms.find("w") is not None and b.lost == 0
    assert [b.rooms.find(n) for n in ("x", "y", "z")] == [None, None, None]


@pytest.mark.timeout(10)
async def test_a_gap_the_log_no_longer_holds_is_counted_logged_and_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    a, sent = link_capturing("a")
    b, to_a = link_capturing("b")
    heard = User()
    await heard.claim(b, "bob")
    for name in ("x", "y", "z"):
        a._send("user", u={"name": name, "signon": 1.0})
        a.flush()

    async def log_entries(node: str, epoch: int, start: int) -> list[tuple[int, list[object]]]:
        await asyncio.sleep(0)
        return []  # trimmed, or Redis lost its data

    b._log_entries = log_entries  # type: ignore[method-assign]
    b._received(sent[0])
    b._received(sent[2])  # 2 is gone
    while b._fills:
        await asyncio.sleep(0)
    assert b.lost == 1 and b.rooms.find("z") is not None and b.rooms.find("y") is None
    assert [r.message for r in caplog.records if "lost 1 message from node a" in r.message]
    told = [e for e in heard.heard if "did not reach this server" in str(e)]
    assert len(told) == 1, heard.heard
    assert any(json.loads(batch)[4][0].get("k") == "hello" for batch in to_a)  # its state


@pytest.mark.timeout(10)
async def test_the_census_counts_users_servers_and_opers_as_they_come_and_go() -> None:
    a, to_b = link_capturing("a")
    b, _ = link_capturing("b")
    root = await User().claim(a, "root")
    await User().claim(b, "bob")
    carry(to_b, b)
    assert b.rooms.census() == (2, 1, frozenset({"a"}), 0)
    assert await a.rooms.make_oper(root, "root", "hunter2", "192.0.2.1")
    a.flush()
    carry(to_b, b)
    assert a.rooms.census() == (1, 1, frozenset(), 1)
    assert b.rooms.census() == (2, 1, frozenset({"a"}), 1)  # an oper of another server
    a.rooms.set_user_modes(root, {"i"})
    a.flush()
    carry(to_b, b)
    assert b.rooms.census().opers == 0
    await a.rooms.disconnect(root, None)
    a.flush()
    carry(to_b, b)
    assert a.rooms.census() == (0, 0, frozenset(), 0)
    assert b.rooms.census() == (1, 1, frozenset(), 0)
