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
echo-message; ``--profile`` adds cProfile's heaviest functions per door;
``--connection`` puts a real net/connection.py Connection under each session (fed the
line's bytes, one read each, and writing through its send path to a transport that
counts bytes): the connection's read and write path is measured too, and the
WebSocket door with and without echo-message is added (the IRC door's sessions under a
Connection under net/weblink.py's WebSocketLink, handshake done, each line one masked
text frame a read, the link's writes framed and counted); ``--doors text,websocket``
measures only those; ``--per-read N --batch M`` sends a sender's N lines in one read
(several frames; as the bench clients do) and flushes every M lines; ``--root DIR``
measures the server modules of another checkout (an old build), with this script;
``--per-account 3`` measures each door twice, interleaved: guests, and the same
connections as accounts on three connections each (workloads.with_accounts: the first
registers its name, the others log in with the password, on IRC with SASL PLAIN). What it
leaves out is the same on both doors: the sockets, the event loop, and (without
``--connection``) net/connection.py's line splitting.

A contended machine slows every figure here alike, so the ratio between doors holds
where a throughput sweep would not. Imports the server's modules; never changes them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import gc
import io
import pstats
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
DOORS = ("text", "irc", "irc --irc-echo")
# With --connection: the WebSocket door too (IRC sessions under a Connection under the
# WebSocket layer, net/weblink.py), the lines coming in as masked text frames.
WS_DOORS = ("websocket", "websocket --irc-echo")
WS_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
)
WS_MASK = b"\x5a\xc3\x17\x8e"


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

    # As a Connection's transport (--connection): never closing, no socket.
    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


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
    read: Callable[[bytes], None] | None = None  # --connection: its Connection's data_received


class Host:
    """What a Connection needs of the server (--connection): settings and a buffer."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.receive_buffer = memoryview(bytearray(1 << 16))
        self.is_line_starting = False  # no line starts in a task here: see Connection._start


async def feed(member: Member, line: str, deferred: Deferred) -> None:
    pending = member.session.feed_nowait(line)
    if pending is not None:
        await pending
    deferred.run()


@dataclass(frozen=True)
class Seat:
    """One connection of the layout: its name, room, whether it sends, and for an
    account's connection (``--per-account``) its source address and whether it is
    one more connection (a Device) of a user already in the room."""

    name: str
    room: str
    sends: bool
    source: str = "127.0.0.1"
    password: str = ""  # "": a guest
    is_device: bool = False


def script_for(door: str, seat: Seat, made: bool) -> list[str]:
    """The lines that log this connection in and put it in its room (a device: in it
    already). An account's first connection registers its name on the way."""
    name, room, password = seat.name, seat.room, seat.password
    if door == "text":
        if seat.is_device:
            return [name, password]
        join = [f"/join {room}"] if made else ["1", room]
        return [name, *([f"/register {password}"] if password else []), *join]
    script = [f"NICK {name}", f"USER {name} 0 * :{name}"]
    caps = ["echo-message"] if door.endswith("echo") else []
    if seat.is_device:  # SASL PLAIN, so that NICK may be the account's user's own name
        plain = base64.b64encode(f"\0{name}\0{password}".encode()).decode()
        script = ["AUTHENTICATE PLAIN", f"AUTHENTICATE {plain}", *script]
        caps.append("sasl")
    if caps:
        script = [f"CAP REQ :{' '.join(caps)}", *script, "CAP END"]
    if password and not seat.is_device:
        script.append(f"PRIVMSG NickServ :REGISTER {password}")
    return script + ([] if seat.is_device else [f"JOIN #{room}"])


