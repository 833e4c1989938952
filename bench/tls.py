"""TLS against plain, in the same run: ``python bench/tls.py {idle,fanout,all}``.

Starts ``server.py`` itself (pinned to CPU 0; ``--rate 0``: flood control off;
``--no-irc``), once plain and once TLS only (``--no-plain`` with an ECDSA P-256
certificate made by openssl for the run), alternating, ``--runs`` times each (median
reported). The generator is this one process, pinned to CPU 1, blocking sockets for
logins and an epoll loop for the timed part.

- ``idle``: N clients log in (``--connections``, default 2000) and stay in the menu;
  the server's RSS before and after, per connection.
- ``fanout``: one room of ``--members`` (default 100), ``--senders`` (default 5) of
  them senders with ``--window`` (default 4) lines each in flight: a sender sends its
  next line when one of its own comes back (closed loop: no queue builds anywhere, so
  nothing is dropped and the generator never falls behind silently). Deliveries/s over
  ``--seconds``, and the server's CPU time per delivery (the figure a busier generator
  cannot distort).

Results are printed, and with ``--save`` appended as JSON lines to bench/tls.jsonl.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from results import machine
from serverproc import ServerProcess, pin_self

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def make_cert(directory: Path) -> tuple[str, str]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def start(tls: tuple[str, str] | None, cpu: int, baseline: bool = False) -> ServerProcess:
    program = "bench/asyncio_tls_server.py" if baseline else "server.py"
    argv = [sys.executable, program, "--host", HOST, "--port", "0", "--log-level",
            "INFO", "--rate", "0", "--no-irc", "--max-per-ip", "0"]  # fmt: skip
    if not baseline:
        argv.append("--no-history")  # history's cost is bench/history.py's subject
    if tls:
        argv += ["--tls-cert", tls[0], "--tls-key", tls[1], "--tls-port", "0", "--no-plain"]
    return ServerProcess(argv, ROOT, cpu)


class Client:
    """One blocking connection while logging in, non-blocking afterwards."""

    def __init__(self, port: int, context: ssl.SSLContext | None) -> None:
        raw = socket.create_connection((HOST, port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket = (
            context.wrap_socket(raw, server_hostname=HOST) if context else raw
        )
        self.buf = b""

    def until(self, wanted: bytes) -> None:
        while wanted not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError(f"server closed; last bytes {self.buf[-200:]!r}")
            self.buf += data
        self.buf = self.buf[self.buf.index(wanted) + len(wanted) :]

    def login(self, name: str) -> None:
        self.until(b"Enter your username:")
        self.sock.sendall(f"{name}\n".encode())
        self.until(b"Enter your choice:")


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # our own certificate of the run, on loopback
    return context


def run_idle(
    tls: tuple[str, str] | None, connections: int, cpu: int, baseline: bool = False
) -> dict[str, Any]:
    with start(tls, cpu, baseline) as proc:
        before = proc.rss_kib()
        context = client_context() if tls else None
        began = time.monotonic()
        clients = []
        for n in range(connections):
            client = Client(proc.port, context)
            client.login(f"i{n:05d}")
            clients.append(client)
        wall = time.monotonic() - began
        time.sleep(1.0)  # let the server's allocator settle before reading RSS
        after = proc.rss_kib()
        for client in clients:
            client.sock.close()
    per_conn = (after - before) * 1024 / connections
    return {"connections": connections, "rss_kib_before": before, "rss_kib_after": after,
            "rss_bytes_per_conn": round(per_conn), "connect_wall_s": round(wall, 2)}  # fmt: skip


def run_fanout(
    tls: tuple[str, str] | None, members: int, senders: int, window: int, seconds: float, cpu: int
) -> dict[str, Any]:
    with start(tls, cpu) as proc:
        context = client_context() if tls else None
        clients = [Client(proc.port, context) for _ in range(members)]
        for n, client in enumerate(clients):
            client.login(f"f{n:04d}")
            client.sock.sendall(b"/create lobby\n" if n == 0 else b"/join lobby\n")
            client.until(b"Joined room [lobby]")
        clients[0].sock.sendall(b"sync\n")  # after it, every join notice has been read
        for client in clients:
            client.until(b"<f0000> sync\r\n")
        return closed_loop(proc, clients, senders, window, seconds)


def closed_loop(
    proc: ServerProcess, clients: list[Client], senders: int, window: int, seconds: float
) -> dict[str, Any]:
    """Senders keep `window` lines each in flight; every line delivered is counted."""
    epoll = select.epoll()
    by_fd: dict[int, int] = {}
    for index, client in enumerate(clients):
        client.sock.setblocking(False)
        by_fd[client.sock.fileno()] = index
        epoll.register(client.sock.fileno(), select.EPOLLIN)
    names = [f"<f{n:04d}> ".encode() for n in range(senders)]
    tails = [b""] * senders  # a line cut off at the end of a sender's last read
    line = b"x" * 40 + b"\n"
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    delivered = 0
    for n in range(senders):
        clients[n].sock.sendall(line * window)
    cpu0, t0 = proc.cpu_s(), time.monotonic()
    deadline = t0 + seconds
    while (now := time.monotonic()) < deadline:
        for fd, _ in epoll.poll(0.05):
            index = by_fd[fd]
            sock = clients[index].sock
            while True:
                try:
                    got = sock.recv_into(buf)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                if not got:
                    raise RuntimeError(f"the server closed member {index}:\n{proc.log()}")
                chunk = view[:got].tobytes()
                delivered += chunk.count(b"\n")
                if index < senders:  # its own lines back: send as many again
                    data = tails[index] + chunk
                    end = data.rfind(b"\n") + 1
                    echoed, tails[index] = data.count(names[index], 0, end), data[end:]
                    if echoed:
                        sock.sendall(line * echoed)
                is_drained = not isinstance(sock, ssl.SSLSocket) or not sock.pending()
                if is_drained and got < len(buf):
                    break
    wall, cpu = now - t0, proc.cpu_s() - cpu0
    return {"deliveries_per_s": round(delivered / wall), "deliveries": delivered,
            "server_cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "server_us_per_delivery": round(cpu * 1e6 / max(delivered, 1), 3),
            "server_warnings": proc.warnings}  # fmt: skip


def summarize(runs: list[dict[str, Any]], key: str) -> float:
    return float(median(r[key] for r in runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=["idle", "fanout", "all"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--save", action="store_true", help="append to bench/tls.jsonl")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="idle: also asyncio's own TLS (bench/asyncio_tls_server.py)",
    )
    args = parser.parse_args()
    pin_self(args.gen_cpu)
    with tempfile.TemporaryDirectory() as directory:
        tls = make_cert(Path(directory))
        records = []
        for workload in ("idle", "fanout") if args.workload == "all" else (args.workload,):
            modes = ["plain", "tls"]
            if workload == "idle" and args.baseline:
                modes.append("asyncio-ssl")
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
            for index in range(args.runs):
                for mode in modes:
                    pair = None if mode == "plain" else tls
                    if workload == "idle":
                        baseline = mode == "asyncio-ssl"
                        result = run_idle(pair, args.connections, args.server_cpu, baseline)
                    else:
                        result = run_fanout(pair, args.members, args.senders, args.window,
                                            args.seconds, args.server_cpu)  # fmt: skip
                    print(f"{workload} {mode} run {index + 1}: {json.dumps(result)}", flush=True)
                    runs[mode].append(result)
            key = "rss_bytes_per_conn" if workload == "idle" else "deliveries_per_s"
            summary = {mode: summarize(r, key) for mode, r in runs.items()}
            if workload == "fanout":
                for mode, r in runs.items():
                    summary[f"{mode}_server_us_per_delivery"] = summarize(
                        r, "server_us_per_delivery"
                    )
            print(f"=> {workload} median {key}: {json.dumps(summary)}", flush=True)
            records.append({
                "workload": workload, "key": key, "summary": summary, "runs": runs,
                "command": "python bench/tls.py " + " ".join(sys.argv[1:]),
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
            })  # fmt: skip
        if args.save:
            with open(ROOT / "bench" / "tls.jsonl", "a") as file:
                for record in records:
                    file.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
