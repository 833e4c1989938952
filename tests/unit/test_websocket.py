"""IRC over WebSocket, sans-I/O (net/websocket.py): bytes in, lines out, and lines out as
messages; websockets' own sans-I/O client plays the browser."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

from net.web import Page, Site
from net.websocket import IrcWebSocket, WebSocketDoor, frame_lines

INDEX = Page(b"<p>hi</p>", "text/html; charset=utf-8", '"abc"')
HANDSHAKE = (
    "GET / HTTP/1.1\r\nHost: chat.example.org\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
)


def door(**changes: object) -> WebSocketDoor:
    settings: dict[str, object] = {"origins": (), "trusted": (), "max_line_bytes": 600}
    settings.update(changes)
    return WebSocketDoor(Site({"/index.html": INDEX}), **settings)  # type: ignore[arg-type]


class Browser:
    """A client (websockets' sans-I/O one) talking to one IrcWebSocket, with no socket."""

    def __init__(
        self, server: IrcWebSocket, subprotocols: Sequence[str] = (), origin: str | None = None
    ) -> None:
        self.server = server
        self.client = ClientProtocol(
            parse_uri("ws://chat.example.org/"), origin=Origin(origin) if origin else None,
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
        )  # fmt: skip
        self.lines: list[bytes] = []  # what the server took from the client
        self.closed = False  # the server asked for the socket to close
        self.client.send_request(self.client.connect())
        self.pump()

    def pump(self) -> None:
        """Carry bytes both ways until neither side has more."""
        while True:
            to_server = b"".join(self.client.data_to_send())
            if to_server:
                self.lines += self.server.receive_data(to_server)
            to_client = self.server.data_to_send()
            for data in to_client:
                if data:
                    self.client.receive_data(data)
                else:
                    self.closed = True
                    self.client.receive_eof()
            if not to_server and not to_client:
                return

    def response(self) -> Response:
        (response,) = [e for e in self.client.events_received() if isinstance(e, Response)]
        return response

    def send(self, text: str | bytes) -> None:
        if isinstance(text, str):
            self.client.send_text(text.encode())
        else:
            self.client.send_binary(text)
        self.pump()

    def messages(self, data: bytes) -> list[Frame]:
        """What the client gets when the server writes `data` to it."""
        self.client.receive_data(self.server.frames(data))
        return [e for e in self.client.events_received() if isinstance(e, Frame)]


def opened(subprotocols: Sequence[str] = (), **changes: object) -> Browser:
    browser = Browser(IrcWebSocket(door(**changes), "127.0.0.1", lambda ip: None), subprotocols)
    assert browser.response().status_code == 101
    assert browser.server.is_open
    return browser


@pytest.mark.parametrize(
    ("offered", "chosen", "opcode"),
    [
        (["binary.ircv3.net"], "binary.ircv3.net", Opcode.BINARY),
        (["text.ircv3.net"], "text.ircv3.net", Opcode.TEXT),
        (["binary.ircv3.net", "text.ircv3.net"], "binary.ircv3.net", Opcode.BINARY),
        (["text.ircv3.net", "binary.ircv3.net"], "text.ircv3.net", Opcode.TEXT),
        (["chat", "text.ircv3.net"], "text.ircv3.net", Opcode.TEXT),
        ([], None, Opcode.TEXT),
    ],
)
def test_the_clients_first_subprotocol_wins_and_none_means_text(
    offered: list[str], chosen: str | None, opcode: Opcode
) -> None:
    browser = opened(offered)
    assert browser.server.subprotocol == chosen
    assert browser.client.subprotocol == chosen
    frames = browser.messages(b":s 001 alice :Welcome\r\n:s PING s\r\n")
    assert [(f.opcode, bytes(f.data)) for f in frames] == [
        (opcode, b":s 001 alice :Welcome"),
        (opcode, b":s PING s"),
    ]


def test_an_unknown_subprotocol_alone_gets_none_and_text() -> None:
    browser = opened(["mqtt"])
    assert browser.server.subprotocol is None and not browser.server.is_binary
    assert [f.opcode for f in browser.messages(b"PING s\r\n")] == [Opcode.TEXT]


def test_each_message_is_one_line_and_a_trailing_crlf_is_tolerated() -> None:
    browser = opened(["text.ircv3.net"])
    browser.send("NICK alice")
    browser.send("USER a 0 * :Alice\r\n")
    browser.send(b"PING x\n")  # a binary message is taken too, on either subprotocol
    browser.send("")
    assert browser.lines == [b"NICK alice", b"USER a 0 * :Alice", b"PING x", b""]
    assert not browser.server.failure


def test_a_message_in_fragments_is_one_line() -> None:
    browser = opened()
    browser.client.send_text(b"PRIVMSG #a :hel", fin=False)
    browser.client.send_continuation(b"lo wor", fin=False)
    browser.client.send_continuation(b"ld", fin=True)
    browser.pump()
    assert browser.lines == [b"PRIVMSG #a :hello world"]


@pytest.mark.parametrize("joined", ["PRIVMSG #a :hi\r\nQUIT :bye", "NICK a\nNICK b", "A\rB"])
def test_two_lines_in_one_message_are_refused_and_close_the_websocket(joined: str) -> None:
    browser = opened()
    browser.send("NICK before")
    browser.send(joined)
    assert browser.lines == [b"NICK before"]  # neither half is taken
    assert browser.server.failure == "one IRC line per WebSocket message"
    assert browser.client.close_rcvd == Close(CloseCode.PROTOCOL_ERROR, browser.server.failure)
    assert browser.closed
    assert browser.server.frames(b"late\r\n") == b""


def test_a_message_over_the_limit_closes_with_1009() -> None:
    browser = opened(max_line_bytes=100)
    browser.send("x" * 102)  # the limit and a CRLF: still taken
    assert browser.lines == [b"x" * 102]
    browser.send("y" * 103)
    assert browser.client.close_rcvd is not None
    assert browser.client.close_rcvd.code == CloseCode.MESSAGE_TOO_BIG
    assert browser.server.failure == "WebSocket message over 102 bytes"
    assert browser.closed and browser.lines == [b"x" * 102]


def test_text_messages_are_always_utf8_binary_ones_keep_their_bytes() -> None:
    text = opened(["text.ircv3.net"]).messages(b":b PRIVMSG a :caf\xe9\r\n")
    assert [bytes(f.data) for f in text] == [":b PRIVMSG a :caf\N{REPLACEMENT CHARACTER}".encode()]
    binary = opened(["binary.ircv3.net"]).messages(b":b PRIVMSG a :caf\xe9\r\n")
    assert [bytes(f.data) for f in binary] == [b":b PRIVMSG a :caf\xe9"]


def test_the_same_bytes_are_framed_once_for_every_connection() -> None:
    shared = door()
    first = IrcWebSocket(shared, "127.0.0.1", lambda ip: None)
    second = IrcWebSocket(shared, "127.0.0.1", lambda ip: None)
    for server in (first, second):
        Browser(server)
    data = b":a PRIVMSG #r :hi\r\n"
    assert first.frames(data) is second.frames(data)
    assert first.frames(b":a PRIVMSG #r :hi\r\n") == second.frames(data)  # equal, not cached


def test_the_client_closing_ends_its_input_and_is_answered() -> None:
    browser = opened()
    browser.send("QUIT :bye")
    browser.client.send_close(CloseCode.GOING_AWAY)
    browser.pump()
    assert browser.lines == [b"QUIT :bye"]
    assert browser.server.is_ended and not browser.server.failure
    assert browser.client.close_rcvd is not None  # the close frame echoed
    assert browser.server.frames(b"ERROR :x\r\n") == b""


def test_the_server_closing_sends_its_close_frame_then_awaits_the_clients() -> None:
    browser = opened()
    assert browser.server.close()
    browser.pump()
    assert browser.client.close_rcvd == Close(CloseCode.NORMAL_CLOSURE, "")
    assert browser.closed  # the client answered, so the server closes the socket
    assert not browser.server.close()


def handshake(server: IrcWebSocket, extra: str = "", request: str = HANDSHAKE) -> bytes:
    """What the server answers a request (a handshake, with `extra` headers)."""
    server.receive_data((request + extra + "\r\n").encode())
    return b"".join(server.data_to_send())


def fresh() -> IrcWebSocket:
    return IrcWebSocket(door(), "127.0.0.1", lambda ip: None)


@pytest.mark.parametrize(
    ("request_text", "status"),
    [
        (HANDSHAKE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), b"400"),
        (HANDSHAKE.replace("Version: 13", "Version: 8"), b"400"),
        (HANDSHAKE.replace("Connection: Upgrade", "Connection: keep-alive"), b"426"),
        (HANDSHAKE.replace("Host: chat.example.org\r\n", ""), b"400"),
        (HANDSHAKE.replace("Host: chat.example.org", "Host: a b"), b"400"),
        (HANDSHAKE.replace("HTTP/1.1", "HTTP/1.0"), b"505"),
        (HANDSHAKE.replace("GET", "POST"), b"405"),
        ("GARBAGE\r\n", b"400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n", b"400"),
        ("GET /" + "a" * 9000 + " HTTP/1.1\r\n", b"414"),
    ],
)
def test_a_bad_request_gets_its_http_error_and_the_connection_closes(
    request_text: str, status: bytes
) -> None:
    server = fresh()
    sent = handshake(server, request=request_text)
    assert sent.startswith(b"HTTP/1.1 " + status + b" "), sent
    assert not server.is_open


