"""The README's nginx configuration ("Behind nginx") in front of the real server: real
nginx, on its own loopback address, between a browser (websockets' client, from yet
another loopback address) and the WebSocket door. Skipped, saying why, without nginx
(apt-get install nginx; .ci/run installs it)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.irc import IrcClient
from tests.rigs.web import WebIrc, http_get

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
PROXY_HOST, BROWSER_HOST = "127.0.0.2", "127.0.0.3"  # nginx, and the browser behind it

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)"
    ),
]


def readme_config(port: int) -> tuple[str, str]:
    """The README's `map` block and its `location` block, proxying to `port`."""
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"^### Behind nginx\n.*?```nginx\n(.*?)```", text, re.S | re.M)
    (mapping,) = re.findall(r"^map .*?^\}\n", block, re.S | re.M)
    (location,) = re.findall(r"^    location / \{.*?^    \}\n", block, re.S | re.M)
    assert "proxy_pass http://127.0.0.1:8097;" in location
    return mapping, location.replace("127.0.0.1:8097", f"127.0.0.1:{port}")


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Proxy:
    port: int
    log: Path


@contextlib.contextmanager
def nginx(prefix: Path, upstream: int) -> Iterator[Proxy]:
    """nginx in the foreground, one process, its files in `prefix`; stopped after."""
    assert NGINX is not None
    mapping, location = readme_config(upstream)
    port = free_port(PROXY_HOST)
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / temp).mkdir(parents=True, exist_ok=True)
    temps = "".join(f"    {t}_temp_path {prefix / t.replace('client_body', 'body')};\n"
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temps}{mapping}"
        f"    server {{\n        listen {PROXY_HOST}:{port};\n{location}    }}\n}}\n"
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        yield Proxy(port, prefix / "error.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


async def listening(port: int) -> None:
    """Until nginx takes connections on its port (it says nothing when it is ready)."""
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection(PROXY_HOST, port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    config = Config(port=0, irc_port=0, websocket_port=0, rate_lines_per_s=0,
                    irc_server_name="irc.test", trusted_proxies=("127.0.0.1/32",))  # fmt: skip
    chat = ChatServer(config)
    await chat.start()
    yield chat
    await chat.aclose()


@pytest.fixture
async def proxy(server: ChatServer, tmp_path: Path) -> AsyncIterator[Proxy]:
    with nginx(tmp_path / "nginx", server.websocket_port) as running:
        await listening(running.port)
        yield running


async def test_the_readme_config_passes_the_page_and_the_websocket_and_names_the_client(
    server: ChatServer, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    request = f"GET / HTTP/1.1\r\nHost: {PROXY_HOST}:{proxy.port}\r\nConnection: close\r\n\r\n"
    page = await http_get(proxy.port, request, host=PROXY_HOST)
    head, _, body = page.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"<title>chatroom</title>" in body
    assert (
        f"connect-src 'self' ws://{PROXY_HOST}:{proxy.port} wss://{PROXY_HOST}:{proxy.port};"
    ).encode() in head  # the browser's Host, through nginx

    op = await IrcClient.open(server.irc_port)
    await op.register("op")
    await op.join("#room")
    url = f"ws://{PROXY_HOST}:{proxy.port}/"
    own_page = f"http://{PROXY_HOST}:{proxy.port}"
    browser = await WebIrc.open(
        url, ["binary.ircv3.net", "text.ircv3.net"], origin=own_page,
        headers={"X-Forwarded-For": "203.0.113.9"},  # forged: nginx appends the real one
        local_addr=(BROWSER_HOST, 0),
    )  # fmt: skip
    assert browser.conn.subprotocol == "binary.ircv3.net"
    await browser.register("web")
    await browser.join("#room")
    await op.expect(f":web!~web@{BROWSER_HOST} JOIN #room")
    await op.send("PRIVMSG #room :through nginx")
    await browser.expect(":op!~op@127.0.0.1 PRIVMSG #room :through nginx")
    await browser.send("PRIVMSG #room :and back")
    await op.expect(f":web!~web@{BROWSER_HOST} PRIVMSG #room :and back")
    assert any(
        re.fullmatch(rf"{BROWSER_HOST} via 127\.0\.0\.1:\d+ connected to the WebSocket door",
                     r.getMessage()) for r in caplog.records
    )  # fmt: skip

    with pytest.raises(InvalidStatus) as refused:
        await WebIrc.open(url, origin="https://evil.example.com", local_addr=(BROWSER_HOST, 0))
    assert refused.value.response.status_code == 403

    await browser.send("QUIT :bye")
    await browser.expect(f"ERROR :Closing link: {BROWSER_HOST} (Quit: bye)")
    await op.expect(f":web!~web@{BROWSER_HOST} QUIT :Quit: bye")
    await op.close()
