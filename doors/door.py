"""What a front door is to the network layer, and what the network layer is to a door.

A `Door` is one door's part in a connection: how to make its session, the longest
line, how to decode, how to word a refusal. `DoorSession` is what net/connection.py
needs of that socket-free session; `Link` is what a session factory may use of its
connection. Doors import this module, never net/: imports run server -> net -> doors
-> registry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import registry as r

Pending = Coroutine[Any, Any, None]  # the rest of a line that awaits the registry


class Link(Protocol):
    """A session's connection: where its output goes, and who is on the other end."""

    @property
    def ip(self) -> str: ...
    @property
    def peer(self) -> str: ...  # "ip:port", for the log
    @property
    def is_tls(self) -> bool: ...
    def say(self, line: str) -> None: ...  # one line, its CRLF added
    def write(self, data: bytes) -> None: ...  # whole lines; never blocks, never raises
    def close(self) -> None: ...  # after what is buffered
    # Flood control for a message sent in several lines (IRCv3 draft/multiline): the
    # next `lines` lines are counted, not paced, until charged together.
    def defer_pacing(self, lines: int) -> None: ...
    def charge_deferred(self) -> None: ...


class DoorSession(Protocol):
    """What a connection needs of its door's socket-free session."""

    member: r.Member | None

    @property
    def name(self) -> str: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def expects_secret(self) -> bool: ...  # the next line must not reach the debug log
    def start(self) -> None: ...
    def feed_nowait(self, line: str) -> Pending | None: ...
    def line_too_long(self, limit: int) -> None: ...
    def login_timed_out(self, timeout_s: float) -> None: ...
    def shutting_down(self) -> None: ...
    def ping(self) -> None: ...
    async def close(self, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Door:
    """One front door's part in a connection."""

    name: str
    session: Callable[[Link], DoorSession]
    max_line_bytes: int
    refusal: Callable[[str], str]  # a refused connection's one line
    errors: str = "replace"  # invalid UTF-8; "surrogateescape": the session checks
    strip_telnet: bool = True
    ping_interval_s: float = 0.0  # 0: only TCP keepalive notices a vanished peer
    ping_timeout_s: float = 0.0
    sendq_reason: str = "send queue exceeded"
    redact: Callable[[bytes], bytes] | None = None  # what the debug log may show of a line
    redact_sent: Callable[[str], str] | None = None  # ... and of a line sent to the client
