"""The four workloads: fanout, rooms, idle and slow. Each returns one run's record.

Every run starts its own server (serverproc.py), logs its clients in through the
workers (driver.py), and is bounded in time and count. Clients live on 127.0.0.1.
Layouts: fanout puts M members in one room, the first S of them sending; rooms puts
``rooms x size`` members in rooms of ``size``, everyone sending; idle logs N clients
into rooms and measures; slow is fanout plus one member that never reads again.
``with_accounts`` turns a fanout or rooms layout's guests into accounts logged in on
several connections each (bench/devices.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from driver import Generator, LoginStats, WorkerOptions
from plan import ClientSpec
from serverproc import ServerProcess
from sweep import Sweep, SweepConfig, describe, order_for, step_record, sweep, verdict

Say = Callable[[str], None]
REGISTRATIONS = 3  # per address per 10 minutes (registry/accounts.py), a default kept


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to start the server under test: its command, flags, CPU and the door to use."""

    argv: tuple[str, ...]  # e.g. (python, "server.py", "--port", "0", "--no-irc", ...)
    cwd: Path
    cpu: int | None
    door: str = "text"  # whose port the clients connect to: "text" or "irc"

    def start(self, *flags: str) -> ServerProcess:
        return ServerProcess([*self.argv, *flags], self.cwd, self.cpu, self.door)


def name_of(cid: int) -> str:
    return f"b{cid:05d}"


def fanout_clients(members: int, senders: int, stalled: int = 0) -> list[ClientSpec]:
    """M members of room "bench"; the first S send; ``stalled`` extra ones never read."""
    clients = [
        ClientSpec(
            cid=i,
            name=name_of(i),
            room="bench",
            creates_room=i == 0,
            is_sender=i < senders,
            is_syncer=i == 0,
        )
        for i in range(members)
    ]
    clients += [
        ClientSpec(cid=i, name=name_of(i), room="bench", is_stalled=True)
        for i in range(members, members + stalled)
    ]
    return clients


def rooms_clients(rooms: int, size: int, sending: bool) -> list[ClientSpec]:
    """``rooms`` rooms of ``size`` members each; everyone sends when ``sending``."""
    return [
        ClientSpec(
            cid=r * size + j,
            name=name_of(r * size + j),
            room=f"r{r:04d}",
            creates_room=j == 0,
            is_sender=sending,
            is_syncer=j == 0,
        )
        for r in range(rooms)
        for j in range(size)
    ]


def account_name(index: int) -> str:
    return f"a{index:05d}"  # as long as name_of's, so every delivery has the same bytes


