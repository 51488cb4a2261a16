"""The PBX's own record of answers (answer_marks.py) through the shipped dialplan, read by the gateway.

The simulator runs the snippet we ship; our FastAGI handler dials the employee with ``U(dialer-connect^<call id>)``
as the connect step does, on the real AGI adapter. The customer's mark comes from the connect context's first
step, the employee's from its ``s`` subroutine on the employee's channel; ``call_marks`` reads both (and whether
the dialplan writes them) in one round trip. A dialplan from before the employee's mark reads as None for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from autodialer.adapters.asterisk import ami_client
from autodialer.adapters.asterisk.agi_call import AGICall
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer
from autodialer.adapters.asterisk.pbx_gateway import EVENT_FILTERS, AsteriskPbxGateway, GatewayConfig
from autodialer.dialplan import snippet
from autodialer.protocols.ami import Action
from autodialer.services.ports import CallMarks
from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig

SUBROUTINE = "exten => s,1,Set(DB(dialer-agent-answered/${ARG1})=${EPOCH})\n same => n,Return()\n"


async def connect(call: AGICall) -> None:
    """The connect step's Dial as ConnectCallHandler sends it (without deleting the marks afterwards)."""
    await call.exec("Dial", "PJSIP/201", "20", f"gU(dialer-connect^{call.uniqueid})")
    if not call.hung_up:
        await call.hangup()


async def run(dialplan: str, calls: dict[str, str]) -> tuple[CallMarks, PBXSimulator]:
    """Originate ``calls`` (call id -> number), wait for them to end, and read the marks."""
    async with FastAGIServer({"/connect": connect}, port=0, hangup_grace=0.5) as agi:
        config = SimulatorConfig(ami_port=0, agi_port=agi.port, time_scale=0.01, dialplan_text=dialplan)
        async with PBXSimulator(config) as sim:
            sim.control.set_employee("201", Behaviour(answer_after=0.5))
            sim.control.set_customer("5557101", Behaviour(answer_after=0.5, hangup_after=5.0))
            sim.control.set_customer("5557102", Behaviour(outcome="busy"))
            client = ami_client.AMIClient(
                "127.0.0.1", sim.ami_port, "dialer", "dialerpass", event_filters=EVENT_FILTERS, ping_interval=None
            )
            gateway = AsteriskPbxGateway(client, GatewayConfig())
            client.on_event(gateway.handle_event)
            await client.connect(timeout=5)
            try:
                for call_id, number in calls.items():
                    originate = [
                        ("Channel", f"Local/{number}@dialer-out"),
                        ("Context", "dialer-connect"),
                        ("Exten", "201"),
                        ("Priority", "1"),
                        ("Async", "true"),
                        ("ChannelId", call_id),
                        ("OtherChannelId", f"{call_id}-2"),
                        ("Variable", f"DIALER_CALL_ID={call_id}"),
                        ("Variable", "DIALER_MODE=connect"),
                    ]
                    await client.send_action(Action.build("Originate", originate))
                async with asyncio.timeout(10):
                    while len(sim.pbx.channels.live) or not sim.control.requests:
                        await asyncio.sleep(0.01)
                return await gateway.call_marks([*calls, "dlr-unknown"]), sim
            finally:
                await client.close()


@pytest.fixture
async def shipped() -> AsyncIterator[tuple[CallMarks, PBXSimulator]]:
    yield await run(snippet("asterisk"), {"mk-talked": "5557101", "mk-busy": "5557102"})


async def test_the_shipped_dialplan_marks_the_customers_and_the_employees_answer(
    shipped: tuple[CallMarks, PBXSimulator],
) -> None:
    marks, sim = shipped
    assert marks == CallMarks(customer=frozenset({"mk-talked"}), employee=frozenset({"mk-talked"}))
    assert sim.pbx.db["dialer-agent-answered"]["mk-talked"].isdigit()  # ${EPOCH}, written on the employee's channel


async def test_a_dialplan_from_before_the_employees_mark_reads_as_none_for_it() -> None:
    older = snippet("asterisk").replace(SUBROUTINE, "")
    assert "Set(DB(dialer-agent-answered" not in older
    marks, sim = await run(older, {"mk-old": "5557101"})
    assert marks == CallMarks(customer=frozenset({"mk-old"}), employee=None)
    assert "dialer-agent-answered" not in sim.pbx.db  # U() to a missing s extension: logged, the call bridged anyway
