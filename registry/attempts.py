"""How often something may be tried: a token bucket per key (an address, an account).

A key starts with `burst` tries and gets one back every `refill_s` seconds. What counts
as a try is the caller's choice: a wrong password takes one, a right one takes none.
Bounded: past `max_keys` keys the oldest are forgotten, so a flood of addresses cannot
grow it. No I/O and no asyncio; the clock is injected.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class Attempts:
    """Tries left per key."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        burst: int,
        refill_s: float,
        max_keys: int = 10_000,
    ) -> None:
        self._clock = clock
        self.burst = burst
        self.refill_s = refill_s
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, when)

    def _tokens(self, key: str, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return float(self.burst)
        tokens, when = entry
        return min(float(self.burst), tokens + (now - when) / self.refill_s)

    def blocked(self, key: str) -> bool:
        """Whether this key has no try left just now (nothing is taken)."""
        return self._tokens(key, self._clock()) < 1

    def wait_s(self, key: str) -> float:
        """Seconds until this key has a try again (0: it has one now)."""
        return max(0.0, (1 - self._tokens(key, self._clock())) * self.refill_s)

    def take(self, key: str) -> bool:
        """Use one try of this key; False (and nothing taken) when it has none."""
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1:
            return False
        self._buckets[key] = (tokens - 1, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return True
