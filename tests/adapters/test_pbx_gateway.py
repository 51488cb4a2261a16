"""AsteriskPbxGateway over loopback TCP against a small fake Asterisk built on the AMI server role.

The gateway runs on the real AMIClient. The fake answers Originate like Asterisk 22 does and then replays the
recorded events of a trace call with the ids rewritten to the new call id, so the gateway sees real event
sequences. It records every action it received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.ami_client import AMIClient
from autodialer.adapters.asterisk.pbx_gateway import (
    AsteriskPbxGateway,
    GatewayConfig,
    originate_action,
    refusal_is_about_the_call,
)
from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerOutcome,
)
from autodialer.protocols.ami import (
    Action,
    AMIConnection,
    Banner,
    Event,
    ListResult,
    Response,
    Role,
)
from autodialer.services.ports import OriginateRejected, OriginateRequest, OriginateUnconfirmed, PbxUnavailable

# Dial number -> (trace, the call id recorded in it): the fake PBX replays that call.
SCRIPTS = {
    "5551486": ("03", "dlr-72fc7bd0783c"),
    "5551001": ("02-originate-answer-bridge-customer-hangup", "dlr-68c70912c8de"),
    "5551999": ("04", "dlr-2bc08d14894c"),
    "7770000": ("05", "dlr-19fa02bbd645"),  # no route in the outgoing context: the Local pair clears with cause 0
    "5550404": ("05", "dlr-badendpoint"),  # the channel request itself failed: a Failure and no channel at all
}
GRACE_S = 0.2


def _rewrite(event: Event, old: str, new: str) -> Event:
    return Event(tuple((k, v.replace(old, new)) for k, v in event.fields))


def _script(dial: str, call_id: str, action_id: str | None) -> list[Event]:
    trace, old = SCRIPTS[dial]
    out = []
    for item in trace_events(trace):
        if not isinstance(item, Event) or old not in " ".join(v for _, v in item.fields):
            continue
        event = _rewrite(item, old, call_id)
        if event.name == "OriginateResponse":
            event = Event(tuple((k, action_id or "") if k == "ActionID" else (k, v) for k, v in event.fields))
        out.append(event)
    return out


@dataclass
class FakeAsterisk:
    """Answers like Asterisk 22; ``channels`` is what CoreShowChannels lists, ``variables`` what Getvar returns."""

    received: list[Action] = field(default_factory=list)
    channels: list[Event] = field(default_factory=list)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    hold_events: bool = False  # keep the scripted events until release() (to test hangup before any channel)
    response_first: bool = False  # OriginateResponse before the call's channel events (it does not go via stasis)
    held: list[Event] = field(default_factory=list)
    writer: asyncio.StreamWriter | None = None
    conn: AMIConnection | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = AMIConnection(Role.SERVER)
        self.writer, self.conn = writer, conn
        writer.write(conn.send(Banner("11.0.0")))
        while data := await reader.read(65536):
            conn.receive_data(data)
            for action in conn.events():
                if isinstance(action, Action):
                    self.received.append(action)
                    for reply in self._answer(action):
                        writer.write(conn.send(reply))
            await writer.drain()
        writer.close()

    def release(self) -> None:
        assert self.writer is not None and self.conn is not None
        for event in self.held:
            self.writer.write(self.conn.send(event))
        self.held.clear()

    def _answer(self, action: Action) -> list[Response | Event | ListResult]:
        aid = action.action_id
        if action.name == "Login":  # Asterisk follows the accepted login with FullyBooted (README §6)
            accepted = Response.build("Success", [("Message", "Authentication accepted")], action_id=aid)
            return [accepted, Event.build("FullyBooted", [("Status", "Fully Booted")])]
        if action.name == "Originate":
            if action.get("Exten") == "999":
                return [Response.build("Error", [("Message", "Extension does not exist.")], action_id=aid)]
            queued = Response.build("Success", [("Message", "Originate successfully queued")], action_id=aid)
            dial = (action.get("Channel") or "").removeprefix("Local/").split("@")[0]
            script = _script(dial, action.get("ChannelId") or "", aid)
            if self.response_first:
                script.sort(key=lambda e: e.name != "OriginateResponse")
            if self.hold_events:
                self.held.extend(script)
                return [queued]
            return [queued, *script]
        if action.name == "CoreShowChannels":
            start = Response.build("Success", [("EventList", "start")], action_id=aid)
            items = tuple(Event.build("CoreShowChannel", c.fields[1:], action_id=aid) for c in self.channels)
            done = Event.build("CoreShowChannelsComplete", [("EventList", "Complete")], action_id=aid)
            return [ListResult(start, items, done)]
        if action.name == "Getvar":
            value = self.variables.get((action.get("Channel") or "", action.get("Variable") or ""))
            if value is None and not any(c.get("Channel") == action.get("Channel") for c in self.channels):
                return [Response.build("Error", [("Message", "No such channel")], action_id=aid)]
            return [
                Response.build(
                    "Success", [("Variable", action.get("Variable") or ""), ("Value", value or "")], action_id=aid
                )
            ]
        return [Response.build("Success", [("Message", "Success")], action_id=aid)]


@dataclass
class Rig:
    pbx: FakeAsterisk
    gateway: AsteriskPbxGateway
    client: AMIClient
    events: list[CallEvent]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.events) < count:
                await asyncio.sleep(0.001)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    pbx = FakeAsterisk()
    server = await asyncio.start_server(pbx.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AMIClient("127.0.0.1", port, "dialer", "dialerpass", event_filters=(), ping_interval=None)
    gateway = AsteriskPbxGateway(client, GatewayConfig(failure_channel_grace_s=GRACE_S))
    client.on_event(gateway.handle_event)
    events: list[CallEvent] = []
    gateway.on_call_event(events.append)
    await client.connect(timeout=5)
    yield Rig(pbx, gateway, client, events)
    await client.close()
    server.close()
    await server.wait_closed()


def _request(call_id: str, dial: str, inner: str = "201", **kw: object) -> OriginateRequest:
    fields: dict[str, object] = {"timeout_s": 30, "caller_id": '"Dialer" <4930000000>', "mode": "connect"}
    fields.update(kw)
    return OriginateRequest(call_id=call_id, dial_number=dial, inner_num=inner, **fields)  # type: ignore[arg-type]


async def test_originate_sends_the_documented_action_and_reports_busy(rig: Rig) -> None:
    await rig.gateway.originate(_request("c-busy", "5551486", variables={"CAMPAIGN_ID": "42"}))
    await rig.wait_for(1)
    assert rig.events == [CustomerFailed("c-busy", CustomerOutcome.BUSY, 17, "User busy", "BUSY")]
    (sent,) = [a for a in rig.pbx.received if a.name == "Originate"]
    assert sent.get("Channel") == "Local/5551486@dialer-out"
    assert (sent.get("Context"), sent.get("Exten"), sent.get("Priority")) == ("dialer-connect", "201", "1")
    assert (sent.get("Async"), sent.get("ChannelId"), sent.get("OtherChannelId")) == ("true", "c-busy", "c-busy-2")
    assert sent.get("Timeout") == "30000"
    assert sent.get("CallerID") == '"Dialer" <4930000000>'
    assert sent.get_all("Variable") == ["DIALER_MODE=connect", "DIALER_CALL_ID=c-busy", "CAMPAIGN_ID=42"]


async def test_answered_call_reports_answer_then_end(rig: Rig) -> None:
    await rig.gateway.originate(_request("c-ok", "5551001", mode="poll"))
    await rig.wait_for(4)
    assert isinstance(rig.events[1], CustomerAnswered)
    assert rig.events[1].channel == "Local/5551001@dialer-out-000007d0;1"
    assert rig.events[2:] == [AgentConnected("c-ok"), CallEnded("c-ok", 16, "Normal Clearing")]


async def test_error_response_is_a_rejection_and_nothing_is_tracked(rig: Rig) -> None:
    with pytest.raises(OriginateRejected, match=r"Extension does not exist\."):
        await rig.gateway.originate(_request("c-bad", "5551486", inner="999"))
    assert rig.events == []


async def test_link_down_is_the_pbx_unavailable_not_a_refusal_of_the_number(rig: Rig) -> None:
    await rig.client.close()
    with pytest.raises(PbxUnavailable, match="pbx-not-connected"):
        await rig.gateway.originate(_request("c-down", "5551486"))


@pytest.mark.parametrize(
    ("message", "about_the_call"),
    [
        ("Extension does not exist.", True),
        ("Invalid channel", True),
        ("Asterisk is shutting down", False),  # manager.c process_message during core stop/restart
        ("Permission denied", False),  # not logged in, or the user lacks write class originate
        ("Originate failed", False),  # no thread could be started
        ("Something a later Asterisk says", False),
    ],
)
def test_refusals_are_about_the_call_only_when_action_originate_says_so(message: str, about_the_call: bool) -> None:
    assert refusal_is_about_the_call(message) is about_the_call


async def test_shutting_down_refusal_is_pbx_unavailable_and_nothing_is_tracked() -> None:
    link = RefusingLink("Asterisk is shutting down")
    gateway = AsteriskPbxGateway(link)
    events: list[CallEvent] = []
    gateway.on_call_event(events.append)
    with pytest.raises(PbxUnavailable, match="shutting down"):
        await gateway.originate(_request("c-shut", "5551001"))
    for event in _script("5551001", "c-shut", None)[:3]:
        gateway.handle_event(event)
    assert events == []


@pytest.mark.parametrize(
    "change",
    [
        {"dial_number": "5551486@other-context"},
        {"dial_number": "555\r\nAction: Hangup"},
        {"inner_num": "201,1"},
        {"call_id": "c 1"},
        {"call_id": "x" * 148},
        {"caller_id": "Dialer\r\nAction: Command"},
        {"variables": {"BAD NAME": "1"}},
        {"variables": {"OK": "line\nbreak"}},
        {"mode": "shout"},
        {"timeout_s": 0},
    ],
)
async def test_unsafe_fields_are_refused_before_anything_is_sent(rig: Rig, change: dict[str, object]) -> None:
    base: dict[str, object] = {"call_id": "c-1", "dial_number": "5551486", "inner_num": "201"}
    base.update(change)
    request = _request(str(base.pop("call_id")), str(base.pop("dial_number")), str(base.pop("inner_num")), **base)
    with pytest.raises(OriginateRejected, match="invalid-request"):
        await rig.gateway.originate(request)
    assert not any(a.name == "Originate" for a in rig.pbx.received)


def test_call_id_of_147_characters_fits_the_uniqueid_limit() -> None:
    action = originate_action(_request("x" * 147, "5551486"), GatewayConfig())
    assert len(action.get("OtherChannelId") or "") == 149


async def test_hangup_before_any_channel_hangs_up_each_channel_as_it_appears(rig: Rig) -> None:
    rig.pbx.hold_events = True
    await rig.gateway.originate(_request("c-ring", "5551999"))
    await rig.gateway.hangup("c-ring", cause=16)
    rig.pbx.release()
    await rig.wait_for(2)

    def hung() -> list[tuple[str | None, str | None]]:
        return [(a.get("Channel"), a.get("Cause")) for a in rig.pbx.received if a.name == "Hangup"]

    async with asyncio.timeout(5):
        while len(hung()) < 2:  # the spawned Hangup actions are still on their way to the fake
            await asyncio.sleep(0.001)
    assert ("Local/5551999@dialer-out-000007d2;1", "16") in hung()
    assert ("Local/5551999@dialer-out-000007d2;2", "16") in hung()


async def test_hangup_of_a_live_call_names_its_channels(rig: Rig) -> None:
    rig.pbx.channels = [
        Event.build(
            "CoreShowChannel", [("Channel", "Local/1@dialer-out-0000000a;1"), ("Uniqueid", "c-9"), ("Linkedid", "c-9")]
        ),
        Event.build(
            "CoreShowChannel", [("Channel", "PJSIP/trunk-00000001"), ("Uniqueid", "17.1"), ("Linkedid", "c-9")]
        ),
        Event.build(
            "CoreShowChannel", [("Channel", "PJSIP/201-00000002"), ("Uniqueid", "17.2"), ("Linkedid", "other")]
        ),
    ]
    await rig.gateway.hangup("c-9", cause=21)
    hung = [(a.get("Channel"), a.get("Cause")) for a in rig.pbx.received if a.name == "Hangup"]
    assert hung == [("Local/1@dialer-out-0000000a;1", "21"), ("PJSIP/trunk-00000001", "21")]
    await rig.gateway.hangup("unknown-call")
    assert len([a for a in rig.pbx.received if a.name == "Hangup"]) == 2


async def test_live_calls_keep_only_channels_carrying_our_call_id(rig: Rig) -> None:
    def chan(name: str, uid: str, linked: str, state: str) -> Event:
        fields = [("Channel", name), ("Uniqueid", uid), ("Linkedid", linked), ("ChannelStateDesc", state)]
        return Event.build("CoreShowChannel", fields)

    rig.pbx.channels = [
        chan("PJSIP/trunk-00000003", "17.3", "c-live", "Up"),
        chan("Local/5551001@dialer-out-00000001;1", "c-live", "c-live", "Up"),
        chan("PJSIP/202-00000004", "17.4", "17.4", "Up"),  # somebody else's call
    ]
    rig.pbx.variables = {
        ("Local/5551001@dialer-out-00000001;1", "DIALER_CALL_ID"): "c-live",
        ("Local/5551001@dialer-out-00000001;1", "DIALER_MODE"): "poll",
    }
    calls = await rig.gateway.live_calls()
    asked = {a.get("Channel") for a in rig.pbx.received if a.name == "Getvar"}
    assert asked == {"Local/5551001@dialer-out-00000001;1", "PJSIP/202-00000004"}  # never the trunk leg
    assert [(c.call_id, c.channel, c.state, dict(c.variables)) for c in calls] == [
        ("c-live", "Local/5551001@dialer-out-00000001;1", "Up", {"DIALER_CALL_ID": "c-live", "DIALER_MODE": "poll"})
    ]
    # The adopted call ends with CallEnded once its channels hang up.
    for uid, name in (("c-live", "Local/5551001@dialer-out-00000001;1"), ("17.3", "PJSIP/trunk-00000003")):
        fields = [
            ("Channel", name),
            ("Uniqueid", uid),
            ("Linkedid", "c-live"),
            ("Cause", "16"),
            ("Cause-txt", "Normal Clearing"),
        ]
        rig.gateway.handle_event(Event.build("Hangup", fields))
    assert rig.events == [CallEnded("c-live", 16, "Normal Clearing")]


async def test_live_calls_know_our_own_calls_without_asking_and_forget_calls_ended_unseen(rig: Rig) -> None:
    rig.pbx.hold_events = True  # the call's events never reach us, as if the link had been down
    await rig.gateway.originate(_request("c-own", "5551001", mode="poll", variables={"CAMPAIGN_ID": "7"}))
    rig.gateway.handle_event(
        Event.build(
            "Newchannel",
            [("Channel", "Local/5551001@dialer-out-00000009;1"), ("Uniqueid", "c-own"), ("Linkedid", "c-own")],
        )
    )
    rig.pbx.channels = [
        Event.build(
            "CoreShowChannel",
            [
                ("Channel", "Local/5551001@dialer-out-00000009;1"),
                ("Uniqueid", "c-own"),
                ("Linkedid", "c-own"),
                ("ChannelStateDesc", "Up"),
            ],
        )
    ]
    (call,) = await rig.gateway.live_calls()
    assert (call.call_id, call.state, dict(call.variables)) == (
        "c-own",
        "Up",
        {"DIALER_CALL_ID": "c-own", "DIALER_MODE": "poll"},
    )
    assert not any(a.name == "Getvar" for a in rig.pbx.received)

    # The call hangs up while we do not see it: after two listings without it, it is no longer tracked.
    rig.pbx.channels = []
    assert await rig.gateway.live_calls() == []
    rig.pbx.received.clear()
    await rig.gateway.hangup("c-own")  # still tracked: its last known channel is hung up by name
    assert [(a.name, a.get("Channel")) for a in rig.pbx.received] == [("Hangup", "Local/5551001@dialer-out-00000009;1")]
    assert await rig.gateway.live_calls() == []
    rig.pbx.received.clear()
    await rig.gateway.hangup("c-own")  # forgotten: looked up on the PBX, nothing to hang up
    assert [a.name for a in rig.pbx.received] == ["CoreShowChannels"]


class DroppingLink:
    """An AMILink whose Originate is lost with the connection; records the other actions."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.sent: list[Action] = []

    def is_connected(self) -> bool:
        return True

    async def send_action(self, action: Action) -> Response:
        if action.name == "Originate":
            raise self.error
        self.sent.append(action)
        return Response.build("Success", action_id=action.action_id)

    async def send_list_action(self, action: Action) -> ListResult:
        raise AssertionError("not used here")


