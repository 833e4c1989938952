"""History's cost: ``python bench/history.py {core,writer,stall,join,throughput,all}``.

- ``core``: server CPU per chat line on the text door with history on and off, no
  sockets (as bench/core_cost.py does: the real registry and sessions in this process);
  the event loop's thread only (``thread_time``), the writer's thread apart.
- ``writer``: the writer thread's own ceiling, messages/s, batched as the server does.
- ``stall``: the event loop's lateness (1 ms timer ticks) while the writer is busy
  writing a heavy stream, against the same stream with no history.
- ``join``: server time of ``/join`` into a room replaying 20 lines, and with replay off.
- ``throughput``: bench/run.py's fanout and rooms sweeps, ``--no-history`` and with
  history (``--db`` in a temporary directory), alternated in one run (A B A B ...).

Each compares side by side within one run, interleaved, so load from elsewhere hits
both sides alike. Prints; saves nothing (bench/RESULTS.md records the figures by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core_cost import Deferred  # noqa: E402 (a sibling, as bench/ scripts import)

from config.settings import Config  # noqa: E402
from doors.text.render import Renders  # noqa: E402
from doors.text.session import Session  # noqa: E402
from registry.events import Said  # noqa: E402
from registry.history import History  # noqa: E402
from rooms import RoomManager  # noqa: E402
from store.sqlite import SqliteHistory, open_history  # noqa: E402


def temp_db() -> str:
    return str(Path(tempfile.mkdtemp(prefix="chatroom-bench-")) / "bench.db")


def new_history(on: bool, **options: Any) -> History:
    if not on:
        return History()
    return open_history(temp_db(), recent=20, retention_s=30 * 86400, **options)


async def _sessions(rooms: RoomManager, count: int) -> list[Session]:
    renders, sessions = Renders(), []
    for i in range(count):
        s = Session(rooms, Config(), lambda line: None, write=lambda data: None, renders=renders)
        for line in (f"b{i:05d}", "1" if i == 0 else "2", "bench"):
            await s.feed(line)
        sessions.append(s)
    return sessions


def core(lines: int, members: int, senders: int, batch: int) -> dict[str, float]:
    """µs of the event loop's thread per chat line, history off and on."""

    async def one(on: bool) -> float:
        deferred = Deferred()
        history = new_history(on, queue_max=10 * lines, queue_bytes=1 << 40)
        rooms = RoomManager(defer=deferred, history=history)
        rooms.attach_history(history)
        sessions = await _sessions(rooms, members)
        deferred.run()
        feeders = [s.feed_nowait for s in sessions[:senders]]
        work = [(feeders[i % senders], f"b {i % senders} {i} 1000000000000") for i in range(lines)]
        gc.collect()
        gc.disable()
        started = time.thread_time()
        for start in range(0, lines, batch):
            for run, line in work[start : start + batch]:
                run(line)
            deferred.run()
        spent = time.thread_time() - started
        gc.enable()
        await history.aclose()
        return spent / lines * 1e6

    best = {"off": float("inf"), "on": float("inf")}
    for _ in range(5):  # interleaved; best of five each
        for side in ("off", "on"):
            best[side] = min(best[side], asyncio.run(one(side == "on")))
    return best


def writer(messages: int) -> list[float]:
    """Messages/s the writer commits, from a full queue to the last commit."""

    async def one() -> float:
        history = new_history(True, queue_max=messages + 10, queue_bytes=1 << 40)
        assert isinstance(history, SqliteHistory)
        now = time.time()
        events = [
            Said(
                "alice",
                f"message number {i} of the writer's ceiling",
                now,
                "bench",
                "alice!~alice@127.0.0.1",
                str(10**15 + i),
            )
            for i in range(messages)
        ]
        history.queue.append(("room", "bench", "bench", now, "{}"))
        started = time.perf_counter()
        history.queue.extend(events)
        await asyncio.to_thread(history._sync)  # returns once all of it is committed
        spent = time.perf_counter() - started
        await history.aclose()
        return messages / spent

    return [asyncio.run(one()) for _ in range(3)]


