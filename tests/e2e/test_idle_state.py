"""An idle connection holds only what it uses (issue 23, bench/idle_profile.py): what
it never used is absent, not empty, and made when first used. A regression that makes
every connection hold one again fails here, over real sockets."""

from __future__ import annotations

import asyncio
import re

import pytest

from config.settings import Config
from doors.irc.client import NO_CAPS, NO_CHAT_ROOMS, IrcClient
from doors.text.session import Session
from net.connection import Connection
from net.listeners import ChatServer
from net.transport import SocketTransport
from tests.conftest import Connect
from tests.rigs.chat import connection_of, in_room, wait_until
from tests.rigs.irc import IrcClient as IrcTestClient

CONFIG = Config(port=0, irc_port=0, max_line_bytes=64, irc_server_name="irc.test")


def own_timer_handles(conn: Connection) -> list[asyncio.TimerHandle]:
    """The loop's timers whose callback is bound to `conn` (none: its deadlines wait on
    the server's timer wheel)."""
    loop = asyncio.get_running_loop()
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return [
        h for h in scheduled if getattr(getattr(h, "_callback", None), "__self__", None) is conn
    ]


@pytest.mark.parametrize("config", [CONFIG])
async def test_an_idle_text_connection_holds_nothing_it_never_used(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "lobby", create=True)
    await in_room(connect, "bob", "lobby")
    conn = connection_of(server, "alice")
    assert not hasattr(conn, "__dict__")  # slots
    assert isinstance(conn.transport, SocketTransport)
    assert conn.transport._buffer is None  # no write buffer while the kernel takes it all
    assert conn._episodes is None and conn.lines._runs is None
    assert conn.login_deadline is None and own_timer_handles(conn) == []
    session = conn.session
    assert isinstance(session, Session) and not hasattr(session, "__dict__")
    member = session.member
    assert member is not None and member.holder is session
    assert (member.detach, member.kicked, member.killed, member.banned) == (None,) * 4
    assert member.modes == frozenset() and isinstance(member.modes, frozenset)
    # Used, each is made: a line over the limit is an episode of the limit.
    await alice.send("x" * 100)
    await alice.expect("! Line too long (limit 64 bytes).")
    assert conn._episodes == {"long"}


@pytest.mark.parametrize("config", [CONFIG])
async def test_an_idle_irc_connection_holds_nothing_it_never_used(server: ChatServer) -> None:
    client = await IrcTestClient.open(server.irc_port)
    try:
        await client.register("carol")
        await client.join("#room")
        conn = connection_of(server, "carol")
        session = conn.session
        assert isinstance(session, IrcClient) and not hasattr(session, "__dict__")
        assert session.caps is NO_CAPS and session._guest_marks is None
        assert session.chat_rooms is NO_CHAT_ROOMS
        assert session.member is not None and session.member.holder is session
        # The keepalive check is in the timer wheel, not a loop timer of its own.
        assert conn._ping_at is not None and server.timers.when(conn._ping_at) is not None
        assert own_timer_handles(conn) == []
        # Used, each is made.
        await client.send("CAP REQ :echo-message")
        await client.expect(re.compile(r":irc\.test CAP carol ACK :?echo-message"))
        assert session.caps == {"echo-message"} and session.caps is not NO_CAPS
        assert session.guest_marks == {} and session._guest_marks == {}
        await client.send("PRIVMSG #room :hello", "PING :said")
        await client.expect(re.compile(r".* PONG .*said"))
        assert session.chat_rooms is not NO_CHAT_ROOMS and NO_CHAT_ROOMS == {}
        assert list(session.chat_rooms) == ["PRIVMSG #room"]
    finally:
        await client.close()
    await wait_until(lambda: not server.connections())
