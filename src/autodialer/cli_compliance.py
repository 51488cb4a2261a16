"""``autodialer explain TASK_ID PHONE``: why a number of a task waits, in words, from the same verdict as the v2
explain route (CampaignService.explain, with the engine's call window)."""

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
callee's candidate zones, the do-not-call list, the task's and the row's own state), in words, and when it next
becomes dialable. TASK_ID is the v1 task id; PHONE the number as the CRM sent it (another spelling with the same
phoneId finds it too). Exit status: 0 dialable now, 1 held back, 2 no such task or number."""


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


def _explain(args: argparse.Namespace) -> int:
    return asyncio.run(_explain_async(args.task_id, args.phone))


async def _explain_async(task_id: int, phone: str) -> int:
    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.bootstrap import build_campaign_service

    settings = load_settings()
    db = create_engine(settings.effective_database_url)
    try:
        await migrate(db)
        service = build_campaign_service(settings, db, time.time, lambda: None)
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
