"""Our server against InspIRCd, in one run: ``python bench/versus.py [--quick]``.

Every figure of the issue's table, through the same load generator (bench/loadgen.py,
pinned to CPU 1) against each server in turn (pinned to CPU 0), alternated: for each
workload, run 1 against every target, then run 2 against every target (A B C D A B C
D), so load from elsewhere on the machine falls on all alike; medians of ``--runs``.

Targets: our text door, our IRC door, our WebSocket door (IRC over WebSocket, fan-out
only) and InspIRCd (Debian's ``inspircd``, 3.15), started with a config written for
the run (bench/versus.py's ``inspircd_config``: 127.0.0.1 on a free port, no DNS or
ident lookups, no flood limits for the bench's connect class, the send queue limit
our server uses). Without ``inspircd`` on the PATH its column says so and the rest
runs.

Workloads: fan-out 100 and 500 members (5 senders), rooms 100 x 10 (everyone sending),
idle 10,000 connections (server RSS per connection; our server as the issue asks:
history on, accounts on, TLS listeners open with a throwaway certificate, plain
clients), idle over TLS (2,000 connections, bench/tls.py's method), a stalled member
(the others' deliveries/s with one member that never reads, over the same step
without it, at one fixed rate), and chat during a login storm (bench/login_storm.py
--rate 100: chat p99 during the storm over alone). Writes one markdown table between
the ``versus`` markers of bench/RESULTS.md and README.md, with the command, date and
machine, and appends the records to bench/versus.jsonl. ``--quick`` runs tiny sizes
and writes nothing (tests/process/test_bench_versus.py). Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import results
import tls
from driver import WorkerOptions
from figures import FIGURES, sweep_layout
from loadgen import raise_nofile_limit
from serverproc import ServerProcess, pin_self
from workloads import ServerSpec, rooms_clients, run_idle, run_slow, run_sweep

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
INSPIRCD = "inspircd"
NO_INSPIRCD = "inspircd is not installed (apt-get install inspircd): its column is skipped"
SEND_QUEUE = 262_144  # bytes behind before a member is dropped: our default, and InspIRCd's
TARGETS = ("text", "irc", "websocket", "inspircd")
HEADS = {
    "text": "chatroom text door",
    "irc": "chatroom IRC door",
    "websocket": "chatroom WebSocket",
    "inspircd": "InspIRCd 3.15",
}
IDLE_TARGET_B = 2_300
TLS_TARGET_B = 48 * 1024

Say = Callable[[str], None]


def say(text: str) -> None:
    print(text, flush=True)


# --- sizes -----------------------------------------------------------------------------

# The sweeps' and the stalled member's parameters are bench/run.py's (figures.py), but
# two: the stalled member's rate, 1 M deliveries/s, which InspIRCd sustains too; and a
# step's drain, up to 20 s instead of 5: InspIRCd past its limit queues seconds of
# lines (in its receive queues and the sockets), and a step that ended before they
# came would hand them to the next step, failing every step after it. A step that
# drains at all in more than 200 ms fails anyway; the wait only keeps steps apart.
DRAIN: dict[str, Any] = {"drain_s": 20.0}
FULL: dict[str, Any] = {
    "fanout": [FIGURES["fanout"].full | DRAIN, FIGURES["fanout"].full | DRAIN | {"members": 500}],
    "rooms": FIGURES["rooms"].full | DRAIN,
    "idle": {"connections": 10_000, "room_size": 10, "workers": 4},
    "tls_idle": 2_000,
    "slow": FIGURES["slow"].full | {"dps": 1_000_000.0},
    "storm": "--rate 100 --seconds 20",
    "runs": 2,
}
QUICK: dict[str, Any] = {
    "fanout": [FIGURES["fanout"].quick],
    "rooms": FIGURES["rooms"].quick,
    "idle": {"connections": 20, "room_size": 5, "workers": 2},
    "tls_idle": 10,
    "slow": FIGURES["slow"].quick,
    "storm": "--rate 4 --seconds 1 --rounds 1 --members 3 --accounts 4",
    "runs": 1,
}
# Logins a worker process runs at once: InspIRCd finishes a registration on its
# once-a-second timer, so its clients wait about a second each, whatever the load.
LOGINS_AT_ONCE = {"ours": 32, "inspircd": 500}


# --- the servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def inspircd_config(directory: Path, port: int, send_queue: int = SEND_QUEUE) -> Path:
    """An InspIRCd config for the bench: loopback only, every client in one class with
    no flood limits, no DNS or ident lookups, 20,000 sockets, pings once an hour (a
    PING in a step would count as a delivery), and our server's send queue limit."""
    motd = directory / "motd"
    motd.write_text("bench\n")
    conf = directory / "inspircd.conf"
    conf.write_text(
        f"""<server name="bench.local" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="bench" allow="127.0.0.1" timeout="60" pingfreq="3600"
         hardsendq="{send_queue}" softsendq="{send_queue}" recvq="1048576"
         threshold="1000000000" commandrate="1000000000" fakelag="off"
         localmax="100000" globalmax="100000" maxconnwarn="no"
         resolvehostnames="no" useident="no" maxchans="100">
<performance netbuffersize="65536" somaxconn="4096" softlimit="15000"
             clonesonconnect="no" quietbursts="yes">
<channels users="100" opers="100">
<pid file="{directory}/inspircd.pid">
<files motd="{motd}">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="/dev/stderr">
"""
    )
    return conf


