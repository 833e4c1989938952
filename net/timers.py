"""Many connections' deadlines on one loop timer: a timer wheel.

A connection times out its login and pings a silent IRC client (net/connection.py).
With a loop timer each (`call_later`), every idle connection would hold a TimerHandle,
its Context, a bound method and a slot in the loop's heap: about 270 bytes, for a
deadline a minute or more away. Here a deadline is an entry in the bucket of its tick
(deadlines rounded up to `resolution_s`): the owner and a plain function of it, no
object of its own. One loop timer waits for the earliest tick.

Sans-clock: `TimerWheel` is told the time and schedules through a `Scheduler` (the
event loop's `call_at`), so the tests drive it with numbers.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any, Protocol

RESOLUTION_S = 0.25  # coarser: fewer buckets (each a dict); finer: deadlines kept closer
Bucket = dict[Any, Callable[[Any], None]]  # owner -> what to call with it when due


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """What the wheel needs of the event loop."""

    def time(self) -> float: ...
    def call_at(self, when: float, callback: Callable[[], None]) -> Cancellable: ...


class TimerWheel:
    """Deadlines by tick: `add` returns the bucket, which `cancel` takes back.

    An owner has at most one entry in a bucket: a second deadline of the same owner on
    the same tick goes to the next tick (one resolution later)."""

    __slots__ = ("_buckets", "_handle", "_next", "_scheduler", "_ticks", "resolution_s")

    def __init__(self, scheduler: Scheduler, resolution_s: float = RESOLUTION_S) -> None:
        self._scheduler = scheduler
        self.resolution_s = resolution_s
        self._buckets: dict[int, Bucket] = {}
        self._ticks: list[int] = []  # a heap of the buckets' ticks
        self._handle: Cancellable | None = None  # the loop timer, for tick `_next`
        self._next = 0

    def __len__(self) -> int:
        """How many deadlines are waiting."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def add(self, when: float, owner: object, due: Callable[[Any], None]) -> Bucket:
        """Call `due(owner)` at `when` (rounded up to a tick); returns its bucket, for
        cancel()."""
        tick = math.ceil(when / self.resolution_s)
        bucket = self._buckets.get(tick)
        while bucket is not None and owner in bucket:
            tick += 1
            bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = {}
            heapq.heappush(self._ticks, tick)
            if self._handle is None or tick < self._next:
                self._schedule(tick)
        bucket[owner] = due
        return bucket

    @staticmethod
    def cancel(bucket: Bucket | None, owner: object) -> None:
        """The owner's deadline in `bucket` (from add()) will not be called."""
        if bucket is not None:
            bucket.pop(owner, None)

    def when(self, bucket: Bucket) -> float | None:
        """The time a bucket from add() is due (None: it has been called); a search, for
        what looks, not for the hot path."""
        found = (tick for tick, held in self._buckets.items() if held is bucket)
        tick = next(found, None)
        return None if tick is None else tick * self.resolution_s

    def _schedule(self, tick: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._next = tick
        self._handle = self._scheduler.call_at(tick * self.resolution_s, self._fire)

    def _fire(self) -> None:
        """Call what is due: every bucket whose tick has come, in order."""
        self._handle = None
        ticks, buckets = self._ticks, self._buckets
        now = self._scheduler.time()
        while ticks and ticks[0] * self.resolution_s <= now:
            bucket = buckets.pop(heapq.heappop(ticks))
            while bucket:  # what a callback cancels in this bucket is not called
                owner, due = bucket.popitem()
                due(owner)
        if ticks and self._handle is None:
            self._schedule(ticks[0])
