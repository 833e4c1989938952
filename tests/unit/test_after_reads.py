"""net/after.py: what the registry defers runs at the end of a pass of reads."""

from __future__ import annotations

import asyncio

import pytest

from net.after import MAX_ROUNDS, AfterReads

pytestmark = pytest.mark.timeout(10)


async def test_outside_a_pass_it_runs_at_the_loops_next_pass() -> None:
    after, ran = AfterReads(), []
    after(lambda: ran.append(1))
    after(lambda: ran.append(2))
    assert ran == []
    await asyncio.sleep(0)
    assert ran == [1, 2]


async def test_within_a_pass_it_runs_at_its_end_in_order_once() -> None:
    after, ran = AfterReads(), []
    after.hold()
    after(lambda: ran.append("a"))
    after(lambda: ran.append("b"))
    assert ran == []
    after.run()
    assert ran == ["a", "b"]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert ran == ["a", "b"]  # not again at the next pass


async def test_what_a_callback_defers_runs_in_the_same_run() -> None:
    after, ran = AfterReads(), []
    after.hold()
    after(lambda: after(lambda: ran.append("inner")))
    after.run()
    assert ran == ["inner"]


async def test_deferring_without_end_goes_on_at_the_next_pass() -> None:
    after, count = AfterReads(), [0]

    def again() -> None:
        count[0] += 1
        after(again)

    after.hold()
    after(again)
    after.run()
    assert count[0] == MAX_ROUNDS
    await asyncio.sleep(0)
    assert count[0] == 2 * MAX_ROUNDS


def fail() -> None:
    raise ZeroDivisionError


async def test_a_failing_callback_is_reported_and_the_rest_run() -> None:
    after, ran, errors = AfterReads(), [], []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context["exception"]))
    try:
        after.hold()
        after(fail)
        after(lambda: ran.append("next"))
        after.run()
    finally:
        loop.set_exception_handler(None)
    assert ran == ["next"]
    assert [type(e) for e in errors] == [ZeroDivisionError]