async def log_in(
    door: str, layout: list[Seat], deferred: Deferred, connection: bool = False
) -> list[Member]:
    """The server's registry and one session per seat, logged in and in its room (with
    `connection`, each under a real Connection that its rooms write through)."""
    sys.path.insert(0, str(ROOT))
    from config.settings import Config
    from doors.irc.session import IrcDoor, IrcSession
    from doors.text.render import Renders
    from doors.text.session import Session
    from registry.accounts import Accounts
    from registry.credentials import MIN_ITERATIONS
    from rooms import RoomManager

    config = Config()
    accounts = Accounts(iterations=MIN_ITERATIONS)  # the setup's hashing, not measured
    rooms = RoomManager(max_rooms=config.max_rooms, defer=deferred, accounts=accounts)
    irc, renders = IrcDoor(rooms, config), Renders()
    members: list[Member] = []
    made: set[str] = set()
    wrapped = None
    is_ws = door.startswith("websocket")
    if is_ws and not connection:
        raise ValueError("the WebSocket door is measured with --connection only")
    if connection:
        from doors.irc.door import irc_door
        from doors.text.door import text_door
        from net.connection import Connection

        host = Host(Config(rate_lines_per_s=0))  # as bench/run.py's server: --rate 0
        wrapped = text_door(rooms, config) if door == "text" else irc_door(irc)
    if is_ws:
        from net.web import Site
        from net.websocket import WebSocketDoor

        web = WebSocketDoor(Site({}), origins=(), trusted=(),
                            max_line_bytes=wrapped.max_line_bytes)  # type: ignore[union-attr]  # fmt: skip
    for seat in layout:
        sink = Sink()
        session: Feeder
        conn = None
        write = sink.write
        read: Callable[[bytes], None] | None = None
        if wrapped is not None:
            conn = Connection(host, wrapped)  # type: ignore[arg-type]
            conn.transport = sink  # type: ignore[assignment]
            conn.lines.sniff_tls = False
            write = conn.write
            read = conn.data_received
        if is_ws:
            read = ws_link(conn, web, sink, host)
        if door == "text":
            peer = f"{seat.source}:1"
            session = Session(rooms, config, sink.say, write=write, renders=renders, peer=peer)
        else:
            session = IrcSession(irc, sink.say, write=write, host=seat.source)
        if conn is not None:
            conn.session = session
        # The WebSocket door's sessions are the IRC door's: the same lines log them in.
        login = "irc" + door.removeprefix("websocket") if is_ws else door
        script = script_for(login, seat, seat.room in made)
        made.add(seat.room)
        member = Member(session, sink, seat.name, seat.room, seat.sends, read)
        for line in script:
            await feed(member, line, deferred)
        members.append(member)
    return members


def ws_link(conn: Any, web: Any, sink: Sink, host: Host) -> Callable[[bytes], None]:
    """The WebSocket layer between `conn` and `sink`, its handshake done as the door does
    it; returns what takes one read of the client's bytes (frames) as the socket would:
    copied into the host's receive buffer, then `buffer_updated`."""
    from net.weblink import WebSocketLink
    from net.websocket import IrcWebSocket

    link = WebSocketLink(conn, web)
    link._raw = sink  # type: ignore[assignment]
    ws = link._ws = IrcWebSocket(web, "127.0.0.1", lambda ip: None)
    ws.receive_data(WS_REQUEST)
    if not ws.is_open or not ws.data_to_send():
        raise RuntimeError("the WebSocket handshake failed")
    link._is_started = True
    conn.transport = link
    buffer = host.receive_buffer

    def read(data: bytes) -> None:
        size = len(data)
        buffer[:size] = data
        link.buffer_updated(size)

    return read


def ws_frame(line: bytes) -> bytes:
    """`line` as a client's masked text frame (short lines only: the bench's)."""
    from net.wsframes import unmask

    assert len(line) < 126
    return bytes((0x81, 0x80 | len(line))) + WS_MASK + unmask(line, WS_MASK)


def chat_line(door: str, room: str, cid: int, seq: int) -> str:
    text = f"b {cid} {seq} {1_000_000_000_000 + seq}"  # the bench's line, send_ns faked
    return text if door == "text" else f"PRIVMSG #{room} :{text}"


