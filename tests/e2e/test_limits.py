"""Limits against abuse: flood control, connection caps, login time, rooms, send queues.

Each limit is driven over real sockets where loopback allows it; the per-address cap,
from which loopback is exempt, is driven through `ChatServer.admit` with stand-in
connections from other addresses.
"""

from __future__ import annotations

import asyncio
import fcntl
import re
import socket
import sys
import termios
import tracemalloc
from collections.abc import Callable
from typing import cast

import pytest

from config.options import parse_args
from config.settings import Config
from doors.text.session import MENU
from net.connection import Connection
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, connection_of, in_room, wait_until
from utils import is_loopback

CHAT = re.compile(r"\[\d\d:\d\d\] <(?P<name>[^>]+)> (?P<text>.*)")
KIB = 1024


def transport_of(conn: Connection) -> asyncio.Transport:
    assert conn.transport is not None
    return conn.transport


async def chat_texts(client: ChatClient, count: int, timeout: float = 10.0) -> list[str]:
    """The texts of the next `count` chat lines, skipping notices."""
    texts: list[str] = []
    async with asyncio.timeout(timeout):
        while len(texts) < count:
            match = CHAT.fullmatch(await client.line(timeout))
            if match:
                texts.append(match["text"])
    return texts


# --- Flood control ---

