"""Both doors end to end: the real server on port 0, text clients and IRC clients over
real sockets, each seeing what the other door's users do in its own words."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room
from tests.rigs.irc import IrcClient

IrcConnect = Callable[..., Awaitable[IrcClient]]
HHMM = r"\[\d\d:\d\d\]"
BASE = Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


@pytest.fixture
def config() -> Config:
    return BASE


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    """Open IRC clients; `await irc("bob")` also registers as bob."""
    clients: list[IrcClient] = []

    async def open_client(nick: str | None = None, caps: tuple[str, ...] = ()) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        if nick is not None:
            await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def pair(connect: Connect, irc: IrcConnect) -> tuple[ChatClient, IrcClient]:
    """Text user alice (who made room general) and IRC user bob, both in it."""
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await irc("bob")
    await bob.join("#general")
    await alice.expect("* bob has joined general")
    return alice, bob


# --- Every event, rendered on both sides ---


async def test_chat_goes_both_ways(connect: Connect, irc: IrcConnect) -> None:
    alice, bob = await pair(connect, irc)
    await alice.send("hello from text")
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #general :hello from text")
    await bob.send("PRIVMSG #general :hello from irc")
    await alice.expect(rx(rf"{HHMM} <bob> hello from irc"))


async def test_me_and_ctcp_action_go_both_ways(connect: Connect, irc: IrcConnect) -> None:
    alice, bob = await pair(connect, irc)
    await alice.send("/me waves")
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #general :\x01ACTION waves\x01")
    await bob.send("PRIVMSG #general :\x01ACTION bows\x01")
    await alice.expect(rx(rf"{HHMM} \* bob bows"))


async def test_private_messages_go_both_ways(connect: Connect, irc: IrcConnect) -> None:
    alice = await connect("alice")
    bob = await irc("bob")
    await alice.send("/msg bob psst, bob")
    await alice.expect(rx(rf"{HHMM} -> \*bob\* psst, bob"))
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG bob :psst, bob")
    await bob.send(
        "PRIVMSG alice :hi alice", "NOTICE alice :note", "PRIVMSG alice :\x01ACTION nods\x01"
    )
    await alice.expect(rx(rf"{HHMM} \*bob\* hi alice"))
    await alice.expect(rx(rf"{HHMM} \*bob\* -note-"))
    await alice.expect(rx(rf"{HHMM} \*bob\* \* bob nods"))


async def test_a_notice_to_the_room_reads_as_a_notice_on_the_text_door(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await pair(connect, irc)
    await bob.send("NOTICE #general :the bot says hi")
    await alice.expect(rx(rf"{HHMM} -bob- the bot says hi"))


async def test_join_part_and_quit_with_reason_are_seen_by_both_sides(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await pair(connect, irc)
    carol = await in_room(connect, "carol", "general")
    await bob.expect(":carol!~carol@127.0.0.1 JOIN #general")
    await bob.send("PART #general :off to lunch")
    await bob.expect(":bob!~bob@127.0.0.1 PART #general :off to lunch")
    await alice.expect("* bob has left general (off to lunch)")
    await bob.join("#general")
    await alice.expect("* bob has joined general")
    await carol.send("exit")
    await bob.expect(":carol!~carol@127.0.0.1 PART #general")
    await carol.send("/quit")
    await bob.send("QUIT :see you")
    assert await bob.expect_closed() == ["ERROR :Closing link: 127.0.0.1 (Quit: see you)"]
    await alice.expect("* bob has quit (Quit: see you)")
    dave = await irc("dave")
    await dave.join("#general")
    await alice.send("/quit")
    await dave.expect(":alice!~alice@127.0.0.1 QUIT Quit")


async def test_a_nick_change_is_seen_by_both_sides(connect: Connect, irc: IrcConnect) -> None:
    alice, bob = await pair(connect, irc)
    await bob.send("NICK robert")
    await bob.expect(":bob!~bob@127.0.0.1 NICK robert")
    await alice.expect("* bob is now known as robert")
    await alice.send("/nick alicia")
    await alice.expect("* alice is now known as alicia")
    await bob.expect(":alice!~alice@127.0.0.1 NICK alicia")


async def test_a_topic_set_on_either_door_is_seen_on_the_other_and_on_join(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await pair(connect, irc)
    await alice.send("/topic Lunch at noon")
    await alice.expect("* alice set the topic of general to: Lunch at noon")
    await bob.expect(":alice!~alice@127.0.0.1 TOPIC #general :Lunch at noon")
    carol = await irc("carol")
    lines = await carol.join("#general")
    assert ":irc.test 332 carol #general :Lunch at noon" in lines
    assert any(re.fullmatch(r":irc.test 333 carol #general alice!\S+ \d+", x) for x in lines)
    # An IRC user who made a room is its operator and may set its topic.
    await bob.join("#irc")
    await bob.send("TOPIC #irc :Set from IRC")
    await bob.expect(":bob!~bob@127.0.0.1 TOPIC #irc :Set from IRC")
    dave = await connect("dave")
    await dave.send("/join irc")
    await dave.expect("* Topic for irc: Set from IRC")
    await bob.send("TOPIC #irc :Changed")
    await dave.expect("* bob set the topic of irc to: Changed")


# --- Names across doors ---


@pytest.mark.parametrize("nick", ["alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"])
async def test_a_text_users_name_is_433_on_irc(
    connect: Connect, irc: IrcConnect, nick: str
) -> None:
    await connect("alice")
    bob = await irc()
    await bob.send(f"NICK {nick}")
    await bob.expect(rx(r":irc.test 433 \* \S+ :Nickname is already in use"))
    assert (await bob.register("bob"))[0].startswith(":irc.test 001 bob ")


async def test_an_irc_nick_is_refused_by_the_text_door(connect: Connect, irc: IrcConnect) -> None:
    await irc("bob")
    text = await connect()
    await text.expect("Enter your username:")
    await text.send("BOB")
    assert await text.line() == '! The name "BOB" is taken.'


async def test_brackets_and_braces_collide_across_doors(connect: Connect, irc: IrcConnect) -> None:
    await connect("[a]")
    bob = await irc()
    await bob.send("NICK {a}")
    await bob.expect(":irc.test 433 * {a} :Nickname is already in use")
    await bob.register("{b}")
    text = await connect()
    await text.expect("Enter your username:")
    await text.send("[b]")
    assert await text.line() == '! The name "[b]" is taken.'


# --- Fan-out ---


async def test_three_shared_channels_get_their_own_messages_and_one_quit(
    connect: Connect, irc: IrcConnect
) -> None:
    bob = await irc("bob")
    carol = await irc("carol")
    chans = ("#one", "#two", "#three")
    for chan in chans:
        await bob.join(chan)
        await carol.join(chan)
    for chan in chans:
        await carol.send(f"PRIVMSG {chan} :to {chan}")
    for chan in chans:
        await bob.expect(f":carol!~carol@127.0.0.1 PRIVMSG {chan} :to {chan}")
    await carol.send("QUIT :bye")
    await bob.expect(":carol!~carol@127.0.0.1 QUIT :Quit: bye")
    await bob.send("PING :after")
    lines = await bob.expect(":irc.test PONG irc.test after")
    assert not [x for x in lines if " QUIT " in x], "a second QUIT for one quitter"


async def stalled_irc_member(port: int, nick: str, chan: str) -> socket.socket:
    """A raw IRC client that registers, joins `chan`, then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"NICK {nick}\r\nUSER s 0 * :s\r\nJOIN {chan}\r\n".encode())
    return sock


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "config", [replace(BASE, max_send_queue_bytes=64 * 1024)], ids=["sendq 64k"]
)
async def test_a_stalled_irc_member_is_dropped_with_sendq_exceeded(
    connect: Connect, irc: IrcConnect, server: ChatServer
) -> None:
    alice, bob = await pair(connect, irc)
    stalled = await stalled_irc_member(server.irc_port, "stalled", "#general")
    await alice.expect("* stalled has joined general")
    padding = "x" * 1500
    quit_seen = asyncio.Event()

    async def receive_all() -> list[int]:
        numbers: list[int] = []
        while True:
            text = await bob.line(timeout=10)
            if text == ":alice!~alice@127.0.0.1 PRIVMSG #general done":
                return numbers
            if " PRIVMSG " in text:
                numbers.append(int(text.split(" :")[1].split()[0]))
            elif " QUIT " in text:
                assert text == ":stalled!~s@127.0.0.1 QUIT :SendQ exceeded"
                quit_seen.set()

    async def drain_sender() -> list[str]:
        """Alice reads her own echoes as they come: she is a healthy member too."""
        notices: list[str] = []
        while not re.fullmatch(rf"{HHMM} <alice> done", text := await alice.line(timeout=10)):
            if text.startswith("* "):
                notices.append(text)
        return notices

    receiving = asyncio.create_task(receive_all())
    draining = asyncio.create_task(drain_sender())
    sent = 0
    while not quit_seen.is_set():  # until the stalled member's queue overflows
        assert sent < 50_000, "the stalled member was never dropped"
        await alice.send(*(f"{n} {padding}" for n in range(sent, sent + 20)))
        sent += 20
        await asyncio.sleep(0)  # let the receiver read: it is the healthy member
    await alice.send("done")
    assert await receiving == list(range(sent))
    assert await draining == ["* stalled has quit (SendQ exceeded)"]
    assert "stalled" not in server.rooms.snapshot()[0]
    stalled.close()


