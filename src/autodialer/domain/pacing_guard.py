"""Predictive pacing's abandonment side: the risk threshold it dials to, and the guard that backs off.

The threshold θ (the largest risk a new call may carry of finding no agent) follows a stochastic-approximation
controller on log θ: every answered call that reached an agent nudges it up by ``g·aim``, every abandoned one down
by ``g·(1 - aim)``. So θ settles where the abandonment rate is ``aim`` whatever the model's bias (the model counts
the calls placed now, not those placed in the next seconds that may answer first, so it under-states the risk, by
an amount that depends on the campaign). θ starts cautious, at a third of ``aim``: abandonments early in the day
weigh on the day's rate the longest. The step g starts large (``first_gain``) so that a small campaign finds its θ
within its first hundreds of calls, and shrinks as 1/√n to ``gain`` so that θ does not jitter with every
abandonment of a large one. With a constant step, ``abandoned = aim·answered - Δlog θ / g``
would hold exactly: the abandonments can only run ahead of the aim by what θ loses, which the clamp bounds.

The guard backs off toward progressive (``backoff``: 0 = pace freely, 1 = progressive):

* near the cap over the day: from ``near_fraction`` of the cap to the cap itself once the day has ``settled``
  answered calls (before, a single abandonment would decide it), fully while the day's rate is over the cap;
* when the recent rate (exponentially weighted over about ``memory`` answered calls) is far above the cap, from
  twice to three times it: the model has gone wrong (the answer rate jumped, agents left) faster than θ follows.
  A recent rate is noisy (over 100 calls at the aim, 4% happens by chance), so this watches for breakage, not noise.

Both recover by themselves: progressive calls are never abandoned, so the rates fall back. Day counts reset when
the campaign day ends: ``day_of(now)`` gives the [start, end) of the day containing ``now`` (the PBX zone's local
day, built by ``pacing_config.zone_days``, so a DST change moves midnight with it; UTC days by default). It is asked
again only once ``now`` leaves the day it last gave.
"""

from __future__ import annotations

import math
from collections.abc import Callable

DayOf = Callable[[float], tuple[float, float]]  # an instant -> [start, end) of its campaign day


def utc_days(now: float) -> tuple[float, float]:
    start = math.floor(now / 86400.0) * 86400.0
    return start, start + 86400.0


_THRESHOLD_RANGE = (math.log(0.001), math.log(0.5))


class AbandonGuard:
    def __init__(
        self,
        cap: float,
        aim: float,
        day_of: DayOf = utc_days,
        *,
        gain: float = 0.05,
        first_gain: float = 0.5,
        gain_halving: int = 50,
        memory: int = 100,
        near_fraction: float = 0.9,
        settled: int = 100,
    ) -> None:
        if not 0.0 < aim <= cap < 1.0:
            raise ValueError("need 0 < aim <= cap < 1")
        self.cap = cap
        self.aim = aim
        self._log_threshold = math.log(aim / 3.0)
        self._gain = gain
        self._first_gain = first_gain
        self._gain_halving = gain_halving
        self._answered = 0
        self._memory = float(memory)
        self._weight = 0.0
        self.recent_rate = 0.0
        self._near = near_fraction * cap
        self._settled = settled
        self._day_of = day_of
        self._day: tuple[float, float] | None = None
        self.answered_today = 0
        self.abandoned_today = 0

    @property
    def threshold(self) -> float:
        return math.exp(self._log_threshold)

    def record(self, at: float, *, abandoned: bool) -> None:
        """One answered call of ours, at ``at``: it reached an agent, or it was abandoned."""
        self._roll_day(at)
        self.answered_today += 1
        self.abandoned_today += int(abandoned)
        step = -(1.0 - self.aim) if abandoned else self.aim
        gain = max(self._gain, self._first_gain / math.sqrt(1.0 + self._answered / self._gain_halving))
        self._answered += 1
        low, high = _THRESHOLD_RANGE
        self._log_threshold = min(high, max(low, self._log_threshold + gain * step))
        self._weight = min(self._weight + 1.0, self._memory)
        self.recent_rate += ((1.0 if abandoned else 0.0) - self.recent_rate) / self._weight

    def backoff(self, now: float) -> float:
        """How far to fall back toward progressive now, from 0 to 1."""
        self._roll_day(now)
        recent = _ramp(self.recent_rate, 2.0 * self.cap, 3.0 * self.cap)
        if self.answered_today < self._settled:
            return recent
        day_rate = self.abandoned_today / self.answered_today
        return max(recent, _ramp(day_rate, self._near, self.cap))

    def _roll_day(self, now: float) -> None:
        if self._day is not None and self._day[0] <= now < self._day[1]:
            return
        day = self._day_of(now)
        if day != self._day:
            self._day = day
            self.answered_today = 0
            self.abandoned_today = 0


def _ramp(x: float, start: float, full: float) -> float:
    if x <= start:
        return 0.0
    return 1.0 if x >= full else (x - start) / (full - start)
