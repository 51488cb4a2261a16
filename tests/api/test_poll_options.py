"""POST /polling beyond the original: per-poll timing (digitTimeout, maxRepeats, maxDuration), the pseudo-keys
``timeout``/``invalid`` and the ``optout`` action, as stored and as the dialer reads them back."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api

from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.domain.poll_flow import PollAction


def poll(**extra: Any) -> dict[str, Any]:
    return {
        "crmId": "p",
        "questions": [
            {
                "questionId": "q",
                "questionText": "Q",
                "press": [
                    {"key": "timeout", "action": "", "nextQuestion": "q"},
                    {"key": "invalid", "action": "answer", "value": "bad key"},
                    {"key": "9", "action": "optout"},
                ],
            }
        ],
        **extra,
    }


async def test_timing_is_stored_per_poll_and_read_by_the_dialer(api: Api) -> None:
    status, payload = await api.post("/polling", poll(digitTimeout=0.5, maxRepeats="1", maxDuration=30))
    assert status == 200, payload
    definition = await SqlDialerStore(api.engine, page_limit=10_000).get_poll(int(payload["data"]["id"]))
    assert definition is not None
    assert (definition.digit_timeout_s, definition.max_repeats, definition.max_duration_s) == (0.5, 1, 30.0)
    press = definition.questions[0].press
    assert [(p.key, p.action) for p in press] == [("timeout", ""), ("invalid", "answer"), ("9", PollAction.OPT_OUT)]


async def test_a_repost_without_timing_goes_back_to_the_defaults(api: Api) -> None:
    await api.post("/polling", poll(digitTimeout=2, maxRepeats=0, maxDuration=10))
    status, payload = await api.post("/polling", poll())
    assert status == 200, payload
    definition = await SqlDialerStore(api.engine, page_limit=10_000).get_poll(int(payload["data"]["id"]))
    assert definition is not None
    assert (definition.digit_timeout_s, definition.max_repeats, definition.max_duration_s) == (5.0, 3, 120.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("digitTimeout", 0), ("digitTimeout", "soon"), ("digitTimeout", 61), ("maxRepeats", -1), ("maxRepeats", 21),
     ("maxRepeats", 1.5), ("maxDuration", 0.5), ("maxDuration", 3601), ("digitTimeout", True)],
)  # fmt: skip
async def test_timing_out_of_range_is_refused_by_name(api: Api, field: str, value: Any) -> None:
    status, payload = await api.post("/polling", poll(**{field: value}))
    assert status == 400
    assert any(e.startswith(field) for e in payload["messages"]["error"]), payload
    assert await api.rows("SELECT id FROM polls") == []


async def test_the_opt_out_action_has_one_name_on_the_wire(api: Api) -> None:
    body = poll()
    body["questions"][0]["press"][2]["action"] = "dnc"
    status, payload = await api.post("/polling", body)
    assert status == 400
    assert any("press[2].action" in e for e in payload["messages"]["error"]), payload
