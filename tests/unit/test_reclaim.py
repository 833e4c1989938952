"""Reclaim codes end to end: a user whose connection dropped takes its name back."""

from __future__ import annotations

import logging
import re

import pytest

from registry.reclaim import Reclaims
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room

CODE = re.compile(r"\* Reclaim code: (\S+) \(after a dropped connection: /reclaim (\S+) \1\)")


async def login_with_code(
    connect: Connect, name: str, room: str | None = None
) -> tuple[ChatClient, str]:
    client = await connect()
    await client.expect("Enter your username:")
    await client.send(name)
    lines = await client.expect(CODE)
    match = CODE.fullmatch(lines[-1])
    assert match is not None
    await client.expect("Enter your choice:")
    if room is not None:
        await client.join(room)
    return client, match.group(1)


async def reclaim(connect: Connect, name: str, code: str) -> tuple[ChatClient, list[str]]:
    client = await connect()
    await client.expect("Enter your username:")
    await client.send(f"/reclaim {name} {code}")
    first = await client.line()
    return client, [first]


async def test_a_ghost_is_replaced_and_the_room_sees_a_reconnect(connect: Connect) -> None:
    bob = await in_room(connect, "bob", "lobby", create=True)
    ghost, code = await login_with_code(connect, "alice", "lobby")
    await bob.expect("* alice has joined lobby")
    fresh, lines = await reclaim(connect, "alice", code)
    assert lines == ["* Welcome back, alice!"]
    assert CODE.fullmatch(await fresh.line())
    assert await fresh.line() == "Joined room [lobby]. Type 'exit' to leave, /help for commands."
    assert await fresh.line() == "* Users in lobby: alice, @bob"
    assert await bob.line() == "* alice reconnected"
    assert await ghost.expect_closed() == ["! Your name was reclaimed by a new connection."]
    await fresh.send("I am back")
    assert re.fullmatch(r"\[\d\d:\d\d\] <alice> I am back", await bob.line())


async def test_a_wrong_code_and_a_used_code_are_refused(connect: Connect) -> None:
    _, code = await login_with_code(connect, "alice")
    intruder, lines = await reclaim(connect, "alice", code + "x")
    assert lines == ['! Cannot reclaim "alice": the code is wrong or expired.']
    assert await intruder.line() == "Enter your username:"
    _, lines = await reclaim(connect, "alice", code)
    assert lines == ["* Welcome back, alice!"]
    _, lines = await reclaim(connect, "alice", code)  # the code rotated on use
    assert lines == ['! Cannot reclaim "alice": the code is wrong or expired.']


async def test_a_code_works_for_a_while_after_a_disconnect_and_gives_the_menu(
    connect: Connect,
) -> None:
    gone, code = await login_with_code(connect, "alice")
    await gone.close()
    watcher = await connect("watcher")
    await watcher.send("/users")
    await watcher.expect("* Users online (1): watcher")
    back, lines = await reclaim(connect, "alice", code)
    assert lines == ["* Welcome back, alice!"]
    assert CODE.fullmatch(await back.line())
    await back.expect("Enter your choice:")


async def test_attempts_are_limited_per_address(connect: Connect) -> None:
    _, code = await login_with_code(connect, "alice")
    for _ in range(5):
        _, lines = await reclaim(connect, "alice", "guess")
        assert lines == ['! Cannot reclaim "alice": the code is wrong or expired.']
    _, lines = await reclaim(connect, "alice", code)
    assert lines == ["! Too many reclaim attempts; wait 60 s."]


async def test_no_code_reaches_the_log_even_at_debug(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("chatroom").setLevel(logging.DEBUG)
    try:
        _, code = await login_with_code(connect, "alice")
        await reclaim(connect, "alice", code)
    finally:
        logging.getLogger("chatroom").setLevel(logging.NOTSET)
    assert code not in caplog.text


def test_a_code_expires_after_its_time_and_never_matches_another_name() -> None:
    now = [0.0]
    codes = Reclaims(lambda: now[0], ttl_s=10)
    code = codes.issue("alice", "Alice")
    assert codes.check("bob", code) is None
    codes.disconnected("alice")
    now[0] = 11
    assert codes.check("alice", code) is None
    fresh = codes.issue("alice", "Alice")
    assert codes.check("alice", fresh) == "Alice"
    assert codes.check("alice", fresh) is None  # used up


def test_a_connected_holder_whose_name_is_its_key_keeps_only_a_digest() -> None:
    """While its holder is connected, a code of a name that is its own key is a bare
    digest (no record object per idle connection); it works, is renamed, and expires
    once the holder leaves, as any code."""
    now = [0.0]
    codes = Reclaims(lambda: now[0], ttl_s=10)
    code = codes.issue("bob", "bob")
    assert isinstance(codes._codes["bob"], bytes)
    codes.issue("carol", "Carol")
    assert not isinstance(codes._codes["carol"], bytes)  # the name as written is kept
    codes.renamed("bob", "rob", "rob")
    assert isinstance(codes._codes["rob"], bytes)
    assert codes.check("rob", code) == "rob"
    fresh = codes.issue("rob", "rob")
    codes.renamed("rob", "bobby", "Bobby")
    codes.disconnected("bobby")
    now[0] = 5.0
    assert codes.check("bobby", fresh) == "Bobby"
    late = codes.issue("dave", "dave")
    codes.disconnected("dave")
    now[0] = 16.0
    assert codes.check("dave", late) is None  # expired 10 s after its holder left
