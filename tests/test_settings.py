"""Settings from the environment, as an admin sets them, build what the composition root needs."""

from __future__ import annotations

import pytest

from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.settings import load_settings


def test_retry_policy_from_the_environment_builds_the_engine_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTODIALER_RETRY_POLICY", '{"customer_busy": {"delay_s": 4, "max_retries": 1}}')
    settings = load_settings()
    policy = RetryPolicy().with_overrides(settings.retry_policy)
    assert policy.customer_busy == RetryRule(delay_s=4, max_retries=1)


def test_unknown_time_zone_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="pbx_timezone"):
        load_settings(pbx_timezone="Mars/Olympus")


def test_production_refuses_the_lab_secrets() -> None:
    with pytest.raises(ValueError, match="jwt_secret"):
        load_settings(environment="production")
