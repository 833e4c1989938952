"""Two builds of the server (or any servers) side by side: ``python bench/builds.py``.

``python bench/builds.py rooms --build old=../wt-old --build new=. --protocol irc
--rates 200000,400000 --rounds 5`` starts one server per build (``BUILD/server.py
--no-history``, run.py's flags: port 0, --rate 0, the door under test; or, for
``NAME=cmd:COMMAND``, that command, such as another IRC server's wrapper), all up at
once with their clients logged in, and steps them in turn at the same offered rates,
who goes first changing each round, so load from elsewhere on a shared machine falls
on all alike. The server is pinned to CPU 0, the generator to CPU 1, as in run.py.

It reports, per build and rate, the server's CPU microseconds per delivery (its CPU
over the deliveries that arrived) as the median of the steps nothing else disturbed
(other processes below sweep.DISTURBED cores; all steps if none), the steps that
failed run.py's pass rule, and each build's median over the first build's. With
``--sweep`` it runs run.py's sweep for each build, interleaved a step at a time
(workloads.run_interleaved's way, with a server command per build) and reports the
highest passing deliveries/s. Saves nothing; ``--json FILE`` keeps the steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import results
from driver import Generator, StepResult
from figures import FIGURES, sweep_layout
from run import server_spec, worker_options
from serverproc import pin_self
from sweep import DISTURBED, Sweep, order_for, step_record, verdict
from workloads import login_and_sync


def say(text: str) -> None:
    print(text, flush=True)


def build_command(spec: str) -> tuple[str, str]:
    """`NAME=DIR` (that checkout's server.py, history off) or `NAME=cmd:COMMAND`."""
    name, _, where = spec.partition("=")
    if where.startswith("cmd:"):
        return name, where[4:]
    server = Path(where).resolve() / "server.py"
    return name, f"{sys.executable} {server} --no-history"


def prefixed(name: str) -> Callable[[str], None]:
    return lambda text: say(f"  {name}: {text.strip()}")


def per_delivery_us(result: StepResult) -> float | None:
    if result.server_cpu is None or not result.dps:
        return None
    return round(result.server_cpu / result.dps * 1e6, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("workload", choices=("fanout", "rooms"))
    add("--build", action="append", required=True, help="NAME=DIR or NAME=cmd:COMMAND")
    add("--rates", default="200000", help="fixed-rate mode: deliveries/s offered, comma-separated")
    add("--rounds", type=int, default=5, help="fixed-rate mode: steps per build and rate")
    add("--sweep", action="store_true", help="run.py's sweep per build, interleaved")
    add("--protocol", choices=("text", "irc", "websocket"), default="text")
    add("--irc-echo", action="store_true")
    add("--members", type=int, default=100)
    add("--senders", type=int, default=5)
    add("--rooms", type=int, default=100)
    add("--room-size", type=int, default=10)
    add("--workers", type=int, default=2)
    add("--server-cpu", type=int, default=0)
    add("--gen-cpu", type=int, default=1)
    add("--step-s", type=float, default=2.0)
    add("--json", default=None)
    args = parser.parse_args(argv)
    args.uvloop, args.quick = False, False
    for knob in ("start_dps", "factor", "max_steps", "p99_ms"):
        setattr(args, knob, None)
    pin_self(args.gen_cpu)
    figure = FIGURES[args.workload]
    params = figure.params(False, args, {})
    opts = worker_options(args)
    clients, cfg = sweep_layout(args.workload, params, opts)
    cfg = replace(cfg, step_s=args.step_s)
    builds = dict(build_command(spec) for spec in args.build)
    load = Path("/proc/loadavg").read_text()[:14]
    say(f"{figure.label(params)}, {args.protocol} door; load {load}")
    with contextlib.ExitStack() as stack:
        up: dict[str, tuple[Any, Generator]] = {}
        for name, command in builds.items():
            spec = server_spec(args, command, figure.server_flags(params))
            proc = stack.enter_context(spec.start())
            gen = stack.enter_context(Generator(clients, args.workers, opts))
            say(f"  {name}: {command}")
            login_and_sync(gen, proc, say)
            up[name] = (proc, gen)
        for _, gen in up.values():
            gen.step(cfg.start_dps, order_for(cfg, cfg.start_dps, cfg.warmup_s))
        if args.sweep:
            record = sweeps(up, cfg)
        else:
            rates = [float(rate) for rate in args.rates.split(",")]
            record = fixed_rates(up, cfg, rates, args.rounds)
    record |= {"command": " ".join(["python", "bench/builds.py", *(argv or sys.argv[1:])])}
    record |= {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "builds": builds}
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


def fixed_rates(
    up: dict[str, tuple[Any, Generator]], cfg: Any, rates: list[float], rounds: int
) -> dict[str, Any]:
    names = list(up)
    steps: dict[str, dict[float, list[dict[str, Any]]]] = {n: {r: [] for r in rates} for n in names}
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for rate in rates:
            for name in order:
                proc, gen = up[name]
                result = gen.step(rate, order_for(cfg, rate, cfg.step_s), proc.cpu_probe)
                proc.check_alive()
                why = verdict(result, cfg.p99_limit_ms)
                us = per_delivery_us(result)
                steps[name][rate].append(step_record(result, why) | {"us_per_delivery": us})
                say(
                    f"  round {index + 1} {name:>8} at {rate:>12,.0f}/s: got {result.dps:>12,.0f}/s"
                    f"  server {result.server_cpu} other {result.other_cpu}  {us} us/delivery"
                    f"  p99 {result.p99_ms} ms  {why or 'ok'}"
                )
    summary: dict[str, dict[float, Any]] = {}
    for name in names:
        summary[name] = {}
        for rate in rates:
            got = steps[name][rate]
            quiet = [s for s in got if (s["other_cpu"] or 0.0) < DISTURBED] or got
            values = [s["us_per_delivery"] for s in quiet if s["us_per_delivery"] is not None]
            summary[name][rate] = {
                "median_us": results.median(values) if values else None,
                "quiet_steps": len(quiet),
                "failed": sum(1 for s in got if s["fail"]),
            }
    first = names[0]
    say("=> server CPU us per delivery, median of the undisturbed steps (steps used; failed):")
    for rate in rates:
        base = summary[first][rate]["median_us"]
        row = []
        for name in names:
            s = summary[name][rate]
            ratio = f" = {s['median_us'] / base:.3f}x {first}" if base and s["median_us"] else ""
            row.append(f"{name} {s['median_us']} ({s['quiet_steps']}; {s['failed']}){ratio}")
        say(f"   {rate:>12,.0f}/s: " + ", ".join(row))
    return {"mode": "fixed", "summary": summary, "steps": steps}


def sweeps(up: dict[str, tuple[Any, Generator]], cfg: Any) -> dict[str, Any]:
    state = {name: Sweep(cfg, prefixed(name)) for name in up}
    while not all(s.done for s in state.values()):
        for name, s in state.items():
            if not s.done:
                proc, gen = up[name]
                s.take(gen.step(s.rate, order_for(cfg, s.rate, cfg.step_s), proc.cpu_probe))
                proc.check_alive()
    records = {name: s.record() for name, s in state.items()}
    say("=> highest passing deliveries/s:")
    for name, record in records.items():
        say(f"   {name}: {record['best_dps']:,} ({record['stop']})")
    return {"mode": "sweep", "records": records}


if __name__ == "__main__":
    sys.exit(main())
