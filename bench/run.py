"""Benchmark the chat server: ``python bench/run.py {fanout,rooms,idle,slow,ceiling,all}``.

Starts the server itself (``python server.py --port 0 --rate 0 ...`` pinned to CPU 0;
flood control is OFF; ``--no-irc``, or ``--irc-port 0`` with ``--protocol irc`` whose
clients use the IRC door), runs the load generator's worker processes on CPU 1, repeats
each figure ``--runs`` times (median reported), appends a line per figure to
bench/results.jsonl and regenerates the table in bench/RESULTS.md. ``--quick`` runs
tiny sizes for the test suite and saves nothing unless ``--save``. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import results
from driver import WorkerOptions
from figures import FIGURES, Figure, summarize
from profile_server import profile
from protocols import PROTOCOLS, deliveries_per_line
from serverproc import pin_self
from sweep import SweepConfig
from workloads import ServerSpec, fanout_clients, rooms_clients

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TRIVIAL = "python bench/trivial_server.py"


def say(text: str) -> None:
    print(text, flush=True)


def server_spec(args: argparse.Namespace, server_cmd: str | None, extra: list[str]) -> ServerSpec:
    """The server command: its default limits, but port 0, an INFO log and no flood control.

    Only the door under test is open: ``--no-irc`` for the text door, ``--irc-port 0``
    (a free port, read from the log) for the IRC door.
    """
    argv = shlex.split(server_cmd) if server_cmd else ["python", "server.py"]
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    flags = ["--host", "127.0.0.1", "--port", "0", "--log-level", "INFO", "--rate", "0"]
    flags += ["--irc-port", "0"] if args.protocol == "irc" else ["--no-irc"]
    flags += ["--websocket-port", "0"] if args.protocol == "websocket" else []
    flags += ["--uvloop"] if args.uvloop else []
    flags += ["--no-history"] if server_cmd is None else []  # bench/history.py: history on
    return ServerSpec((*argv, *flags, *extra), ROOT, args.server_cpu, args.protocol)


def worker_options(args: argparse.Namespace, pad_bytes: int = 0) -> WorkerOptions:
    return WorkerOptions(protocol=args.protocol, irc_echo=args.irc_echo, pad_bytes=pad_bytes)


def door_suffix(args: argparse.Namespace) -> str:
    """How a target's name says which door it was measured through ("" for text)."""
    if args.protocol == "text":
        return ""
    return f" --protocol {args.protocol}" + (" --irc-echo" if args.irc_echo else "")


