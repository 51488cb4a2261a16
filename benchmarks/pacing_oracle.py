"""Headroom: the predictive rule given knowledge no dialer has, to show what limits the learned one.

``OracleCentre`` is the benchmark's call centre that also remembers what it has already decided about the future:
when each busy agent will be free (its talk and wrap-up are drawn when it connects) and, for each ringing call,
whether and when it will answer. ``OraclePacing`` is ``PredictivePacing`` (the same θ controller and guard, the same
learned model for calls not yet placed) whose outlook reads that knowledge instead of the learned conditional
probabilities:

* ``agents``: each busy agent's exact free time; the ringing calls still from the learned model;
* ``calls``: also each ringing call's outcome and answer time. Only the calls not yet placed are uncertain, which no
  dialer can know: what remains below the bound is the price of the answer process itself (a call answers with
  probability p at a random time) and of the 2 s a customer waits.

Benchmark-only: the policy reads the simulation's hidden state through the centre it is attached to.
"""

from __future__ import annotations

import random

from pacing_scenario import Scenario
from pacing_sim import ANSWER, FAIL, TALK_END, WRAP_END, CallCentre, Outcome

from autodialer.domain.pacing import PacingInput, PredictivePacing, TalkEnded
from autodialer.domain.pacing_model import PacingOutlook

LEVELS = ("agents", "calls")


class OracleCentre(CallCentre):
    def __init__(self, scenario: Scenario, policy: OraclePacing) -> None:
        super().__init__(scenario, policy, min_ring_s=None)  # the dial rule's headroom: no ringing calls ended
        policy.centre = self
        self.answer_at: dict[int, float | None] = {}  # ringing call -> when it answers (None: it fails)
        self.free_at: dict[str, float] = {}  # busy agent -> when its wrap-up ends
        self._wrap_of: dict[str, float] = {}
        self._oracle_wraps = random.Random(f"{scenario.seed}:oracle-wrap")

    def _at(self, when: float, kind: int, key: int | str) -> None:
        if kind == ANSWER:
            self.answer_at[int(key)] = when
        elif kind == FAIL:
            self.answer_at[int(key)] = None
        elif kind == TALK_END:
            wrap = self.s.wrap_s.sample(self._oracle_wraps)
            self._wrap_of[str(key)] = wrap
            self.free_at[str(key)] = when + wrap
        super()._at(when, kind, key)

    def _talk_ended(self, agent: str, now: float) -> None:
        # the wrap-up drawn when the talk began (so the oracle knew it), not a fresh one
        started = self.talking.pop(agent)
        self.calls.pop(self._talking_call.pop(agent))
        self._tell(TalkEnded(now, now - started))
        self.wrapping[agent] = now
        super()._at(now + self._wrap_of.pop(agent), WRAP_END, agent)

    def _wrap_ended(self, agent: str, now: float) -> None:
        assert self.free_at.pop(agent) == now, "the oracle's free time was not the agent's"
        super()._wrap_ended(agent, now)

    def _answered(self, call_id: int, now: float) -> None:
        assert self.answer_at.pop(call_id) == now, "the oracle's answer time was not the call's"
        super()._answered(call_id, now)

    def _failed(self, call_id: int, now: float) -> None:
        assert self.answer_at.pop(call_id) is None, "the oracle's failed call answered"
        super()._failed(call_id, now)


class OraclePacing(PredictivePacing):
    def __init__(self, scenario: Scenario, level: str) -> None:
        super().__init__(scenario.max_abandon_rate, scenario.abandon_after_s)
        if level not in LEVELS:
            raise ValueError(f"oracle level must be one of {LEVELS}")
        self.level = level
        self.centre: OracleCentre | None = None

    def _outlook(self, view: PacingInput) -> PacingOutlook:
        learned = super()._outlook(view)
        centre = self.centre
        assert centre is not None
        model = self.model
        horizons = model.horizons
        k = len(horizons)
        now, reach = view.now, model.abandon_after_s
        busy = [centre.free_at.get(a) for a in (*centre.talking, *centre.wrapping)]
        agents = [sum(1 for t in busy if t is not None and t <= now + h + reach) for h in horizons]
        if self.level == "calls":
            answers = [t for c in centre.ringing if (t := centre.answer_at.get(c)) is not None]
            ringing = [float(sum(1 for t in answers if t <= now + h)) for h in horizons]
            ringing_variance = [0.0] * k
        else:
            ring_rows, _ = model.rows(now, view.ringing_since, (), ())
            sums = [sum(col) for col in zip(*ring_rows, strict=True)] if ring_rows else [0.0] * (2 * k)
            ringing, ringing_variance = sums[:k], sums[k:]
        mean = tuple(view.waiting - view.free + ringing[i] - agents[i] for i in range(k))
        return PacingOutlook(
            mean,
            tuple(ringing_variance),
            tuple(0.0 for _ in range(k)) if self.level == "calls" else tuple(ringing),
            learned.new_answer,
            learned.rate_variance,
        )


def simulate_oracle(scenario: Scenario, level: str) -> Outcome:
    return OracleCentre(scenario, OraclePacing(scenario, level)).run()
