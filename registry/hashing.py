"""Threads that hash passwords, behind the event loop in the CPU's queue.

A password check is PBKDF2 (registry/credentials.py): milliseconds of CPU with the GIL
let go, so it runs on threads. asyncio's default executor has up to 6 of them on a
2-CPU machine; when logins come faster than a busy CPU can hash them, all of them are
runnable and the loop's thread gets a seventh of its turns, so every chat line waits
(bench/login_storm.py, 100 logins/s on one contended core: chat p99 from 12 ms alone to
360-616 ms). Here there are only as many threads as the process may use CPUs (more
cannot hash faster), and each lowers its own priority (nice 5, where a nice value is a
thread's own: Linux) as it starts: against the loop's thread it gets a quarter of a
CPU they share, the loop the rest, and the loop's thread runs first when it wakes. The
storm's chat p99 became 18-23 ms; the logins queue instead. The threads start on first
use; `shutdown` ends them. No asyncio beyond handing work to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# A nice value above the loop's 0: its weight is a third of the loop's (sched(7)), so a
# loop that is busy keeps about 3/4 of a CPU they share and logins still get 1/4. At 19
# (1/68) a busy loop starved logins: tests/e2e/test_fuzz.py's answers came too late.
HASHING_NICE = 5
THREAD_NAME = "password-hash"


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity, where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def lower_own_priority() -> None:
    """Lower the calling thread's CPU priority to HASHING_NICE, where that is one
    thread's own: on Linux, setpriority(2) on a thread's id changes that thread only;
    elsewhere it would change the whole process, loop included, so nothing is done.
    A thread already lower (a server started with `nice`) stays as it is."""
    if sys.platform == "linux":
        me = threading.get_native_id()
        with contextlib.suppress(OSError):
            if os.getpriority(os.PRIO_PROCESS, me) < HASHING_NICE:
                os.setpriority(os.PRIO_PROCESS, me, HASHING_NICE)


class HashingThreads:
    """A `RunSlow` (registry/accounts.py): the work runs on a low-priority thread."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or usable_cpus()
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self, work: Callable[[], T], /) -> Awaitable[T]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.threads, THREAD_NAME, initializer=lower_own_priority
            )
        return asyncio.get_running_loop().run_in_executor(self._pool, work)

    def shutdown(self) -> None:
        """End the threads once their work is done (work after this starts new ones)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
