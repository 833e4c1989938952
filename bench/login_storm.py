"""Does a storm of password logins hurt chat? ``python bench/login_storm.py --rate 50``.

Starts ``server.py`` pinned to CPU 0 (history on, in a temporary directory; both doors
on free ports; ``--rate 0``: flood control off, as bench/run.py; every other limit at
its default), registers the accounts (bench/logins.py), logs a room of ``--members`` in
on the text door (bench/roomchat.py), then runs two conditions, alternated, ``--rounds``
times each, ``--seconds`` a phase:

- alone: each member says a line every ``--period-ms``, and every delivery's latency
  from when its line was due to when each member read it is measured;
- storm: the same while a worker process starts ``--rate`` logins a second, the text
  door's password prompt and IRC SASL PLAIN in turn, each a fresh connection that logs
  in with the right password, waits until it can chat, and quits.

This process (the room) and the storm's process are pinned to CPU 1. The server and
the storm each run in a session of their own, as separate programs would: Linux shares
a CPU between sessions before threads (autogroup), and one session's load would shrink
another's share. Reported per phase, and per condition with its phases pooled: chat
p50/p99/max, lines lost, and the room's own lateness in sending (send lag); logins
completed within the window per second, and login latency (from when a login was due
to the welcome's end) p50/p99; CPU in % of one CPU: the server's event loop thread, its
other threads (password hashing, the history writer), the generator, and every other
process on the machine (noise); how long the loop's thread waited for a CPU while it
could have run (/proc schedstat); and p99(storm)/p99(alone). ``--server-cmd`` runs
another build (``'python /tmp/old/server.py'``); ``--json FILE`` writes the record.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import multiprocessing
import os
import platform
import secrets
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cpusample import CpuSample
from driver import percentile
from logins import BenchAccount, Ports, StormOrder, StormReport, register_all, storm_main
from roomchat import ChatFigures, Room
from serverproc import ServerProcess, pin_self

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = ("alone", "storm")
START_DELAY_NS = 200_000_000  # both processes get the phase's start time before it
SETTLE_S = 1.0


def say(text: str) -> None:
    print(text, flush=True)


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def chat_summary(figures: list[ChatFigures]) -> dict[str, Any]:
    """Chat latency over these phases' deliveries, pooled, and what went wrong."""
    ordered = sorted(ns for f in figures for ns in f.latency_ns)
    lag = sorted(ns for f in figures for ns in f.send_lag_ns)
    return {
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else 0),
        "deliveries": len(ordered),
        "lost": sum(f.missing for f in figures),
        "reorders": sum(f.reorders for f in figures),
        "send_lag_p99_ms": ms(percentile(lag, 0.99)),  # the generator's own lateness
    }


def storm_summary(reports: list[StormReport], seconds: float) -> dict[str, Any]:
    """Logins/s within the windows, and login latency overall and per door."""
    every: list[int] = []
    doors: dict[str, Any] = {}
    for door in ("text", "irc"):
        mine = sorted(ns for r in reports for ns in r.latency_ns.get(door, []))
        doors[door] = {"p50_ms": ms(percentile(mine, 0.5)), "p99_ms": ms(percentile(mine, 0.99))}
        every += mine
    every.sort()
    errors: dict[str, int] = {}
    for r in reports:
        for kind, count in r.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    return {
        "logins_per_s": round(sum(r.ok_in_window for r in reports) / (seconds * len(reports)), 1),
        "attempted": sum(r.attempted for r in reports),
        "ok": sum(r.ok for r in reports),
        "p50_ms": ms(percentile(every, 0.5)),
        "p99_ms": ms(percentile(every, 0.99)),
        "doors": doors,
        "errors": errors,
    }


def mean_cpu(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(sum(s[k] for s in samples) / len(samples), 1) for k in samples[0]}


