"""The chat server: the listening socket, its connections, start-up and shutdown.

`python server.py --help` lists the options. This module owns the listening socket
and the limits on connections (how many, from where); connection.py owns each
client's socket and the limits on its lines and its output; everything a line means
lives in session.py, who is where in rooms.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import importlib.util
import logging
import os
import resource
import signal
import socket
import ssl
import sys
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from config import Config
from configfile import parse_with_config
from doors.connection import Connection, Door
from doors.irc.door import irc_door
from doors.irc.session import IrcDoor
from doors.text.render import TextRender
from doors.text.session import Session
from doors.tls import TlsLink, TlsSetupError, server_context, sts_problem
from rooms import RoomManager
from store import StoreError
from store.sqlite import open_history
from utils import address_group, clean, is_loopback, port_number

log = logging.getLogger("chatroom")


class ChatServer:
    """The listening socket, the connections, and the shared registry."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rooms = RoomManager(
            max_rooms=config.max_rooms, max_joined=config.max_joined,
            max_list_masks=config.max_list_masks, max_invites=config.max_invites,
            max_key_chars=config.max_key_chars, server_name=config.irc_server_name,
            replay_lines=config.replay_lines,
        )  # fmt: skip
        self.render = TextRender()
        self.receive_buffer = memoryview(bytearray(256 * 1024))  # shared: see Connection
        self.port = 0
        self.irc_port = 0  # 0 while the IRC door is closed
        self.tls_port = 0  # the TLS listeners' ports; 0: none
        self.irc_tls_port = 0
        self.tls_context: ssl.SSLContext | None = None  # replaced whole by reload_tls()
        self.irc = IrcDoor(self.rooms, config)
        self._servers: list[asyncio.Server] = []
        self._doors: list[tuple[asyncio.Server, str, int, str]] = []  # to start, and log
        self._connections: set[Connection] = set()
        self._per_ip: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_gone = asyncio.Event()
        self.link: Any = None  # cluster.link.ClusterLink with --cluster (issue 13)

    def text_door(self) -> Door:
        config = self.config

        def session(conn: Connection) -> Session:
            return Session(
                self.rooms, config, conn.say, write=conn.write, render=self.render,
                peer=conn.peer, close=conn.close,
            )  # fmt: skip

        return Door(
            "text", session, config.max_line_bytes, refusal=lambda text: f"! {text}",
            redact=_redact_reclaim,
        )  # fmt: skip

    async def start(self) -> int:
        """Listen on each door; return the text door's port (useful with port 0).
        OSError if a port cannot be had, unless it is the IRC door's default one;
        StoreError if the history database cannot be used."""
        config = self.config
        if config.tls_cert:
            self.tls_context = server_context(config.tls_cert, config.tls_key)
        if config.cluster:
            await self._join_cluster()
        if config.plain:
            self.port = await self._listen(self.text_door(), config.port)
        if config.irc_port is not None and config.plain:
            try:
                self.irc_port = await self._listen(irc_door(self.irc), config.irc_port)
            except OSError as exc:
                if config.irc_port_required:
                    await self.aclose()
                    raise
                log.warning(
                    "IRC door closed: cannot listen on %s:%d: %s",
                    config.host, config.irc_port, _reason(exc),
                )  # fmt: skip
        await self._listen_tls()
        if config.sts_duration_s and self.irc_tls_port:  # IRCv3 sts: plain says where, TLS how long
            self.irc.sts_policy = {
                False: f"port={self.irc_tls_port}",
                True: f"duration={config.sts_duration_s}",
            }
        if config.db_path:  # after the ports (a busy one makes no file), before any user
            try:
                await self._open_history()
            except StoreError:
                for listener in self._servers:
                    listener.close()
                raise
        if self.link is not None:
            await self.link.go()
        for listener, name, port, tls in self._doors:
            await listener.start_serving()
            log.info("%s door listening on %s:%d%s", name, config.host, port, tls)
        return self.port or self.tls_port

    async def _join_cluster(self) -> None:
        """Reach Redis before listening: ClusterUnreachable (one line) if it cannot."""
        from cluster.bus import FAULTS, why
        from cluster.link import ClusterLink

        node = self.config.node_name or f"{socket.gethostname().split('.')[0]}-{os.getpid()}"
        self.link = ClusterLink(self.rooms, self.config.cluster, node)
        try:
            async with asyncio.timeout(5):
                await self.link.start()
        except (*FAULTS, ValueError) as exc:
            await self.link.bus.aclose()
            self.link = None
            raise ClusterUnreachable(
                f"cannot reach Redis at {self.config.cluster}: {why(exc)}"
            ) from None

    async def _open_history(self) -> None:
        config = self.config
        if self.link is not None:  # a cluster's history is in Redis, for every node
            from cluster.history import RedisHistory

            redis_history = RedisHistory(
                self.link, recent=config.replay_lines, retention_s=config.history_days * 86400
            )
            await redis_history.load()
            self.rooms.attach_history(redis_history)
            log.info("history in Redis (%d rooms kept)", len(self.rooms.rooms()))
            return
        history = await asyncio.to_thread(
            open_history, config.db_path, recent=config.replay_lines,
            retention_s=config.history_days * 86400, queue_max=config.history_queue_max,
        )  # fmt: skip
        self.rooms.attach_history(history)
        kept = len(self.rooms.rooms())
        log.info("history in %s (%d room%s kept)", config.db_path, kept, "" if kept == 1 else "s")

    async def _listen(self, door: Door, port: int) -> int:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Connection(self, door), self.config.host, port, backlog=1024,
            start_serving=False, reuse_port=self.config.reuse_port or None,
        )  # fmt: skip
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        self._doors.append((server, door.name, bound, ""))  # start() starts serving them
        return bound

    # --- TLS (issue 11): doors/tls.py runs it; here are its listeners and reload ---
    async def _listen_tls(self) -> None:
        config = self.config
        if self.tls_context is None:
            return
        try:
            if config.tls_port is not None:
                self.tls_port = await self._listen_tls_door(self.text_door(), config.tls_port)
            if config.irc_tls_port is not None:
                irc = irc_door(self.irc)
                self.irc_tls_port = await self._listen_tls_door(irc, config.irc_tls_port)
        except OSError:
            await self.aclose()
            raise

    async def _listen_tls_door(self, door: Door, port: int) -> int:
        loop = asyncio.get_running_loop()
        plain = self.port if door.name == "text" else self.irc_port

        def accepted() -> TlsLink:
            assert self.tls_context is not None
            return TlsLink(Connection(self, door), self.tls_context, plain)

        server = await loop.create_server(
            accepted,
            self.config.host,
            port,
            backlog=1024,
            start_serving=False,
            reuse_port=self.config.reuse_port or None,
        )
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        self._doors.append((server, door.name, bound, " (TLS)"))  # start() starts serving
        return bound

    def tls_hint(self, door: Door) -> str:
        """What a TLS client on this door's plain port is told."""
        port = self.tls_port if door.name == "text" else self.irc_tls_port
        if port:
            return f"This port does not speak TLS; TLS is on port {port}."
        return "This port does not speak TLS."

    def reload_tls(self) -> bool:
        """SIGHUP: a new context from the certificate and key files, used only if good;
        connections keep the one they started with. One log line either way."""
        config = self.config
        if not config.tls_cert:
            log.info("SIGHUP: no TLS certificate to reload")
            return False
        try:
            context = server_context(config.tls_cert, config.tls_key)
        except TlsSetupError as exc:
            log.warning("TLS reload refused, keeping the current certificate: %s", exc)
            return False
        self.tls_context = context
        log.info("TLS certificate reloaded from %s", config.tls_cert)
        return True

    def admit(self, conn: Connection) -> str | None:
        """Register a new connection, or say why it may not stay."""
        if len(self._connections) >= self.config.max_clients:
            return f"Server is full ({self.config.max_clients} connections). Try again later."
        limit, group = self.config.max_per_ip, address_group(conn.ip)
        if limit and self._per_ip[group] >= limit and not is_loopback(conn.ip):
            return f"Too many connections from your address (limit {limit})."
        self._connections.add(conn)
        self._per_ip[group] += 1
        return None

    def forget(self, conn: Connection) -> None:
        self._connections.discard(conn)
        group = address_group(conn.ip)
        self._per_ip[group] -= 1
        if self._per_ip[group] <= 0:
            del self._per_ip[group]
        if not self._connections:
            self._all_gone.set()

    def track(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a connection's cleanup; aclose() waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop accepting, tell everyone, close every connection, wait for cleanups."""
        for listener in self._servers:
            listener.close()
        self._all_gone.clear()
        for conn in list(self._connections):
            conn.shut_down()
        if self._connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace_s)
        for conn in list(self._connections):
            conn.abort()
        while self._tasks:  # on 3.12+ gather() of done tasks does not yield: forget them
            tasks = list(self._tasks)
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)
        if self.link is not None:
            await self.link.aclose()
            self.link = None
        await self.rooms.history.aclose()
        log.info("stopped")


