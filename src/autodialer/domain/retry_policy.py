"""When a failed attempt is the number's final result and when the number is dialed again.

MikoPBX never retries (``countTry`` stays null). We do, per outcome class: a customer who was busy, did not answer or
hit congestion is tried again after the class's delay, at most ``max_retries`` more times; a customer who answered
while every employee was busy goes back in line without being charged an attempt (bounded separately by
``requeues``); everything else is final. The decision is taken at the moment the state machine would set the
result, so a retried number never shows a result or a closeTime in between: 1C closes its document as soon as every
row has ``closeTime <> "0"``, so a transient close would end the campaign early.

Invariants: ``decide`` never un-closes a row that has no retry class; a reopened row has ``result == ""``,
``close_time == 0`` and ``next_attempt_at > now``; the number of reopenings per class is bounded by its rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from autodialer.domain.call_events import CustomerOutcome
from autodialer.domain.mikopbx_results import ResultCode, ResultRow


class RetryClass(StrEnum):
    CUSTOMER_BUSY = "customer_busy"
    CUSTOMER_NO_ANSWER = "customer_no_answer"
    CUSTOMER_CONGESTION = "customer_congestion"  # also provider unavailable: the trunk, not the customer
    AGENT_BUSY = "agent_busy"  # the customer answered but nobody could take the call
    ORIGINATE_REJECTED = "originate_rejected"  # the PBX refused the Originate as to the call (no such extension)
    LOST_ON_RESTART = "lost_on_restart"  # the call died with the PBX or with us: neither the customer's doing


class InvalidRetryPolicy(ValueError):
    error_id = "invalid-retry-policy"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.details = {"field": field}


@dataclass(frozen=True, slots=True)
class RetryRule:
    delay_s: float
    max_retries: int  # further attempts after the first one (for AGENT_BUSY: requeues)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    customer_busy: RetryRule = RetryRule(delay_s=300.0, max_retries=2)
    customer_no_answer: RetryRule = RetryRule(delay_s=900.0, max_retries=2)
    customer_congestion: RetryRule = RetryRule(delay_s=120.0, max_retries=2)
    agent_busy: RetryRule = RetryRule(delay_s=60.0, max_retries=5)
    originate_rejected: RetryRule = RetryRule(delay_s=60.0, max_retries=3)
    lost_on_restart: RetryRule = RetryRule(delay_s=30.0, max_retries=3)

    def rule(self, retry_class: RetryClass) -> RetryRule:
        rule: RetryRule = getattr(self, retry_class.value)
        return rule

    def with_overrides(self, overrides: Mapping[str, object]) -> RetryPolicy:
        """This policy with per-task overrides applied: ``{"customer_busy": {"delay_s": 60, "max_retries": 0}}``.

        Unknown classes or fields and out-of-range values raise InvalidRetryPolicy naming the field; a class or
        field that is absent keeps this policy's value.
        """
        changes: dict[str, RetryRule] = {}
        known = {f.name for f in fields(self)}
        for name, value in overrides.items():
            if name not in known:
                raise InvalidRetryPolicy(f"unknown retry class {name!r}", field=name)
            if not isinstance(value, Mapping):
                raise InvalidRetryPolicy(f"{name} must be an object", field=name)
            changes[name] = _rule_with(self.rule(RetryClass(name)), name, value)
        return replace(self, **changes)


def _rule_with(rule: RetryRule, name: str, value: Mapping[object, object]) -> RetryRule:
    unknown = set(value) - {"delay_s", "max_retries"}
    if unknown:
        raise InvalidRetryPolicy(f"unknown field {sorted(map(str, unknown))[0]!r} in {name}", field=name)
    delay = value.get("delay_s", rule.delay_s)
    retries = value.get("max_retries", rule.max_retries)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 7 * 86400:
        raise InvalidRetryPolicy(f"{name}.delay_s must be a number of seconds in 0..604800", field=f"{name}.delay_s")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise InvalidRetryPolicy(f"{name}.max_retries must be an integer in 0..100", field=f"{name}.max_retries")
    return RetryRule(delay_s=float(delay), max_retries=retries)


_CUSTOMER_CLASSES: dict[CustomerOutcome, RetryClass] = {
    CustomerOutcome.BUSY: RetryClass.CUSTOMER_BUSY,
    CustomerOutcome.NO_ANSWER: RetryClass.CUSTOMER_NO_ANSWER,
    CustomerOutcome.CONGESTION: RetryClass.CUSTOMER_CONGESTION,
    CustomerOutcome.PROVIDER_UNAVAILABLE: RetryClass.CUSTOMER_CONGESTION,
}


def retry_class_for(result: str, outcome: CustomerOutcome | None = None, rejected: bool = False) -> RetryClass | None:
    """The retry class of a result, or None when the result is final (success, no route, 404, lost call …)."""
    if rejected:
        return RetryClass.ORIGINATE_REJECTED
    if result == ResultCode.FAIL_USER_BUSY:
        return RetryClass.AGENT_BUSY
    if outcome is not None and result in (ResultCode.FAIL, ResultCode.FAIL_PROVIDER):
        return _CUSTOMER_CLASSES.get(outcome)
    return None


def decide(policy: RetryPolicy, row: ResultRow, retry_class: RetryClass | None, now: float) -> ResultRow:
    """``row`` (whose result was just set) as it should be stored: unchanged if final, else reopened for a retry.

    ``row.count_try`` counts every attempt started, ``row.requeues`` those that ended in AGENT_BUSY; the customer is
    charged ``count_try - requeues`` attempts.
    """
    if not row.is_closed or retry_class is None:
        return row
    rule = policy.rule(retry_class)
    if retry_class is RetryClass.AGENT_BUSY:
        if row.requeues >= rule.max_retries:
            return row
        return _reopen(replace(row, requeues=row.requeues + 1), now + rule.delay_s)
    charged = row.count_try - row.requeues
    if charged > rule.max_retries:
        return row
    return _reopen(row, now + rule.delay_s)


def _reopen(row: ResultRow, at: float) -> ResultRow:
    return replace(row, result="", close_time=0, next_attempt_at=at)
