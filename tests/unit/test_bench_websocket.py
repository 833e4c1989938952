"""The load generator's WebSocket framing (bench/protocols.py, bench/pacer.py) against
the server's own WebSocket code (net/websocket.py): what the bench sends, the door
reads as IRC lines; what the door sends, the bench counts once per line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from net.web import Page, Site
from net.websocket import IrcWebSocket, WebSocketDoor, frame_lines

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """A module of bench/ (a directory of scripts, not a package), imported by path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


protocols = bench_module("protocols")


def open_door() -> IrcWebSocket:
    door = WebSocketDoor(
        Site({"/index.html": Page(b"<p>hi</p>", "text/html", '"a"')}),
        origins=(), trusted=(), max_line_bytes=600,
    )  # fmt: skip
    ws = IrcWebSocket(door, "127.0.0.1", lambda ip: None)
    ws.receive_data(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
    )
    reply = b"".join(ws.data_to_send())
    assert reply.startswith(b"HTTP/1.1 101 ") and b"text.ircv3.net" in reply
    return ws


@pytest.mark.timeout(10)
def test_the_door_reads_the_bench_clients_masked_frames_as_irc_lines() -> None:
    ws = open_door()
    text = "NICK b00001\r\nUSER b00001 0 * :b00001\r\nPRIVMSG #bench :b 1 2 3\r\n"
    sent = protocols.wire("websocket", text)
    assert sent[1] & 0x80  # the mask bit: a client's frames are masked
    assert ws.receive_data(sent) == [
        b"NICK b00001",
        b"USER b00001 0 * :b00001",
        b"PRIVMSG #bench :b 1 2 3",
    ]
    assert not ws.failure


@pytest.mark.timeout(10)
def test_the_pacers_frame_heads_make_the_same_frames_as_ws_frame() -> None:
    bench_module("plan")  # pacer's own imports, by bench/'s names
    pacer = bench_module("pacer")
    form = protocols.line_format("websocket", "r0001", b"")
    line = form % (12, 345, 6789)
    assert pacer.WS_HEADS[len(line)] + line == protocols.ws_frame(line)
    ws = open_door()
    assert ws.receive_data(pacer.WS_HEADS[len(line)] + line) == [line]


@pytest.mark.timeout(10)
def test_the_delivery_byte_counts_each_server_frame_once() -> None:
    lines = [b":b%05d!~b%05d@127.0.0.1 PRIVMSG #r0001 :b %d %d %d" % (i, i, i, i * 7, 10**18 + i)
             for i in range(300)]  # fmt: skip
    framed = frame_lines(b"".join(line + b"\r\n" for line in lines), binary=False)
    assert framed.count(protocols.DELIVERY_BYTE["websocket"]) == len(lines)
    assert max(len(line) for line in lines) <= protocols.MAX_WS_PAYLOAD
