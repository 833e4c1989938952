"""Where a benchmarked server's CPU goes, from /proc (Linux): its event loop's thread
(the main one) apart from its other threads, the generator's processes, everything
else on the machine, and how long the loop's thread waited for a CPU while it could
have run. Used by bench/login_storm.py. Reads files; nothing else.
"""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass
from pathlib import Path

from serverproc import machine_busy_s


def stat_cpu_s(stat: Path) -> float:
    """User and system CPU seconds from a /proc .../stat file (0 if it is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # a thread or process that just ended
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schedstat(pid: int) -> tuple[float, int]:
    """A thread's seconds spent runnable but waiting for a CPU, and its runs so far
    (/proc/PID/schedstat: on-CPU ns, run-queue wait ns, timeslices; 0 if gone)."""
    try:
        _, wait_ns, runs = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0
    return int(wait_ns) / 1e9, int(runs)


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU seconds so far: the server's loop thread, its other threads, the generator
    (this process and the storm's), and the whole machine; and the seconds the loop's
    thread waited for a CPU while it could have run, and its runs."""

    loop_s: float
    threads_s: float
    generator_s: float
    machine_s: float
    loop_wait_s: float
    loop_runs: int

    @classmethod
    def take(cls, server_pid: int, worker_pid: int) -> CpuSample:
        tasks = list(Path(f"/proc/{server_pid}/task").iterdir())
        loop = sum(stat_cpu_s(t / "stat") for t in tasks if t.name == str(server_pid))
        threads = sum(stat_cpu_s(t / "stat") for t in tasks if t.name != str(server_pid))
        generator = sum(stat_cpu_s(Path(f"/proc/{p}/stat")) for p in (os.getpid(), worker_pid))
        return cls(loop, threads, generator, machine_busy_s(), *schedstat(server_pid))

    def until(self, after: CpuSample, seconds: float) -> dict[str, float]:
        """From this sample to `after`: % of one CPU each used (`others_pct`: the rest
        of the machine, other processes: noise), and the loop thread's wait for a CPU,
        in ms per second and in µs per run."""
        spent = [b - a for a, b in zip(astuple(self), astuple(after), strict=True)]
        loop, threads, generator, machine = (100 * s / seconds for s in spent[:4])
        wait_s, runs = spent[4], spent[5]
        figures = {
            "loop_pct": loop,
            "server_threads_pct": threads,
            "generator_pct": generator,
            "others_pct": max(0.0, machine - loop - threads - generator),
            "loop_wait_ms_per_s": 1000 * wait_s / seconds,
            "loop_wait_us_per_run": 1e6 * wait_s / runs if runs else 0.0,
        }
        return {k: round(v, 1) for k, v in figures.items()}