@dataclass(frozen=True)
class InspIRCdSpec(ServerSpec):
    """InspIRCd in the foreground on a free port, a new config each start."""

    send_queue: int = SEND_QUEUE

    def start(self, *flags: str) -> ServerProcess:
        port = free_port()
        conf = inspircd_config(self.cwd, port, self.send_queue)
        argv = [*self.argv, f"--config={conf}", *flags]
        return ServerProcess(argv, self.cwd, self.cpu, "irc", port=port)


def find_inspircd() -> str | None:
    """InspIRCd's path: on the PATH, or where Debian puts it (/usr/sbin, often off a
    user's PATH); None if it is not installed."""
    sbin = Path("/usr/sbin") / INSPIRCD
    return shutil.which(INSPIRCD) or (str(sbin) if sbin.exists() else None)


def inspircd_version(path: str) -> str:
    """``InspIRCd-3.15.0-debian``, what ``inspircd --version`` says."""
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else path


def ours(door: str, cpu: int, extra: list[str]) -> ServerSpec:
    """Our server with only ``door`` open (plus the text door, which always listens
    unless --no-plain), flood control off, as bench/run.py starts it."""
    argv = [sys.executable, "server.py", "--host", "127.0.0.1", "--port", "0",
            "--log-level", "INFO", "--rate", "0"]  # fmt: skip
    argv += ["--irc-port", "0"] if door == "irc" else ["--no-irc"]
    argv += ["--websocket-port", "0"] if door == "websocket" else []
    return ServerSpec((*argv, *extra), ROOT, cpu, door)


@dataclass
class Bench:
    """One invocation: its options, the servers and where the records go."""

    args: argparse.Namespace
    sizes: dict[str, Any]
    tmp: Path
    inspircd: str | None  # InspIRCd's path, None when absent
    cert: tuple[str, str] | None = None

    def spec(self, target: str, send_queue: int = SEND_QUEUE) -> ServerSpec:
        """A target's server as bench/run.py starts ours: --no-history, flood control
        off, the send queue limit given (ours: its default)."""
        if target == "inspircd":
            assert self.inspircd is not None
            argv = (self.inspircd, "--nofork", "--runasroot")
            return InspIRCdSpec(argv, self.tmp, self.args.server_cpu, "irc", send_queue)
        queue = ["--max-send-queue", str(send_queue)] if send_queue != SEND_QUEUE else []
        return ours(target, self.args.server_cpu, ["--no-history", *queue])

    def opts(self, target: str, concurrency: int | None = None) -> WorkerOptions:
        protocol = "irc" if target == "inspircd" else target
        at_once = LOGINS_AT_ONCE["inspircd" if target == "inspircd" else "ours"]
        return WorkerOptions(protocol=protocol, login_concurrency=concurrency or at_once)

    def targets(self, *wanted: str) -> list[str]:
        return [t for t in wanted if t != "inspircd" or self.inspircd]


# --- the workloads, one run against one target each ------------------------------------


def sweep_run(b: Bench, target: str, name: str, size: dict[str, Any]) -> dict[str, Any]:
    opts = b.opts(target)
    clients, cfg = sweep_layout(name, size, opts)
    record: dict[str, Any] = run_sweep(b.spec(target), clients, cfg, b.args.workers, opts, say)
    best = record["best"]
    return {"dps": record["best_dps"], "p99_ms": best["p99_ms"] if best else None, "run": record}


