"""The ``cause`` of a result is the provider's own (spec §3.1: HANGUPCAUSE(<provider channel>,tech)), end to end.

The simulator runs the dialplan we ship (its hangup handler on the customer half reports the tech cause in a
UserEvent) under the AMI rights we ship. Without that handler (the lab's own dialplan, test_dialer_results.py) the
cause falls back to Asterisk's Q.850 text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import running_stack

from autodialer.cli_sim import product_dialplan
from autodialer.simulator import Behaviour

pytestmark = pytest.mark.slow

NO_RETRIES = {
    "customer_busy": {"delay_s": 1, "max_retries": 0},
    "customer_no_answer": {"delay_s": 1, "max_retries": 0},
    "customer_congestion": {"delay_s": 1, "max_retries": 0},
}


async def test_results_carry_the_providers_tech_cause(tmp_path: Path, db_url: str, migrated_engine: Any) -> None:
    settings: dict[str, Any] = {"originate_timeout_s": 5, "agent_dial_timeout_s": 5, "retry_policy": NO_RETRIES}
    sim_config = {"dialplan_text": product_dialplan()}
    async with running_stack(tmp_path, db_url, sim_config=sim_config, **settings) as stack:
        stack.sim.control.set_customer("5551777", Behaviour(outcome="noroute", ring=False))  # trunk unavailable
        stack.sim.control.set_customer("5551001", Behaviour(answer_after=0.5, hangup_after=20.0))
        stack.sim.control.set_employee("201", Behaviour(answer_after=0.5))
        numbers = ["5551486", "5551503", "5551404", "5551999", "5551777"]
        failing = await stack.post_task(
            {"name": "causes", "innerNum": "202", "numbers": numbers, "maxCountChannels": 5}
        )
        answered = await stack.post_task({"name": "answered", "innerNum": "201", "numbers": ["5551001"]})
        rows = stack.by_phone(await stack.wait_final(failing["id"], timeout=20))
        talk = stack.by_phone(await stack.wait_final(answered["id"], timeout=20))
    got = {phone: (row["result"], row["cause"]) for phone, row in rows.items()}
    assert got == {
        "5551486": ("FAIL", "SIP 486 Busy Here"),
        "5551503": ("FAIL", "SIP 503 Service Unavailable"),
        "5551404": ("FAIL", "SIP 404 Not Found"),
        # the Originate timeout CANCELs the ringing provider leg: its last response was the 180
        "5551999": ("FAIL", "SIP 180 Ringing"),
        # no provider channel at all: nothing ran the handler, cause stays null and the provider is blamed
        "5551777": ("FAIL_PROVIDER", None),
    }
    assert (talk["5551001"]["result"], talk["5551001"]["cause"]) == ("SUCCESS_CLIENT_H", "SIP 200 OK")