class ClusterUnreachable(Exception):
    """--cluster names a Redis this server cannot reach; one line."""


def _failed_port(server: ChatServer, config: Config) -> int | None:
    """The port that could not be had: the first one not yet bound, in start()'s order."""
    wanted = (
        (config.plain, server.port, config.port),
        (config.plain and config.irc_port is not None, server.irc_port, config.irc_port),
        (config.tls_port is not None, server.tls_port, config.tls_port),
    )
    for asked, bound, port in wanted:
        if asked and not bound:
            return port
    return config.irc_tls_port


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def _redact_reclaim(raw: bytes) -> bytes:
    """A line as the debug log may show it: never a reclaim code."""
    if raw[:9].lower() == b"/reclaim ":
        return raw[:9] + raw[9:].split(b" ", 1)[0] + b" <code>"
    return raw


def raise_open_file_limit() -> None:
    """Let the server hold as many sockets as the hard limit allows, without ulimit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# Each option: flag, the Config field it sets, its type, a metavar, what it means.
OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str | None, str], ...] = (
    ("--host", "host", str, None, "address to listen on"),
    ("--port", "port", port_number, None, "text door's port; 0 picks a free one and the log "
     "says which"),
    ("--max-line", "max_line_bytes", int, "BYTES", "longest line a client may send"),
    ("--max-clients", "max_clients", int, "N", "connections in total"),
    ("--max-per-ip", "max_per_ip", int, "N", "connections from one address (IPv6: one "
     "/64); 0: no limit; loopback is exempt"),
    ("--max-send-queue", "max_send_queue_bytes", int, "BYTES", "output a client may fall "
     "behind by before it is disconnected"),
    ("--max-rooms", "max_rooms", int, "N", "rooms at once"),
    ("--rate", "rate_lines_per_s", float, "LINES", "lines a second per client; 0 turns "
     "flood control off"),
    ("--burst", "burst_lines", int, "LINES", "lines a client may send at once before --rate "
     "applies"),
    ("--login-timeout", "login_timeout_s", float, "SECONDS", "time to choose a name; 0: "
     "no limit"),
    ("--max-bans", "max_list_masks", int, "N", "masks in each of a room's lists: bans, "
     "ban exceptions, invite exceptions"),
    ("--max-invites", "max_invites", int, "N", "a room's invitations not yet used"),
    ("--log-level", "log_level", str.upper, "LEVEL", "DEBUG, INFO, WARNING or ERROR"),
)  # fmt: skip


def default_server_name() -> str:
    """The host's name; IRC clients tell servers from nicks by a dot in the name."""
    name = socket.getfqdn() or "chatroom"
    return name if "." in name else name + ".local"


