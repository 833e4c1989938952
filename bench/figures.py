"""The figures RESULTS.md reports: each workload's sizes (full and ``--quick``) and summary.

A figure turns command-line options into parameters, runs one repeat of its
workload (workloads.py) and, over all repeats, reduces the runs to medians.
"""

from __future__ import annotations

import argparse
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from driver import WorkerOptions
from plan import ClientSpec
from protocols import deliveries_per_line
from results import median
from sweep import SweepConfig
from workloads import (
    Say,
    ServerSpec,
    fanout_clients,
    rooms_clients,
    run_idle,
    run_slow,
    run_sweep,
    with_accounts,
)

Params = dict[str, Any]
SWEEP_FULL: Params = {"start_dps": 500_000.0, "factor": 1.5, "step_s": 2.0, "max_steps": 15}
SWEEP_FULL |= {"p99_ms": 200.0, "warmup_s": 0.5, "drain_s": 5.0, "refine_steps": 2}
SWEEP_QUICK: Params = {"start_dps": 20_000.0, "factor": 2.0, "step_s": 0.5, "max_steps": 2}
SWEEP_QUICK |= {"p99_ms": 200.0, "warmup_s": 0.2, "drain_s": 3.0, "refine_steps": 0}


def _sweep_cfg(p: Params, receivers: int, senders: int, connections: int) -> SweepConfig:
    return SweepConfig(
        receivers_per_room=receivers,
        senders=senders,
        connections=connections,
        start_dps=p["start_dps"],
        factor=p["factor"],
        max_steps=p["max_steps"],
        refine_steps=p["refine_steps"],
        step_s=p["step_s"],
        warmup_s=p["warmup_s"],
        drain_s=p["drain_s"],
        p99_limit_ms=p["p99_ms"],
    )


def _as_accounts(clients: list[ClientSpec], p: Params) -> list[ClientSpec]:
    """The guests as accounts on ``per_account`` connections each, if the params ask
    (bench/devices.py); a new password each run, never printed."""
    per_account = p.get("per_account", 0)
    if not per_account:
        return clients
    return with_accounts(clients, per_account, secrets.token_urlsafe(12))


def sweep_layout(name: str, p: Params, opts: WorkerOptions) -> tuple[list[ClientSpec], SweepConfig]:
    """The clients and the sweep of the fanout or rooms figure (as accounts with
    ``per_account``)."""
    if name == "fanout":
        m, s = p["members"], p["senders"]
        clients, size, senders, connections = fanout_clients(m, s), m, s, m
    else:
        size = p["room_size"]
        clients = rooms_clients(p["rooms"], size, sending=True)
        senders = connections = len(clients)
    reach = deliveries_per_line(size, opts.protocol, opts.irc_echo)
    return _as_accounts(clients, p), _sweep_cfg(p, reach, senders, connections)


def _fanout(server: ServerSpec, p: Params, workers: int, opts: WorkerOptions, say: Say) -> Any:
    clients, cfg = sweep_layout("fanout", p, opts)
    return run_sweep(server, clients, cfg, workers, opts, say)


def _rooms(server: ServerSpec, p: Params, workers: int, opts: WorkerOptions, say: Say) -> Any:
    clients, cfg = sweep_layout("rooms", p, opts)
    return run_sweep(server, clients, cfg, workers, opts, say)


