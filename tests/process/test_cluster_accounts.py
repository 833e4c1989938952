"""Accounts in a cluster (docs/cluster.md, "Accounts in a cluster"): kept in Redis, so
every node knows every account; a change on one node reaches the others at once, and a
node started later reads them all; a user's account travels with it, so users of the
other nodes see who is logged in to what. The nodes are ChatServers in this process,
each with its own link to a real redis-server, and clients on both doors over sockets."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from registry.accounts import LoginRefused
from tests.rigs.chat import ChatClient, LineClient, wait_until
from tests.rigs.clusterrig import RedisServer, needs_redis
from tests.rigs.irc import IrcClient

pytestmark = needs_redis()
ADDRESS = "192.0.2.1"
StartNode = Callable[..., Awaitable[ChatServer]]


@pytest.fixture
async def nodes(redis: RedisServer) -> AsyncIterator[StartNode]:
    started: list[ChatServer] = []

    async def start(name: str, *, history: bool = False) -> ChatServer:
        config = Config(
            port=0, irc_port=0, cluster=redis.url, node_name=name, rate_lines_per_s=0,
            irc_server_name=f"{name}.test", db_path="redis" if history else "",
        )  # fmt: skip
        server = ChatServer(config)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.aclose()


async def stored(redis: RedisServer, key: str) -> dict[str, object]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis.url)
    try:
        value = await client.hget("chatroom:accounts", key)
    finally:
        await client.aclose()
    assert value is not None
    found: dict[str, object] = json.loads(value)
    return found


async def test_an_account_registered_on_one_node_verifies_on_another_and_a_later_one(
    redis: RedisServer, nodes: StartNode
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await a.rooms.accounts.register("alice", "sesame", ADDRESS)
    await wait_until(lambda: b.rooms.accounts.find("alice") is not None)
    assert (await b.rooms.accounts.verify("Alice", "sesame", ADDRESS)).name == "alice"
    await a.rooms.accounts.change_password(alice, "sesame", "open sesame", ADDRESS)
    known = b.rooms.accounts.find("alice")
    assert known is not None
    changed = alice.credentials.encode()
    await wait_until(lambda: known.credentials.encode() == changed)
    assert b.rooms.accounts.find("alice") is known, "changed in place"
    assert await b.rooms.accounts.verify("alice", "open sesame", ADDRESS)
    kept = await stored(redis, "alice")
    assert kept["name"] == "alice" and "sesame" not in json.dumps(kept)
    c = await nodes("c")
    assert await c.rooms.accounts.verify("alice", "open sesame", ADDRESS)


async def test_an_account_dropped_on_one_node_is_gone_on_the_others(nodes: StartNode) -> None:
    a, b = await nodes("a"), await nodes("b")
    await b.rooms.accounts.register("bob", "secret", ADDRESS)
    await wait_until(lambda: a.rooms.accounts.find("bob") is not None)
    account = a.rooms.accounts.find("bob")
    assert account is not None
    await a.rooms.accounts.drop(account, "secret", ADDRESS)
    await wait_until(lambda: b.rooms.accounts.find("bob") is None)
    with pytest.raises(LoginRefused):
        await b.rooms.accounts.verify("bob", "secret", ADDRESS)
    c = await nodes("c")
    assert c.rooms.accounts.find("bob") is None


async def test_a_damaged_account_in_redis_is_skipped_with_one_warning(
    redis: RedisServer, nodes: StartNode, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.cli("HSET", "chatroom:accounts", "mallory", "not an account")
    a = await nodes("a")
    assert len(a.rooms.accounts) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["1 account in Redis could not be read; skipped"]


PASSWORD = "tr0ub4dor-and-3"
NEW_PASSWORD = "correct-horse-7"


def plain(account: str, password: str) -> str:
    """A SASL PLAIN payload."""
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


async def sasl(client: IrcClient, server: str, account: str, password: str) -> str:
    """SASL PLAIN before registration as `account`: the numeric that answers (900 or 904)."""
    await client.send("AUTHENTICATE PLAIN")
    await client.expect(f":{server} AUTHENTICATE +")
    await client.send(f"AUTHENTICATE {plain(account, password)}")
    lines = await client.expect(re.compile(rf":{server} (903|904) .*"))
    return lines[-1].split()[1]


async def test_an_account_and_who_is_logged_in_to_it_cross_between_nodes_on_both_doors(
    nodes: StartNode, clients: list[LineClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a, b = await nodes("a"), await nodes("b")

    async def text(node: ChatServer) -> ChatClient:
        client = await ChatClient.open(node.port)
        clients.append(client)
        await client.expect("Enter your username:")
        return client

    async def irc(node: ChatServer) -> IrcClient:
        client = await IrcClient.open(node.irc_port)
        clients.append(client)
        return client

    carol = await irc(a)  # on A, watching with IRCv3's account capabilities
    await carol.register("carol", caps=("account-notify", "account-tag", "extended-join"))
    await carol.join("#lobby")

    # Registered on A's text door, then off A.
    alice = await text(a)
    await alice.send("alice")
    await alice.expect("Enter your choice:")
    await alice.send(f"/register {PASSWORD}")
    await alice.expect(
        re.compile(
            r"\[\d\d:\d\d\] \*NickServ\* Account alice registered; you are logged in to it\."
        )
    )
    await alice.send("/quit")
    await alice.expect_closed()
    await wait_until(lambda: b.rooms.accounts.find("alice") is not None)
    await wait_until(lambda: b.rooms.find("alice") is None)

    # On B the name is reserved: the text door asks for the password, IRC says 433.
    stranger = await text(b)
    await stranger.send("alice")
    await stranger.expect("Enter the password for alice:")
    await stranger.send("not-it")
    await stranger.expect("! Wrong password for alice.")
    await stranger.expect("Enter your username:")
    intruder = await irc(b)
    await intruder.send("NICK alice", "USER x 0 * :x")
    await intruder.expect(":b.test 433 * alice :Nickname is reserved by a different account")

    # SASL on B: a wrong password is refused, the right one logs in.
    owner = await irc(b)
    await owner.send("CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER a 0 * :A")
    assert await sasl(owner, "b.test", "alice", "not-it") == "904"
    assert await sasl(owner, "b.test", "alice", PASSWORD) == "903"
    await owner.send("CAP END")
    await owner.expect(":b.test 001 alice :Welcome to the chatroom IRC network, alice")

    # A's users see alice's account: on joining, on WHOIS, on what she says...
    await owner.join("#lobby")
    await carol.expect(":alice!~a@127.0.0.1 JOIN #lobby alice A")
    await carol.send("WHOIS alice")
    whois = await carol.expect(re.compile(r":a\.test 318 .*"))
    assert ":a.test 330 carol alice alice :is logged in as" in whois, whois
    await owner.send("PRIVMSG #lobby :hi from b")
    await carol.expect(
        re.compile(r"@(\S*;)?account=alice(;\S*)? :alice!~a@127\.0\.0\.1 PRIVMSG #lobby :hi from b")
    )
    # ...and as she logs out and in again (IRCv3 account-notify).
    await owner.send("NICK alice_", "NS LOGOUT")
    await carol.expect(":alice!~a@127.0.0.1 NICK alice_")
    await carol.expect(":alice_!~a@127.0.0.1 ACCOUNT *")
    await owner.send(f"NS IDENTIFY alice {PASSWORD}")
    await carol.expect(":alice_!~a@127.0.0.1 ACCOUNT alice")
    await owner.send("QUIT")
    await owner.expect_closed()

    # A password changed on A is the one B takes.
    dave = await text(a)
    await dave.send("dave")
    await dave.expect("Enter your choice:")
    await dave.send(f"/msg NickServ IDENTIFY alice {PASSWORD}")
    await dave.expect(re.compile(r"\[\d\d:\d\d\] \*NickServ\* You are now logged in as alice\."))
    await dave.send(f"/password {PASSWORD} {NEW_PASSWORD}")
    await dave.expect(re.compile(r"\[\d\d:\d\d\] \*NickServ\* The password of alice is changed\."))
    changed = a.rooms.accounts.find("alice")
    known = b.rooms.accounts.find("alice")
    assert changed is not None and known is not None
    await wait_until(lambda: known.credentials.encode() == changed.credentials.encode())
    again = await irc(b)
    await again.send("CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER a 0 * :A")
    assert await sasl(again, "b.test", "alice", PASSWORD) == "904"
    assert await sasl(again, "b.test", "alice", NEW_PASSWORD) == "903"
    await again.send("QUIT")
    await again.expect_closed()

    # Dropped on A: the name is free on B.
    await dave.send(f"/msg NickServ DROP {NEW_PASSWORD}")
    await dave.expect(
        re.compile(r"\[\d\d:\d\d\] \*NickServ\* Account alice is dropped; its name is free\.")
    )
    await wait_until(lambda: b.rooms.accounts.find("alice") is None)
    newcomer = await text(b)
    await newcomer.send("alice")
    assert (await newcomer.line()) == "* Hello, alice!"

    logged = [record.getMessage() for record in caplog.records]
    assert all(PASSWORD not in line and NEW_PASSWORD not in line for line in logged)
    assert all(plain("alice", PASSWORD) not in line for line in logged)


async def text_login(port: int, clients: list[LineClient]) -> ChatClient:
    """alice on the text door of the node on `port`, logged in."""
    alice = await ChatClient.open(port)
    clients.append(alice)
    await alice.expect("Enter your username:")
    await alice.send("alice")
    await alice.expect("Enter the password for alice:")
    await alice.send(PASSWORD)
    await alice.expect("* You are logged in as alice.")
    return alice


async def test_a_read_marker_set_on_one_node_is_where_a_login_on_another_starts(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a", history=True), await nodes("b", history=True)
    await a.rooms.accounts.register("alice", PASSWORD, ADDRESS)
    await wait_until(lambda: b.rooms.accounts.find("alice") is not None)
    bob = await ChatClient.open(a.port)
    clients.append(bob)
    await bob.login("bob")
    await bob.create("den")
    alice = await text_login(a.port, clients)
    await alice.join("den")
    await bob.send("read 1", "read 2")
    await alice.expect(re.compile(r"\[\d\d:\d\d\] <bob> read 2"))
    await alice.send("/quit")  # its marker, written to Redis; node b hears of it
    await alice.expect_closed()
    known = b.rooms.accounts.find("alice")
    assert known is not None
    await wait_until(lambda: "#den" in known.settings.get("read", {}))
    await bob.send(*(f"missed {i}" for i in range(25)))
    await bob.expect(re.compile(r"\[\d\d:\d\d\] <bob> missed 24"))

    alice = await text_login(b.port, clients)
    await alice.send("/join den")
    lines = await alice.expect("* End of history.")
    frame = lines[lines.index("* History of den (25 messages)") :]
    assert frame[1] == "* New since you last read: 25 messages"
    assert [x.split("> ", 1)[1] for x in frame[2:-1]] == [f"missed {i}" for i in range(25)]
