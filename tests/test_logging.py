"""Logging: -v shows our components and not SQL, the AMI wire trace has its own switch, levels per component, and
the dialer's decisions and results read at INFO with task and call ids."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from autodialer import log_config
from autodialer.adapters.db.engine import create_engine
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.attempt_ledger import outcome_line
from autodialer.services.dialer_store import Attempt
from autodialer.settings import load_settings
from autodialer.settings_check import SettingsError

NAMES = (
    "",
    "autodialer",
    "aiosqlite",
    "sqlalchemy",
    "sqlalchemy.engine",
    log_config.WIRE_LOGGER,
    log_config.AGI_WIRE_LOGGER,
)


@pytest.fixture(autouse=True)
def restore_levels() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in NAMES}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def enabled(name: str, level: int) -> bool:
    return logging.getLogger(name).isEnabledFor(level)


async def test_verbose_logs_our_debug_lines_but_no_sql(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_config.configure(verbose=True)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        async with engine.connect() as connection:
            for _ in range(5):
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    logging.getLogger("autodialer.services.dialer_engine").debug("a decision")
    names = {record.name for record in caplog.records}
    assert "autodialer.services.dialer_engine" in names
    assert not any(name.startswith(("aiosqlite", "sqlalchemy")) for name in names), names


def test_the_ami_wire_trace_has_its_own_switch() -> None:
    log_config.configure(verbose=True)
    assert not enabled(log_config.WIRE_LOGGER, logging.DEBUG) and not enabled(log_config.AGI_WIRE_LOGGER, logging.DEBUG)
    log_config.configure(verbose=False, wire_trace=True)
    assert enabled(log_config.WIRE_LOGGER, logging.DEBUG)
    assert not enabled("autodialer.services.dialer_engine", logging.DEBUG)


def test_levels_per_component_override_the_defaults() -> None:
    levels = log_config.parse_levels(" autodialer.services.dialer_engine=debug, sqlalchemy.engine=INFO,root=WARNING ")
    assert levels == {"autodialer.services.dialer_engine": "DEBUG", "sqlalchemy.engine": "INFO", "root": "WARNING"}
    log_config.configure(levels=levels)
    assert enabled("autodialer.services.dialer_engine", logging.DEBUG)
    assert not enabled("autodialer.adapters.asterisk.ami_client", logging.DEBUG)
    assert enabled("sqlalchemy.engine", logging.INFO)
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize("value", ["dialer", "autodialer=LOUD", "a b=DEBUG"])
def test_a_bad_log_levels_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AUTODIALER_LOG_LEVELS", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    (problem,) = refused.value.problems
    assert problem.startswith("AUTODIALER_LOG_LEVELS=") and ("logger=LEVEL" in problem or "one of DEBUG" in problem)


def test_a_result_line_names_task_call_number_outcome_and_what_next() -> None:
    attempt = Attempt(
        call_id="dlr-1",
        task_id=7,
        number_id=3,
        phone="79522233446",
        inner_num="201",
        mode="connect",
        agent="PJSIP/201",
        created_at=0.0,
    )
    busy = ResultRow(result="", out_dial_state="BUSY", cause="User busy", next_attempt_at=1_800_000_000.0)
    line = outcome_line(attempt, busy, "FAIL")
    assert line.startswith("task 7: call dlr-1 to 79522233446: FAIL (customer BUSY, cause 'User busy'); dialled again")
    talked = ResultRow(result="SUCCESS_CLIENT_H", in_dial_state="ANSWER", close_time=1)
    assert outcome_line(attempt, talked, "SUCCESS_CLIENT_H") == (
        "task 7: call dlr-1 to 79522233446: SUCCESS_CLIENT_H (agent ANSWER)"
    )
