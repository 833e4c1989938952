"""What an idle connection costs, and where its bytes go: ``python bench/idle_profile.py``.

The server runs as a deployment would (unlike bench/run.py's ``idle``, which measures
with ``--no-history`` and no TLS): history on (``--db``, a temporary file), accounts on
(the default), TLS-capable listeners on (``--tls-cert``/``--tls-key``, an ECDSA P-256
certificate made by openssl for the run, ``--tls-port 0 --irc-tls-port 0``) and the IRC
door on (``--irc-port 0``), pinned to CPU 0. N plain clients (``--connections``,
default 10,000) log in through the door ``--protocol`` names (``text``: a name, then a
room; ``irc``: NICK, USER, JOIN) into rooms of ``--room-size`` (default 10) and stay
idle: bench/driver.py's generator, pinned to CPU 1.

Each run starts two servers, one after the other, with the same clients:

- ``server.py`` itself: ``(VmRSS after - VmRSS before) / N``, the figure.
- ``bench/traced_server.py`` (server.py's main under tracemalloc): a snapshot before
  the logins and one after; their difference by file:line, per connection (the top
  ``--top`` lines), and the collector's objects by type (count and shallow bytes).
  RSS also counts malloc's free lists and fragmentation; tracemalloc counts only what
  Python allocated (its own bookkeeping left out).

``--tree DIR`` (repeatable) runs the server of another checkout (its server.py, with
its own packages) instead of this one, alternated run by run (A B A B), so old and new
are compared in one sitting. ``--runs`` (default 1) rounds; medians are reported.
``--no-trace`` skips the traced server; ``--frames N`` groups the traced bytes by
their N innermost frames instead of by line; ``--json FILE`` writes the records.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

from driver import Generator, WorkerOptions
from serverproc import ServerProcess, pin_self
from tls import make_cert
from workloads import rooms_clients

ROOT = Path(__file__).resolve().parent.parent
TRACED = Path(__file__).resolve().parent / "traced_server.py"
SNAPSHOT_TIMEOUT_S = 300.0


def say(text: str) -> None:
    print(text, flush=True)


def server_argv(program: str, db: Path, cert: tuple[str, str], door: str) -> list[str]:
    """The issue's configuration: history, accounts, TLS listeners and the IRC door on."""
    argv = [sys.executable, program, "--host", "127.0.0.1", "--port", "0", "--log-level",
            "INFO", "--rate", "0", "--irc-port", "0", "--db", str(db),
            "--tls-cert", cert[0], "--tls-key", cert[1], "--tls-port", "0",
            "--irc-tls-port", "0"]  # fmt: skip
    return argv


def wait_for(path: Path, proc: ServerProcess) -> None:
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
    while not path.exists():
        proc.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {path.name} from the traced server")
        time.sleep(0.2)  # polling a file the server writes: no line to wait for


def open_files(proc: ServerProcess) -> int:
    return len(os.listdir(f"/proc/{proc.pid}/fd"))


def log_in(gen: Generator, proc: ServerProcess) -> int:
    """Log the clients in; how many connections the server holds afterwards (its open
    files more than before: a client dropped meanwhile, by a ping timeout say, is not
    counted)."""
    files = open_files(proc)
    start = time.monotonic()
    stats = gen.login(proc.port)
    proc.check_alive()
    if stats.errors:
        raise RuntimeError(f"{len(stats.errors)} logins failed, e.g. {stats.errors[:3]}")
    held = open_files(proc) - files
    say(f"    logged in {stats.connections} in {time.monotonic() - start:.1f} s; {held} held")
    return held


