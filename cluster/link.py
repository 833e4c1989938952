"""One server's place in a cluster: what its members do goes out, what the other
servers' members do comes in, and the leases that tell the living from the dead.

The registry (rooms.py) stays the one registry, and the only writer of its state:
what the other servers publish is applied here through RoomManager's public verbs
(add_user, drop_user, enter, apply_modes, apply, ...), never by writing its fields.
Users of the other servers are `RemoteMember`s in it: they are in rooms, in /who,
NAMES, WHOIS and the counts, but their `render` gives nothing and their `write` does
nothing, so local fan-out is the same loop as before; a personal event (`send`) to one
goes over the bus to its server. Each server publishes what happens to its own members
(registry changes and events) and applies what the others publish; what it applies it
does not publish again.

Every message carries (node, epoch, seq), and every batch is kept in its sender's log
(a capped Redis stream per run of a node): a receiver drops what it has seen, fills a
gap, and what it missed while its subscription was down, from the sender's log, in
order (cluster/inbox.py); only what the log no longer holds is counted lost, with a
WARNING, and then it asks the sender for its state again (a lost join must not leave a
room wrong for good). A random id kept in Redis (`PREFIX:epoch`) tells a Redis that
restarted empty, whose logs are gone, from one that kept its data: the users are told.
Names are decided in Redis: a hash from name key to "node|claim time", claimed by a
Lua script that treats a name whose holder's lease has expired as free. The rule when
two servers hold one name after an outage: the claim Redis holds wins; the loser's user
is renamed to a free guest name and told.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from cluster.accounts import decode_record
from cluster.bans import decode_ban
from cluster.bus import FAULTS, Bus
from cluster.codec import SCHEMA, CodecError, pack, unpack
from cluster.inbox import Batch, Inbox, Step
from registry import (
    Change,
    Device,
    Event,
    Joined,
    Left,
    Member,
    ModeChanged,
    Redacted,
    Room,
    Wallops,
    Whispered,
    parse_changes,
    word_changes,
)
from rooms import RoomManager
from utils import counted, name_key

log = logging.getLogger("chatroom.cluster")

LEASE_S = 5.0  # a node's lease; refreshed every second
BEAT_S = 1.0
_BATCH_MAX = 1000  # messages in one PUBLISH at most
# ...and about this many bytes: one PUBLISH is one message in every subscriber's output
# buffer, and Redis drops a subscriber whose buffer passes its limit (32 MB, or 8 MB for
# a minute, by default; an operator may set it far lower).
_BATCH_BYTES = 16_384

# KEYS[1] the names hash; ARGV: name key, this node, claim time, the lease key prefix.
# A name is free if nobody holds it, this node does, or its holder's lease expired.
CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  local owner = string.match(held, '^(.*)|[^|]*$')
  if owner ~= ARGV[2] and redis.call('EXISTS', ARGV[4] .. owner) == 1 then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 1
"""
# KEYS[1] the names hash; ARGV: name key, the node giving it back.
RELEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.match(held, '^(.*)|[^|]*$') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


# What users hear when cross-node chat stops and when it resumes (as server notices).
LOST = (
    "This server lost touch with the rest of the cluster: until it is back, users on the "
    "other servers do not see what is said here, nor you theirs."
)
BACK = "This server is back in touch with the rest of the cluster."
# ...and when Redis came back empty: what it kept to replay is gone.
EMPTIED = (
    "The cluster's Redis restarted without its data: what was said on the other servers "
    "while this server was out of touch may be lost."
)
# ...and when a gap could not be filled (Redis no longer held it).
MISSED = "Some of what was said on server {node} did not reach this server, and cannot now."
_LOG_PAGE = 500  # log entries read at a time


def default_node_name() -> str:
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}"


def _nothing(event: Event) -> bytes:
    return b""


def _ignore(data: bytes) -> None:
    pass


@dataclass(eq=False, slots=True)
class RemoteMember(Member):
    """A user of another server of the cluster."""

    node: str = ""
    link: ClusterLink | None = None

    @property
    def server(self) -> str:
        return self.node

    def send(self, event: Event, skip: Member | Device | None = None) -> None:
        if self.link is not None:
            self.link.personal(self, event)


