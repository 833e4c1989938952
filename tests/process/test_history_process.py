"""History with `python server.py` as a process: restarts keep rooms, topics and lines;
kill -9 loses at most a second and never corrupts; a database that cannot be used
gives one clear line (and exit 1 at start, or chat without history while running)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from store.schema import VERSION, migrate
from tests.rigs.chat import ChatClient

ROOT = Path(__file__).resolve().parents[2]
STAMP = r"\[\d\d:\d\d\]"
pytestmark = pytest.mark.timeout(40)


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Server:
    """server.py in a directory of its own; its log read as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self.port = 0
        self._more = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, cwd: Path, *args: str, limit_bytes: int | None = None, irc: bool = False
    ) -> Server:
        """server.py on free ports (the IRC door too with `irc`), once it listens."""
        preexec: Callable[[], None] | None = None
        if limit_bytes is not None:
            size = limit_bytes

            def preexec() -> None:  # a file-size limit: as good as a full disk
                resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "server.py"), "--port", "0", "--rate", "0",
            *(("--irc-port", "0") if irc else ("--no-irc",)), *args,
            cwd=cwd, stderr=asyncio.subprocess.PIPE, preexec_fn=preexec,
        )  # fmt: skip
        server = cls(proc)
        server._reader = asyncio.create_task(server._read())
        line = await server.wait_for(r".*(listening on \S+:(\d+)|ERROR.*)")
        if m := re.search(r"listening on \S+:(\d+)", line):
            server.port = int(m[1])
        return server

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while raw := await self.proc.stderr.readline():
            async with self._more:
                self.log.append(raw.decode().rstrip("\n"))
                self._more.notify_all()
        async with self._more:
            self.log.append("")  # the end
            self._more.notify_all()

    async def wait_for(self, pattern: str, timeout: float = 10) -> str:
        """The first log line matching `pattern` (waiting for it)."""
        async with asyncio.timeout(timeout), self._more:
            while True:
                for line in self.log:
                    if re.fullmatch(pattern, line):
                        return line
                assert "" not in self.log, f"server exited: {self.log}"
                await self._more.wait()

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signum)
        async with asyncio.timeout(15):
            code = await self.proc.wait()
            if self._reader is not None:
                await self._reader
        assert not [x for x in self.log if "Traceback" in x], self.log
        return code

    async def client(self, name: str) -> ChatClient:
        client = await ChatClient.open(self.port)
        await client.login(name)
        return client


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    """Every server a test starts is killed at the end if it still runs."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.returncode is None:
            server.proc.kill()
            await server.proc.wait()


async def test_a_restart_keeps_rooms_topics_and_history(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path))
    alice = await first.client("alice")
    await alice.create("general")
    await alice.send("/topic the plans", *(f"line {i}" for i in range(300)))
    await alice.expect(rx(rf"{STAMP} <alice> line 299"))
    await alice.send("/create quiet")  # nothing said: gone when it empties
    await alice.expect(rx(r"Joined room \[quiet\].*"))
    assert await first.stop(signal.SIGINT) == 0  # at once: a graceful stop writes it all
    assert (tmp_path / "chatroom.db").exists()

    servers.append(second := await Server.start(tmp_path))
    await second.wait_for(r".*history in chatroom\.db \(1 room kept\)")
    bob = await second.client("bob")
    await bob.send("/rooms")
    assert (await bob.expect("general (0 users)"))[-2:] == ["Rooms (1)", "general (0 users)"]
    await bob.send("/join general")
    lines = await bob.expect("* End of history.")
    assert "* Topic for general: the plans" in lines
    assert lines[-2].endswith("<alice> line 299") and lines[-21].endswith("<alice> line 280")
    await bob.send("/history 500")
    lines = await bob.expect("* End of history.")
    assert lines[0] == "* History of general (301 messages)"
    await bob.close()
    await alice.close()
    assert await second.stop() == 0


async def test_kill_9_mid_stream_loses_at_most_a_second_and_never_corrupts(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(server := await Server.start(tmp_path))
    alice = await server.client("alice")
    await alice.create("general")
    echoed: list[float] = []  # when each line came back: the server had it then
    start = time.monotonic()
    while (now := time.monotonic()) - start < 2.0:
        # A busy room's pace, 1,000 lines a second (pacing the sender, not waiting for
        # the server: each line's echo is awaited). Past what the core can spare, the
        # writer falls behind by design (chat first) and the promise is the queue's.
        await asyncio.sleep(max(start + len(echoed) / 1000 - now, 0))
        await alice.send(f"n{len(echoed)}")
        await alice.expect(rx(rf"{STAMP} <alice> n{len(echoed)}"))
        echoed.append(time.monotonic())
    server.proc.kill()
    killed = time.monotonic()
    await server.proc.wait()
    await alice.close()

    con = sqlite3.connect(tmp_path / "chatroom.db")
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    kept = [text for (text,) in con.execute("SELECT text FROM messages ORDER BY id")]
    con.close()
    assert kept == [f"n{i}" for i in range(len(kept))], "a prefix of what was said"
    must = sum(1 for t in echoed if killed - t > 1.0)
    assert len(kept) >= must, f"{len(echoed)} said, {len(kept)} kept, {must} said >1 s before"

    servers.append(again := await Server.start(tmp_path))
    bob = await again.client("bob")
    await bob.send("/join general")
    lines = await bob.expect("* End of history.")
    assert lines[-2].endswith(f"<alice> {kept[-1]}")
    await bob.close()


def _valid(path: Path) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    migrate(con, str(path))
    con.close()


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some bytes " * 100)


def _newer(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {VERSION + 1}")
    con.close()


def _read_only(path: Path) -> None:
    _valid(path)
    path.chmod(0o444)
    if os.geteuid() == 0:  # root writes through 0444: make it immutable as well
        subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)
    try:
        with open(path, "ab"):
            pass
    except OSError:
        return
    pytest.skip("cannot make a file read-only here")


START_FAULTS = {
    "corrupt": (_corrupt, "file is not a database"),
    "newer": (_newer, f"it has schema version {VERSION + 1}, newer than this chatroom's"),
    "read-only": (_read_only, "attempt to write a readonly database"),
}


@pytest.mark.parametrize("fault", list(START_FAULTS))
async def test_a_database_that_cannot_be_used_stops_the_start_with_one_line(
    tmp_path: Path, fault: str
) -> None:
    make, reason = START_FAULTS[fault]
    db = tmp_path / "chat.db"
    make(db)
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-irc", "--db", str(db)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    finally:
        if fault == "read-only" and shutil.which("chattr"):
            subprocess.run(["chattr", "-i", str(db)], check=False, capture_output=True)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"ERROR chatroom: cannot use the history database {db}: {reason}" in result.stderr


async def test_a_database_locked_by_another_program_stops_the_start_with_one_line(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    _valid(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-irc", "--db", str(db)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    finally:
        holder.close()
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"cannot use the history database {db}: database is locked (another" in result.stderr


async def test_a_file_size_limit_at_start_stops_it_with_one_line(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(server := await Server.start(tmp_path, limit_bytes=0))
    async with asyncio.timeout(10):
        assert await server.proc.wait() == 1
    await server.wait_for("")
    assert len(server.log) == 2 and server.log[-1] == "", server.log  # one line, then the end
    assert "cannot use the history database chatroom.db: disk I/O error (the disk" in server.log[0]


async def test_a_disk_that_fills_while_running_stops_history_but_not_chat(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(server := await Server.start(tmp_path, limit_bytes=256 * 1024))
    alice = await server.client("alice")
    await alice.create("general")
    bob = await server.client("bob")
    await bob.join("general")
    text = "x" * 1000
    for i in range(400):  # 400 kB of lines: more than the file may grow
        await alice.send(f"{i} {text}")
    await alice.expect(rx(rf"{STAMP} <alice> 399 x+"))
    failed = await server.wait_for(r".* ERROR store\.sqlite: history stopped: .*")
    assert "; chat goes on without history" in failed
    await alice.send("still here")
    await bob.expect(rx(rf"{STAMP} <alice> still here"))
    await bob.send("/history 5")
    assert (await bob.line()).startswith("! History is unavailable: ")
    assert await server.stop() == 0
    assert [x for x in server.log if " ERROR " in x] == [failed]


async def test_a_lock_held_while_running_stops_history_but_not_chat(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(server := await Server.start(tmp_path))
    alice = await server.client("alice")
    await alice.create("general")
    await alice.send("first")
    await alice.expect(rx(rf"{STAMP} <alice> first"))
    holder = sqlite3.connect(tmp_path / "chatroom.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing, and not letting go
    try:
        await alice.send("second")
        await alice.expect(rx(rf"{STAMP} <alice> second"))
        failed = await server.wait_for(r".* ERROR store\.sqlite: history stopped: .*")
        assert "database is locked" in failed
    finally:
        holder.close()
    await alice.send("third")
    await alice.expect(rx(rf"{STAMP} <alice> third"))
    assert await server.stop() == 0


async def test_no_history_writes_no_file_and_the_default_writes_chatroom_db(
    tmp_path: Path, servers: list[Server]
) -> None:
    quiet, default = tmp_path / "quiet", tmp_path / "default"
    quiet.mkdir()
    default.mkdir()
    servers.append(server := await Server.start(quiet, "--no-history"))
    alice = await server.client("alice")
    await alice.create("general")
    await alice.send("hello")
    await alice.expect(rx(rf"{STAMP} <alice> hello"))
    await alice.close()
    assert await server.stop() == 0
    assert list(quiet.iterdir()) == []
    servers.append(server := await Server.start(default))
    assert await server.stop() == 0
    assert {p.name for p in default.iterdir()} >= {"chatroom.db"}
    with contextlib.closing(sqlite3.connect(default / "chatroom.db")) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (VERSION,)


async def test_a_second_server_on_the_same_database_is_refused_with_one_line(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path, "--db", "shared.db"))
    alice = await first.client("alice")
    await alice.create("general")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-irc", "--db", "shared.db"],
        capture_output=True, text=True, timeout=20, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.endswith(
        " ERROR chatroom: cannot use the history database shared.db: another chatroom "
        "server is using it (give each server its own --db)\n"
    ), result.stderr
    await alice.send("the first goes on")  # and is not disturbed
    await alice.expect(rx(rf"{STAMP} <alice> the first goes on"))
    await alice.close()
    assert await first.stop() == 0
    servers.append(second := await Server.start(tmp_path, "--db", "shared.db"))
    assert await second.stop() == 0  # once the first is gone, the file is free


def rss_kb(pid: int) -> tuple[int, int]:
    """The process's resident set now and at its peak (VmRSS, VmHWM), in kB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


