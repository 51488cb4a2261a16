"""Reconnect delays: capped exponential backoff with jitter, as a small pure value object.

``delay(attempt)`` for attempt 0, 1, 2… is ``min(cap, initial * factor**attempt)`` scaled down by a random
factor in ``[1 - jitter, 1]``, so many dialers restarted together do not hammer a recovering Asterisk in step, and
no delay ever exceeds ``cap``. The first delay matters: trace 09 shows a reconnect right after ``core restart``
accepted by TCP and closed before the banner, and the next one 0.5 s later succeeding.

Two schedules (issue 9 item 4): a link that is refused, reset or closed comes back as soon as Asterisk listens again,
so ``RECONNECT`` stays short and capped at 1 s (dialing resumes within about a second of the port accepting, not
after a 20 s step of an ever-growing backoff); a refused Login will not fix itself (wrong secret, denied address),
so ``LOGIN_REFUSED`` retries slowly and does not fill Asterisk's log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.3
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.cap < self.initial or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff {self!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (0-based), jittered, never above ``cap``."""
        # Exponent clamped so a very long outage cannot overflow the float.
        base = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        return base * (1 - self.jitter * self.rng.random())


RECONNECT = Backoff(initial=0.25, factor=2.0, cap=1.0, jitter=0.3)
LOGIN_REFUSED = Backoff(initial=5.0, factor=2.0, cap=60.0, jitter=0.3)
