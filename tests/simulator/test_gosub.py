"""Subroutines run on the called channel: Dial's ``U()`` and Queue's ``gosub`` argument (app_dial.c dial_exec_full,
app_queue.c try_calling, app_stack.c gosub_run), as the dialer's connect step uses them to mark an employee's
answer in AstDB."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig
from autodialer.simulator.config import QueueConfig
from autodialer.simulator.dial import gosub_location, parse_options
from autodialer.simulator.dialplan import separate_args

from .conftest import FAST
from .harness import AMITestClient

DIALPLAN = """
[test-out]
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,600)
 same => n,Hangup()

[test-connect]
exten => 201,1,Dial(PJSIP/201,20,gU(test-sub^${UNIQUEID}^two))
 same => n,UserEvent(AfterDial,Status: ${DIALSTATUS},Retval: ${GOSUB_RETVAL})
 same => n,Hangup()
exten => 202,1,Dial(PJSIP/202,20,gU(no-such-context^${UNIQUEID}))
 same => n,Hangup()
exten => 203,1,Dial(PJSIP/201,20,gU(test-busy))
 same => n,UserEvent(AfterDial,Status: ${DIALSTATUS},Retval: ${GOSUB_RETVAL})
 same => n,Hangup()
exten => 2200,1,Dial(Local/2200@internal,20,gU(test-sub^${UNIQUEID}^queue))
 same => n,Hangup()
exten => 2201,1,Queue(2200,,,,20,,"test-sub,${UNIQUEID},member")
 same => n,Hangup()

[test-sub]
exten => s,1,Set(DB(sub-mark/${ARG1})=${ARG2})
 same => n,UserEvent(InSub,Args: ${ARGC}/${ARG1}/${ARG2})
 same => n,Return(done)

[test-busy]
exten => s,1,Set(GOSUB_RESULT=BUSY)
 same => n,Return(refused)

[internal]
exten => 2200,1,Queue(2200,,,,20)
 same => n,Hangup()
