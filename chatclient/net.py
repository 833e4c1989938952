"""The client's connection: lines to and from the server, how a session ended, and
reconnecting after a drop (`Client`).

asyncio streams only: no terminal, no rendering here (`on_line` callers decide what
to show, `notify` how to tell the user). Server lines come out decoded (invalid
UTF-8 replaced) and sanitized.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from chatclient.conversation import Conversation
from chatclient.render import sanitize

READ_LIMIT_BYTES = 1 << 20
CONNECT_TIMEOUT_S = 10.0
FIRST_RETRY_S, MAX_RETRY_S = 1.0, 30.0  # reconnect backoff: 1, 2, 4, ... 30, 30
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


# docs/protocol.md, TLS: what a TLS port says to a client that speaks plain text.
TLS_ONLY = "! This port speaks TLS only;"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a session ended: the exit status and one line to tell the user (or None);
    `final` when trying again cannot help (the two ends speak different protocols)."""

    status: int
    message: str | None = None
    final: bool = False


def describe(exc: OSError) -> str:
    """A short, lower-case reason for a socket error (`connection refused`)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    reason = exc.strerror or (errno.errorcode.get(exc.errno) if exc.errno else None) or str(exc)
    return reason[:1].lower() + reason[1:] if reason else type(exc).__name__


def line_too_long(line: str, max_line_bytes: int) -> str | None:
    """The notice for a line the server would refuse (docs/protocol.md, Transport: a line
    is measured in bytes of UTF-8 without its newline), or None when it fits."""
    size = len(line.encode())
    if size <= max_line_bytes:
        return None
    return f"! Line too long: {size} of {max_line_bytes} bytes; not sent."


async def first_to_finish(*coros: Coroutine[Any, Any, Outcome]) -> Outcome:
    """Run the coroutines as tasks of one TaskGroup; the first to finish ends the rest."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in coros]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
    return done.pop().result()


