"""How many calls a campaign places now: progressive, power and predictive pacing.

A policy answers ``calls_to_start(view)`` for one campaign at one instant. ``view`` holds only what a real dialer
sees: its line limit and lines in use, its own ringing calls and answered customers still waiting for an agent, and
the agents of its queue (logged in, free, talking or in wrap-up since when). Predictive learns from ``observe``d
facts about its own calls. Everything is pure: time comes in as ``now`` and in the facts.

* ``ProgressivePacing`` (the default, every MikoPBX v1 task): one call per free agent, and the call reserves that
  agent (``reserves_agents``), so an answered customer always has one. ``dialing.plan_dials`` asks it once per turn.
* ``PowerPacing``: a fixed number of ringing lines per free agent; calls are not reserved (the answered customer
  goes to the queue).
* ``PredictivePacing``: places the largest number of calls for which the learned model (``pacing_model``) says the
  last one's risk of finding no agent when answered stays under a threshold θ. θ is tuned online
  (``pacing_guard``: stochastic approximation on log θ) so that the campaign's abandonment rate (abandoned /
  answered) settles at ``aim_fraction`` of the cap; the guard there backs off toward progressive when the day's
  rate nears the cap or the recent rate is far above it, until it recovers.
  A cold campaign dials progressively for its first ``WARMUP_OUTCOMES`` outcomes: before them even the answer
  probability is a guess, and all calls placed on a wrong guess would be answered at once.
  It also ends ringing calls (``calls_to_end``): a call that has rung the campaign's minimum (never under
  ``MIN_RING_S``, the FTC's and Ofcom's 15 s) is kept only while the risk that its customer, answering, finds no
  agent stays under the same θ a new call must meet, so the rule that places a call is the rule that keeps it. The
  engine hangs it up as a no-answer of ours; the policy learns from it as a censored observation (``CallCutOff``:
  "not answered within r s", not "failed"), so the answer rate is not biased by the calls it chose to end.

Invariants (tested with Hypothesis): never more calls than free lines, none when no agent is logged in, and no fewer
than the calls progressive pacing would place for the free agents nobody is already on the way to; never ends a call
that rang less than ``MIN_RING_S`` or the campaign's minimum, and progressive and power never end a call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from autodialer.domain.pacing_guard import AbandonGuard, DayOf, utc_days
from autodialer.domain.pacing_model import CallModel, PacingOutlook, Priors, outlook

DEFAULT_MAX_ABANDON_RATE = 0.03  # FTC (US) and Ofcom (UK): abandoned calls / live answers, per campaign day
DEFAULT_ABANDON_AFTER_S = 2.0  # an answered customer with no agent within this is abandoned
WARMUP_OUTCOMES = 20  # a cold campaign dials progressively until it has seen this many of its calls end ringing
# A ringing call may be ended by us only after this long: the US Telemarketing Sales Rule (16 CFR 310.4(b)(4)(i):
# "at least fifteen (15) seconds or four (4) rings") and Ofcom's persistent-misuse policy both say 15 s.
MIN_RING_S = 15.0


class InvalidPacing(ValueError):
    error_id = "invalid-pacing"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.details = {"field": field}


@dataclass(frozen=True, slots=True)
class PacingInput:
    now: float
    line_limit: int  # the campaign's max_channels
    lines_in_use: int  # its calls not yet ended: ringing, waiting for an agent, talking
    ringing_since: tuple[float, ...]  # start times of its calls not yet answered
    waiting: int  # its answered customers not yet with an agent
    logged_in: int  # agents of its queue that can take calls (paused ones excluded)
    free: int  # of those, idle and not reserved by a call
    talking_since: tuple[float, ...] = ()  # when each busy agent's call was connected
    wrapping_since: tuple[float, ...] = ()  # when each agent in wrap-up hung up

    @property
    def free_lines(self) -> int:
        return max(0, self.line_limit - self.lines_in_use)

    @property
    def uncovered_agents(self) -> int:
        """Free agents no ringing call or waiting customer is already meant for: progressive's call count."""
        return max(0, self.free - self.waiting - len(self.ringing_since))


