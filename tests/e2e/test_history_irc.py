"""History on the IRC door (docs/irc.md, "History"): replay on join as a chathistory
batch or plain PRIVMSGs, no replay for bots and chathistory clients, CHATHISTORY."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.message import parse
from net.listeners import ChatServer
from tests.rigs.irc import IrcClient

IrcConnect = Callable[..., Awaitable[IrcClient]]
TAGGED = ("batch", "message-tags", "server-time")
HISTORY = (*TAGGED, "draft/chathistory")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        db_path=str(tmp_path / "chat.db"),
    )  # fmt: skip


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []
    # Each reading of the clock 10 ms after the last: every line has its own server-time.
    ticks, start = itertools.count(), time.time()
    server.rooms.clock = lambda: start + next(ticks) / 100

    async def open_client(nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def said(irc: IrcConnect, count: int) -> tuple[IrcClient, list[tuple[str, str]]]:
    """alice, in #general, said `m0`...; with each line's (msgid, time) as echoed."""
    alice = await irc("alice", ("echo-message", *TAGGED))
    await alice.join("#general")
    await alice.send(*(f"PRIVMSG #general :m{i}" for i in range(count)))
    refs = []
    for i in range(count):
        line = (await alice.expect(rx(rf"@\S+ :alice!\S+ PRIVMSG #general :?m{i}")))[-1]
        tags = dict(t.split("=", 1) for t in line[1:].split(" ", 1)[0].split(";"))
        refs.append((tags["msgid"], tags["time"]))
    return alice, refs


async def batch(client: IrcClient, kind: str = "chathistory") -> list[str]:
    """The texts of the next batch of this kind (the lines between BATCH + and -)."""
    opening = await client.expect(rx(rf":irc\.test BATCH \+(\S+) {kind}\b.*"))
    ref = re.search(r"BATCH \+(\S+)", opening[-1])
    assert ref is not None
    lines = await client.expect(f":irc.test BATCH -{ref[1]}")
    assert all(re.match(rf"@batch={ref[1]}[; ]", x) for x in lines[:-1])
    texts = []
    for x in lines[:-1]:
        msg = parse(x)
        assert msg is not None
        texts.append(msg.params[-1] if msg.command == "PRIVMSG" else " ".join(msg.params))
    return texts


async def test_a_joiner_with_batch_gets_the_replay_as_a_chathistory_batch_with_tags(
    irc: IrcConnect,
) -> None:
    _alice, refs = await said(irc, 3)
    bob = await irc("bob", TAGGED)
    await bob.send("JOIN #general")
    await bob.expect(rx(r":\S+ 366 bob #general :.*"))
    opening = await bob.line()
    assert re.fullmatch(r":irc\.test BATCH \+\S+ chathistory #general", opening)
    ref = opening.split()[2][1:]
    for i, (msgid, when) in enumerate(refs):
        assert await bob.line() == (
            f"@batch={ref};time={when};msgid={msgid} :alice!~alice@127.0.0.1 PRIVMSG #general m{i}"
        )
    assert await bob.line() == f":irc.test BATCH -{ref}"


async def test_a_joiner_without_caps_gets_plain_privmsgs_framed_by_notices(
    irc: IrcConnect, server: ChatServer
) -> None:
    """Without `batch` a client cannot tell replayed lines from live ones by tags: two
    server notices to the channel frame them, as the text door's notices do; without
    `server-time` each replayed line says when it was said in its text (irssi would
    show them all at the time of the join), and live lines do not."""
    ticks, minute = itertools.count(), time.time() // 60 * 60
    server.rooms.clock = lambda: minute + 20 + next(ticks) / 100  # all in one minute
    hhmm = time.strftime("%H:%M", time.localtime(minute))  # today: the server's local time
    alice, _ = await said(irc, 2)
    bob = await irc("bob")
    await bob.join("#general")
    assert await bob.line() == ":irc.test NOTICE #general :History of #general (2 messages)"
    assert await bob.line() == f":alice!~alice@127.0.0.1 PRIVMSG #general :[{hhmm}] m0"
    assert await bob.line() == f":alice!~alice@127.0.0.1 PRIVMSG #general :[{hhmm}] m1"
    assert await bob.line() == ":irc.test NOTICE #general :End of history."
    await alice.send("PRIVMSG #general :live", "PRIVMSG #general :\x01ACTION waves\x01")
    assert await bob.line() == ":alice!~alice@127.0.0.1 PRIVMSG #general live"
    assert await bob.line() == ":alice!~alice@127.0.0.1 PRIVMSG #general :\x01ACTION waves\x01"
    carol = await irc("carol", ("batch",))  # a batch, but no server-time
    await carol.join("#general")
    replayed = await batch(carol)
    assert replayed[-3:] == [f"[{hhmm}] m1", f"[{hhmm}] live", f"\x01ACTION [{hhmm}] waves\x01"]
    # irssi asks for server-time, not batch, and shows server-time only if set to: the
    # time goes in the text for it too.
    dave = await irc("dave", ("multi-prefix", "away-notify", "server-time"))
    await dave.join("#general")
    await dave.expect(":irc.test NOTICE #general :History of #general (4 messages)")
    await dave.expect(rx(rf"@time=\S+ :alice!\S+ PRIVMSG #general :\[{hhmm}\] m0"))


