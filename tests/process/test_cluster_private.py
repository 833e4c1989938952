"""Private messages in a cluster (docs/cluster.md, "Private messages in a cluster"): a
conversation between accounts on two nodes is kept in Redis and read on either; a
message for an account offline everywhere waits in Redis and is handed to its login on
another node, once."""

from __future__ import annotations

import re

from tests.process.test_cluster import StartNode, ask_until, line, nodes, text
from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import Node, RedisServer, needs_redis
from tests.rigs.irc import IrcClient

pytestmark = needs_redis()
__all__ = ["nodes"]  # the fixtures, shared

PASSWORD = "correct-horse-battery"
STAMP = r"\[\d\d:\d\d\]"


async def registered(clients: list[LineClient], node: Node, name: str) -> ChatClient:
    client = await text(clients, node, name)
    await client.send(f"/register {PASSWORD}")
    await client.expect(line(rf"{STAMP} \*NickServ\* Account {name} registered.*"))
    return client


async def logged_in(
    clients: list[LineClient], node: Node, name: str
) -> tuple[ChatClient, list[str]]:
    """Log in to `name` on `node`: the client, and its lines up to the menu."""
    client = await ChatClient.open(node.port)
    clients.append(client)
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")  # node knows the account
    await client.send(PASSWORD)
    return client, await client.expect("Enter your choice:")


async def test_a_conversation_across_nodes_is_kept_in_redis_and_read_on_either(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await registered(clients, a, "alice")
    bob = await registered(clients, b, "bob")
    # each node keeps the conversation by account once it knows the other's (a hop away)
    await ask_until(alice, "/whois bob", r"\* bob is logged in as bob", r"\* bob is in: .*")
    await ask_until(bob, "/whois alice", r"\* alice is logged in as alice", r"\* alice is in: .*")
    await alice.send("/msg bob across the cluster")
    await bob.expect(line(rf"{STAMP} \*alice\* across the cluster"))
    await bob.send("/msg alice and back")
    await alice.expect(line(rf"{STAMP} \*bob\* and back"))
    for client, other in ((bob, "alice"), (alice, "bob")):
        await client.send(f"/history {other}")
        lines = await client.expect("* End of history.")
        start = lines.index(f"* History of private messages with {other} (2 messages)")
        shown = [re.sub(STAMP + " ", "", x) for x in lines[start + 1 : -1]]
        assert shown == (
            ["*alice* across the cluster", "-> *alice* and back"]
            if other == "alice"
            else ["-> *bob* across the cluster", "*bob* and back"]
        )
    assert await redis.cli("XLEN", "chatroom:private:alice bob") == "2"


async def test_a_message_for_an_offline_account_waits_in_redis_for_a_login_on_another_node(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    dave = await registered(clients, a, "dave")
    await dave.send("/quit")
    await dave.expect_closed()
    alice = await registered(clients, a, "alice")
    await alice.send("/msg dave left on node a")
    await alice.expect("* dave is offline; your message will be delivered when dave logs in.")
    dave, lines = await logged_in(clients, b, "dave")
    at = lines.index("* Private messages while you were offline (1 message)")
    assert re.fullmatch(rf"{STAMP} \*alice\* left on node a", lines[at + 1])
    assert lines[at + 2] == "* End of private messages."
    await dave.send("/quit")
    await dave.expect_closed()
    await ask_until(
        alice, "/whois dave", r'! No user named "dave"\.', r"(! No user.*|\* dave is in: .*)"
    )
    _, again = await logged_in(clients, a, "dave")  # handed over once, in the whole cluster
    assert not [x for x in again if "while you were offline" in x]


async def test_a_private_message_taken_back_leaves_redis_and_the_wait_on_every_node(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    dave = await registered(clients, a, "dave")
    await dave.send("/quit")
    await dave.expect_closed()
    await registered(clients, a, "alice")
    bob = await registered(clients, b, "bob")
    await ask_until(bob, "/whois alice", r"\* alice is logged in as alice", r"\* alice is in: .*")
    alice = await IrcClient.open(a.irc_port)  # one more connection of alice's, on IRC
    clients.append(alice)
    await alice.send(f"PASS alice:{PASSWORD}")
    caps = ("echo-message", "message-tags", "draft/message-redaction")
    await alice.register("alice_", caps)  # its welcome is alice's: one user, two connections
    await ask_until(alice, "WHOIS bob", r":\S+ 330 alice bob bob :.*", r":\S+ 318 .*")
    ids = []
    for target, said in (("bob", "oops"), ("dave", "later")):
        await alice.send(f"PRIVMSG {target} :{said}")
        echo = (await alice.expect(line(rf"@\S+ :alice!\S+ PRIVMSG {target} :?{said}")))[-1]
        found = re.search(r"msgid=(\d+)", echo)
        assert found is not None
        ids.append(found[1])
    await bob.expect(line(rf"{STAMP} \*alice\* oops"))
    await alice.send(f"REDACT bob {ids[0]}", f"REDACT dave {ids[1]}")
    await alice.expect(line(rf"@\S+ :alice!\S+ REDACT bob {ids[0]}"))
    await alice.expect(line(rf"@\S+ :alice!\S+ REDACT dave {ids[1]}"))
    await bob.expect(line(r"\* alice deleted their private message of \d\d:\d\d"))  # node b
    await bob.send("/history alice")
    await bob.expect("* No private messages with alice.")
    assert await redis.cli("XLEN", "chatroom:private:alice bob") == "0"
    dave, lines = await logged_in(clients, b, "dave")
    assert not any("while you were offline" in entry for entry in lines), lines
