"""AMI server behaviour over loopback TCP: login, errors, filters, list actions, Originate answers, Hangup."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodialer.simulator import Behaviour, PBXSimulator

from .harness import AMITestClient

ORIGINATE = [
    ("Channel", "Local/5551003@dialer-out"),
    ("Context", "load-connect"),
    ("Exten", "10"),
    ("Priority", "1"),
    ("CallerID", '"Dialer" <4930000000>'),
    ("Async", "true"),
    ("ChannelId", "c-1"),
]


async def test_banner_and_bad_login_closes(sim: PBXSimulator) -> None:
    c = AMITestClient()
    await c.connect(sim.ami_port)
    resp = await c.request("Login", [("Username", "dialer"), ("Secret", "wrong")])
    assert (resp.status, resp.message) == ("Error", "Authentication failed")
    await asyncio.wait_for(c.closed.wait(), 2)
    assert c.banner is not None and c.banner.version == "11.0.0"
    await c.close()


async def test_actions_need_login(sim: PBXSimulator) -> None:
    c = AMITestClient()
    await c.connect(sim.ami_port)
    resp = await c.request("CoreShowChannels")
    assert (resp.status, resp.message) == ("Error", "Permission denied")
    await c.close()


async def test_login_sends_fully_booted_and_successful_auth(ami: AMITestClient) -> None:
    await ami.wait_for(lambda: ami.named("SuccessfulAuth"))
    assert ami.named("FullyBooted")[0].get("Status") == "Fully Booted"
    assert ami.named("SuccessfulAuth")[0].get("AccountID") == "dialer"


async def test_unknown_action_exact_error_and_request_bad_format(ami: AMITestClient) -> None:
    resp = await ami.request("NoSuchAction")
    assert resp.message == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands."
    )
    await ami.wait_for(lambda: ami.named("RequestBadFormat"))
    assert ami.named("RequestBadFormat")[0].get("RequestType") == "Action: NoSuchAction"


async def test_ping_without_action_id_gets_response_without_one(ami: AMITestClient) -> None:
    ami.send("Ping", action_id="")
    await ami.wait_for(lambda: any(r.get("Ping") == "Pong" and r.action_id is None for r in ami.responses))


async def test_logoff_says_goodbye_and_closes(ami: AMITestClient) -> None:
    resp = await ami.request("Logoff")
    assert (resp.status, resp.message) == ("Goodbye", "Thanks for all the fish.")
    await asyncio.wait_for(ami.closed.wait(), 2)


async def test_exclude_filter_drops_only_that_event(sim: PBXSimulator) -> None:
    filtered, plain = AMITestClient(), AMITestClient()
    await filtered.login(sim.ami_port, ("!Event: Newexten",))
    await plain.login(sim.ami_port)
    await filtered.request("Originate", ORIGINATE)
    await filtered.wait_for(lambda: filtered.named("OriginateResponse"))
    await plain.wait_for(lambda: len(plain.named("Hangup")) == 3)
    await filtered.wait_for(lambda: len(filtered.named("Hangup")) == 3)
    assert not filtered.named("Newexten") and plain.named("Newexten")

    def calls(c: AMITestClient) -> list[str]:
        return [e.name for e in c.events if e.name not in ("FullyBooted", "SuccessfulAuth")]

    assert calls(filtered) == [n for n in calls(plain) if n != "Newexten"]
    await filtered.close()
    await plain.close()


async def test_an_event_no_session_takes_is_counted_and_not_built(sim: PBXSimulator) -> None:
    # The bus skips building an event whose name every session filters out (EventBus.wanted); the PBX still counts
    # it, and a regular-expression filter, which needs the text, still sees every event.
    filtered = AMITestClient()
    await filtered.login(sim.ami_port, ("!Event: Newexten", "!Event: VarSet"))
    before = sim.control.event_count
    await filtered.request("Originate", ORIGINATE)
    await filtered.wait_for(lambda: len(filtered.named("Hangup")) == 3)
    alone = sim.control.event_count - before
    assert not filtered.named("Newexten") and not filtered.named("VarSet")
    regex = AMITestClient()
    await regex.login(sim.ami_port, ("!Variable: DIAL.*",))
    before = sim.control.event_count
    await filtered.request("Originate", ORIGINATE)
    await regex.wait_for(lambda: len(regex.named("Hangup")) == 3)
    assert sim.control.event_count - before == alone
    varsets = [e.get("Variable") or "" for e in regex.named("VarSet")]
    assert varsets and not any(v.startswith("DIAL") for v in varsets)
    await filtered.close()
    await regex.close()


async def test_include_filter_passes_only_matching_events(sim: PBXSimulator) -> None:
    c = AMITestClient()
    await c.login(sim.ami_port, ("Event: Hangup",))
    await c.request("Originate", ORIGINATE)
    await c.wait_for(lambda: len(c.named("Hangup")) == 3)
    assert {e.name for e in c.events} - {"FullyBooted", "SuccessfulAuth"} == {"Hangup"}
    await c.close()


async def test_originate_validation_and_sync_answers(ami: AMITestClient, sim: PBXSimulator) -> None:
    bad = await ami.request(
        "Originate",
        [
            ("Channel", "Local/1@load"),
            ("Context", "load-connect"),
            ("Exten", "1"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
    )
    assert (bad.status, bad.message) == ("Error", "Extension does not exist.")
    sim.control.set_customer("5551486", Behaviour(outcome="busy", ring=False))
    busy = await ami.request("Originate", [("Channel", "PJSIP/5551486@trunk"), ("Application", "Wait"), ("Data", "1")])
    assert (busy.status, busy.message) == ("Error", "Originate failed")
    await ami.wait_for(lambda: ami.named("Hangup"))
    assert ami.log.index(busy) < ami.log.index(ami.named("Hangup")[0])  # the answer precedes the Hangup
    ok = await ami.request("Originate", [("Channel", "PJSIP/5551003@trunk"), ("Application", "Wait"), ("Data", "1")])
    assert (ok.status, ok.message) == ("Success", "Originate successfully queued")
    assert not ami.named("OriginateResponse")  # only Async originates report by event
    assert [r["channel"] for r in sim.control.requests] == [
        "Local/1@load",
        "PJSIP/5551486@trunk",
        "PJSIP/5551003@trunk",
    ]


async def test_hangup_action_ends_a_live_call_with_the_cause(ami: AMITestClient, sim: PBXSimulator) -> None:
    await ami.request(
        "Originate",
        [
            ("Channel", "PJSIP/5551003@trunk"),
            ("Application", "Wait"),
            ("Data", "600"),
            ("Async", "true"),
            ("ChannelId", "live-1"),
        ],
    )
    await ami.wait_for(lambda: ami.named("OriginateResponse"))
    name = ami.named("OriginateResponse")[0].get("Channel") or ""
    assert name.startswith("PJSIP/trunk-")
    resp = await ami.request("Hangup", [("Channel", name), ("Cause", "21")])
    assert resp.message == "Channel Hungup"
    await ami.wait_for(lambda: ami.named("Hangup"))
    assert ami.named("Hangup")[0].get("Cause") == "21"
    assert (await ami.request("Hangup", [("Channel", name)])).message == "No such channel"


async def test_list_actions_and_db(ami: AMITestClient) -> None:
    await ami.request("DBPut", [("Family", "dialer"), ("Key", "campaign/42/state"), ("Val", "running")])
    ami.send("DBGetTree", [("Family", "dialer")], action_id="tree")
    await ami.wait_for(lambda: any(e.name == "DBGetTreeComplete" for e in ami.events))
    items = [e for e in ami.events if e.action_id == "tree" and e.name == "DBGetTreeResponse"]
    assert [(e.get("Key"), e.get("Val")) for e in items] == [("/dialer/campaign/42/state", "running")]
    missing = await ami.request("DBGet", [("Family", "dialer"), ("Key", "nope")])
    assert (missing.status, missing.message) == ("Error", "Database entry not found")
    ami.send("ExtensionStateList", action_id="ext")
    await ami.wait_for(lambda: any(e.name == "ExtensionStateListComplete" for e in ami.events))
    assert [e.get("Exten") for e in ami.events if e.name == "ExtensionStatus" and e.action_id == "ext"] == [
        "202",
        "201",
    ]
    settings = await ami.request("CoreSettings")
    assert settings.get("AsteriskVersion") == "22.10.1"


async def test_getvar_setvar_and_user_event(ami: AMITestClient) -> None:
    assert (await ami.request("Setvar", [("Variable", "G"), ("Value", "1")])).message == "Variable Set"
    assert (await ami.request("Getvar", [("Variable", "G")])).get("Value") == "1"
    await ami.request("UserEvent", [("UserEvent", "Ping"), ("Foo", "bar")])
    await ami.wait_for(lambda: ami.named("UserEvent"))
    assert (ami.named("UserEvent")[0].get("UserEvent"), ami.named("UserEvent")[0].get("Foo")) == ("Ping", "bar")


async def test_originate_rate_caps_throughput() -> None:
    import time

    from autodialer.simulator import SimulatorConfig

    sim = PBXSimulator(SimulatorConfig(ami_port=0, originate_rate=500))  # real time: 2 ms per originate
    await sim.start()
    c = AMITestClient()
    try:
        await c.login(sim.ami_port, ("Event: OriginateResponse",))
        t0 = time.perf_counter()
        for i in range(40):
            c.send(
                "Originate",
                [
                    ("Channel", f"Local/{100 + i}@load"),
                    ("Context", "load-connect"),
                    ("Exten", "10"),
                    ("Priority", "1"),
                    ("Async", "true"),
                ],
            )
        await c.wait_for(lambda: len(c.named("OriginateResponse")) == 40, 5)
        assert time.perf_counter() - t0 >= 39 / 500
    finally:
        await c.close()
        await sim.stop()


async def test_action_without_name_and_list_commands(ami: AMITestClient) -> None:
    from autodialer.protocols.ami import Action

    ami.writer.write(ami.conn.send(Action((("ActionID", "no-name"),))))
    await ami.wait_for(lambda: any(r.action_id == "no-name" for r in ami.responses))
    assert next(r for r in ami.responses if r.action_id == "no-name").message == "Missing action in request"
    commands = await ami.request("ListCommands")
    assert commands.get("Originate") == "Originate" and commands.get("DBGetTree") == "DBGetTree"


async def test_client_that_stops_reading_is_dropped(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.ami.max_backlog = 1  # any unsent byte counts as "not reading"
    ami.stop_reading()
    for _ in range(20000):  # 20 MB: more than the kernel buffers of a loopback socket hold
        sim.pbx.emit("UserEvent", [("UserEvent", "Flood"), ("Pad", "x" * 1000)])
    await asyncio.sleep(0.05)
    assert not sim.ami.sessions


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300))
async def test_garbage_never_kills_the_server(sim: PBXSimulator, garbage: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.ami_port)
    assert await asyncio.wait_for(reader.readline(), 2) == b"Asterisk Call Manager/11.0.0\r\n"
    writer.write(garbage + b"\r\n\r\n")
    writer.close()
    c = AMITestClient()
    await c.login(sim.ami_port)  # the next client is served as usual
    assert (await c.request("Ping")).get("Ping") == "Pong"
    await c.close()


async def test_show_dial_plan_lists_priorities_as_asterisk_does(ami: AMITestClient) -> None:
    listing = await ami.request("ShowDialPlan", [("Context", "internal")])
    assert (listing.status, listing.get("EventList"), listing.message) == (
        "Success",
        "start",
        "DialPlan list will follow",
    )
    await ami.wait_for(lambda: any(e.name == "ShowDialPlanComplete" for e in ami.events))
    lines = [e for e in ami.events if e.name == "ListDialplan" and e.action_id == listing.action_id]
    assert {e.get("Context") for e in lines} == {"internal"}
    queue = [(e.get("Priority"), e.get("Application"), e.get("AppData")) for e in lines if e.get("Extension") == "2200"]
    assert queue == [("1", "NoOp", "queue 2200"), ("2", "Queue", "2200,,,,30"), ("3", "Hangup", "")]
    hint = next(e for e in lines if e.get("Extension") == "201" and e.get("Priority") == "hint")
    assert (hint.get("Application"), hint.get("AppData"), hint.get("Registrar")) == ("PJSIP/201", None, "pbx_config")
    (done,) = [e for e in ami.events if e.name == "ShowDialPlanComplete"]
    assert (done.get("EventList"), done.get("ListItems"), done.get("ListContexts")) == (
        "Complete",
        str(len(lines)),
        "1",
    )
    assert done.get("ListExtensions") == str(len({e.get("Extension") for e in lines}))
    one = await ami.request("ShowDialPlan", [("Context", "dialer-out"), ("Extension", "5551003")])
    assert one.status == "Success"
    await ami.wait_for(
        lambda: any(e.name == "ShowDialPlanComplete" and e.action_id == one.action_id for e in ami.events)
    )
    found = {e.get("Extension") for e in ami.events if e.name == "ListDialplan" and e.action_id == one.action_id}
    assert found == {"_555XXXX"}
    missing = await ami.request("ShowDialPlan", [("Context", "nowhere")])
    assert (missing.status, missing.message) == ("Error", "Did not find context nowhere")
    no_exten = await ami.request("ShowDialPlan", [("Context", "internal"), ("Extension", "999")])
    assert (no_exten.status, no_exten.message) == ("Error", "Did not find extension 999@internal")
