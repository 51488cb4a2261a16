"""A token bucket: how many actions may start now so that a link is never sent more than it carries.

The dialer spends one token per Originate (``AUTODIALER_ORIGINATE_RATE``): tokens come back at ``rate`` per
second up to ``burst``, so an idle dialer may start ``burst`` calls at once and a busy one keeps to ``rate``.
A PBX works through one AMI session's actions one after another (manager.c's session thread), so a round of
thousands of Originates written at once queues everything behind it there, the keepalive Ping included.

Invariant (tested with Hypothesis): whatever the times and amounts asked, the tokens taken within any window of
``T`` seconds never exceed ``burst + rate * T``. Time is passed in (``now``, seconds, never decreasing); nothing
here reads a clock.
"""

from __future__ import annotations

import math

# A thousandth of a token: times are epoch seconds, whose float steps (2.4e-7 s near 1.8e9) times the rate must
# not leave a token that is due just short of whole.
_EPSILON = 1e-3


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; starts full."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate: must be a positive number of tokens per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst: must be at least 1 token, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now

    def available(self, now: float) -> int:
        """Whole tokens that may be taken at ``now``."""
        self._refill(now)
        # Tokens accrued over float time steps (10.1 - 10.0 is 0.09999…) must still make a whole one when they should.
        return int(self._tokens + _EPSILON)

    def take(self, count: int, now: float) -> None:
        """Spend ``count`` tokens at ``now``; ValueError when fewer are available (the caller asked first)."""
        if count < 0:
            raise ValueError(f"count: must not be negative, got {count!r}")
        if count > self.available(now):
            raise ValueError(f"count: {count} tokens asked, {self.available(now)} available")
        self._tokens = max(0.0, self._tokens - count)

    def ready_at(self, count: int, now: float) -> float:
        """The earliest time at or after ``now`` when ``count`` tokens (at most ``burst``) are available."""
        count = min(max(count, 0), self.burst)
        self._refill(now)
        missing = count - self._tokens
        if missing <= _EPSILON:
            return now
        return now + missing / self.rate