def measure_rss(tree: Path, args: argparse.Namespace, work: Path, cert: tuple[str, str]) -> float:
    db = work / f"rss-{time.monotonic_ns()}.db"
    argv = server_argv("server.py", db, cert, args.protocol)
    clients = idle_clients(args)
    opts = replace(WorkerOptions(protocol=args.protocol), login_concurrency=64 // args.workers)
    with (
        ServerProcess(argv, tree, args.server_cpu, args.protocol) as proc,
        Generator(clients, args.workers, opts) as gen,
    ):
        before = proc.rss_kib()
        n = log_in(gen, proc)
        time.sleep(1.0)  # let the history writer and the loop settle; nothing to wait on
        after = proc.rss_kib()
    per_conn = (after - before) * 1024 / n
    say(f"  {tree}: RSS {before} KiB -> {after} KiB over {n}: {per_conn:,.0f} B a connection")
    return per_conn


def measure_traced(
    tree: Path, args: argparse.Namespace, work: Path, cert: tuple[str, str]
) -> dict[str, Any]:
    snaps = Path(tempfile.mkdtemp(prefix="snaps-", dir=work))
    argv = server_argv(str(TRACED), work / f"traced-{time.monotonic_ns()}.db", cert, args.protocol)
    clients = idle_clients(args)
    opts = replace(WorkerOptions(protocol=args.protocol), login_concurrency=64 // args.workers)
    env_before = os.environ.copy()
    os.environ["TRACED_DIR"] = str(snaps)
    os.environ["TRACED_FRAMES"] = str(args.frames)
    try:
        proc = ServerProcess(argv, tree, args.server_cpu, args.protocol)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    with proc, Generator(clients, args.workers, opts) as gen:
        proc.proc.send_signal(signal.SIGUSR2)
        wait_for(snaps / "types-1.json", proc)
        n = log_in(gen, proc)
        time.sleep(1.0)
        proc.proc.send_signal(signal.SIGUSR2)
        wait_for(snaps / "types-2.json", proc)
    first = tracemalloc.Snapshot.load(str(snaps / "snapshot-1.pickle"))
    second = tracemalloc.Snapshot.load(str(snaps / "snapshot-2.pickle"))
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    group = "traceback" if args.frames > 1 else "lineno"
    diff = second.filter_traces(keep).compare_to(first.filter_traces(keep), group)
    total = sum(d.size_diff for d in diff)
    lines = [
        {
            "where": " < ".join(f"{_short(f.filename)}:{f.lineno}" for f in d.traceback),
            "bytes_per_conn": round(d.size_diff / n, 1),
            "blocks_per_conn": round(d.count_diff / n, 2),
        }
        for d in diff[: args.top]
    ]
    types_before = json.loads((snaps / "types-1.json").read_text())
    types_after = json.loads((snaps / "types-2.json").read_text())
    types = []
    for name, (count, size) in types_after.items():
        was_count, was_size = types_before.get(name, (0, 0))
        types.append((name, (count - was_count) / n, (size - was_size) / n))
    types.sort(key=lambda t: -t[2])
    say(f"  {tree} (traced): {total / n:,.0f} B a connection in Python objects")
    for entry in lines:
        say(
            f"    {entry['bytes_per_conn']:>8.1f} B {entry['blocks_per_conn']:>6.2f} blocks"
            f"  {entry['where']}"
        )
    say("    by type (objects a connection, shallow bytes a connection):")
    for name, count, size in types[: args.top]:
        say(f"    {size:>8.1f} B {count:>6.2f}  {name}")
    return {
        "traced_bytes_per_conn": round(total / n),
        "lines": lines,
        "types": [
            {"type": t, "objects_per_conn": round(c, 2), "bytes_per_conn": round(s, 1)}
            for t, c, s in types[: args.top]
        ],
    }


def _short(filename: str) -> str:
    for root in (str(ROOT), *(str(p) for p in sys.path if p)):
        if filename.startswith(root + os.sep):
            return filename[len(root) + 1 :]
    return filename


def idle_clients(args: argparse.Namespace) -> list[Any]:
    n, size = args.connections, args.room_size
    return rooms_clients(math.ceil(n / size), size, sending=False)[:n]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin_self(args.gen_cpu)
    trees = [Path(t).resolve() for t in args.tree] or [ROOT]
    say(f"idle_profile: {args.connections} {args.protocol} connections, rooms of "
        f"{args.room_size}; history, accounts, TLS listeners and the IRC door on")  # fmt: skip
    say(f"  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; uptime: {os.getloadavg()}")
    records: dict[str, dict[str, Any]] = {str(t): {"rss": [], "traced": []} for t in trees}
    with tempfile.TemporaryDirectory(prefix="idle-profile-") as tmp:
        work = Path(tmp)  # the certificate, the databases, the snapshots
        cert = make_cert(work)
        for _ in range(args.runs):
            for tree in trees:
                records[str(tree)]["rss"].append(measure_rss(tree, args, work, cert))
        if args.trace:
            for tree in trees:
                records[str(tree)]["traced"].append(measure_traced(tree, args, work, cert))
    say("summary (median RSS a connection):")
    for name, rec in records.items():
        say(f"  {name}: {median(rec['rss']):,.0f} B a connection ({args.protocol})")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--protocol", choices=("text", "irc"), default="text")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--tree", action="append", default=[], help="another checkout's server")
    parser.add_argument("--no-trace", dest="trace", action="store_false")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--json", default="")
    parser.add_argument("--frames", type=int, default=1, help="frames a trace (>1: by stack)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