FLOOD_LINES, FLOOD_TEXT = 30_000, "x" * 1_490  # 45 MB of 1,500-byte lines


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("transport", ["plain", "tls"])
async def test_a_flood_of_long_lines_to_a_stalled_member_keeps_the_servers_memory_bounded(
    tmp_path: Path, servers: list[Server], transport: str
) -> None:
    """History on, 45 MB said to a room with a member that reads nothing: what waits
    for the disk is bounded in bytes, so the server grows by well under 20 MB."""
    from tests.rigs.tlsfiles import make_tls_files

    tls = make_tls_files(tmp_path / "tls")
    servers.append(
        server := await Server.start(
            tmp_path, "--tls-cert", tls.cert, "--tls-key", tls.key, "--tls-port", "0"
        )
    )
    listening = await server.wait_for(r".*text door listening on \S+:\d+ \(TLS\)")
    tls_port = int(listening.rsplit(":", 1)[1].split()[0])
    alice = await server.client("alice")
    await alice.create("general")
    port, context = (
        (server.port, None) if transport == "plain" else (tls_port, tls.client_context())
    )
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, limit=4096)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(b"stalled\n2\ngeneral\n")  # in, then never reads again
    await writer.drain()
    await alice.expect("* stalled has joined general")
    for i in range(200):  # warm up: the allocator's pools, sqlite's cache
        await alice.send(f"warm {i} {FLOOD_TEXT}")
    await alice.expect(rx(rf"{STAMP} <alice> warm 199 x+"), timeout=20)
    before, _ = rss_kb(server.proc.pid)

    for start in range(0, FLOOD_LINES, 100):  # 150 kB at a time, each waiting for its
        # echo: the sender itself never falls --max-send-queue behind, however loaded
        await alice.send(*(f"{n} {FLOOD_TEXT}" for n in range(start, start + 100)))
        await alice.expect(rx(rf"{STAMP} <alice> {start + 99} x+"), timeout=20)
    after, peak = rss_kb(server.proc.pid)
    print(f"{transport}: RSS {before} kB -> {after} kB (peak {peak} kB)")
    assert after - before < 20 * 1024, f"the server grew by {after - before} kB"
    writer.close()
    await alice.close()
    assert await server.stop() == 0
