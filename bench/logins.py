"""Accounts and password logins, as bench/login_storm.py drives them.

`register_all` makes the bench's accounts, half through the text door (`/register`),
half through the IRC door (`REGISTER * * PASSWORD`, draft/account-registration). The
server lets one address register 3 accounts every 10 minutes (registry/accounts.py),
and that default stays: each address registers at most 3, from loopback source
addresses 127.0.0.2, 127.0.0.3, ... bound by the client (all of 127.0.0.0/8 is this
machine). A right password takes no try from the login limits, so the storm itself
needs no such spread.

`login_text` and `login_irc` are one fresh connection each that logs in with a password
(the text door's password prompt; IRC SASL PLAIN), waits until the session is ready to
chat, and quits. `storm_main` is the storm's worker process: told a rate and a window
over a pipe, it starts one login every 1/rate s, alternating the doors, whatever the
server's pace (an open loop: a login's latency counts from when it was due).

The passwords are made per run and never printed. Only 127.0.0.0/8; Linux.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import resource
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

HOST = "127.0.0.1"
REGISTRATIONS_PER_ADDRESS = 3  # registry/accounts.py: Accounts.registrations' burst
FIRST_SOURCE = ipaddress.IPv4Address("127.0.0.2")  # 127.0.0.1 is the chat's and the storm's
LOGIN_TIMEOUT_S = 10.0
REGISTER_CONCURRENCY = 8


class LoginFailed(Exception):
    """The server refused, or answered something a login does not expect."""


@dataclass(frozen=True, slots=True)
class BenchAccount:
    name: str
    password: str = field(repr=False)
    door: str  # "text" or "irc": the door that registers it and logs in to it


@dataclass(frozen=True, slots=True)
class Ports:
    text: int
    irc: int


@dataclass(frozen=True, slots=True)
class StormOrder:
    rate: float  # logins a second
    seconds: float
    start_ns: int  # time.monotonic_ns(), one clock for every process on the machine


@dataclass(slots=True)
class StormReport:
    attempted: int = 0
    ok: int = 0
    ok_in_window: int = 0  # logged in before the window closed
    errors: dict[str, int] = field(default_factory=dict)
    latency_ns: dict[str, list[int]] = field(default_factory=dict)  # door: ok logins'


def source_address(index: int) -> str:
    """The loopback address the index-th account registers from."""
    return str(FIRST_SOURCE + index // REGISTRATIONS_PER_ADDRESS)


class Lines:
    """A connection's lines, read until one ends a wait."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())

    async def until(self, done: Callable[[str], bool], fail: Callable[[str], bool]) -> str:
        while True:
            raw = await self.reader.readline()
            if not raw:
                raise LoginFailed("connection closed")
            line = raw.decode(errors="replace").rstrip("\r\n")
            if done(line):  # first: 422 (no MOTD) ends a welcome, though in 400-599
                return line
            if fail(line):
                raise LoginFailed(line[:80])  # no server line repeats a password

    async def close(self) -> None:
        """After a quit: read to the server's close, then close our end."""
        try:
            while await self.reader.read(65536):
                pass
        finally:
            self.writer.close()
            await self.writer.wait_closed()


async def connect(port: int, source: str = HOST) -> Lines:
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    return Lines(reader, writer)


def text_error(line: str) -> bool:
    return line.startswith("!")  # docs/protocol.md: an error line


def irc_error(line: str) -> bool:
    """ERROR, FAIL, a CAP NAK or an error numeric (400-599)."""
    words = line.split(" ", 3)
    if words[0] in ("ERROR", "FAIL") or (len(words) > 1 and words[1] == "FAIL"):
        return True
    if len(words) > 3 and words[1] == "CAP" and words[3].startswith("NAK"):
        return True
    return len(words) > 1 and words[1].isdigit() and 400 <= int(words[1]) < 600


def welcome_end(line: str) -> bool:
    return line.split(" ", 2)[1:2] in (["376"], ["422"])  # end of MOTD, or none


async def register_text(port: int, account: BenchAccount, source: str) -> None:
    lines = await connect(port, source)
    await lines.until(lambda s: s == "Enter your username:", text_error)
    lines.send(account.name)
    await lines.until(lambda s: s == "Enter your choice:", text_error)
    lines.send(f"/register {account.password}")
    registered = f"Account {account.name} registered"
    await lines.until(lambda s: registered in s, lambda s: text_error(s) or "NickServ* Too" in s)
    lines.send("/quit")
    await lines.close()


async def register_irc(port: int, account: BenchAccount, source: str) -> None:
    name = account.name
    lines = await connect(port, source)
    lines.send("CAP LS 302", f"NICK {name}", f"USER {name} 0 * :{name}")
    await lines.until(lambda s: " CAP * LS " in s, irc_error)
    lines.send(f"REGISTER * * {account.password}")
    await lines.until(lambda s: " REGISTER SUCCESS " in s, irc_error)
    lines.send("CAP END")
    await lines.until(welcome_end, irc_error)
    lines.send("QUIT")
    await lines.close()