def run_figure(
    args: argparse.Namespace, figure: Figure, server_cmd: str | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Run one figure ``runs`` times and build its record."""
    target = "trivial" if server_cmd == TRIVIAL else (server_cmd if server_cmd else "server")
    target += " --uvloop" if args.uvloop else ""  # its own row, beside asyncio's
    target += door_suffix(args)
    params = figure.params(args.quick, args, overrides)
    server = server_spec(args, server_cmd, figure.server_flags(params))
    opts = worker_options(args, int(params.get("pad", 0)))
    runs: list[dict[str, Any]] = []
    for index in range(args.runs):
        say(f"{figure.label(params)} against {target}: run {index + 1}/{args.runs}")
        runs.append(figure.run(server, params, args.workers, opts, say))
    command = figure.command(params, args, server_cmd)
    record = {
        "figure": f"{figure.name}:{figure.key(params)}:{target}",
        "workload": figure.name,
        "target": target,
        "label": figure.label(params),
        "params": params,
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": results.machine(),
        "flood_control": "off (--rate 0)",
        "protocol": args.protocol,
        "irc_echo": args.irc_echo,
        "summary": summarize(figure.name, runs),
        "runs": runs,
    }
    say(f"=> {record['label']} against {target}: {json.dumps(record['summary'])}")
    return record


Planned = tuple[Figure, str | None, dict[str, Any]]


def plan(args: argparse.Namespace) -> list[Planned]:
    """Which figures this command runs, against which server, with which sizes."""
    own = args.server_cmd
    m500 = {} if args.quick else {"members": 500}
    sweeps = [(FIGURES["fanout"], {}), (FIGURES["fanout"], m500), (FIGURES["rooms"], {})]
    if args.workload == "ceiling":
        return [(figure, TRIVIAL, sizes) for figure, sizes in sweeps]
    if args.workload != "all":
        return [(FIGURES[args.workload], own, {})]
    others: list[Planned] = [(FIGURES["idle"], own, {}), (FIGURES["slow"], own, {})]
    ceiling = [(figure, TRIVIAL, sizes) for figure, sizes in sweeps]
    return [(figure, own, sizes) for figure, sizes in sweeps] + others + ceiling


def run_profile(args: argparse.Namespace) -> None:
    """Profile the server under fanout (or, with --rooms, rooms) load; save the top lines."""
    if args.rooms:
        size = args.room_size or 10
        clients = rooms_clients(args.rooms, size, sending=True)
        reach = deliveries_per_line(size, args.protocol, args.irc_echo)
        cfg = SweepConfig(reach, len(clients), len(clients), 0.0)
        shape = f"--rooms {args.rooms} --room-size {size}"
        what, name = f"rooms {args.rooms}x{size}, everyone sending", "rooms"
    else:
        members, senders = args.members or 100, args.senders or 5
        clients = fanout_clients(members, senders)
        reach = deliveries_per_line(members, args.protocol, args.irc_echo)
        cfg = SweepConfig(reach, senders, members, 0.0)
        shape = f"--members {members} --senders {senders}"
        what, name = f"fanout M={members} S={senders}", "fanout"
    dps, seconds = args.dps or 8_000_000.0, args.seconds
    server, opts = server_spec(args, args.server_cmd, []), worker_options(args)
    raw = Path(args.raw) if args.raw else None
    top = profile(server, clients, cfg, dps, seconds, opts, say, raw)
    say("\n".join(top))
    command = f"python bench/run.py profile {shape} --dps {dps:.0f} --seconds {seconds}"
    command += door_suffix(args)
    if args.protocol != "text":
        what += f", through the {args.protocol.upper()} door"
        name += f"-{args.protocol}"
    block = "\n".join(
        [
            f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')}): py-spy, 200 Hz, on the server"
            f" under {what} at {dps:,.0f} deliveries/s offered.",
            "",
            "```",
            *top,
            "```",
        ]
    )
    if not args.no_save:
        heading = f"## Profile: {name}\n\n"
        results.write_markdown(BENCH / "RESULTS.md", block, f"profile-{name}", heading)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin_self(args.gen_cpu)
    if args.workload == "profile":
        run_profile(args)
        return 0
    records: list[dict[str, Any]] = []
    for figure, server_cmd, sizes in plan(args):
        records.append(run_figure(args, figure, server_cmd, sizes))
        if args.save or (not args.quick and not args.no_save):
            results.append(BENCH / "results.jsonl", records[-1])
            block = results.render(results.newest(BENCH / "results.jsonl"))
            results.write_markdown(BENCH / "RESULTS.md", block)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=[*FIGURES, "ceiling", "all", "profile"])
    add: Callable[..., Any] = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes, 1 run, for the test suite")
    add("--runs", type=int, default=None, help="repeats per figure (default 3; quick 1)")
    add("--workers", type=int, default=2, help="load-generator processes")
    add("--server-cmd", default=None, help=f"benchmark another command, e.g. {TRIVIAL!r}")
    add("--uvloop", action="store_true", help="pass --uvloop to the server")
    add("--protocol", choices=PROTOCOLS, default="text", help="the door the clients use")
    add("--irc-echo", action="store_true", help="IRC clients ask for echo-message")
    add("--server-cpu", type=int, default=0)
    add("--gen-cpu", type=int, default=1)
    add("--json", default=None, help="also write this invocation's records to this file")
    add("--save", action="store_true", help="save results even with --quick")
    add("--no-save", action="store_true", help="do not touch results.jsonl and RESULTS.md")
    for option, kind in [("members", int), ("senders", int), ("rooms", int), ("room-size", int)]:
        add(f"--{option}", type=kind, default=None)
    for option in ["connections", "concurrency", "max-send-queue", "pad", "max-steps"]:
        add(f"--{option}", type=int, default=None)
    add("--seconds", type=int, default=10, help="profile: how long py-spy records")
    add("--raw", default=None, help="profile: also keep py-spy's collapsed stacks in this file")
    for option in ["dps", "start-dps", "factor", "step-s", "p99-ms"]:
        add(f"--{option}", type=float, default=None)
    args = parser.parse_args(argv)
    door = args.protocol
    if door != "text" and args.workload in ("slow", "ceiling", "all"):
        parser.error(f"--protocol {door}: not for {args.workload} (fanout, rooms, idle, profile)")
    if door != "text" and args.server_cmd == TRIVIAL:
        parser.error(f"--protocol {door}: the trivial server has only a text door")
    if args.irc_echo and door == "text":
        parser.error("--irc-echo needs --protocol irc or websocket")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    return args


if __name__ == "__main__":
    sys.exit(main())
