"""The server's own CPU cost per chat line on each door, with no sockets and no load generator.

``python bench/core_cost.py fanout --members 100 --senders 5`` (or ``rooms --rooms 100
--room-size 10``) builds the real registry (rooms.py) and the real door sessions
(doors/text, doors/irc) in this process, logs the members in and into their rooms as
the bench clients do, then feeds the senders' chat lines, round-robin, straight into
each session's ``feed_nowait`` (the str the connection decodes), flushing the rooms
every ``--batch`` lines (the server flushes once per event-loop pass). Writes only
count bytes; the cyclic GC is off while timing (the previous run's registry would
otherwise be collected inside the next). It reports CPU microseconds per line and
nanoseconds per delivery for the text door, the IRC door, and the IRC door with
echo-message; ``--profile`` adds cProfile's heaviest functions per door. What it
leaves out is the same on both doors: the sockets, the event loop, and
doors/connection.py's line splitting.

A contended machine slows every figure here alike, so the ratio between doors holds
where a throughput sweep would not. Imports the server's modules; never changes them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
DOORS = ("text", "irc", "irc --irc-echo")


class Feeder(Protocol):
    """What both doors' sessions offer: one line in, maybe the rest to await."""

    def feed_nowait(self, line: str) -> Awaitable[None] | None: ...


@dataclass
class Sink:
    """A member's transport: counts what the rooms and the session write to it."""

    size: int = 0  # bytes written
    writes: int = 0
    lines: list[str] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.writes += 1

    def say(self, text: str) -> None:
        self.lines.append(text)


class Deferred:
    """The rooms' ``defer``: callbacks run when ``run`` says so, not by an event loop."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> object:
        self.callbacks.append(callback)
        return None

    def run(self) -> None:
        while self.callbacks:
            now, self.callbacks = self.callbacks, []
            for callback in now:
                callback()


@dataclass
class Member:
    session: Feeder
    sink: Sink
    name: str
    room: str
    is_sender: bool


async def feed(member: Member, line: str, deferred: Deferred) -> None:
    pending = member.session.feed_nowait(line)
    if pending is not None:
        await pending
    deferred.run()


async def log_in(
    door: str, layout: list[tuple[str, str, bool]], deferred: Deferred
) -> list[Member]:
    """The server's registry and one session per (name, room, sends), logged in and joined."""
    sys.path.insert(0, str(ROOT))
    from config.settings import Config
    from doors.irc.session import IrcDoor, IrcSession
    from doors.text.render import Renders
    from doors.text.session import Session
    from rooms import RoomManager

    config = Config()
    rooms = RoomManager(max_rooms=config.max_rooms, defer=deferred)
    irc, renders = IrcDoor(rooms, config), Renders()
    members: list[Member] = []
    made: set[str] = set()
    for name, room, sends in layout:
        sink = Sink()
        session: Feeder
        if door == "text":
            session = Session(rooms, config, sink.say, write=sink.write, renders=renders)
            script = [name, "1", room] if room not in made else [name, f"/join {room}"]
        else:
            session = IrcSession(irc, sink.say, write=sink.write, host="127.0.0.1")
            script = [f"NICK {name}", f"USER {name} 0 * :{name}", f"JOIN #{room}"]
            if door.endswith("echo"):
                script = ["CAP REQ :echo-message", *script[:2], "CAP END", script[2]]
        made.add(room)
        member = Member(session, sink, name, room, sends)
        for line in script:
            await feed(member, line, deferred)
        members.append(member)
    return members


def chat_line(door: str, room: str, cid: int, seq: int) -> str:
    text = f"b {cid} {seq} {1_000_000_000_000 + seq}"  # the bench's line, send_ns faked
    return text if door == "text" else f"PRIVMSG #{room} :{text}"