class RefusingLink(DroppingLink):
    """An AMILink that answers every Originate with ``Response: Error`` and ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(ConnectionError("unused"))
        self.message = message

    async def send_action(self, action: Action) -> Response:
        if action.name == "Originate":
            return Response.build("Error", [("Message", self.message)], action_id=action.action_id)
        return await super().send_action(action)


@pytest.mark.parametrize(
    ("error", "reason"), [(ConnectionError("lost"), "pbx-link-lost"), (TimeoutError(), "pbx-timeout")]
)
async def test_an_originate_lost_in_flight_is_unconfirmed_and_still_heard_if_the_pbx_runs_it(
    error: Exception, reason: str
) -> None:
    link = DroppingLink(error)
    gateway = AsteriskPbxGateway(link)
    events: list[CallEvent] = []
    gateway.on_call_event(events.append)
    with pytest.raises(OriginateUnconfirmed, match=reason):
        await gateway.originate(_request("c-lost", "5551001"))
    for event in _script("5551001", "c-lost", None):  # Asterisk had queued it after all
        gateway.handle_event(event)
    await asyncio.sleep(0)
    assert link.sent == []  # nothing hung up: the engine adopts or settles it
    assert events and all(e.call_id == "c-lost" for e in events)


class _SilentLink:
    """An AMI link that is up but never answers (Asterisk frozen: trace 09's SIGSTOP)."""

    def is_connected(self) -> bool:
        return True

    async def send_action(self, action: Action) -> Response:
        raise TimeoutError("no answer")

    async def send_list_action(self, action: Action) -> ListResult:
        raise TimeoutError("no answer")


async def test_live_calls_report_an_unanswered_listing_as_a_connection_error() -> None:
    gateway = AsteriskPbxGateway(_SilentLink(), GatewayConfig())
    with pytest.raises(ConnectionError):
        await gateway.live_calls()


async def test_a_failure_ahead_of_its_channels_is_decided_by_them_without_waiting_for_the_grace(rig: Rig) -> None:
    rig.pbx.response_first = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.gateway.originate(_request("c-route", "7770000"))
    await rig.wait_for(1)
    assert rig.events == [CustomerFailed("c-route", CustomerOutcome.NO_ROUTE, 0, "Unknown", None)]
    assert loop.time() - started < GRACE_S  # the channels decided it, not the timer
    await asyncio.sleep(GRACE_S * 1.5)
    assert len(rig.events) == 1  # and the cancelled timer reports nothing more


async def test_a_failure_whose_channels_never_come_is_reported_after_the_grace(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.gateway.originate(_request("c-nochan", "5550404"))
    await rig.wait_for(1)
    assert rig.events == [CustomerFailed("c-nochan", CustomerOutcome.PROVIDER_UNAVAILABLE, None, "", None)]
    assert loop.time() - started >= GRACE_S * 0.9
