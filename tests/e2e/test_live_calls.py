"""A few hundred customers talking at once, end to end, every result checked (issue 11).

300 numbers on queue 2200 (300 members, rrmemory with autofill, each answering in 0.2 s) with maxCountChannels
300: every customer answers after 1 s and talks until they hang up, so a few hundred calls are up together. A member is
always free, so each number must end SUCCESS_CLIENT_H after exactly one Originate; a customer lost on the way
(FAIL_CLIENT_H_BEFORE_ANSWER), a row without a final result or a second dial is a failure of the dialer. How many
talked at once is counted from the simulator's own bridges, not from our counters.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import running_stack

from autodialer.dialplan import snippet
from autodialer.simulator import Behaviour, QueueConfig
from autodialer.simulator.config import EmployeeConfig

pytestmark = pytest.mark.slow

CALLS = 300
MEMBERS = tuple(str(10000 + i) for i in range(CALLS))
# At time scale 0.2 (the PBX's own timers, such as Queue()'s 30 s and the Dial's, must not run out in a real second
# or two while the machine is loaded: at 0.05 34 of 300 queue calls ended NOANSWER under load): the customer
# answers 0.2 s after the call starts and talks 15 s, long enough for a few hundred to be up at once (the dialer
# starts them in rounds), short enough for the test to stay well under a minute.
TIME_SCALE = 0.2
CUSTOMER = Behaviour(answer_after=1.0, hangup_after=75.0)
MEMBER = Behaviour(answer_after=0.2)


def talking_at_once(events: list[tuple[str, dict[str, str]]]) -> int:
    """The most bridges holding a queue member (PJSIP/1xxxx) and a customer's side at one time."""
    members: dict[str, set[str]] = {}
    talking: set[str] = set()
    peak = 0
    for name, fields in events:
        bridge, channel = fields.get("BridgeUniqueid", ""), fields.get("Channel", "")
        inside = members.setdefault(bridge, set())
        (inside.add if name == "BridgeEnter" else inside.discard)(channel)
        if len(inside) >= 2 and any(c.startswith("PJSIP/1") for c in inside):
            talking.add(bridge)
        else:
            talking.discard(bridge)
        peak = max(peak, len(talking))
    return peak


async def test_three_hundred_live_calls_all_end_right(tmp_path: Path, db_url: str, migrated_engine: Any) -> None:
    sim_config = {
        "dialplan_text": snippet(),
        "employees": tuple(EmployeeConfig(m) for m in MEMBERS),
        "queues": (QueueConfig("2200", members=MEMBERS, timeout_s=30.0, strategy="rrmemory", autofill=True),),
    }
    # A rate cap whose burst (a quarter second's worth) is half the campaign: two rounds of 150 are up together
    # however slowly a loaded machine runs them (pacing itself has tests of its own).
    settings = {"max_count_channels_ceiling": CALLS, "originate_timeout_s": 30, "originate_rate": 2 * CALLS}
    async with running_stack(tmp_path, db_url, time_scale=TIME_SCALE, sim_config=sim_config, **settings) as stack:
        stack.sim.control.set_default_customer(CUSTOMER)
        for member in MEMBERS:
            stack.sim.control.set_employee(member, MEMBER)
        bridges = stack.record_events("BridgeEnter", "BridgeLeave")
        numbers = [f"7920{i:07d}" for i in range(CALLS)]
        body = {"name": "live calls", "innerNum": "2200", "numbers": numbers, "maxCountChannels": CALLS}
        task = await stack.post_task(body)
        rows = stack.by_phone(await stack.wait_final(task["id"], timeout=45))
        dialled = Counter(c["channel"] for c in stack.originates())
        history = await stack.attempt_rows()
    results = Counter(row["result"] for row in rows.values())
    assert results == {"SUCCESS_CLIENT_H": CALLS}, results
    assert len(rows) == CALLS and all(row["closeTime"] != "0" for row in rows.values())
    assert set(dialled.values()) == {1} and len(dialled) == CALLS  # one Originate per number, none again
    assert len(history) == CALLS
    assert talking_at_once(bridges) >= 200, "the calls were not up together: this is no live-call test"