def read_motd(path: str) -> tuple[str, ...]:
    """The message of the day's lines, or ArgumentTypeError."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return tuple(clean(text.rstrip("\n")) for text in file)[:200]
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {_reason(exc)}") from None


def read_password(path: str) -> str:
    """The first line of a password file, or ArgumentTypeError."""
    try:
        with open(path, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = _reason(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise argparse.ArgumentTypeError(f"cannot read {path}: {reason}") from None
    if not password:
        raise argparse.ArgumentTypeError(f"{path}: the first line is empty")
    return password


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """TLS (issue 11): listeners beside the plain ones, and the IRC STS policy."""
    tls = parser.add_argument_group("TLS (both doors; SIGHUP reloads the certificate)")
    tls.add_argument(
        "--tls-cert", metavar="FILE", default="",
        help="PEM certificate chain: turns on the TLS listeners (with --tls-key)",
    )  # fmt: skip
    tls.add_argument("--tls-key", metavar="FILE", default="", help="PEM private key")
    tls.add_argument(
        "--tls-port", type=port_number, metavar="PORT", default=8443,
        help="text door's TLS port; 0 picks a free one (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--irc-tls-port", type=port_number, metavar="PORT", default=6697,
        help="IRC door's TLS port; 0 picks a free one (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--no-plain", dest="plain", action="store_false",
        help="no plain listeners: TLS only (needs --tls-cert)",
    )  # fmt: skip
    tls.add_argument(
        "--tls-handshake-timeout", type=float, metavar="SECONDS", default=10.0,
        dest="tls_handshake_timeout_s",
        help="time a TLS handshake may take (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--sts-duration", type=int, metavar="SECONDS", default=0, dest="sts_duration_s",
        help="offer IRC clients an STS policy (IRCv3 sts) of this many seconds: they will "
        "use TLS only from then on; never with a self-signed certificate (default: none)",
    )  # fmt: skip


def check_tls_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The TLS options together: a pair of files that loads, what --no-plain and STS need."""
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_handshake_timeout_s <= 0:
        parser.error("--tls-handshake-timeout must be more than 0")
    if args.sts_duration_s < 0:
        parser.error("--sts-duration cannot be negative")
    if not args.tls_cert:
        if not args.plain:
            parser.error("--no-plain needs --tls-cert and --tls-key")
        if args.sts_duration_s:
            parser.error("--sts-duration needs --tls-cert and --tls-key")
        args.tls_port = args.irc_tls_port = None
        return
    try:
        server_context(args.tls_cert, args.tls_key)
    except TlsSetupError as exc:
        parser.error(f"--tls-cert/--tls-key: {exc}")
    if args.sts_duration_s and (problem := sts_problem(args.tls_cert, args.tls_key)):
        parser.error(f"--sts-duration: {problem}")


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """A cluster (issue 13, docs/cluster.md): servers sharing one chat through Redis."""
    group = parser.add_argument_group("a cluster (docs/cluster.md; pip install '.[cluster]')")
    group.add_argument(
        "--cluster", metavar="URL", default="",
        help="redis://HOST:PORT/DB: every server given the same URL serves one chat "
        "(default: none, one server on its own)",
    )  # fmt: skip
    group.add_argument(
        "--node-name", metavar="NAME", default="",
        help="this server's name in the cluster, unique in it (default: host-pid)",
    )  # fmt: skip
    group.add_argument(
        "--workers", type=int, metavar="N", default=1,
        help="start N server processes sharing the ports (SO_REUSEPORT); needs --cluster "
        "(default %(default)s)",
    )  # fmt: skip


