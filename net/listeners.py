"""The listening sockets and their connections: which doors listen where, the limits on
connections (how many, from where), TLS listeners and reload, start-up and shutdown.

`ChatServer` assembles the server: the registry (rooms.py), its history store, the
cluster link (--cluster), and a listener per door. What a connection does with its
bytes is net/connection.py's; what a line means is its door's. The WebSocket door is
the IRC door under a WebSocket layer (net/weblink.py), imported only when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from config.certificates import TlsSetupError, server_context
from config.settings import Config
from doors.door import Door
from doors.irc.door import irc_door
from doors.irc.session import IrcDoor
from doors.text.door import text_door
from net.connection import Connection
from net.timers import TimerWheel
from net.tls import TlsLink
from net.transport import BACKLOG, Acceptor, Readers, is_selector_loop, readers_for
from net.web import WEB_ROOT, Site, http_refusal
from registry.accounts import Accounts
from registry.hashing import HashingThreads
from registry.history import StoreError
from registry.opers import Opers
from rooms import RoomManager
from store.sqlite import open_history
from utils import address_group, counted, is_in, is_loopback, os_reason

if TYPE_CHECKING:
    from net.weblink import WebSocketLink
    from net.websocket import WebSocketDoor

log = logging.getLogger("chatroom")


class Serving(Protocol):
    """A listener start() starts: an asyncio Server, or an Acceptor over one."""

    async def start_serving(self) -> None: ...


class ChatServer:
    """The listening sockets, the connections, and the shared registry; each
    Connection's `Host` (net/connection.py)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hashing = HashingThreads()  # passwords: behind the loop for a CPU
        self.rooms = RoomManager(
            max_rooms=config.max_rooms, max_joined=config.max_joined,
            max_list_masks=config.max_list_masks, max_invites=config.max_invites,
            max_key_chars=config.max_key_chars, server_name=config.irc_server_name,
            replay_lines=config.replay_lines,
            opers=Opers(config.opers, clock=time.time, run_slow=self.hashing),
            accounts=Accounts(registration_open=config.registration_open, run_slow=self.hashing),
            max_watch=config.max_watch,
            max_held=config.max_held_messages,
        )  # fmt: skip
        self.rooms.always_on_default = config.always_on
        self.receive_buffer = memoryview(bytearray(256 * 1024))  # shared: see Connection
        self.is_line_starting = False  # see Connection._start
        self.port = 0
        self.irc_port = 0  # 0 while the IRC door is closed
        self.tls_port = 0  # the TLS listeners' ports; 0: none
        self.irc_tls_port = 0
        self.websocket_port = 0  # the WebSocket door's (ws://, http://); 0: none
        self.websocket_tls_port = 0  # ... and over TLS (wss://, https://)
        self.tls_context: ssl.SSLContext | None = None  # replaced whole by reload_tls()
        self.irc = IrcDoor(self.rooms, config)
        self.text = text_door(self.rooms, config)
        # IRC for browsers: the IRC door's sessions, with no STS (a browser cannot follow
        # one to the IRC TLS port); a refusal is an HTTP reply (net/web.py).
        self.websocket = replace(irc_door(self.irc, sts=False), name="WebSocket",
                                 refusal=http_refusal)  # fmt: skip
        self.web: WebSocketDoor | None = None  # with a WebSocket port: its page and rules
        self.trusted = tuple(ipaddress.ip_network(n) for n in config.trusted_proxies)
        self._servers: list[asyncio.Server] = []
        self._doors: list[tuple[Serving, str, int, str]] = []  # to start, and log
        self._connections: set[Connection] = set()
        self._per_ip: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_gone = asyncio.Event()
        self._timers: TimerWheel | None = None
        self._reads: Readers | None = None  # what reads our transports (net/transport.py)
        self.link: Any = None  # cluster.link.ClusterLink with --cluster

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
            self.port = await self._listen(self.text, config.port)
        if config.irc_port is not None and config.plain:
            try:
                self.irc_port = await self._listen(irc_door(self.irc), config.irc_port)
            except OSError as exc:
                if config.irc_port_required:
                    await self.aclose()
                    raise
                log.warning(
                    "IRC door closed: cannot listen on %s:%d: %s",
                    config.host, config.irc_port, os_reason(exc),
                )  # fmt: skip
        if config.websocket_port is not None or config.websocket_tls_port is not None:
            await self._open_web()
        if config.websocket_port is not None and config.plain:
            self.websocket_port = await self._listen(self.websocket, config.websocket_port)
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
        try:
            await self._open_accounts()
        except ClusterUnreachable:
            for listener in self._servers:
                listener.close()
            raise
        if self.link is not None:
            await self.link.go()
        for serving, name, port, tls in self._doors:
            await serving.start_serving()
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
            log.info("history in Redis (%s kept)", counted(len(self.rooms.rooms()), "room"))
            return
        history = await asyncio.to_thread(
            open_history, config.db_path, recent=config.replay_lines,
            retention_s=config.history_days * 86400, queue_max=config.history_queue_max,
            queue_bytes=config.history_queue_bytes,
        )  # fmt: skip
        self.rooms.attach_history(history)
        self.rooms.attach_accounts(history)  # the same file: a table of its own
        self.rooms.attach_bans(history)  # ...and another
        self.rooms.restore_always_on()  # with rooms, accounts and bans: the users kept
        kept = counted(len(self.rooms.rooms()), "room")
        log.info("history in %s (%s kept)", config.db_path, kept)
        log.info(
            "accounts in %s (%s)", config.db_path, counted(len(self.rooms.accounts), "account")
        )
        log.info("server bans in %s (%s)", config.db_path, counted(len(self.rooms.bans), "ban"))

    async def _open_accounts(self) -> None:
        """In a cluster, the accounts and server bans are in Redis whether history is
        kept or not (the database's were attached with it); with neither, in memory
        only, which the log says when it matters (registration open; opers to ban)."""
        accounts = self.rooms.accounts
        if self.link is not None:
            from cluster.accounts import RedisAccounts
            from cluster.bans import RedisBans
            from cluster.bus import FAULTS, why

            store, bans = RedisAccounts(self.link), RedisBans(self.link)
            try:
                async with asyncio.timeout(5):
                    await store.load()
                    await bans.load()
            except FAULTS as exc:
                raise ClusterUnreachable(
                    f"cannot read the accounts from Redis at {self.config.cluster}: {why(exc)}"
                ) from None
            self.rooms.attach_accounts(store)
            self.rooms.attach_bans(bans)
            log.info("accounts in Redis (%s)", counted(len(accounts), "account"))
            log.info("server bans in Redis (%s)", counted(len(self.rooms.bans), "ban"))
            return
        if self.config.db_path:
            return
        if accounts.registration_open:
            log.warning("accounts last until the server stops: --no-history keeps no database")
        if self.config.opers:
            log.warning("server bans last until the server stops: --no-history keeps no database")

    async def _open_web(self) -> None:
        """The WebSocket door's page (read from web/) and rules; its layer's modules,
        and so the websockets package, are imported only here."""
        from net.websocket import WebSocketDoor

        site = await asyncio.to_thread(self._load_site)
        self.web = WebSocketDoor(
            site, origins=self.config.websocket_origins, trusted=self.trusted,
            max_line_bytes=self.websocket.max_line_bytes,
        )  # fmt: skip

    def _upper(self, door: Door) -> Connection | WebSocketLink:
        """What reads a new connection's bytes: its Connection, or on the WebSocket
        door the WebSocket layer over it."""
        conn = Connection(self, door)
        if door is not self.websocket:
            return conn
        from net.weblink import WebSocketLink

        assert self.web is not None
        return WebSocketLink(conn, self.web)

    async def _listen(self, door: Door, port: int) -> int:
        return await self._bind(lambda: self._upper(door), door, port, "")

    async def _bind(
        self, accepted: Callable[[], asyncio.BaseProtocol], door: Door, port: int, tls: str
    ) -> int:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            accepted, self.config.host, port, backlog=BACKLOG, start_serving=False,
            reuse_port=self.config.reuse_port or None,
        )  # fmt: skip
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        # On asyncio's selector loop, lean transports of our own (net/transport.py):
        # an idle connection costs a third of asyncio's. Under uvloop, its own.
        serving: Serving = server
        if is_selector_loop(loop):
            if self._reads is None:
                self._reads = readers_for(loop)
            factory = cast(Callable[[], asyncio.BufferedProtocol], accepted)
            serving = Acceptor(server, factory, self._reads)
        self._doors.append((serving, door.name, bound, tls))  # start() starts serving them
        return bound

    # --- TLS: net/tls.py runs it; here are its listeners and reload ---
    async def _listen_tls(self) -> None:
        config = self.config
        if self.tls_context is None:
            return
        try:
            if config.tls_port is not None:
                self.tls_port = await self._listen_tls_door(self.text, config.tls_port)
            if config.irc_tls_port is not None:
                irc = irc_door(self.irc)
                self.irc_tls_port = await self._listen_tls_door(irc, config.irc_tls_port)
            if config.websocket_tls_port is not None:
                port = config.websocket_tls_port
                self.websocket_tls_port = await self._listen_tls_door(self.websocket, port)
        except OSError:
            await self.aclose()
            raise

    async def _listen_tls_door(self, door: Door, port: int) -> int:
        plain = self._ports(door)[0]

        def accepted() -> TlsLink:
            assert self.tls_context is not None
            return TlsLink(self._upper(door), self.tls_context, plain)

        return await self._bind(accepted, door, port, " (TLS)")

    def _ports(self, door: Door) -> tuple[int, int]:
        """A door's plain port and its TLS port (0: not open)."""
        if door.name == "text":
            return self.port, self.tls_port
        if door is self.websocket:
            return self.websocket_port, self.websocket_tls_port
        return self.irc_port, self.irc_tls_port

    def tls_hint(self, door: Door) -> str:
        """What a TLS client on this door's plain port is told."""
        port = self._ports(door)[1]
        if port:
            return f"This port does not speak TLS; TLS is on port {port}."
        return "This port does not speak TLS."

    def reload(self) -> None:
        """SIGHUP: the TLS certificate, and the web page's files."""
        self.reload_tls()
        self.reload_web()

    def reload_web(self) -> bool:
        """The web page's files read again (the WebSocket door's); False without one."""
        if self.web is None:
            return False
        self.web.site = self._load_site()
        return True

    def _load_site(self) -> Site:
        return Site.load(Path(self.config.web_root) if self.config.web_root else WEB_ROOT)

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

    @property
    def timers(self) -> TimerWheel:
        """The deadlines of every connection (logins, keepalive checks): one loop timer."""
        if self._timers is None:
            self._timers = TimerWheel(asyncio.get_running_loop())
        return self._timers

    def admit(self, conn: Connection) -> str | None:
        """Register a new connection, or say why it may not stay."""
        if len(self._connections) >= self.config.max_clients:
            return f"Server is full ({self.config.max_clients} connections). Try again later."
        refusal = self._over_per_ip(conn.ip)
        if refusal:
            return refusal
        self._connections.add(conn)
        self._per_ip[address_group(conn.ip)] += 1
        return None

    def _over_per_ip(self, ip: str) -> str | None:
        """Why one more connection from `ip` is one too many, or None. Loopback is
        exempt, and so is a trusted proxy: the clients behind it are counted by the
        addresses it names (readdress)."""
        limit, group = self.config.max_per_ip, address_group(ip)
        exempt = is_loopback(ip) or is_in(ip, self.trusted)
        if limit and self._per_ip[group] >= limit and not exempt:
            return f"Too many connections from your address (limit {limit})."
        return None

    def readdress(self, conn: Connection, ip: str) -> str | None:
        """A trusted proxy named the client's own address: count the connection against
        it from now on, in place of the proxy's, or say why it may not stay."""
        refusal = self._over_per_ip(ip)
        if refusal:
            return refusal
        self._uncount(conn.ip)
        conn.ip = ip
        self._per_ip[address_group(ip)] += 1
        return None

    def forget(self, conn: Connection) -> None:
        self._connections.discard(conn)
        self._uncount(conn.ip)
        if not self._connections:
            self._all_gone.set()

    def _uncount(self, ip: str) -> None:
        group = address_group(ip)
        self._per_ip[group] -= 1
        if self._per_ip[group] <= 0:
            del self._per_ip[group]

    def connections(self) -> list[Connection]:
        """The connections admitted and not yet gone, as a list of their own."""
        return list(self._connections)

    def cleanups_running(self) -> int:
        """How many closed connections' cleanups (their sessions' close) still run."""
        return len(self._tasks)

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
        self.rooms.markers.close()  # the read markers that moved, before the stores close
        self.rooms.presences.close()  # ...and the always-on users' rooms
        if self.link is not None:
            await self.link.aclose()
            self.link = None
        await self.rooms.history.aclose()
        self.hashing.shutdown()
        if self._reads is not None:
            self._reads.close()
        log.info("stopped")


class ClusterUnreachable(Exception):
    """--cluster names a Redis this server cannot reach; one line."""


def failed_port(server: ChatServer, config: Config) -> int | None:
    """The port that could not be had: the first one not yet bound, in start()'s order."""
    wanted = (
        (config.plain, server.port, config.port),
        (config.plain and config.irc_port is not None, server.irc_port, config.irc_port),
        (config.plain and config.websocket_port is not None, server.websocket_port,
         config.websocket_port),
        (config.tls_port is not None, server.tls_port, config.tls_port),
        (config.irc_tls_port is not None, server.irc_tls_port, config.irc_tls_port),
    )  # fmt: skip
    for asked, bound, port in wanted:
        if asked and not bound:
            return port
    return config.websocket_tls_port
