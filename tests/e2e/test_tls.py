"""TLS on both doors: the real server with certificates made in the run, real clients."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from config.certificates import is_self_signed, server_context
from config.options import parse_args
from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient, connection_of, wait_until
from tests.rigs.irc import IrcClient
from tests.rigs.tlsfiles import TlsFiles, make_tls_files, self_signed

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


def tls_config(files: TlsFiles, **changes: object) -> Config:
    base = Config(
        port=0, irc_port=0, tls_port=0, irc_tls_port=0, tls_cert=files.cert, tls_key=files.key,
        rate_lines_per_s=0, irc_server_name="t.x", tls_hello_timeout_s=0.3,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def server(tls_files: TlsFiles) -> AsyncIterator[ChatServer]:
    chat = ChatServer(tls_config(tls_files))
    await chat.start()
    yield chat
    await chat.aclose()


async def test_the_text_door_speaks_tls_and_shares_rooms_with_the_plain_port(
    server: ChatServer, tls_files: TlsFiles
) -> None:
    secure = await ChatClient.open(server.tls_port, tls=tls_files.client_context())
    assert await secure.line() == "* Welcome to chatroom."
    await secure.login("alice")
    await secure.create("lobby")
    plain = await ChatClient.open(server.port)
    await plain.login("bob")
    await plain.join("lobby")
    await plain.send("hi over the plain port")
    await secure.expect(re.compile(r"\[\d\d:\d\d\] <bob> hi over the plain port"))
    ssl_object = secure.writer.get_extra_info("ssl_object")
    assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
    await secure.send("/quit")
    assert await secure.expect_closed() == ["Goodbye!"]
    await plain.close()


async def test_an_irc_client_over_tls_chats_with_a_plain_one(
    server: ChatServer, tls_files: TlsFiles
) -> None:
    secure = await IrcClient.open(server.irc_tls_port, tls=tls_files.client_context())
    await secure.register("sec")
    await secure.join("#lobby")
    plain = await IrcClient.open(server.irc_port)
    await plain.register("pla")
    await plain.join("#lobby")
    await plain.send("PRIVMSG #lobby :hello there")
    await secure.expect(":pla!~pla@127.0.0.1 PRIVMSG #lobby :hello there")
    await secure.send("QUIT :bye")
    assert (await secure.expect_closed())[-1].startswith("ERROR :")
    await plain.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_tls_below_1_2_is_refused(server: ChatServer, tls_files: TlsFiles) -> None:
    assert server.tls_context is not None
    assert server.tls_context.minimum_version is ssl.TLSVersion.TLSv1_2
    old = tls_files.client_context()
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await ChatClient.open(server.tls_port, tls=old)


async def openssl_s_client(port: int, ca: str, send: bytes) -> str:
    """What `openssl s_client`, checking the certificate, prints when `send` is its input."""
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca,
        "-verify_return_error", "-verify_ip", "127.0.0.1", "-ign_eof", "-brief",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(20):
        out, _ = await proc.communicate(send)
    return out.decode(errors="replace")


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
async def test_openssl_s_client_talks_to_both_tls_ports(
    server: ChatServer, tls_files: TlsFiles
) -> None:
    text = await openssl_s_client(server.tls_port, tls_files.ca, b"carol\n4\n")
    assert "Verification: OK" in text, text
    assert "* Welcome to chatroom." in text and "* Hello, carol!" in text
    assert "Goodbye!" in text
    irc = await openssl_s_client(
        server.irc_tls_port, tls_files.ca, b"NICK dave\r\nUSER d 0 * :d\r\nQUIT\r\n"
    )
    assert "Verification: OK" in irc, irc
    assert ":t.x 001 dave :Welcome" in irc and "ERROR :" in irc


async def test_a_plaintext_text_client_on_the_tls_port_is_told_at_once(
    server: ChatServer,
) -> None:
    # It waits for a welcome, as telnet does; no TLS bytes come, so the server speaks.
    client = await ChatClient.open(server.tls_port)
    wanted = f"! This port speaks TLS only; without TLS, connect to port {server.port}."
    assert await client.expect_closed(timeout=3) == [wanted]


async def test_a_plaintext_irc_client_on_the_tls_port_gets_an_error_line(
    server: ChatServer,
) -> None:
    client = await IrcClient.open(server.irc_tls_port)
    await client.send("NICK plain", "USER p 0 * :p")
    wanted = f"ERROR :This port speaks TLS only; without TLS, connect to port {server.irc_port}."
    assert await client.expect_closed(timeout=1) == [wanted]


def client_hello() -> bytes:
    """The first bytes a TLS client sends."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="x")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