def reply(pipe: Connection, timeout_s: float) -> StormReport:
    if not pipe.poll(timeout_s):
        raise RuntimeError(f"the storm's process did not answer within {timeout_s:.0f} s")
    kind, value = pipe.recv()
    if kind != "ok":
        raise RuntimeError(f"the storm's process failed:\n{value}")
    assert isinstance(value, StormReport)
    return value


@dataclass(frozen=True, slots=True)
class Phase:
    round: int
    condition: str
    chat: ChatFigures
    cpu: dict[str, float]
    storm: StormReport | None

    def summary(self, seconds: float) -> dict[str, Any]:
        figures: dict[str, Any] = {"round": self.round, "condition": self.condition}
        figures |= {"chat": chat_summary([self.chat]), "cpu": self.cpu}
        if self.storm is not None:
            figures["logins"] = storm_summary([self.storm], seconds)
        return figures


async def run_phases(
    args: argparse.Namespace, server: ServerProcess, pipe: Connection, worker_pid: int
) -> list[Phase]:
    """Alone, storm, alone, storm ...: each phase as measured."""
    room = Room("storm")
    await room.join(server.text_port, args.members)
    await asyncio.sleep(SETTLE_S)
    phases: list[Phase] = []
    for round_index in range(1, args.rounds + 1):
        for condition in CONDITIONS:
            start_ns = time.monotonic_ns() + START_DELAY_NS
            if condition == "storm":
                pipe.send(StormOrder(args.rate, args.seconds, start_ns))
            await asyncio.sleep(START_DELAY_NS / 1e9)
            cpu_before = CpuSample.take(server.pid, worker_pid)
            window = asyncio.create_task(asyncio.sleep(args.seconds))
            chat_task = asyncio.create_task(
                room.phase(len(phases), start_ns, args.seconds, args.period_ms / 1000)
            )
            await window  # its end: CPU over the window, not the drain
            cpu = cpu_before.until(CpuSample.take(server.pid, worker_pid), args.seconds)
            chat = await chat_task
            storm = None
            if condition == "storm":
                storm = await asyncio.to_thread(reply, pipe, 120.0)
            server.check_alive()
            phases.append(Phase(round_index, condition, chat, cpu, storm))
            say(describe(phases[-1].summary(args.seconds)))
            await asyncio.sleep(SETTLE_S)
    await room.leave()
    return phases


