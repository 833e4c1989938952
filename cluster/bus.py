"""The Redis connection: one subscriber task, one publisher task, and the outages.

Fan-out never waits on Redis: `publish()` puts the message in a bounded in-memory
queue and returns; the publisher task sends what has gathered in one pipeline. When
Redis is away, each task retries with backoff (0.1 s doubling to 5 s), and the bus logs
one line when the outage starts and one when it ends, and tells the link (`on_reach`),
which tells the users. A full queue drops the newest
message and counts it: the receivers see the gap in its sequence number and log it.
With a log (`log_key`), each batch is also kept in a stream by the same script that
publishes it, for the nodes that missed it to read back (cluster/inbox.py).
redis-py reconnects by itself unless told not to; the subscription is told not to
(retries=0), so that every lost subscription, Redis dropping a slow subscriber
included, is an outage this module sees and the link can re-announce after. Commands
retry once, so a connection left stale by a restart of Redis is not a second outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from utils import counted

log = logging.getLogger("chatroom.cluster")

FAULTS = (RedisError, OSError, asyncio.TimeoutError)
_BATCH = 512  # messages in one pipeline at most
GRACE_S = 0.5  # after an outage, before sending what it held (Bus._after_outage)
LOG_CAP = 10_000  # batches a node's log keeps (XADD MAXLEN ~)
LOG_TTL_MS = 3_600_000  # a run's log goes an hour after its last batch

# KEYS[1] this run's log; ARGV: the channel, the batch, its id in the log (0-SEQ), the
# cap, the time to live. The batch goes into the log, then to the channel, at once: a
# batch is either in the log before a subscription starts or heard on it. An id the log
# holds already (a pipeline sent again after a fault) is not published again.
LOGGED = """
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], ARGV[3], 'b', ARGV[2])
if type(added) == 'table' and added.err then
  if string.find(added.err, 'equal or smaller', 1, true) then return 0 end
else
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
"""


class Bus:
    """Publish to and receive from one Redis pub/sub channel."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_message: Callable[[bytes], None],
        on_up: Callable[[], Awaitable[None]],
        *,
        queue_max: int = 100_000,
        on_reach: Callable[[bool], None] = lambda up: None,
        log_key: str = "",
        name: str = "",
    ) -> None:
        self.url = url
        self.channel = channel
        self.log_key = log_key  # where published batches are also kept ("": not kept)
        # Commands retry once on a fresh connection: after Redis restarts, each idle
        # connection of the pool is stale, and its first use would fail once more.
        # Named (CLIENT LIST), so that an operator can tell the nodes' connections apart.
        self.redis: Redis = _client(url, retries=1, name=name)
        # The subscription: never retried, so every loss is seen.
        self._listener: Redis = _client(url, retries=0, name=f"{name}-sub" if name else "")
        self._on_message = on_message
        self._on_up = on_up
        self._on_reach = on_reach  # told False once when an outage starts, True when it ends
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue(queue_max)
        self._tasks: list[asyncio.Task[None]] = []
        self.down_since: float | None = None  # when the outage began; None: Redis is up
        self.up_since = 0.0  # when the subscription last came up (monotonic)
        self.dropped = 0  # messages the full queue could not take, this outage
        self.subscribed = False  # the subscriber holds a subscription
        self.recovered_at = 0.0  # when the last outage ended (monotonic)

    @property
    def up(self) -> bool:
        return self.down_since is None and self.subscribed

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._subscriber()), loop.create_task(self._publisher())]

    def publish(self, data: bytes, seq: int = 0) -> None:
        """Publish a batch; with a log (and its first seq), keep it there too, in the
        same script, so a node that missed it reads it back (cluster/inbox.py)."""
        if self.log_key and seq:
            self._put(("log", (data, seq)))
        else:
            self._put(("pub", (data,)))

    def command(self, script: str, *args: Any) -> None:
        """A Lua script run in order with the messages (a name given back)."""
        self._put(("eval", (script, *args)))

    def command_raw(self, *args: Any) -> None:
        """A Redis command run in order with the messages (a history line)."""
        self._put(("cmd", args))

    def _put(self, item: tuple[str, tuple[Any, ...]]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            if not self.dropped:
                log.warning("the publish queue is full; dropping (counted as lost)")
            self.dropped += 1

    def outage(self, exc: BaseException) -> None:
        """Note a failed Redis operation: one log line per outage."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "lost Redis at %s (%s); delivering on this server only, "
                "retrying with backoff", self.url, why(exc),
            )  # fmt: skip
            self._on_reach(False)

    def ok(self) -> None:
        """A command went through: the outage is over if the subscription held."""
        if self.down_since is not None and self.subscribed:
            self.recovered()

    def recovered(self) -> None:
        if self.down_since is not None:
            now = time.monotonic()
            away = now - self.down_since
            self.down_since = None
            self.recovered_at = now
            lost = f"; {counted(self.dropped, 'message')} not sent (lost)" if self.dropped else ""
            log.warning("Redis is back after %.1f s%s", away, lost)
            self.dropped = 0
            self._on_reach(True)

    async def _subscriber(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if self.down_since is not None:  # the idle commands' connections are stale
                    await self.redis.connection_pool.disconnect(inuse_connections=False)
                self.recovered()
                self.subscribed = True
                self.up_since = time.monotonic()
                backoff = 0.1
                await self._on_up()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._on_message(message["data"])
            except FAULTS as exc:
                self.subscribed = False
                self.outage(exc)
            finally:
                self.subscribed = False
                with contextlib.suppress(*FAULTS):
                    await _aclose(pubsub)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _publisher(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            backoff = 0.1
            while True:
                try:
                    pipe = self.redis.pipeline(transaction=False)
                    for op, args in batch:
                        if op == "log":
                            pipe.eval(
                                LOGGED, 1, self.log_key, self.channel, args[0],
                                f"0-{args[1]}", LOG_CAP, LOG_TTL_MS,
                            )  # fmt: skip
                        elif op == "pub":
                            pipe.publish(self.channel, args[0])
                        elif op == "cmd":
                            pipe.execute_command(*args)
                        else:
                            pipe.eval(*args)
                    await self._after_outage()
                    await pipe.execute()
                    self.ok()
                    break
                except FAULTS as exc:
                    self.outage(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)

    async def _after_outage(self) -> None:
        """Hold what was queued in an outage until this node is subscribed again, and a
        moment more (GRACE_S), so that the other nodes, which lost Redis at the same
        moment and retry on the same schedule, are most often subscribed again too: what
        was said meanwhile is then heard live rather than read back from the log."""
        while self.down_since is not None and not self.subscribed:
            await asyncio.sleep(0.05)
        wait = self.recovered_at + GRACE_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def drain(self, timeout: float) -> None:
        """Wait (a while) for what is queued to be sent; at shutdown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._queue.empty():
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, *FAULTS):
                await task
        with contextlib.suppress(*FAULTS):
            await self.redis.aclose()
        with contextlib.suppress(*FAULTS):
            await self._listener.aclose()


def _client(url: str, *, retries: int, name: str = "") -> Redis:
    return Redis.from_url(
        url, retry=Retry(NoBackoff(), retries), socket_timeout=3, socket_connect_timeout=2,
        health_check_interval=0, client_name=name or None,
    )  # fmt: skip


async def _aclose(client: Any) -> None:
    """Close a redis-py object whose `aclose` is typed in some releases and not in others."""
    await client.aclose()


def why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
