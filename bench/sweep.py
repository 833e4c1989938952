"""The rate sweep: raise the offered load step by step, keep the best step that passed.

A step passes when nothing is lost, duplicated, reordered or disconnected, p99 of
the sampled latencies is under the limit, and the receivers had everything within
that same limit after the senders stopped (nothing late). The sweep multiplies the
rate by ``factor`` while steps pass, retries a failing rate once, then narrows the
gap between the last pass and the first fail. A step that fails while other processes
on the machine used more than DISTURBED cores is repeated (three times at most).
Bounded: at most ``max_steps`` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from driver import Generator, Probe, StepResult
from plan import StepOrder

START_DELAY_NS = 30_000_000  # lets every worker get the order before the window opens
GEN_BUSY = 0.9  # generator CPU (cores) from which it is the likely bottleneck
SERVER_BUSY = 0.95  # server CPU (cores) from which it batches more lines per loop pass
DISTURBED = 0.15  # CPU (cores) used by other processes that makes a failed step void
DISTURBED_REPEATS = 3


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """How one sweep steps its rate, and what a passing step is."""

    receivers_per_room: int  # deliveries each chat line makes (protocols.deliveries_per_line)
    senders: int
    connections: int
    start_dps: float
    factor: float = 1.5
    max_steps: int = 14
    refine_steps: int = 2
    step_s: float = 2.0
    warmup_s: float = 0.5
    drain_s: float = 5.0
    p99_limit_ms: float = 200.0
    tick_ms: float = 2.0
    samples_per_s: float = 50_000.0  # target for all connections together


def order_for(cfg: SweepConfig, dps: float, seconds: float) -> StepOrder:
    """The step order that offers ``dps`` deliveries per second for ``seconds``."""
    per_sender = dps / cfg.receivers_per_room / cfg.senders
    return StepOrder(
        msgs_per_sender_s=per_sender,
        start_ns=time.monotonic_ns() + START_DELAY_NS,
        dur_ns=int(seconds * 1e9),
        drain_ns=int(cfg.drain_s * 1e9),
        tick_ns=int(cfg.tick_ms * 1e6),
        sample_every_ns=max(1_000_000, int(cfg.connections * 1e9 / cfg.samples_per_s)),
    )


def verdict(result: StepResult, p99_limit_ms: float) -> str | None:
    """Why the step failed, or None if it passed."""
    checks = [
        (result.disconnects > 0, f"{result.disconnects} receivers disconnected"),
        (result.missing > 0, f"lost {result.missing} deliveries"),
        (result.extra > 0, f"{result.extra} deliveries beyond those sent"),
        (result.dups > 0, f"{result.dups} duplicates (sampled)"),
        (result.reorders > 0, f"{result.reorders} out of order (sampled)"),
        (result.unsent_bytes > 0, f"{result.unsent_bytes} bytes the server never read"),
        (result.samples == 0, "no latency samples"),
        (result.p99_ms >= p99_limit_ms, f"p99 {result.p99_ms:.0f} ms"),
        (
            result.drain_ms is None or result.drain_ms >= p99_limit_ms,
            f"late: backlog drained in {result.drain_ms} ms",
        ),
    ]
    return next((why for failed, why in checks if failed), None)


def describe(index: int, result: StepResult, why: str | None) -> str:
    """One progress line for a step."""
    return (
        f"  step {index:2d}: offered {result.offered_dps:>12,.0f}/s  got {result.dps:>12,.0f}/s"
        f"  p50 {result.p50_ms:7.1f}  p99 {result.p99_ms:7.1f}  max {result.max_ms:7.1f} ms"
        f"  drain {result.drain_ms} ms  cpu gen {result.gen_cpu:.2f} server {result.server_cpu}"
        f" other {result.other_cpu}"
        f"  {'ok' if why is None else 'FAIL: ' + why}"
    )


def step_record(result: StepResult, why: str | None) -> dict[str, object]:
    """A step as JSON: every field, plus the rate achieved and the verdict."""
    return {**asdict(result), "dps": round(result.dps), "fail": why}


class Sweep:
    """One sweep's state, a step at a time: ``rate`` is the next step's, ``take`` its
    result, ``done`` once it stopped, ``record`` what it found. ``sweep`` drives one
    against a generator; bench/devices.py interleaves two, a step each in turn."""

    def __init__(self, cfg: SweepConfig, say: Callable[[str], None]) -> None:
        self.cfg, self.say = cfg, say
        self.steps: list[dict[str, object]] = []
        self.best: StepResult | None = None
        self.on_pace: StepResult | None = None  # the best pass with the generator not saturated
        self.busy_from: float | None = None  # the first rate at which the server's CPU was full
        self.repeats, self.max_other = DISTURBED_REPEATS, 0.0
        self.low, self.high = 0.0, math.inf  # the highest rate that passed, the lowest that failed
        self.rate, self.retried, self.narrowing = cfg.start_dps, False, cfg.refine_steps
        self.stop = "max steps reached"
        self.stopped = False

    @property
    def done(self) -> bool:
        return self.stopped or len(self.steps) >= self.cfg.max_steps

    def take(self, result: StepResult) -> None:
        """The result of a step at ``self.rate``: note it, and choose the next rate."""
        cfg, rate = self.cfg, self.rate
        why = verdict(result, cfg.p99_limit_ms)
        self.max_other = max(self.max_other, result.other_cpu or 0.0)
        if (result.server_cpu or 0.0) >= SERVER_BUSY:
            self.busy_from = min(rate, self.busy_from or rate)
        if why is not None and (result.other_cpu or 0.0) > DISTURBED and self.repeats > 0:
            self.repeats -= 1  # another user's processes took CPU: this step says nothing
            why += f" (disturbed: other processes used {result.other_cpu} cores; repeating)"
            self.steps.append(step_record(result, why))
            self.say(describe(len(self.steps), result, why))
            return
        self.steps.append(step_record(result, why))
        self.say(describe(len(self.steps), result, why))
        if why is None:
            self.low, self.retried = max(self.low, rate), False
            if self.best is None or result.dps > self.best.dps:
                self.best = result
            if result.gen_cpu < GEN_BUSY and (
                self.on_pace is None or result.dps > self.on_pace.dps
            ):
                self.on_pace = result
        elif not self.retried and self.high == math.inf and not result.disconnects:
            self.retried = True
            return  # a fluke fails once; a limit fails twice
        else:
            self.high, self.stop = min(self.high, rate), f"at {rate:,.0f}/s offered: {why}"
        if result.disconnects:
            self.stopped = True
            return
        if self.high == math.inf:
            self.rate *= cfg.factor
            return
        if self.narrowing == 0 or self.high / max(self.low, 1.0) < 1.05:
            self.stopped = True
            return
        self.narrowing -= 1
        self.rate = math.sqrt(self.low * self.high) if self.low else self.high / cfg.factor**2

    def record(self) -> dict[str, object]:
        """The sweep's record: its best step, where it stopped, and every step."""
        steps, best, on_pace, stop = self.steps, self.best, self.on_pace, self.stop
        if stop == "max steps reached" and steps and steps[-1]["fail"]:
            stop += f" (the last step failed: {steps[-1]['fail']})"
        return {
            "best_dps": round(best.dps) if best else 0,
            "best": step_record(best, None) if best else None,
            "best_on_pace_dps": round(on_pace.dps) if on_pace else 0,
            "server_busy_from_dps": self.busy_from,
            "max_other_cpu": self.max_other,
            "stop": stop,
            "steps": steps,
        }


def sweep(
    gen: Generator,
    cfg: SweepConfig,
    say: Callable[[str], None],
    alive: Callable[[], None],
    cpu_probe: Probe | None = None,
) -> dict[str, object]:
    """Run the sweep on a logged-in, synced generator; return the run's record."""
    gen.step(cfg.start_dps, order_for(cfg, cfg.start_dps, cfg.warmup_s))
    state = Sweep(cfg, say)
    while not state.done:
        result = gen.step(state.rate, order_for(cfg, state.rate, cfg.step_s), cpu_probe)
        alive()
        state.take(result)
    return state.record()