@pytest.mark.timeout(30)
async def test_each_senders_lines_arrive_in_order_exactly_once_on_both_doors(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await in_room(connect, "alice", "busy", create=True)
    tess = await in_room(connect, "tess", "busy")
    bob = await irc("bob", caps=("echo-message",))
    ivan = await irc("ivan")
    await bob.join("#busy")
    await ivan.join("#busy")
    await alice.expect("* ivan has joined busy")
    count = 200

    async def text_reader(client: ChatClient) -> dict[str, list[int]]:
        seen: dict[str, list[int]] = {"alice": [], "bob": []}
        while sum(map(len, seen.values())) < 2 * count:
            m = re.fullmatch(rf"{HHMM} <(\w+)> n(\d+)", await client.line(timeout=10))
            if m:
                seen[m[1]].append(int(m[2]))
        return seen

    async def irc_reader(client: IrcClient) -> dict[str, list[int]]:
        seen: dict[str, list[int]] = {"alice": [], "bob": []}
        while sum(map(len, seen.values())) < 2 * count:
            m = re.fullmatch(r":(\w+)!\S+ PRIVMSG #busy n(\d+)", await client.line(timeout=10))
            if m:
                seen[m[1]].append(int(m[2]))
        return seen

    readers = [
        asyncio.create_task(text_reader(alice)),
        asyncio.create_task(text_reader(tess)),
        asyncio.create_task(irc_reader(bob)),
        asyncio.create_task(irc_reader(ivan)),
    ]
    await asyncio.gather(
        alice.send(*(f"n{n}" for n in range(count))),
        bob.send(*(f"PRIVMSG #busy n{n}" for n in range(count))),
    )
    for seen in await asyncio.gather(*readers):
        assert seen == {"alice": list(range(count)), "bob": list(range(count))}


# --- Hygiene and limits ---


async def test_irc_formatting_and_escapes_never_reach_a_text_line(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await pair(connect, irc)
    await bob.send("PRIVMSG #general :\x02bold\x02 \x0304red")
    await alice.expect(rx(rf"{HHMM} <bob> bold red"))
    await bob.send("PRIVMSG #general :\x1b[31mred\x1b[0m \x1b]0;title\x07plain \x1d\x1fit\x0f")
    await alice.expect(rx(rf"{HHMM} <bob> red plain it"))
    await bob.send("PRIVMSG #general :\x01ACTION \x0312,04waves\x03\x01")
    await alice.expect(rx(rf"{HHMM} \* bob waves"))
    await bob.send("TOPIC #general :ignored")  # not an operator: 482, nothing to alice
    await bob.send("PRIVMSG alice :\x02psst\x02\x1b[2J")
    await alice.expect(rx(rf"{HHMM} \*bob\* psst"))
    for text in alice.seen:
        assert text.isprintable(), repr(text)


async def test_a_ctcp_request_to_a_room_is_not_chat_on_the_text_door(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await pair(connect, irc)
    await bob.send("PRIVMSG #general :\x01VERSION\x01", "PRIVMSG #general :after")
    lines = await alice.expect(rx(rf"{HHMM} <bob> after"))
    assert len(lines) == 1, lines


async def test_a_ctcp_reply_is_not_shown_to_a_text_user(connect: Connect, irc: IrcConnect) -> None:
    alice = await connect("alice")
    bob = await irc("bob")
    await bob.send("NOTICE alice :\x01VERSION x\x01", "PRIVMSG alice :after")
    lines = await alice.expect(rx(rf"{HHMM} \*bob\* after"))
    assert len(lines) == 1, lines


async def test_a_line_over_512_bytes_is_417_and_the_connection_goes_on(irc: IrcConnect) -> None:
    bob = await irc("bob")
    await bob.send("PRIVMSG #x :" + "y" * 600)
    await bob.expect(":irc.test 417 bob :Input line was too long")
    await bob.send("PRIVMSG #x :" + "y" * 20000)  # past what the connection buffers too
    await bob.expect(":irc.test 417 bob :Input line was too long")
    await bob.send("PING :still here")
    await bob.expect(":irc.test PONG irc.test :still here")


@pytest.mark.parametrize("config", [replace(BASE, login_timeout_s=0.3)], ids=["login 0.3 s"])
async def test_registration_times_out_with_error(irc: IrcConnect) -> None:
    client = await irc()
    await client.send("NICK slow")
    assert await client.expect_closed() == [
        "ERROR :Closing link: 127.0.0.1 (Registration timed out)"
    ]


PINGY = replace(BASE, ping_interval_s=0.2, ping_timeout_s=0.3)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("config", [PINGY], ids=["ping 0.2 s, timeout 0.3 s"])
async def test_a_silent_client_is_pinged_and_dropped_one_that_answers_is_kept(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    silent = await irc("silent")
    await silent.join("#general")
    await alice.expect("* silent has joined general")
    answering = await irc("answering")
    await answering.join("#general")
    await alice.expect("* answering has joined general")
    await silent.expect("PING irc.test", timeout=3)

    async def answer_pings(rounds: int) -> None:
        answered = 0
        while answered < rounds:
            text = await answering.line(timeout=3)
            if text.startswith("PING "):
                await answering.send("PONG " + text.split(" ", 1)[1])
                answered += 1

    await answer_pings(4)  # four rounds: each well past interval + timeout of silence
    await alice.expect("* silent has quit (Ping timeout: 0.5 seconds)")
    await silent.expect_closed()
    await alice.send("still there?")
    await answering.expect(":alice!~alice@127.0.0.1 PRIVMSG #general :still there?")


async def test_an_operator_locks_the_topic_for_both_doors(
    connect: Connect, irc: IrcConnect
) -> None:
    bob = await irc("bob")
    await bob.join("#lounge")  # bob made it: bob is its operator
    alice = await in_room(connect, "alice", "lounge")
    await alice.send("/topic anyone may, until it is locked")
    await bob.expect(rx(r":alice!\S+ TOPIC #lounge :anyone may, until it is locked"))
    await bob.send("MODE #lounge +t")
    await bob.expect(rx(r":bob!\S+ MODE #lounge \+t"))
    await alice.expect("* bob set mode +t on lounge")
    await alice.send("/topic mine now")
    assert await alice.line() == "! You are not an operator of lounge."
    await bob.send("TOPIC #lounge :locked by bob")
    await alice.expect("* bob set the topic of lounge to: locked by bob")


async def test_a_secret_room_is_listed_only_to_its_members_on_both_doors(
    connect: Connect, irc: IrcConnect
) -> None:
    bob = await irc("bob")
    await bob.join("#hideout")
    await bob.send("MODE #hideout +s")
    await bob.expect(rx(r":bob!\S+ MODE #hideout \+s"))
    alice = await connect("alice")
    await alice.send("/rooms")
    assert await alice.line() == "* No rooms yet. Create one with 1 or /create NAME."
    carol = await irc("carol")
    await carol.send("LIST")
    assert [x.split()[1] for x in await carol.expect(rx(r"\S+ 323 .*"))] == ["321", "323"]
    await bob.send("NAMES #hideout")
    await bob.expect(rx(r":irc.test 353 bob @ #hideout :?@bob"))


async def test_away_and_whois_work_across_doors(connect: Connect, irc: IrcConnect) -> None:
    alice, bob = await pair(connect, irc)
    await alice.send("/away at lunch")
    assert await alice.line() == "* You are now marked as away."
    await bob.send("PRIVMSG alice :back soon?")
    await bob.expect(":irc.test 301 bob alice :at lunch")
    await bob.send("AWAY :in a meeting")
    await bob.expect(rx(r":irc.test 306 bob :.*"))
    await alice.expect(rx(rf"{HHMM} \*bob\* back soon\?"))
    await alice.send("/msg bob ping")
    assert re.fullmatch(rf"{HHMM} -> \*bob\* ping", await alice.line())
    assert await alice.line() == "* bob is away: in a meeting"
    await alice.send("/whois bob")
    first = await alice.line()
    assert re.fullmatch(
        r"\* bob \(login name ~bob, from 127\.0\.0\.1\) is on an IRC client, online since .+",
        first,
    )
    assert await alice.line() == "* bob is in: general"
    assert await alice.line() == "* bob is away: in a meeting"
    await alice.send("/away")
    assert await alice.line() == "* You are no longer marked as away."
    await alice.send("/topic")
    assert await alice.line() == "* general has no topic."
    await alice.send("/whois nobody")
    assert await alice.line() == '! No user named "nobody".'