def measure(
    door: str,
    layout: list[Seat],
    lines: int,
    batch: int,
    profile: bool,
    connection: bool = False,
    per_read: int = 1,
) -> dict[str, Any]:
    """Feed ``lines`` chat lines through ``door``; CPU per line and where it went."""
    deferred = Deferred()
    members = asyncio.run(log_in(door, layout, deferred, connection))
    senders = [m for m in members if m.is_sender]
    order = [senders[i // per_read % len(senders)] for i in range(lines)]
    texts = [
        chat_line(door, s.room, i % len(senders), i // len(senders)) for i, s in enumerate(order)
    ]
    work: list[tuple[Any, Any]]
    if door.startswith("websocket"):  # one frame a read, as a browser sends a line
        work = [(s.read, ws_frame(text.encode())) for s, text in zip(order, texts, strict=True)]
    elif connection:  # the bytes of one read each, ended as the bench clients end them
        end = "\n" if door == "text" else "\r\n"
        work = [(s.read, (text + end).encode()) for s, text in zip(order, texts, strict=True)]
    else:
        work = [(s.session.feed_nowait, text) for s, text in zip(order, texts, strict=True)]
    if per_read > 1:  # a sender's lines in one read: its frames, or its lines, joined
        work = [(work[at][0], b"".join(w[1] for w in work[at : at + per_read]))
                for at in range(0, len(work), per_read)]  # fmt: skip
    before = sum(m.sink.size for m in members), sum(m.sink.writes for m in members)
    said = sum(len(m.sink.lines) for m in members)
    profiler = cProfile.Profile() if profile else None
    gc.collect()  # the last run's registry is garbage now; collect it before, not during
    gc.disable()
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    step = max(1, batch // per_read)  # reads per flush
    for start in range(0, len(work), step):
        for run, line in work[start : start + step]:
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
    reach = size if door == "text" or door.endswith("echo") else size - 1
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


def layout_for(args: argparse.Namespace, per_account: int = 0) -> list[Seat]:
    """One seat per connection, as workloads.py lays the bench clients out (with
    ``per_account``, as workloads.with_accounts groups them into accounts)."""
    from workloads import fanout_clients, rooms_clients, with_accounts

    if args.workload == "fanout":
        clients = fanout_clients(args.members, args.senders)
    else:
        clients = rooms_clients(args.rooms, args.room_size, sending=True)
    if per_account:
        clients = with_accounts(clients, per_account, secrets.token_urlsafe(12))
    return [
        Seat(c.name, c.room, c.is_sender, c.source or "127.0.0.1", c.password, c.is_device)
        for c in clients
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
    parser.add_argument(
        "--connection", action="store_true", help="a real Connection under each session"
    )
    parser.add_argument(
        "--root", default=None, help="measure the server modules of this checkout instead"
    )
    parser.add_argument(
        "--per-account",
        type=int,
        default=0,
        help="also the same connections as accounts on this many each (bench/devices.py)",
    )
    parser.add_argument(
        "--per-read",
        type=int,
        default=1,
        help="a sender's lines per read, with --connection (the bench clients send several)",
    )
    parser.add_argument(
        "--doors", default="", help="only these doors, comma-separated (e.g. text,websocket)"
    )
    args = parser.parse_args(argv)
    if args.root:
        global ROOT
        ROOT = Path(args.root).resolve()
    batch = args.batch or (20 if args.workload == "fanout" else 1)
    if args.per_read > 1 and (not args.connection or batch % args.per_read):
        parser.error("--per-read needs --connection and a --batch it divides")
    layouts = {"guests": layout_for(args)}
    if args.per_account:
        layouts["devices"] = layout_for(args, args.per_account)
    doors = DOORS + (WS_DOORS if args.connection else ())
    if args.doors:
        doors = tuple(d for d in doors if d in args.doors.split(","))
    cases = [(door, name) for door in doors for name in layouts]
    rounds = [  # interleaved, so a burst of other load hits every door and layout
        [
            measure(door, layouts[name], args.lines, batch, False, args.connection, args.per_read)
            for door, name in cases
        ]
        for _ in range(args.repeats)
    ]
    results = [
        min(runs, key=lambda r: float(r["us_per_line"])) for runs in zip(*rounds, strict=True)
    ]
    for (door, name), best in zip(cases, results, strict=True):
        best["case"] = f"{door}, {name}" if args.per_account else door
        if args.profile:
            best["profile"] = measure(
                door, layouts[name], args.lines, batch, True, args.connection, args.per_read
            )["profile"]
    text_us = float(results[0]["us_per_line"])
    print(
        f"{args.workload}: {args.lines} lines per door, a flush every {batch} lines,"
        + (" through a Connection each," if args.connection else "")
        + (f" {args.per_read} lines a read," if args.per_read > 1 else "")
        + f" best of {args.repeats}"
        + (f"; devices: accounts on {args.per_account} connections each" * bool(args.per_account))
    )
    for index, r in enumerate(results):
        ratio = text_us / float(r["us_per_line"])
        versus = ""
        if args.per_account and index % 2:  # devices, after its door's guests
            guests_us = float(results[index - 1]["us_per_line"])
            versus = f", vs guests {guests_us / float(r['us_per_line']):.0%}"
        print(
            f"  {r['case']:<24} {r['us_per_line']:>7} us/line"
            f"  {r['ns_per_delivery']:>7} ns/delivery"
            f"  ({r['deliveries_per_line']} per line, {r['bytes_per_delivery']} B each,"
            f" {r['writes_per_flush']} writes/flush)  lines/s vs text {ratio:.0%}{versus}"
        )
    for r in results:
        if "profile" in r:
            print(f"\n--- {r['case']}: cProfile, by own time ---\n{r['profile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