async def test_a_tls_client_on_a_plain_port_is_told_which_port_speaks_tls(
    server: ChatServer,
) -> None:
    text = await ChatClient.open(server.port)
    await text.send_bytes(client_hello())
    lines = await text.expect_closed(timeout=2)
    assert lines[-1] == f"! This port does not speak TLS; TLS is on port {server.tls_port}."
    irc = await IrcClient.open(server.irc_port)
    await irc.send_bytes(client_hello())
    assert await irc.expect_closed(timeout=2) == [
        f"ERROR :This port does not speak TLS; TLS is on port {server.irc_tls_port}."
    ]


async def test_a_silent_handshake_counts_against_the_caps_and_times_out(
    tls_files: TlsFiles,
) -> None:
    config = tls_config(tls_files, max_clients=2, tls_hello_timeout_s=0, tls_handshake_timeout_s=1)
    chat = ChatServer(config)
    await chat.start()
    try:
        silent = [await asyncio.open_connection("127.0.0.1", chat.tls_port) for _ in range(2)]
        await wait_until(lambda: len(chat.connections()) == 2)
        full = await ChatClient.open(chat.port)
        assert await full.expect_closed() == ["! Server is full (2 connections). Try again later."]
        turned_away, _ = await asyncio.open_connection("127.0.0.1", chat.tls_port)
        async with asyncio.timeout(2):
            assert await turned_away.read() == b""  # closed before any handshake
        for reader, _writer in silent:  # the handshake timeout closes them
            async with asyncio.timeout(3):
                assert await reader.read() == b""
        await wait_until(lambda: not chat.connections())
    finally:
        await chat.aclose()