def test_a_bad_request_ends_with_the_connections_close() -> None:
    server = fresh()
    server.receive_data(b"GARBAGE\r\n\r\n")
    sent = server.data_to_send()
    assert sent[0].startswith(b"HTTP/1.1 400 Bad Request\r\n") and sent[-1] == b""
    server.receive_data(b"more garbage\r\n\r\n")
    assert server.data_to_send() == []  # told once


def test_a_tls_client_on_the_plain_port_is_told_where_tls_is() -> None:
    server = IrcWebSocket(door(), "127.0.0.1", lambda ip: None, tls_hint="Use port 8098.")
    server.receive_data(b"\x16\x03\x01\x02\x00\x01")
    sent = server.data_to_send()
    assert sent[0].startswith(b"HTTP/1.1 400 ") and sent[0].endswith(b"\r\n\r\nUse port 8098.\n")
    assert sent[-1] == b""


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser: irctest, bots
        ("http://chat.example.org", True),  # the page's own
        ("https://chat.example.org", True),
        ("https://CHAT.example.org:443", True),
        ("https://friends.example.net", True),  # on the allow-list
        ("https://evil.example.com", False),
        ("https://chat.example.org:8443", False),  # another port is another origin
        ("null", False),
    ],
)
def test_only_the_pages_own_origin_and_the_allowed_ones_may_connect(
    origin: str | None, allowed: bool
) -> None:
    server = IrcWebSocket(door(origins=("https://friends.example.net",)), "127.0.0.1",
                          lambda ip: None)  # fmt: skip
    browser = Browser(server, origin=origin)
    response = browser.response()
    assert response.status_code == (101 if allowed else 403)
    assert server.is_open is allowed


TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


def test_a_trusted_proxy_names_the_client_and_its_limits_apply() -> None:
    asked: list[str] = []

    def readdress(ip: str) -> str | None:
        asked.append(ip)
        return "Too many connections from your address (limit 1)." if len(asked) > 1 else None

    first = IrcWebSocket(door(trusted=TRUSTED), "127.0.0.1", readdress)
    handshake(first, "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3\r\n")
    assert first.is_open and first.ip == "203.0.113.7"
    second = IrcWebSocket(door(trusted=TRUSTED), "127.0.0.1", readdress)
    sent = handshake(second, "X-Forwarded-For: 203.0.113.7\r\n")
    assert sent.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert sent.endswith(b"Too many connections from your address (limit 1).\n")
    assert not second.is_open and asked == ["203.0.113.7", "203.0.113.7"]


def test_an_untrusted_peers_forwarded_headers_are_ignored() -> None:
    server = IrcWebSocket(door(trusted=TRUSTED), "192.0.2.9", lambda ip: "never asked")
    handshake(server, "X-Forwarded-For: 203.0.113.7\r\nForwarded: for=203.0.113.8\r\n")
    assert server.is_open and server.ip == "192.0.2.9"


def test_a_request_that_is_no_handshake_gets_the_page() -> None:
    sent = handshake(fresh(), request="GET / HTTP/1.1\r\nHost: chat.example.org\r\n")
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n") and sent.endswith(b"\r\n\r\n<p>hi</p>")
    head = handshake(fresh(), request="HEAD /index.html HTTP/1.1\r\nHost: h\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 9\r\n" in head


def test_security_headers_name_the_pages_own_websocket() -> None:
    reply = Site({"/index.html": INDEX}).reply("GET", "/", "chat.example.org:8097", None)
    headers = dict(reply.headers)
    assert headers["Content-Security-Policy"].startswith(
        "default-src 'self'; connect-src 'self' ws://chat.example.org:8097 "
        "wss://chat.example.org:8097;"
    )
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("binary", [False, True])
def test_lines_are_framed_as_websockets_itself_frames_them(binary: bool) -> None:
    sizes = (0, 1, 125, 126, 127, 65535, 65536, 70000)
    lines = [bytes([65 + n]) * size for n, size in enumerate(sizes)]
    opcode = Opcode.BINARY if binary else Opcode.TEXT
    expected = b"".join(Frame(opcode, line).serialize(mask=False) for line in lines)
    assert frame_lines(b"".join(line + b"\r\n" for line in lines), binary) == expected


def test_a_senders_own_batch_between_the_others_does_not_frame_theirs_again() -> None:
    shared = door()
    servers = [IrcWebSocket(shared, "127.0.0.1", lambda ip: None) for _ in range(3)]
    for server in servers:
        Browser(server)
    batch, mine = b":a PRIVMSG #r :hi\r\n:b PRIVMSG #r :yo\r\n", b":a PRIVMSG #r :hi\r\n"
    first = servers[0].frames(batch)
    assert servers[1].frames(mine) == frame_lines(mine, False)
    assert servers[2].frames(batch) is first


def test_frames_that_came_with_the_handshake_are_read() -> None:
    server = IrcWebSocket(door(), "127.0.0.1", lambda ip: None)
    first = Frame(Opcode.TEXT, b"NICK early").serialize(mask=True)
    second = Frame(Opcode.TEXT, b"USER a 0 * :b").serialize(mask=True)
    request = (HANDSHAKE + "\r\n").encode()
    lines = server.receive_data(request[:-1]) + server.receive_data(request[-1:] + first[:3])
    lines += server.receive_data(first[3:] + second)
    assert server.is_open and lines == [b"NICK early", b"USER a 0 * :b"]
    assert server.data_to_send()[0].startswith(b"HTTP/1.1 101 ")


def test_a_ping_is_answered_with_its_payload_and_lines_still_flow() -> None:
    browser = opened()
    browser.client.send_ping(b"are you there")
    browser.pump()
    browser.send("NICK after")
    pongs = [e for e in browser.client.events_received() if isinstance(e, Frame)]
    assert [(f.opcode, bytes(f.data)) for f in pongs] == [(Opcode.PONG, b"are you there")]
    assert browser.lines == [b"NICK after"] and not browser.closed


def test_a_text_message_not_utf8_closes_with_1007_a_binary_one_is_a_line() -> None:
    browser = opened()
    browser.send(b"PRIVMSG #a :caf\xe9")  # binary: the IRC door answers INVALID_UTF8
    assert browser.lines == [b"PRIVMSG #a :caf\xe9"] and not browser.closed
    browser.server.receive_data(Frame(Opcode.TEXT, b"PRIVMSG #a :caf\xe9").serialize(mask=True))
    browser.pump()
    assert browser.client.close_rcvd is not None
    assert browser.client.close_rcvd.code == CloseCode.INVALID_DATA
    assert browser.server.failure == "WebSocket protocol error" and browser.closed


def test_an_unmasked_frame_closes_with_1002() -> None:
    browser = opened()
    browser.server.receive_data(Frame(Opcode.TEXT, b"NICK a").serialize(mask=False))
    browser.pump()
    assert browser.client.close_rcvd is not None
    assert browser.client.close_rcvd.code == CloseCode.PROTOCOL_ERROR
    assert browser.lines == [] and browser.closed


def test_the_end_of_the_stream_ends_the_input_without_a_close_frame() -> None:
    browser = opened()
    browser.send("NICK a")
    browser.server.receive_eof()
    assert browser.server.is_ended and not browser.server.failure
    assert browser.server.data_to_send() == [b""]
    assert browser.server.frames(b"ERROR :x\r\n") == b""


def test_several_frames_in_one_read_are_one_line_each_and_the_rules_hold() -> None:
    browser = opened()
    server = browser.server
    many = [b"NICK a", b"USER a 0 * :b\r\n", b"", b"PING x\n", b"PONG y\r"]
    data = b"".join(Frame(Opcode.TEXT, m).serialize(mask=True) for m in many)
    assert server.receive_lines(data) == b"NICK a\nUSER a 0 * :b\n\nPING x\nPONG y\n"
    two = [b"JOIN #ok", b"PRIVMSG #a :x\r\nQUIT", b"JOIN #never"]
    data = b"".join(Frame(Opcode.BINARY, m).serialize(mask=True) for m in two)
    assert server.receive_lines(data) == b"JOIN #ok\n"  # neither half, nothing after
    assert server.failure == "one IRC line per WebSocket message"
    assert server.data_to_send()[-1] == b""
