"""``autodialer explain TASK_ID PHONE``: why a number of a task waits, in words, from the same verdict as the v2
explain route (CampaignService.explain, with the engine's call window and numbering plan)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from autodialer.domain.campaigns import CampaignError
from autodialer.settings import load_settings

EXPLAIN_DESCRIPTION = """\
Print every rule that holds a number of a task back (timeCallAllow, retry wait, the call window in each of the
callee's candidate zones: its tz param, else AUTODIALER_NUMBERING_PLAN, else the number's; the do-not-call list, the
task's and the row's own state), in words, and when it next becomes dialable. Whether the target has a free agent
and line and the PBX link is up is known only to the running service: this command says so, and the v2 explain
route there names them (GET /api/v2/campaigns/{id}/numbers/{nid}/explain). TASK_ID is the v1 task id; PHONE the
number as the CRM sent it (another spelling with the same phoneId finds it too). Exit status: 0 dialable now by
those rules, 1 held back, 2 no such task or number or bad settings."""


DNC_IMPORT_DESCRIPTION = """\
Add every number of FILE.csv to the global do-not-call list, keyed by E.164 (numbers without a country code are read
in AUTODIALER_DEFAULT_REGION): a header row naming a `phone` column (or `number`, `телефон`), optionally `note`.
Good rows are stored in one transaction, bad rows reported with their row number and rule; open task numbers now
on the list get their final result (FAIL, state doNotCall). Exit status: 0 all rows good, 1 some rows bad (the good
ones stored), 2 the file cannot be read (nothing stored). Format: docs/call-windows.md."""


def register(subparsers: Any) -> None:
    explain = subparsers.add_parser(
        "explain",
        help="why a number of a task waits, and when it is next dialable",
        description=EXPLAIN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("task_id", metavar="TASK_ID", type=int, help="the v1 task id")
    explain.add_argument("phone", metavar="PHONE", help="the number as the CRM sent it")
    explain.set_defaults(handler=_explain)

    dnc = subparsers.add_parser("dnc", help="the global do-not-call list")
    actions = dnc.add_subparsers(dest="dnc_action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="add the numbers of a CSV file (header row naming a phone column; optional note)",
        description=DNC_IMPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", metavar="FILE.csv", help="comma- or semicolon-separated, UTF-8")
    load.set_defaults(handler=_dnc_import)


def _explain(args: argparse.Namespace) -> int:
    return asyncio.run(_explain_async(args.task_id, args.phone))


async def _explain_async(task_id: int, phone: str) -> int:
    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.bootstrap import build_campaign_service, load_numbering_plan

    settings = load_settings()
    plan = load_numbering_plan(settings)  # a bad file stops the command before anything is opened or written
    db = create_engine(settings.effective_database_url)
    try:
        await migrate(db)
        service = build_campaign_service(settings, db, time.time, lambda: None, plan)
        try:
            number, verdict = await service.explain_phone(task_id, phone)
        except CampaignError as e:
            print(f"autodialer: error: {e}", file=sys.stderr)
            return 2
    finally:
        await db.dispose()
    print(f"task {task_id}, number {number.phone} (id {number.id}, phoneId {number.phone_id}):")
    for line in verdict.lines():
        print(f"  {line}")
    return 0 if verdict.allowed else 1


def _dnc_import(args: argparse.Namespace) -> int:
    return asyncio.run(_dnc_import_async(args.file))


async def _dnc_import_async(path: str) -> int:
    from pathlib import Path

    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.bootstrap import build_dnc_lists, wake_dialers
    from autodialer.domain.dnc_import import InvalidDncFile

    settings = load_settings()
    db = create_engine(settings.effective_database_url)
    started = time.perf_counter()
    try:
        await migrate(db)
        lists = build_dnc_lists(settings, db, time.time)
        with open(path, encoding="utf-8", newline="") as lines:
            report = await lists.import_csv(lines, f"csv import {Path(path).name}")
        await wake_dialers(settings, db)
    except (InvalidDncFile, OSError, UnicodeDecodeError) as e:
        print(f"autodialer: error: {path}: {e}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    for error in report.errors:
        print(
            f"row {error.row}: {error.field}: {error.message}"
            if error.field != "phone"
            else f"row {error.row}: {error.message}"
        )
    counts = report.counts
    shown = f" (first {len(report.errors)} shown)" if counts.errors > len(report.errors) else ""
    print(
        f"{counts.entries} numbers read ({report.added} new on the list), {counts.duplicates} repeated in the file, "
        f"{counts.errors} bad rows{shown}; {report.closed} open numbers closed as doNotCall; "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 1 if counts.errors else 0
