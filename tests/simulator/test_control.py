"""The control API: behaviours, DND the MikoPBX way, queue pauses, AMI drops, channel list, HTTP endpoint."""

from __future__ import annotations

import asyncio
import json

from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig

from .conftest import FAST
from .harness import AMITestClient

WAIT_201 = [("Channel", "PJSIP/201"), ("Application", "Wait"), ("Data", "1")]


async def test_dnd_sets_astdb_sends_user_event_and_rejects_calls(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.set_dnd("201", True)
    await ami.wait_for(lambda: ami.named("UserEvent"))
    ev = ami.named("UserEvent")[0]
    assert (ev.get("UserEvent"), ev.get("key"), ev.get("val")) == ("DB_UserBuddyStatus", "201", "1")
    ami.send("DBGetTree", [("Family", "UserBuddyStatus")], action_id="dnd")
    await ami.wait_for(lambda: any(e.name == "DBGetTreeComplete" for e in ami.events))
    assert [(e.get("Key"), e.get("Val")) for e in ami.named("DBGetTreeResponse")] == [("/UserBuddyStatus/201", "1")]
    assert (await ami.request("Originate", WAIT_201)).message == "Originate failed"
    assert ami.named("Hangup")[-1].get("Cause") == "17"
    sim.control.set_dnd("201", False)
    assert (await ami.request("Originate", WAIT_201)).message == "Originate successfully queued"


async def test_pause_member_is_reported_and_skipped_by_the_queue(ami: AMITestClient, sim: PBXSimulator) -> None:
    assert sim.control.pause_member("PJSIP/201", True, reason="lunch")
    await ami.wait_for(lambda: ami.named("QueueMemberPause"))
    assert ami.named("QueueMemberPause")[0].get("PausedReason") == "lunch"
    sim.control.set_employee("202", Behaviour(answer_after=0.5))
    await ami.request(
        "Originate",
        [
            ("Channel", "Local/5551003@dialer-out"),
            ("Context", "internal"),
            ("Exten", "2200"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
    )
    await ami.wait_for(lambda: ami.named("AgentConnect"), 5)
    assert [e.get("Interface") for e in ami.named("AgentCalled")] == ["PJSIP/202"]
    assert ami.named("AgentConnect")[0].get("MemberName") == "Employee 202"


async def test_graceful_drop_sends_shutdown_then_eof(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.drop_ami_connections(graceful=True)
    await asyncio.wait_for(ami.closed.wait(), 2)
    shutdown = ami.named("Shutdown")
    assert [(e.get("Shutdown"), e.get("Restart")) for e in shutdown] == [("Cleanly", "True")]
    again = AMITestClient()
    await again.login(sim.ami_port)  # the "restarted" PBX accepts new logins
    await again.close()


async def test_abrupt_drop_is_eof_without_shutdown(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.drop_ami_connections(graceful=False)
    await asyncio.wait_for(ami.closed.wait(), 2)
    assert not ami.named("Shutdown")


async def test_channels_and_requests_are_listed(ami: AMITestClient, sim: PBXSimulator) -> None:
    await ami.request(
        "Originate",
        [
            ("Channel", "PJSIP/5551003@trunk"),
            ("Application", "Wait"),
            ("Data", "600"),
            ("Async", "true"),
            ("ChannelId", "held"),
            ("Variable", "A=1"),
        ],
    )
    await ami.wait_for(lambda: ami.named("OriginateResponse"))
    chans = sim.control.channels()
    assert [(c["uniqueid"], c["state_desc"]) for c in chans] == [("held", "Up")]
    ami.send("CoreShowChannels", action_id="show")
    await ami.wait_for(lambda: any(e.name == "CoreShowChannelsComplete" for e in ami.events))
    (shown,) = ami.named("CoreShowChannel")
    assert (shown.get("Uniqueid"), shown.get("Application"), shown.get("ListItems")) == ("held", "Wait", None)
    assert sim.control.requests[0]["variables"] == {"A": "1"}
    assert sim.control.hangup(chans[0]["channel"])
    await ami.wait_for(lambda: ami.named("Hangup"))
    assert sim.control.channels() == []


async def _http(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body or {}).encode()
    writer.write(f"{method} {path} HTTP/1.0\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


async def test_http_control_endpoint() -> None:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, control_http_port=0))
    await sim.start()
    try:
        assert sim.http_port is not None
        assert await _http(sim.http_port, "POST", "/scenario", {"customers": {"5550000": {"outcome": "busy"}}}) == (
            200,
            {"ok": True},
        )
        assert sim.pbx.scenario.customer("5550000").outcome == "busy"
        assert await _http(sim.http_port, "POST", "/dnd", {"exten": "202"}) == (200, {"ok": True})
        assert sim.pbx.db["UserBuddyStatus"] == {"202": "1"}
        assert await _http(sim.http_port, "GET", "/channels") == (200, [])
        assert (await _http(sim.http_port, "GET", "/nope"))[0] == 404
        assert (await _http(sim.http_port, "POST", "/dnd", {}))[0] == 400
    finally:
        await sim.stop()


async def test_unreachable_phone_is_unavailable_and_cannot_be_dialled(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.set_reachable("202", False)
    await ami.wait_for(lambda: ami.named("QueueMemberStatus"))
    assert [(e.get("Peer"), e.get("PeerStatus")) for e in ami.named("PeerStatus")] == [("PJSIP/202", "Unreachable")]
    assert [e.get("State") for e in ami.named("DeviceStateChange")] == ["UNAVAILABLE"]
    assert [(e.get("Exten"), e.get("Status")) for e in ami.named("ExtensionStatus")] == [("202", "4")]
    assert ami.named("QueueMemberStatus")[0].get("Status") == "5"
    failed = await ami.request("Originate", [("Channel", "PJSIP/202"), ("Application", "Wait"), ("Data", "1")])
    assert failed.message == "Originate failed"
    sim.control.set_reachable("202", True)
    await ami.wait_for(lambda: len(ami.named("PeerStatus")) == 2)
    await ami.wait_for(lambda: ami.named("DeviceStateChange")[-1].get("State") == "NOT_INUSE")