"""


@pytest.fixture
async def pbx() -> AsyncIterator[tuple[PBXSimulator, AMITestClient]]:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, dialplan_text=DIALPLAN))
    await sim.start()
    sim.control.set_customer("5557001", Behaviour(answer_after=0.5, hangup_after=60.0))
    for exten in ("201", "202"):
        sim.control.set_employee(exten, Behaviour(answer_after=0.5))
    client = AMITestClient()
    await client.login(sim.ami_port)
    yield sim, client
    await client.close()
    await sim.stop()


async def call(ami: AMITestClient, exten: str, call_id: str) -> None:
    fields = [
        ("Channel", "Local/5557001@test-out"),
        ("Context", "test-connect"),
        ("Exten", exten),
        ("Priority", "1"),
        ("Async", "true"),
        ("ChannelId", call_id),
        ("OtherChannelId", f"{call_id}-2"),
    ]
    await ami.request("Originate", fields)
    await ami.wait_for(lambda: any(e.name == "Hangup" and e.get("Uniqueid") == call_id for e in ami.events), 5)


def index(ami: AMITestClient, name: str, **fields: str) -> int:
    return next(i for i, e in enumerate(ami.events) if e.name == name and all(e.get(k) == v for k, v in fields.items()))


async def test_dial_u_runs_the_subroutine_on_the_answered_callee_before_the_bridge(
    pbx: tuple[PBXSimulator, AMITestClient],
) -> None:
    sim, ami = pbx
    await call(ami, "201", "gs-1")
    assert sim.pbx.db["sub-mark"] == {"gs-1": "two"}  # ARG1 = the caller's ${UNIQUEID}, expanded before the Dial
    [in_sub] = [e for e in ami.named("UserEvent") if e.get("UserEvent") == "InSub"]
    assert in_sub.get("Args") == "2/gs-1/two"
    callee = in_sub.get("Channel") or ""
    assert callee.startswith("PJSIP/201-")  # on the called channel, not the caller
    steps = [e for e in ami.named("Newexten") if e.get("Channel") == callee and e.get("Context") == "test-sub"]
    assert [e.get("Application") for e in steps] == ["Set", "UserEvent", "Return"]
    # answer -> subroutine -> DialEnd ANSWER -> bridge
    answered = index(ami, "Newstate", Channel=callee, ChannelStateDesc="Up")
    sub = index(ami, "UserEvent", UserEvent="InSub")
    dial_end = index(ami, "DialEnd", DestChannel=callee, DialStatus="ANSWER")
    bridged = index(ami, "BridgeEnter", Channel=callee)
    assert answered < sub < dial_end < bridged
    retval = [e for e in ami.named("VarSet") if e.get("Channel") == callee and e.get("Variable") == "GOSUB_RETVAL"]
    assert [e.get("Value") for e in retval] == ["done"]
    local_args = {e.get("Variable") for e in ami.named("VarSet") if e.get("Channel") == callee}
    assert {"ARG1", "LOCAL(ARG1)", "ARG2", "LOCAL(ARG2)", "ARGC", "LOCAL(ARGC)"} <= local_args
    # no GOSUB_RESULT: the caller's Dial answered as usual (the customer hung up first, so no AfterDial)
    assert not [e for e in ami.named("UserEvent") if e.get("UserEvent") == "AfterDial"]


async def test_a_missing_subroutine_only_logs_and_the_call_is_bridged(
    pbx: tuple[PBXSimulator, AMITestClient], caplog: pytest.LogCaptureFixture
) -> None:
    """An older dialplan without the subroutine: gosub_exec fails (-1), app_dial ignores it and bridges."""
    sim, ami = pbx
    await call(ami, "202", "gs-2")
    assert "non-existent destination 'no-such-context,s,1'" in caplog.text
    [callee] = [
        e.get("DestChannel")
        for e in ami.named("DialEnd")
        if e.get("DialStatus") == "ANSWER" and (e.get("DestChannel") or "").startswith("PJSIP/202-")
    ]
    assert any(e.get("Channel") == callee for e in ami.named("BridgeEnter"))
    assert "sub-mark" not in sim.pbx.db


async def test_gosub_result_busy_ends_the_dial_busy_and_the_caller_goes_on(
    pbx: tuple[PBXSimulator, AMITestClient],
) -> None:
    _sim, ami = pbx
    await call(ami, "203", "gs-3")
    [after] = [e for e in ami.named("UserEvent") if e.get("UserEvent") == "AfterDial"]
    assert (after.get("Status"), after.get("Retval")) == ("BUSY", "refused")
    callee = next(e.get("DestChannel") for e in ami.named("DialEnd") if e.get("DialStatus") == "BUSY")
    assert not any(e.get("Channel") == callee for e in ami.named("BridgeEnter"))
    assert any(e.name == "Hangup" and e.get("Channel") == callee for e in ami.events)


async def test_dial_u_to_a_queue_through_a_local_channel_runs_once_a_member_answered(
    pbx: tuple[PBXSimulator, AMITestClient],
) -> None:
    """How the dialer reaches a queue: Dial(Local/2200@internal,…,U(…)). The Local ;1 answers when app_queue
    bridges a member (ast_bridge_call answers ;2), so the subroutine runs on ;1 after AgentConnect."""
    sim, ami = pbx
    await call(ami, "2200", "gs-4")
    assert sim.pbx.db["sub-mark"] == {"gs-4": "queue"}
    [in_sub] = [e for e in ami.named("UserEvent") if e.get("UserEvent") == "InSub"]
    assert (in_sub.get("Channel") or "").startswith("Local/2200@internal-") and in_sub.get("Channel", "").endswith(";1")
    assert index(ami, "AgentConnect") < index(ami, "UserEvent", UserEvent="InSub")


async def test_queue_gosub_runs_on_the_members_channel_before_agent_connect(
    pbx: tuple[PBXSimulator, AMITestClient],
) -> None:
    sim, ami = pbx
    await call(ami, "2201", "gs-5")
    [in_sub] = [e for e in ami.named("UserEvent") if e.get("UserEvent") == "InSub"]
    member = in_sub.get("Channel") or ""
    assert member.startswith("PJSIP/20")
    assert in_sub.get("Args") == "2/gs-5/member"
    assert sim.pbx.db["sub-mark"] == {"gs-5": "member"}
    dial_end = index(ami, "DialEnd", DestChannel=member, DialStatus="ANSWER")
    leave = index(ami, "QueueCallerLeave")
    connect = index(ami, "AgentConnect")
    assert dial_end < leave < index(ami, "UserEvent", UserEvent="InSub") < connect


async def test_a_queues_membergosub_runs_when_queue_names_none() -> None:
    text = DIALPLAN.replace('exten => 2201,1,Queue(2200,,,,20,,"test-sub,${UNIQUEID},member")', "")
    text += "\n[test-connect]\nexten => 2202,1,Queue(2200,,,,20)\n same => n,Hangup()\n"
    config = SimulatorConfig(
        ami_port=0, time_scale=FAST, dialplan_text=text, queues=(QueueConfig(member_gosub="test-sub"),)
    )
    async with PBXSimulator(config) as sim:
        sim.control.set_customer("5557001", Behaviour(answer_after=0.5, hangup_after=60.0))
        ami = AMITestClient()
        await ami.login(sim.ami_port)
        try:
            await call(ami, "2202", "gs-6")
        finally:
            await ami.close()
    [in_sub] = [e for e in ami.named("UserEvent") if e.get("UserEvent") == "InSub"]
    assert in_sub.get("Args") == "0//"  # no arguments: ARGC 0


def test_dial_options_are_parsed_as_main_app_c_does() -> None:
    assert parse_options("gU(dialer-connect^dlr-1)") == {"g": "", "U": "dialer-connect^dlr-1"}
    assert parse_options("U(a(b)^c)g") == {"U": "a(b)^c", "g": ""}
    assert parse_options('U("x)y"^z)') == {"U": "x)y^z"}
    assert parse_options("U(a\\)b)") == {"U": "a)b"}
    assert parse_options("gU(broken") == {"g": ""}  # missing ")": parsing stops there


def test_u_becomes_a_gosub_to_s_1_of_the_named_context() -> None:
    assert gosub_location("dialer-connect^dlr-1") == "dialer-connect,s,1(dlr-1)"
    assert gosub_location("sub^a^b") == "sub,s,1(a,b)"
    assert gosub_location("sub") == "sub,s,1"


def test_application_arguments_split_as_ast_app_separate_args() -> None:
    assert separate_args('2200,,,,20,,"sub,x,y"') == ["2200", "", "", "", "20", "", "sub,x,y"]
    assert separate_args("a(b,c),d") == ["a(b,c)", "d"]
    assert separate_args("a\\,b,c") == ["a,b", "c"]
    assert separate_args("a,") == ["a", ""]
