"""Settings from the environment, as an admin sets them, build what the composition root needs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.settings import load_settings
from autodialer.settings_check import SettingsError


def test_retry_policy_from_the_environment_builds_the_engine_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTODIALER_RETRY_POLICY", '{"customer_busy": {"delay_s": 4, "max_retries": 1}}')
    settings = load_settings()
    policy = RetryPolicy().with_overrides(settings.retry_policy)
    assert policy.customer_busy == RetryRule(delay_s=4, max_retries=1)


def test_unknown_time_zone_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="pbx_timezone"):
        load_settings(pbx_timezone="Mars/Olympus")


def test_the_call_window_is_off_unless_set_and_read_in_the_hours_format(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().call_hours is None
    assert load_settings(call_window="off").call_hours is None
    monkeypatch.setenv("AUTODIALER_CALL_WINDOW", "09:00-21:00; sat,sun 10:00-20:00")
    monkeypatch.setenv("AUTODIALER_DEFAULT_REGION", "kz")
    settings = load_settings()
    assert str(settings.call_hours) == "mon-fri 09:00-21:00; sat,sun 10:00-20:00"
    assert settings.default_region == "KZ"


def test_production_refuses_the_lab_secrets_naming_each_variable() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(environment="production")
    assert refused.value.problems == [
        "AUTODIALER_JWT_SECRET: must be set to at least 32 characters in production",
        "AUTODIALER_AMI_SECRET: the lab default must not be used in production",
    ]


@pytest.mark.parametrize(
    "name, value, line",
    [
        ("AUTODIALER_AMI_PORT", "abc", "AUTODIALER_AMI_PORT='abc': must be an integer in 1..65535"),
        ("AUTODIALER_HTTP_PORT", "65536", "AUTODIALER_HTTP_PORT='65536': must be an integer in 0..65535"),
        ("AUTODIALER_ENVIRONMENT", "prod", "AUTODIALER_ENVIRONMENT='prod': must be one of 'dev', 'test', 'production'"),
        ("AUTODIALER_AMI_TRACE", "maybe", "AUTODIALER_AMI_TRACE='maybe': must be true or false"),
        ("AUTODIALER_SESSION_LIFETIME_S", "5", "AUTODIALER_SESSION_LIFETIME_S='5': must be an integer ≥ 60"),
        ("AUTODIALER_AMI_PING_INTERVAL_S", "0", "AUTODIALER_AMI_PING_INTERVAL_S='0': must be a number > 0"),
        (
            "AUTODIALER_AUTH_EXEMPT_ADDRESSES",
            "127.0.0.1",
            'AUTODIALER_AUTH_EXEMPT_ADDRESSES: must be a JSON list, e.g. ["127.0.0.1", "::1"]',
        ),
        (
            "AUTODIALER_PBX_TIMEZONE",
            "Mars/Olympus",
            "AUTODIALER_PBX_TIMEZONE='Mars/Olympus': unknown IANA time zone 'Mars/Olympus'",
        ),
        (
            "AUTODIALER_CALL_WINDOW",
            "09:00-25:00",
            "AUTODIALER_CALL_WINDOW='09:00-25:00': rule '09:00-25:00': 25:00 is not a time of day (00:00..24:00)",
        ),
        (
            "AUTODIALER_DEFAULT_REGION",
            "XX",
            "AUTODIALER_DEFAULT_REGION='XX': 'XX' is not a region libphonenumber knows (ISO 3166 alpha-2, e.g. 'RU')",
        ),
    ],
)
def test_a_bad_variable_is_one_line_naming_it_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert refused.value.problems == [line]


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTODIALER_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTODIALER_JWT_SECRET", "short-but-secret")
    with pytest.raises(SettingsError) as refused:
        load_settings(ami_secret="x" * 12)
    assert "short-but-secret" not in str(refused.value)


def test_an_unknown_variable_is_warned_about_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AUTODIALER_AMI_PROT", "5039")
    monkeypatch.setenv("AUTODIALER_TEST_ANYTHING", "1")  # the test suite's own variables are not settings
    with caplog.at_level(logging.WARNING, logger="autodialer.settings"):
        load_settings()
    warnings = [r.getMessage() for r in caplog.records if r.name == "autodialer.settings"]
    assert warnings == [
        "AUTODIALER_AMI_PROT is not an autodialer setting and is ignored; did you mean AUTODIALER_AMI_PORT?"
    ]


def test_serve_with_a_bad_variable_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIALER_")}
    env |= {"AUTODIALER_AMI_PORT": "abc", "AUTODIALER_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "autodialer", "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 2
    assert run.stderr == "autodialer: error: AUTODIALER_AMI_PORT='abc': must be an integer in 1..65535\n"
    assert not list(tmp_path.iterdir()), "nothing is started or written"


def test_autodialer_settings_lists_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    from autodialer.cli import main
    from autodialer.settings import Settings

    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    for field in Settings.model_fields:
        assert f"\nAUTODIALER_{field.upper()}=" in out
    assert "AUTODIALER_AMI_PORT=5038    (an integer in 1..65535)" in out


SAMPLE_PLAN = Path(__file__).resolve().parents[1] / "docs" / "examples" / "numbering-plan-ru.sample.csv"


def test_the_numbering_plan_is_none_unless_set_and_the_shipped_example_loads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from autodialer.bootstrap import load_numbering_plan

    assert len(load_numbering_plan(load_settings())) == 0
    monkeypatch.setenv("AUTODIALER_NUMBERING_PLAN", str(SAMPLE_PLAN))
    with caplog.at_level(logging.WARNING, logger="autodialer.settings"):
        settings = load_settings()
    assert [r.getMessage() for r in caplog.records if r.name == "autodialer.settings"] == []  # a known name
    plan = load_numbering_plan(settings)
    assert plan.zones_for("+79131234567") == ("Asia/Novosibirsk",)
    assert plan.zones_for("+79522233446") == ()


@pytest.mark.parametrize(
    "content, rule",
    [
        (None, "cannot be read (No such file or directory)"),
        (b"", "holds no range (leave the variable empty for no table)"),
        (
            b"# DEF 913\n79130000000,+79139999999,Asia/Novosibirsk\n",
            "line 2: '79130000000' is not an E.164 number ('+' and 2 to 15 digits)",
        ),
        (
            b"+79130000000,+79139999999,Asia/Novosibirsk\r\n+79135000000,+79135999999,Asia/Omsk\r\n",
            "line 2: overlaps the range on line 1",
        ),
        (
            b"+79130000000,+79139999999,Asia/Novosibirsk\n+79140000000,+79149999999\n",
            "line 2: must read 'first,last,zone'",
        ),
        (b"+79130000000,+79139999999,Sibirsk\n", "line 1: 'Sibirsk' is not an IANA time zone"),
        (
            b"\xef\xbb\xbf+79130000000,+79139999999,Asia/Novosibirsk\n# \xcd\xee\xe2\xee\xf1\xe8\xe1\xe8\xf0\xf1\xea\n",
            "line 2: is not UTF-8 text (byte 3 of the line)",
        ),
    ],
)
def test_a_bad_numbering_plan_is_one_line_naming_the_variable_the_file_the_line_and_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, rule: str
) -> None:
    from autodialer.bootstrap import load_numbering_plan

    path = tmp_path / "plan.csv"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv("AUTODIALER_NUMBERING_PLAN", str(path))
    with pytest.raises(SettingsError) as refused:
        load_numbering_plan(load_settings())
    assert refused.value.problems == [f"AUTODIALER_NUMBERING_PLAN={str(path)!r}: {rule}"]


@pytest.mark.parametrize("command", [["serve"], ["explain", "1000000001", "89131234567"]])
def test_serve_and_explain_with_a_bad_numbering_plan_print_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text("+79130000000,+79139999999,Asia/Novosibirsk\n+79130000000,+79130000009,Asia/Omsk\n")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIALER_")}
    env |= {"AUTODIALER_NUMBERING_PLAN": str(plan), "AUTODIALER_DATA_DIR": str(data)}
    run = subprocess.run(
        [sys.executable, "-m", "autodialer", *command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 2
    assert (
        run.stderr
        == f"autodialer: error: AUTODIALER_NUMBERING_PLAN={str(plan)!r}: line 2: overlaps the range on line 1\n"
    )
    assert not data.exists(), "nothing is started or written"