def measure(
    door: str, layout: list[tuple[str, str, bool]], lines: int, batch: int, profile: bool
) -> dict[str, Any]:
    """Feed ``lines`` chat lines through ``door``; CPU per line and where it went."""
    deferred = Deferred()
    members = asyncio.run(log_in(door, layout, deferred))
    senders = [m for m in members if m.is_sender]
    work = [
        (s.session.feed_nowait, chat_line(door, s.room, i % len(senders), i // len(senders)))
        for i, s in enumerate(senders[i % len(senders)] for i in range(lines))
    ]
    before = sum(m.sink.size for m in members), sum(m.sink.writes for m in members)
    said = sum(len(m.sink.lines) for m in members)
    profiler = cProfile.Profile() if profile else None
    gc.collect()  # the last run's registry is garbage now; collect it before, not during
    gc.disable()
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for start in range(0, lines, batch):
        for run, line in work[start : start + batch]:
            run(line)
        deferred.run()
    if profiler is not None:
        profiler.disable()
    cpu_s = time.process_time() - started
    gc.enable()
    got = sum(m.sink.size for m in members) - before[0]
    writes = sum(m.sink.writes for m in members) - before[1]
    replies = sum(len(m.sink.lines) for m in members) - said
    if replies:  # a refusal or an error numeric: not the workload meant
        example = next(m.sink.lines[-1] for m in members if m.sink.lines)
        raise RuntimeError(f"{door}: {replies} replies to chat lines, e.g. {example!r}")
    size = sum(1 for m in members if m.room == members[0].room)
    reach = size if door != "irc" else size - 1
    record: dict[str, Any] = {
        "door": door,
        "us_per_line": round(cpu_s / lines * 1e6, 2),
        "ns_per_delivery": round(cpu_s / (lines * reach) * 1e9, 1),
        "deliveries_per_line": reach,
        "bytes_per_delivery": round(got / (lines * reach), 1),
        "writes_per_flush": round(writes / -(-lines // batch), 1),
    }
    if profiler is not None:
        record["profile"] = top_functions(profiler)
    return record


def top_functions(profiler: cProfile.Profile, count: int = 18) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    text = out.getvalue().replace(str(ROOT) + "/", "")
    return text[text.find("   ncalls") :]


def layout_for(args: argparse.Namespace) -> list[tuple[str, str, bool]]:
    """(name, room, sends) per member, as workloads.py lays the bench clients out."""
    if args.workload == "fanout":
        return [(f"b{i:05d}", "bench", i < args.senders) for i in range(args.members)]
    size = args.room_size
    return [
        (f"b{r * size + j:05d}", f"r{r:04d}", True) for r in range(args.rooms) for j in range(size)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=["fanout", "rooms"])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--lines", type=int, default=50_000, help="chat lines fed per door")
    parser.add_argument(
        "--batch", type=int, default=None, help="lines per flush (fanout 20, rooms 1)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the doors (best of)")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions too")
    args = parser.parse_args(argv)
    batch = args.batch or (20 if args.workload == "fanout" else 1)
    layout = layout_for(args)
    rounds = [[measure(door, layout, args.lines, batch, False) for door in DOORS]]
    for _ in range(args.repeats - 1):  # interleaved, so a burst of other load hits every door
        rounds.append([measure(door, layout, args.lines, batch, False) for door in DOORS])
    results = [
        min(runs, key=lambda r: float(r["us_per_line"])) for runs in zip(*rounds, strict=True)
    ]
    for door, best in zip(DOORS, results, strict=True):
        if args.profile:
            best["profile"] = measure(door, layout, args.lines, batch, True)["profile"]
    text_us = float(results[0]["us_per_line"])
    print(
        f"{args.workload}: {args.lines} lines per door, a flush every {batch} lines,"
        f" best of {args.repeats}"
    )
    for r in results:
        ratio = text_us / float(r["us_per_line"])
        print(
            f"  {r['door']:<15} {r['us_per_line']:>7} us/line"
            f"  {r['ns_per_delivery']:>7} ns/delivery"
            f"  ({r['deliveries_per_line']} per line, {r['bytes_per_delivery']} B each,"
            f" {r['writes_per_flush']} writes/flush)  lines/s vs text {ratio:.0%}"
        )
    for r in results:
        if "profile" in r:
            print(f"\n--- {r['door']}: cProfile, by own time ---\n{r['profile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
