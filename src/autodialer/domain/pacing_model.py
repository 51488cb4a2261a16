"""What a predictive campaign has learned about its own calls, and the risk of one more call.

The model is fed only what a real dialer sees: its own calls' outcomes (answered after r seconds of ringing, failed
after f seconds, ended by us after c seconds of ringing (censored: ``cut_off``), connected or abandoned) and its
agents' states (talk and wrap-up durations). It keeps:

* the answer probability as a running mean that becomes exponentially weighted (``answer_memory`` outcomes), so it
  follows the drift through the day; its sampling variance is kept too, so a cold model is a cautious one;
* sliding windows of the last ``window`` ring-to-answer, failure, talk and wrap-up times, seeded with a few prior
  samples (a typical call centre) that real observations push out.

From these, ``PacingOutlook`` answers one question for ``PredictivePacing``: if a new call is placed now, how likely is
it that, when the customer answers, no agent is free within ``abandon_after_s``? The new call answers at one of
``HORIZONS`` quantiles of the learned ring-to-answer time τ. At τ the customers competing for agents are the ones
already waiting, the ringing calls that answer by τ (each one's chance given how long it has rung already) and the
other new calls that answer by τ; the agents are the free ones plus each busy agent that finishes talk and wrap-up by
τ + abandon_after_s (given how long it has talked). Both sides are sums of independent Bernoulli variables: a normal
approximation with a continuity correction gives the probability that the demand reaches the supply.

Conditional probabilities per elapsed time are cached in one-second (ringing, wrap) or two-second (talk) buckets and
recomputed when enough new samples arrived, so a decision costs a few table look-ups per agent and per ringing call.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HORIZONS = 4  # answer-time quantiles the risk is averaged over
RING_BUCKET_S = 1.0
TALK_BUCKET_S = 2.0
WRAP_BUCKET_S = 1.0
_REFRESH_EVERY = 100  # new samples before the cached tables are recomputed
_RING_P_TOLERANCE = 0.02  # ringing tables follow the answer probability to within this fraction of it
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class DurationWindow:
    """The last ``capacity`` observed durations (priors first, pushed out by real ones), kept sorted."""

    def __init__(self, prior: Iterable[float], capacity: int) -> None:
        self._order: deque[float] = deque()
        self._sorted: list[float] = []
        self._capacity = capacity
        self.observed = 0
        for value in prior:
            self._push(float(value))

    def add(self, value: float) -> None:
        self.observed += 1
        self._push(max(0.0, value))

    def _push(self, value: float) -> None:
        self._order.append(value)
        insort(self._sorted, value)
        if len(self._order) > self._capacity:
            old = self._order.popleft()
            del self._sorted[bisect_right(self._sorted, old) - 1]

    def count_at_most(self, x: float) -> int:
        return bisect_right(self._sorted, x)

    def __len__(self) -> int:
        return len(self._sorted)

    def cdf(self, x: float) -> float:
        return self.count_at_most(x) / len(self._sorted) if self._sorted else 0.0

    def quantile(self, q: float) -> float:
        if not self._sorted:
            return 0.0
        return self._sorted[min(len(self._sorted) - 1, int(q * len(self._sorted)))]

    def quantile_above(self, x: float, q: float) -> float:
        """The ``q`` quantile of the durations above ``x``; ``x`` itself when none is (a lower bound is all we know)."""
        start = bisect_right(self._sorted, x)
        tail = len(self._sorted) - start
        return self._sorted[start + min(tail - 1, int(q * tail))] if tail > 0 else x

    def mean(self) -> float:
        return sum(self._sorted) / len(self._sorted) if self._sorted else 0.0


class AnswerRate:
    """Answer probability: a running mean for the first ``memory`` outcomes, exponentially weighted after."""

    def __init__(self, prior: float, prior_weight: float, memory: int) -> None:
        self.p = prior
        self._weight = prior_weight
        self._memory = float(memory)
        self.outcomes = 0  # real ones, not counting the prior

    def add(self, answered: float) -> None:
        """One outcome: 1 answered, 0 not, or between for a censored call (the probability that it would have)."""
        self.outcomes += 1
        self._weight = min(self._weight + 1.0, self._memory)
        self.p += (float(answered) - self.p) / self._weight

    def variance(self) -> float:
        """Sampling variance of ``p`` (an EWMA of weight w behaves like a mean of about 2w - 1 outcomes)."""
        effective = max(1.0, 2.0 * self._weight - 1.0)
        return max(self.p * (1.0 - self.p), 0.01) / effective


@dataclass(frozen=True, slots=True)
class Priors:
    """A cold start's beliefs: a typical outbound campaign, weak enough that a few hundred calls replace them."""

    answer_probability: float = 0.25
    answer_weight: float = 5.0
    ring_to_answer_s: tuple[float, ...] = (4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 22.0)
    failure_after_s: tuple[float, ...] = (2.0, 4.0, 15.0, 25.0, 30.0, 30.0, 30.0, 30.0)
    talk_s: tuple[float, ...] = (30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 240.0, 360.0)
    wrap_s: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)


