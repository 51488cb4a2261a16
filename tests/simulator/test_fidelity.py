"""The simulator against the real Asterisk 22 traces: same client actions in, same AMI stream out.

Each test replays one recorded scenario (actions, pauses scaled 1:100, the same customer/employee behaviour,
the recorded FastAGI commands) and compares the event stream with the trace after normalising ids:
identical multiset of events (every field, in wire order, except clocks/counters/ids listed in
normalise.VOLATILE) and identical order per channel where Asterisk fixes it.
"""

from __future__ import annotations

import pytest

from autodialer.simulator import Behaviour, PBXSimulator

from .normalise import normalise, trace_events
from .replay import SCALE, compare, replay, response_summary, trace_responses

pytestmark = pytest.mark.skipif(not trace_events.__module__, reason="traces missing")


def _employee_busy(sim: PBXSimulator) -> None:
    sim.control.set_employee("201", Behaviour(outcome="busy", ring=False))


def _employee_no_answer(sim: PBXSimulator) -> None:
    sim.control.set_employee("201", Behaviour(outcome="noanswer"))


def _employee_answers(sim: PBXSimulator) -> None:
    sim.control.set_employee("201", Behaviour(answer_after=1.5))


# The lab prompt lasts 1 s and digit 1 arrived 0.94 s into it; a 2 s prompt keeps that digit inside the
# STREAM FILE however the scaled clock jitters, without changing which command each digit lands in.
LONG_PROMPT = {"dialer-prompt": 2.0}

# The customer's digits are timed from the answer on the scaled clock, but the FastAGI session that reads them
# starts over a real socket: at 1:50 digit 1 came 19 ms after the answer, and a loaded machine (CI) sometimes
# took longer than that to reach the ANSWER command, so DTMFBegin showed up before AGIExecStart. 1:10 gives the
# session ~95 ms, the trace's order is unchanged.
AGI_SCALE = 0.1

CASES = [
    ("01-login-initial-queries-and-201-state-changes", None, {}),
    ("02-originate-answer-bridge-customer-hangup", "02-originate-answer-bridge-customer-hangup", {}),
    ("03-originate-customer-busy-486", None, {}),
    ("04-originate-customer-no-answer-timeout", None, {}),
    ("05-originate-congestion-503-404-and-no-route", None, {}),
    (
        "06-customer-answers-employee-busy-then-no-answer",
        "06-customer-answers-employee-busy-then-no-answer",
        {"(a) employee 201 busy": _employee_busy, "(b) employee 201 rings": _employee_no_answer},
    ),
    ("07-agi-poll-dtmf", "07-agi-poll-dtmf", {}, AGI_SCALE),
    ("08-amd-after-answer", None, {}),
    ("10-originate-direct-pjsip-reason-codes", None, {}),
    ("11-load-single-local-call-sample", None, {}),
    ("12-originate-answer-to-queue-2200", None, {}),
    ("13-originate-rejected-nonexistent-exten", None, {}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0][:2] for c in CASES])
async def test_simulator_matches_trace(case: tuple) -> None:
    name, agi, hooks, *scale = case
    result = await replay(
        name, hooks=hooks, agi_name=agi, scale=scale[0] if scale else SCALE, sound_seconds=LONG_PROMPT
    )
    assert response_summary(result.responses) == response_summary(trace_responses(name))
    responses = [list(r.fields) for r in result.responses]
    assert normalise(responses, strict=True) == normalise(trace_responses(name), strict=True)
    compare(trace_events(name), result.events)


async def test_unfiltered_connection_matches_trace() -> None:
    name = "02-originate-answer-bridge-customer-hangup"
    result = await replay(name, agi_name=name, raw_listener=True)
    unfiltered = trace_events(f"{name}-unfiltered", conn="raw")
    # Every VarSet too (the variable names per channel; values are clocks and RTP statistics).
    compare(unfiltered, result.raw_events, skip=frozenset({"RTCPSent", "RTCPReceived"}))


async def test_agi_session_answers_match_trace() -> None:
    name = "07-agi-poll-dtmf"
    result = await replay(name, agi_name=name, scale=AGI_SCALE, sound_seconds=LONG_PROMPT)
    assert result.agi is not None
    got = [text for _, text in result.agi.sessions[0].results]
    assert got[0] == "200 result=0"
    assert got[1].startswith("200 result=49 endpos=")
    assert got[2:] == [
        "200 result=35",
        "200 result=35",
        "200 result=1",
        got[5],
        "200 result=0 endpos=8000",
        "200 result=-1 endpos=0",
        "510 Invalid or unknown command",
        "200 result=1",
        "511 Command Not Permitted on a dead channel or intercept routine",
    ]
    assert got[5].startswith("200 result=1 (35-Local/5551002@dialer-out-") and got[5].endswith(";1)")
    assert result.agi.sessions[0].hangup_notices == 1
    assert [p for _, p in result.sim.pbx.prompts] == ["dialer-prompt", "dialer-prompt", "dialer-thanks"]
