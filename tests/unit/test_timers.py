"""The timer wheel (net/timers.py): deadlines by tick on one loop timer, driven by a
fake scheduler whose time the test sets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from net.timers import TimerWheel


class FakeHandle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """call_at() keeps handles; run_until() calls those due, in time order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle(when, callback)
        self.handles.append(handle)
        return handle

    def live(self) -> list[FakeHandle]:
        return [h for h in self.handles if not h.cancelled]

    def run_until(self, now: float) -> None:
        while due := sorted((h for h in self.live() if h.when <= now), key=lambda h: h.when):
            handle = due[0]
            self.now = max(self.now, handle.when)
            self.handles.remove(handle)
            handle.callback()
        self.now = now


class Owner:
    def __init__(self, name: str, calls: list[tuple[str, float]], loop: FakeLoop) -> None:
        self.name, self.calls, self.loop = name, calls, loop

    def due(self) -> None:
        self.calls.append((self.name, self.loop.now))


def test_deadlines_are_called_in_order_at_their_tick_never_before() -> None:
    loop, calls = FakeLoop(), list[tuple[str, float]]()
    wheel = TimerWheel(loop, resolution_s=0.1)
    a, b, c = (Owner(n, calls, loop) for n in "abc")
    wheel.add(2.05, b, Owner.due)
    wheel.add(1.0, a, Owner.due)
    wheel.add(3.0, c, Owner.due)
    assert len(wheel) == 3
    assert len(loop.live()) == 1  # one loop timer, for the earliest tick
    loop.run_until(0.99)
    assert calls == []
    loop.run_until(2.5)
    assert [name for name, _ in calls] == ["a", "b"]
    assert calls[1][1] == pytest.approx(2.1)  # rounded up to its tick, not down
    loop.run_until(10)
    assert [name for name, _ in calls] == ["a", "b", "c"]
    assert len(wheel) == 0 and loop.live() == []


def test_a_cancelled_deadline_is_not_called_and_frees_its_owner() -> None:
    loop, calls = FakeLoop(), list[tuple[str, float]]()
    wheel = TimerWheel(loop)
    a, b = Owner("a", calls, loop), Owner("b", calls, loop)
    bucket = wheel.add(1.0, a, Owner.due)
    wheel.add(1.0, b, Owner.due)
    TimerWheel.cancel(bucket, a)
    TimerWheel.cancel(None, a)  # nothing to cancel: no error
    assert len(wheel) == 1 and a not in bucket
    loop.run_until(2)
    assert [name for name, _ in calls] == ["b"] and calls[0][1] == pytest.approx(1.0)


def test_an_earlier_deadline_moves_the_loop_timer_and_when_names_the_tick() -> None:
    loop, calls = FakeLoop(), list[tuple[str, float]]()
    wheel = TimerWheel(loop, resolution_s=0.5)
    a, b = Owner("a", calls, loop), Owner("b", calls, loop)
    late = wheel.add(10.0, a, Owner.due)
    early = wheel.add(1.2, b, Owner.due)
    assert [h.when for h in loop.live()] == [1.5]
    assert wheel.when(early) == 1.5 and wheel.when(late) == 10.0
    loop.run_until(1.5)
    assert wheel.when(early) is None  # called
    assert [h.when for h in loop.live()] == [10.0]


def test_one_owner_twice_on_one_tick_gets_both_calls() -> None:
    loop, seen = FakeLoop(), list[str]()
    wheel = TimerWheel(loop, resolution_s=0.1)
    owner = object()
    wheel.add(1.0, owner, lambda o: seen.append("first"))
    wheel.add(1.0, owner, lambda o: seen.append("second"))
    loop.run_until(5)
    assert sorted(seen) == ["first", "second"]


def test_a_callback_may_add_a_deadline_that_is_already_due() -> None:
    loop, seen = FakeLoop(), list[float]()
    wheel = TimerWheel(loop, resolution_s=0.1)

    def again(owner: object) -> None:
        seen.append(loop.now)
        if len(seen) < 3:
            wheel.add(loop.now + 1.0, owner, again)

    wheel.add(1.0, object(), again)
    loop.run_until(100)
    assert seen == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]
    assert len(wheel) == 0 and loop.live() == []