async def register_all(ports: Ports, accounts: list[BenchAccount]) -> None:
    """Register every account, a few at a time; LoginFailed names the first refusal."""
    gate = asyncio.Semaphore(REGISTER_CONCURRENCY)

    async def one(index: int, account: BenchAccount) -> None:
        async with gate, asyncio.timeout(30):
            if account.door == "text":
                await register_text(ports.text, account, source_address(index))
            else:
                await register_irc(ports.irc, account, source_address(index))

    await asyncio.gather(*(one(i, a) for i, a in enumerate(accounts)))


async def login_text(port: int, account: BenchAccount) -> int:
    """Log in at the password prompt; monotonic_ns when the menu is offered; quit."""
    lines = await connect(port)
    await lines.until(lambda s: s == "Enter your username:", text_error)
    lines.send(account.name)
    await lines.until(lambda s: s == f"Enter the password for {account.name}:", text_error)
    lines.send(account.password)
    await lines.until(lambda s: s == f"* You are logged in as {account.name}.", text_error)
    await lines.until(lambda s: s == "Enter your choice:", text_error)
    ready_ns = time.monotonic_ns()
    lines.send("/quit")
    await lines.close()
    return ready_ns


async def login_irc(port: int, account: BenchAccount) -> int:
    """SASL PLAIN, then registration under the account's name; monotonic_ns at the end
    of the welcome; quit."""
    name = account.name
    lines = await connect(port)
    lines.send("CAP REQ :sasl", f"NICK {name}", f"USER {name} 0 * :{name}")
    await lines.until(lambda s: " CAP * ACK " in s, irc_error)
    lines.send("AUTHENTICATE PLAIN")
    await lines.until(lambda s: s.endswith("AUTHENTICATE +"), irc_error)
    plain = base64.b64encode(f"\0{name}\0{account.password}".encode()).decode()
    lines.send(f"AUTHENTICATE {plain}")
    await lines.until(lambda s: s.split(" ", 2)[1:2] == ["903"], irc_error)
    lines.send("CAP END")
    await lines.until(welcome_end, irc_error)
    ready_ns = time.monotonic_ns()
    lines.send("QUIT")
    await lines.close()
    return ready_ns


async def storm(ports: Ports, accounts: list[BenchAccount], order: StormOrder) -> StormReport:
    """One login every 1/rate s from order.start_ns for order.seconds, the doors in turn,
    each to the account of its door idle longest; wait for the last, then report."""
    report = StormReport()
    idle = {door: deque(a for a in accounts if a.door == door) for door in ("text", "irc")}
    end_ns = order.start_ns + int(order.seconds * 1e9)

    async def one(k: int, due_ns: int) -> None:
        door = "text" if k % 2 == 0 else "irc"
        if not idle[door]:  # two logins at once to one account would take its name over
            kind = f"{door}: every account busy (logins too slow)"
            report.errors[kind] = report.errors.get(kind, 0) + 1
            return
        account = idle[door].popleft()
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT_S):
                if door == "text":
                    ready_ns = await login_text(ports.text, account)
                else:
                    ready_ns = await login_irc(ports.irc, account)
        except (OSError, LoginFailed, TimeoutError) as exc:
            kind = f"{door}: {exc}" if isinstance(exc, LoginFailed) else f"{door}: {exc!r}"
            report.errors[kind] = report.errors.get(kind, 0) + 1
            return
        finally:
            idle[door].append(account)
        report.ok += 1
        report.ok_in_window += ready_ns <= end_ns
        report.latency_ns.setdefault(door, []).append(ready_ns - due_ns)

    tasks = []
    interval_ns = 1e9 / order.rate
    for k in range(round(order.rate * order.seconds)):
        due_ns = order.start_ns + int(k * interval_ns)
        wait_ns = due_ns - time.monotonic_ns()
        if wait_ns > 0:
            await asyncio.sleep(wait_ns / 1e9)
        tasks.append(asyncio.create_task(one(k, due_ns)))
        report.attempted += 1
    await asyncio.gather(*tasks)
    return report


def storm_main(pipe: Connection, ports: Ports, accounts: list[BenchAccount]) -> None:
    """The storm's process: a StormOrder in, a StormReport out, until None comes.
    In a session of its own: Linux shares a CPU between sessions first (autogroup), so
    the storm's work does not shrink the room's share of CPU 1, nor the server's."""
    os.setsid()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        while (order := pipe.recv()) is not None:
            pipe.send(("ok", asyncio.run(storm(ports, accounts, order))))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return
    except Exception:
        pipe.send(("error", traceback.format_exc()))
