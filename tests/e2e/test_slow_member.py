"""A member that never reads cannot slow its room: it is dropped, the others get all."""

from __future__ import annotations

import asyncio
import socket

import pytest

from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient


async def stalled_member(port: int, name: str, room: str) -> socket.socket:
    """A raw client that logs in, joins `room`, then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    await asyncio.get_running_loop().sock_sendall(sock, f"{name}\n2\n{room}\n".encode())
    return sock


@pytest.mark.timeout(30)
async def test_a_stalled_member_is_dropped_and_the_others_get_every_message(
    connect: Connect, server: ChatServer
) -> None:
    senders, per_sender, padding = 3, 2000, "x" * 1000
    clients = [await connect(f"u{i}") for i in range(4)]
    await clients[0].create("lobby")
    for client in clients[1:]:
        await client.join("lobby")
    stalled = await stalled_member(server.port, "stalled", "lobby")
    await clients[0].expect("* stalled has joined lobby")
    biggest_queue = 0

    async def send(client: ChatClient, me: int) -> None:
        nonlocal biggest_queue
        for n in range(per_sender):
            await client.send(f"{me} {n} {padding}")
            for conn in server.connections():
                biggest_queue = max(biggest_queue, conn.send_queue_bytes())

    async def receive(client: ChatClient) -> tuple[int, list[str]]:
        said, notices = 0, []
        while said < senders * per_sender:
            line = await client.line(timeout=10)
            if line.startswith("["):
                said += 1
            else:
                notices.append(line)
        return said, notices

    receiving = [asyncio.create_task(receive(c)) for c in clients]
    await asyncio.gather(*(send(clients[i], i) for i in range(senders)))
    for said, notices in await asyncio.gather(*receiving):
        assert said == senders * per_sender
        quits = [line for line in notices if " has quit" in line]
        assert quits == ["* stalled has quit (send queue exceeded)"]
    limit = server.config.max_send_queue_bytes
    assert biggest_queue <= limit + 64 * 1024, "a send queue grew past its limit"
    assert "stalled" not in server.rooms.snapshot()[0]
    stalled.close()
