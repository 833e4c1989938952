"""Flood control, sans-I/O: a token bucket (docs/protocol.md, Transport, "Flood control").

The caller passes the time in (`loop.time()` in net/connection.py, a number in the
tests); nothing here reads a clock, sleeps or schedules.
"""

from __future__ import annotations


class TokenBucket:
    """Holds up to `burst` tokens, starts full, refills at `rate_per_s`; a line costs one.
    `charge` may take it below zero: then `take` waits until it is back to one."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        if rate_per_s <= 0:
            raise ValueError("a token bucket needs a rate above 0 (0 means no bucket)")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> float:
        """Take a token at time `now`: 0.0 if there was one, else the seconds until
        there will be (then nothing was taken)."""
        rate = self.rate_per_s
        tokens = min(self.burst, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if tokens >= 1:
            self._tokens = tokens - 1
            return 0.0
        self._tokens = tokens
        return (1 - tokens) / rate

    def charge(self, lines: int, now: float) -> None:
        """Take `lines` tokens at once at `now`, into debt if there are fewer: the lines
        after it wait until the debt is paid (a multiline message's lines, as a whole)."""
        self._tokens = self.tokens(now) - lines
        self._stamp = now

    def tokens(self, now: float) -> float:
        """How many tokens there are at `now` (a fraction while refilling)."""
        return min(self.burst, self._tokens + (now - self._stamp) * self.rate_per_s)
