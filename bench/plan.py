"""The messages the benchmark coordinator and its worker processes exchange.

Plain frozen dataclasses, pickled over a multiprocessing pipe. A chat line a bench
sender writes is ``b <sender-id> <seq> <send_ns>[ <pad>]``; ``send_ns`` is
``time.monotonic_ns()``, one clock for every process on the machine. No I/O here.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One bench connection: its name, its room and its part in the run."""

    cid: int
    name: str
    room: str
    creates_room: bool = False  # the first member creates the room (menu "1")
    is_sender: bool = False
    is_syncer: bool = False  # sends the sync line that tells its room "login is over"
    is_stalled: bool = False  # joins, then never reads again (the `slow` workload)
    # An account's connection (bench/devices.py): the first one of each account logs in
    # as a guest of that name and registers it (`/register PASSWORD`), from `source`, a
    # loopback address of its own since one address may register 3 accounts per 10
    # minutes; every other one (`is_device`) logs in with the password afterwards and
    # lands in the account's room, one more connection of the same user.
    password: str = field(default="", repr=False)
    is_device: bool = False
    source: str = ""  # the local address to bind ("": the kernel's choice)

    @property
    def login_phase(self) -> str:
        """When it logs in: "create" (makes its room), "join", then "device"."""
        return "create" if self.creates_room else "device" if self.is_device else "join"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Settings every worker process gets once, at start."""

    host: str = "127.0.0.1"
    protocol: str = "text"  # the door the clients use: "text" or "irc" (protocols.py)
    irc_echo: bool = False  # IRC clients ask for echo-message, so senders get their lines
    login_concurrency: int = 32  # connections logging in at once, per worker
    login_timeout_s: float = 60.0
    pad_bytes: int = 0  # extra text in each chat line
    count_notices: bool = False  # count "* ..." lines apart from chat (slow workload)
    # A stalled member's tiny receive buffer and segment size keep the kernels from
    # absorbing megabytes (loopback's 64 KiB MSS grows the server's send buffer), so the
    # server's own send queue is what fills.
    stalled_rcvbuf_bytes: int = 4096
    stalled_mss_bytes: int = 1024
    recv_bytes: int = 1 << 20


@dataclass(frozen=True, slots=True)
class StepOrder:
    """Run one timed step: send at ``msgs_per_sender_s`` from ``start_ns`` for ``dur_ns``."""

    msgs_per_sender_s: float
    start_ns: int
    dur_ns: int
    drain_ns: int  # how long after the send window deliveries may still arrive
    tick_ns: int = 2_000_000  # senders write one batch per tick
    sample_every_ns: int = 2_000_000  # per connection, parse at most one line this often


@dataclass(frozen=True, slots=True)
class LoginReport:
    """What logging in a worker's share of connections took."""

    seconds: list[float] = field(default_factory=list)  # per connection, connect to joined
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SentReport:
    """Chat lines a worker's senders wrote in one step, per room."""

    by_room: dict[str, int]
    unsent_bytes: int  # still queued in the worker when the flush deadline passed
    late_ticks: int  # ticks that ran more than a tick late (the generator fell behind)
    cpu_s: float  # CPU time this worker used during the send window


@dataclass(frozen=True, slots=True)
class StepReport:
    """What a worker's receivers saw in one step (counts exact, the rest sampled)."""

    received: int  # chat lines, every one counted
    expected: int
    missing: int  # expected chat lines that had not arrived at the drain deadline
    extra: int  # chat lines beyond what was sent: duplicates the count can see
    notices: int  # "* ..." lines, counted only when WorkerOptions.count_notices (text door)
    latencies_ns: array[int]  # sampled lines: receive time minus send time
    dups: int  # sampled lines whose seq repeated the last one seen from that sender
    reorders: int  # sampled lines whose seq was below the last one seen
    disconnects: int
    drained_ns: int | None  # when the last receiver had everything, None if never
    recv_calls: int


@dataclass(frozen=True, slots=True)
class StalledReport:
    """Whether the server dropped the connections that stopped reading, and how we saw it."""

    dropped: int
    kept: int
    how: list[str]
