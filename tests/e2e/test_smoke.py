"""The service against the PBX simulator over real TCP: a small campaign reaches the results MikoPBX would show."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.harness import LAB_5551001_TALKS, running_stack

pytestmark = pytest.mark.slow


async def test_a_campaign_on_one_extension_reaches_mikopbx_results(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        stack.sim.control.set_customer("5551001", LAB_5551001_TALKS)
        task = await stack.post_task({"name": "smoke", "innerNum": "201", "numbers": ["5551001", "5551404", "7770000"]})
        final = stack.by_phone(await stack.wait_final(task["id"]))
    assert final["5551001"]["result"] == "SUCCESS_CLIENT_H"  # the customer sends BYE 12 s after answering
    # As in MikoPBX: the customer left during the bridge, so endDial never ran and inDialState stays null.
    assert (final["5551001"]["state"], final["5551001"]["inDialState"]) == ("endCall", None)
    assert final["5551404"]["result"] == "FAIL"
    assert final["5551404"]["cause"] == "Unallocated (unassigned) number"
    assert final["7770000"]["result"] == "FAIL_ROUTE"  # no route in [dialer-out]
    assert {row["countTry"] for row in final.values()} == {"1"}
