"""A load-generator worker process: one epoll loop owning a share of the connections.

The coordinator (driver.py) sends commands over a pipe: log in, sync, run a step,
check the stalled members, close. In a step, senders write a paced batch of
``b <sender-id> <seq> <send_ns>`` lines every tick (on the IRC door as ``PRIVMSG``);
every connection counts the ``\\n`` bytes of each recv chunk (over WebSocket the
0x81 byte that starts each server text frame, protocols.DELIVERY_BYTE): exact loss
and duplicate counts; it parses only the first complete line of a chunk at most once per
``sample_every_ns`` (latency, order, duplicates). The first line of a chunk is its
oldest, so sampled latency leans high. Both doors share that one counting pass:
during a step a bench client gets nothing but chat lines (an IRC receiver sends a
PONG between steps so the door never pings it), and any other line would show as a
delivery beyond those sent. Linux only (epoll); only 127.0.0.1; nothing runs at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import select
import socket
import time
import traceback
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from time import monotonic_ns
from typing import Any

from connect import login_all, sync_all
from pacer import Pacer
from plan import (
    ClientSpec,
    LoginReport,
    SentReport,
    StalledReport,
    StepOrder,
    StepReport,
    WorkerOptions,
)
from protocols import (
    DELIVERY_BYTE,
    MARKER,
    MARKER_FIELD,
    MAX_WS_PAYLOAD,
    WS_TEXT,
    echoes,
    is_irc,
    keepalive,
)

FLUSH_GRACE_NS = 1_000_000_000
DRAIN_TICK_NS = 1_000_000


class Conn:
    """One logged-in connection as the hot loop sees it."""

    __slots__ = (
        "at_line_start",
        "closed",
        "expected",
        "last_seq",
        "lines",
        "next_sample_ns",
        "notices",
        "out",
        "seq",
        "seq_at_step",
        "sock",
        "spec",
    )

    def __init__(self, spec: ClientSpec, sock: socket.socket) -> None:
        self.spec = spec
        self.sock = sock
        self.lines = 0  # every line received since login, chat and notices
        self.notices = 0
        self.expected = 0  # chat lines due since login, summed over steps
        self.at_line_start = True
        self.next_sample_ns = 0
        self.last_seq: dict[int, int] = {}
        self.seq = 0  # next sequence number, when this member sends
        self.seq_at_step = 0  # ... when the current step began
        self.out = bytearray()  # bytes the socket did not take yet
        self.closed = False

    def send(self, data: bytes | bytearray) -> int:
        return self.sock.send(data)


def raise_nofile_limit() -> None:
    """Raise this process's soft open-file limit to its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Worker:
    """The connections of one worker process and the loop that drives them."""

    def __init__(self, specs: list[ClientSpec], opts: WorkerOptions, ctrl: Connection) -> None:
        self.specs = specs
        self.opts = opts
        self.ctrl = ctrl
        self.socks: dict[int, socket.socket] = {}
        self.conns: list[Conn] = []  # receivers: everyone but the stalled
        self.senders: list[Conn] = []
        self.by_fd: dict[int, Conn] = {}
        self.epoll = select.epoll()
        self.epoll.register(ctrl.fileno(), select.EPOLLIN)
        self.buf = bytearray(opts.recv_bytes)
        self._reset_step()
        self.expect: dict[str, int] | None = None
        self.echoes = echoes(opts.protocol, opts.irc_echo)  # a sender gets its own lines
        self.marker_field = MARKER_FIELD[opts.protocol]
        self.marker = MARKER[opts.protocol]
        self.delivery_byte = DELIVERY_BYTE[opts.protocol]
        self.framed = opts.protocol == "websocket"

    def _reset_step(self) -> None:
        self.latencies = array("q")
        self.dups = self.reorders = self.disconnects = self.recv_calls = 0
        self.sample_every_ns = 0
        self.step_expected = 0

    # --- login and sync (asyncio, not timed as load) ---

    def login(self, phase: str, port: int) -> LoginReport:
        """Log in the clients of ``phase``: "create" (room creators), "join" (the rest),
        "device" (an account's other connections, once its user is in its room)."""
        wanted = [s for s in self.specs if s.login_phase == phase]
        return asyncio.run(login_all(wanted, port, self.opts, self.socks))

    def sync(self, token: str) -> list[str]:
        """Wait for each room's sync line, then put the sockets in the epoll loop."""
        members = [(s, self.socks[s.cid]) for s in self.specs if not s.is_stalled]
        timeout_s, protocol = self.opts.login_timeout_s, self.opts.protocol
        errors = asyncio.run(sync_all(members, token, timeout_s, protocol))
        for spec, sock in members:
            conn = Conn(spec, sock)
            self.conns.append(conn)
            self.by_fd[sock.fileno()] = conn
            self.epoll.register(sock.fileno(), select.EPOLLIN)
            if spec.is_sender:
                self.senders.append(conn)
        return errors

    # --- the hot loop ---

    def _loop(self, deadline_ns: int, tick_ns: int, tick: Callable[[int], bool]) -> None:
        """Read every ready socket until ``deadline_ns`` or until ``tick(now)`` is true."""
        poll = self.epoll.poll
        by_fd = self.by_fd
        buf = self.buf
        count_notices = self.opts.count_notices
        every_ns = self.sample_every_ns
        delivery = self.delivery_byte
        sample = self._sample_frame if self.framed else self._sample
        next_tick = 0
        while True:
            now = monotonic_ns()
            if now >= next_tick:
                if tick(now):
                    return
                next_tick = now + tick_ns
            if now >= deadline_ns:
                return
            for fd, _events in poll((min(next_tick, deadline_ns) - now) / 1e9):
                conn = by_fd.get(fd)
                if conn is None:
                    self._on_ctrl()
                    continue
                try:
                    n = conn.sock.recv_into(buf)
                except BlockingIOError:
                    continue
                except OSError:
                    n = 0
                if n == 0:
                    self._drop(conn)
                    continue
                self.recv_calls += 1
                conn.lines += buf.count(delivery, 0, n)
                if count_notices:
                    conn.notices += buf.count(b"\n*", 0, n) + (
                        conn.at_line_start and buf[0] == 42  # "*"
                    )
                if now >= conn.next_sample_ns:
                    conn.next_sample_ns = now + every_ns
                    sample(conn, n)
                conn.at_line_start = buf[n - 1] == 10

    def _sample(self, conn: Conn, n: int) -> None:
        """Parse the first complete chat line of the chunk in ``self.buf[:n]``."""
        buf = self.buf
        start = 0
        if not conn.at_line_start:
            start = buf.find(b"\n", 0, n) + 1
            if start == 0:
                return  # no line starts in this chunk
        end = buf.find(b"\n", start, n)
        if end < 0:
            return
        self._parse(conn, bytes(buf[start:end]))

    def _sample_frame(self, conn: Conn, n: int) -> None:
        """Parse the first whole server frame of the chunk (WebSocket): its first 0x81
        byte starts one (protocols.DELIVERY_BYTE), and a frame that breaks the count's
        rule (FIN + text, under 126 bytes, ASCII) ends the run: the count would be wrong."""
        buf = self.buf
        start = buf.find(WS_TEXT, 0, n)
        if start < 0 or start + 2 > n:
            return
        size = buf[start + 1]
        if start + 2 + size > n:
            return
        payload = bytes(buf[start + 2 : start + 2 + size])
        if size > MAX_WS_PAYLOAD or not payload.isascii():
            raise ValueError(f"a server frame the delivery count cannot stand for: {payload!r}")
        self._parse(conn, payload)

    def _parse(self, conn: Conn, line: bytes) -> None:
        """A bench line's latency, and its seq against the sender's last one seen."""
        parts = line.split()
        at = self.marker_field
        if len(parts) < at + 4 or parts[at] != self.marker:
            return  # a notice, or not a bench line
        self.latencies.append(monotonic_ns() - int(parts[at + 3]))
        sender, seq = int(parts[at + 1]), int(parts[at + 2])
        last = conn.last_seq.get(sender, -1)
        if seq > last:
            conn.last_seq[sender] = seq
        elif seq == last:
            self.dups += 1
        else:
            self.reorders += 1

    def _drop(self, conn: Conn) -> None:
        """The server closed ``conn``: stop reading it and count the disconnect."""
        conn.closed = True
        fd = conn.sock.fileno()
        if self.by_fd.pop(fd, None) is not None:
            self.disconnects += 1
            self.epoll.unregister(fd)

    def _on_ctrl(self) -> None:
        """The coordinator's reply during a step: how many lines each room must get.

        Every member receives all its room's lines, less its own where the door does
        not echo them (IRC without echo-message).
        """
        message = self.ctrl.recv()
        assert message[0] == "expect", message
        self.expect = expect = message[1]
        self.step_expected = 0
        for conn in self.conns:
            due = expect.get(conn.spec.room, 0)
            if not self.echoes:
                due -= conn.seq - conn.seq_at_step
            conn.expected += due
            self.step_expected += due

    # --- one step ---

    def step(self, order: StepOrder) -> StepReport:
        """Send for the step's window, report the counts sent, then drain and report."""
        self._reset_step()
        self.sample_every_ns = order.sample_every_ns
        self.expect = None
        before = sum(c.lines - c.notices for c in self.conns)
        notices_before = sum(c.notices for c in self.conns)
        for conn in self.senders:
            conn.seq_at_step = conn.seq
        self._loop(order.start_ns, order.tick_ns, lambda now: False)
        cpu_s = time.process_time()
        end_ns = order.start_ns + order.dur_ns
        pacer = Pacer(
            list(self.senders),
            order.msgs_per_sender_s,
            (order.start_ns, end_ns),
            order.tick_ns,
            self.opts.pad_bytes,
            self.opts.protocol,
        )
        self._loop(end_ns + order.tick_ns, order.tick_ns, pacer.tick)
        cpu_s = time.process_time() - cpu_s
        self._loop(end_ns + FLUSH_GRACE_NS, DRAIN_TICK_NS, lambda now: pacer.flush())
        unsent = sum(len(c.out) for c in self.senders)
        self.ctrl.send(("sent", SentReport(pacer.by_room, unsent, pacer.late_ticks, cpu_s)))
        drained: list[int] = []

        def done(now: int) -> bool:
            if self.expect is None:
                return False
            if all(c.closed or c.lines - c.notices >= c.expected for c in self.conns):
                drained.append(now)
                return True
            return False

        self._loop(end_ns + order.drain_ns, DRAIN_TICK_NS, done)
        self._keep_alive()
        return self._report(before, notices_before, drained[0] if drained else None)

    def _keep_alive(self) -> None:
        """IRC: a line from each member that did not send, so the door never pings it."""
        if not is_irc(self.opts.protocol):
            return
        line = keepalive(self.opts.protocol)
        for conn in self.conns:
            if not conn.spec.is_sender and not conn.closed:
                with contextlib.suppress(OSError):  # the next step's reads see the close
                    conn.send(line)

    def _report(self, before: int, notices_before: int, drained_ns: int | None) -> StepReport:
        got = sum(c.lines - c.notices for c in self.conns) - before
        gaps = [c.expected - (c.lines - c.notices) for c in self.conns]
        return StepReport(
            received=got,
            expected=self.step_expected,
            missing=sum(g for g in gaps if g > 0),
            extra=-sum(g for g in gaps if g < 0),
            notices=sum(c.notices for c in self.conns) - notices_before,
            latencies_ns=self.latencies,
            dups=self.dups,
            reorders=self.reorders,
            disconnects=self.disconnects,
            drained_ns=drained_ns,
            recv_calls=self.recv_calls,
        )

    def check_stalled(self, timeout_s: float) -> StalledReport:
        """Read the stalled sockets to their end: EOF or a reset means the server dropped them."""
        stalled = [s for s in self.specs if s.is_stalled and s.cid in self.socks]
        how = {s.name: _read_to_end(self.socks[s.cid], timeout_s) for s in stalled}
        kept = sum(1 for h in how.values() if h == "kept")
        return StalledReport(len(how) - kept, kept, [f"{n}: {h}" for n, h in how.items()])

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()
        self.epoll.close()


def _read_to_end(sock: socket.socket, timeout_s: float) -> str:
    """Drain ``sock``; say "eof", "reset" or "kept" (no end within ``timeout_s``)."""
    sock.setblocking(True)
    sock.settimeout(timeout_s)
    try:
        while sock.recv(1 << 20):
            pass
    except TimeoutError:
        return "kept"
    except ConnectionResetError:
        return "reset"
    return "eof"


def worker_main(specs: list[ClientSpec], opts: WorkerOptions, ctrl: Connection) -> None:
    """Entry point of a worker process: serve the coordinator's commands until "close"."""
    raise_nofile_limit()
    worker = Worker(specs, opts, ctrl)
    handlers: dict[str, Any] = {
        "login": worker.login,
        "sync": worker.sync,
        "step": worker.step,
        "stalled": worker.check_stalled,
    }
    try:
        while True:
            command, *args = ctrl.recv()
            if command == "close":
                break
            try:
                ctrl.send(("ok", handlers[command](*args)))
            except Exception:
                ctrl.send(("error", traceback.format_exc()))
                break
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        worker.close()
        ctrl.close()
        os._exit(0)