@pytest.mark.parametrize("how", ["draft/chathistory", "+B"])
async def test_bots_and_chathistory_clients_get_no_replay(irc: IrcConnect, how: str) -> None:
    alice, _ = await said(irc, 2)
    bot = await irc("bot", HISTORY if how == "draft/chathistory" else TAGGED)
    if how == "+B":
        await bot.send("MODE bot +B")
        assert await bot.line() == ":bot!~bot@127.0.0.1 MODE bot +B"
    await bot.join("#general")
    await alice.send("PRIVMSG #general :live")
    assert (await bot.line()).endswith(" PRIVMSG #general live")


async def test_isupport_names_chathistory_msgreftypes_and_the_bot_mode(irc: IrcConnect) -> None:
    lines = (await irc("alice")).seen
    tokens = " ".join(x for x in lines if " 005 " in x)
    for token in ("CHATHISTORY=500", "MSGREFTYPES=msgid,timestamp", "BOT=B"):
        assert f" {token} " in tokens


async def test_chathistory_latest_before_after_around_between(irc: IrcConnect) -> None:
    _alice, refs = await said(irc, 10)
    bob = await irc("bob", HISTORY)
    await bob.join("#general")
    ask = bob.send
    texts = [f"m{i}" for i in range(10)]
    cases = [
        ("LATEST #general * 20", texts),
        ("LATEST #general * 3", texts[-3:]),
        (f"LATEST #general msgid={refs[4][0]} 20", texts[5:]),
        (f"LATEST #general timestamp={refs[4][1]} 20", texts[5:]),
        (f"BEFORE #general msgid={refs[6][0]} 20", texts[:6]),
        (f"BEFORE #general timestamp={refs[6][1]} 2", texts[4:6]),
        (f"AFTER #general msgid={refs[3][0]} 3", texts[4:7]),
        (f"AFTER #general timestamp={refs[3][1]} 20", texts[4:]),
        (f"AROUND #general msgid={refs[7][0]} 1", texts[7:8]),
        (f"AROUND #general msgid={refs[7][0]} 3", texts[6:9]),
        (f"BETWEEN #general msgid={refs[0][0]} msgid={refs[9][0]} 20", texts[1:9]),
        (f"BETWEEN #general msgid={refs[0][0]} msgid={refs[9][0]} 3", texts[1:4]),
        (f"BETWEEN #general msgid={refs[9][0]} msgid={refs[0][0]} 3", texts[6:9]),
        (f"BETWEEN #general timestamp={refs[9][1]} timestamp={refs[0][1]} 20", texts[1:9]),
    ]
    for command, wanted in cases:
        await ask(f"CHATHISTORY {command}")
        assert await batch(bob) == wanted, command


async def test_chathistory_targets_lists_the_rooms_with_lines_in_the_window(
    irc: IrcConnect,
) -> None:
    alice, refs = await said(irc, 2)
    await alice.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                     "timestamp=2100-01-01T00:00:00.000Z 10")  # fmt: skip
    assert await batch(alice, "draft/chathistory-targets") == [f"TARGETS #general {refs[1][1]}"]


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("CHATHISTORY", "NEED_MORE_PARAMS * :Missing parameters"),
        ("CHATHISTORY FETCH #general * 1", "UNKNOWN_COMMAND FETCH :Unknown command"),
        ("CHATHISTORY LATEST #general *", "NEED_MORE_PARAMS LATEST :Missing parameters"),
        ("CHATHISTORY LATEST #general * 0", "INVALID_PARAMS LATEST 0 :Invalid limit"),
        ("CHATHISTORY LATEST #general * x", "INVALID_PARAMS LATEST x :Invalid limit"),
        ("CHATHISTORY BEFORE #general * 5", "INVALID_PARAMS BEFORE * :Invalid message reference"),
        ("CHATHISTORY AFTER #general msgid=zz 5", "INVALID_PARAMS AFTER msgid=zz :Invalid message reference"),  # noqa: E501
        ("CHATHISTORY AFTER #general timestamp=yesterday 5", "INVALID_PARAMS AFTER timestamp=yesterday :Invalid timestamp"),  # noqa: E501
        ("CHATHISTORY LATEST #elsewhere * 5", "INVALID_TARGET LATEST #elsewhere :Messages could not be retrieved"),  # noqa: E501
        ("CHATHISTORY LATEST b*b * 5", "INVALID_TARGET LATEST b*b :Messages could not be retrieved"),  # noqa: E501
    ],
)  # fmt: skip
async def test_chathistory_refuses_bad_parameters_with_the_specs_fail(
    irc: IrcConnect, command: str, reply: str
) -> None:
    alice, _ = await said(irc, 1)
    carol = await irc("carol")
    await carol.join("#elsewhere")  # a channel alice is not in
    await alice.send(command)
    assert await alice.line() == f":irc.test FAIL CHATHISTORY {reply}"


async def test_a_rooms_modes_and_topic_survive_a_restart(config: Config) -> None:
    first = ChatServer(config)
    await first.start()
    alice = await IrcClient.open(first.irc_port)
    await alice.register("alice")
    await alice.join("#general")
    await alice.send("MODE #general +t", "TOPIC #general :locked plans", "PRIVMSG #general :hi")
    await alice.expect(rx(r":alice!\S+ TOPIC #general :locked plans"))
    await alice.close()
    await first.aclose()
    second = ChatServer(config)
    await second.start()
    try:
        room = second.rooms.room("general")
        assert room is not None and not room.members
        assert (room.topic, room.modes) == ("locked plans", {"n", "t"})
    finally:
        await second.aclose()
