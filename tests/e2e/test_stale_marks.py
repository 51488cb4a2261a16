"""Answer marks nobody needs any more leave the PBX's AstDB (services/stale_marks.py), with the AMI rights we ship.

A mark left behind by a step cancelled before its answer was stored, or by a call answered while we were down, is
read with DBGetTree (reporting) and deleted with DATABASE DEL on a later FastAGI session (our AMI user has no
``system`` write for DBDel). Marks of calls still in flight, or of calls our store does not know, stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import LAB_5551001_TALKS, running_stack

pytestmark = pytest.mark.slow

CUSTOMER, EMPLOYEE = "dialer-answered", "dialer-agent-answered"


async def test_marks_of_ended_calls_are_deleted_and_others_stay(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with running_stack(tmp_path, db_url, agent_dial_timeout_s=5) as stack:
        sim, dialer = stack.sim, stack.service.dialer
        assert dialer is not None and dialer.stale_marks is not None
        sim.control.set_customer("5551001", LAB_5551001_TALKS)
        first = await stack.post_task({"name": "first", "innerNum": "201", "numbers": ["5551001"]})
        await stack.wait_final(first["id"], timeout=15)
        ended = stack.originates()[0]["channel_id"]
        # Its own step deleted its marks; put back what a cancelled step would have left, and a foreign call's.
        assert ended not in sim.pbx.db.get(CUSTOMER, {})
        sim.pbx.db.setdefault(CUSTOMER, {}).update({ended: "1764000000", "dlr-not-ours": "1764000000"})
        sim.pbx.db.setdefault(EMPLOYEE, {}).update({ended: "1764000001"})

        assert await dialer.stale_marks.refresh() == 2  # both marks of the ended call; not the foreign one

        second = await stack.post_task({"name": "second", "innerNum": "201", "numbers": ["5551001"]})
        await stack.wait_final(second["id"], timeout=15)
        latest = stack.originates()[1]["channel_id"]
        # The second call's step deleted the two old marks; its own employee mark goes on its session if its endDial
        # had committed by then, else it waits for a later session (connect_call: the step does not wait for it).
        await stack.until(lambda: dialer.stale_marks is not None and dialer.stale_marks.cleared == 2, 5, "deletes")
        waiting = dialer.stale_marks.pending
        assert waiting in (0, 1)
    assert sim.pbx.db.get(CUSTOMER, {}) == {"dlr-not-ours": "1764000000"}
    assert set(sim.pbx.db.get(EMPLOYEE, {})) <= ({latest} if waiting else set())
