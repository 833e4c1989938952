"""A cluster's faults against a real redis-server: order and exactly-once under load,
Redis dropping a slow subscriber, a node paused past its lease, one name held twice
after an outage, --workers, and --cluster without the extra."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys

import pytest

from tests.process.test_cluster import StartNode, line, nodes, text
from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import ROOT, Node, RedisServer, free_port, needs_redis

pytestmark = needs_redis()
__all__ = ["nodes"]  # the fixtures, shared


async def test_order_and_exactly_once_per_sender_under_load(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    senders = [await text(clients, a, f"s{n}") for n in range(3)]
    await senders[0].create("load")
    for sender in senders[1:]:
        await sender.join("load")
    reader = await text(clients, b, "reader")
    await reader.join("load")
    for sender in senders:
        await sender.expect("* reader has joined load")
    count = 300
    await asyncio.gather(
        *(s.send(*(f"{n} {i}" for i in range(count))) for n, s in enumerate(senders))
    )
    seen: dict[str, list[int]] = {f"s{n}": [] for n in range(3)}
    async with asyncio.timeout(20):
        while sum(map(len, seen.values())) < 3 * count:
            if m := re.fullmatch(r"\[\d\d:\d\d\] <(s\d)> \d (\d+)", await reader.line()):
                seen[m[1]].append(int(m[2]))
    assert all(got == list(range(count)) for got in seen.values())
    assert not [x for x in a.log + b.log if "lost" in x and "messages from" in x]


async def test_redis_dropping_a_slow_subscriber_is_a_fault_replayed_and_healed(
    clients: list[LineClient],
) -> None:
    # A tiny limit (the default is 32 MB), still above one batch (16 KB).
    redis = RedisServer("--client-output-buffer-limit", "pubsub", "64kb", "64kb", "0")
    await redis.start()
    a = await Node.start("a", redis.url)
    # b replays what Redis did not send it (18 MB) to bob, faster than a live chat
    # would: room for it, so the test is of Redis's limit, not of a client's on b.
    b = await Node.start("b", redis.url, "--max-send-queue", str(64 << 20))
    try:
        alice = await text(clients, a, "alice")
        await alice.create("lobby")
        bob = await text(clients, b, "bob")
        await bob.join("lobby")
        await alice.expect("* bob has joined lobby")
        last = asyncio.create_task(bob.expect(line(r"\[\d\d:\d\d\] <alice> burst 11 999 x+"), 30))
        b.pause()  # stalled: its subscription's output piles up in Redis
        # More than the kernel's socket buffers hold (12 MB), so Redis must buffer it.
        for chunk in range(12):
            await alice.send(*(f"burst {chunk} {i} " + "x" * 1500 for i in range(1000)))
            await alice.expect(line(rf"\[\d\d:\d\d\] <alice> burst {chunk} 999 x+"))
        async with asyncio.timeout(10):  # until Redis has dropped b's subscription
            while await redis.subscribers() > 1:
                await asyncio.sleep(0.05)
        b.resume()
        await b.expect_log(r"lost Redis at .*Connection closed by server")
        await b.expect_log(r"Redis is back")
        await last  # what Redis dropped, read back from a's log
        await alice.send("after")
        await bob.expect(line(r"\[\d\d:\d\d\] <alice> after"))
    finally:
        await a.stop()
        await b.stop()
        await redis.close()
    assert not a.errors() and not b.errors(), b.log[-15:]
    assert not [x for x in b.log if re.search(r"lost \d+ messages? from", x)], b.log[-15:]


async def test_a_node_paused_past_its_lease_comes_back_and_tells_its_users(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    bob = await text(clients, b, "bob")
    await bob.join("lobby")
    await alice.expect("* bob has joined lobby")
    b.pause()
    await alice.expect(line(r"\* bob has quit \(b lost touch with the cluster\)"), timeout=12)
    b.resume()
    await b.expect_log(r"lease had expired")
    await bob.expect(line(r".*This server lost touch with the cluster for a while.*"))
    await alice.expect("* bob has joined lobby", timeout=10)
    await bob.send("back")
    await alice.expect(line(r"\[\d\d:\d\d\] <bob> back"))


async def test_a_name_claimed_on_two_nodes_during_an_outage_is_resolved_and_the_loser_told(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    await redis.stop()
    await a.expect_log(r"lost Redis at")
    await b.expect_log(r"lost Redis at")
    one = await text(clients, a, "zed")  # both granted locally: Redis cannot be asked
    two = await text(clients, b, "zed")
    await redis.start()
    await a.expect_log(r"claimed \d+ names? again", timeout=15)
    await b.expect_log(r"claimed \d+ names? again", timeout=15)
    renamed = [x for x in a.log + b.log if "is held on another node; renamed" in x]
    assert len(renamed) == 1, renamed
    loser = one if any("renamed" in x for x in a.log) else two
    await loser.expect(
        line(r".*Another user of the cluster holds the name zed; you are now Guest\d+\..*")
    )
    owner = await redis.cli("HGET", "chatroom:names", "zed")
    assert owner.startswith("b'b|" if loser is one else "b'a|")


async def test_workers_share_the_ports_and_the_chat(redis: RedisServer) -> None:
    port, irc_port = free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "server.py", "--port", str(port), "--irc-port", str(irc_port),
        "--cluster", redis.url, "--node-name", "w", "--workers", "2",
        stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    node = Node("w", proc)
    try:
        await node.expect_log(r"node w-1 on")
        await node.expect_log(r"node w-2 on")
        await node.expect_log(r"text door listening")
        people: list[ChatClient] = []
        for n in range(8):  # the kernel spreads them over both workers
            client = await ChatClient.open(port)
            people.append(client)
            await client.login(f"p{n}")
        await people[0].create("all")
        for client in people[1:]:  # a room made on one worker reaches the other in a hop
            async with asyncio.timeout(5):
                while True:
                    await client.send("/join all")
                    if (await client.line()).startswith("Joined room [all]"):
                        break
            await client.expect(re.compile(r"\* Users in all: .*"))
        await people[-1].send("hello everyone")
        for client in people[:-1]:
            await client.expect(line(r"\[\d\d:\d\d\] <p7> hello everyone"))
        for client in people:
            await client.close()
    finally:
        await node.stop()
    assert proc.returncode == 0
    assert not node.errors()


def test_cluster_without_the_extra_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import server

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    with pytest.raises(SystemExit) as exit_:
        server.parse_args(["--cluster", "redis://127.0.0.1:6379/0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--cluster needs the Redis client: pip install 'chatroom[cluster]' "
                            "(in a checkout: pip install '.[cluster]')")  # fmt: skip
