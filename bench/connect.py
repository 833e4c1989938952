"""Log bench connections in and line them up, with asyncio over raw sockets.

Used inside a worker process before the timed steps: connect, then on the text door
answer the prompts (docs/protocol.md, Names) and create or join the room, or on the
IRC door register (``NICK``, ``USER``, optionally ``CAP REQ :echo-message``; the welcome
ends with 376 or 422) and ``JOIN #room`` (done at the client's own JOIN line, then 366);
over WebSocket the same after an HTTP/1.1 Upgrade (``Sec-WebSocket-Protocol:
text.ircv3.net``), each line one masked text frame; later wait for a sync line. An
account's connections (text door only): the first registers its guest name
(``/register PASSWORD``) before the room, the others log in with the password and find
themselves in it. The sockets stay non-blocking and are
handed to the worker's epoll loop afterwards. Not the hot path: clarity over speed.
Only loopback: 127.0.0.1, and 127.0.0.x as the source of a registration.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Callable, Iterable

from plan import ClientSpec, LoginReport, WorkerOptions
from protocols import SUBPROTOCOL, channel, chat, is_irc, wire, ws_frame

RECV_BYTES = 65536


class LoginError(Exception):
    """The server answered a bench client with an error line or hung up."""


def text_error(line: str) -> bool:
    return line.startswith("!")  # docs/protocol.md: an error line


def irc_error(line: str) -> bool:
    """ERROR, FAIL, a CAP NAK, or an error numeric (400-599)."""
    words = line.split(" ", 3)
    if words[0] in ("ERROR", "FAIL"):
        return True
    if len(words) < 3 or not words[0].startswith(":"):
        return False
    if words[1] == "CAP":
        return len(words) > 3 and words[3].startswith("NAK")
    return words[1].isdigit() and "400" <= words[1] < "600"


class LineReader:
    """Reads whole lines from a non-blocking socket through the running loop."""

    def __init__(self, sock: socket.socket, protocol: str = "text") -> None:
        self.sock = sock
        self.buf = b""
        self.is_error = irc_error if is_irc(protocol) else text_error
        self.framed = protocol == "websocket"
        self.frames = b""  # over WebSocket: bytes not yet a whole frame

    async def until(self, wanted: Callable[[str], bool]) -> str:
        """Return the first line for which ``wanted`` is true; an error line raises."""
        loop = asyncio.get_running_loop()
        while True:
            while (end := self.buf.find(b"\n")) >= 0:
                line = self.buf[:end].rstrip(b"\r").decode("utf-8", "replace")
                self.buf = self.buf[end + 1 :]
                if wanted(line):
                    return line
                if self.is_error(line):
                    raise LoginError(line)
            data = await loop.sock_recv(self.sock, RECV_BYTES)
            if not data:
                raise LoginError("the server closed the connection")
            if self.framed:
                self.frames += data
                self.buf += await self._unframe()
            else:
                self.buf += data

    async def _unframe(self) -> bytes:
        """The whole server frames in ``self.frames``: text messages as lines (each with
        a ``\\n``), a ping answered with its pong, a close an error."""
        lines, data, at = [], self.frames, 0
        while len(data) - at >= 2:
            opcode, size, head = data[at] & 0x0F, data[at + 1] & 0x7F, 2
            if size >= 126:
                head += 2 if size == 126 else 8
                if len(data) - at < head:
                    break
                size = int.from_bytes(data[at + 2 : at + head], "big")
            if len(data) - at < head + size:
                break
            payload = data[at + head : at + head + size]
            at += head + size
            if opcode in (0, 1, 2):  # continuation, text, binary
                lines.append(payload + (b"\n" if data[at - head - size] & 0x80 else b""))
            elif opcode == 8:
                raise LoginError(f"the server closed the WebSocket: {payload[2:]!r}")
            elif opcode == 9:
                await asyncio.get_running_loop().sock_sendall(self.sock, ws_frame(payload, 10))
        self.frames = data[at:]
        return b"".join(lines)


def _is(text: str) -> Callable[[str], bool]:
    return lambda line: line == text


def _joined(line: str) -> bool:
    return line.startswith("Joined room [")


def _numeric(*codes: str) -> Callable[[str], bool]:
    return lambda line: line.startswith(":") and line.split(" ", 2)[1:2] in ([c] for c in codes)


def _own(nick: str, command: str) -> Callable[[str], bool]:
    """The server's line about this client's own ``command`` (``:nick!user@host JOIN ...``)."""
    return lambda line: line.startswith(f":{nick}!") and line.split(" ", 2)[1:2] == [command]


async def _send(sock: socket.socket, text: str, protocol: str = "text") -> None:
    await asyncio.get_running_loop().sock_sendall(sock, wire(protocol, text))


async def login_one(
    spec: ClientSpec, port: int, opts: WorkerOptions
) -> tuple[socket.socket, float]:
    """Connect one client, name it and put it in its room; return it and the seconds taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if spec.is_stalled:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, opts.stalled_rcvbuf_bytes)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, opts.stalled_mss_bytes)
    started = time.perf_counter()
    try:
        if spec.source:
            sock.bind((spec.source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (opts.host, port))
        if opts.protocol == "websocket":
            reader = await _ws_upgrade(sock, opts.host)
            await _irc_login(sock, spec, opts.irc_echo, reader)
        elif opts.protocol == "irc":
            await _irc_login(sock, spec, opts.irc_echo)
        elif spec.is_device:
            await _device_login(sock, spec)
        else:
            await _text_login(sock, spec)
    except BaseException:
        sock.close()
        raise
    return sock, time.perf_counter() - started


async def _text_login(sock: socket.socket, spec: ClientSpec) -> None:
    """A guest's name, then the room; with a password, the name is registered first."""
    reader = LineReader(sock)
    await reader.until(_is("Enter your username:"))
    await _send(sock, f"{spec.name}\n")
    await reader.until(_is("Enter your choice:"))
    if spec.password:
        await _send(sock, f"/register {spec.password}\n")
        answer = await reader.until(lambda line: " *NickServ* " in line)
        if f"Account {spec.name} registered" not in answer:
            raise LoginError(answer)  # e.g. too many registrations from this address
        await reader.until(_is("Enter your choice:"))
    if spec.creates_room:
        await _send(sock, "1\n")
        await reader.until(_is("Enter new room name:"))
        await _send(sock, f"{spec.room}\n")
    else:
        await _send(sock, f"/join {spec.room}\n")
    await reader.until(_joined)


async def _device_login(sock: socket.socket, spec: ClientSpec) -> None:
    """One more connection of an account whose user is in its room already: the name,
    the password, and the door puts it in that room."""
    reader = LineReader(sock)
    await reader.until(_is("Enter your username:"))
    await _send(sock, f"{spec.name}\n")
    await reader.until(_is(f"Enter the password for {spec.name}:"))
    await _send(sock, f"{spec.password}\n")
    await reader.until(lambda line: line.startswith(f"Joined room [{spec.room}]"))


async def _ws_upgrade(sock: socket.socket, host: str) -> LineReader:
    """The HTTP/1.1 Upgrade to a WebSocket speaking ``text.ircv3.net``; a reader of its
    messages (what the server sent after its 101 is kept)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
    )
    await _send(sock, request)
    loop, head = asyncio.get_running_loop(), b""
    while (end := head.find(b"\r\n\r\n")) < 0:
        data = await loop.sock_recv(sock, RECV_BYTES)
        if not data:
            raise LoginError("the server closed the connection during the WebSocket handshake")
        head += data
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["101"]:
        raise LoginError(f"no WebSocket: {status}")
    if SUBPROTOCOL.encode() not in head[:end].lower():
        raise LoginError(f"the server chose no {SUBPROTOCOL}")
    reader = LineReader(sock, "websocket")
    reader.frames = head[end + 4 :]
    reader.buf = await reader._unframe()
    return reader


async def _irc_login(
    sock: socket.socket, spec: ClientSpec, echo: bool, reader: LineReader | None = None
) -> None:
    """Register (with echo-message if asked), then join; the room is made on first join."""
    if spec.password:
        raise LoginError("accounts are logged in on the text door only")
    protocol = "websocket" if reader is not None else "irc"
    reader, nick = reader or LineReader(sock, "irc"), spec.name
    register = f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"
    if echo:
        register = f"CAP REQ :echo-message\r\n{register}CAP END\r\n"
    await _send(sock, register, protocol)
    if echo:
        await reader.until(lambda line: " CAP " in line and " ACK " in line)
    await reader.until(_numeric("376", "422"))  # end of the MOTD, or no MOTD
    await _send(sock, f"JOIN {channel(spec.room)}\r\n", protocol)
    await reader.until(_own(nick, "JOIN"))
    await reader.until(_numeric("366"))


async def login_all(
    specs: list[ClientSpec], port: int, opts: WorkerOptions, into: dict[int, socket.socket]
) -> LoginReport:
    """Log ``specs`` in, ``opts.login_concurrency`` at a time; sockets go into ``into``."""
    gate = asyncio.Semaphore(opts.login_concurrency)
    report = LoginReport()

    async def one(spec: ClientSpec) -> None:
        async with gate:
            try:
                async with asyncio.timeout(opts.login_timeout_s):
                    sock, seconds = await login_one(spec, port, opts)
            except (OSError, LoginError, TimeoutError) as exc:
                report.errors.append(f"{spec.name}: {exc!r}")
                return
        into[spec.cid] = sock
        report.seconds.append(seconds)

    async with asyncio.TaskGroup() as group:
        for spec in specs:
            group.create_task(one(spec))
    return report


async def sync_all(
    members: Iterable[tuple[ClientSpec, socket.socket]],
    token: str,
    timeout_s: float,
    protocol: str = "text",
) -> list[str]:
    """Syncers say ``sync TOKEN``; every member reads until that line; return errors.

    Every line the server wrote to a member before the sync line (join notices) is
    read and dropped here, so the timed steps start with empty sockets. An IRC sender
    does not get its own line back, so there a syncer also sends ``PING sync-TOKEN``
    and reads until the server's PONG, which comes after everything queued for it.
    """
    text, ping = f"sync {token}", f"sync-{token}"
    pairs = list(members)
    errors: list[str] = []
    irc = is_irc(protocol)

    def synced(spec: ClientSpec) -> Callable[[str], bool]:
        if irc and spec.is_syncer:
            return lambda line: line.split(" ", 2)[1:2] == ["PONG"] and line.endswith(ping)
        return lambda line: line.endswith((":" if irc else "> ") + text)

    async def wait(spec: ClientSpec, sock: socket.socket) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await LineReader(sock, protocol).until(synced(spec))
        except (OSError, LoginError, TimeoutError) as exc:
            errors.append(f"{spec.name}: sync: {exc!r}")

    async with asyncio.TaskGroup() as group:
        for spec, sock in pairs:
            group.create_task(wait(spec, sock))
        for spec, sock in pairs:
            if spec.is_syncer:
                line = chat(protocol, spec.room, text) + (f"PING {ping}\r\n" * irc)
                await _send(sock, line, protocol)
    return errors
