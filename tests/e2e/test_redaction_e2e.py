"""Taking a message back end to end (docs/irc.md, "Message redaction"; docs/protocol.md,
"History"): the real server on port 0 with history, IRC and text clients over sockets.
REDACT reaches the clients that negotiated draft/message-redaction, the text door's
users read a notice, the others nothing; the message leaves CHATHISTORY and /history;
a private message between accounts is taken back on both sides."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.message import parse
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import in_room
from tests.rigs.irc import IrcClient

REDACTION = "draft/message-redaction"
CAPS = ("batch", "echo-message", "labeled-response", "message-tags", "server-time",
        "draft/chathistory", REDACTION)  # fmt: skip
PASSWORD = "correct-horse-battery"
IrcConnect = Callable[..., Awaitable[IrcClient]]
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        db_path=str(tmp_path / "chat.db"),
    )  # fmt: skip


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def open_client(nick: str, caps: tuple[str, ...] = CAPS, *, account: bool = False
                          ) -> IrcClient:  # fmt: skip
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        if account:
            await client.send(f"PASS {nick}:{PASSWORD}")
        await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def sent(client: IrcClient, target: str, text: str) -> str:
    """Send a PRIVMSG; the msgid its echo carries."""
    await client.send(f"PRIVMSG {target} :{text}")
    echo = (await client.expect(rx(rf"@\S+ :{client.nick}!\S+ PRIVMSG {target} :?{text}")))[-1]
    msg = parse(echo)
    assert msg is not None
    return msg.tags["msgid"]


async def history(client: IrcClient, target: str) -> list[str]:
    """The texts CHATHISTORY LATEST gives back for the target."""
    await client.send(f"CHATHISTORY LATEST {target} * 10")
    await client.expect(rx(rf":irc\.test BATCH \+\S+ chathistory {target}"))
    lines = await client.expect(rx(r":irc\.test BATCH -\S+"))
    found = [parse(x) for x in lines]
    return [m.params[-1] for m in found if m is not None and m.command == "PRIVMSG"]


async def test_a_channel_message_taken_back_leaves_history_and_reaches_who_asked_for_it(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await irc("alice")  # the operator
    await alice.join("#general")
    bob = await irc("bob")
    await bob.join("#general")
    carol = await irc("carol", ("echo-message", "message-tags"))  # no redaction
    await carol.join("#general")
    dave = await in_room(connect, "dave", "general")
    kept = await sent(alice, "#general", "keep me")
    oops = await sent(bob, "#general", "oops")
    await bob.send(f"REDACT #general {kept}")
    await bob.expect(
        f":irc.test FAIL REDACT REDACT_FORBIDDEN #general {kept} "
        ":You are not authorised to delete this message"
    )
    await carol.send(f"REDACT #general {oops}")
    read = await carol.expect(":irc.test 421 carol REDACT :Unknown command")
    assert read[-2].endswith(":bob!~bob@127.0.0.1 PRIVMSG #general oops"), read
    await alice.send(f"REDACT #general {oops} :spam here")
    line = rx(rf"@\S*msgid=\d+\S* :alice!~alice@127\.0\.0\.1 REDACT #general {oops} :spam here")
    await alice.expect(line)
    await bob.expect(line)
    await dave.expect(rx(r"\* alice deleted bob's message of \d\d:\d\d in general \(spam here\)"))
    await sent(alice, "#general", "after")  # the next line carol reads: nothing between
    assert (await carol.line()).endswith(":alice!~alice@127.0.0.1 PRIVMSG #general after")
    assert await history(bob, "#general") == ["keep me", "after"]
    await dave.send("/history")
    lines = await dave.expect("* End of history.")
    assert not any("oops" in x for x in lines) and any("<alice> keep me" in x for x in lines)


async def test_the_replies_of_a_redact_one_by_one(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.join("#general")
    said = await sent(alice, "#general", "mine")
    await alice.send(f"@label=r1 REDACT #general {said}")  # the REDACT back is the reply
    await alice.expect(rx(rf"@label=r1;\S* :alice!\S+ REDACT #general {said}"))
    await alice.send(f"REDACT #general {said}", "REDACT #nowhere 1", "REDACT #general")
    await alice.expect(
        f":irc.test FAIL REDACT UNKNOWN_MSGID #general {said} "
        ":This message does not exist or is too old"
    )
    await alice.expect(
        ":irc.test FAIL REDACT INVALID_TARGET #nowhere :You cannot delete messages from #nowhere"
    )
    await alice.expect(":irc.test 461 alice REDACT :Not enough parameters")
    await alice.send("TAGMSG #general", "NOTICE #general :not kept")
    tagmsg = parse((await alice.expect(rx(r"@\S+ :alice!\S+ TAGMSG #general")))[-1])
    notice = parse((await alice.expect(rx(r"@\S+ :alice!\S+ NOTICE #general :not kept")))[-1])
    assert tagmsg is not None and notice is not None
    for msgid in (tagmsg.tags["msgid"], notice.tags["msgid"]):  # history keeps neither
        await alice.send(f"REDACT #general {msgid}")
        await alice.expect(rx(rf":irc\.test FAIL REDACT UNKNOWN_MSGID #general {msgid} :.*"))


async def test_a_private_message_between_accounts_is_taken_back_on_both_sides(
    server: ChatServer, irc: IrcConnect
) -> None:
    for i, name in enumerate(("alice", "bob")):
        await server.rooms.accounts.register(name, PASSWORD, f"192.0.2.{i + 1}")
    alice = await irc("alice", account=True)
    bob = await irc("bob", account=True)
    said = await sent(alice, "bob", "meant for carol")
    await bob.expect(rx(r"@\S+ :alice!\S+ PRIVMSG bob :meant for carol"))
    await bob.send(f"REDACT alice {said}")  # the receiver may not
    await bob.expect(rx(rf":irc\.test FAIL REDACT REDACT_FORBIDDEN alice {said} :.*"))
    await alice.send(f"REDACT bob {said} :wrong window")
    line = rx(rf"@\S+ :alice!~alice@127\.0\.0\.1 REDACT bob {said} :wrong window")
    await alice.expect(line)
    await bob.expect(line)
    assert await history(bob, "alice") == []
    assert await history(alice, "bob") == []
    await alice.send(f"REDACT nobody {said}")
    await alice.expect(
        ":irc.test FAIL REDACT INVALID_TARGET nobody :You cannot delete messages from nobody"
    )
