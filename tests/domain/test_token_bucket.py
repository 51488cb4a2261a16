"""TokenBucket: never more than burst + rate x T in any window of T seconds, full when idle, refusal when empty."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.token_bucket import TokenBucket

# (seconds since the previous request, tokens wanted): the bucket gives min(wanted, available).
requests = st.lists(st.tuples(st.floats(0.0, 2.0), st.integers(0, 500)), min_size=1, max_size=120)


def drain(bucket: TokenBucket, start: float, steps: list[tuple[float, int]]) -> list[tuple[float, int]]:
    now, taken = start, []
    for gap, wanted in steps:
        now += gap
        count = min(wanted, bucket.available(now))
        bucket.take(count, now)
        taken.append((now, count))
    return taken


@settings(max_examples=300, deadline=None)
@given(st.floats(0.5, 2000.0), st.integers(1, 400), st.floats(0.0, 1e9), requests)
def test_no_window_gets_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, start: float, steps: list[tuple[float, int]]
) -> None:
    bucket = TokenBucket(rate, burst, start)
    taken = drain(bucket, start, steps)
    for i, (first, _) in enumerate(taken):
        total = 0
        for at, count in taken[i:]:
            total += count
            assert total <= burst + rate * (at - first) + 1e-3, (rate, burst, first, at, total)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.5, 2000.0), st.integers(1, 400), requests, st.integers(1, 400))
def test_ready_at_is_when_that_many_tokens_are_there(
    rate: float, burst: int, steps: list[tuple[float, int]], wanted: int
) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    now = drain(bucket, 0.0, steps)[-1][0]
    at = bucket.ready_at(wanted, now)
    assert at >= now
    assert bucket.available(at) >= min(wanted, burst)


def test_an_idle_bucket_is_full_and_a_busy_one_keeps_to_the_rate() -> None:
    bucket = TokenBucket(200.0, 50, 10.0)
    assert bucket.available(10.0) == 50
    bucket.take(50, 10.0)
    assert bucket.available(10.0) == 0
    assert bucket.available(10.1) == 20  # 0.1 s at 200/s
    bucket.take(20, 10.1)
    assert bucket.ready_at(10, 10.1) == pytest.approx(10.15)
    assert bucket.available(1000.0) == 50  # never more than the burst, however long it rested
    with pytest.raises(ValueError, match="count: 51 tokens asked, 50 available"):
        bucket.take(51, 1000.0)


@pytest.mark.parametrize(("rate", "burst", "field"), [(0.0, 1, "rate"), (-1.0, 1, "rate"), (10.0, 0, "burst")])
def test_bad_settings_name_the_field(rate: float, burst: int, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        TokenBucket(rate, burst, 0.0)
