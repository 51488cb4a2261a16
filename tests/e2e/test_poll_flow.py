"""Voice polls end to end: the simulator's customer presses keys, the service runs the poll over FastAGI."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.poll_stack import poll_stack

pytestmark = pytest.mark.slow

LINEAR = {
    "crmId": "survey-1",
    "name": "Delivery survey",
    "questions": [
        {
            "questionId": "q1",
            "questionText": "Are you ready to receive the parcel? Press 1 or 2.",
            "lang": "en-US",
            "press": [
                {"key": "1", "action": "answer", "value": "yes", "nextQuestion": "q2"},
                {"key": "2", "action": "answer", "value": "no", "nextQuestion": "q2"},
            ],
        },
        {
            "questionId": "q2",
            "questionText": "Rate us from 1 to 5.",
            "lang": "en-US",
            "press": [{"key": str(k), "action": "answer", "value": f"score {k}"} for k in range(1, 6)],
        },
    ],
}


async def test_a_linear_poll_records_one_row_per_key_and_succeeds(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        poll_id = await ps.post_poll(LINEAR)
        ps.stack.sim.control.set_customer("5552001", dtmf=((1.0, "1"), (2.0, "4")))
        task_id = await ps.poll_task(poll_id, ["5552001"])
        task = await ps.stack.wait_final(task_id)
        feed = await ps.polling_results()
    row = task["results"][0]
    assert (row["result"], row["state"]) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
    answers = [(a["questionCrmId"], a["result"], a["exten"]) for a in task["resultsPoling"]]
    assert answers == [("q1", "yes", "1"), ("q2", "score 4", "4")]
    assert [(a["questionCrmId"], a["result"]) for a in feed] == [("q1", "yes"), ("q2", "score 4")]
    assert {(a["taskId"], a["pollingId"], a["phone"], a["phoneId"]) for a in feed} == {
        (task_id, poll_id, "5552001", "5552001")
    }
    print(ps.prompts(), ps.speech.texts)
