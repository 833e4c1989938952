"""What the registry defers (a room's flush) runs once the reads at hand are done.

A room queues what its members say and writes it once, at a later point of the loop
(registry/room.py, `publish` and `flush`), so that everything said in one pass goes
out in one write per member. Deferred with the loop's `call_soon`, that point is the
loop's next pass: a pass more for every line that comes alone (a quiet room), with
its poll, its Handle and its bookkeeping. `AfterReads` runs it at the end of the pass
of our own readers that read the line (net/transport.py's `EpollReaders`), where every
line that arrived together has been read; what is deferred anywhere else (a timer, a
connection on asyncio's transport, the cluster's bus) goes to the loop's next pass as
before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

MAX_ROUNDS = 8  # a deferred callback that defers again, at most this deep in one pass


class AfterReads:
    """The registry's `defer`: callbacks run at the end of the readers' pass, else at
    the loop's next pass. Each is run once, in the order deferred."""

    __slots__ = ("_due", "_held", "_scheduled")

    def __init__(self) -> None:
        self._due: list[Callable[[], None]] = []
        self._held = False  # a readers' pass is on: it runs what is due at its end
        self._scheduled = False  # a run is on the loop's list

    def __call__(self, callback: Callable[[], None]) -> None:
        self._due.append(callback)
        if not self._held and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run_scheduled)

    def hold(self) -> None:
        """A readers' pass begins: what is deferred during it waits for its end."""
        self._held = True

    def run(self) -> None:
        """The readers' pass is over: run what is due (and what that defers)."""
        self._held = True
        try:
            for _ in range(MAX_ROUNDS):
                due = self._due
                if not due:
                    return
                self._due = []
                for callback in due:
                    try:
                        callback()
                    except Exception as exc:  # as the loop would: reported, the rest run
                        asyncio.get_running_loop().call_exception_handler(
                            {"message": "Exception in a deferred callback", "exception": exc}
                        )
        finally:
            self._held = False
            if self._due and not self._scheduled:  # deeper than MAX_ROUNDS: next pass
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._run_scheduled)

    def _run_scheduled(self) -> None:
        self._scheduled = False
        if not self._held:
            self.run()
