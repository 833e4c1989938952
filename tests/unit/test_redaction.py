"""Taking a message back (registry/redaction.py, IRCv3 draft/message-redaction), over
the real SQLite store: who may, what is known, and what goes (the replay ring, the
store, a session's messages with a guest); how each door words it. No sockets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import registry as r
from doors.irc.render import render_for
from doors.text.render import TextRender
from registry.history import Query, pair_key
from registry.masks import Change
from rooms import RoomManager
from store.sqlite import SqliteHistory, open_history

LATEST = Query("general", "latest", 50)


class Heard:
    """A member's render and write: what it was told, as events."""

    def __init__(self) -> None:
        self.events: list[r.Event] = []

    def render(self, event: r.Event) -> bytes:
        self.events.append(event)
        return b""

    def redacted(self) -> list[r.Redacted]:
        return [event for event in self.events if isinstance(event, r.Redacted)]


def nothing(data: bytes) -> None:
    """A member's write that keeps nothing."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteHistory]:
    history = open_history(str(tmp_path / "h.db"), recent=2, retention_s=0)
    yield history
    await history.aclose()


def registry(history: SqliteHistory, clock: list[float]) -> RoomManager:
    rooms = RoomManager(history=history, replay_lines=2, clock=lambda: clock[0],
                        defer=lambda flush: flush())  # fmt: skip
    rooms.attach_history(history)
    return rooms


async def user(rooms: RoomManager, name: str, account: str = "") -> tuple[r.Member, Heard]:
    heard = Heard()
    member = await rooms.claim(name, nothing, heard.render, account=account, host="10.0.0.1")
    return member, heard


async def texts(history: SqliteHistory, query: Query = LATEST) -> list[str]:
    return [event.text for event in await history.fetch(query)]


async def test_the_sender_takes_its_message_back_and_it_leaves_ring_store_and_view(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, _ = await user(rooms, "alice")
    bob, bob_heard = await user(rooms, "bob")
    room = await rooms.create(alice, "general")
    await rooms.join(bob, "general")
    room.say(alice, "keep me")
    room.say(bob, "oops")
    said = room.recent[-1]
    event = await rooms.redact(bob, "general", said.msgid, "typo")
    assert (event.name, event.author, event.target_msgid, event.room, event.reason) == (
        "bob",
        "bob",
        said.msgid,
        "general",
        "typo",
    )
    assert [kept.text for kept in room.recent if isinstance(kept, r.Said)] == ["keep me"]
    assert await texts(store) == ["keep me"]  # the store deleted it (queued, then read)
    assert bob_heard.redacted() == [event]  # the room heard it, its sender too
    with pytest.raises(r.NoSuchMessage):  # once
        await rooms.redact(bob, "general", said.msgid)


async def test_only_the_rooms_operators_take_back_someone_elses_message(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, _ = await user(rooms, "alice")
    bob, _ = await user(rooms, "bob")
    room = await rooms.create(alice, "general")
    await rooms.join(bob, "general")
    room.say(alice, "the op's")
    mine = room.recent[-1].msgid
    with pytest.raises(r.RedactForbidden):
        await rooms.redact(bob, "general", mine)
    room.say(bob, "spam")
    await rooms.redact(alice, "general", room.recent[-1].msgid, "spam")
    assert await texts(store) == ["the op's"]
    rooms.change_modes(alice, room, [Change("+", "o", "bob")])
    await rooms.redact(bob, "general", mine)  # an operator now
    assert await texts(store) == []


async def test_what_history_does_not_keep_or_no_longer_holds_is_unknown(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, _ = await user(rooms, "alice")
    room = await rooms.create(alice, "general")
    rooms.set_topic(alice, room, "a topic")
    topic = room.recent[-1].msgid
    for msgid in (topic, "12345", "not-a-number", "9" * 40):
        with pytest.raises(r.NoSuchMessage):
            await rooms.redact(alice, "general", msgid)
    with pytest.raises(r.NoSuchRoom):
        await rooms.redact(alice, "nowhere", topic)
    bob, _ = await user(rooms, "bob")
    with pytest.raises(r.NotInRoom):  # a room it is not in tells it nothing of its lines
        await rooms.redact(bob, "general", topic)


async def test_a_message_gone_from_the_ring_is_found_in_the_store(store: SqliteHistory) -> None:
    rooms = registry(store, [1000.0])
    alice, _ = await user(rooms, "alice")
    room = await rooms.create(alice, "general")
    for text in ("first", "second", "third"):
        room.say(alice, text)
    first = (await store.fetch(LATEST))[0]
    assert first.text == "first" and first not in room.recent  # the ring holds two
    await rooms.redact(alice, "general", first.msgid)
    assert await texts(store) == ["second", "third"]


async def test_a_guest_takes_back_what_it_said_under_its_name_not_another_holders(
    store: SqliteHistory,
) -> None:
    clock = [1000.0]
    rooms = registry(store, clock)
    alice, _ = await user(rooms, "alice")
    bob, _ = await user(rooms, "bob")
    room = await rooms.create(alice, "general")
    await rooms.join(bob, "general")
    room.say(bob, "by the first bob")
    said = room.recent[-1].msgid
    clock[0] += 1
    await rooms.rename(bob, "robert")
    carol, _ = await user(rooms, "carol")  # signed on before, takes the name after
    await rooms.join(carol, "general")
    await rooms.rename(carol, "bob")
    for who in (bob, carol):
        with pytest.raises(r.RedactForbidden):
            await rooms.redact(who, "general", said)
    await rooms.rename(bob, "bob2")
    clock[0] += 1
    room.say(bob, "said as bob2")
    await rooms.redact(bob, "general", room.recent[-1].msgid)


async def test_a_message_sent_from_an_account_is_its_accounts_after_a_restart(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "h.db")
    history = open_history(path, recent=2, retention_s=0)
    rooms = registry(history, [1000.0])
    alice, _ = await user(rooms, "alice", account="alice")
    room = await rooms.create(alice, "general")
    room.say(alice, "from the account")
    await history.aclose()
    again = open_history(path, recent=2, retention_s=0)
    rooms = registry(again, [2000.0])
    back, _ = await user(rooms, "alice_", account="alice")  # another name, the same account
    await rooms.join(back, "general")
    guest, _ = await user(rooms, "alice")
    await rooms.join(guest, "general")
    said = rooms.room("general").recent[-1]  # type: ignore[union-attr]
    with pytest.raises(r.RedactForbidden):
        await rooms.redact(guest, "general", said.msgid)  # the name is no proof
    await rooms.redact(back, "general", said.msgid)
    assert await texts(again) == []
    await again.aclose()


async def test_another_server_of_a_cluster_drops_the_line_from_its_ring(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, heard = await user(rooms, "alice")
    room = await rooms.create(alice, "general")
    room.say(alice, "said here")
    said = room.recent[-1]
    event = r.Redacted("bob", said.msgid, "alice", said.ts, 1001.0, "general")
    rooms.apply("general", event)  # as cluster/link.py applies another server's
    assert said not in room.recent and heard.redacted() == [event]


async def test_a_private_message_between_accounts_is_taken_back_by_its_sender_only(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, alice_heard = await user(rooms, "alice", account="alice")
    bob, bob_heard = await user(rooms, "bob", account="bob")
    sent = (await rooms.whisper(alice, "bob", "private")).event
    with pytest.raises(r.RedactForbidden):
        await rooms.redact_private(bob, "alice", sent.msgid)
    with pytest.raises(r.NoSuchMessage):  # not of this conversation
        await rooms.redact_private(alice, "alice", sent.msgid)
    event = await rooms.redact_private(alice, "bob", sent.msgid, "wrong window")
    assert (event.target, event.room, event.reason) == ("bob", "", "wrong window")
    assert alice_heard.redacted() == bob_heard.redacted() == [event]
    assert await store.fetch_private(pair_key("alice", "bob"), Query("", "latest", 9)) == []
    with pytest.raises(r.NoSuchUser):
        await rooms.redact_private(alice, "nobody", sent.msgid)


async def test_a_message_waiting_for_an_offline_account_is_not_delivered_once_taken_back(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    rooms.attach_accounts(store)
    await rooms.accounts.register("dave", "sesame", "10.0.0.2")
    alice, _ = await user(rooms, "alice", account="alice")
    sent = (await rooms.whisper(alice, "dave", "for later")).event
    await rooms.redact_private(alice, "dave", sent.msgid)
    dave, _ = await user(rooms, "dave", account="dave")
    assert await rooms.held_for(dave) == []


async def test_a_message_with_a_guest_leaves_the_account_sides_session(
    store: SqliteHistory,
) -> None:
    rooms = registry(store, [1000.0])
    alice, _ = await user(rooms, "alice", account="alice")
    guest, guest_heard = await user(rooms, "guest")
    sent = (await rooms.whisper(alice, "guest", "to a guest")).event
    assert alice.private is not None and list(alice.private) == [sent]
    await rooms.redact_private(alice, "guest", sent.msgid)
    assert list(alice.private) == [] and len(guest_heard.redacted()) == 1
    back = (await rooms.whisper(guest, "alice", "from a guest")).event
    await rooms.redact_private(guest, "alice", back.msgid)  # found in alice's session
    assert list(alice.private) == []


def test_each_door_words_a_message_taken_back() -> None:
    said = time.mktime((2026, 12, 1, 14, 2, 0, 0, 0, -1))
    event = r.Redacted("alice", "77", "bob", said, said + 60, "general", "", "spam",
                       "alice!~alice@h", "78", "alice")  # fmt: skip
    assert TextRender("general").line(event) == (
        "* alice deleted bob's message of 14:02 in general (spam)"
    )
    own = r.Redacted("bob", "77", "bob", said, said + 86400, "", "alice", mask="bob!~bob@h")
    assert TextRender().line(own) == "* bob deleted their private message of 2026-12-01 14:02"
    assert render_for(False, False, False).line(event) == ""  # without the capability
    tagged = render_for(False, True, False, account_tag=True, redaction=True)
    assert tagged.line(event) == "@account=alice;msgid=78 :alice!~alice@h REDACT #general 77 spam"
    assert (
        render_for(False, False, False, redaction=True).line(own) == ":bob!~bob@h REDACT alice 77"
    )