def idle_run(b: Bench, target: str) -> dict[str, Any]:
    p = b.sizes["idle"]
    clients = rooms_clients(math.ceil(p["connections"] / p["room_size"]), p["room_size"], False)
    clients = clients[: p["connections"]]
    spec = b.spec(target)
    if target != "inspircd":  # the configuration: history, accounts, TLS listeners
        assert b.cert is not None  # both doors open, plain and TLS; the clients use one
        db = str(b.tmp / f"idle-{time.monotonic_ns()}.db")
        extra = ["--db", db, "--tls-cert", b.cert[0], "--tls-key", b.cert[1]]
        extra += ["--tls-port", "0", "--irc-tls-port", "0"]
        spec = replace(ours("irc", b.args.server_cpu, extra), door=target)
    record = run_idle(spec, clients, p["workers"], b.opts(target), say)
    return {"bytes": record["rss_bytes_per_conn"], "run": record}


def tls_idle_run(b: Bench, target: str) -> dict[str, Any]:
    assert b.cert is not None
    count = b.sizes["tls_idle"]
    say(f"  {count} connections over TLS (bench/tls.py's idle)")
    record = tls.run_idle(b.cert, count, b.args.server_cpu)
    say(f"  {record['rss_bytes_per_conn']:,} bytes per connection")
    return {"bytes": record["rss_bytes_per_conn"], "run": record}


def slow_run(b: Bench, target: str) -> dict[str, Any]:
    p = b.sizes["slow"]
    opts = replace(b.opts(target), pad_bytes=p["pad"])
    _, cfg = sweep_layout("fanout", p, opts)
    spec, workers = b.spec(target, p["max_send_queue"]), b.args.workers
    record: dict[str, Any] = run_slow(
        spec, p["members"], p["senders"], cfg, p["dps"], opts, workers, say
    )
    base, stalled = record["baseline"]["dps"], record["stalled"]["dps"]
    ratio = stalled / base if base else 0.0
    say(f"  others' rate with a stalled member / without: {ratio:.3f}")
    return {"ratio": ratio, "dropped": record["dropped"], "run": record}


def storm_run(b: Bench, target: str) -> dict[str, Any]:
    out = b.tmp / f"storm-{time.monotonic_ns()}.json"
    argv = [sys.executable, "bench/login_storm.py", *b.sizes["storm"].split(), "--json", str(out)]
    argv += ["--server-cpu", str(b.args.server_cpu), "--gen-cpu", str(b.args.gen_cpu)]
    say(f"  {shlex.join(argv[1:-4])}")
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"login_storm.py failed:\n{done.stdout}\n{done.stderr}")
    record: dict[str, Any] = json.loads(out.read_text())
    alone, storm = (record["conditions"][c]["chat"]["p99_ms"] for c in ("alone", "storm"))
    say(f"  chat p99 {storm} ms during the storm, {alone} ms alone: {record['p99_ratio']}x")
    return {"ratio": record["p99_ratio"], "p99_storm": storm, "p99_alone": alone, "run": record}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    targets: tuple[str, ...]
    run: Callable[[Bench, str], dict[str, Any]]
    value: str  # the field of a run's result the table shows


def rows(sizes: dict[str, Any]) -> list[Row]:
    table = [
        Row(
            f"fanout-{f['members']}",
            f"fan-out, {f['members']} members ({f['senders']} sending), deliveries/s",
            TARGETS,
            functools.partial(sweep_run, name="fanout", size=f),
            "dps",
        )
        for f in sizes["fanout"]
    ]
    r, i = sizes["rooms"], sizes["idle"]
    table += [
        Row("rooms", f"rooms, {r['rooms']} x {r['room_size']}, deliveries/s",
            ("text", "irc", "inspircd"), functools.partial(sweep_run, name="rooms", size=r), "dps"),
        Row("idle", f"idle, {i['connections']:,} connections, bytes each",
            ("text", "irc", "inspircd"), idle_run, "bytes"),
        Row("tls_idle", f"idle over TLS, {sizes['tls_idle']:,} connections, bytes each",
            ("text",), tls_idle_run, "bytes"),
        Row("slow", "a stalled member: the others' rate / without it", ("text", "irc", "inspircd"),
            slow_run, "ratio"),
        Row("storm", "chat p99 during 100 logins/s / alone" if sizes is FULL else
            "chat p99 during a login storm / alone", ("text",), storm_run, "ratio"),
    ]  # fmt: skip
    return table


# --- the table ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return results.median(values) if values else 0.0


