"""Start the server under test as a subprocess pinned to one CPU, and watch it.

The server is told ``--port 0`` (and ``--no-irc`` or ``--irc-port 0``) and logs one
line per door on stderr, the text door's first: ``text door listening on HOST:PORT``,
then ``IRC door listening on HOST:PORT`` and ``WebSocket door listening on HOST:PORT``
(bench/trivial_server.py: a bare ``listening
on HOST:PORT``, its only door). A thread reads stderr for the whole run so the pipe
never fills, and keeps its last lines for error messages. A server that logs no such
line (InspIRCd, bench/versus.py) is given its port, and is up once that port accepts. RSS comes from
/proc/PID/status. Nothing else here.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

PORT_RE = re.compile(r"(?:(\S+) door )?listening on \S+:(\d+)")  # (door name, port)
START_TIMEOUT_S = 20.0


class ServerError(RuntimeError):
    """The server did not start, or died under load."""


class ServerProcess:
    """A running server: its process, the ports it bound and the tail of its log.

    ``port`` is the port of ``door``, the one the bench clients use; ``text_port``,
    ``irc_port`` and ``websocket_port`` (None without that door) are the doors'.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: Path,
        cpu: int | None,
        door: str = "text",
        new_session: bool = False,
        port: int | None = None,
    ) -> None:
        pin = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
        self.argv = [*pin, *argv]
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            start_new_session=new_session,  # Linux: its own share of the CPU (autogroup)
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self.tail: deque[str] = deque(maxlen=200)
        self.warnings = 0
        self.text_port = 0
        self.irc_port: int | None = None
        self.websocket_port: int | None = None
        self._ports: queue.Queue[tuple[str, int] | None] = queue.Queue()  # None: stderr ended
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self.port = self._wait_for(door) if port is None else self._wait_accepting(port)

    def _wait_accepting(self, port: int) -> int:
        """A server that logs no door line (InspIRCd): wait until ``port`` accepts."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            except OSError:
                time.sleep(0.05)  # polling a port that is not open yet: nothing to wait on
                continue
            self.text_port = port
            return port
        self.stop()
        raise ServerError(f"nothing accepts on port {port} from {self.argv}:\n{self.log()}")

    def _wait_for(self, door: str) -> int:
        """Read the doors' log lines until ``door``'s; return its port."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                found = self._ports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                found = None
            if found is None:
                self.stop()
                raise ServerError(
                    f"no '{door} door listening on' line from {self.argv}:\n{self.log()}"
                )
            name, port = found
            if name == "IRC":
                self.irc_port = port
            elif name == "WebSocket":
                self.websocket_port = port
            elif not self.text_port:  # the first line is the text door's
                self.text_port = port
            wanted = {"irc": self.irc_port, "websocket": self.websocket_port}.get(
                door, self.text_port
            )
            if wanted:
                return wanted

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.tail.append(line.rstrip("\n"))
            if "WARNING" in line or "ERROR" in line:
                self.warnings += 1
            if match := PORT_RE.search(line):
                self._ports.put((match.group(1) or "text", int(match.group(2))))
        self._ports.put(None)

    def log(self) -> str:
        """The last lines the server wrote to stderr."""
        return "\n".join(self.tail)

    def rss_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the server from /proc (VmRSS now, or VmHWM the peak), KiB."""
        return status_kib(self.pid, field)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server has used so far, from /proc/PID/stat."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_probe(self) -> tuple[float, float]:
        """(CPU seconds the server used, CPU seconds every process on the machine used)."""
        return self.cpu_s(), machine_busy_s()

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ServerError(f"the server exited with {self.proc.returncode}:\n{self.log()}")

    def stop(self) -> None:
        """SIGINT, then SIGTERM, then SIGKILL; wait for it and for the stderr thread."""
        for sig, wait_s in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
        self._reader.join(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def status_kib(pid: int, field: str) -> int:
    """One ``kB`` field of /proc/PID/status (0 if the process or field is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def machine_busy_s() -> float:
    """User and system CPU seconds of all CPUs so far (no irq, softirq, idle or steal)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    user, nice, system = (int(x) for x in first[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def pin_self(cpu: int | None) -> None:
    """Pin this process (and the workers it will start) to ``cpu``, if the machine has it."""
    if cpu is not None and hasattr(os, "sched_setaffinity") and cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {cpu})
