"""IRCv3 draft/multiline end to end (docs/irc.md, "Multiline messages"): the real server
on port 0, IRC clients with and without the capability and a text-door user, over
sockets; history kept as one message and sent back as one; flood control."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.message import Message, parse
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import in_room
from tests.rigs.irc import IrcClient

IrcConnect = Callable[..., Awaitable[IrcClient]]
TAGS = ("batch", "message-tags", "server-time")
MULTI = (*TAGS, "echo-message", "draft/multiline")
CHAT = re.compile(r"\[\d\d:\d\d\] <alice> (?P<text>.*)")
PASTE = [
    "BATCH +p1 draft/multiline #general",
    "@batch=p1 PRIVMSG #general :def hello():",
    "@batch=p1 PRIVMSG #general :",
    "@batch=p1 PRIVMSG #general :    return 'a long line, sent in '",
    "@batch=p1;draft/multiline-concat PRIVMSG #general :'two pieces'",
    "BATCH -p1",
]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        db_path=str(tmp_path / "chat.db"),
    )  # fmt: skip


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def open_client(nick: str, caps: tuple[str, ...] = (), *chans: str) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        await client.register(nick, caps)
        for chan in chans:
            await client.join(chan)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def multiline_batch(client: IrcClient) -> tuple[str, list[str]]:
    """The next draft/multiline batch: its BATCH + line, and its PRIVMSG lines' texts."""
    opening = await client.expect(re.compile(r"\S* ?:alice!\S+ BATCH \+(\S+) draft/multiline .*"))
    ref = opening[-1].split(" BATCH +", 1)[1].split(" ", 1)[0]
    lines = await client.expect(re.compile(rf"(@\S+ )?BATCH -{ref}"))
    texts = []
    for text in lines[:-1]:
        msg = parsed(text)
        assert msg.tags["batch"] == ref
        texts.append(("+" if "draft/multiline-concat" in msg.tags else "") + msg.params[-1])
    return opening[-1], texts


def parsed(text: str) -> Message:
    msg = parse(text)
    assert msg is not None
    return msg


def msgid(text: str) -> str:
    return parsed(text).tags["msgid"]


def said(text: str) -> str:
    """A PRIVMSG line's text."""
    return parsed(text).params[-1]


async def test_one_message_reaches_each_door_in_its_own_form(
    irc: IrcConnect, connect: Connect
) -> None:
    carol = await in_room(connect, "carol", "general", create=True)
    alice = await irc("alice", MULTI, "#general")
    bob = await irc("bob", TAGS, "#general")
    await carol.expect("* bob has joined general")
    await alice.send(*PASTE)
    opening, echoed = await multiline_batch(alice)  # echo-message: the batch
    assert echoed == ["def hello():", "", "    return 'a long line, sent in '", "+'two pieces'"]
    lines = [await bob.line() for _ in range(3)]  # line by line, no blank one
    assert [said(x) for x in lines] == [
        "def hello():", "    return 'a long line, sent in '", "'two pieces'",
    ]  # fmt: skip
    assert msgid(lines[0]) == msgid(opening)
    assert ["msgid" in parsed(x).tags for x in lines] == [True, False, False]
    shown = [CHAT.fullmatch(await carol.line()) for _ in range(3)]
    assert [m["text"] if m else None for m in shown] == [
        "def hello():", "", "    return 'a long line, sent in ''two pieces'",
    ]  # fmt: skip


async def test_history_keeps_it_as_one_message_and_gives_it_back_as_one(
    irc: IrcConnect, connect: Connect
) -> None:
    alice = await irc("alice", MULTI, "#general")
    await alice.send(*PASTE)
    opening, _ = await multiline_batch(alice)
    await alice.send("PRIVMSG #general :and a plain line")
    await alice.expect(re.compile(r".* PRIVMSG #general :and a plain line"))

    dave = await irc("dave", (*MULTI, "draft/chathistory"), "#general")
    await dave.send("CHATHISTORY LATEST #general * 10")
    outer = (await dave.expect(re.compile(r":irc\.test BATCH \+(\S+) chathistory #general")))[-1]
    ref = outer.split("+", 1)[1].split(" ", 1)[0]
    nested, texts = await multiline_batch(dave)  # one message: a batch inside the batch
    assert msgid(nested) == msgid(opening) and f"batch={ref}" in nested
    assert texts[-1] == "+'two pieces'"
    assert (await dave.line()).endswith(":and a plain line")

    erin = await irc("erin", (*TAGS, "draft/chathistory"), "#general")
    await erin.send("CHATHISTORY LATEST #general * 1")  # the newest message: the plain line
    got = await erin.expect(re.compile(r":irc\.test BATCH -\S+"))
    assert said(got[-2]) == "and a plain line"
    await erin.send("CHATHISTORY LATEST #general * 2")
    got = await erin.expect(re.compile(r":irc\.test BATCH -\S+"))
    assert len(got) == 2 + 3 + 1  # the three lines that are not blank, then the plain one

    carol = await connect("carol")
    await carol.send("/join general")
    lines = await carol.expect("* End of history.")
    replay = lines[lines.index("* History of general (2 messages)") + 1 : -1]
    assert [m["text"] if (m := CHAT.fullmatch(x)) else x for x in replay] == [
        "def hello():", "", "    return 'a long line, sent in ''two pieces'", "and a plain line",
    ]  # fmt: skip


async def test_a_private_multiline_message_reaches_a_text_user_line_by_line(
    irc: IrcConnect, connect: Connect
) -> None:
    carol = await connect("carol")
    alice = await irc("alice", MULTI)
    await alice.send("BATCH +q draft/multiline carol", "@batch=q PRIVMSG carol :one",
                     "@batch=q PRIVMSG carol :two", "BATCH -q")  # fmt: skip
    first, second = await carol.line(), await carol.line()
    assert re.fullmatch(r"\[\d\d:\d\d\] \*alice\* one", first)
    assert re.fullmatch(r"\[\d\d:\d\d\] \*alice\* two", second)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "config", [Config(port=0, irc_port=0, rate_lines_per_s=5, burst_lines=2)], ids=["rate 5"]
)
async def test_a_batch_arrives_whole_at_once_and_the_lines_after_it_pay_for_it(
    irc: IrcConnect,
) -> None:
    alice = await irc("alice", MULTI, "#general")
    bob = await irc("bob", (), "#general")
    loop = asyncio.get_running_loop()
    texts = [f"line {n:02}" for n in range(15)]
    started = loop.time()
    await alice.send("BATCH +f draft/multiline #general",
                     *(f"@batch=f PRIVMSG #general :{text}" for text in texts),
                     "BATCH -f", "PRIVMSG #general :after")  # fmt: skip
    got = [said(await bob.line(10)) for _ in texts]
    arrived = loop.time() - started
    assert got == texts
    # Paced line by line, the batch would take (17 - 2) / 5 = 3 s to arrive.
    assert arrived < 2, f"the batch took {arrived:.2f} s: paced line by line"
    assert said(await bob.line(10)) == "after"
    waited = loop.time() - started
    assert waited >= (17 - 2) / 5 * 0.95, f"the line after it came after {waited:.2f} s"