def describe(phase: dict[str, Any]) -> str:
    """One phase's, or one condition's, figures in two lines at most."""
    chat, cpu = phase["chat"], phase["cpu"]
    text = (
        f"chat p50 {chat['p50_ms']} ms, p99 {chat['p99_ms']} ms, max {chat['max_ms']} ms, "
        f"{chat['lost']} lost (send lag p99 {chat['send_lag_p99_ms']} ms)\n      CPU %: "
        f"server loop {cpu['loop_pct']}, server threads {cpu['server_threads_pct']}, "
        f"generator {cpu['generator_pct']}, others {cpu['others_pct']}; the loop waited for "
        f"a CPU {cpu['loop_wait_ms_per_s']} ms/s, {cpu['loop_wait_us_per_run']} µs a run"
    )
    if "logins" in phase:
        s = phase["logins"]
        text += (
            f"\n      logins {s['logins_per_s']}/s ({s['ok']} of {s['attempted']} ok), "
            f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms (text {s['doors']['text']['p99_ms']}, "
            f"IRC {s['doors']['irc']['p99_ms']}); errors {s['errors'] or 'none'}"
        )
    return f"{phase.get('round', 'all')} {phase['condition']:5}: {text}"


def summarize(args: argparse.Namespace, phases: list[Phase]) -> dict[str, Any]:
    """Each condition with its phases pooled, the p99 ratio, and every phase."""
    conditions: dict[str, Any] = {}
    for condition in CONDITIONS:
        mine = [p for p in phases if p.condition == condition]
        summary: dict[str, Any] = {"condition": condition}
        summary["chat"] = chat_summary([p.chat for p in mine])
        summary["cpu"] = mean_cpu([p.cpu for p in mine])
        reports = [p.storm for p in mine if p.storm is not None]
        if reports:
            summary["logins"] = storm_summary(reports, args.seconds)
        conditions[condition] = summary
    alone, storm = (conditions[c]["chat"]["p99_ms"] for c in CONDITIONS)
    return {
        "conditions": conditions,
        "p99_ratio": round(storm / alone, 2) if alone else None,
        "phases": [p.summary(args.seconds) for p in phases],
    }


def bench_accounts(count: int) -> list[BenchAccount]:
    """`count` accounts, half for each door, each with a password made for this run."""
    return [
        BenchAccount(f"acct{i}", secrets.token_urlsafe(12), "text" if i % 2 == 0 else "irc")
        for i in range(count)
    ]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="logins a second in a storm")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=2, help="alone/storm alternations")
    parser.add_argument("--members", type=int, default=10, help="members of the chatting room")
    parser.add_argument("--period-ms", type=float, default=20.0, help="a member's pace")
    parser.add_argument("--accounts", type=int, default=0, help="default: 2 x rate, >= 20")
    parser.add_argument("--server-cmd", default="python server.py", help="the server to run")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the record to this file")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.rounds < 1 or args.members < 1:
        parser.error("--rate, --seconds, --rounds and --members must be positive")
    args.accounts = max(2, args.accounts or max(20, round(2 * args.rate)))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    pin_self(args.gen_cpu)
    command = shlex.join(["python3", "bench/login_storm.py", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="chatroom-bench-") as tmp:
        server_argv = shlex.split(args.server_cmd)
        if server_argv[0] in ("python", "python3"):
            server_argv[0] = sys.executable
        db = str(Path(tmp) / "chat.db")
        server_argv += ["--host", "127.0.0.1", "--port", "0", "--irc-port", "0", "--db", db,
                        "--rate", "0", "--log-level", "INFO"]  # fmt: skip
        server = ServerProcess(server_argv, ROOT, args.server_cpu, door="irc", new_session=True)
        with server:
            assert server.irc_port is not None
            ports = Ports(server.text_port, server.irc_port)
            accounts = bench_accounts(args.accounts)
            started = time.perf_counter()
            asyncio.run(register_all(ports, accounts))
            say(f"registered {len(accounts)} accounts in {time.perf_counter() - started:.1f} s")
            context = multiprocessing.get_context("spawn")
            pipe, child = context.Pipe()
            worker = context.Process(target=storm_main, args=(child, ports, accounts), daemon=True)
            worker.start()
            child.close()
            try:
                phases = asyncio.run(run_phases(args, server, pipe, worker.pid or 0))
            finally:
                pipe.send(None)
                worker.join(10)
            warnings = server.warnings
    record = {
        "bench": "login_storm",
        "command": command,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "flood_control": "off (--rate 0)",
        "server_warnings": warnings,
        **summarize(args, phases),
    }
    report(record)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0


def report(record: dict[str, Any]) -> None:
    params = record["params"]
    machine = record["machine"]
    say(f"\n{record['command']}  ({record['date']}, nproc {machine['nproc']}, "
        f"Python {machine['python']}; server on CPU {params['server_cpu']}, generator "
        f"on CPU {params['gen_cpu']}; flood control {record['flood_control']})")  # fmt: skip
    say(f"a room of {params['members']}, a line every {params['period_ms']:g} ms each; "
        f"storm {params['rate']:g} logins/s, text and IRC SASL PLAIN in turn; "
        f"{params['rounds']} x {params['seconds']:g} s per condition, alternated")  # fmt: skip
    for condition in CONDITIONS:
        say(describe(record["conditions"][condition]))
    say(f"chat p99 storm / alone: {record['p99_ratio']}")


if __name__ == "__main__":
    sys.exit(main())