PACED = Config(port=0, rate_lines_per_s=20, burst_lines=5)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("config", [PACED], ids=["rate 20, burst 5"])
async def test_a_pasted_block_arrives_whole_and_in_order_only_slower(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "paste", create=True)
    bob = await in_room(connect, "bob", "other", create=True)
    lines = [f"line {n:02}" for n in range(30)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await alice.send(*lines)
    receiving = asyncio.create_task(chat_texts(alice, len(lines)))
    round_trips = []
    for n in range(3):  # meanwhile another client's lines echo at once
        sent = loop.time()
        await bob.send(f"ping {n}")
        assert await chat_texts(bob, 1) == [f"ping {n}"]
        round_trips.append(loop.time() - sent)
    assert not receiving.done(), "the paste was not paced at all"
    assert await receiving == lines
    took = loop.time() - started
    assert took >= (30 - 5) / 20 * 0.95, f"30 lines at 20/s after a burst of 5 took {took:.2f} s"
    assert max(round_trips) < 0.5, f"another client waited {max(round_trips):.2f} s"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("config", [PACED], ids=["rate 20, burst 5"])
async def test_a_flooding_client_is_paused_by_tcp_not_dropped_or_kicked(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "paste", create=True)
    conn = connection_of(server, "alice")
    lines = [f"flood {n:02}" for n in range(12)]
    await alice.send(*lines)
    await wait_until(lambda: not transport_of(conn).is_reading())
    assert await chat_texts(alice, len(lines)) == lines
    await wait_until(lambda: transport_of(conn).is_reading())
    await alice.send("/who")
    assert await alice.line() == "* Users in paste: @alice"


@pytest.mark.parametrize("config", [Config(port=0, rate_lines_per_s=0, burst_lines=1)])
async def test_rate_zero_turns_flood_control_off(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    lines = [f"fast {n}" for n in range(300)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await alice.send(*lines)
    assert await chat_texts(alice, len(lines)) == lines
    assert loop.time() - started < 5, "300 lines were paced although --rate is 0"


def _bytes_not_yet_read(server_sock: socket.socket, client_sock: socket.socket) -> int:
    """Bytes the client sent that the server has not read: in both kernels' queues."""
    waiting = bytearray(4)
    fcntl.ioctl(server_sock.fileno(), termios.FIONREAD, waiting)
    unsent = bytearray(4)
    fcntl.ioctl(client_sock.fileno(), termios.TIOCOUTQ, unsent)
    return int.from_bytes(waiting, sys.byteorder) + int.from_bytes(unsent, sys.byteorder)


@pytest.mark.skipif(sys.platform != "linux", reason="counts kernel queues with Linux ioctls")
@pytest.mark.parametrize("config", [Config(port=0, rate_lines_per_s=5)], ids=["rate 5"])
async def test_a_flood_of_short_lines_costs_the_server_about_what_it_read_not_ten_times_it(
    server: ChatServer,
) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    await loop.sock_sendall(sock, b"alice\n")
    await wait_until(lambda: any(c.session and c.session.member for c in server.connections()))
    conn = connection_of(server, "alice")
    server_sock = transport_of(conn).get_extra_info("socket")
    flood = memoryview(b"ab\n" * (4 << 20))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sent = 0
        async with asyncio.timeout(10):
            while transport_of(conn).is_reading() or sent == 0:
                try:
                    sent += sock.send(flood[sent : sent + 256 * KIB])
                except BlockingIOError:
                    await asyncio.sleep(0.001)  # let the server read
        held = tracemalloc.get_traced_memory()[0] - before
        read = sent - _bytes_not_yet_read(server_sock, sock)
    finally:
        tracemalloc.stop()
        sock.close()
    assert read > 0
    assert held <= 3 * read + 64 * KIB, (
        f"the server holds {held} bytes for the {read} bytes of short lines it has read"
    )


# --- Connection limits ---


@pytest.mark.parametrize("config", [Config(port=0, rate_lines_per_s=0, max_clients=3)])
async def test_a_connection_over_max_clients_is_told_why_and_closed(
    connect: Connect, server: ChatServer
) -> None:
    first = await connect("alice")
    await connect("bob")
    await connect("carol")
    extra = await connect()
    assert await extra.expect_closed() == ["! Server is full (3 connections). Try again later."]
    await first.send("/quit")
    assert await first.expect_closed() == ["Goodbye!"]
    await wait_until(lambda: len(server.connections()) == 2)
    again = await connect("alice2")  # a freed slot is usable again
    await again.send("/rooms")
    assert await again.line() == "* No rooms yet. Create one with 1 or /create NAME."


class StandIn:
    """Just enough of a Connection for ChatServer.admit and forget: its address."""

    def __init__(self, ip: str) -> None:
        self.ip = ip


def stand_in(ip: str) -> Connection:
    return cast(Connection, StandIn(ip))


async def test_max_per_ip_refuses_one_address_but_not_others_and_frees_slots() -> None:
    server = ChatServer(Config(port=0, max_per_ip=2))
    first, second = stand_in("203.0.113.7"), stand_in("203.0.113.7")
    assert server.admit(first) is None
    assert server.admit(second) is None
    refusal = "Too many connections from your address (limit 2)."
    assert server.admit(stand_in("203.0.113.7")) == refusal
    assert server.admit(stand_in("203.0.113.8")) is None
    assert server.admit(stand_in("2001:db8::1")) is None
    server.forget(first)
    assert server.admit(stand_in("203.0.113.7")) is None
    assert server.admit(stand_in("203.0.113.7")) == refusal


async def test_max_per_ip_counts_an_ipv6_slash_64_as_one_address() -> None:
    server = ChatServer(Config(port=0, max_per_ip=2))
    refusal = "Too many connections from your address (limit 2)."
    first = stand_in("2001:db8:1:2::a")
    assert server.admit(first) is None
    assert server.admit(stand_in("2001:db8:1:2:ffff::b")) is None
    assert server.admit(stand_in("2001:db8:1:2::c")) == refusal
    assert server.admit(stand_in("2001:db8:1:3::a")) is None
    server.forget(first)
    assert server.admit(stand_in("2001:db8:1:2::c")) is None


async def test_an_ipv4_mapped_address_counts_as_its_ipv4_address() -> None:
    server = ChatServer(Config(port=0, max_per_ip=1))
    assert server.admit(stand_in("203.0.113.9")) is None
    assert server.admit(stand_in("::ffff:203.0.113.9")) is not None


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"])
async def test_loopback_addresses_are_exempt_from_max_per_ip(ip: str) -> None:
    server = ChatServer(Config(port=0, max_per_ip=1))
    assert all(server.admit(stand_in(ip)) is None for _ in range(5))


async def test_max_per_ip_zero_means_no_limit() -> None:
    server = ChatServer(Config(port=0, max_per_ip=0))
    assert all(server.admit(stand_in("198.51.100.1")) is None for _ in range(50))


async def test_max_clients_counts_every_address_loopback_included() -> None:
    server = ChatServer(Config(port=0, max_clients=2, max_per_ip=0))
    assert server.admit(stand_in("127.0.0.1")) is None
    assert server.admit(stand_in("198.51.100.1")) is None
    full = "Server is full (2 connections). Try again later."
    assert server.admit(stand_in("198.51.100.2")) == full
    assert server.admit(stand_in("127.0.0.1")) == full


@pytest.mark.parametrize(
    "ip,loopback",
    [
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("2001:db8::1", False),
        ("?", False),
        ("", False),
    ],
)
def test_is_loopback_knows_loopback_addresses_in_every_form(ip: str, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


# --- Login time ---


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "config", [Config(port=0, rate_lines_per_s=0, login_timeout_s=0.4)], ids=["0.4 s"]
)
async def test_a_connection_that_never_logs_in_is_told_and_closed(connect: Connect) -> None:
    alice = await connect("alice")  # logged in before the idler came: never timed out
    idler = await connect()
    typist = await connect()
    await typist.expect("Enter your username:")
    await typist.send("not a valid name!")  # a refused name is not a login
    await typist.send_bytes(b"half a na")  # nor is half a line
    assert await idler.expect_closed() == [
        "* Welcome to chatroom.",
        "Enter your username:",
        "! Login timed out after 0.4 s.",
    ]
    assert (await typist.expect_closed())[-1] == "! Login timed out after 0.4 s."
    await alice.send("/rooms")
    assert await alice.line() == "* No rooms yet. Create one with 1 or /create NAME."


# --- Rooms ---


@pytest.mark.parametrize("config", [Config(port=0, rate_lines_per_s=0, max_rooms=2)])
async def test_the_room_count_is_capped_with_a_clear_error(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "one", create=True)
    await in_room(connect, "bob", "two", create=True)
    carol = await connect("carol")
    await carol.send("/create three")
    assert await carol.line() == "! Room limit reached (2 rooms)."
    await carol.expect("Enter your choice:")
    await carol.send("1", "three")
    assert await carol.expect("Enter your choice:") == [
        "Enter new room name:",
        "! Room limit reached (2 rooms).",
        *MENU,
    ]
    await alice.send("exit")  # "one" closes with its last member
    await alice.expect("Enter your choice:")
    await carol.create("three")


# --- Send queues ---


async def stalled_member(port: int, name: str, room: str) -> socket.socket:
    """A raw client with a tiny receive window that joins `room`, then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"{name}\n/join {room}\n".encode())
    return sock


STALLED = 200
QUEUE_LIMIT = 4 * KIB


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "config",
    [Config(port=0, rate_lines_per_s=0, max_send_queue_bytes=QUEUE_LIMIT, max_per_ip=0)],
    ids=["max_send_queue 4 KiB"],
)
async def test_many_stalled_members_cannot_exhaust_memory_and_are_all_dropped(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "flood", create=True)
    socks = [await stalled_member(server.port, f"s{n}", "flood") for n in range(STALLED)]
    joined = {f"* s{n} has joined flood" for n in range(STALLED)}
    quits = {f"* s{n} has quit (send queue exceeded)" for n in range(STALLED)}
    seen: set[str] = set()

    async def watch(wanted: set[str]) -> None:
        while not wanted <= seen:
            seen.add(await alice.line(timeout=20))

    echoed = -1

    async def watch_quits() -> None:
        nonlocal echoed
        while not quits <= seen:
            line = await alice.line(timeout=20)
            match = CHAT.fullmatch(line)
            if match:
                echoed = int(match["text"].split(" ", 1)[0])
            seen.add(line)

    await watch(joined)
    for conn in server.connections():  # a slow network: kernels buffer little for them
        if conn.session is not None and conn.session.name != "alice":
            server_sock = transport_of(conn).get_extra_info("socket")
            server_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * KIB)
    watching = asyncio.create_task(watch_quits())
    text = "x" * 1000
    batch = len(f"[00:00] <alice> 0000 {text}\r\n")
    most_queued = 0

    def fanned_out(n: int) -> Callable[[], bool]:
        return lambda: echoed >= n or watching.done()

    for n in range(1000):
        if watching.done():
            break
        await alice.send(f"{n} {text}")
        await wait_until(fanned_out(n))  # its echo is written with everyone's copy
        queued = sum(c.send_queue_bytes() for c in server.connections())
        most_queued = max(most_queued, queued)
    await asyncio.wait_for(watching, 20)
    assert most_queued <= (STALLED + 1) * (QUEUE_LIMIT + batch), (
        f"{most_queued} bytes queued for {STALLED} stalled members"
    )
    users, rooms = server.rooms.snapshot()
    assert list(users) == ["alice"]
    assert rooms["flood"].names() == ["alice"]
    for sock in socks:
        sock.close()


# --- Flags ---


def test_every_limit_has_its_documented_default() -> None:
    config = parse_args([])
    assert config.max_line_bytes == 2048
    assert config.rate_lines_per_s == 5
    assert config.burst_lines == 10
    assert config.max_per_ip == 20
    assert config.login_timeout_s == 60
    assert config.max_rooms == 1000
    assert config.max_send_queue_bytes == 256 * KIB
    assert config.max_clients == 20_000


def test_every_limit_has_a_flag() -> None:
    config = parse_args(
        [
            *("--max-line", "100", "--rate", "0", "--burst", "3", "--max-clients", "7"),
            *("--max-per-ip", "0", "--login-timeout", "0.5", "--max-rooms", "9"),
            *("--max-send-queue", "1000"),
        ]
    )
    assert (config.max_line_bytes, config.rate_lines_per_s, config.burst_lines) == (100, 0, 3)
    assert (config.max_clients, config.max_per_ip, config.max_rooms) == (7, 0, 9)
    assert (config.login_timeout_s, config.max_send_queue_bytes) == (0.5, 1000)


@pytest.mark.parametrize(
    "flag", ["--burst", "--max-line", "--max-clients", "--max-rooms", "--max-send-queue"]
)
def test_a_limit_that_would_refuse_everyone_is_refused_at_start(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args([flag, "0"])
    assert exit_.value.code == 2
    assert f"{flag} must be at least 1" in capsys.readouterr().err


async def test_login_timeout_zero_means_no_limit() -> None:
    server = ChatServer(Config(port=0, login_timeout_s=0))
    port = await server.start()
    try:
        client = await ChatClient.open(port)
        await client.expect("Enter your username:")
        (conn,) = server.connections()
        assert conn.login_deadline is None
        await client.close()
    finally:
        await server.aclose()