def stall(seconds: float, rate: int) -> dict[str, dict[str, float]]:
    """How long the event loop could not run, while `rate` lines/s are said in a room:
    the loop spins (sleep(0)) and each gap between the end of one pass's work and the
    start of the next is time it was kept from running (the GIL, the core, the OS)."""

    async def one(on: bool) -> dict[str, float]:
        history = new_history(on, queue_max=10 * rate, queue_bytes=1 << 40)
        rooms = RoomManager(history=history)
        rooms.attach_history(history)
        alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
        room = await rooms.create(alice, "bench")
        gaps: list[float] = []
        said, start = 0, time.perf_counter()
        done = time.perf_counter()
        while done - start < seconds:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append((now - done) * 1000)
            due = int((now - start) * rate)
            for i in range(said, due):
                room.say(alice, f"line {i} of a busy room, long enough to be a real line")
            said = due
            done = time.perf_counter()
        await history.aclose()
        gaps.sort()
        return {
            "p50_ms": round(gaps[len(gaps) // 2], 3),
            "p99_ms": round(gaps[int(len(gaps) * 0.99)], 3),
            "p999_ms": round(gaps[int(len(gaps) * 0.999)], 3),
            "max_ms": round(gaps[-1], 3),
        }

    results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(3):  # interleaved
        for side in results:
            results[side].append(asyncio.run(one(side == "on")))
    return {
        side: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for side, runs in results.items()
    }


def join(joins: int) -> dict[str, float]:
    """µs of server time per /join into a room with 20 lines to replay (and without)."""

    async def one(replay: bool) -> float:
        history = new_history(True)
        rooms = RoomManager(history=history, replay_lines=20)
        rooms.attach_history(history)
        owner = (await _sessions(rooms, 1))[0]
        for i in range(20):
            owner.feed_nowait(f"line {i}, as long as a line of chat usually is")
        out: list[str] = []
        s = Session(rooms, Config(), out.append, renders=Renders())
        await s.feed("joiner")
        s.replay = replay
        spent = 0.0
        for _ in range(joins):
            started = time.thread_time()
            await s.feed("/join bench")
            spent += time.thread_time() - started
            await s.feed("/leave")
        assert replay == any(line.startswith("* History of") for line in out)
        await history.aclose()
        return spent / joins * 1e6

    return {"replay 20": min(asyncio.run(one(True)) for _ in range(3)),
            "replay off": min(asyncio.run(one(False)) for _ in range(3))}  # fmt: skip


def throughput(workload: str, runs: int) -> dict[str, list[int]]:
    """bench/run.py's sweep, --no-history and with --db, alternated."""
    got: dict[str, list[int]] = {"no history": [], "history": []}
    for _ in range(runs):
        for side in got:
            out = Path(tempfile.mkdtemp(prefix="chatroom-bench-")) / "run.json"
            cmd = [sys.executable, str(ROOT / "bench" / "run.py"), workload, "--runs", "1",
                   "--no-save", "--json", str(out)]  # fmt: skip
            if side == "history":
                cmd += ["--server-cmd", f"python server.py --db {out.parent / 'chat.db'}"]
            subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            record = json.loads(out.read_text())[-1]
            got[side].append(int(record["summary"]["deliveries_per_s"]))
            warned = [r.get("server_warnings") for r in record["runs"]]
            print(f"  {workload} {side}: {got[side][-1]:,}/s (server warnings {warned})",
                  flush=True)  # fmt: skip
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["core", "writer", "stall", "join", "throughput", "all"])
    parser.add_argument("--runs", type=int, default=3, help="throughput: alternations")
    args = parser.parse_args(argv)
    todo = ["core", "writer", "stall", "join", "throughput"] if args.what == "all" else [args.what]
    if "core" in todo:
        for name, shape in (("fanout M=100 S=5", (100, 5, 20)), ("rooms 1x10", (10, 10, 1))):
            r = core(50_000, *shape)
            extra, share = r["on"] - r["off"], r["off"] / r["on"]
            print(f"core {name}: history off {r['off']:.2f} us/line, on {r['on']:.2f} "
                  f"(+{extra:.2f} us, {share:.1%} of the lines/s)")  # fmt: skip
    if "writer" in todo:
        rates = writer(200_000)
        print(f"writer: {statistics.median(rates):,.0f} messages/s (median; runs "
              f"{', '.join(f'{x:,.0f}' for x in rates)})")  # fmt: skip
    if "stall" in todo:
        for side, r in stall(3.0, 20_000).items():
            print(f"stall at 20,000 lines/s, history {side}: {r} (median of 3)")
    if "join" in todo:
        for side, us in join(2000).items():
            print(f"join ({side}): {us:.0f} us of server time")
    if "throughput" in todo:
        for workload in ("fanout", "rooms"):
            got = throughput(workload, args.runs)
            on, off = statistics.median(got["history"]), statistics.median(got["no history"])
            print(f"throughput {workload}: history {on:,.0f}/s vs none {off:,.0f}/s: "
                  f"{on / off:.0%} (runs {got})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