class ClusterLink:
    """The registry's Relay in a cluster (rooms.Relay)."""

    def __init__(
        self, rooms: RoomManager, url: str, node: str, *, prefix: str = "chatroom"
    ) -> None:
        self.rooms = rooms
        self.node = node
        self.epoch = time.time_ns()
        self.prefix = prefix
        self.names_key = f"{prefix}:names"
        self.rooms_key = f"{prefix}:makers"  # the server that made each room (claim_room)
        self.lease_prefix = f"{prefix}:node:"
        self.lease_key = self.lease_prefix + node
        self.epoch_key = f"{prefix}:epoch"  # Redis's data's own id (made when absent)
        self.redis_epoch = ""  # as last read; another one: Redis lost its data
        self.bus = Bus(
            url, f"{prefix}:bus", self._received, self._up, on_reach=self._reached,
            log_key=self.log_of(node, self.epoch), name=f"{prefix}-{node}",
        )  # fmt: skip
        self._seq = 1  # the next message's number
        self._out: list[dict[str, Any] | list[Any]] = []  # messages of this loop pass, sent as one
        self._flushing = False
        self._out_bytes = 0  # about how big the batch is
        # How this server's batches begin (flush() dumps the same list the same way).
        self._mine = json.dumps([SCHEMA, node, self.epoch], separators=(",", ":"))[:-1].encode()
        self._mine += b","
        self.applying = False
        self.remote: dict[str, dict[RemoteMember, None]] = {}  # node -> its members
        self.inbox = Inbox(self.epoch)  # each other node's run, how far applied, the gaps filled
        self._fills: dict[str, asyncio.Task[None]] = {}  # node -> its log being read
        self._appliers: dict[str, asyncio.Task[None]] = {}  # node -> the read applying
        self._tasks: list[asyncio.Task[None]] = []
        self._leased = False
        self._unclaimed: set[str] = set()  # names granted while Redis was away
        self._strangers: set[str] = set()  # nodes running another version (logged)
        self._room_made = asyncio.Event()  # a room came from the bus (find_room waits)
        self._subscribed = asyncio.Event()  # the first subscription is up
        self._stated = asyncio.Event()  # a node's state came (go() waits for them all)
        # The newest (time, node) of each mode change, by (room, letter, argument): kept
        # a minute, far longer than a hop, to settle changes made at once (_newer).
        self._stamps: dict[tuple[str, str, str], tuple[float, str]] = {}

    # --- Start and stop ---
    async def start(self) -> None:
        """Connect (RedisError or OSError if Redis cannot be reached at start)."""
        redis = self.bus.redis
        await redis.ping()
        await redis.set(self.lease_key, str(self.epoch), px=int(LEASE_S * 1000))
        await redis.sadd(f"{self.prefix}:nodes", self.node)
        self._leased = True
        self.rooms.relay = self
        log.info("node %s on %s", self.node, self.bus.url)

    async def go(self, timeout: float = 3.0) -> None:
        """Subscribe and beat: after the history's rooms are made, before any user.
        Waits (at most `timeout`) to be subscribed and to have the state of every node
        whose lease is alive, so the first user sees the whole cluster."""
        self.bus.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._heartbeat()))
        try:
            async with asyncio.timeout(timeout):
                await self._subscribed.wait()
                redis = self.bus.redis
                others = [n.decode() if isinstance(n, bytes) else str(n)
                          for n in await redis.smembers(f"{self.prefix}:nodes")]  # fmt: skip
                alive = {n for n in others if n != self.node
                         and await redis.exists(self.lease_prefix + n)}  # fmt: skip
                while not alive <= self.inbox.tracks.keys():
                    self._stated.clear()
                    await self._stated.wait()
        except (TimeoutError, *FAULTS):
            log.warning("the cluster's state is not all here yet; serving anyway")

    async def aclose(self) -> None:
        self.flush()
        await self.bus.drain(2.0)
        tasks = [*self._tasks, *self._fills.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, *FAULTS):
                await task
        with contextlib.suppress(*FAULTS):
            async with asyncio.timeout(2):
                await self.bus.redis.delete(self.lease_key)
                await self.bus.redis.srem(f"{self.prefix}:nodes", self.node)
        await self.bus.aclose()

    # --- Out: the Relay the registry calls (never while applying) ---
    async def claim(self, name: str) -> bool:
        if self.applying:
            return True
        if not self.bus.up:
            self._unclaimed.add(name_key(name))
            return True
        try:
            async with asyncio.timeout(3):
                return bool(await self._claim(name_key(name)))
        except FAULTS as exc:
            self.bus.outage(exc)
            self._unclaimed.add(name_key(name))
            return True

    async def _claim(self, key: str, held_in: str = "") -> int:
        """Run CLAIM on a name key (or a room key, held_in the makers' hash)."""
        result = self.bus.redis.eval(
            CLAIM, 1, held_in or self.names_key, key, self.node, repr(time.time()),
            self.lease_prefix,
        )  # fmt: skip
        return int(await result)

    def unclaim(self, name: str) -> None:
        key = name_key(name)
        self._unclaimed.discard(key)
        self._command(RELEASE, 1, self.names_key, key, self.node)

    def claimed(self, member: Member) -> None:
        if not self.applying:
            self._send("user", u=_user(member))

    def released(self, member: Member, reason: str) -> None:
        if self.applying or isinstance(member, RemoteMember):
            return
        self._send("quit", name=member.name, reason=reason)
        self._command(RELEASE, 1, self.names_key, name_key(member.name), self.node)

    def renamed(self, member: Member, old: str) -> None:
        if self.applying or isinstance(member, RemoteMember):
            return
        self._send("rename", old=old, new=member.name)
        if name_key(old) != name_key(member.name):
            self._command(RELEASE, 1, self.names_key, name_key(old), self.node)

    def away(self, member: Member) -> None:
        if not self.applying and not isinstance(member, RemoteMember):
            self._send("away", name=member.name, text=member.away)

    def user_modes(self, member: Member) -> None:
        if not self.applying and not isinstance(member, RemoteMember):
            self._send("modes", name=member.name, modes=sorted(member.modes))

    def logged_in(self, member: Member) -> None:
        if not self.applying and not isinstance(member, RemoteMember):
            self._send("login", name=member.name, account=member.account)

    def realname(self, member: Member) -> None:
        if not self.applying and not isinstance(member, RemoteMember):
            self._send("realname", name=member.name, text=member.realname)

    def reconnected(self, member: Member) -> None:
        if not self.applying and not isinstance(member, RemoteMember):
            self._send("back", u=_user(member))

    def created(self, room: Room, member: Member) -> None:
        if not self.applying:
            self._send("created", room=_info(room), name=member.name)
            self.flush()  # out before the maker hears it made: a join elsewhere may follow

    async def claim_room(self, name: str) -> bool:
        """Make the room ours in Redis (`{prefix}:makers`, as names are), unless a server
        alive holds it: two servers making one room at once, one makes it."""
        if not self.bus.up:
            return True
        try:
            async with asyncio.timeout(3):
                return bool(await self._claim(name_key(name), self.rooms_key))
        except FAULTS as exc:
            self.bus.outage(exc)
            return True

    async def find_room(self, name: str) -> None:
        """A room this server does not know: if another live server holds it in Redis
        (made a moment ago), wait (at most a second) for its news to arrive."""
        if not self.bus.up:
            return
        key = name_key(name)
        try:
            async with asyncio.timeout(1.0):
                held = await self.bus.redis.hget(self.rooms_key, key)
                text = held.decode() if isinstance(held, bytes) else str(held or "")
                maker = text.rsplit("|", 1)[0]
                if not text or maker == self.node:
                    return
                if not await self.bus.redis.exists(self.lease_prefix + maker):
                    return  # its maker is gone (and the room with it)
                while self.rooms.room(name) is None:
                    self._room_made.clear()
                    await self._room_made.wait()
        except TimeoutError:
            pass
        except FAULTS as exc:
            self.bus.outage(exc)

    def closed(self, room: Room) -> None:
        """Every server closes a room when it empties; the one holding it gives it back."""
        self._command(RELEASE, 1, self.rooms_key, room.key, self.node)

    def room_event(self, room: Room, event: Event) -> None:
        if self.applying:
            return
        if isinstance(event, ModeChanged):
            at = time.time()
            changes, _, _ = parse_changes(event.modes, list(event.args))
            for change in changes:
                self._newer(room, change, (at, self.node))
            self._send("mode", room=room.name, ev=pack(event), at=at)
        else:
            self._queue([room.name, *pack(event)], 100 + len(getattr(event, "text", "")))

    def _newer(self, room: Room, change: Change, stamp: tuple[float, str]) -> bool:
        """Whether a mode change is the newest of its kind in the room (then noted):
        the last writer wins, by (time, node), so two servers changing one room's
        modes at once end with the same modes."""
        arg = name_key(change.arg) if change.letter in "ovbeI" else ""
        key = (room.key, change.letter, arg)
        seen = self._stamps.get(key)
        if seen is not None and seen > stamp:
            return False
        self._stamps[key] = stamp
        return True

    def account_saved(self, record: dict[str, Any]) -> None:
        """An account registered or changed here (cluster/accounts.py wrote it)."""
        if not self.applying:
            self._send("account", a=record)

    def account_forgotten(self, key: str) -> None:
        """An account dropped here."""
        if not self.applying:
            self._send("unaccount", key=key)

    def kill(self, target: Member, by: Member, reason: str) -> None:
        """An oper here killed a user of another server: its server puts it off."""
        if not self.applying and isinstance(target, RemoteMember):
            self._send("kill", node=target.node, name=target.name, by=by.name, reason=reason)

    def wallops(self, event: Wallops) -> None:
        if not self.applying:
            self._send("wallops", ev=pack(event))

    def ban_saved(self, record: dict[str, Any]) -> None:
        """A server ban set here (cluster/bans.py wrote it)."""
        if not self.applying:
            self._send("kline", b=record)

    def ban_forgotten(self, key: str) -> None:
        """A server ban lifted here (or expired)."""
        if not self.applying:
            self._send("unkline", key=key)

    def personal(self, target: RemoteMember, event: Event) -> None:
        if not self.applying:
            self._send("to", node=target.node, name=target.name, ev=pack(event))

    def _send(self, kind: str, **fields: Any) -> None:
        """Queue a message: every message of one loop pass goes out in one PUBLISH
        (as Room.flush writes a member once a pass), so a burst costs Redis, redis-py
        and each receiver one message, not one each."""
        fields["k"] = kind
        self._queue(fields)

    def _queue(self, message: dict[str, Any] | list[Any], size: int = 1000) -> None:
        """Queue a message of about `size` bytes for this pass's batch."""
        out = self._out
        out.append(message)
        self._out_bytes += size
        if len(out) >= _BATCH_MAX or self._out_bytes >= _BATCH_BYTES:
            self.flush()
        elif not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Publish what is queued: [schema, node, epoch, first seq, messages], where a
        message is a dict (a change of users or rooms, "k" its kind) or a list (an
        event in a room: its name, then the event packed)."""
        self._flushing = False
        out = self._out
        if not out:
            return
        self._out = []
        self._out_bytes = 0
        first, self._seq = self._seq, self._seq + len(out)
        batch = [SCHEMA, self.node, self.epoch, first, out]
        self.bus.publish(json.dumps(batch, separators=(",", ":")).encode(), first)

    def _command(self, script: str, *args: Any) -> None:
        """A Redis script run after what was published before it (a name given back
        only after its quit or rename has gone out)."""
        self.flush()
        self.bus.command(script, *args)

    def state(self) -> dict[str, Any]:
        """This server's own users and the rooms they are in."""
        users, rooms = [], {}
        for member in self.rooms.users():
            if isinstance(member, RemoteMember):
                continue
            info = _user(member)
            info["rooms"] = [[r.name, member in r.ops, member in r.voiced] for r in member.rooms]
            users.append(info)
            for room in member.rooms:
                rooms[room.key] = _info(room)
        return {"users": users, "rooms": list(rooms.values())}

    async def _up(self) -> None:
        """Subscribed (again): read what every other node published meanwhile from its
        log, ask everyone for their state and give ours."""
        await self._check_epoch()
        for node, epoch, start in self.inbox.catch_up():
            self._fill(node, epoch, start)
        self._subscribed.set()
        self._send("hello")
        self._send("state", **self.state())

    async def _check_epoch(self) -> None:
        """Read Redis's data's id, made if absent: another one than before means Redis
        restarted without its data, so the logs of what this node missed are gone. That
        is said once, in the log and to every user here, never passed over."""
        redis = self.bus.redis
        await redis.set(self.epoch_key, os.urandom(8).hex(), nx=True)
        raw = await redis.get(self.epoch_key)
        now = raw.decode() if isinstance(raw, bytes) else str(raw or "")
        was, self.redis_epoch = self.redis_epoch, now
        if was and now != was:
            log.warning(
                "Redis lost its data (its epoch was %s, is %s): what the other nodes "
                "published while this node was not subscribed cannot be replayed", was, now,
            )  # fmt: skip
            self.rooms.notify_all(EMPTIED)

    def log_of(self, node: str, epoch: int) -> str:
        """The Redis stream that keeps the batches of one run of a node."""
        return f"{self.prefix}:log:{node}:{epoch}"

    def _fill(self, node: str, epoch: int, start: int) -> None:
        """Read a node's log from `start` on, in a task (fan-out never waits on Redis).
        A read already going for it is started again (subscribed anew, it must begin
        after the subscription); one whose batches are being applied goes on, and the
        new one applies after it."""
        old = self._fills.get(node)
        if old is not None and self._appliers.get(node) is not old:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._read_log(node, epoch, start))
        self._fills[node] = task
        task.add_done_callback(
            lambda t: self._fills.pop(node, None) if self._fills.get(node) is t else None
        )

    async def _read_log(self, node: str, epoch: int, start: int) -> None:
        backoff = 0.1
        while True:
            try:
                read = await self._log_entries(node, epoch, start)
                break
            except FAULTS as exc:
                self.bus.outage(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        while (busy := self._appliers.get(node)) is not None:
            await asyncio.wait({busy})  # what an earlier read applies goes first
        # One batch a loop pass, as they come live: a long replay neither holds the
        # loop nor reaches the users as one burst. The sender's live batches wait.
        me = asyncio.current_task()
        assert me is not None
        self._appliers[node] = me
        try:
            step = self.inbox.filled(node, epoch, read, hold=True)
            if step.replayed:
                log.info("replaying %s from node %s's log",
                         counted(step.replayed, "message"), node)  # fmt: skip
            self._apply(node, Step(lost=step.lost))
            for messages in step.apply:
                track = self.inbox.tracks.get(node)
                if track is None or track.epoch != epoch:
                    return  # the node restarted or is gone meanwhile: its old run is over
                self._apply(node, Step(apply=[messages]))
                await asyncio.sleep(0)
            if self._fills.get(node) is me:  # else a newer read releases them
                self._apply(node, self.inbox.release(node, epoch))
        finally:
            if self._appliers.get(node) is me:
                del self._appliers[node]

    async def _log_entries(self, node: str, epoch: int, start: int) -> list[Batch]:
        """The batches of a node's run in its log from seq `start` on."""
        key, after, read = self.log_of(node, epoch), f"0-{start}", []
        while True:
            rows = list(await self.bus.redis.xrange(key, after, "+", count=_LOG_PAGE) or [])
            for _, fields in rows:
                data = (fields or {}).get(b"b", b"")
                batch = self._parse(data.encode() if isinstance(data, str) else data)
                if batch is not None and batch[1] == node and batch[2] == epoch:
                    read.append((int(batch[3]), batch[4]))
            if len(rows) < _LOG_PAGE:
                return read
            last = rows[-1][0]
            after = "(" + (last.decode() if isinstance(last, bytes) else str(last))

    # --- Leases ---
    async def _heartbeat(self) -> None:
        redis = self.bus.redis
        while True:
            await asyncio.sleep(BEAT_S)
            if self._stamps:
                old = time.time() - 60
                self._stamps = {k: v for k, v in self._stamps.items() if v[0] > old}
            try:
                async with asyncio.timeout(3):
                    await self._beat(redis)
                self.bus.ok()  # ends an outage that only commands saw
            except FAULTS as exc:
                self.bus.outage(exc)

    async def _beat(self, redis: Any) -> None:
        if await redis.set(self.lease_key, str(self.epoch), px=int(LEASE_S * 1000), xx=True):
            if self._unclaimed and self.bus.up:
                await self._reclaim(lapsed=False)
        else:
            await redis.set(self.lease_key, str(self.epoch), px=int(LEASE_S * 1000))
            await redis.sadd(f"{self.prefix}:nodes", self.node)
            log.warning("this node's lease had expired; claiming its names again")
            await self._reclaim(lapsed=True)
        if not self.bus.up or time.monotonic() - self.bus.up_since < LEASE_S:
            return  # just back: give the others a lease's time to beat again
        nodes = list(self.remote)
        if not nodes:
            return
        alive = await redis.exists(*(self.lease_prefix + n for n in nodes)) if nodes else 0
        if alive == len(nodes):
            return
        for node in nodes:
            if not await redis.exists(self.lease_prefix + node):
                self._node_gone(node)
                await redis.srem(f"{self.prefix}:nodes", node)

    async def _reclaim(self, *, lapsed: bool) -> None:
        """Claim this server's names again (after its lease lapsed, or names granted while
        Redis was away); a user whose name another server holds now is renamed."""
        self._unclaimed.clear()
        # Told only if the others could have seen this server's users quit: its lease ran
        # out while its connection to Redis stayed up (paused, cut off), not a restart.
        tell = lapsed and time.monotonic() - self.bus.up_since > LEASE_S
        local = [m for m in self.rooms.users() if not isinstance(m, RemoteMember)]
        for member in local:
            key = name_key(member.name)
            if await self._claim(key):
                if tell:
                    self._tell(member, "This server lost touch with the cluster for a while: "
                               "users elsewhere saw you quit and come back.")  # fmt: skip
                continue
            old = member.name
            new = await self._guest_name()
            await self.rooms.rename(member, new)
            log.warning("%s is held on another node; renamed %s", old, new)
            self._tell(member, f"Another user of the cluster holds the name {old}; you are "
                       f"now {new}.")  # fmt: skip
        log.info("claimed %s again", counted(len(local), "name"))
        self._send("hello")
        self._send("state", **self.state())

    async def _guest_name(self) -> str:
        for n in itertools.count(int.from_bytes(os.urandom(2)) % 9000 + 1000):
            name = f"Guest{n}"
            if self.rooms.find(name) is None and await self._claim(name_key(name)):
                return name
        raise AssertionError("unreachable")

    def _tell(self, member: Member, text: str) -> None:
        self.rooms.notify(member, text)

    def _reached(self, up: bool) -> None:
        """Redis went away or came back: every user here is told once, as the server."""
        self.rooms.notify_all(BACK if up else LOST)

    def _node_gone(self, node: str) -> None:
        members = self.remote.pop(node, {})
        self.inbox.abandon(node)
        fill = self._fills.pop(node, None)
        if fill is not None:
            fill.cancel()
        log.warning("node %s is gone (lease expired); %s quit", node, counted(len(members), "user"))
        touched = {room: None for member in members for room in member.rooms}
        with self._applying():
            for member in list(members):
                self._quit(member, f"{node} lost touch with the cluster")
            for room in touched:
                self.rooms.name_heir(room)
        for member in members:
            self._command(RELEASE, 1, self.names_key, name_key(member.name), node)

    # --- In: what the other servers publish ---
    @property
    def lost(self) -> int:
        """Messages counted lost: gaps the senders' logs no longer held."""
        return self.inbox.lost

    @property
    def duplicates(self) -> int:
        return self.inbox.duplicates

    def _received(self, data: bytes) -> None:
        if data.startswith(self._mine):
            return  # this server's own batch, back from Redis: not even parsed
        batch = self._parse(data)
        if batch is None:
            return
        _, node, epoch, seq, messages = batch
        if node == self.node:
            if epoch != self.epoch:
                log.warning("another process uses this node name (%s)", node)
            return
        step = self.inbox.receive(node, epoch, seq, messages)
        if step.fill:
            self._fill(node, epoch, step.fill)
        self._apply(node, step)

    def _parse(self, data: bytes) -> list[Any] | None:
        """A batch, [schema, node, epoch, seq, messages], if it is one of this version."""
        try:
            batch = json.loads(data)
            schema, node, epoch, seq, messages = batch
            if not isinstance(node, str) or not isinstance(messages, list):
                raise TypeError
            if not isinstance(epoch, int) or not isinstance(seq, int):
                raise TypeError
        except (ValueError, TypeError):
            log.warning("a message that is not ours on the bus; ignored")
            return None
        if schema != SCHEMA:
            if node not in self._strangers:
                self._strangers.add(node)
                log.warning(
                    "node %s runs another version of chatroom; its messages are ignored "
                    "(every node of a cluster must run the same)", node,
                )  # fmt: skip
            return None
        return list(batch)

    def _apply(self, node: str, step: Step) -> None:
        """What the inbox says to apply of a node's batches, in order."""
        if step.restarted:
            log.warning("node %s restarted; its old users quit", node)
            with self._applying():
                for member in list(self.remote.pop(node, {})):
                    self._quit(member, f"{node} restarted")
        if step.lost:
            log.warning("lost %s from node %s (its log no longer holds them); asking for "
                        "its state", counted(step.lost, "message"), node)  # fmt: skip
            self.rooms.notify_all(MISSED.format(node=node))
            self._send("hello")
        with self._applying():
            for messages in step.apply:
                for message in messages:
                    try:
                        if isinstance(message, list):
                            self._on_event(node, message[0], unpack(message[1:]))
                        elif (handler := HANDLERS.get(message.get("k"))) is not None:
                            handler(self, node, message)
                    except (CodecError, AttributeError, KeyError, TypeError, ValueError) as exc:
                        log.warning("a message from %s could not be applied: %s", node, exc)

    @contextlib.contextmanager
    def _applying(self, applying: bool = True) -> Any:
        """What the registry tells the relay meanwhile is not published (`applying`), or
        is (not `applying`: a change to this server's own users that others asked for)."""
        was, self.applying = self.applying, applying
        try:
            yield
        finally:
            self.applying = was

    def _member(self, node: str, info: dict[str, Any]) -> RemoteMember | None:
        """The remote member for this user info, made or brought up to date."""
        rooms = self.rooms
        member = rooms.find(info["name"])
        if member is not None and not isinstance(member, RemoteMember):
            log.warning("%s is claimed here and on node %s", info["name"], node)
            return None
        if member is None:
            member = RemoteMember(
                info["name"], _ignore, _nothing, info.get("user", ""), info.get("host", ""),
                info.get("realname", ""), info.get("door", "text"),
                signon=float(info.get("signon", time.time())), account=info.get("account", ""),
                node=node, link=self,
            )  # fmt: skip
            rooms.add_user(member)
        elif member.node != node:
            self.remote.get(member.node, {}).pop(member, None)
            member.node = node
        away, modes = info.get("away", member.away), set(info.get("modes", member.modes))
        rooms.update_user(member, away=away, modes=modes)
        self._account(member, info.get("account", member.account))
        self.remote.setdefault(node, {})[member] = None
        return member

    def _account(self, member: RemoteMember, account: str) -> None:
        """Another server's word on the account its user is logged in to: if it changed,
        those here who share a room with the user are told (account-notify)."""
        if account == member.account:
            return
        if account:
            self.rooms.log_in(member, account)
        else:
            self.rooms.log_out(member)

    def _find(self, name: str) -> RemoteMember | None:
        member = self.rooms.find(name)
        return member if isinstance(member, RemoteMember) else None

    def _room(self, info: dict[str, Any]) -> Room:
        """The room, made from its info (_info) if this server has not got it."""
        made = self.rooms.room(info["name"]) is None
        room = self.rooms.ensure_room(info["name"], info.get("created"), info)
        if made:
            self._room_made.set()
        return room

    def _quit(self, member: RemoteMember, reason: str) -> None:
        self.rooms.drop_user(member, reason)
        self.remote.get(member.node, {}).pop(member, None)

    # Handlers, one per message kind.
    def _on_user(self, node: str, message: dict[str, Any]) -> None:
        self._member(node, message["u"])

    def _on_quit(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            self._quit(member, message.get("reason", ""))

    def _on_rename(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["old"])
        if member is not None and not self.rooms.rename_user(member, message["new"]):
            log.warning("%s renamed to %s, a name held here", member.name, message["new"])

    def _on_away(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            self.rooms.set_away(member, message["text"])

    def _on_modes(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            self.rooms.update_user(member, away=member.away, modes=set(message["modes"]))

    def _on_login(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            self._account(member, str(message["account"]))

    def _on_realname(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            self.rooms.set_realname(member, message["text"])

    def _on_back(self, node: str, message: dict[str, Any]) -> None:
        member = self._member(node, message["u"])
        if member is not None:
            self.rooms.user_back(member, message["u"].get("host", member.host))

    def _on_created(self, node: str, message: dict[str, Any]) -> None:
        member = self._find(message["name"])
        if member is not None:
            room = self._room(message["room"])
            self.rooms.enter(member, room, op=True, shown=len(room.members) > 0)

    def _on_to(self, node: str, message: dict[str, Any]) -> None:
        if message["node"] != self.node:
            return
        target = self.rooms.find(message["name"])
        if target is not None and not isinstance(target, RemoteMember):
            event = unpack(message["ev"])
            if isinstance(event, Whispered):
                self.rooms.whispered(target, event)  # a session may hold it (a guest's)
            elif isinstance(event, Redacted):
                self.rooms.private_redacted(target, event)  # ...and lets it go
            else:
                target.send(event)

    def _on_kill(self, node: str, message: dict[str, Any]) -> None:
        """An oper of another server killed a user of this one: it quits here, and its
        quit goes out from here as every quit of this server's users does."""
        if message["node"] != self.node:
            return
        target = self.rooms.find(message["name"])
        if target is None or isinstance(target, RemoteMember):
            return  # gone, or renamed, before the kill arrived
        with self._applying(False):
            self.rooms.kill_user(target, str(message["by"]), str(message["reason"]))

    def _on_wallops(self, node: str, message: dict[str, Any]) -> None:
        event = unpack(message["ev"])
        if isinstance(event, Wallops):
            self.rooms.tell_opers(event)

    def _on_hello(self, node: str, message: dict[str, Any]) -> None:
        self._send("state", **self.state())

    def _on_state(self, node: str, message: dict[str, Any]) -> None:
        self._stated.set()
        rooms = self.rooms
        infos = {name_key(r["name"]): r for r in message["rooms"]}
        seen: set[RemoteMember] = set()
        for info in message["users"]:
            member = self._member(node, info)
            if member is None:
                continue
            seen.add(member)
            wanted = {name_key(name): (name, op, voiced) for name, op, voiced in info["rooms"]}
            for room in list(member.rooms):
                if room.key not in wanted:
                    rooms.part(member, room, Left(member.name, room.name, member.mask))
            for key, (name, op, voiced) in wanted.items():
                room = self._room(infos.get(key) or {"name": name})
                rooms.enter(member, room)
                rooms.set_privileges(member, room, op=op, voiced=voiced)
        for member in list(self.remote.get(node, {})):
            if member not in seen:
                self._quit(member, "")

    def _on_event(self, node: str, room_name: str, event: Event) -> None:
        room = self.rooms.room(room_name)
        if type(event) is Joined:
            member = self._find(event.name)
            if member is not None:
                self.rooms.enter(member, room or self._room({"name": room_name}))
        elif type(event) is Left:
            member = self._find(event.name)
            if member is not None and room is not None:
                self.rooms.part(member, room, event)
        else:
            self.rooms.apply(room_name, event)

    def _on_account(self, node: str, message: dict[str, Any]) -> None:
        self.rooms.accounts.remember(decode_record(message["a"]))

    def _on_unaccount(self, node: str, message: dict[str, Any]) -> None:
        self.rooms.accounts.forget(str(message["key"]))

    def _on_kline(self, node: str, message: dict[str, Any]) -> None:
        record = decode_ban(message["b"])
        # Whom it disconnects are this server's own users: the others must hear them quit.
        was, self.applying = self.applying, False
        try:
            self.rooms.apply_server_ban(record)
        finally:
            self.applying = was

    def _on_unkline(self, node: str, message: dict[str, Any]) -> None:
        self.rooms.bans.forget(str(message["key"]))

    def _on_mode(self, node: str, message: dict[str, Any]) -> None:
        room = self.rooms.room(message["room"])
        event = unpack(message["ev"])
        if room is None or not isinstance(event, ModeChanged):
            return
        stamp = (float(message["at"]), node)
        changes, _, _ = parse_changes(event.modes, list(event.args))
        kept = [change for change in changes if self._newer(room, change, stamp)]
        if kept:
            modes, args = word_changes(kept)
            applied = ModeChanged(event.name, event.room, modes, args, event.mask)
            self.rooms.apply_modes(room, applied)


HANDLERS = {
    "user": ClusterLink._on_user,
    "quit": ClusterLink._on_quit,
    "rename": ClusterLink._on_rename,
    "away": ClusterLink._on_away,
    "login": ClusterLink._on_login,
    "modes": ClusterLink._on_modes,
    "realname": ClusterLink._on_realname,
    "created": ClusterLink._on_created,
    "to": ClusterLink._on_to,
    "back": ClusterLink._on_back,
    "mode": ClusterLink._on_mode,
    "kill": ClusterLink._on_kill,
    "wallops": ClusterLink._on_wallops,
    "hello": ClusterLink._on_hello,
    "state": ClusterLink._on_state,
    "account": ClusterLink._on_account,
    "unaccount": ClusterLink._on_unaccount,
    "kline": ClusterLink._on_kline,
    "unkline": ClusterLink._on_unkline,
}


def _user(member: Member) -> dict[str, Any]:
    return {
        "name": member.name, "user": member.user, "host": member.host,
        "realname": member.realname, "door": member.door, "signon": member.signon,
        "away": member.away, "modes": sorted(member.modes), "account": member.account,
    }  # fmt: skip


def _info(room: Room) -> dict[str, Any]:
    """What another server needs to make the room: its name, when it was made and its
    settings (Room.settings(): what a store keeps too)."""
    return {"name": room.name, "created": room.created, **room.settings()}