def check_cluster_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.reuse_port = args.workers > 1
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.node_name and not all(c.isalnum() or c in ".-_" for c in args.node_name):
        parser.error("--node-name: letters, digits, '.', '-' and '_' only")
    if not args.cluster:
        if args.workers > 1:
            parser.error("--workers needs --cluster (the workers share the chat through Redis)")
        if args.node_name:
            parser.error("--node-name needs --cluster")
        return
    if not args.cluster.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--cluster: a URL such as redis://127.0.0.1:6379/0")
    if importlib.util.find_spec("redis") is None:
        parser.error("--cluster needs the Redis client: pip install 'chatroom[cluster]' "
                     "(in a checkout: pip install '.[cluster]')")  # fmt: skip
    if args.workers > 1 and (args.port == 0 or args.irc_port == 0):
        parser.error("--workers needs fixed ports (not 0): the workers share them")


def add_history_options(parser: argparse.ArgumentParser) -> None:
    """History (issue 9): where it is kept, for how long, how much a joiner sees."""
    history = parser.add_argument_group("history (README: Where your data lives)")
    history.add_argument(
        "--db", dest="db_path", metavar="PATH", default="chatroom.db",
        help="the SQLite file that keeps rooms, topics and history (default: %(default)s "
        "in the working directory)",
    )  # fmt: skip
    history.add_argument("--no-history", action="store_true", help="keep nothing and write no file")
    history.add_argument(
        "--history-days", dest="history_days", type=float, metavar="D", default=30.0,
        help="lines older than D days expire; 0 keeps them for ever (default %(default)g)",
    )  # fmt: skip
    history.add_argument(
        "--replay", dest="replay_lines", type=int, metavar="N", default=20,
        help="lines a room replays to whoever joins it; 0: none (default %(default)s)",
    )  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """The Config that the command line asks for."""
    defaults = Config()
    parser = argparse.ArgumentParser(
        description="A terminal chat server with a text door and an IRC door "
        "(docs/protocol.md, docs/irc.md)."
    )
    for flag, field, kind, metavar, meaning in OPTIONS:
        default = getattr(defaults, field)
        parser.add_argument(
            flag, dest=field, type=kind, default=default, metavar=metavar,
            help=f"{meaning} (default {default})",
        )  # fmt: skip
    irc = parser.add_argument_group("the IRC door (docs/irc.md)")
    irc.add_argument(
        "--irc-port", type=port_number, metavar="PORT",
        help="IRC door's port; 0 picks a free one and the log says which (default 6667; "
        "a busy default port is a warning, a busy port asked for an error)",
    )  # fmt: skip
    irc.add_argument("--no-irc", action="store_true", help="no IRC door")
    irc.add_argument(
        "--irc-server-name", metavar="NAME", default=None,
        help="the server's name in IRC replies (default: this host's name)",
    )  # fmt: skip
    irc.add_argument(
        "--irc-server-info", metavar="TEXT", default=defaults.irc_server_info,
        help="the server's description in LINKS, WHOIS and ADMIN (default: %(default)s)",
    )  # fmt: skip
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password", metavar="PASS", default="",
        help="a server password both doors ask for (IRC: PASS); other users of this "
        "machine can see it in the process list, so prefer --password-file",
    )  # fmt: skip
    secret.add_argument(
        "--password-file", type=read_password, metavar="FILE", dest="password_from_file",
        help="read the server password from the first line of FILE",
    )  # fmt: skip
    parser.add_argument(
        "--motd", type=read_motd, metavar="FILE", default=(),
        help="message of the day, shown on both doors (default: none)",
    )  # fmt: skip
    parser.add_argument(
        "--uvloop", action="store_true", help="use uvloop if it is installed (optional, faster)"
    )
    add_tls_options(parser)
    add_cluster_options(parser)
    add_history_options(parser)
    parser.add_argument(
        "--config", metavar="FILE", dest="config_file",
        help="read options from a TOML file: keys are the long option names (port = 8080, "
        'tls-cert = "/etc/chatroom/cert.pem"); the command line wins; see '
        "contrib/chatroom.toml",
    )  # fmt: skip
    args = parse_with_config(parser, argv)
    del args.config_file
    check_tls_options(parser, args)
    check_cluster_options(parser, args)
    args.db_path = "" if args.no_history else args.db_path
    del args.no_history
    args.password = args.password_from_file or args.password
    del args.password_from_file
    irc_port, no_irc = args.irc_port, args.no_irc
    del args.no_irc
    args.irc_port_required = irc_port is not None
    args.irc_port = None if no_irc else 6667 if irc_port is None else irc_port
    if no_irc:
        args.irc_tls_port = None
    args.irc_server_name = args.irc_server_name or default_server_name()
    if not all(c.isalnum() or c in ".-" for c in args.irc_server_name):
        parser.error("--irc-server-name: letters, digits, '.' and '-' only")
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        parser.error(f"--log-level: unknown level {args.log_level!r}")
    for flag, field in (("--history-days", "history_days"), ("--replay", "replay_lines")):
        if getattr(args, field) < 0:
            parser.error(f"{flag} cannot be negative")
    if args.replay_lines > 500:
        parser.error("--replay: at most 500")
    for flag, field, *_ in OPTIONS:
        if isinstance(getattr(args, field), int | float) and getattr(args, field) < 0:
            parser.error(f"{flag} cannot be negative")
    for flag, field in (("--burst", "burst_lines"), ("--max-line", "max_line_bytes"),
                        ("--max-clients", "max_clients"), ("--max-rooms", "max_rooms"),
                        ("--max-send-queue", "max_send_queue_bytes")):  # fmt: skip
        if getattr(args, field) < 1:
            parser.error(f"{flag} must be at least 1")
    return Config(**vars(args))


