"""Password hashing's threads (registry/hashing.py): the work runs off the loop's
thread, on a thread that lowered its own CPU priority (Linux) while the loop's thread
keeps its own, and never raised it; as many threads as the process may use CPUs; a
shutdown ends them and later work starts new ones."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from registry.hashing import (
    HASHING_NICE,
    THREAD_NAME,
    HashingThreads,
    lower_own_priority,
    usable_cpus,
)


def whoami() -> tuple[str, int]:
    """The calling thread's name and native id."""
    return threading.current_thread().name, threading.get_native_id()


async def test_work_runs_on_a_hashing_thread_and_its_result_comes_back() -> None:
    hashing = HashingThreads()
    try:
        name, native_id = await hashing(whoami)
    finally:
        hashing.shutdown()
    assert name.startswith(THREAD_NAME)
    assert native_id != threading.get_native_id()


LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice: Linux")


def priority() -> int:
    """The calling thread's nice value."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@LINUX_ONLY
async def test_the_hashing_thread_runs_below_the_loop_and_the_loop_keeps_its_priority() -> None:
    before = priority()
    hashing = HashingThreads()
    try:
        own = await hashing(priority)
    finally:
        hashing.shutdown()
    assert own == max(HASHING_NICE, before)
    assert priority() == before


@LINUX_ONLY
def test_a_thread_already_lower_is_left_as_it_is() -> None:
    seen: list[int] = []

    def lower_then_ask() -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE + 2)
        lower_own_priority()
        seen.append(priority())

    thread = threading.Thread(target=lower_then_ask)
    thread.start()
    thread.join()
    assert seen == [max(HASHING_NICE + 2, priority())]


def test_one_thread_for_each_cpu_the_process_may_use() -> None:
    assert HashingThreads().threads == usable_cpus() >= 1
    assert HashingThreads(threads=3).threads == 3
    if hasattr(os, "sched_getaffinity"):
        assert usable_cpus() == len(os.sched_getaffinity(0))


async def test_after_a_shutdown_more_work_starts_new_threads() -> None:
    hashing = HashingThreads(threads=1)
    first = await hashing(whoami)
    hashing.shutdown()
    second = await hashing(whoami)
    hashing.shutdown()
    assert first[0].startswith(THREAD_NAME) and second[0].startswith(THREAD_NAME)
    assert first[1] != second[1]
