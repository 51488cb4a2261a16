"""Retry vs final: per-outcome classes, limits, agent-busy requeues that do not charge the customer, overrides."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.call_events import CustomerOutcome
from autodialer.domain.mikopbx_results import ResultCode, ResultRow
from autodialer.domain.retry_policy import (
    InvalidRetryPolicy,
    RetryClass,
    RetryPolicy,
    RetryRule,
    decide,
    retry_class_for,
)


def closed(result: str, count_try: int = 1, requeues: int = 0) -> ResultRow:
    return ResultRow(state="failedOriginate", result=result, close_time=100, count_try=count_try, requeues=requeues)


@pytest.mark.parametrize(
    ("result", "outcome", "expected"),
    [
        ("FAIL", CustomerOutcome.BUSY, RetryClass.CUSTOMER_BUSY),
        ("FAIL", CustomerOutcome.NO_ANSWER, RetryClass.CUSTOMER_NO_ANSWER),
        ("FAIL", CustomerOutcome.CONGESTION, RetryClass.CUSTOMER_CONGESTION),
        ("FAIL_PROVIDER", CustomerOutcome.PROVIDER_UNAVAILABLE, RetryClass.CUSTOMER_CONGESTION),
        ("FAIL", CustomerOutcome.UNALLOCATED, None),
        ("FAIL_ROUTE", CustomerOutcome.NO_ROUTE, None),
        ("FAIL_USER_BUSY", None, RetryClass.AGENT_BUSY),
        ("SUCCESS", None, None),
        ("FAIL_USER_NO_ANSWER", None, None),
        ("FAIL", None, None),
    ],
)
def test_retry_classes(result: str, outcome: CustomerOutcome | None, expected: RetryClass | None) -> None:
    assert retry_class_for(result, outcome) == expected


def test_rejected_originate_is_its_own_class() -> None:
    assert retry_class_for("FAIL_ROUTE", None, rejected=True) == RetryClass.ORIGINATE_REJECTED


def test_busy_customer_is_retried_until_the_limit() -> None:
    policy = RetryPolicy(customer_busy=RetryRule(delay_s=300, max_retries=2))
    first = decide(policy, closed("FAIL", count_try=1), RetryClass.CUSTOMER_BUSY, now=1000.0)
    assert (first.result, first.close_time, first.next_attempt_at) == ("", 0, 1300.0)
    assert first.state == "failedOriginate"  # the last attempt's facts stay visible
    assert decide(policy, closed("FAIL", count_try=2), RetryClass.CUSTOMER_BUSY, 1000.0).next_attempt_at == 1300.0
    # 1 attempt + 2 retries: the third failure is final
    final = decide(policy, closed("FAIL", count_try=3), RetryClass.CUSTOMER_BUSY, 1000.0)
    assert final == closed("FAIL", count_try=3)


def test_agent_busy_requeues_without_charging_the_customer() -> None:
    policy = RetryPolicy(
        customer_busy=RetryRule(delay_s=300, max_retries=0), agent_busy=RetryRule(delay_s=60, max_retries=2)
    )
    row = decide(policy, closed("FAIL_USER_BUSY", count_try=1), RetryClass.AGENT_BUSY, 1000.0)
    assert (row.result, row.requeues, row.next_attempt_at) == ("", 1, 1060.0)
    # second attempt: the customer is busy; one charged attempt so far, no retries allowed → final
    busy = decide(policy, closed("FAIL", count_try=2, requeues=1), RetryClass.CUSTOMER_BUSY, 2000.0)
    assert busy.result == "FAIL"
    requeued_twice = decide(policy, closed("FAIL_USER_BUSY", count_try=3, requeues=2), RetryClass.AGENT_BUSY, 1.0)
    assert requeued_twice.result == "FAIL_USER_BUSY"


def test_final_results_are_untouched() -> None:
    row = closed(ResultCode.SUCCESS_USER_H.value)
    assert decide(RetryPolicy(), row, None, 1000.0) is row
    open_row = ResultRow()
    assert decide(RetryPolicy(), open_row, RetryClass.CUSTOMER_BUSY, 1.0) is open_row


def test_overrides() -> None:
    policy = RetryPolicy().with_overrides({"customer_busy": {"delay_s": 30, "max_retries": 0}, "agent_busy": {}})
    assert policy.customer_busy == RetryRule(30.0, 0)
    assert policy.agent_busy == RetryPolicy().agent_busy
    assert policy.customer_no_answer == RetryPolicy().customer_no_answer


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"busy": {}}, "busy"),
        ({"customer_busy": 5}, "customer_busy"),
        ({"customer_busy": {"delay": 5}}, "customer_busy"),
        ({"customer_busy": {"delay_s": -1}}, "customer_busy.delay_s"),
        ({"customer_busy": {"delay_s": True}}, "customer_busy.delay_s"),
        ({"customer_busy": {"max_retries": 1.5}}, "customer_busy.max_retries"),
        ({"customer_busy": {"max_retries": 101}}, "customer_busy.max_retries"),
    ],
)
def test_invalid_overrides_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRetryPolicy) as info:
        RetryPolicy().with_overrides(overrides)
    assert info.value.details["field"] == field
    assert info.value.error_id == "invalid-retry-policy"


@settings(deadline=None)  # a loaded CI box must not turn slowness into a failure
@given(
    outcomes=st.lists(st.sampled_from([*CustomerOutcome, None]), min_size=1, max_size=40),
    retries=st.integers(0, 4),
    requeues=st.integers(0, 4),
)
def test_attempts_are_bounded(outcomes: list[CustomerOutcome | None], retries: int, requeues: int) -> None:
    """Whatever the outcomes, a number gets at most 1 + retries charged attempts and `requeues` free ones."""
    rule = RetryRule(10, retries)
    policy = RetryPolicy(rule, rule, rule, RetryRule(10, requeues), rule)
    row = ResultRow()
    now = 0.0
    for outcome in outcomes:
        row = ResultRow(count_try=row.count_try + 1, requeues=row.requeues)
        result = "FAIL_USER_BUSY" if outcome is None else "FAIL"
        ended = ResultRow(result=result, close_time=1, count_try=row.count_try, requeues=row.requeues)
        row = decide(policy, ended, retry_class_for(result, outcome), now)
        assert row.count_try - row.requeues <= 1 + retries
        assert row.requeues <= requeues
        if row.is_closed:
            break
        assert row.close_time == 0 and row.next_attempt_at > now