def cell(row: Row, value: float | None) -> str:
    if value is None:
        return "-"
    if row.value == "dps":
        return f"{value / 1e6:.2f} M"
    if row.value == "bytes":
        return f"{value:,.0f} B"
    return f"{value:.2f}x"


def verdict(row: Row, v: dict[str, float | None], dropped: bool = True) -> tuple[str, str]:
    """The row's target and whether this run met it (yes / no / -)."""

    def ok(cond: bool | None) -> str:
        return "-" if cond is None else "yes" if cond else "no"

    text, irc, ws, insp = (v.get(t) for t in TARGETS)
    if row.key.startswith("fanout"):
        checks = [irc / text >= 0.9 if irc and text else None,
                  ws / text >= 0.8 if ws and text else None]  # fmt: skip
        met = "-" if None in checks else ok(all(checks))
        return "IRC >= 0.9x text, WS >= 0.8x text", met
    if row.key == "rooms":
        return "text >= 2x InspIRCd", ok(text / insp >= 2 if text and insp else None)
    if row.key == "idle":
        both = [x for x in (text, irc) if x is not None]
        return f"<= {IDLE_TARGET_B:,} B (text, IRC)", ok(
            all(x <= IDLE_TARGET_B for x in both) if both else None
        )
    if row.key == "tls_idle":
        return f"<= {TLS_TARGET_B:,} B (48 KiB)", ok(text <= TLS_TARGET_B if text else None)
    if row.key == "slow":
        return "others >= 0.9x, it is dropped", ok(
            all(x >= 0.9 for x in (text, irc) if x is not None) and dropped if text or irc else None
        )
    return "<= 2x", ok(text <= 2 if text else None)


def ratios(row: Row, v: dict[str, float | None]) -> str:
    text, irc, ws, insp = (v.get(t) for t in TARGETS)
    parts = []
    if row.value in ("dps", "bytes") and insp:
        parts += [f"text/InspIRCd {text / insp:.2f}" if text else "",
                  f"IRC/InspIRCd {irc / insp:.2f}" if irc else ""]  # fmt: skip
    if row.value == "dps":
        parts += [f"IRC/text {irc / text:.2f}" if irc and text else "",
                  f"WS/text {ws / text:.2f}" if ws and text else ""]  # fmt: skip
    return "; ".join(p for p in parts if p) or "-"


def others_cpu(row: Row, runs: list[dict[str, Any]]) -> float | None:
    """The most CPU other processes took during a step of these runs, in cores."""
    if row.value == "dps":
        return max(r["run"]["max_other_cpu"] or 0.0 for r in runs)
    if row.key == "slow":
        steps = [r["run"][side]["step"] for r in runs for side in ("baseline", "stalled")]
        return max(step["other_cpu"] or 0.0 for step in steps)
    return None


def slow_cell(runs: list[dict[str, Any]]) -> str:
    """What the stalled member's cell adds: runs it was not dropped in, and runs whose
    baseline step itself failed (its rate is then no baseline)."""
    notes = []
    dropped = sum(1 for r in runs if r["dropped"])
    if dropped < len(runs):
        notes.append(f"dropped {dropped}/{len(runs)}")
    failed = sum(1 for r in runs if r["run"]["baseline"]["step"]["fail"])
    if failed:
        notes.append(f"baseline failed {failed}/{len(runs)}")
    return f" ({', '.join(notes)})" if notes else ""


def render(record: dict[str, Any]) -> str:
    """The markdown block of one run's record (its header, the table, failed runs)."""
    sizes = QUICK if record.get("quick") else FULL
    done: dict[str, dict[str, list[dict[str, Any]]]] = record["runs"]
    keys = record.get("rows") or list(done)
    table = [row for row in rows(sizes) if row.key in keys]
    lines = [
        header(record),
        "",
        "| workload | " + " | ".join(HEADS[t] for t in TARGETS) + " | ratios | target | met | "
        "others' CPU |",
        "| --- |" + " ---: |" * len(TARGETS) + " --- | --- | --- | ---: |",
    ]
    for row in table:
        got = done.get(row.key, {})
        values: dict[str, float | None] = {}
        cells, all_dropped, others = [], True, []
        for target in TARGETS:
            runs = got.get(target)
            values[target] = median([r[row.value] for r in runs]) if runs else None
            text = cell(row, values[target])
            if runs and (cpu := others_cpu(row, runs)) is not None:
                others.append(cpu)
            if row.key == "slow" and runs:
                text += slow_cell(runs)
                all_dropped &= target == "inspircd" or all(r["dropped"] for r in runs)
            cells.append(text)
        target_text, met = verdict(row, values, all_dropped)
        busy = f"{max(others):.2f}" if others else "-"
        lines.append(f"| {row.label} | {' | '.join(cells)} | {ratios(row, values)} | "
                     f"{target_text} | {met} | {busy} |")  # fmt: skip
    lines += [
        "",
        "Others' CPU: the most CPU, in cores, that processes other than the server and the "
        "generator used during a timed step of the row (a quiet machine: under 0.15); a "
        "busy machine lowers the rates, and alternating spreads that over every column.",
    ]
    lines += limits(table, done)
    if record.get("failed"):
        lines += ["", "Failed runs (not in the medians): " + "; ".join(record["failed"])]
    return "\n".join(lines)


