"""The listening sockets and their connections: which doors listen where, the limits on
connections (how many, from where), TLS listeners and reload, start-up and shutdown.

`ChatServer` assembles the server: the registry (rooms.py), its history store, the
cluster link (--cluster), and a listener per door. What a connection does with its
bytes is net/connection.py's; what a line means is its door's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from config.certificates import TlsSetupError, server_context
from config.settings import Config
from doors.door import Door
from doors.irc.door import irc_door
from doors.irc.session import IrcDoor
from doors.text.door import text_door
from net.connection import Connection
from net.tls import TlsLink
from registry.accounts import Accounts
from registry.hashing import HashingThreads
from registry.history import StoreError
from registry.opers import Opers
from rooms import RoomManager
from store.sqlite import open_history
from utils import address_group, counted, is_loopback, os_reason

log = logging.getLogger("chatroom")


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
        self.port = 0
        self.irc_port = 0  # 0 while the IRC door is closed
        self.tls_port = 0  # the TLS listeners' ports; 0: none
        self.irc_tls_port = 0
        self.tls_context: ssl.SSLContext | None = None  # replaced whole by reload_tls()
        self.irc = IrcDoor(self.rooms, config)
        self.text = text_door(self.rooms, config)
        self._servers: list[asyncio.Server] = []
        self._doors: list[tuple[asyncio.Server, str, int, str]] = []  # to start, and log
        self._connections: set[Connection] = set()
        self._per_ip: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_gone = asyncio.Event()
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
        if self.link is not None:
            await self.link.aclose()
            self.link = None
        await self.rooms.history.aclose()
        self.hashing.shutdown()
        log.info("stopped")


class ClusterUnreachable(Exception):
    """--cluster names a Redis this server cannot reach; one line."""


def failed_port(server: ChatServer, config: Config) -> int | None:
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