async def serve(config: Config) -> int:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    server = ChatServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before start(): a signal while it
        with contextlib.suppress(NotImplementedError):  # runs still stops gracefully
            loop.add_signal_handler(signum, stop.set)  # (Windows: Ctrl-C raises instead)
    with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
        loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
    try:
        await server.start()
    except TlsSetupError as exc:
        log.error("TLS: %s", exc)
        return 1
    except (ClusterUnreachable, StoreError) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        port = _failed_port(server, config)
        log.error("cannot listen on %s:%s: %s", config.host, port, _reason(exc))
        return 1
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    raise_open_file_limit()
    if config.workers > 1:
        return run_workers(config)
    factory = None
    if config.uvloop:
        try:
            factory = importlib.import_module("uvloop").new_event_loop  # optional extra
        except ImportError:
            log.warning("uvloop is not installed; using asyncio's own loop")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(serve(config))
    except KeyboardInterrupt:
        return 0


def run_workers(config: Config) -> int:
    """--workers N: N forked server processes, each a node of the cluster, sharing the
    ports; SIGINT and SIGTERM are passed on, and the exit status is the worst one."""
    children: list[int] = []
    for n in range(1, config.workers + 1):
        name = f"{config.node_name}-{n}" if config.node_name else ""
        pid = os.fork()
        if pid == 0:
            worker = dataclasses.replace(config, workers=1, node_name=name)
            try:
                with asyncio.Runner() as runner:
                    code = runner.run(serve(worker))
            except KeyboardInterrupt:
                code = 0
            os._exit(code)
        children.append(pid)

    def pass_on(signum: int, frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    worst = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        worst = max(worst, os.waitstatus_to_exitcode(status) & 0xFF)
    return worst


if __name__ == "__main__":
    sys.exit(main())