class CallModel:
    """The learned distributions of one campaign, and the cached conditional tables built from them."""

    def __init__(self, abandon_after_s: float, priors: Priors, window: int = 400, answer_memory: int = 300) -> None:
        self.abandon_after_s = abandon_after_s
        self.answer = AnswerRate(priors.answer_probability, priors.answer_weight, answer_memory)
        self.ring = DurationWindow(priors.ring_to_answer_s, window)
        self.failure = DurationWindow(priors.failure_after_s, window)
        self.talk = DurationWindow(priors.talk_s, window)
        self.wrap = DurationWindow(priors.wrap_s, window)
        self._fresh = 0
        self._cut_answers = 0.0  # imputed answers (fractions) owed to the ring window by censored calls
        self._cut_failures = 0.0
        self._impute_u = 0.0
        self._horizons: tuple[float, ...] = ()
        self._ring_p = self.answer.p
        self._ring_rows: dict[int, tuple[float, ...]] = {}
        self._talk_rows: dict[int, tuple[float, ...]] = {}
        self._wrap_rows: dict[int, tuple[float, ...]] = {}
        self._refresh()

    # ---- learning

    def answered(self, ring_s: float) -> None:
        self.answer.add(True)
        self.ring.add(ring_s)
        self._touch()

    def failed(self, ring_s: float) -> None:
        self.answer.add(False)
        self.failure.add(ring_s)
        self._touch()

    def cut_off(self, ring_s: float) -> None:
        """A call we ended while it rang, after ``ring_s``: censored, it would have answered later or failed later.

        Efron's redistribute-to-the-right, the self-consistent (Kaplan-Meier) estimate: the call counts as answered
        with the model's probability that a call still ringing at ``ring_s`` answers,
        w = p·S_ring(r) / (p·S_ring(r) + (1-p)·S_fail(r)), and the ring-to-answer and failure windows receive
        imputed durations from their own tails beyond ``ring_s`` in proportion w : 1-w (whole samples, the
        fractions carried over). Counting it as failed would drag p down and cut the tail of ring times; leaving it
        out would push p up (the calls still ringing at 15 s are mostly ones that would not answer)."""
        p = self.answer.p
        answer_left = p * (1.0 - self.ring.cdf(ring_s))
        fail_left = (1.0 - p) * (1.0 - self.failure.cdf(ring_s))
        alive = answer_left + fail_left
        w = answer_left / alive if alive > 0.0 else p
        self.answer.add(w)
        self._cut_answers += w
        self._cut_failures += 1.0 - w
        if self._cut_answers >= 1.0:
            self._cut_answers -= 1.0
            self.ring.add(self._imputed(self.ring, ring_s))
        if self._cut_failures >= 1.0:
            self._cut_failures -= 1.0
            self.failure.add(self._imputed(self.failure, ring_s))
        self._touch()

    def _imputed(self, window: DurationWindow, beyond: float) -> float:
        # The tail's quantiles in a golden-ratio sequence: evenly spread, deterministic, no random stream to seed.
        self._impute_u = (self._impute_u + _GOLDEN) % 1.0
        return window.quantile_above(beyond, self._impute_u)

    def talked(self, talk_s: float) -> None:
        self.talk.add(talk_s)
        self._touch()

    def wrapped(self, wrap_s: float) -> None:
        self.wrap.add(wrap_s)
        self._touch()

    def _touch(self) -> None:
        self._fresh += 1
        if self._fresh >= _REFRESH_EVERY:
            self._refresh()

    def _refresh(self) -> None:
        self._fresh = 0
        self._horizons = tuple(self.ring.quantile((k + 0.5) / HORIZONS) for k in range(HORIZONS))
        self._ring_rows.clear()
        self._talk_rows.clear()
        self._wrap_rows.clear()

    # ---- conditional tables: per elapsed-time bucket, K probabilities then their K Bernoulli variances

    @property
    def horizons(self) -> tuple[float, ...]:
        return self._horizons

    def ring_row(self, age_s: float) -> tuple[float, ...]:
        """P(a call ringing for ``age_s`` is answered within τ_k), then the variances."""
        p = self.answer.p
        if abs(p - self._ring_p) > _RING_P_TOLERANCE * self._ring_p:
            self._ring_p = p
            self._ring_rows.clear()
        bucket = int(age_s / RING_BUCKET_S)
        row = self._ring_rows.get(bucket)
        if row is None:
            age = bucket * RING_BUCKET_S
            base = self.ring.cdf(age)
            alive = p * (1.0 - base) + (1.0 - p) * (1.0 - self.failure.cdf(age))
            scale = p / alive if alive > 0.0 else 0.0
            row = _with_variances([min(1.0, (self.ring.cdf(age + h) - base) * scale) for h in self._horizons])
            self._ring_rows[bucket] = row
        return row

    def talk_row(self, talked_s: float) -> tuple[float, ...]:
        """P(free by τ_k + abandon_after_s | talking for ``talked_s``): talk ends, then a (median) wrap-up."""
        bucket = int(talked_s / TALK_BUCKET_S)
        row = self._talk_rows.get(bucket)
        if row is None:
            row = _conditional_row(self.talk, bucket * TALK_BUCKET_S, self._reach(self.wrap.quantile(0.5)))
            self._talk_rows[bucket] = row
        return row

    def wrap_row(self, wrapped_s: float) -> tuple[float, ...]:
        """P(free by τ_k + abandon_after_s | in wrap-up for ``wrapped_s``)."""
        bucket = int(wrapped_s / WRAP_BUCKET_S)
        row = self._wrap_rows.get(bucket)
        if row is None:
            row = _conditional_row(self.wrap, bucket * WRAP_BUCKET_S, self._reach(0.0))
            self._wrap_rows[bucket] = row
        return row

    def rows(
        self, now: float, ringing: Sequence[float], talking: Sequence[float], wrapping: Sequence[float]
    ) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
        """The ring rows of the ringing calls and the talk/wrap rows of the busy agents (cached look-ups inlined)."""
        self.ring_row(0.0)  # follow the answer probability before reading the ring cache directly
        ring_get, talk_get, wrap_get = self._ring_rows.get, self._talk_rows.get, self._wrap_rows.get
        ring_rows = [ring_get(int((now - s) / RING_BUCKET_S)) or self.ring_row(now - s) for s in ringing]
        agent_rows = [talk_get(int((now - s) / TALK_BUCKET_S)) or self.talk_row(now - s) for s in talking]
        agent_rows += [wrap_get(int((now - s) / WRAP_BUCKET_S)) or self.wrap_row(now - s) for s in wrapping]
        return ring_rows, agent_rows

    def _reach(self, then: float) -> tuple[float, ...]:
        return tuple(h + self.abandon_after_s - then for h in self._horizons)

    def answers_by(self) -> tuple[float, ...]:
        """P(a call placed now is answered by τ_k), per horizon."""
        p = self.answer.p
        return tuple(p * self.ring.cdf(h) for h in self._horizons)


