"""A campaign end to end with the simulator's AMI user holding only the rights we ship in manager_autodialer.conf.

manager.c refuses an action whose registered authority misses every write class of the user ("Permission
denied") and drops events outside the read classes, so a right the product needs but does not ship fails here
rather than on a customer's Asterisk (as the missing "user" write class once did: every AutoDialer UserEvent
refused). "system" is left out on purpose: Filter is refused and the client filters on its side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import LAB_5551001_TALKS, LAB_AMI_RIGHTS, RING_TIMEOUTS, running_stack, shipped_ami_rights

from autodialer.simulator.events import manager_classes

pytestmark = pytest.mark.slow

FAST = RING_TIMEOUTS


async def test_a_campaign_call_works_under_the_shipped_ami_rights(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    read, write = shipped_ami_rights()
    assert "system" not in manager_classes(write)  # so Filter must be refused below
    async with running_stack(tmp_path, db_url, **FAST) as stack:
        assert (stack.sim.config.read_classes, stack.sim.config.write_classes) == (read, write)
        refused = stack.record_events("RequestNotAllowed")
        user_events = stack.record_events("UserEvent")
        # Log in again while we listen, so the refusals of the login sequence are seen too.
        stack.sim.control.drop_ami_connections(graceful=True)
        await stack.until(lambda: refused, 10, "the re-login's Filter to be refused")
        await stack.until(stack.service.dialer.availability.is_connected, 10, "the AMI link back")
        stack.sim.control.set_customer("5551001", LAB_5551001_TALKS)
        task = await stack.post_task({"name": "rights", "innerNum": "201", "numbers": ["5551001", "5551404"]})
        final = stack.by_phone(await stack.wait_final(task["id"]))
        await stack.until(
            lambda: len([e for e in user_events if e[1].get("UserEvent") == "AutoDialer"]) >= 4,
            5,
            "the AutoDialer UserEvents (refused without write class 'user')",
        )
    requests = sorted({fields["RequestType"] for _, fields in refused})
    # Only the two actions left to "system" on purpose; nothing the dialer needs (docs/dialplan.md, "Rights").
    assert requests == ["Action: Filter", "Action: PJSIPShowEndpoints"]
    ours = sorted(
        (f["dEvent"], f["OUT_NUMBER"], f.get("DIAL_STATUS")) for _, f in user_events if f["UserEvent"] == "AutoDialer"
    )
    assert ours == [
        ("EndCall", "5551001", "ANSWER"),
        ("EndCall", "5551404", "NOANSWER"),
        ("StartDial", "5551001", None),
        ("StartDial", "5551404", None),
    ]
    got = {phone: (row["result"], row["outDialState"], row["countTry"]) for phone, row in final.items()}
    # The lab's 5551001 answers and hangs up first; 5551404 is SIP 404 (DIALSTATUS CHANUNAVAIL), final at once.
    assert got == {"5551001": ("SUCCESS_CLIENT_H", None, "1"), "5551404": ("FAIL", "CHANUNAVAIL", "1")}


async def test_the_lab_rights_are_still_available_on_request(tmp_path: Path) -> None:
    async with running_stack(tmp_path, ami_rights=LAB_AMI_RIGHTS, **FAST) as stack:
        (session,) = stack.sim.ami.sessions
        assert session.filters  # the client's server-side Filters were accepted (write class system)