# ---- facts about the campaign's own calls (what the engine hears), fed to ``observe``


@dataclass(frozen=True, slots=True)
class CallAnswered:
    at: float
    ring_s: float


@dataclass(frozen=True, slots=True)
class CallFailed:
    at: float
    ring_s: float  # busy, no answer, congestion: how long until we knew


@dataclass(frozen=True, slots=True)
class CallCutOff:
    at: float
    ring_s: float  # we ended it while it rang, after this long: not answered within ring_s (censored), not failed


@dataclass(frozen=True, slots=True)
class CallConnected:
    at: float  # the answered customer reached an agent


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    at: float  # answered, and no agent within abandon_after_s


@dataclass(frozen=True, slots=True)
class TalkEnded:
    at: float
    talk_s: float


@dataclass(frozen=True, slots=True)
class WrapEnded:
    at: float
    wrap_s: float


PacingFact = CallAnswered | CallFailed | CallCutOff | CallConnected | CallAbandoned | TalkEnded | WrapEnded


class PacingPolicy(Protocol):
    @property
    def reserves_agents(self) -> bool: ...

    def calls_to_start(self, view: PacingInput) -> int: ...

    def calls_to_end(self, view: PacingInput, min_ring_s: float) -> tuple[int, ...]:
        """Which ringing calls to end now, as indexes into ``view.ringing_since``: only calls that rang at least
        max(``min_ring_s``, ``MIN_RING_S``) (``past_minimum``); () for a policy that never ends calls."""
        ...

    def observe(self, fact: PacingFact) -> None: ...

    def review_at(self, now: float) -> float | None:
        """When to plan again with no event (predictive: busy agents get closer to free as time passes)."""
        ...


class ProgressivePacing:
    """One call per free agent, reserving it: today's rule, and MikoPBX's."""

    reserves_agents = True

    def calls_to_start(self, view: PacingInput) -> int:
        return min(view.free, view.free_lines) if view.logged_in > 0 else 0

    def calls_to_end(self, view: PacingInput, min_ring_s: float) -> tuple[int, ...]:
        return ()  # each call has its agent reserved: nobody else will need it

    def observe(self, fact: PacingFact) -> None:
        return None

    def review_at(self, now: float) -> float | None:
        return None


PROGRESSIVE = ProgressivePacing()


class PowerPacing:
    """``lines_per_agent`` ringing calls per free agent, none reserved."""

    reserves_agents = False

    def __init__(self, lines_per_agent: float) -> None:
        if not (math.isfinite(lines_per_agent) and 1.0 <= lines_per_agent <= 10.0):
            raise InvalidPacing("linesPerAgent must be a number from 1 to 10", "linesPerAgent")
        self.lines_per_agent = lines_per_agent

    def calls_to_start(self, view: PacingInput) -> int:
        if view.logged_in <= 0:
            return 0
        wanted = math.floor(self.lines_per_agent * view.free + 1e-9) - len(view.ringing_since) - view.waiting
        return max(0, min(wanted, view.free_lines))

    def calls_to_end(self, view: PacingInput, min_ring_s: float) -> tuple[int, ...]:
        return ()  # no model to judge a call by

    def observe(self, fact: PacingFact) -> None:
        return None

    def review_at(self, now: float) -> float | None:
        return None