class Link:
    """One connection to the server: sends lines, reads lines until the server closes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conversation: Conversation | None = None,
        address: str = "the server",
    ) -> None:
        self.address = address
        self.reader = reader
        self.writer = writer
        self.conversation = conversation or Conversation()
        self.half_closed = False
        self._line_arrived = asyncio.Event()

    def send_nowait(self, line: str) -> None:
        """Queue one line for the server (LF-terminated, which docs/protocol.md accepts)."""
        if not self.writer.is_closing():
            self.writer.write(line.encode() + b"\n")

    async def send(self, line: str) -> None:
        """Send one line and wait until the transport has room again."""
        self.send_nowait(line)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def half_close(self) -> None:
        """Tell the server we have nothing more to say (it answers, then closes)."""
        self.half_closed = True
        if not self.writer.is_closing() and self.writer.can_write_eof():
            with contextlib.suppress(OSError):
                self.writer.write_eof()

    async def read_lines(self, on_line: Callable[[str], None]) -> Outcome:
        """Call `on_line` with each server line, sanitized, until the server closes."""
        while True:
            try:
                raw = await self.reader.readline()
            except ValueError:  # a line over READ_LIMIT_BYTES: dropped, never shown
                continue
            except OSError as exc:
                return Outcome(EXIT_ERROR, f"Connection lost: {describe(exc)}.")
            if not raw:
                return self.closed_outcome()
            self._line_arrived.set()
            line = sanitize(raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r"))
            on_line(line)
            if line.startswith(TLS_ONLY):  # a protocol mismatch, not a drop: no retry
                return Outcome(
                    EXIT_ERROR,
                    f"Cannot talk to {self.address}: that port speaks TLS only; connect with "
                    "--tls (and --cafile FILE for a private certificate).",
                    final=True,
                )

    async def wait_quiet(self, silence_s: float) -> None:
        """Return once no server line has arrived for `silence_s` seconds."""
        while True:
            self._line_arrived.clear()
            try:  # not wait_for: on 3.11 it can swallow a cancel that meets a line
                async with asyncio.timeout(silence_s):
                    await self._line_arrived.wait()
            except TimeoutError:
                return

    def closed_outcome(self) -> Outcome:
        """The server closed: normal after `Goodbye!`, `/quit` or our own end of input."""
        if self.conversation.said_goodbye or self.conversation.quitting or self.half_closed:
            return Outcome(EXIT_OK)
        if self.conversation.was_killed:  # coming straight back would undo the kill
            return Outcome(EXIT_ERROR, "Disconnected by a server operator.", final=True)
        if self.conversation.was_taken_over:  # coming back would take the name back, again
            return Outcome(EXIT_ERROR, "Logged in from elsewhere.", final=True)
        return Outcome(EXIT_ERROR, "Connection closed by server.")

    async def close(self) -> None:
        """Close the connection (idempotent; errors on the way out do not matter)."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def connect(
    host: str,
    port: int,
    conversation: Conversation | None = None,
    tls: ssl.SSLContext | None = None,
) -> Link | Outcome:
    """Open the connection (over TLS with `tls`), or say in one line why it failed."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                host, port, limit=READ_LIMIT_BYTES, ssl=tls
            )
    except TimeoutError:
        return Outcome(EXIT_ERROR, f"Cannot connect to {host}:{port}: timed out.")
    except ssl.SSLCertVerificationError as exc:
        why = (exc.verify_message or "not trusted").rstrip(".")
        return Outcome(
            EXIT_ERROR,
            f"Cannot connect to {host}:{port}: the server's certificate is not trusted ({why}); "
            "for a private or self-signed certificate use --cafile FILE.",
            final=True,
        )
    except ssl.SSLError as exc:
        reason = str(exc.reason or exc).replace("_", " ").lower()
        return Outcome(
            EXIT_ERROR,
            f"Cannot connect to {host}:{port}: TLS failed ({reason}); is it the server's TLS port?",
            final=True,  # the handshake failing says the port speaks another protocol
        )
    except OSError as exc:
        return Outcome(EXIT_ERROR, f"Cannot connect to {host}:{port}: {describe(exc)}.")
    return Link(reader, writer, conversation, f"{host}:{port}")


INSECURE_NOTICE = (
    "* --insecure: the server's certificate is not checked; anyone on the way can read "
    "and change this connection."
)


def tls_context(cafile: str | None, insecure: bool) -> ssl.SSLContext:
    """The client's TLS settings: the system's CAs, or `cafile`'s; or no checks at all
    with `insecure` (said on every connect). OSError or ssl.SSLError for a bad cafile."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Client:
    """The session across connections: the current Link, and a new one after a drop.

    A drop is the connection ending when the user did not ask for it (no `Goodbye!`,
    no `/quit`, no end of input). With `reconnect`, the client then says so, retries
    with backoff (each attempt announced through `notify`) and, once connected, lets
    the conversation take back its name and room (`Conversation.reconnected`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        conversation: Conversation,
        *,
        reconnect: bool,
        notify: Callable[[str], None],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.tls = tls
        self.conversation = conversation
        self.reconnect = reconnect
        self.notify = notify
        self.link: Link | None = None
        self._retry_s = FIRST_RETRY_S
        self._ready = asyncio.Event()

    async def open(self) -> Outcome | None:
        """The first connection; an Outcome (no retries) when it fails."""
        link = await self._connect()
        if isinstance(link, Outcome):
            return link
        self.link = link
        self._update_ready()
        return None

    def ready(self) -> bool:
        """Whether the user's lines can go: connected, and not taking a name back."""
        return self.link is not None and not self.conversation.holds_input()

    def _update_ready(self) -> None:
        (self._ready.set if self.ready() else self._ready.clear)()

    async def wait_ready(self) -> None:
        """Return once the user's lines can go (at once, unless reconnecting)."""
        await self._ready.wait()

    def send_nowait(self, line: str) -> None:
        """Queue one line for the server; dropped when not connected."""
        if self.link is not None:
            self.conversation.note_sent(line)
            self.conversation.line_out()
            self._update_ready()
            self.link.send_nowait(line)

    async def send(self, line: str) -> None:
        """Send one line and wait until the transport has room again."""
        if self.link is not None:
            self.conversation.note_sent(line)
            self.conversation.line_out()
            self._update_ready()
            await self.link.send(line)

    def half_close(self) -> None:
        """End of input: the server answers, then closes; that is no drop."""
        if self.link is not None:
            self.link.half_close()

    async def wait_quiet(self, silence_s: float) -> None:
        """Return once no server line has arrived for `silence_s` seconds."""
        if self.link is not None:
            await self.link.wait_quiet(silence_s)

    async def run(self, on_line: Callable[[str], None]) -> Outcome:
        """Read server lines into `on_line`, reconnecting after drops, until the end."""

        def seen(line: str) -> None:
            on_line(line)
            self._update_ready()

        while self.link is not None:
            outcome = await self.link.read_lines(seen)
            if not self.reconnect or outcome.status != EXIT_ERROR or outcome.final:
                return outcome
            await self.close()
            self._update_ready()
            link = await self._reconnect(outcome.message or "")
            if isinstance(link, Outcome):
                return link
            self.link = link
            self.conversation.reconnected()
            self._update_ready()
        return Outcome(EXIT_ERROR, "Not connected.")

    async def _reconnect(self, message: str) -> Link | Outcome:
        """Connect again, backing off from 1 s to 30 s; Ctrl-C (cancellation) stops it,
        and so does a failure that no retry can mend (the Outcome)."""
        rejoin = self.conversation.rejoin
        if rejoin is None or rejoin.logged_in():  # the last connection got somewhere
            self._retry_s = FIRST_RETRY_S
        reason = message.removeprefix("Connection lost: ").removeprefix("Connection ")
        delay = self._retry_s
        self.notify(
            f"* Connection lost ({reason.rstrip('.')}); reconnecting in {delay:g} s (Ctrl-C stops)."
        )
        attempt = 1
        while True:
            await asyncio.sleep(delay)
            self.notify(f"* Reconnecting to {self.host}:{self.port} (attempt {attempt})...")
            link = await self._connect()
            delay = min(delay * 2, MAX_RETRY_S)
            if isinstance(link, Link):
                self._retry_s = delay  # dropped again before a login: wait longer
                self.notify("* Reconnected.")
                return link
            if link.final:
                return link
            self.notify(f"* {link.message} Next attempt in {delay:g} s.")
            attempt += 1

    async def _connect(self) -> Link | Outcome:
        if self.tls is not None and self.tls.verify_mode == ssl.CERT_NONE:
            self.notify(INSECURE_NOTICE)
        return await connect(self.host, self.port, self.conversation, self.tls)

    async def close(self) -> None:
        """Close the current connection, if any."""
        if self.link is not None:
            link, self.link = self.link, None
            await link.close()