def _idle(server: ServerSpec, p: Params, workers: int, opts: WorkerOptions, say: Say) -> Any:
    n, size, procs = p["connections"], p["room_size"], p["workers"]
    clients = rooms_clients(math.ceil(n / size), size, sending=False)[:n]
    opts = replace(opts, login_concurrency=max(1, p["concurrency"] // procs))
    return run_idle(server, clients, procs, opts, say)


def _slow(server: ServerSpec, p: Params, workers: int, opts: WorkerOptions, say: Say) -> Any:
    m, s = p["members"], p["senders"]
    cfg = _sweep_cfg(p, m, s, m)
    return run_slow(server, m, s, cfg, p["dps"], opts, workers, say)


@dataclass(frozen=True)
class Figure:
    """One workload: its parameters, how to run it, how to name it."""

    name: str
    identity: tuple[str, ...]  # the parameters that name the figure
    full: Params
    quick: Params
    runner: Callable[[ServerSpec, Params, int, WorkerOptions, Say], Any]
    label_format: str

    def params(self, quick: bool, args: argparse.Namespace, overrides: Params) -> Params:
        """Defaults for the mode, then any option given on the command line, then overrides."""
        p = dict(self.quick if quick else self.full)
        for key in p:
            if getattr(args, key, None) is not None:
                p[key] = getattr(args, key)
        return p | overrides

    def label(self, p: Params) -> str:
        return self.label_format.format(**p)

    def key(self, p: Params) -> str:
        return ",".join(f"{k}={p[k]}" for k in self.identity)

    def server_flags(self, p: Params) -> list[str]:
        queue = p.get("max_send_queue")
        return ["--max-send-queue", str(queue)] if queue else []

    def run(
        self, server: ServerSpec, p: Params, workers: int, opts: WorkerOptions, say: Say
    ) -> Any:
        return self.runner(server, p, workers, opts, say)

    def command(self, p: Params, args: argparse.Namespace, server_cmd: str | None) -> str:
        """The command that reruns exactly this figure."""
        words = ["python", "bench/run.py", self.name]
        words += [f"--{k.replace('_', '-')} {p[k]}" for k in self.identity]
        words += ["--quick"] if args.quick else []
        words += [f"--runs {args.runs}", f"--workers {args.workers}"]
        words += [f"--server-cmd '{server_cmd}'"] if server_cmd else []
        words += ["--uvloop"] if args.uvloop else []
        words += [f"--protocol {args.protocol}"] if args.protocol != "text" else []
        words += ["--irc-echo"] if args.irc_echo else []
        return " ".join(words)


FIGURES: dict[str, Figure] = {
    "fanout": Figure(
        "fanout",
        ("members", "senders"),
        {"members": 100, "senders": 5} | SWEEP_FULL | {"start_dps": 1_000_000.0},
        {"members": 10, "senders": 2} | SWEEP_QUICK,
        _fanout,
        "fanout M={members} S={senders}",
    ),
    "rooms": Figure(
        "rooms",
        ("rooms", "room_size"),
        {"rooms": 100, "room_size": 10} | SWEEP_FULL | {"start_dps": 50_000.0},
        {"rooms": 4, "room_size": 5} | SWEEP_QUICK | {"start_dps": 10_000.0},
        _rooms,
        "rooms {rooms}x{room_size} all sending",
    ),
    "idle": Figure(
        "idle",
        ("connections", "room_size"),
        {"connections": 10_000, "room_size": 10, "concurrency": 64, "workers": 4},
        {"connections": 20, "room_size": 5, "concurrency": 8, "workers": 2},
        _idle,
        "idle {connections} conns, rooms of {room_size}",
    ),
    "slow": Figure(
        "slow",
        ("members", "senders", "dps", "max_send_queue"),
        {"members": 100, "senders": 5, "dps": 3_000_000.0, "max_send_queue": 262_144, "pad": 0}
        | SWEEP_FULL
        | {"step_s": 4.0},
        {"members": 10, "senders": 2, "dps": 50_000.0, "max_send_queue": 16_384, "pad": 100}
        | SWEEP_QUICK
        | {"step_s": 1.0},
        _slow,
        "slow: fanout M={members} S={senders} at {dps:,.0f}/s + 1 stalled member",
    ),
}


def _middle(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
    """The run whose figure is the median (the upper middle for an even count)."""
    return sorted(runs, key=key)[len(runs) // 2]


def summarize(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Reduce a figure's runs to the numbers the table shows."""
    if name in ("fanout", "rooms"):
        mid = _middle(runs, lambda r: r["best_dps"])
        best = mid["best"] or {}
        return {
            "deliveries_per_s": round(median([r["best_dps"] for r in runs])),
            "runs": [r["best_dps"] for r in runs],
            "p50_ms": best.get("p50_ms"),
            "p99_ms": best.get("p99_ms"),
            "gen_cpu": best.get("gen_cpu"),
            "server_cpu": best.get("server_cpu"),
            "on_pace_dps": round(median([r["best_on_pace_dps"] for r in runs])),
            "server_busy_from_dps": mid.get("server_busy_from_dps"),
            "max_other_cpu": max(r.get("max_other_cpu", 0.0) for r in runs),
            "stop": mid["stop"],
        }
    if name == "idle":
        return {
            "rss_bytes_per_conn": round(median([r["rss_bytes_per_conn"] for r in runs])),
            "runs": [r["rss_bytes_per_conn"] for r in runs],
            "connections": runs[0]["connections"],
            "connect_wall_s": median([r["connect_wall_s"] for r in runs]),
            "connects_per_s": round(median([r["connects_per_s"] for r in runs])),
            "login_p99_ms": median([r["login"]["p99_ms"] for r in runs]),
        }
    slow = [r["stalled"] for r in runs]
    base = [r["baseline"] for r in runs]
    return {
        "dropped": all(r["dropped"] for r in runs),
        "p99_ms": median([r["p99_ms"] for r in slow]),
        "baseline_p99_ms": median([r["p99_ms"] for r in base]),
        "dps": round(median([r["dps"] for r in slow])),
        "baseline_dps": round(median([r["dps"] for r in base])),
        "rss_peak_kib": round(median([r["server_rss_kib_peak"] for r in slow])),
        "missing": sum(r["step"]["missing"] for r in slow + base),
        "quit_notices": [r["quit_notices"] for r in slow],
    }