class PredictivePacing:
    """Dial ahead of free agents as far as the learned model allows under the abandonment cap."""

    reserves_agents = False

    def __init__(
        self,
        max_abandon_rate: float = DEFAULT_MAX_ABANDON_RATE,
        abandon_after_s: float = DEFAULT_ABANDON_AFTER_S,
        *,
        priors: Priors | None = None,
        aim_fraction: float = 0.85,
        review_s: float = 1.0,
        day_of: DayOf = utc_days,
    ) -> None:
        if not (math.isfinite(max_abandon_rate) and 0.0 < max_abandon_rate < 0.5):
            raise InvalidPacing("maxAbandonRate must be above 0 and below 0.5", "maxAbandonRate")
        if not (math.isfinite(abandon_after_s) and 0.0 <= abandon_after_s <= 60.0):
            raise InvalidPacing("abandonAfterS must be from 0 to 60 seconds", "abandonAfterS")
        self.max_abandon_rate = max_abandon_rate
        self.model = CallModel(abandon_after_s, priors or Priors())
        self.guard = AbandonGuard(max_abandon_rate, aim_fraction * max_abandon_rate, day_of)
        self._review_s = review_s

    def calls_to_start(self, view: PacingInput) -> int:
        if view.logged_in <= 0 or view.free_lines <= 0:
            return 0
        floor = min(view.uncovered_agents, view.free_lines)
        backoff = self.guard.backoff(view.now)
        if backoff >= 1.0 or self.model.answer.outcomes < WARMUP_OUTCOMES:
            return floor
        risk = self._outlook(view).risk
        threshold = self.guard.threshold
        wanted = 0
        while wanted < view.free_lines and risk(wanted) <= threshold:
            wanted += 1
        wanted = max(wanted, floor)
        return floor + math.floor((1.0 - backoff) * (wanted - floor) + 1e-9)

    def calls_to_end(self, view: PacingInput, min_ring_s: float) -> tuple[int, ...]:
        """End each call past the minimum ring (oldest first) whose risk of finding no agent if it answers is over θ.
        A call's risk is the new-call risk at each answer horizon without its own term, weighted by when it would
        answer (its conditional ring-to-answer increments per horizon); ending it takes its terms out for the next.
        A call the model gives no chance of answering any more is kept (ending it would change nothing). Nothing
        while warming up: the model is a guess then."""
        eligible = past_minimum(view.now, view.ringing_since, min_ring_s)
        if not eligible or self.model.answer.outcomes < WARMUP_OUTCOMES:
            return ()
        look = self._outlook(view)
        mean, variance = list(look.mean), list(look.variance)
        k = len(mean)
        threshold = self.guard.threshold
        ended: list[int] = []
        for i in eligible:
            row = self.model.ring_row(view.now - view.ringing_since[i])
            if look.keep_risk(mean, variance, row) <= threshold:
                continue
            for h in range(k):
                mean[h] -= row[h]
                variance[h] -= row[k + h]
            ended.append(i)
        return tuple(ended)

    def _outlook(self, view: PacingInput) -> PacingOutlook:
        return outlook(
            self.model,
            view.now,
            view.free,
            view.waiting,
            view.ringing_since,
            view.talking_since,
            view.wrapping_since,
        )

    def observe(self, fact: PacingFact) -> None:
        match fact:
            case CallAnswered(ring_s=ring_s):
                self.model.answered(ring_s)
            case CallFailed(ring_s=ring_s):
                self.model.failed(ring_s)
            case CallCutOff(ring_s=ring_s):
                self.model.cut_off(ring_s)
            case CallConnected(at=at):
                self.guard.record(at, abandoned=False)
            case CallAbandoned(at=at):
                self.guard.record(at, abandoned=True)
            case TalkEnded(talk_s=talk_s):
                self.model.talked(talk_s)
            case WrapEnded(wrap_s=wrap_s):
                self.model.wrapped(wrap_s)

    def review_at(self, now: float) -> float | None:
        return now + self._review_s


def past_minimum(now: float, ringing_since: Sequence[float], min_ring_s: float) -> list[int]:
    """Indexes of the calls in ``ringing_since`` that rang at least max(``min_ring_s``, ``MIN_RING_S``), oldest
    first: the only calls a policy may end."""
    least = max(min_ring_s, MIN_RING_S)
    old = [i for i, started in enumerate(ringing_since) if now - started >= least]
    return sorted(old, key=lambda i: ringing_since[i])
