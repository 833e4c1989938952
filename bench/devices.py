"""An account on several connections against guests: ``python bench/devices.py all``.

Runs bench/run.py's ``fanout`` and ``rooms`` sweeps (the same figures, sizes, server
command, pinning and pass rule) in two cases, each against a fresh server of its own,
both up at once and stepped in turn (A B A B ..., a step each; who goes first changes
each run), so that load from elsewhere on a shared machine falls on both alike:

- ``guests``: every connection is a guest user of its own, as bench/run.py has it;
- ``devices``: the same connections, rooms, senders and rates, but logged in to
  accounts, ``--per-account`` connections each (workloads.with_accounts): each
  account's first connection registers the name over the text door (``/register``,
  from a loopback source address of its own, 3 to an address), the others log in with
  the password and become more connections of the same user (registry Devices). A
  room then has a member with devices, so every flush takes ``Room._flush_devices``.

Every connection counts what it receives, so deliveries/s is comparable between the
cases: the same connections get the same lines. Each run starts two new servers.
Prints both cases' medians and their ratio; ``--json FILE`` keeps the records; saves
nothing else (RESULTS.md, "Devices", has the figures by hand). Text door only;
127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import results
from driver import WorkerOptions
from figures import FIGURES, Params, summarize, sweep_layout
from run import server_spec
from serverproc import pin_self
from sweep import DISTURBED, SERVER_BUSY
from workloads import run_interleaved

CASES = ("guests", "devices")


def say(text: str) -> None:
    print(text, flush=True)


def layout(workload: str, p: Params, per_account: int) -> str:
    """How the devices case groups its connections into accounts, in words."""
    clients, _ = sweep_layout(workload, p | {"per_account": per_account}, WorkerOptions())
    per = Counter(Counter(c.name for c in clients).values())
    shape = ", ".join(f"{n} x {k}" for k, n in sorted(per.items(), reverse=True))
    where = "in the room" if workload == "fanout" else "per room"
    accounts = sum(per.values()) // (1 if workload == "fanout" else p["rooms"])
    return f"{accounts} accounts {where} ({shape} connections over all)"


def cpu_at_equal_rates(
    guests: list[dict[str, Any]], devices: list[dict[str, Any]]
) -> dict[str, Any]:
    """The devices server's CPU over the guests server's for the same offered rate in the
    same run (the two steps a few seconds apart), where neither server was busy (CPU
    below SERVER_BUSY: a full server batches more and costs less per line) and nothing
    else was (DISTURBED): finer than the sweep's steps, 1.5x apart."""
    ratios: list[float] = []
    for mine, theirs in zip(devices, guests, strict=True):
        first: dict[int, dict[str, Any]] = {}  # rate: the guests' first step at it
        for step in theirs["steps"]:
            first.setdefault(round(step["offered_dps"]), step)
        seen: set[int] = set()
        for step in mine["steps"]:
            rate = round(step["offered_dps"])
            other = first.get(rate)
            if other is None or rate in seen:
                continue
            seen.add(rate)
            pair = (step, other)
            if all(x["server_cpu"] < SERVER_BUSY and x["other_cpu"] < DISTURBED for x in pair):
                ratios.append(round(step["server_cpu"] / other["server_cpu"], 3))
    return {
        "median": results.median(ratios) if ratios else None,
        "pairs": len(ratios),
        "ratios": ratios,
    }


def command(args: argparse.Namespace, workload: str, p: Params) -> str:
    words = ["python", "bench/devices.py", workload]
    if workload == "fanout":
        words += [f"--members {p['members']}", f"--senders {p['senders']}"]
    else:
        words += [f"--rooms {p['rooms']}", f"--room-size {p['room_size']}"]
    words += [f"--per-account {args.per_account}", f"--runs {args.runs}"]
    words += [f"--workers {args.workers}"] + ["--quick"] * args.quick
    return " ".join(words)


def compare(args: argparse.Namespace, workload: str) -> dict[str, Any]:
    """Both cases of one workload, ``--runs`` times, stepped in turn; the record."""
    figure = FIGURES[workload]
    params = figure.params(args.quick, args, {})
    server = server_spec(args, None, figure.server_flags(params))
    shape = layout(workload, params, args.per_account)
    opts = WorkerOptions()
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    for index in range(args.runs):
        order = CASES if index % 2 == 0 else CASES[::-1]  # who steps first, in turn
        cases, cfg = {}, None
        for case in order:
            per_account = args.per_account if case == "devices" else 0
            cases[case], cfg = sweep_layout(workload, params | {"per_account": per_account}, opts)
        assert cfg is not None
        say(f"{figure.label(params)}: run {index + 1}/{args.runs}, {' and '.join(order)}")
        got = run_interleaved(cases, server, cfg, args.workers, opts, say)
        for case in CASES:
            runs[case].append(got[case])
    summary = {case: summarize(workload, got) for case, got in runs.items()}
    guests, devices = (summary[case]["deliveries_per_s"] for case in CASES)
    ratio = round(devices / guests, 3) if guests else None
    cpu = cpu_at_equal_rates(runs["guests"], runs["devices"])
    record = {
        "workload": workload,
        "label": figure.label(params),
        "devices_layout": shape,
        "params": params | {"per_account": args.per_account},
        "command": command(args, workload, params),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": results.machine(),
        "flood_control": "off (--rate 0)",
        "summary": summary,
        "devices_over_guests": ratio,
        "server_cpu_devices_over_guests": cpu,
        "runs": runs,
    }
    say(f"=> {record['label']}; devices: {shape}")
    for case in CASES:
        s = summary[case]
        say(
            f"   {case:<8} {s['deliveries_per_s']:>12,}/s (runs {s['runs']}),"
            f" p50/p99 {s['p50_ms']}/{s['p99_ms']} ms, server CPU {s['server_cpu']}"
        )
    say(f"   devices / guests: {ratio}")
    say(
        f"   server CPU devices / guests at equal rates, neither busy: {cpu['median']}"
        f" (median of {cpu['pairs']} step pairs: {cpu['ratios']})"
    )
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin_self(args.gen_cpu)
    todo = ["fanout", "rooms"] if args.workload == "all" else [args.workload]
    records = [compare(args, workload) for workload in todo]
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=["fanout", "rooms", "all"])
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes, 1 run (the test suite)")
    add("--runs", type=int, default=None, help="alternations of the two cases (default 3)")
    add("--per-account", type=int, default=3, help="connections per account (devices case)")
    add("--workers", type=int, default=2, help="load-generator processes")
    add("--server-cpu", type=int, default=0)
    add("--gen-cpu", type=int, default=1)
    add("--json", default=None, help="write the records to this file")
    for option in ["members", "senders", "rooms", "room-size", "max-steps"]:
        add(f"--{option}", type=int, default=None)
    for option in ["start-dps", "factor", "step-s", "p99-ms"]:
        add(f"--{option}", type=float, default=None)
    args = parser.parse_args(argv)
    if args.per_account < 2:
        parser.error("--per-account: at least 2 (one connection an account is the guest case)")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    args.protocol, args.irc_echo, args.uvloop = "text", False, False  # run.server_spec's
    return args


if __name__ == "__main__":
    sys.exit(main())