def with_accounts(clients: list[ClientSpec], per_account: int, password: str) -> list[ClientSpec]:
    """The same connections, roles and rooms, as accounts each on ``per_account``
    connections instead of one guest each (bench/devices.py).

    A room of n connections gets A = ceil(n / per_account) accounts: its j-th connection
    is account j mod A's, the account's first for j < A (it registers the name, from a
    loopback address of its own, 3 accounts to an address) and one more connection
    (a Device) after. So the first connections, which create, sync and (fanout) send,
    are distinct users as in the guest layout: 100 connections are 34 accounts, 32 on
    three connections and 2 on two; a room of 10, 4 accounts (3, 3, 2, 2).
    """
    by_room: dict[str, list[ClientSpec]] = {}
    for spec in clients:
        by_room.setdefault(spec.room, []).append(spec)
    first_source = ipaddress.IPv4Address("127.0.0.2")  # 127.0.0.1 is everyone else's
    out: dict[int, ClientSpec] = {}
    accounts = 0
    for members in by_room.values():
        count = math.ceil(len(members) / per_account)
        for j, spec in enumerate(members):
            index = accounts + j % count
            out[spec.cid] = replace(
                spec,
                name=account_name(index),
                password=password,
                is_device=j >= count,
                source="" if j >= count else str(first_source + index // REGISTRATIONS),
            )
        accounts += count
    return [out[spec.cid] for spec in clients]


def login_and_sync(
    gen: Generator, server: ServerProcess, say: Say, sync: bool = True
) -> LoginStats:
    """Log every client in (and line the rooms up with a sync line); raise on any error."""
    stats = gen.login(server.port)
    server.check_alive()
    if stats.errors:
        raise RuntimeError(f"{len(stats.errors)} logins failed, e.g. {stats.errors[:3]}")
    say(
        f"  logged in {stats.connections} in {stats.wall_s:.2f} s"
        f" (p50 {stats.p50_ms} ms, p99 {stats.p99_ms} ms)"
    )
    if sync and (errors := gen.sync("0")):
        raise RuntimeError(f"{len(errors)} members missed the sync line, e.g. {errors[:3]}")
    return stats


def run_sweep(
    server: ServerSpec,
    clients: list[ClientSpec],
    cfg: SweepConfig,
    workers: int,
    opts: WorkerOptions,
    say: Say,
) -> dict[str, object]:
    """One sweep run (fanout or rooms) against a fresh server."""
    with server.start() as proc, Generator(clients, workers, opts) as gen:
        stats = login_and_sync(gen, proc, say)
        rss_login = proc.rss_kib()
        record = sweep(gen, cfg, say, proc.check_alive, proc.cpu_probe)
        return _with_server(record, proc, stats, rss_login)


def _with_server(
    record: dict[str, object], proc: ServerProcess, stats: LoginStats, rss_login: int
) -> dict[str, object]:
    return {
        **record,
        "login": asdict(stats),
        "server_rss_kib_after_login": rss_login,
        "server_rss_kib_peak": proc.rss_kib("VmHWM"),
        "server_warnings": proc.warnings,
    }


def run_interleaved(
    cases: dict[str, list[ClientSpec]],
    server: ServerSpec,
    cfg: SweepConfig,
    workers: int,
    opts: WorkerOptions,
    say: Say,
) -> dict[str, dict[str, object]]:
    """One sweep per layout, each against a fresh server of its own, all up at once and
    stepped in turn (A B A B ..., in the order of ``cases``), so that load from
    elsewhere on the machine falls on every case alike; one run's record per case."""
    with contextlib.ExitStack() as stack:
        up: dict[str, tuple[ServerProcess, Generator, LoginStats, int]] = {}
        for name, clients in cases.items():
            proc = stack.enter_context(server.start())
            gen = stack.enter_context(Generator(clients, workers, opts))
            say(f"  {name}:")
            stats = login_and_sync(gen, proc, say)
            up[name] = (proc, gen, stats, proc.rss_kib())
        for _, gen, _, _ in up.values():
            gen.step(cfg.start_dps, order_for(cfg, cfg.start_dps, cfg.warmup_s))
        sweeps = {name: Sweep(cfg, _prefixed(say, name)) for name in cases}
        while not all(state.done for state in sweeps.values()):
            for name, state in sweeps.items():
                if not state.done:
                    proc, gen = up[name][:2]
                    order = order_for(cfg, state.rate, cfg.step_s)
                    result = gen.step(state.rate, order, proc.cpu_probe)
                    proc.check_alive()
                    state.take(result)
        return {
            name: _with_server(sweeps[name].record(), proc, stats, rss)
            for name, (proc, _, stats, rss) in up.items()
        }


def _prefixed(say: Say, name: str) -> Say:
    return lambda text: say(f"  {name:<8}{text.strip()}")


def run_idle(
    server: ServerSpec, clients: list[ClientSpec], workers: int, opts: WorkerOptions, say: Say
) -> dict[str, object]:
    """Log N clients in and leave them in their rooms; connect time and RSS per connection."""
    with server.start() as proc, Generator(clients, workers, opts) as gen:
        before = proc.rss_kib()
        stats = login_and_sync(gen, proc, say, sync=False)
        after = proc.rss_kib()
        per_conn = (after - before) * 1024 / max(1, stats.connections)
        say(f"  server RSS {before} KiB -> {after} KiB: {per_conn:,.0f} bytes per connection")
        return {
            "connections": stats.connections,
            "connect_wall_s": stats.wall_s,
            "connects_per_s": round(stats.connections / max(stats.wall_s, 1e-9)),
            "login": asdict(stats),
            "server_rss_kib_before": before,
            "server_rss_kib_after": after,
            "rss_bytes_per_conn": round(per_conn),
        }


def run_slow_once(
    server: ServerSpec,
    clients: list[ClientSpec],
    cfg: SweepConfig,
    dps: float,
    opts: WorkerOptions,
    workers: int,
    say: Say,
) -> dict[str, object]:
    """One fixed-rate step with these clients; with a stalled member, check it was dropped."""
    opts = replace(opts, count_notices=True)
    with server.start() as proc, Generator(clients, workers, opts) as gen:
        login_and_sync(gen, proc, say)
        warmup = gen.step(dps, order_for(cfg, dps, cfg.warmup_s))
        result = gen.step(dps, order_for(cfg, dps, cfg.step_s), proc.cpu_probe)
        proc.check_alive()
        why = verdict(result, cfg.p99_limit_ms)
        say(describe(1, result, why))
        stalled = gen.stalled(timeout_s=3.0) if any(c.is_stalled for c in clients) else None
        record: dict[str, object] = {
            "step": step_record(result, why),
            "dps": round(result.dps),
            "p99_ms": result.p99_ms,
            "server_rss_kib": proc.rss_kib(),
            "server_rss_kib_peak": proc.rss_kib("VmHWM"),
            "quit_notices": warmup.notices + result.notices,
            "server_warnings": [line for line in proc.tail if "WARNING" in line][-3:],
        }
        if stalled is not None:
            record["stalled_dropped"] = stalled.dropped
            record["stalled_kept"] = stalled.kept
            record["stalled_how"] = stalled.how
            notices = record["quit_notices"]
            say(f"  stalled member: {', '.join(stalled.how)}; quit notices {notices}")
        return record


def run_slow(
    server: ServerSpec,
    members: int,
    senders: int,
    cfg: SweepConfig,
    dps: float,
    opts: WorkerOptions,
    workers: int,
    say: Say,
) -> dict[str, object]:
    """The fanout step without, then with, one member that stops reading."""
    say("  without a stalled member:")
    base = run_slow_once(server, fanout_clients(members, senders), cfg, dps, opts, workers, say)
    say("  with one stalled member:")
    slow = run_slow_once(server, fanout_clients(members, senders, 1), cfg, dps, opts, workers, say)
    return {"baseline": base, "stalled": slow, "dropped": slow.get("stalled_dropped") == 1}