async def test_sighup_reload_takes_a_good_pair_and_refuses_a_bad_one(
    server: ChatServer, tls_files: TlsFiles, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = await ChatClient.open(server.tls_port, tls=tls_files.client_context())
    await before.login("early")
    renewed = make_tls_files(tmp_path / "renewed", name="renewed")
    Path(tls_files.cert).write_bytes(Path(renewed.cert).read_bytes())
    Path(tls_files.key).write_bytes(Path(renewed.key).read_bytes())
    assert server.reload_tls()
    assert "TLS certificate reloaded from" in caplog.text
    after = await ChatClient.open(server.tls_port, tls=renewed.client_context())
    await after.login("late")
    cert = after.writer.get_extra_info("peercert")
    assert ("commonName", "renewed") in [pair for rdn in cert["subject"] for pair in rdn]
    Path(tls_files.key).write_text("not a key\n")  # a renewal gone wrong
    assert not server.reload_tls()
    warnings = [r.getMessage() for r in caplog.records if "TLS reload refused" in r.getMessage()]
    assert len(warnings) == 1 and "keeping the current certificate" in warnings[0]
    still = await ChatClient.open(server.tls_port, tls=renewed.client_context())
    await still.login("still")
    await before.send("/who")  # the first one was never dropped
    await before.expect(re.compile(r"Enter your choice:"))
    for client in (before, after, still):
        await client.close()


async def never_reading_tls_client(
    port: int, context: ssl.SSLContext, send: bytes
) -> socket.socket:
    """A raw TLS client that does its handshake, sends `send`, then never reads again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            await loop.sock_sendall(sock, outgoing.read())
            incoming.write(await loop.sock_recv(sock, 65536))
    tls.write(send)
    await loop.sock_sendall(sock, outgoing.read())
    return sock


async def test_a_stalled_tls_member_is_dropped_with_its_queue_bounded(
    tls_files: TlsFiles,
) -> None:
    limit = 64 * 1024
    chat = ChatServer(tls_config(tls_files, max_send_queue_bytes=limit))
    await chat.start()
    try:
        context = tls_files.client_context()
        talkers = [await ChatClient.open(chat.tls_port, tls=context) for _ in range(2)]
        await talkers[0].login("t0")
        await talkers[0].create("lobby")
        await talkers[1].login("t1")
        await talkers[1].join("lobby")
        sock = await never_reading_tls_client(chat.tls_port, context, b"stalled\n/join lobby\n")
        await talkers[0].expect("* stalled has joined lobby")
        server_side = connection_of(chat, "stalled").transport
        assert server_side is not None  # a slow network: the kernel buffers little for it
        server_side.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        most, count, padding = 0, 400, "x" * 1000
        t0, t1 = talkers
        others = asyncio.create_task(t1.expect("* stalled has quit (send queue exceeded)"))
        notices: list[str] = []
        for n in range(count):  # each line waits for its echo: fan-out done, queues seen
            await t0.send(f"{n} {padding}")
            lines = await t0.expect(re.compile(rf"\[\d\d:\d\d\] <t0> {n} x+"))
            notices += lines[:-1]
            most = max([most, *(c.send_queue_bytes() for c in chat.connections())])
            if notices and others.done():
                break
        assert notices == ["* stalled has quit (send queue exceeded)"]
        said = [line for line in await others if line.startswith("[")]
        assert all(f"<t0> {m} {padding}" in line for m, line in enumerate(said))  # all, in order
        assert most <= limit + 2048, f"{most} bytes queued for one member"
        sock.close()
        for client in talkers:
            await client.close()
    finally:
        await chat.aclose()


async def test_the_password_prompt_over_tls_on_both_doors(tls_files: TlsFiles) -> None:
    chat = ChatServer(tls_config(tls_files, password="sesame"))
    await chat.start()
    try:
        text = await ChatClient.open(chat.tls_port, tls=tls_files.client_context())
        await text.expect("Enter the server password:")
        await text.send("sesame")
        await text.login("alice")
        irc = await IrcClient.open(chat.irc_tls_port, tls=tls_files.client_context())
        await irc.send("PASS wrong", "NICK bob", "USER b 0 * :b")
        assert (await irc.expect_closed())[0] == ":t.x 464 bob :Password incorrect"
        await text.close()
    finally:
        await chat.aclose()


async def test_no_plain_keeps_only_the_tls_listeners(tls_files: TlsFiles) -> None:
    chat = ChatServer(tls_config(tls_files, plain=False))
    assert await chat.start() == chat.tls_port
    try:
        assert (chat.port, chat.irc_port) == (0, 0) and chat.tls_port and chat.irc_tls_port
        client = await ChatClient.open(chat.tls_port, tls=tls_files.client_context())
        await client.login("solo")
        await client.close()
    finally:
        await chat.aclose()


# --- STS (IRCv3 sts): only when asked for, never with a self-signed certificate ---


async def cap_ls(port: int, tls: ssl.SSLContext | None = None) -> str:
    client = await IrcClient.open(port, tls=tls)
    await client.send("CAP LS 302")
    lines = await client.expect(re.compile(r":t.x CAP \* LS :.*"))
    await client.close()
    return lines[-1]


async def test_sts_is_not_offered_by_default(server: ChatServer, tls_files: TlsFiles) -> None:
    assert " sts" not in await cap_ls(server.irc_port)
    assert " sts" not in await cap_ls(server.irc_tls_port, tls_files.client_context())


async def test_sts_says_where_on_the_plain_port_and_how_long_over_tls(tls_files: TlsFiles) -> None:
    chat = ChatServer(tls_config(tls_files, sts_duration_s=86400))
    await chat.start()
    try:
        assert (await cap_ls(chat.irc_port)).endswith(f" sts=port={chat.irc_tls_port}")
        secure = await cap_ls(chat.irc_tls_port, tls_files.client_context())
        assert secure.endswith(" sts=duration=86400")
    finally:
        await chat.aclose()


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_sts_is_refused_for_a_self_signed_certificate(
    tmp_path: Path, tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = self_signed(tmp_path / "own")
    assert is_self_signed(cert, key) and not is_self_signed(tls_files.cert, tls_files.key)
    with pytest.raises(SystemExit):
        parse_args(["--tls-cert", cert, "--tls-key", key, "--sts-duration", "3600"])
    assert capsys.readouterr().err.splitlines()[0].split(": error: ")[1] == (
        f"--sts-duration: {cert} is self-signed: IRC clients cannot verify "
        "it, so an STS policy would lock them out; use a certificate from a CA (e.g. Let's "
        "Encrypt)"
    )
    args = ["--tls-cert", tls_files.cert, "--tls-key", tls_files.key, "--sts-duration", "60"]
    assert parse_args(args).sts_duration_s == 60
    server_context(cert, key)  # the README's self-signed pair serves without STS


# --- Bad certificates and flags: one line, nothing started ---


@pytest.mark.parametrize(
    ("make", "wanted"),
    [
        (lambda f, d: ["--tls-cert", f.cert], "--tls-cert and --tls-key go together"),
        (lambda f, d: ["--tls-cert", str(d / "none.pem"), "--tls-key", f.key],
         "no such file"),
        (lambda f, d: ["--tls-cert", f.key, "--tls-key", f.key], "--tls-cert/--tls-key: cannot"),
        (lambda f, d: ["--tls-cert", f.cert, "--tls-key", f.ca], "--tls-cert/--tls-key: cannot"),
        (lambda f, d: ["--no-plain"], "--no-plain needs --tls-cert and --tls-key"),
        (lambda f, d: ["--tls-port", "70000"], "port must be 0 to 65535, not 70000"),
        (lambda f, d: ["--irc-tls-port", "x"], "not a port number: 'x'"),
    ],
    ids=["cert alone", "missing file", "key as cert", "mismatched key", "no-plain alone",
         "tls port too big", "irc tls port not a number"],
)  # fmt: skip
def test_bad_tls_flags_are_one_line(
    make: object, wanted: str, tls_files: TlsFiles, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert callable(make)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(make(tls_files, tmp_path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert wanted in err.splitlines()[0] and "Traceback" not in err


def test_a_certificate_that_cannot_be_read_is_named(
    tls_files: TlsFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, config = tmp_path / "none.pem", tmp_path / "chatroom.toml"
    config.write_text(f'tls-cert = "{missing}"\ntls-key = "{tls_files.key}"\n')
    cases = [
        (["--tls-cert", str(missing), "--tls-key", tls_files.key], f"{missing}: no such file"),
        (["--tls-cert", tls_files.cert, "--tls-key", str(missing)], f"{missing}: no such file"),
        (["--tls-cert", str(tmp_path), "--tls-key", tls_files.key], f"{tmp_path}: is a directory"),
        (["--config", str(config)], f"{config}: --tls-cert/--tls-key: cannot read {missing}"),
    ]
    for argv, wanted in cases:
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert wanted in capsys.readouterr().err.splitlines()[0]


async def test_a_plaintext_client_that_half_closes_at_once_is_told_too(
    server: ChatServer,
) -> None:
    client = await ChatClient.open(server.tls_port)
    client.writer.write_eof()  # nc -N with nothing to say
    wanted = f"! This port speaks TLS only; without TLS, connect to port {server.port}."
    assert await client.expect_closed(timeout=1) == [wanted]
