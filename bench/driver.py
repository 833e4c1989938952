"""The coordinator's handle on the load-generator worker processes.

Spawns the workers (multiprocessing, "spawn"), deals the connections to them
round-robin, runs each phase on all of them at once and merges what they report
into one ``StepResult``. Percentiles are over the sampled lines only; counts are
exact. No server handling here (serverproc.py) and no sweep logic (workloads.py).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from loadgen import worker_main
from plan import ClientSpec, LoginReport, SentReport, StalledReport, StepOrder, StepReport
from plan import WorkerOptions as WorkerOptions

REPLY_GRACE_S = 30.0
Probe = Callable[[], tuple[float, float]]  # (server CPU s, machine busy CPU s)


class WorkerError(RuntimeError):
    """A worker process failed or stopped answering."""


@dataclass(frozen=True, slots=True)
class LoginStats:
    """How long logging every connection in took, wall clock and per connection."""

    connections: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: list[str]


@dataclass(frozen=True, slots=True)
class StepResult:
    """One timed step, merged over the workers."""

    offered_dps: float
    duration_s: float
    sent: int  # chat lines the senders wrote
    expected: int  # deliveries due: each line times the receivers in its room
    received: int
    missing: int
    extra: int
    notices: int
    dups: int
    reorders: int
    disconnects: int
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    drain_ms: float | None
    unsent_bytes: int
    late_ticks: int
    recv_calls: int
    gen_cpu: float  # the generator's CPU use in the send window, in cores
    server_cpu: float | None  # the server's, when the caller gave a probe
    other_cpu: float | None  # everything else on the machine (other users' processes), cores

    @property
    def dps(self) -> float:
        """Deliveries per second that arrived, every receiver summed."""
        return min(self.received, self.expected) / self.duration_s


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


class Generator:
    """The worker processes of one run and the connections they own."""

    def __init__(self, clients: list[ClientSpec], workers: int, opts: WorkerOptions) -> None:
        context = multiprocessing.get_context("spawn")
        self.clients = clients
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for index in range(max(1, min(workers, len(clients)))):
            parent, child = context.Pipe()
            share = clients[index :: max(1, min(workers, len(clients)))]
            proc = context.Process(target=worker_main, args=(share, opts, child), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reply(self, pipe: Connection, timeout_s: float, kind: str = "ok") -> Any:
        if not pipe.poll(timeout_s):
            raise WorkerError(f"a worker did not answer within {timeout_s:.0f} s")
        try:
            got, value = pipe.recv()
        except EOFError as exc:
            raise WorkerError("a worker exited") from exc
        if got == "error":
            raise WorkerError(f"a worker failed:\n{value}")
        if got != kind:
            raise WorkerError(f"expected {kind!r} from a worker, got {got!r}")
        return value

    def _ask(self, timeout_s: float, *message: object) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(message)
        return [self._reply(pipe, timeout_s) for pipe in self.pipes]

    def login(self, port: int, timeout_s: float = 600.0) -> LoginStats:
        """Log every client in: room creators first, then everyone else, then the
        accounts' other connections (they land in the room their user is in)."""
        started = time.perf_counter()
        reports: list[LoginReport] = []
        for phase in ("create", "join", "device"):
            reports += self._ask(timeout_s, "login", phase, port)
        wall_s = time.perf_counter() - started
        seconds = sorted(int(s * 1e9) for r in reports for s in r.seconds)
        return LoginStats(
            connections=len(seconds),
            wall_s=round(wall_s, 3),
            p50_ms=ms(percentile(seconds, 0.5)),
            p99_ms=ms(percentile(seconds, 0.99)),
            max_ms=ms(seconds[-1] if seconds else 0),
            errors=[e for r in reports for e in r.errors],
        )

    def sync(self, token: str, timeout_s: float = 120.0) -> list[str]:
        """Each room's syncer sends a line; return once every member has read it."""
        return [e for errors in self._ask(timeout_s, "sync", token) for e in errors]

    def step(
        self, offered_dps: float, order: StepOrder, cpu_probe: Probe | None = None
    ) -> StepResult:
        """Run one step on every worker at once and merge the reports.

        ``cpu_probe`` (CPU seconds so far: the server's, and the whole machine's busy
        time) is read as the send window opens and closes; the coordinator sleeps until
        those instants, which only times the reads.
        """
        for pipe in self.pipes:
            pipe.send(("step", order))
        cpu: tuple[float, float] | None = None
        if cpu_probe is not None:
            _sleep_until(order.start_ns)
            server_s, machine_s = cpu_probe()
            _sleep_until(order.start_ns + order.dur_ns)
            server_end, machine_end = cpu_probe()
            cpu = (server_end - server_s, machine_end - machine_s)
        wait_s = (order.start_ns - time.monotonic_ns() + order.dur_ns) / 1e9 + REPLY_GRACE_S
        sent: list[SentReport] = [self._reply(p, wait_s, "sent") for p in self.pipes]
        per_room: dict[str, int] = {}
        for report in sent:
            for room, count in report.by_room.items():
                per_room[room] = per_room.get(room, 0) + count
        for pipe in self.pipes:
            pipe.send(("expect", per_room))
        wait_s = order.drain_ns / 1e9 + REPLY_GRACE_S
        steps: list[StepReport] = [self._reply(p, wait_s) for p in self.pipes]
        return _merge(offered_dps, order, sent, steps, cpu)

    def stalled(self, timeout_s: float) -> StalledReport:
        """Read the stalled members to their end; say which the server dropped."""
        reports: list[StalledReport] = self._ask(timeout_s + REPLY_GRACE_S, "stalled", timeout_s)
        return StalledReport(
            dropped=sum(r.dropped for r in reports),
            kept=sum(r.kept for r in reports),
            how=[h for r in reports for h in r.how],
        )

    def close(self) -> None:
        """Ask the workers to close their sockets and exit; kill any that will not."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("close",))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.procs = [], []


def _sleep_until(deadline_ns: int) -> None:
    delay_s = (deadline_ns - time.monotonic_ns()) / 1e9
    if delay_s > 0:
        time.sleep(delay_s)


def _merge(
    offered_dps: float,
    order: StepOrder,
    sent: list[SentReport],
    steps: list[StepReport],
    cpu: tuple[float, float] | None,
) -> StepResult:
    window_s = order.dur_ns / 1e9
    gen_s = sum(r.cpu_s for r in sent)
    latencies = sorted(x for s in steps for x in s.latencies_ns)
    drained = [s.drained_ns for s in steps]
    end_ns = order.start_ns + order.dur_ns
    drain_ms = None if None in drained else ms(max(d or 0 for d in drained) - end_ns)
    return StepResult(
        offered_dps=offered_dps,
        duration_s=order.dur_ns / 1e9,
        sent=sum(sum(r.by_room.values()) for r in sent),
        expected=sum(s.expected for s in steps),
        received=sum(s.received for s in steps),
        missing=sum(s.missing for s in steps),
        extra=sum(s.extra for s in steps),
        notices=sum(s.notices for s in steps),
        dups=sum(s.dups for s in steps),
        reorders=sum(s.reorders for s in steps),
        disconnects=sum(s.disconnects for s in steps),
        samples=len(latencies),
        p50_ms=ms(percentile(latencies, 0.5)),
        p99_ms=ms(percentile(latencies, 0.99)),
        max_ms=ms(latencies[-1] if latencies else 0),
        drain_ms=drain_ms,
        unsent_bytes=sum(r.unsent_bytes for r in sent),
        late_ticks=sum(r.late_ticks for r in sent),
        recv_calls=sum(s.recv_calls for s in steps),
        gen_cpu=round(gen_s / window_s, 3),
        server_cpu=None if cpu is None else round(cpu[0] / window_s, 3),
        other_cpu=None if cpu is None else round(max(0.0, cpu[1] - cpu[0] - gen_s) / window_s, 3),
    )


def median(values: list[float]) -> float:
    """The median of a run's repeats (the figure a table reports)."""
    return statistics.median(values) if values else 0.0