def _conditional_row(window: DurationWindow, elapsed: float, reach: Sequence[float]) -> tuple[float, ...]:
    # P(elapsed < T <= elapsed + r | T > elapsed). Half a pseudo-sample beyond the data keeps an agent that has
    # already outlasted nearly every observed call from being counted as about to be free.
    before = window.count_at_most(elapsed)
    remaining = len(window) - before + 0.5
    return _with_variances(
        [max(0, window.count_at_most(elapsed + r) - before) / remaining if r > 0 else 0.0 for r in reach]
    )


def _with_variances(probabilities: list[float]) -> tuple[float, ...]:
    return (*probabilities, *(q * (1.0 - q) for q in probabilities))


@dataclass(frozen=True, slots=True)
class PacingOutlook:
    """The demand-minus-supply distribution at each horizon for the calls and agents of this instant."""

    mean: tuple[float, ...]  # E[waiting + ringing answered by τ_k - agents free by τ_k + abandon_after_s]
    variance: tuple[float, ...]  # of the same, the answer probability taken as known
    ringing: tuple[float, ...]  # E[ringing calls answered by τ_k]
    new_answer: tuple[float, ...]  # P(a new call answers by τ_k)
    rate_variance: float  # Var(p) / p²: all answers we count on share the error of the estimated p

    def risk(self, others: int) -> float:
        """P(no agent for a new call that answers), with ``others`` new calls placed alongside it."""
        total = 0.0
        for m, v, ringing, pi in zip(self.mean, self.variance, self.ringing, self.new_answer, strict=True):
            counted = ringing + others * pi
            spread = v + others * pi * (1.0 - pi) + self.rate_variance * counted * counted + 0.05
            total += _normal_cdf((m + others * pi + 0.5) / math.sqrt(spread))
        return total / len(self.mean)

    def keep_risk(self, mean: Sequence[float], variance: Sequence[float], row: Sequence[float]) -> float:
        """P(no agent for a ringing call with ring row ``row`` (``CallModel.ring_row``) if it answers), given
        ``mean``/``variance`` (this outlook's, less the calls already chosen to end). Its own terms are taken out
        (it is the one answering) and the horizons are weighted by its chance of answering between them; a call the
        model gives no chance of answering carries no risk."""
        k = len(mean)
        total = weight = before = 0.0
        for i in range(k):
            w = row[i] - before
            before = row[i]
            if w <= 0.0:
                continue
            counted = max(0.0, self.ringing[i] - row[i])
            spread = max(0.0, variance[i] - row[k + i]) + self.rate_variance * counted * counted + 0.05
            total += w * _normal_cdf((mean[i] - row[i] + 0.5) / math.sqrt(spread))
            weight += w
        return total / weight if weight > 0.0 else 0.0


def outlook(
    model: CallModel,
    now: float,
    free: int,
    waiting: int,
    ringing_since: Sequence[float],
    talking_since: Sequence[float],
    wrapping_since: Sequence[float],
) -> PacingOutlook:
    """Sum the Bernoulli terms of every waiting customer, ringing call and busy agent for each horizon."""
    k = len(model.horizons)
    ring_rows, agent_rows = model.rows(now, ringing_since, talking_since, wrapping_since)
    ringing = _column_sums(ring_rows, k)
    agents = _column_sums(agent_rows, k)
    mean = tuple(waiting - free + ringing[i] - agents[i] for i in range(k))
    variance = tuple(ringing[k + i] + agents[k + i] for i in range(k))
    rate_variance = model.answer.variance() / max(model.answer.p**2, 1e-6)
    return PacingOutlook(mean, variance, ringing[:k], model.answers_by(), rate_variance)


def _column_sums(rows: list[tuple[float, ...]], k: int) -> tuple[float, ...]:
    return tuple(map(sum, zip(*rows, strict=True))) if rows else (0.0,) * (2 * k)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
