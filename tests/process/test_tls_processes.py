"""TLS end to end with real processes: `client.py --tls` against the real server,
and `server.py` reloading its certificate on SIGHUP without dropping anyone."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from net.listeners import ChatServer
from tests.e2e.test_tls import tls_config
from tests.process.test_client_pipe import run_client, start_client
from tests.rigs.chat import ChatClient, connection_of, wait_until
from tests.rigs.tlsfiles import TlsFiles, make_tls_files, self_signed

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
async def server(tls_files: TlsFiles) -> AsyncIterator[ChatServer]:
    chat = ChatServer(tls_config(tls_files))
    await chat.start()
    yield chat
    await chat.aclose()


async def test_the_client_over_tls_with_a_private_ca(
    server: ChatServer, tls_files: TlsFiles
) -> None:
    status, out, err = await run_client(
        server.tls_port, "/quit\n", "--name", "alice", "--cafile", tls_files.ca
    )
    assert (status, err) == (0, "")
    assert "* Hello, alice!" in out and out.endswith("Goodbye!\n")


async def test_an_untrusted_certificate_is_one_clear_line(server: ChatServer) -> None:
    status, out, err = await run_client(server.tls_port, "", "--tls")  # system CAs only
    assert (status, out) == (1, "")
    assert err == (
        f"Cannot connect to 127.0.0.1:{server.tls_port}: the server's certificate is not "
        "trusted (unable to get local issuer certificate); for a private or self-signed "
        "certificate use --cafile FILE.\n"
    )


async def test_a_self_signed_certificate_is_trusted_with_cafile(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "own")  # the README's openssl command
    chat = ChatServer(tls_config(TlsFiles(cert, cert, key)))
    await chat.start()
    try:
        status, out, err = await run_client(
            chat.tls_port, "/quit\n", "--name", "b", "--cafile", cert
        )
        assert (status, err) == (0, "") and out.endswith("Goodbye!\n")
    finally:
        await chat.aclose()


async def test_insecure_says_so_on_connect(server: ChatServer) -> None:
    status, out, err = await run_client(server.tls_port, "/quit\n", "--name", "c", "--insecure")
    assert status == 0 and out.endswith("Goodbye!\n")
    assert err == (
        "* --insecure: the server's certificate is not checked; anyone on the way can read "
        "and change this connection.\n"
    )


async def test_the_client_with_tls_on_a_plain_port_is_one_line(server: ChatServer) -> None:
    status, out, err = await run_client(server.port, "", "--tls")
    assert (status, out) == (1, "")
    assert err.startswith(f"Cannot connect to 127.0.0.1:{server.port}: TLS failed (")
    assert err.endswith("is it the server's TLS port?\n") and err.count("\n") == 1


async def test_a_bad_cafile_is_one_line(tmp_path: Path) -> None:
    status, _, err = await run_client(1, "", "--cafile", str(tmp_path / "none.pem"))
    assert status == 2 and "--cafile: cannot use" in err.splitlines()[-1]
    assert "Traceback" not in err


# --- server.py as a process: SIGHUP ---


async def start_server(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, int]]:
    """The server as a process; returns it and its ports by log line ("text TLS": ...)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "--port", "0", "--irc-port", "0",
        "--tls-port", "0", "--irc-tls-port", "0", "--no-history", *args,
        stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stderr is not None
    ports: dict[str, int] = {}
    async with asyncio.timeout(10):
        while len(ports) < 4:
            line = (await proc.stderr.readline()).decode()
            assert line, "the server exited early"
            if m := re.search(r"(text|IRC) door listening on \S+:(\d+)( \(TLS\))?", line):
                ports[m[1] + (" TLS" if m[3] else "")] = int(m[2])
    return proc, ports


async def log_line(proc: asyncio.subprocess.Process, pattern: str) -> str:
    assert proc.stderr is not None
    async with asyncio.timeout(10):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, "the server exited"
            if re.search(pattern, line):
                return line.rstrip("\n")


async def test_sighup_reloads_the_certificate_and_nobody_is_dropped(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "live")
    proc, ports = await start_server("--tls-cert", files.cert, "--tls-key", files.key)
    try:
        early = await ChatClient.open(ports["text TLS"], tls=files.client_context())
        await early.login("early")
        renewed = make_tls_files(tmp_path / "renewed", name="renewed")
        Path(files.cert).write_bytes(Path(renewed.cert).read_bytes())
        Path(files.key).write_bytes(Path(renewed.key).read_bytes())
        proc.send_signal(signal.SIGHUP)
        line = await log_line(proc, "TLS certificate reloaded|TLS reload refused")
        assert line.endswith(f"INFO chatroom: TLS certificate reloaded from {files.cert}")
        late = await ChatClient.open(ports["text TLS"], tls=renewed.client_context())
        await late.login("late")
        Path(files.key).write_text("garbage\n")
        proc.send_signal(signal.SIGHUP)
        line = await log_line(proc, "TLS certificate reloaded|TLS reload refused")
        assert "WARNING chatroom: TLS reload refused, keeping the current certificate:" in line
        again = await ChatClient.open(ports["text TLS"], tls=renewed.client_context())
        await again.login("again")
        await early.send("/msg late still here")
        await late.expect(re.compile(r"\[\d\d:\d\d\] \*early\* still here"))
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_client_reconnects_over_tls_and_takes_its_room_back(
    server: ChatServer, tls_files: TlsFiles
) -> None:
    args = ("--name", "alice", "--reconnect", "--cafile", tls_files.ca)
    proc = await start_client(server.tls_port, *args)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(b"/create lobby\n")
        await wait_until(lambda: "lobby" in server.rooms.snapshot()[1])
        connection_of(server, "alice").abort()  # the server drops it: the name is freed
        await wait_until(lambda: not server.rooms.snapshot()[1].get("lobby"))
        await wait_until(lambda: "lobby" in server.rooms.snapshot()[1], timeout=10)
        proc.stdin.write(b"/quit\n")
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    lines = err.decode().splitlines()
    assert lines[0].startswith("* Connection lost (") and "* Reconnected." in lines
    assert lines[-1] == "* Creating lobby again."
    assert out.decode().count("Joined room [lobby]") == 2 and out.decode().endswith("Goodbye!\n")
