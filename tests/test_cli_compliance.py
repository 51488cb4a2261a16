"""``autodialer explain TASK_ID PHONE`` prints the verdict the engine and the v2 explain route share, in words;
``autodialer dnc import FILE.csv`` fills the do-not-call list."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.adapters.db.task_notifications import PgTaskListener, is_postgresql
from autodialer.adapters.db.task_repository import NumberColumns, NumberRow, SqlTaskRepository
from autodialer.adapters.process.local_sockets import RunDir
from autodialer.adapters.process.wake_socket import WakeListener
from autodialer.cli import main
from autodialer.domain.eligibility import LIVE_UNKNOWN

TASK = 1_000_000_001


async def run(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)  # the command runs its own event loop


def _zone_at_three_in_the_morning() -> str:
    """An Etc/GMT zone where it is now between 03:00 and 04:00, outside 09:00-21:00 whatever the hour in UTC."""
    return _zone_at(3)


def _zone_at(hour: int) -> str:
    """An Etc/GMT zone where it is now between ``hour``:00 and ``hour``:59."""
    offset = (hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset  # Etc/GMT-14..+12; POSIX signs are inverted
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


async def _task(engine: AsyncEngine, tz: str) -> None:
    rows = [
        NumberRow(0, "8 952 223-34-46", "89522233446", "9522233446", json.dumps({"tz": tz}), "", 0),
        NumberRow(1, "84953334455", "84953334455", "4953334455", json.dumps({"tz": "UTC"}), "", 0),
    ]
    await SqlTaskRepository(engine, page_limit=10_000).save_task(
        task_id=None,
        crm_id="c",
        columns={"inner_num": "201", "max_count_channels": 1},
        numbers=[NumberColumns.of(rows)],
        number_count=2,
        now=time.time(),
    )


async def test_explain_names_the_window_and_the_list_and_when_the_number_is_next_dialable(
    migrated_engine: AsyncEngine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    zone = _zone_at_three_in_the_morning()
    await _task(migrated_engine, zone)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    monkeypatch.setenv("AUTODIALER_PBX_TIMEZONE", "UTC")
    monkeypatch.setenv("AUTODIALER_CALL_WINDOW", "00:00-24:00; sat,sun 00:00-24:00")
    assert await run(["explain", str(TASK), "8 952 223-34-46"]) == 0
    # The agents and the link are the running service's to know: the command says so.
    assert capsys.readouterr().out.splitlines()[1:] == ["  may be dialled now", f"  {LIVE_UNKNOWN}"]

    monkeypatch.setenv("AUTODIALER_CALL_WINDOW", "09:00-21:00")
    assert await run(["explain", str(TASK), "8 952 223-34-46"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"task {TASK}, number 8 952 223-34-46 (id ")
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    opening = (local.replace(hour=9, minute=0, second=0, microsecond=0)).astimezone(UTC)
    assert lines[1].startswith(f"  outside 09:00–21:00 {zone} (now ")
    assert "zone from the number's tz param), next at " in lines[1]
    assert lines[2:] == [f"  next dialable at {opening:%Y-%m-%d %H:%M %a} PBX time", f"  {LIVE_UNKNOWN}"]

    await SqlDialerStore(migrated_engine, page_limit=10_000).add_dnc("+79522233446", "poll:201", time.time())
    assert await run(["explain", str(TASK), "89522233446"]) == 1  # another spelling of the same phoneId
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  on the global do-not-call list since ") for line in lines)
    assert lines[-1] == "  not dialable again unless something changes"


async def test_explain_takes_the_zone_from_the_numbering_plan_unless_a_tz_param_says_otherwise(
    migrated_engine: AsyncEngine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zone = _zone_at_three_in_the_morning()
    rows = [
        NumberRow(0, "8 913 123-45-67", "89131234567", "9131234567", "{}", "", 0),
        NumberRow(1, "8 913 765-43-21", "89137654321", "9137654321", json.dumps({"tz": _zone_at(15)}), "", 0),
    ]
    await SqlTaskRepository(migrated_engine, page_limit=10_000).save_task(
        task_id=None,
        crm_id="c",
        columns={"inner_num": "201", "max_count_channels": 1},
        numbers=[NumberColumns.of(rows)],
        number_count=2,
        now=time.time(),
    )
    plan = tmp_path / "plan.csv"
    plan.write_text(f"# DEF 913, here in a zone where it is 03:00 now\n+79130000000,+79139999999,{zone}\n")
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    monkeypatch.setenv("AUTODIALER_PBX_TIMEZONE", "UTC")
    monkeypatch.setenv("AUTODIALER_CALL_WINDOW", "09:00-21:00")
    monkeypatch.setenv("AUTODIALER_NUMBERING_PLAN", str(plan))
    assert await run(["explain", str(TASK), "8 913 123-45-67"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"  outside 09:00–21:00 {zone} (now ")
    assert "zone from the numbering plan), next at " in lines[1]
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    opening = (local.replace(hour=9, minute=0, second=0, microsecond=0)).astimezone(UTC)
    assert lines[2] == f"  next dialable at {opening:%Y-%m-%d %H:%M %a} PBX time"

    # In the plan's range too, but its tz param puts it at 15:00 now: the param decides, so it may be called.
    assert await run(["explain", str(TASK), "8 913 765-43-21"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["  may be dialled now", f"  {LIVE_UNKNOWN}"]


async def test_explain_without_the_task_or_the_number_says_which(
    migrated_engine: AsyncEngine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _task(migrated_engine, "UTC")
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    assert await run(["explain", str(TASK + 5), "84953334455"]) == 2
    assert "campaign_id: campaign 1000000006 does not exist" in capsys.readouterr().err
    assert await run(["explain", str(TASK), "+7 999 000-00-00"]) == 2
    assert "phone: campaign 1000000001 has no number '+7 999 000-00-00'" in capsys.readouterr().err
    assert await run(["explain", str(TASK), "84953334455"]) == 0


async def test_dnc_import_stores_good_rows_reports_bad_ones_and_closes_listed_open_numbers(
    migrated_engine: AsyncEngine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _task(migrated_engine, "UTC")
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    csv_file = tmp_path / "dnc.csv"
    csv_file.write_text(
        "\ufeffphone;note\n+7 (952) 223-34-46;asked\n79522233446;again\n\nnot a number;x\n+1 212 555 0123;\n",
        encoding="utf-8",
    )
    assert await run(["dnc", "import", str(csv_file)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "row 5: phone: 'not a number' is not a phone number"
    assert out[1].startswith(
        "2 numbers read (2 new on the list), 1 repeated in the file, 1 bad rows; 1 open numbers closed as doNotCall;"
    )
    async with migrated_engine.connect() as connection:
        listed = (await connection.execute(text("SELECT e164, source FROM dnc_numbers ORDER BY e164"))).all()
        closed = (await connection.execute(text("SELECT phone, state FROM task_numbers ORDER BY phone"))).all()
    assert [tuple(r) for r in listed] == [
        ("+12125550123", "csv import dnc.csv"),
        ("+79522233446", "csv import dnc.csv"),
    ]
    assert [tuple(r) for r in closed] == [("8 952 223-34-46", "doNotCall"), ("84953334455", "CreateTask")]
    assert await run(["dnc", "import", str(csv_file)]) == 1  # again: nothing new
    assert "(0 new on the list)" in capsys.readouterr().out

    (tmp_path / "bad.csv").write_text("name;note\nx;y\n", encoding="utf-8")
    assert await run(["dnc", "import", str(tmp_path / "bad.csv")]) == 2
    assert "the header row must name a phone column" in capsys.readouterr().err


async def test_dnc_import_wakes_the_dialer_of_a_serve_on_the_data_directory_and_on_postgresql_every_instance(
    migrated_engine: AsyncEngine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Closing numbers may close a task: a running dialer should hear of it at once, not at its next re-read.
    await _task(migrated_engine, "UTC")
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    monkeypatch.setenv("AUTODIALER_DATA_DIR", str(tmp_path))
    local: list[int] = []
    listener = WakeListener(RunDir.create(tmp_path).wake_socket, lambda: local.append(1))
    listener.open()
    notified: list[int] = []
    pg = None
    if is_postgresql(db_url):
        # Another instance's dialer (the command runs in this process: a listener signed with our pid would
        # rightly ignore it as its own).
        pg = PgTaskListener(db_url, "another-host:1", lambda: notified.append(1))
        pg.start()
        await asyncio.wait_for(pg.listening.wait(), 10)
    try:
        csv_file = tmp_path / "dnc.csv"
        csv_file.write_text("phone\n+7 (952) 223-34-46\n", encoding="utf-8")
        assert await run(["dnc", "import", str(csv_file)]) == 0
        deadline = time.monotonic() + 5
        while not local or (pg is not None and not notified):
            assert time.monotonic() < deadline, f"local wake-ups {local}, notifies {notified}"
            await asyncio.sleep(0.02)
    finally:
        listener.close()
        if pg is not None:
            await pg.stop()
