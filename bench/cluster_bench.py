"""Benchmark a cluster: ``python bench/cluster_bench.py [--quick] [--spread]``.

In one run, against one redis-server (no persistence). By default the nodes and Redis
are pinned to CPU 0 and this load generator to CPU 1 (2 cores: the nodes share one, so
the figures are the cost of the cluster, not the scale it buys); --spread puts node b
on CPU 1 (what a second core buys, with Redis and the generator floating):
- fanout: 100 members in one room, one sender, on one plain server; on one node of a
  cluster; and with the members spread over two nodes. Deliveries a second, and the
  servers' CPU per delivery (all of them together, /proc/PID/stat).
- rooms: 10 rooms of 10 members, a sender in each, the same three ways (on two nodes,
  each room's members alternate between them, and so do the rooms' senders).
- the cross-node hop: a line every 5 ms (200/s), its latency to a member on the same
  node and to one on the other node (p50, p99).
- Redis CPU per delivered message: redis-server's utime+stime (/proc/PID/stat) over the
  two-node fanout, per delivery and per published line.
Prints a JSON line per figure and appends them to bench/cluster.jsonl (unless --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


class Proc:
    def __init__(self, args: list[str], wait_for: str = "") -> None:
        self.proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        self.ports: list[int] = []
        if wait_for:
            assert self.proc.stderr is not None
            while len(self.ports) < 1:
                text = self.proc.stderr.readline()
                if not text:
                    raise SystemExit(f"server exited: {args}")
                if m := re.search(wait_for, text):
                    self.ports.append(int(m[1]))
            # keep reading stderr so the pipe never fills
            import threading

            threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def server(url: str = "", name: str = "", cpu: int = 0) -> Proc:
    args = [*pinned(cpu), sys.executable, "server.py", "--port", "0", "--no-irc", "--rate", "0",
            "--max-clients", "5000", "--max-per-ip", "0", "--log-level", "WARNING",
            "--no-history"]  # fmt: skip
    if url:
        args += ["--cluster", url, "--node-name", name]
    args[args.index("--log-level") + 1] = "INFO"
    return Proc(args, r"text door listening on \S+:(\d+)")


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def login(cls, port: int, name: str) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        await client.until(b"Enter your username:")
        writer.write(name.encode() + b"\r\n")
        await client.until(b"Enter your choice:")
        return client

    async def until(self, marker: bytes) -> bytes:
        data = b""
        while marker not in data:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise EOFError
            data += chunk
        return data

    async def enter(self, room: str, create: bool) -> None:
        while True:
            self.writer.write(f"/{'create' if create else 'join'} {room}\r\n".encode())
            data = await self.until(b"\r\n")
            if b"Joined room" in data:
                await asyncio.sleep(0)
                return
            await asyncio.sleep(0.05)  # made on the other node: it takes a hop

    async def drain_setup(self) -> None:
        """Read what is there now (join lines of the others)."""
        try:
            async with asyncio.timeout(0.3):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            pass

    async def count_lines(self, wanted: int, marker: bytes = b"> m ") -> float:
        seen, rest = 0, b""
        while seen < wanted:
            chunk = await self.reader.read(262144)
            if not chunk:
                raise EOFError
            data = rest + chunk
            cut = data.rfind(b"\n") + 1  # count whole lines only
            seen += data.count(marker, 0, cut)
            rest = data[cut:]
        return time.perf_counter()

    def close(self) -> None:
        self.writer.close()


async def room_setup(ports: list[int], rooms: int, members: int, tag: str) -> list[list[Client]]:
    layout: list[list[Client]] = []
    for r in range(rooms):
        clients = []
        for m in range(members):
            port = ports[(m + r) % len(ports)]  # room r's sender (m 0) on node r % 2
            client = await Client.login(port, f"{tag}{r}x{m}")
            await client.enter(f"{tag}room{r}", create=m == 0)
            clients.append(client)
        layout.append(clients)
    for clients in layout:
        await asyncio.gather(*(c.drain_setup() for c in clients))
    return layout


async def deliveries(
    servers: list[Proc], rooms: int, members: int, lines: int, tag: str
) -> tuple[float, float]:
    """Deliveries a second, and the servers' CPU (µs, all of them) per delivery: a
    sender in each room (its first member) sends `lines`."""
    ports = [s.ports[0] for s in servers]
    layout = await room_setup(ports, rooms, members, tag)
    cpu = sum(cpu_seconds(s.proc.pid) for s in servers)
    start = time.perf_counter()
    body = b"".join(b"m %d\r\n" % i for i in range(lines))
    for clients in layout:
        clients[0].writer.write(body)
    async with asyncio.timeout(60):  # lines dropped (a full publish queue) never come
        ends = await asyncio.gather(*(c.count_lines(lines) for cl in layout for c in cl))
    took = max(ends) - start
    cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - cpu
    for clients in layout:
        for client in clients:
            client.close()
    delivered = rooms * members * lines
    return delivered / took, cpu / delivered * 1e6


async def hop_latency(a: int, b: int, count: int) -> dict[str, float]:
    sender = await Client.login(a, "hopper")
    await sender.enter("hop", create=True)
    near = await Client.login(a, "near")
    await near.enter("hop", create=False)
    far = await Client.login(b, "far")
    await far.enter("hop", create=False)
    for client in (sender, near, far):
        await client.drain_setup()
    got: dict[str, list[float]] = {"near": [], "far": []}

    async def read(client: Client, key: str) -> None:
        rest = b""
        while len(got[key]) < count:
            data = rest + await client.reader.read(65536)
            *whole, rest = data.split(b"\r\n")
            now = time.perf_counter_ns()
            for text in whole:
                if m := re.search(rb"> t (\d+)$", text):
                    got[key].append((now - int(m[1])) / 1e6)

    readers = [asyncio.create_task(read(near, "near")), asyncio.create_task(read(far, "far"))]
    for _ in range(count):
        sender.writer.write(b"t %d\r\n" % time.perf_counter_ns())
        await asyncio.sleep(0.005)
    async with asyncio.timeout(30):
        await asyncio.gather(*readers)
    out = {}
    for key, values in got.items():
        values.sort()
        out[f"{key}_p50_ms"] = statistics.median(values)
        out[f"{key}_p99_ms"] = values[int(len(values) * 0.99) - 1]
    for client in (sender, near, far):
        client.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes; save nothing")
    parser.add_argument(
        "--spread", action="store_true",
        help="the two nodes on CPU 0 and CPU 1 (Redis and the generator float): what two "
        "cores buy; default: Redis and every node on CPU 0, the generator on CPU 1",
    )  # fmt: skip
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and 1 in os.sched_getaffinity(0) and not args.spread:
        os.sched_setaffinity(0, {1})
    second = 1 if args.spread else 0  # node b's CPU
    lines = {"fanout": 200 if args.quick else 20_000, "rooms": 100 if args.quick else 5_000}
    hops = 100 if args.quick else 2000
    tmp = tempfile.mkdtemp(prefix="clu-bench-")
    port = free_port()
    redis = subprocess.Popen(
        [*([] if args.spread else pinned(0)), "redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode:
        time.sleep(0.02)  # until Redis listens
    figures: list[dict[str, Any]] = []
    command = " ".join(["python3", "bench/cluster_bench.py", *sys.argv[1:]])

    def record(figure: str, **values: Any) -> None:
        line = {"figure": figure, "command": command, "ts": time.time(), **values}
        figures.append(line)
        print(json.dumps(line), flush=True)

    try:
        for workload, rooms, members in (("fanout", 1, 100), ("rooms", 10, 10)):
            count = lines[workload]
            results: dict[str, float] = {}
            cpu: dict[str, float] = {}
            plain = server()
            results["one_server"], cpu["one_server"] = await deliveries(
                [plain], rooms, members, count, "p"
            )
            plain.stop()
            one = server(url, "solo")
            results["one_node"], cpu["one_node"] = await deliveries(
                [one], rooms, members, count, "o"
            )
            one.stop()
            a, b = server(url, "a"), server(url, "b", second)
            before = cpu_seconds(redis.pid)
            results["two_nodes"], cpu["two_nodes"] = await deliveries(
                [a, b], rooms, members, count, "t"
            )
            redis_cpu = cpu_seconds(redis.pid) - before
            a.stop()
            b.stop()
            delivered = rooms * members * count
            record(
                workload, layout="spread" if args.spread else "shared",
                deliveries_per_s=results, server_cpu_us_per_delivery=cpu, rooms=rooms,
                members=members, lines=count, redis_cpu_s=redis_cpu,
                redis_us_per_delivery=redis_cpu / delivered * 1e6,
                redis_us_per_published_line=redis_cpu / (rooms * count) * 1e6,
            )  # fmt: skip
        a, b = server(url, "a"), server(url, "b", second)
        record(
            "hop", rate_per_s=200, messages=hops, **await hop_latency(a.ports[0], b.ports[0], hops)
        )
        a.stop()
        b.stop()
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.quick:
        with open(ROOT / "bench" / "cluster.jsonl", "a") as out:
            for line in figures:
                out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