def limits(table: list[Row], done: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """Where each sweep stopped, and what each server spent at one rate they all took.

    A sweep's best step says which process ran out first: the server's CPU or the
    generator's (one core each). Where the generator is the one at its ceiling, the
    rates above are the generator's, and the servers compare better by the CPU each
    used for the same work: the highest offered rate that every door passed in every
    run with its server under 0.95 of its core, and each server's CPU there (the
    median)."""
    out: list[str] = []
    for row in table:
        got = {t: done[row.key][t] for t in TARGETS if done.get(row.key, {}).get(t)}
        if row.value != "dps" or not got:
            continue
        common = common_rate(got)
        cells = []
        for target, runs in got.items():
            best = [r["run"]["best"] for r in runs if r["run"].get("best")]
            server = median([b["server_cpu"] for b in best if b.get("server_cpu") is not None])
            gen = median([b["gen_cpu"] for b in best if b.get("gen_cpu") is not None])
            at = cpu_at(runs, common) if common else None
            spent = (
                f"{at:.2f} cores ({at / common * 1e9:,.0f} ns a delivery)" if at and common else "-"
            )
            cells.append(f"{HEADS[target]} | {server:.2f} | {gen:.2f} | {spent}")
        if not out:
            out += [
                "",
                "Where each sweep stopped: the CPU, in cores, the server and the generator "
                "used in its best step (1.00: that process was the limit), and each "
                "server's CPU at the highest rate that every door passed in every run "
                f"with its server under {BUSY_CPU:.2f} of its core:",
                "",
                "| workload | server | server CPU, best step | generator CPU, best step "
                "| server CPU at the common rate |",
                "| --- | --- | ---: | ---: | ---: |",
            ]
        label = f"{row.label.split(', deliveries/s')[0]}" + (
            f", at {common / 1e3:,.0f} k/s" if common else ""
        )
        out += [f"| {label} | {c} |" for c in cells]
    return out


BUSY_CPU = 0.95  # a server this busy is at its limit: its CPU no longer tells its cost


def common_rate(got: dict[str, list[dict[str, Any]]]) -> float | None:
    """The highest offered rate that every run of every door passed, its server not
    at its limit."""
    passed: set[float] | None = None
    for runs in got.values():
        for run in runs:
            rates = {
                round(s["offered_dps"])
                for s in run["run"].get("steps", [])
                if s["fail"] is None and (s.get("server_cpu") or 0.0) < BUSY_CPU
            }
            passed = rates if passed is None else passed & rates
    return float(max(passed)) if passed else None


def cpu_at(runs: list[dict[str, Any]], rate: float) -> float | None:
    """The server's CPU (median over runs) in the step offered at `rate`."""
    cpus = [
        s["server_cpu"]
        for r in runs
        for s in r["run"].get("steps", [])
        if round(s["offered_dps"]) == round(rate) and s.get("server_cpu") is not None
    ]
    return median(cpus) if cpus else None


def header(record: dict[str, Any]) -> str:
    m = record["machine"]
    runs = record.get("runs_per_figure") or max(
        (len(v) for targets in record["runs"].values() for v in targets.values()), default=0
    )
    load = f"{record['load']} before, {record['load_after']} after"
    rate = (QUICK if record.get("quick") else FULL)["slow"]["dps"] / 1e6
    return " ".join([
        f"`{record['command']}` on {record['date']}: {m['cpu']}, {m['nproc']} cores,",
        f"Python {m['python']}, Linux {m['kernel']}; load average (1, 5, 15 min) {load}.",
        f"Servers on CPU {record.get('server_cpu', 0)}, the generator on CPU",
        f"{record.get('gen_cpu', 1)}; each figure the median of {runs} runs, the targets",
        f"alternated; flood control off (`--rate 0`). {record['inspircd'] or NO_INSPIRCD}.",
        "Fan-out, rooms and the stalled member: our server with `--no-history` (as",
        "bench/run.py); idle: history on (`--db`), accounts on, TLS listeners open, the",
        f"clients plain; the stalled member at {rate:g} M deliveries/s offered. Through the",
        "IRC doors (ours, InspIRCd's) a line is not echoed to its sender: one delivery",
        "fewer per line than on the text door.",
    ])  # fmt: skip


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def save(record: dict[str, Any], append: bool = True) -> None:
    """The record into bench/versus.jsonl, its table into RESULTS.md and README.md."""
    if append:
        results.append(BENCH / "versus.jsonl", record)
    block = record["table"]
    heading = "## Against InspIRCd (bench/versus.py)\n\n"
    results.write_markdown(BENCH / "RESULTS.md", block, "versus", heading, "bench/versus.py")
    results.write_markdown(ROOT / "README.md", block, "versus", "", "bench/versus.py")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:  # the newest record again, through this version's table
        lines = (BENCH / "versus.jsonl").read_text().splitlines()
        newest: dict[str, Any] = json.loads(lines[-1])
        newest["table"] = render(newest)
        say(newest["table"])
        save(newest, append=False)
        return 0
    pin_self(args.gen_cpu)
    raise_nofile_limit()  # InspIRCd and our server inherit it: 10,000 idle clients
    sizes = QUICK if args.quick else FULL
    path = find_inspircd() if args.inspircd is None else (args.inspircd or None)
    version = inspircd_version(path) if path else None
    if path is None:
        say(NO_INSPIRCD)
    else:
        say(f"against {version} ({path})")
    load = loadavg()
    table = [r for r in rows(sizes) if not args.only or r.key in args.only]
    done: dict[str, dict[str, list[dict[str, Any]]]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="chatroom-versus-") as tmp:
        bench = Bench(args, sizes, Path(tmp), path)
        bench.cert = tls.make_cert(Path(tmp))
        for row in table:
            for index in range(args.runs):
                for target in bench.targets(*row.targets):
                    say(f"{row.label}: {HEADS[target]}, run {index + 1}/{args.runs}")
                    try:
                        result = row.run(bench, target)
                    except Exception as exc:  # one failed run does not lose the table
                        say(f"  FAILED: {exc!r}"[:2000])
                        failed.append(f"{row.key} on {target}: {str(exc)[:300]}")
                        continue
                    done.setdefault(row.key, {}).setdefault(target, []).append(result)
    record: dict[str, Any] = {
        "bench": "versus", "command": args.command, "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": results.machine(), "load": load, "load_after": loadavg(),
        "inspircd": version, "quick": args.quick, "runs_per_figure": args.runs,
        "server_cpu": args.server_cpu, "gen_cpu": args.gen_cpu,
        "rows": [row.key for row in table], "failed": failed, "runs": done,
    }  # fmt: skip
    record["table"] = render(record)
    say("\n" + record["table"])
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    if not args.quick and not args.no_save:
        save(record)
    return 1 if failed else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes, 1 run, writes nothing")
    add("--runs", type=int, default=None, help="runs per figure and target (default 2)")
    add("--workers", type=int, default=2, help="load-generator processes for the sweeps")
    add("--server-cpu", type=int, default=0)
    add("--gen-cpu", type=int, default=1)
    add("--only", nargs="+", default=None, metavar="ROW",
        help="fanout-100 fanout-500 rooms idle tls_idle slow storm")  # fmt: skip
    add("--inspircd", default=None, metavar="PATH",
        help="InspIRCd's program (default: on the PATH, or /usr/sbin; '' skips it)")  # fmt: skip
    add("--render", action="store_true",
        help="run nothing: rewrite the tables from bench/versus.jsonl's newest record")  # fmt: skip
    add("--json", default=None, help="also write this invocation's table and runs here")
    add("--no-save", action="store_true", help="do not touch RESULTS.md, README.md, versus.jsonl")
    args = parser.parse_args(argv)
    args.command = shlex.join(
        ["python3", "bench/versus.py", *(argv if argv is not None else sys.argv[1:])]
    )
    if args.runs is None:
        args.runs = (QUICK if args.quick else FULL)["runs"]
    return args


if __name__ == "__main__":
    sys.exit(main())
