"""cluster/link.py without Redis: batches out, batches in (the socket-free core)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from rooms import RoomManager
from tests.rigs.clusterrig import needs_redis

if TYPE_CHECKING:
    from cluster.link import ClusterLink

pytestmark = needs_redis()


def link_capturing(node: str) -> tuple[ClusterLink, list[bytes]]:
    from cluster.link import ClusterLink

    link = ClusterLink(RoomManager(), "redis://127.0.0.1:1/0", node)  # never connected
    sent: list[bytes] = []
    link.bus.publish = sent.append  # type: ignore[method-assign,assignment]
    return link, sent


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
