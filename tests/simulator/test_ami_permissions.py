"""manager.conf rights over loopback TCP, as Asterisk 22's manager.c applies them.

process_message runs an action only when the user's write classes intersect the authority it was registered with
(or that is 0), else ``Response: Error`` / ``Message: Permission denied`` with the ActionID and a RequestNotAllowed
security event; an event reaches a session only when its class is among the user's read classes
(``(readperm & category) == category``); "all" grants every class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from autodialer.simulator import PBXSimulator, SimulatorConfig
from autodialer.simulator.events import MANAGER_CLASSES, manager_classes

from .conftest import FAST
from .harness import AMITestClient


@asynccontextmanager
async def logged_in(read: str, write: str) -> AsyncIterator[tuple[PBXSimulator, AMITestClient]]:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, read_classes=read, write_classes=write))
    await sim.start()
    client = AMITestClient()
    try:
        await client.login(sim.ami_port)
        yield sim, client
    finally:
        await client.close()
        await sim.stop()


async def test_an_action_outside_the_write_classes_is_denied_with_its_action_id_and_not_run() -> None:
    async with logged_in("all", "originate,call,reporting,user") as (sim, ami):
        aid = ami.send("DBPut", [("Family", "fam"), ("Key", "k"), ("Val", "v")])  # db.c: EVENT_FLAG_SYSTEM
        await ami.wait_for(lambda: any(r.action_id == aid for r in ami.responses))
        (resp,) = [r for r in ami.responses if r.action_id == aid]
        assert (resp.status, resp.message) == ("Error", "Permission denied")
        assert sim.pbx.db.get("fam", {}) == {}
        filt = await ami.request("Filter", [("Operation", "Add"), ("Filter", "!Event: VarSet")])
        assert (filt.status, filt.message) == ("Error", "Permission denied")
        await ami.wait_for(lambda: len(ami.named("RequestNotAllowed")) == 2)
        first = ami.named("RequestNotAllowed")[0]
        assert first.get("RequestType") == "Action: DBPut"
        assert first.get("AccountID") == "dialer"
        assert first.get("Privilege") == "security,all"
        # Like RequestBadFormat (trace 01), the security event comes after the reply.
        assert ami.log.index(resp) < ami.log.index(first)


async def test_any_one_of_the_registered_classes_allows_an_action() -> None:
    # CoreShowChannels is registered with system|reporting, Getvar with call|reporting, Hangup with system|call.
    async with logged_in("all", "reporting") as (_sim, ami):
        assert (await ami.request("CoreShowChannels")).status == "Success"
        assert (await ami.request("Getvar", [("Variable", "NOPE")])).status == "Success"
        assert (await ami.request("Hangup", [("Channel", "PJSIP/201-x")])).message == "Permission denied"
    async with logged_in("all", "call") as (_sim, ami):
        assert (await ami.request("Getvar", [("Variable", "NOPE")])).status == "Success"
        assert (await ami.request("Hangup", [("Channel", "PJSIP/201-x")])).message == "No such channel"
        assert (await ami.request("CoreShowChannels")).message == "Permission denied"


async def test_actions_registered_with_authority_zero_need_no_class() -> None:
    async with logged_in("", "") as (_sim, ami):
        assert (await ami.request("Ping")).get("Ping") == "Pong"
        assert (await ami.request("QueueStatus")).status == "Success"  # app_queue.c registers it with 0
        assert (await ami.request("UserEvent", [("UserEvent", "X")])).message == "Permission denied"
        commands = await ami.request("ListCommands")  # lists only what the user may send
        names = {k for k, _ in commands.fields}
        assert {"Ping", "QueueStatus", "Login"} <= names
        assert not {"Originate", "UserEvent", "Filter"} & names


async def test_events_reach_a_session_only_within_its_read_classes() -> None:
    async with logged_in("user", "originate,user") as (sim, users_only):
        calls_only = AMITestClient()
        sim.config.read_classes = "call"  # read at Login, as manager.c copies the user's classes to the session
        await calls_only.login(sim.ami_port)
        try:
            for ami in (users_only, calls_only):
                assert (await ami.request("UserEvent", [("UserEvent", "Probe")])).status == "Success"
            resp = await users_only.request(
                "Originate",
                [("Channel", "PJSIP/201"), ("Application", "Wait"), ("Data", "1"), ("Async", "true")],
            )
            assert resp.status == "Success"
            await calls_only.wait_for(lambda: calls_only.named("Hangup"))
            await users_only.wait_for(lambda: len(users_only.named("UserEvent")) == 2)

            def classes(c: AMITestClient) -> set[str]:
                return {e.get("Privilege") or "" for e in c.events}

            assert classes(users_only) == {"user,all"}
            assert classes(calls_only) == {"call,all"}
            # FullyBooted (system) and SuccessfulAuth (security) were not for either of them.
            assert not users_only.named("FullyBooted") and not calls_only.named("SuccessfulAuth")
            # Replies to actions are not filtered: the list items still come.
            lst = await calls_only.request("QueueStatus")  # items are "agent" events when broadcast
            assert lst.status == "Success"
            await calls_only.wait_for(lambda: calls_only.named("QueueStatusComplete"))
            assert calls_only.named("QueueMember")
        finally:
            await calls_only.close()


async def test_all_means_every_class() -> None:
    assert manager_classes("all") == MANAGER_CLASSES
    assert manager_classes("call,all") == MANAGER_CLASSES
    # get_perm matches each name exactly (ast_instring): a space or capital letter grants nothing.
    assert manager_classes("system,call") == {"system", "call"}
    assert manager_classes("system, call,Agent,bogus") == {"system"}
    async with logged_in("all", "all") as (sim, ami):
        await ami.wait_for(lambda: ami.named("SuccessfulAuth"))
        assert ami.named("FullyBooted")
        assert (await ami.request("Filter", [("Operation", "Add"), ("Filter", "!Event: VarSet")])).status == "Success"
        assert (await ami.request("DBPut", [("Family", "f"), ("Key", "k"), ("Val", "v")])).status == "Success"
        assert sim.pbx.db["f"] == {"k": "v"}


async def test_the_default_is_the_labs_read_all_write_all() -> None:
    config = SimulatorConfig()
    assert (config.read_classes, config.write_classes) == ("all", "all")


async def test_request_bad_format_carries_session_tv_before_account_id_as_trace_01() -> None:
    # Trace 01 lines 471-482: ... RemoteAddress, RequestType, SessionTV, AccountID.
    async with logged_in("all", "all") as (_sim, ami):
        await ami.request("NoSuchAction")
        await ami.wait_for(lambda: ami.named("RequestBadFormat"))
        keys = [k for k, _ in ami.named("RequestBadFormat")[0].fields]
        assert keys[-4:] == ["RemoteAddress", "RequestType", "SessionTV", "AccountID"]
        (auth,) = ami.named("SuccessfulAuth")
        assert ami.named("RequestBadFormat")[0].get("SessionTV") == auth.get("SessionTV")
